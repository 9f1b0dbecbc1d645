r"""The Pareto/NBD log-likelihood summed over patterns, with its gradient, block by block.

The same function as ``stickykit.models.paretonbd._loglik`` (Fader, Hardie & Lee 2005,
"RFM and CLV", *Journal of Marketing Research* 42(4), appendix; Fader & Hardie 2005 note,
eq. 18), weighted by the patterns' counts :math:`w_i` and summed:

.. math::

   \ell = \sum_x W_x[\ln\Gamma(r+x) - \ln\Gamma(r)] + W(r\ln\alpha + s\ln\beta)
        + \sum_i w_i \ln\!\left(e^{f_i} + e^{h_i}\right),

:math:`f = -(r+x)\ln(\alpha+T) - s\ln(\beta+T)`, :math:`h = \ln s + \ln I` and
:math:`\ln I = \ln G(t_x) + \operatorname{log1p}(-e^{\ln G(T) - \ln G(t_x)})` (``-inf`` where
:math:`t_x = T`), with :math:`G` from ``stickykit.models._pareto_integral.log_tail`` evaluated
once per distinct :math:`(x, u)` pair (:class:`~stickykit.models.paretonbd.TailPairs`).
The special functions of :math:`r + x` are computed once per distinct frequency; the patterns
are taken in blocks, so the temporaries stay in cache and memory stays bounded. The gradient
is :math:`\sum_i w_i(\omega_f\nabla f_i + \omega_h\nabla h_i)` plus the terms of the
frequencies, :math:`\omega_f = e^{f - \ell_i}`, :math:`\omega_h = e^{h - \ell_i}`, and
:math:`\nabla\ln I = (\nabla\ln G(t_x) - \rho\nabla\ln G(T))/(1-\rho)`,
:math:`\rho = G(T)/G(t_x)`.

Examples
--------
>>> import numpy as np
>>> from stickykit.models import Histories
>>> from stickykit.models.paretonbd import ParetoNBD, TailPairs
>>> h = Histories.from_arrays(frequency=[0, 2, 7, 1], recency=[0.0, 30.4, 35.0, 38.9],
...                           age=[38.9, 38.9, 38.9, 38.9])
>>> data = ParetoNBD().patterns(h)
>>> params = np.array([0.553, 10.578, 0.606, 11.669])
>>> prep = ParetoData.build(data, TailPairs.build(*data.columns))
>>> value, gradient = summed_loglik(params, prep)
>>> values, gradients = ParetoNBD()._loglik(params, data)
>>> bool(np.isclose(value, values.sum())), bool(np.allclose(gradient, gradients.sum(axis=0)))
(True, True)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma, gammaln

from stickykit.models._grouped import FrequencyGroups
from stickykit.models._histories import Patterns

if TYPE_CHECKING:
    from stickykit.models.paretonbd import TailPairs

__all__ = ["ParetoData", "summed_loglik"]

Array = NDArray[np.float64]

#: Patterns per block.
_BLOCK = 8192


@attrs.frozen(eq=False)
class ParetoData:
    """Patterns with their tail pairs, for :func:`summed_loglik`.

    Attributes
    ----------
    groups : FrequencyGroups
        Of the patterns' frequencies (for the terms of the frequency alone).
    x, t_x, big_t, weight : numpy.ndarray
        The patterns, in their order.
    pairs : TailPairs
    start, end : numpy.ndarray of int32 or intp
        For every pattern, its pairs :math:`(x, t_x)` and :math:`(x, T)` (0 where
        :math:`t_x = T`, which has no integral term).
    buffers : dict
        Work arrays as long as the pairs and the patterns, allocated at the first
        evaluation and reused by the next ones (no fresh allocations, no growth of the
        process's memory through fragmentation).

    Examples
    --------
    >>> from stickykit.models import compress
    >>> from stickykit.models.paretonbd import TailPairs
    >>> data = compress([np.array([0.0, 2.0]), np.array([0.0, 5.0]), np.array([5.0, 5.0])],
    ...                 np.ones(2))
    >>> prep = ParetoData.build(data, TailPairs.build(*data.columns))
    >>> prep.start.tolist(), prep.end.tolist()  # the second has t_x = T: no integral
    ([0, 0], [1, 0])
    """

    groups: FrequencyGroups
    x: Array
    t_x: Array
    big_t: Array
    weight: Array
    pairs: TailPairs
    start: NDArray[Any]
    end: NDArray[Any]
    buffers: dict[str, Array] = attrs.field(factory=dict)

    @classmethod
    def build(cls, data: Patterns, pairs: TailPairs) -> ParetoData:
        """Arrange ``data`` (columns ``x, t_x, T``) with its tail ``pairs``."""
        x, t_x, big_t = (np.asarray(c, dtype=np.float64) for c in data.columns)
        index = np.int32 if len(pairs.x) < 2**31 else np.intp
        start = np.zeros(len(x), dtype=index)
        end = np.zeros(len(x), dtype=index)
        start[pairs.open] = pairs.start
        end[pairs.open] = pairs.end
        groups = FrequencyGroups.build(x, data.weight)
        return cls(groups, x, t_x, big_t, data.weight, pairs, start, end)


def summed_loglik(params: Array, prep: ParetoData) -> tuple[float, Array]:
    """Total log-likelihood and its gradient in ``(r, alpha, s, beta)``.

    See the module docstring; equal to the weighted sum of the per-pattern log-likelihood.

    Examples
    --------
    >>> from stickykit.models import compress
    >>> from stickykit.models.paretonbd import TailPairs
    >>> data = compress([np.array([0.0, 2.0]), np.array([0.0, 3.0]), np.array([5.0, 5.0])],
    ...                 np.ones(2))
    >>> prep = ParetoData.build(data, TailPairs.build(*data.columns))
    >>> value, gradient = summed_loglik(np.array([0.55, 10.6, 0.61, 11.7]), prep)
    >>> bool(np.isfinite(value)), gradient.shape
    (True, (4,))
    """
    r, alpha, s, beta = (float(v) for v in params)
    pairs = prep.pairs
    n, k = len(prep.x), max(len(pairs.x), 1)  # no pairs (t_x = T everywhere): a placeholder
    buffers = prep.buffers
    if not buffers:
        buffers.update(log_g=np.zeros(k), from_start=np.empty(n), from_end=np.empty(n))
    log_g = buffers["log_g"]
    params = np.asarray(params, dtype=np.float64)
    if len(pairs.x):
        # values first; the pairs' gradients only as the sum weighted by the patterns below
        # (an untouched array stands in for them, so it takes no memory)
        pairs.log_tail(params, gradient=False, out=(log_g, np.empty((k, 4))))
    values, big_w = prep.groups.values, prep.groups.weight
    total = float(big_w.sum())
    value = float(big_w @ (gammaln(r + values) - gammaln(r)))
    value += total * (r * math.log(alpha) + s * math.log(beta))
    gradient: Array = np.array(
        [
            float(big_w @ (digamma(r + values) - digamma(r))) + total * math.log(alpha),
            total * r / alpha,
            total * math.log(beta),
            total * s / beta,
        ]
    )
    size = min(n, _BLOCK)
    work = np.empty((12, size))
    from_start, from_end = buffers["from_start"], buffers["from_end"]
    log_s = math.log(s)
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        m = hi - lo
        inv_a, inv_b, log_a, log_b, first, upper, rest, e, switch, numerator, denominator, other = (
            work[:, :m]
        )
        w = prep.weight[lo:hi]
        start = prep.start[lo:hi]
        # 1 - rho = 1 - G(T)/G(t_x) = -expm1(ln G(T) - ln G(t_x)), to full relative precision
        g1 = log_g[start]
        np.subtract(log_g[prep.end[lo:hi]], g1, out=rest)
        np.expm1(rest, out=rest)
        np.negative(rest, out=rest)
        closed = ~((prep.t_x[lo:hi] < prep.big_t[lo:hi]) & (rest > 0.0))
        rest[closed] = 0.0
        # h = ln s + ln I = upper + ln(1 - rho), upper = ln s + ln G(t_x)
        np.add(g1, log_s, out=upper)
        upper[closed] = -np.inf
        # f = -(r + x) ln(alpha + T) - s ln(beta + T)
        np.add(prep.big_t[lo:hi], alpha, out=inv_a)
        np.add(prep.big_t[lo:hi], beta, out=inv_b)
        np.log(inv_a, out=log_a)
        np.log(inv_b, out=log_b)
        np.reciprocal(inv_a, out=inv_a)
        np.reciprocal(inv_b, out=inv_b)
        np.add(prep.x[lo:hi], r, out=other)
        np.multiply(other, log_a, out=first)
        inv_a *= other  # (r + x) / (alpha + T) from here
        np.multiply(log_b, s, out=other)
        first += other
        np.negative(first, out=first)
        # ln(e^f + e^upper (1 - rho)) = max(f, upper) + ln(denominator), e = exp(-|f - upper|):
        # the f term is numerator = (1 if f >= upper else e), the other factor
        # other = (e if f >= upper else 1), and denominator = numerator + other (1 - rho)
        np.subtract(first, upper, out=e)
        np.greater_equal(e, 0.0, out=switch, casting="unsafe")
        np.abs(e, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.subtract(1.0, e, out=other)
        np.multiply(other, switch, out=numerator)
        numerator += e
        np.add(e, 1.0, out=other)
        other -= numerator
        np.multiply(other, rest, out=denominator)
        denominator += numerator
        np.maximum(first, upper, out=first)
        value += float(np.dot(w, first))
        np.log(denominator, out=upper)
        value += float(np.dot(w, upper))
        # w omega_f = w numerator / denominator, w omega_h = w other (1 - rho) / denominator
        np.divide(w, denominator, out=denominator)
        numerator *= denominator
        other *= denominator  # w omega_h / (1 - rho)
        # w omega_f grad f, grad f = (-ln(alpha+T), -(r+x)/(alpha+T), -ln(beta+T), -s/(beta+T))
        gradient[0] -= float(np.dot(numerator, log_a))
        gradient[1] -= float(np.dot(numerator, inv_a))
        gradient[2] -= float(np.dot(numerator, log_b))
        gradient[3] -= s * float(np.dot(numerator, inv_b))
        # w omega_h grad h, grad h = (0, 0, 1/s, 0) + (grad g1 - rho grad g2) / (1 - rho):
        # the weights of the pairs' gradients, summed per pair below
        rest *= other  # w omega_h
        gradient[2] += float(rest.sum()) / s
        from_start[lo:hi] = other
        np.subtract(other, rest, out=from_end[lo:hi])  # w omega_h rho / (1 - rho)
    if len(pairs.x):
        on_pairs: Array = np.asarray(
            np.bincount(prep.start, weights=from_start, minlength=k), dtype=np.float64
        )
        on_pairs -= np.bincount(prep.end, weights=from_end, minlength=k)
        gradient += pairs.gradient_sum(params, on_pairs)
    return value, gradient
