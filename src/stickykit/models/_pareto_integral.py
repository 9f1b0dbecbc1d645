r"""Quadratures behind the Pareto/NBD model: the hypergeometric tail and log-concave integrals.

**The hypergeometric term.** The Pareto/NBD likelihood (Fader, Hardie & Lee 2005, "RFM and
CLV: using iso-value curves for customer base analysis", *Journal of Marketing Research*
42(4), 415-430, appendix; Fader & Hardie 2005, "A note on deriving the Pareto/NBD model and
related expressions", eqs. 18-20) needs, at :math:`u = t_x` and :math:`u = T`,

.. math::

   G(u) = \int_u^\infty (\alpha+\tau)^{-(r+x)} (\beta+\tau)^{-(s+1)}\, d\tau
        = \frac{{}_2F_1\!\left(e_q, n; n+1; -c\right)}{n\,(p+u)^{n}},

with :math:`p = \min(\alpha, \beta)` and :math:`e_p` its exponent, :math:`q = \max(\alpha,
\beta)` and :math:`e_q` its exponent, :math:`n = r + s + x = e_p + e_q - 1` and :math:`c = (q
- p)/(p + u) \ge 0`. The papers' :math:`A_0` is :math:`n\,[G(t_x) - G(T)]`. With :math:`\nu =
\ln\frac{p+\tau}{p+u}`,

.. math::

   G(u) = (p+u)^{-n} J, \qquad
   J = \int_0^\infty e^{\lambda(\nu)} d\nu, \qquad
   \lambda(\nu) = (1 - e_p)\nu - e_q \ln(c + e^\nu),

and :math:`\lambda` is **concave** (its slope :math:`\lambda' = -n + e_q\,\sigma(\ln c - \nu)`
decreases from :math:`\lambda'(0)` to :math:`-n`), so the integrand is unimodal with
exponential tails. :func:`log_tail` uses the positive power series of
``stickykit.models._pareto_series`` where :math:`z = c/(1+c) \le 0.8` (exact to rounding, and
the usual case); elsewhere :func:`quadrature_log_tail` evaluates :math:`\ln J` in log space:

- *fast rules*: 16-point, else 32-point Gauss-Laguerre in :math:`t = -\lambda'(0)\,\nu`
  (exact for a pure exponential), or in the same integral written with
  :math:`\nu = \ln\frac{q+\tau}{q+u}` and :math:`t = n\nu`, whichever has the smaller error
  bound, where that bound (a series bound, checked against ``mpmath.hyp2f1``) is below
  :math:`10^{-9}`; the usual case;
- *general rule* (widely separated :math:`\alpha` and :math:`\beta`, or a rising integrand):
  24-point Gauss-Legendre pieces between the points where the slope equals
  :math:`0, -1, -4, \dots, -4^8` (closed form: :math:`\nu = \ln c - \operatorname{logit}
  ((n - \kappa)/e_q)`), each piece cut where the integrand has fallen by :math:`e^{-36}`,
  then 16-point Gauss-Laguerre beyond the point where the slope is within :math:`10^{-6}`
  of :math:`-n`.

Differentiating under the integral sign gives the gradient from the same nodes:
:math:`\partial_r \ln G = -E[\ln(\alpha+\tau)]`, :math:`\partial_s \ln G = -E[\ln(\beta+\tau)]`,
:math:`\partial_\alpha \ln G = -(r+x) E[(\alpha+\tau)^{-1}]`, :math:`\partial_\beta \ln G =
-(s+1) E[(\beta+\tau)^{-1}]`, expectations over the normalised integrand.

**Log-concave integrals.** :func:`log_concave_integral` integrates :math:`e^{\lambda(\nu)}` for
any concave :math:`\lambda` with a decreasing slope function, by the same pieces between
slope levels found by bisection; the probability of :math:`n` purchases and the discounted
expected transactions use it.

Examples
--------
>>> import numpy as np
>>> from scipy.special import hyp2f1
>>> log_g, grad = log_tail(np.array([0.55, 10.6, 0.61, 11.7]), np.array([2.0]), np.array([30.0]))
>>> n, c = 0.55 + 0.61 + 2, (11.7 - 10.6) / (10.6 + 30)
>>> reference = np.log(hyp2f1(0.61 + 1, n, n + 1, -c) / n) - n * np.log(10.6 + 30)
>>> bool(abs(log_g[0] - reference) < 1e-9), grad.shape
(True, (1, 4))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit, roots_laguerre, roots_legendre

from stickykit.models._pareto_series import (
    MAX_Z,
    series_gradient_sum,
    series_log_tail,
    series_z,
)

__all__ = [
    "log_concave_integral",
    "log_tail",
    "log_tail_gradient_sum",
    "logsumexp_rows",
    "quadrature_log_tail",
]

Array = NDArray[np.float64]

#: Gauss-Laguerre rules of the fast paths and of the tails.
_LAGUERRE_16: tuple[Array, Array] = (
    np.asarray(roots_laguerre(16)[0], dtype=np.float64),
    np.asarray(roots_laguerre(16)[1], dtype=np.float64),
)
_LAGUERRE_32: tuple[Array, Array] = (
    np.asarray(roots_laguerre(32)[0], dtype=np.float64),
    np.asarray(roots_laguerre(32)[1], dtype=np.float64),
)
_LAGUERRE_T, _LAGUERRE_W = _LAGUERRE_16
_LOG_LAGUERRE_W = np.log(_LAGUERRE_W)
#: Gauss-Legendre rule of each piece of the general rule.
_LEGENDRE_X, _LEGENDRE_W = (np.asarray(v, dtype=np.float64) for v in roots_legendre(24))
_LOG_HALF_LEGENDRE_W = np.log(_LEGENDRE_W / 2)
#: The fast rule applies where the log of its estimated error is below this.
_FAST_LOG_ERROR = float(np.log(1e-9))
#: Rows per block of the fast rule (keeps its temporaries in cache).
_BLOCK = 4096
#: The general rule's last (Laguerre) piece starts where the slope is this close to -n.
_TAIL_SLOPE_CHANGE = 1e-6
#: A decreasing piece is cut where the integrand has fallen by exp(-_CUT).
_CUT = 36.0
#: Slopes at which the general rule breaks the integral into pieces.
_DOWN_SLOPES = np.array([0.0] + [4.0**k for k in range(9)])
#: ... and where the slope has gone these fractions of the way from its start to -n (the
#: bend between the two power laws, however small the change of slope).
_BEND_FRACTIONS = np.array([0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98])
_FINE_SLOPES = 4.0 ** -np.arange(1, 5)
_SLOPES = np.sort(np.concatenate([_DOWN_SLOPES, -_DOWN_SLOPES[1:], _FINE_SLOPES, -_FINE_SLOPES]))[
    ::-1
]
_BISECTIONS = 48


def logsumexp_rows(a: Array) -> Array:
    """``log(sum(exp(a), axis=-1))``, exact for rows of ``-inf`` (gives ``-inf``).

    Examples
    --------
    >>> logsumexp_rows(np.array([[0.0, 0.0], [-np.inf, -np.inf]])).round(6).tolist()
    [0.693147, -inf]
    """
    top = np.max(a, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(top[..., 0] + np.log(np.sum(np.exp(a - top), axis=-1)))


def _softplus(z: Array) -> Array:
    return np.asarray(np.logaddexp(0.0, z))


def _lam(e_p: Array, e_q: Array, ell: Array, nu: Array) -> Array:
    """The log-integrand of ``J`` (without the constant), broadcast."""
    return np.asarray((1 - e_p) * nu - e_q * (nu + _softplus(ell - nu)))


def _gl_pieces(
    lam: Callable[[Array], Array], slope: Callable[[Array], Array], edges: Array
) -> tuple[Array, Array]:
    """Gauss-Legendre nodes over the pieces between consecutive ``edges`` (rows sorted).

    Returns ``(nu, log_weight)`` of shape ``(k, pieces * 24)``; the log-weights include the
    integrand, so ``logsumexp`` of them is the log-integral over the pieces. A decreasing
    piece is cut where the integrand has fallen by ``exp(-36)`` (concavity bounds it by the
    exponential with the slope at its start); an increasing piece likewise from its end.
    """
    start, end = edges[:, :-1], edges[:, 1:]
    down = -slope(start)
    up = slope(end)
    with np.errstate(divide="ignore", invalid="ignore"):
        end = np.where(down > 0, np.minimum(end, start + _CUT / np.where(down > 0, down, 1)), end)
        start = np.where(up > 0, np.maximum(start, end - _CUT / np.where(up > 0, up, 1)), start)
    length = np.maximum(end - start, 0.0)
    used = np.any(length > 0, axis=0)
    start, length = start[:, used], length[:, used]
    k = edges.shape[0]
    nu = (start[..., None] + (_LEGENDRE_X + 1) / 2 * length[..., None]).reshape(k, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_w = (_LOG_HALF_LEGENDRE_W + np.log(length)[..., None]).reshape(k, -1) + lam(nu)
    log_w = np.where(np.repeat(length, len(_LEGENDRE_X), axis=1) > 0, log_w, -np.inf)
    return nu, log_w


def _tail_nodes(lam: Callable[[Array], Array], start: Array, rate: Array) -> tuple[Array, Array]:
    """Gauss-Laguerre nodes for ``[start, inf)`` (rate > 0) or ``(-inf, start]`` (rate < 0).

    ``rate`` is minus the slope of ``lam`` at ``start``, so ``lam + t`` is nearly flat.
    """
    speed = np.abs(rate)[:, None]
    nu = start[:, None] + np.sign(rate)[:, None] * _LAGUERRE_T / speed
    return nu, lam(nu) + _LAGUERRE_T + _LOG_LAGUERRE_W - np.log(speed)


def _series_error(size: Array, log_ratio: Array, rate: Array, order: int) -> Array:
    r"""Log of a bound on a Laguerre rule's error when :math:`h(t) = (1 + a e^{-t/k})^{-e}`.

    A rule of ``order/2`` points integrates :math:`e^{-t}h(t)` exactly for polynomials ``h``
    of degree ``order - 1``, and its error on :math:`e^{-\gamma t}` is about
    :math:`(1 + 2/\gamma)^{-\text{order}}`. With :math:`|a| = z \le 1`, ``h`` is the series
    :math:`\sum_j \binom{e+j-1}{j}(-a)^j e^{-jt/k}`, so the error is at most about the
    largest term :math:`\binom{e+j-1}{j} z^j (1 + 2k/j)^{-\text{order}}`. With
    :math:`m = \max(e - 1, 0)`, :math:`\ln\binom{m+j}{j} \le j\ln(1 + m/j) + m\ln(1 + j/m)`;
    the terms decrease beyond :math:`j_1 = (m + \sqrt{m^2 + 8\,\text{order}\,k|\ln z|})/
    (2|\ln z|)`, and the bound adds :math:`m + m\ln(1 + j_1/m)` to the largest
    :math:`z^j (1 + 2k/j)^{-\text{order}}`, whose maximiser
    :math:`j^* = \sqrt{k^2 + 2\,\text{order}\,k/|\ln z|} - k` is in closed form.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        drop = np.maximum(-log_ratio, 1e-12)
        best = np.maximum(np.sqrt(rate**2 + 2 * order * rate / drop) - rate, 1.0)
        powers = -best * drop - order * np.log1p(2 * rate / best)
        m = np.maximum(size - 1, 0.0)
        last = (m + np.sqrt(m**2 + 8 * order * rate * drop)) / (2 * drop)
        binomial = np.where(m > 0, m + m * np.log1p(last / np.where(m > 0, m, 1.0)), 0.0)
        return np.asarray(powers + binomial)


def _kink_error(e_q: Array, ell: Array, rate: Array) -> Array:
    r"""Log of the measured error bound of the 16-point rule in the :math:`p` form, :math:`c > 1`.

    The slope bends by :math:`A = e_q[\sigma(\ln c) - \sigma(\ln c - t_{16}/k)]` around
    :math:`t = k \ln c` over a width :math:`k`; measured against ``mpmath.hyp2f1`` the error
    stays below :math:`3 A e^{-10\sqrt{k}}`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        bend = e_q * (expit(ell) - expit(ell - _LAGUERRE_T[-1] / rate))
        return np.asarray(np.log(3 * bend) - 10 * np.sqrt(rate))


def _laguerre_moments(
    size: Array, a: Array, n: Array, rate: Array, nodes: tuple[Array, Array]
) -> tuple[Array, Array]:
    r"""``ln J`` and four means by Gauss-Laguerre in :math:`t = k\nu`.

    :math:`J = \int_0^\infty e^{-n\nu}(1 + a e^{-\nu})^{-e} d\nu`. The :math:`p` form has :math:`a = c`, :math:`e = e_q`, :math:`k = -\lambda'(0)`; the
    :math:`q` form (:math:`\nu = \ln\frac{q+\tau}{q+u}`) has :math:`a = -c/(1+c)`,
    :math:`e = e_p`, :math:`k = n`. In both :math:`t - n\nu - e\ln(1 + a e^{-\nu})` is largest
    at :math:`\nu = 0`, so the weights need no rescaling. The means are of :math:`\nu`,
    :math:`\ln(1 + a e^{-\nu})`, :math:`e^{-\nu}` and :math:`e^{-\nu}/(1 + a e^{-\nu})`. Rows
    are taken in blocks that stay in the processor's cache.
    """
    t_nodes, w_nodes = nodes
    log_w = np.log(w_nodes)
    k = len(size)
    log_j = np.empty(k)
    moments = np.empty((k, 4))
    start = size * np.log1p(a)
    for lo in range(0, k, _BLOCK):
        rows = slice(lo, lo + _BLOCK)
        nu = np.multiply.outer(1 / rate[rows], t_nodes)
        e_inv = np.exp(-nu)
        az = e_inv * a[rows, None]
        spread = np.log1p(az)
        exponent = np.multiply.outer(1 - n[rows] / rate[rows], t_nodes)
        exponent += log_w
        exponent += start[rows, None]
        exponent -= size[rows, None] * spread
        weights = np.exp(exponent, out=exponent)
        az += 1
        np.divide(e_inv, az, out=az)
        total = weights.sum(axis=1)
        block = moments[rows]
        block[:, 0] = np.einsum("ij,ij->i", weights, nu)
        block[:, 1] = np.einsum("ij,ij->i", weights, spread)
        block[:, 2] = np.einsum("ij,ij->i", weights, e_inv)
        block[:, 3] = np.einsum("ij,ij->i", weights, az)
        block /= total[:, None]
        log_j[rows] = np.log(total) - start[rows] - np.log(rate[rows])
    return log_j, moments


def _slow_moments(e_p: Array, e_q: Array, c: Array) -> tuple[Array, Array]:
    r"""``ln J`` and the moments of :func:`_moments` by the general rule (pieces + tail)."""
    ep, eq, nn = e_p[:, None], e_q[:, None], (e_p + e_q - 1)[:, None]
    with np.errstate(divide="ignore"):
        el = np.log(c)[:, None]
    tail_start = np.maximum(el + np.log(np.maximum(eq / (nn * _TAIL_SLOPE_CHANGE), 1.0)), 0.0)
    first = nn - eq * expit(el)
    slopes = np.concatenate(
        [
            np.broadcast_to(_DOWN_SLOPES, (len(nn), len(_DOWN_SLOPES))),
            first + _BEND_FRACTIONS * (nn - first),
        ],
        axis=1,
    )
    fraction = (nn - slopes) / eq
    with np.errstate(divide="ignore", invalid="ignore"):
        breaks = np.where(
            fraction >= 1,
            -np.inf,
            np.where(fraction <= 0, np.inf, el - logit(np.clip(fraction, 1e-300, 1.0))),
        )
    breaks = np.sort(np.clip(breaks, 0.0, tail_start), axis=1)
    edges = np.concatenate([np.zeros_like(tail_start), breaks, tail_start], axis=1)

    def lam(v: Array) -> Array:
        return _lam(ep, eq, el, v)

    def slope(v: Array) -> Array:
        return np.asarray(-nn + eq * expit(el - v))

    piece_nu, piece_w = _gl_pieces(lam, slope, edges)
    tail_nu, tail_w = _tail_nodes(lam, tail_start[:, 0], -slope(tail_start)[:, 0])
    nu = np.concatenate([tail_nu, piece_nu], axis=1)
    log_w = np.concatenate([tail_w, piece_w], axis=1)
    log_j = logsumexp_rows(log_w)
    weights = np.exp(log_w - log_j[:, None])
    spread = _softplus(el - nu)
    e_inv = np.exp(-nu)
    moments = np.stack(
        [
            np.sum(weights * nu, axis=1),
            np.sum(weights * spread, axis=1),
            np.sum(weights * e_inv, axis=1),
            np.sum(weights * e_inv * np.exp(-spread), axis=1),
        ],
        axis=1,
    )
    return log_j, moments


def _moments(e_p: Array, e_q: Array, c: Array) -> tuple[Array, Array, NDArray[np.bool_]]:
    r"""``ln J``, four means and the form used, choosing the cheapest accurate rule per row.

    Tried in order: 16-point then 32-point Gauss-Laguerre, each in the :math:`p` or the
    :math:`q` form, whichever has the smaller error bound, where that bound is below
    :math:`10^{-9}`; else the general rule (:math:`p` form). The means are those of
    :func:`_laguerre_moments`; ``q_form`` marks the rows integrated in the :math:`q` form
    (then ``J`` is relative to :math:`(q+u)^{-n}`).
    """
    k = len(c)
    n = e_p + e_q - 1
    with np.errstate(divide="ignore"):
        ell = np.log(c)
    ratio = c / (1 + c)
    start_rate = n - e_q * ratio
    rate = np.where(start_rate > 0, start_rate, 1.0)
    log_j = np.empty(k)
    moments = np.empty((k, 4))
    q_form = np.zeros(k, dtype=bool)
    pending = np.arange(k)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(ratio)
    for nodes in (_LAGUERRE_16, _LAGUERRE_32):
        order = 2 * len(nodes[0])
        i = pending
        p_error = np.where(
            ell[i] <= 0,
            _series_error(e_q[i], ell[i], rate[i], order),
            _kink_error(e_q[i], ell[i], rate[i]) if order == 32 else np.inf,
        )
        p_error = np.where(start_rate[i] > 0, p_error, np.inf)
        q_error = _series_error(e_p[i], log_ratio[i], n[i], order)
        take_q = (q_error < p_error) & (q_error <= _FAST_LOG_ERROR)
        take_p = ~take_q & (p_error <= _FAST_LOG_ERROR)
        use_p, use_q = i[take_p], i[take_q]
        if len(use_p):
            log_j[use_p], moments[use_p] = _laguerre_moments(
                e_q[use_p], c[use_p], n[use_p], rate[use_p], nodes
            )
        if len(use_q):
            log_j[use_q], moments[use_q] = _laguerre_moments(
                e_p[use_q], -ratio[use_q], n[use_q], n[use_q], nodes
            )
        q_form[use_q] = True
        pending = i[~(take_p | take_q)]
        if not len(pending):
            return log_j, moments, q_form
    log_j[pending], moments[pending] = _slow_moments(e_p[pending], e_q[pending], c[pending])
    return log_j, moments, q_form


def log_tail(
    params: Array,
    x: Array,
    u: Array,
    *,
    gradient: bool = True,
    out: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    r""":math:`\ln G(u)` and its gradient with respect to :math:`(r, \alpha, s, \beta)`.

    By the positive power series of ``stickykit.models._pareto_series`` where
    :math:`z = (q - p)/(q + u) \le 0.8` (every row when :math:`\alpha` and :math:`\beta` are
    within a factor of five; accurate to about :math:`10^{-15}`, with coefficients computed
    once per frequency), by :func:`quadrature_log_tail` elsewhere.

    Parameters
    ----------
    params : numpy.ndarray
        :math:`(r, \alpha, s, \beta)`, all positive.
    x, u : numpy.ndarray
        Repeat purchases and the lower limit (recency or age), same length.
    gradient : bool
        ``False``: the series skips the gradient (its rows are then not meaningful).
    out : tuple of numpy.ndarray, optional
        Arrays of shapes ``(k,)`` and ``(k, 4)`` to write the result into.

    Returns
    -------
    log_g : numpy.ndarray, shape (k,)
    gradient : numpy.ndarray, shape (k, 4)

    Examples
    --------
    >>> from scipy import integrate
    >>> params = np.array([0.5, 2.0, 0.7, 40.0])
    >>> integrand = lambda t: (2 + t) ** -3.5 * (40 + t) ** -1.7
    >>> exact = [integrate.quad(integrand, u, np.inf, epsabs=0, epsrel=1e-12)[0]
    ...          for u in (5.0, 50.0)]
    >>> log_g, _ = log_tail(params, np.array([3.0, 3.0]), np.array([5.0, 50.0]))
    >>> series_z(params, np.array([5.0, 50.0])).round(3).tolist()  # quadrature, series
    [0.844, 0.422]
    >>> bool(np.all(np.abs(log_g - np.log(exact)) < 1e-9))
    True
    """
    x = np.asarray(x, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    _, alpha, _, beta = (float(v) for v in params)
    if not len(u) or abs(beta - alpha) <= MAX_Z * (max(alpha, beta) + float(u.min())):
        return series_log_tail(params, x, u, gradient=gradient, out=out)  # z <= MAX_Z for all
    series = series_z(params, u) <= MAX_Z
    log_g, grad = (np.empty(len(x)), np.empty((len(x), 4))) if out is None else out
    if series.any():
        log_g[series], grad[series] = series_log_tail(
            params, x[series], u[series], gradient=gradient
        )
    rest = ~series
    log_g[rest], grad[rest] = quadrature_log_tail(params, x[rest], u[rest])
    return log_g, grad


def log_tail_gradient_sum(params: Array, x: Array, u: Array, weights: Array) -> Array:
    r""":math:`\sum_j w_j \nabla \ln G_j`: ``weights @ log_tail(params, x, u)[1]``.

    Without storing the rows' gradients where the series applies
    (``stickykit.models._pareto_series.series_gradient_sum``).

    Examples
    --------
    >>> params, x, u = np.array([0.5, 2.0, 0.7, 40.0]), np.array([3.0, 3.0]), np.array([5.0, 50.0])
    >>> w = np.array([1.0, 2.0])
    >>> bool(np.allclose(log_tail_gradient_sum(params, x, u, w), w @ log_tail(params, x, u)[1]))
    True
    """
    _, alpha, _, beta = (float(v) for v in params)
    if not len(u) or abs(beta - alpha) <= MAX_Z * (max(alpha, beta) + float(u.min())):
        return series_gradient_sum(params, x, u, weights)
    series = series_z(params, u) <= MAX_Z
    total = np.zeros(4)
    if series.any():
        total += series_gradient_sum(params, x[series], u[series], weights[series])
    rest = ~series
    total += np.einsum("i,ij->j", weights[rest], quadrature_log_tail(params, x[rest], u[rest])[1])
    return total


def quadrature_log_tail(params: Array, x: Array, u: Array) -> tuple[Array, Array]:
    r""":math:`\ln G(u)` and its gradient in :math:`(r, \alpha, s, \beta)`, by quadrature.

    The quadrature of the module docstring, for any :math:`z`; accurate to about
    :math:`10^{-9}`.

    .. math::

       G(u) = \int_u^\infty (\alpha+\tau)^{-(r+x)}(\beta+\tau)^{-(s+1)} d\tau
            = \frac{{}_2F_1(e_q, r+s+x; r+s+x+1; -c)}{(r+s+x)(p+u)^{r+s+x}}

    (see the module docstring; Fader & Hardie 2005 note eqs. 19-20 write it with
    :math:`z = c/(1+c)` instead).

    Parameters
    ----------
    params : numpy.ndarray
        :math:`(r, \alpha, s, \beta)`, all positive.
    x, u : numpy.ndarray
        Repeat purchases and the lower limit (recency or age), same length.

    Returns
    -------
    log_g : numpy.ndarray, shape (k,)
    gradient : numpy.ndarray, shape (k, 4)

    Examples
    --------
    >>> from scipy import integrate
    >>> params = np.array([0.5, 2.0, 0.7, 40.0])
    >>> integrand = lambda t: (2 + t) ** -3.5 * (40 + t) ** -1.7
    >>> exact = integrate.quad(integrand, 5, np.inf, epsabs=0, epsrel=1e-12)[0]
    >>> log_g, _ = quadrature_log_tail(params, np.array([3.0]), np.array([5.0]))
    >>> bool(abs(log_g[0] - np.log(exact)) < 1e-9)
    True
    """
    r, alpha, s, beta = (float(v) for v in params)
    a_is_p = alpha <= beta
    p, q = (alpha, beta) if a_is_p else (beta, alpha)
    e_r = r + x
    e_s = np.full_like(e_r, s + 1.0)
    e_p, e_q = (e_r, e_s) if a_is_p else (e_s, e_r)
    c = (q - p) / (p + u)
    log_j, moments, q_form = _moments(e_p, e_q, c)
    mean_nu, mean_spread, mean_inv, mean_inv_other = moments.T
    base = np.where(q_form, q + u, p + u)
    log_base = np.log(base)
    mean_log_own = log_base + mean_nu
    mean_log_other = mean_log_own + mean_spread
    mean_inv_own = mean_inv / base
    mean_inv_other = mean_inv_other / base
    mean_log_p = np.where(q_form, mean_log_other, mean_log_own)
    mean_log_q = np.where(q_form, mean_log_own, mean_log_other)
    mean_inv_p = np.where(q_form, mean_inv_other, mean_inv_own)
    mean_inv_q = np.where(q_form, mean_inv_own, mean_inv_other)
    mean_log_a, mean_log_b = (mean_log_p, mean_log_q) if a_is_p else (mean_log_q, mean_log_p)
    mean_inv_a, mean_inv_b = (mean_inv_p, mean_inv_q) if a_is_p else (mean_inv_q, mean_inv_p)
    gradient = np.stack(
        [-mean_log_a, -e_r * mean_inv_a, -mean_log_b, -(s + 1) * mean_inv_b], axis=1
    )
    return -(r + s + x) * log_base + log_j, gradient


def log_concave_integral(
    lam: Callable[[Array], Array],
    slope: Callable[[Array], Array],
    *,
    low: Array,
    high: Array,
    left_tail: bool,
    right_tail: bool,
) -> Array:
    r"""Log of :math:`\int e^{\lambda(\nu)} d\nu` for concave :math:`\lambda`, row by row.

    ``lam(nu)`` and ``slope(nu)`` take arrays of shape ``(k, m)`` (one row per integral) and
    ``slope`` must decrease along each row. The integral runs over ``[low, high]``, plus
    ``(-inf, low]`` when ``left_tail`` (then ``low`` must be where the slope has reached its
    left limit within :math:`10^{-6}`) and ``[high, inf)`` when ``right_tail`` (``high``
    where it has reached its right limit). The rule: 24-point Gauss-Legendre pieces
    between the points where the slope equals :math:`\pm 4^k` (:math:`k = 0..8`) and 0,
    found by bisection, each cut where the integrand has fallen by :math:`e^{-36}`, and
    16-point Gauss-Laguerre on the tails.

    Examples
    --------
    A normal density, :math:`\lambda = -\nu^2/2 - \ln\sqrt{2\pi}`, over :math:`[-1, 1]`:

    >>> lam = lambda v: -v**2 / 2 - 0.5 * np.log(2 * np.pi)
    >>> value = log_concave_integral(lam, lambda v: -v, low=np.array([-1.0]),
    ...                              high=np.array([1.0]), left_tail=False, right_tail=False)
    >>> round(float(np.exp(value[0])), 10)
    0.6826894921
    """
    low = np.asarray(low, dtype=np.float64)
    high = np.maximum(np.asarray(high, dtype=np.float64), low)
    k = len(low)
    lo, hi = np.broadcast_to(low[:, None], (k, len(_SLOPES))), high[:, None]
    lo = lo.copy()
    hi = np.broadcast_to(hi, lo.shape).copy()
    target = np.broadcast_to(_SLOPES, lo.shape)
    for _ in range(_BISECTIONS):
        middle = (lo + hi) / 2
        above = slope(middle) > target
        lo = np.where(above, middle, lo)
        hi = np.where(above, hi, middle)
    edges = np.concatenate([low[:, None], (lo + hi) / 2, high[:, None]], axis=1)
    nodes = [_gl_pieces(lam, slope, edges)[1]]
    if left_tail:
        rate = -slope(low[:, None])[:, 0]
        nodes.append(_tail_nodes(lam, low, np.minimum(rate, -1e-300))[1])
    if right_tail:
        rate = -slope(high[:, None])[:, 0]
        nodes.append(_tail_nodes(lam, high, np.maximum(rate, 1e-300))[1])
    return logsumexp_rows(np.concatenate(nodes, axis=1))
