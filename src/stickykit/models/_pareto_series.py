r"""The Pareto/NBD hypergeometric tail by a positive power series, frequency by frequency.

The Pareto/NBD likelihood needs (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model
and related expressions", eqs. 18-20; see ``stickykit.models._pareto_integral``)

.. math::

   G(u) = \int_u^\infty (p+\tau)^{-e_p} (q+\tau)^{-e_q}\, d\tau
        = \frac{{}_2F_1(e_q, n; n+1; -c)}{n\,(p+u)^{n}},\qquad
   n = e_p + e_q - 1,\; c = \frac{q-p}{p+u},

with :math:`p = \min(\alpha, \beta)`, :math:`q = \max(\alpha, \beta)`. Pfaff's transformation
(Abramowitz & Stegun 1964, 15.3.5) turns the alternating series in :math:`-c` into one of
positive terms in :math:`z = c/(1+c) = (q-p)/(q+u) \in [0, 1)`:

.. math::

   G(u) = \frac{S}{n\,(p+u)^{e_p-1}(q+u)^{e_q}}, \qquad
   S = {}_2F_1(e_q, 1; n+1; z) = \sum_{k\ge0} c_k z^k, \quad
   c_k = \prod_{j<k}\frac{e_q+j}{n+1+j}.

Every term is positive, so :math:`\ln S` has no cancellation, and the terms fall faster than
:math:`z^k` (:math:`c_{k+1}/c_k < 1`). The coefficients depend on the frequency alone, so
for each distinct frequency they are computed once and each customer costs a polynomial of
degree :math:`K` in :math:`z`: powers, then one matrix product for :math:`S` and the three
sums behind the gradient,

.. math::

   S_a = \sum_k c_k A_k z^k,\; S_b = \sum_k c_k B_k z^k,\; S_z = \sum_k (k+1)c_{k+1}z^k,
   \qquad A_k = \sum_{j<k}\frac{1}{e_q+j},\; B_k = \sum_{j<k}\frac{1}{n+1+j},

:math:`\partial_{e_q} S = S_a - S_b`, :math:`\partial_n S = -S_b` and :math:`\partial_z S =
S_z`, so that

.. math::

   \partial_{e_p}\ln G &= -\ln(p+u) - \tfrac1n - S_b/S, &
   \partial_{e_q}\ln G &= -\ln(q+u) - \tfrac1n + (S_a - S_b)/S,\\
   \partial_p\ln G &= -\frac{e_p - 1}{p+u} - \frac{S_z/S}{q+u}, &
   \partial_q\ln G &= -\frac{e_q}{q+u} + \frac{S_z}{S}\frac{p+u}{(q+u)^2}.

**Truncation.** Past :math:`K` terms the remainder of :math:`S` is below
:math:`c_K z^K/(1-z)`, that of :math:`S_a` below :math:`c_K z^K[A_K/(1-z) + z/((1-z)^2
(e_q+K))]` (likewise :math:`S_b`), and that of :math:`S_z` below :math:`c_K z^{K-1}[(K+1)/(1-z)
+ z/(1-z)^2]`; :math:`K` is the smallest for which their sum is below :math:`10^{-17}` at the
largest :math:`z` of the frequency (:math:`S \ge 1`). The series is used for
:math:`z \le` :data:`MAX_Z` (then :math:`K \le` :data:`MAX_TERMS`), the quadrature of
``stickykit.models._pareto_integral`` beyond.

Examples
--------
>>> import numpy as np
>>> from scipy.special import hyp2f1
>>> log_g, grad = series_log_tail(np.array([0.55, 10.6, 0.61, 11.7]), np.array([2.0]),
...                               np.array([30.0]))
>>> n, c = 0.55 + 0.61 + 2, (11.7 - 10.6) / (10.6 + 30)
>>> reference = np.log(hyp2f1(0.61 + 1, n, n + 1, -c) / n) - n * np.log(10.6 + 30)
>>> bool(abs(log_g[0] - reference) < 1e-13), grad.shape
(True, (1, 4))
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stickykit.models._grouped import FrequencyGroups

__all__ = ["MAX_TERMS", "MAX_Z", "series_gradient_sum", "series_log_tail", "series_z"]

Array = NDArray[np.float64]

#: The series is used where z = (q - p)/(q + u) is at most this.
MAX_Z = 0.8
#: Most terms of the series (enough for z = MAX_Z, see the module docstring).
MAX_TERMS = 240
#: Bound on the truncation error.
_TRUNCATION = 1e-17
#: Rows times terms per block: the matrix product stays below the size at which OpenBLAS
#: starts threads (slower than one thread on a busy machine) and in cache.
_CELLS = 262144


def series_z(params: Array, u: Array) -> Array:
    """:math:`z = (q - p)/(q + u)` of each row.

    The series applies where it is at most :data:`MAX_Z`.

    Examples
    --------
    >>> series_z(np.array([0.5, 2.0, 0.7, 40.0]), np.array([0.0, 38.0])).tolist()
    [0.95, 0.487...]
    """
    _, alpha, _, beta = (float(v) for v in params)
    p, q = min(alpha, beta), max(alpha, beta)
    return np.asarray((q - p) / (q + u), dtype=np.float64)


def _coefficients(e_q: Array, n: Array) -> tuple[Array, Array, Array]:
    """Per frequency (rows): :math:`c_k`, :math:`A_k`, :math:`B_k`.

    For :math:`k = 0..` :data:`MAX_TERMS`, one more than used, for :math:`S_z`.
    """
    j = np.arange(MAX_TERMS)
    up = e_q[:, None] + j
    down = n[:, None] + 1.0 + j
    c = np.ones((len(e_q), MAX_TERMS + 1))
    np.cumprod(up / down, axis=1, out=c[:, 1:])
    a = np.zeros_like(c)
    np.cumsum(1.0 / up, axis=1, out=a[:, 1:])
    b = np.zeros_like(c)
    np.cumsum(1.0 / down, axis=1, out=b[:, 1:])
    return c, a, b


def _terms(c: Array, a: Array, b: Array, e_q: Array, z: Array) -> NDArray[np.intp]:
    """Terms needed per frequency (rows) at its largest ``z``; see the module docstring."""
    k = np.arange(MAX_TERMS + 1)
    zz = z[:, None]
    with np.errstate(under="ignore"):
        power = np.power(zz, k)  # z^K (0^0 = 1)
        previous = np.power(zz, np.maximum(k - 1, 0))
        bound = c * power * (1 + a + b) / (1 - zz) + c * power * zz / (1 - zz) ** 2 * (
            2 / (e_q[:, None] + k)
        )
        bound += c * previous * ((k + 1) / (1 - zz) + zz / (1 - zz) ** 2)
    bound = np.where(k >= 1, bound, np.inf)
    enough = bound <= _TRUNCATION
    first = np.argmax(enough, axis=1)
    return np.where(enough.any(axis=1), np.maximum(first, 1), MAX_TERMS).astype(np.intp)


def series_log_tail(
    params: Array,
    x: Array,
    u: Array,
    *,
    gradient: bool = True,
    out: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    r""":math:`\ln G(u)` and its gradient in :math:`(r, \alpha, s, \beta)`, by the series.

    Every row must have :func:`series_z` at most :data:`MAX_Z`.

    Parameters
    ----------
    params : numpy.ndarray
        :math:`(r, \alpha, s, \beta)`.
    x, u : numpy.ndarray
        Repeat purchases and lower limit of each row (any order; sorted by ``x`` is
        fastest).
    gradient : bool
        ``False``: skip the gradient (its array is then returned as it was, zeros when not
        given in ``out``).
    out : tuple of numpy.ndarray, optional
        Arrays of shapes ``(k,)`` and ``(k, 4)`` to write the result into (so that a caller
        assembling pieces holds no second copy); used when the rows come sorted by ``x``.

    Returns
    -------
    log_g : numpy.ndarray, shape (k,)
    gradient : numpy.ndarray, shape (k, 4)

    Examples
    --------
    >>> from scipy import integrate
    >>> params = np.array([0.5, 2.0, 0.7, 4.0])
    >>> exact = integrate.quad(lambda t: (2 + t) ** -3.5 * (4 + t) ** -1.7, 5, np.inf,
    ...                        epsabs=0, epsrel=1e-13)[0]
    >>> log_g, _ = series_log_tail(params, np.array([3.0]), np.array([5.0]))
    >>> bool(abs(log_g[0] - np.log(exact)) < 1e-12)
    True
    """
    log_g, grad = _series(params, x, u, gradient=gradient, out=out, weights=None)
    return log_g, grad


def series_gradient_sum(params: Array, x: Array, u: Array, weights: Array) -> Array:
    r""":math:`\sum_j w_j \nabla \ln G_j` over the rows, without storing the rows' gradients.

    The same numbers as ``weights @ series_log_tail(params, x, u)[1]``, summed block by
    block (for a likelihood that needs only the weighted sum, this saves an array of four
    numbers per row). Every row must have :func:`series_z` at most :data:`MAX_Z`.

    Examples
    --------
    >>> params, x, u = np.array([0.5, 2.0, 0.7, 4.0]), np.array([0.0, 3.0]), np.array([1.0, 5.0])
    >>> w = np.array([2.0, -1.0])
    >>> bool(np.allclose(series_gradient_sum(params, x, u, w), w @ series_log_tail(params, x, u)[1]))
    True
    """
    return _series(params, x, u, gradient=True, out=None, weights=weights)[1]


def _series(
    params: Array,
    x: Array,
    u: Array,
    *,
    gradient: bool,
    out: tuple[Array, Array] | None,
    weights: Array | None,
) -> tuple[Array, Array]:
    """The evaluation of :func:`series_log_tail`.

    With ``weights``, the gradient's weighted sum (shape (4,)) in place of its rows.
    """
    r, alpha, s, beta = (float(v) for v in params)
    a_is_p = alpha <= beta
    p, q = (alpha, beta) if a_is_p else (beta, alpha)
    groups = FrequencyGroups.build(np.asarray(x, dtype=np.float64))
    u_sorted = groups.arrange(np.asarray(u, dtype=np.float64))
    x_values = groups.values
    e_r = r + x_values
    e_s = np.full(len(x_values), s + 1.0)
    e_p, e_q = (e_r, e_s) if a_is_p else (e_s, e_r)
    n = e_p + e_q - 1.0
    c, a, b = _coefficients(e_q, n)
    starts = groups.starts
    ends = starts + groups.counts
    z_top = (q - p) / (q + np.minimum.reduceat(u_sorted, starts)) if len(u) else np.empty(0)
    terms = _terms(c, a, b, e_q, z_top)
    # per frequency, the rows S, S_a, S_b, S_z of coefficients of z^k
    used = 4 if gradient else 1
    matrices = np.empty((len(x_values), used, MAX_TERMS))
    matrices[:, 0] = c[:, :-1]
    if gradient:
        matrices[:, 1] = c[:, :-1] * a[:, :-1]
        matrices[:, 2] = c[:, :-1] * b[:, :-1]
        matrices[:, 3] = np.arange(1, MAX_TERMS + 1) * c[:, 1:]
    summed = np.zeros(4)
    w_sorted = None if weights is None else groups.arrange(np.asarray(weights, dtype=np.float64))
    if out is not None and groups.order is None:
        log_g, grad = out
    elif weights is not None:
        log_g, grad = np.empty(len(u_sorted)), summed
    else:
        log_g, grad = np.empty(len(u_sorted)), np.zeros((len(u_sorted), 4))
    # gradient columns in the order (e_p, p, e_q, q), permuted to (r, alpha, s, beta)
    columns = (0, 1, 2, 3) if a_is_p else (2, 3, 0, 1)
    most = int(terms.max()) if len(terms) else 1
    block = max(1, _CELLS // (used * most))
    size = min(block, len(u_sorted))
    powers = np.empty((most, size))
    sums = np.empty((used, size))
    work = np.empty((10, size))
    group_of_row = np.searchsorted(starts, np.arange(0, len(u_sorted), block), side="right") - 1
    for lo, first in zip(range(0, len(u_sorted), block), group_of_row, strict=True):
        hi = min(lo + block, len(u_sorted))
        m = hi - lo
        shifted_p, shifted_q, log_p, log_q, ratio, tmp, ep1, eq, inv_n, log_n = work[:, :m]
        np.add(u_sorted[lo:hi], p, out=shifted_p)
        np.add(u_sorted[lo:hi], q, out=shifted_q)
        # powers of z = (q - p)/(q + u), then S (and S_a, S_b, S_z) frequency by frequency
        pw = powers[:, :m]
        pw[0] = 1.0
        if most > 1:
            np.divide(q - p, shifted_q, out=pw[1])
            for j in range(2, most):
                np.multiply(pw[j - 1], pw[1], out=pw[j])
        g = int(first)
        while g < len(x_values) and starts[g] < hi:
            a_row, b_row = max(int(starts[g]), lo) - lo, min(int(ends[g]), hi) - lo
            k = int(terms[g])
            np.matmul(matrices[g, :, :k], pw[:k, a_row:b_row], out=sums[:, a_row:b_row])
            ep1[a_row:b_row] = e_p[g] - 1.0
            eq[a_row:b_row] = e_q[g]
            inv_n[a_row:b_row] = 1.0 / n[g]
            g += 1
        total = sums[:, :m]
        np.log(shifted_p, out=log_p)
        np.log(shifted_q, out=log_q)
        np.log(inv_n, out=log_n)  # -ln n
        # ln G = ln S - (e_p - 1) ln(p + u) - e_q ln(q + u) - ln n
        target = log_g[lo:hi]
        np.log(total[0], out=target)
        np.multiply(log_p, ep1, out=tmp)
        target -= tmp
        np.multiply(log_q, eq, out=tmp)
        target -= tmp
        target += log_n
        if not gradient:
            continue
        total[1:] /= total[0]
        _, ratio_a, ratio_b, ratio_z = total
        # d/d e_p = -ln(p + u) - 1/n - S_b/S; d/d e_q = -ln(q + u) - 1/n + (S_a - S_b)/S
        np.add(ratio_b, inv_n, out=ratio)
        np.negative(log_p, out=tmp)
        tmp -= ratio
        _put(grad, w_sorted, lo, hi, columns[0], tmp)
        np.subtract(ratio_a, ratio, out=tmp)
        tmp -= log_q
        _put(grad, w_sorted, lo, hi, columns[2], tmp)
        # d/dp = -(e_p - 1)/(p + u) - (S_z/S)/(q + u)
        np.reciprocal(shifted_q, out=shifted_q)
        np.multiply(ratio_z, shifted_q, out=ratio)
        np.divide(ep1, shifted_p, out=tmp)
        np.negative(tmp, out=tmp)
        tmp -= ratio
        _put(grad, w_sorted, lo, hi, columns[1], tmp)
        # d/dq = -e_q/(q + u) + (S_z/S)(p + u)/(q + u)^2
        ratio *= shifted_p
        ratio *= shifted_q
        np.multiply(shifted_q, eq, out=tmp)
        np.negative(tmp, out=tmp)
        tmp += ratio
        _put(grad, w_sorted, lo, hi, columns[3], tmp)
    if groups.order is None or w_sorted is not None:
        return log_g, grad
    out_g, out_grad = (np.empty_like(log_g), np.empty_like(grad)) if out is None else out
    out_g[groups.order] = log_g
    out_grad[groups.order] = grad
    return out_g, out_grad


def _put(grad: Array, weights: Array | None, lo: int, hi: int, column: int, values: Array) -> None:
    """Rows ``lo:hi`` of a gradient column: stored, or added up with ``weights``."""
    if weights is None:
        grad[lo:hi, column] = values
    else:
        grad[column] += float(np.dot(weights[lo:hi], values))
