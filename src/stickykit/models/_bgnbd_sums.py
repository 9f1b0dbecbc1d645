r"""The BG/NBD and MBG/NBD log-likelihood summed over patterns, with gradient and Hessian.

The same function as the per-pattern ``_loglik`` of :mod:`stickykit.models.bgnbd` (Fader,
Hardie & Lee 2005, "'Counting your customers' the easy way", *Marketing Science* 24(2),
275-284, eq. 6; drop-out count shift :math:`s`, :math:`b_x = b + x + s`), written to be cheap
on millions of distinct histories:

.. math::

   \ell = \sum_x W_x\,G_x + rW\ln\alpha - \sum_i w_i (r + x_i) \ln(\alpha + T_i)
          + \sum_{i: x_i + s > 0} w_i \ln(1 + e^{d_i}),

with :math:`G_x = \ln\Gamma(r+x) - \ln\Gamma(r) + \ln B(a, b_x) - \ln B(a, b)` computed once
per distinct frequency (weight :math:`W_x`), :math:`W = \sum_x W_x` and
:math:`d_i = \ln a - \ln(b_{x_i} - 1) + (r + x_i) \ln\frac{\alpha + T_i}{\alpha + t_i}`. Per
pattern, an evaluation takes one logarithm (two, one exponential and one ``log1p`` for a
pattern that can have dropped out). With :math:`\omega = e^d/(1 + e^d)`, :math:`D = \ln
\frac{\alpha + T}{\alpha + t}`, :math:`\delta = (r + x)(\frac{1}{\alpha + T} -
\frac{1}{\alpha + t})` (the derivative of :math:`d` in :math:`\alpha`), the gradient is that of
the module docstring of :mod:`stickykit.models.bgnbd`, and the Hessian is

.. math::

   \nabla^2\ell = \sum_x W_x \nabla^2 G_x + \nabla^2\Big(rW\ln\alpha
       - \sum_i w_i(r + x_i)\ln(\alpha + T_i)\Big)
       + \sum_i w_i\left[\omega_i(1 - \omega_i)\nabla d_i \nabla d_i^\top
       + \omega_i \nabla^2 d_i\right],

:math:`\nabla d = (D, \delta, 1/a, -1/(b_x - 1))`, whose only non-zero second derivatives
are :math:`\partial_{r\alpha} d = \frac{1}{\alpha + T} - \frac{1}{\alpha + t}`,
:math:`\partial_{\alpha\alpha} d = (r + x)(\frac{1}{(\alpha + t)^2} - \frac{1}{(\alpha +
T)^2})`, :math:`\partial_{aa} d = -1/a^2` and :math:`\partial_{bb} d = 1/(b_x - 1)^2`;
:math:`\nabla^2 G_x` has trigamma functions of :math:`r + x`, :math:`a + b_x` and
:math:`b_x` only.

Examples
--------
>>> import numpy as np
>>> from stickykit.models import BGNBD, Histories
>>> h = Histories.from_arrays(frequency=[0, 2, 7], recency=[0.0, 30.4, 35.0],
...                           age=[38.9, 38.9, 38.9])
>>> data = BGNBD().patterns(h)
>>> params = np.array([0.243, 4.414, 0.793, 2.426])
>>> value, gradient, hessian = summed_loglik(params, BetaGeometricData.build(data, 0), True)
>>> values, gradients = BGNBD()._loglik(params, data)
>>> bool(np.isclose(value, values.sum())), bool(np.allclose(gradient, gradients.sum(axis=0)))
(True, True)
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy import special

from stickykit.models._grouped import FrequencyGroups
from stickykit.models._histories import Patterns

__all__ = ["BetaGeometricData", "summed_loglik"]

Array = NDArray[np.float64]

#: Rows per block: every temporary of a block stays in the processor's cache, no evaluation
#: allocates (and page-faults) arrays as long as the data, and the dot products stay below
#: the size at which OpenBLAS starts threads (slower than one thread on a busy machine).
_BLOCK = 8192


@attrs.frozen(eq=False)
class BetaGeometricData:
    """Patterns arranged by frequency for :func:`summed_loglik`.

    Attributes
    ----------
    groups : FrequencyGroups
    shift : int
        Drop-out chances before the repeat purchases (0 BG/NBD, 1 MBG/NBD).
    weights : numpy.ndarray, shape (2, k)
        Weights and weights times frequency, arranged.
    big_t : numpy.ndarray
        Ages, arranged.
    first_group, first_row : int
        The first group (row) that can have dropped out, :math:`x + s > 0`; the rows from
        there on are the last ones.
    x_open, t_open : numpy.ndarray
        Frequency and recency of those rows.
    group_open : numpy.ndarray of intp
        Their group, counted from ``first_group``.

    Examples
    --------
    >>> from stickykit.models import compress
    >>> data = compress([np.array([0.0, 2.0, 2.0]), np.array([0.0, 1.0, 3.0]),
    ...                  np.array([5.0, 5.0, 5.0])], np.ones(3))
    >>> prep = BetaGeometricData.build(data, 0)
    >>> prep.first_row, prep.x_open.tolist(), prep.t_open.tolist()
    (1, [2.0, 2.0], [1.0, 3.0])
    """

    groups: FrequencyGroups
    shift: int
    weights: Array
    big_t: Array
    first_group: int
    first_row: int
    x_open: Array
    t_open: Array
    group_open: NDArray[np.intp]

    @classmethod
    def build(cls, data: Patterns, shift: int) -> BetaGeometricData:
        """Arrange ``data`` (columns ``x, t_x, T``) by frequency."""
        x, t_x, big_t = (np.asarray(c, dtype=np.float64) for c in data.columns)
        groups = FrequencyGroups.build(x, data.weight)
        x, t_x, big_t = (groups.arrange(c) for c in (x, t_x, big_t))
        weight = groups.arrange(data.weight)
        first_group = int(np.searchsorted(groups.values + shift, 0.0, side="right"))
        first_row = int(groups.starts[first_group]) if first_group < len(groups) else len(x)
        group_open = np.repeat(np.arange(len(groups) - first_group), groups.counts[first_group:])
        return cls(
            groups,
            shift,
            np.stack([weight, weight * x]),
            big_t,
            first_group,
            first_row,
            x[first_row:],
            t_x[first_row:],
            group_open,
        )


def _per_frequency(
    params: Array, values: Array, weight: Array, shift: int, hessian: bool
) -> tuple[float, Array, Array]:
    """Sum of :math:`W_x G_x`, its gradient and Hessian (zeros unless ``hessian``)."""
    r, _, a, b = params
    b_x = b + values + shift
    g = float(
        weight
        @ (
            special.gammaln(r + values)
            - special.gammaln(r)
            + special.betaln(a, b_x)
            - special.betaln(a, b)
        )
    )
    psi_ab = special.psi(a + b) - special.psi(a + b_x)
    gradient = np.array(
        [
            weight @ (special.psi(r + values) - special.psi(r)),
            0.0,
            weight @ psi_ab,
            weight @ (psi_ab + special.psi(b_x) - special.psi(b)),
        ]
    )
    second = np.zeros((4, 4))
    if hessian:
        tri_ab = special.polygamma(1, a + b) - special.polygamma(1, a + b_x)
        second[0, 0] = weight @ (special.polygamma(1, r + values) - special.polygamma(1, r))
        second[2, 2] = second[2, 3] = weight @ tri_ab
        second[3, 3] = weight @ (tri_ab + special.polygamma(1, b_x) - special.polygamma(1, b))
    return g, gradient, second


def _age_sums(alpha: float, prep: BetaGeometricData, hessian: bool) -> Array:
    r"""Weighted sums of :math:`\ln(\alpha+T)`, :math:`1/(\alpha+T)`, :math:`1/(\alpha+T)^2`.

    Over every pattern, each with weights :math:`w` and :math:`wx`; shape (3, 2), the last
    row only with ``hessian``.
    """
    sums = np.zeros((3, 2))
    used = 3 if hessian else 2
    n = len(prep.big_t)
    buffer = np.empty((3, min(n, _BLOCK)))
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        log_t, inv_t, square = buffer[:, : hi - lo]
        np.add(prep.big_t[lo:hi], alpha, out=inv_t)
        np.log(inv_t, out=log_t)
        np.reciprocal(inv_t, out=inv_t)
        if hessian:
            np.multiply(inv_t, inv_t, out=square)
        for q in range(used):
            sums[q, 0] += np.dot(buffer[q, : hi - lo], prep.weights[0, lo:hi])
            sums[q, 1] += np.dot(buffer[q, : hi - lo], prep.weights[1, lo:hi])
    return sums


def summed_loglik(
    params: Array, prep: BetaGeometricData, hessian: bool
) -> tuple[float, Array, Array | None]:
    """Total log-likelihood, gradient and (if ``hessian``) Hessian in ``(r, alpha, a, b)``.

    See the module docstring; equal to the weighted sum of the per-pattern log-likelihood.

    Examples
    --------
    >>> from stickykit.models import compress
    >>> data = compress([np.array([0.0, 2.0]), np.array([0.0, 3.0]), np.array([5.0, 5.0])],
    ...                 np.ones(2))
    >>> value, gradient, hessian = summed_loglik(
    ...     np.array([0.24, 4.41, 0.79, 2.43]), BetaGeometricData.build(data, 0), True)
    >>> round(value, 4), gradient.shape, bool(np.allclose(hessian, hessian.T))
    (-6.2164, (4,), True)
    """
    r, alpha, a, b = (float(v) for v in params)
    groups = prep.groups
    total = float(groups.weight.sum())
    value, gradient, second = _per_frequency(
        params, groups.values, groups.weight, prep.shift, hessian
    )

    # every pattern: r W ln(alpha) - sum w (r + x) ln(alpha + T)
    (sum_log, sum_x_log), (sum_inv, sum_x_inv), (sum_inv2, sum_x_inv2) = _age_sums(
        alpha, prep, hessian
    )
    log_alpha = math.log(alpha)
    value += r * total * log_alpha - r * sum_log - sum_x_log
    gradient[0] += total * log_alpha - sum_log
    gradient[1] += r * total / alpha - r * sum_inv - sum_x_inv
    if hessian:
        second[0, 1] += total / alpha - sum_inv
        second[1, 1] += -r * total / alpha**2 + r * sum_inv2 + sum_x_inv2

    # the patterns that can have dropped out: + sum w softplus(d)
    if prep.first_row < len(prep.big_t):
        b_minus = b + groups.values[prep.first_group :] + prep.shift - 1.0
        sums = _open_sums(r, alpha, a, b_minus, prep, hessian)
        value += sums[0]
        gradient += sums[1:5]
        if hessian:
            second += _open_hessian(a, sums[5:])
    if not hessian:
        return float(value), gradient, None
    upper = np.triu(second, 1)
    return float(value), gradient, np.diag(np.diag(second)) + upper + upper.T


#: What :func:`_open_sums` accumulates, with ``u = w omega``, ``v = u (1 - omega)``,
#: ``ib = 1 / (b_x - 1)``: value, gradient (4), then for the Hessian
#: ``v D^2, v D da, v da^2, u di, u rx (io^2 - iT^2), v D, v da, v D ib, v da ib, v, u,
#: v ib, (u + v) ib^2``.
_N_SUMS = 18


def _open_sums(
    r: float, alpha: float, a: float, b_minus: Array, prep: BetaGeometricData, hessian: bool
) -> Array:
    """Block by block over the rows that can have dropped out; see :data:`_N_SUMS`."""
    first = prep.first_row
    weight = prep.weights[0, first:]
    m = len(weight)
    log_odds = math.log(a) - np.log(b_minus)
    inv_b = 1.0 / b_minus
    sums = np.zeros(_N_SUMS)
    size = min(m, _BLOCK)
    work = np.empty((14, size))
    for lo in range(0, m, _BLOCK):
        hi = min(lo + _BLOCK, m)
        k = hi - lo
        spread, d, e, tmp, omega, u, di, d_alpha, rx, inv_o, inv_t, ib, v, term = work[:, :k]
        w = weight[lo:hi]
        group = prep.group_open[lo:hi]
        # D = ln(alpha + T) - ln(alpha + t_x), and the reciprocals
        np.add(prep.big_t[first + lo : first + hi], alpha, out=inv_t)
        np.log(inv_t, out=spread)
        np.reciprocal(inv_t, out=inv_t)
        np.add(prep.t_open[lo:hi], alpha, out=inv_o)
        np.log(inv_o, out=tmp)
        np.reciprocal(inv_o, out=inv_o)
        spread -= tmp
        # d = ln a - ln(b_x - 1) + (r + x) D
        np.add(prep.x_open[lo:hi], r, out=rx)
        np.multiply(rx, spread, out=d)
        d += np.take(log_odds, group)
        # e = exp(-|d|): softplus(d) = max(d, 0) + ln(1 + e), omega = expit(d)
        np.abs(d, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.add(e, 1.0, out=tmp)
        np.divide(e, tmp, out=omega)  # expit(-|d|)
        np.log(tmp, out=tmp)  # ln(1 + e): e < 1e-16 adds below 1e-16 to the value
        np.maximum(d, 0.0, out=u)
        tmp += u
        sums[0] += float(np.dot(w, tmp))
        # omega = expit(d) = expit(-|d|) + [d >= 0] (1 - 2 expit(-|d|))
        np.multiply(omega, -2.0, out=u)
        u += 1.0
        np.greater_equal(d, 0.0, out=tmp, casting="unsafe")
        u *= tmp
        omega += u
        np.multiply(w, omega, out=u)
        np.subtract(inv_t, inv_o, out=di)
        np.multiply(rx, di, out=d_alpha)
        np.take(inv_b, group, out=ib)
        sums[1] += float(np.dot(u, spread))
        sums[2] += float(np.dot(u, d_alpha))
        sums[3] += float(u.sum()) / a
        sums[4] -= float(np.dot(u, ib))
        if not hessian:
            continue
        np.subtract(1.0, omega, out=v)
        v *= u
        np.multiply(v, spread, out=tmp)  # v D
        sums[5] += float(np.dot(tmp, spread))
        sums[6] += float(np.dot(tmp, d_alpha))
        sums[10] += float(tmp.sum())
        sums[12] += float(np.dot(tmp, ib))
        np.multiply(v, d_alpha, out=tmp)  # v da
        sums[7] += float(np.dot(tmp, d_alpha))
        sums[11] += float(tmp.sum())
        sums[13] += float(np.dot(tmp, ib))
        sums[8] += float(np.dot(u, di))
        np.multiply(inv_o, inv_o, out=tmp)
        np.multiply(inv_t, inv_t, out=term)
        tmp -= term
        tmp *= rx
        sums[9] += float(np.dot(u, tmp))
        sums[14] += float(v.sum())
        sums[15] += float(u.sum())
        sums[16] += float(np.dot(v, ib))
        v += u
        ib *= ib
        sums[17] += float(np.dot(v, ib))
    return sums


def _open_hessian(a: float, sums: Array) -> Array:
    """The Hessian of ``sum w softplus(d)`` from the sums of :func:`_open_sums` (upper part)."""
    vd2, vdda, vda2, udi, uddi, vd, vda, vdib, vdaib, v, u, vib, uvib2 = sums
    second = np.zeros((4, 4))
    second[0, 0] = vd2
    second[0, 1] = vdda + udi
    second[1, 1] = vda2 + uddi
    second[0, 2] = vd / a
    second[0, 3] = -vdib
    second[1, 2] = vda / a
    second[1, 3] = -vdaib
    second[2, 2] = (v - u) / a**2
    second[2, 3] = -vib / a
    second[3, 3] = uvib2
    return second
