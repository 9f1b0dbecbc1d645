r"""The Gamma-Gamma log-likelihood summed over patterns, with gradient and Hessian.

The same function as ``GammaGamma._loglik`` (Fader & Hardie 2013, "The Gamma-Gamma model of
monetary value", note 025, eq. 1a) summed with the patterns' weights :math:`w_i`, arranged
so that the special functions are computed once per distinct frequency :math:`x` (weight
:math:`W_x`, :math:`W = \sum_x W_x`) and only :math:`L_i = \ln(\gamma + x_i\bar z_i)` is
computed per pattern:

.. math::

   \ell = \sum_x W_x\left[\ln\Gamma(px + q) - \ln\Gamma(px) - \ln\Gamma(q) + px\ln x\right]
        + Wq\ln\gamma + pA_1 - A_0 - p\sum_i w_i x_i L_i - q\sum_i w_i L_i,

with the constants :math:`A_1 = \sum_i w_i x_i \ln\bar z_i` and :math:`A_0 = \sum_i w_i
\ln\bar z_i`. With :math:`P_i = 1/(\gamma + x_i\bar z_i)` the gradient is

.. math::

   \partial_p\ell &= \sum_x W_x x[\psi(px + q) - \psi(px) + \ln x] + A_1 - \sum_i w_i x_i L_i,
   \\
   \partial_q\ell &= \sum_x W_x[\psi(px + q) - \psi(q)] + W\ln\gamma - \sum_i w_i L_i,\\
   \partial_\gamma\ell &= Wq/\gamma - p\sum_i w_i x_i P_i - q\sum_i w_i P_i,

and the Hessian :math:`\partial_{pp} = \sum_x W_x x^2[\psi_1(px + q) - \psi_1(px)]`,
:math:`\partial_{pq} = \sum_x W_x x\,\psi_1(px + q)`, :math:`\partial_{qq} = \sum_x
W_x[\psi_1(px + q) - \psi_1(q)]`, :math:`\partial_{p\gamma} = -\sum_i w_i x_i P_i`,
:math:`\partial_{q\gamma} = W/\gamma - \sum_i w_i P_i` and :math:`\partial_{\gamma\gamma} =
-Wq/\gamma^2 + \sum_i w_i (px_i + q) P_i^2`.

Examples
--------
>>> import numpy as np
>>> from stickykit.models import GammaGamma, compress
>>> data = compress([np.array([1.0, 3.0, 3.0]), np.array([10.0, 25.0, 40.0])], np.ones(3))
>>> params = np.array([6.25, 3.74, 15.44])
>>> value, gradient, _ = summed_loglik(params, SpendData.build(data), False)
>>> values, gradients = GammaGamma()._loglik(params, data)
>>> bool(np.isclose(value, values.sum())), bool(np.allclose(gradient, gradients.sum(axis=0)))
(True, True)
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy import special

from stickykit.models._grouped import FrequencyGroups, dot
from stickykit.models._histories import Patterns

__all__ = ["SpendData", "summed_loglik"]

Array = NDArray[np.float64]

#: Rows per block (temporaries in cache; dot products below OpenBLAS's threading size).
_BLOCK = 8192


@attrs.frozen(eq=False)
class SpendData:
    r"""Patterns ``(x, mean spend)`` arranged by frequency for :func:`summed_loglik`.

    Attributes
    ----------
    groups : FrequencyGroups
    weights : numpy.ndarray, shape (2, k)
        Weights and weights times frequency, arranged.
    pooled : numpy.ndarray
        :math:`x\bar z`, arranged.
    log_spend : tuple of float
        :math:`A_0` and :math:`A_1`.

    Examples
    --------
    >>> from stickykit.models import compress
    >>> prep = SpendData.build(compress([np.array([1.0, 2.0]), np.array([4.0, 8.0])], np.ones(2)))
    >>> prep.pooled.tolist(), [round(v, 4) for v in prep.log_spend]
    ([4.0, 16.0], [3.4657, 5.5452])
    """

    groups: FrequencyGroups
    weights: Array
    pooled: Array
    log_spend: tuple[float, float]

    @classmethod
    def build(cls, data: Patterns) -> SpendData:
        """Arrange ``data`` (columns ``x, mean spend``) by frequency."""
        x, z = (np.asarray(c, dtype=np.float64) for c in data.columns)
        groups = FrequencyGroups.build(x, data.weight)
        x, z, weight = (groups.arrange(c) for c in (x, z, data.weight))
        weights = np.stack([weight, weight * x])
        log_z = np.log(z)
        return cls(groups, weights, x * z, (dot(weights[0], log_z), dot(weights[1], log_z)))


def summed_loglik(
    params: Array, prep: SpendData, hessian: bool
) -> tuple[float, Array, Array | None]:
    """Total log-likelihood, gradient and (if ``hessian``) Hessian in ``(p, q, gamma)``.

    See the module docstring; equal to the weighted sum of ``GammaGamma._loglik``.

    Examples
    --------
    >>> from stickykit.models import compress
    >>> prep = SpendData.build(compress([np.array([1.0, 2.0]), np.array([4.0, 8.0])], np.ones(2)))
    >>> value, gradient, hessian = summed_loglik(np.array([6.25, 3.74, 15.44]), prep, True)
    >>> gradient.shape, hessian.shape, bool(np.allclose(hessian, hessian.T))
    ((3,), (3, 3), True)
    """
    p, q, gamma = (float(v) for v in params)
    x, big_w = prep.groups.values, prep.groups.weight
    total = float(big_w.sum())
    px = p * x
    shape = px + q
    log_x = np.log(x)
    psi_shape = special.psi(shape)
    # sums of L, x L, P, x P, P^2, x P^2 with the weights
    sums = np.zeros((3, 2))
    used = 3 if hessian else 2
    n = len(prep.pooled)
    buffer = np.empty((3, min(n, _BLOCK)))
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        log_pooled, inv_pooled, square = buffer[:, : hi - lo]
        np.add(prep.pooled[lo:hi], gamma, out=inv_pooled)
        np.log(inv_pooled, out=log_pooled)
        np.reciprocal(inv_pooled, out=inv_pooled)
        if hessian:
            np.multiply(inv_pooled, inv_pooled, out=square)
        for k in range(used):
            sums[k, 0] += np.dot(buffer[k, : hi - lo], prep.weights[0, lo:hi])
            sums[k, 1] += np.dot(buffer[k, : hi - lo], prep.weights[1, lo:hi])
    (sum_l, sum_xl), (sum_p, sum_xp), (sum_p2, sum_xp2) = sums
    a0, a1 = prep.log_spend
    log_gamma = math.log(gamma)
    value = float(
        big_w @ (special.gammaln(shape) - special.gammaln(px) + px * log_x)
        - total * special.gammaln(q)
        + total * q * log_gamma
        + p * a1
        - a0
        - p * sum_xl
        - q * sum_l
    )
    gradient = np.array(
        [
            big_w @ (x * (psi_shape - special.psi(px) + log_x)) + a1 - sum_xl,
            big_w @ (psi_shape - special.psi(q)) + total * log_gamma - sum_l,
            total * q / gamma - p * sum_xp - q * sum_p,
        ]
    )
    if not hessian:
        return value, gradient, None
    tri_shape = special.polygamma(1, shape)
    second = np.empty((3, 3))
    second[0, 0] = big_w @ (x * x * (tri_shape - special.polygamma(1, px)))
    second[0, 1] = second[1, 0] = big_w @ (x * tri_shape)
    second[1, 1] = big_w @ (tri_shape - special.polygamma(1, q))
    second[0, 2] = second[2, 0] = -sum_xp
    second[1, 2] = second[2, 1] = total / gamma - sum_p
    second[2, 2] = -total * q / gamma**2 + p * sum_xp2 + q * sum_p2
    return value, gradient, second
