r"""The Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys as a Poisson process with rate :math:`\lambda`; their lifetime is
exponential with rate :math:`\mu`; across customers :math:`\lambda \sim \Gamma(r, \alpha)` and
:math:`\mu \sim \Gamma(s, \beta)` independently. Schmittlein, Morrison & Colombo (1987),
"Counting your customers: who are they and what will they do next?", *Management Science*
33(1), 1-24. The likelihood of a history :math:`(x, t_x, T)` is, as written by Fader, Hardie &
Lee (2005), "RFM and CLV: using iso-value curves for customer base analysis", *Journal of
Marketing Research* 42(4), 415-430 (appendix), and Fader & Hardie (2005), "A note on deriving
the Pareto/NBD model and related expressions" (eq. 18),

.. math::

   L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)}\left[
       \frac{1}{(\alpha+T)^{r+x}(\beta+T)^{s}} + s\,I \right], \qquad
   I = \int_{t_x}^{T} (\alpha+\tau)^{-(r+x)}(\beta+\tau)^{-(s+1)}\,d\tau
     = \frac{A_0}{r+s+x}.

:math:`I = G(t_x) - G(T)` is a difference of the Gauss hypergeometric terms
:math:`G(u) = \int_u^\infty \dots`, which ``stickykit.models._pareto_integral.log_tail``
evaluates by quadrature in log space with their analytic parameter derivatives; the difference
is taken as :math:`\ln I = \ln G(t_x) + \operatorname{log1p}(-e^{\ln G(T) - \ln G(t_x)})`, and
:math:`I = 0` exactly when :math:`t_x = T`.

Examples
--------
>>> from stickykit.models.data import cdnow_histories
>>> model = ParetoNBD().fit(cdnow_histories().calibration)
>>> print(model.summary)  # doctest: +ELLIPSIS
ParetoNBD: n = 2,357, log-likelihood = -9594.97... (time in weeks), AIC = ..., BIC = ...
parameter      estimate           se      95% low     95% high
r                 0.553...
alpha              10.5...
s                 0.606...
beta               11.6...
intervals: ...
"""

from __future__ import annotations

import math
from typing import Literal

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma, expit, exprel, gammaln

from stickykit.models._fit import Prediction, _fitted
from stickykit.models._grouped import dot
from stickykit.models._histories import Histories, Patterns, compress
from stickykit.models._pareto_integral import (
    log_concave_integral,
    log_tail,
    log_tail_gradient_sum,
)
from stickykit.models._pareto_sums import ParetoData, summed_loglik
from stickykit.models._transactions import TransactionModel, _horizon
from stickykit.models._transactions import periods_per_year as _units_per_year

__all__ = ["ParetoNBD", "TailPairs", "conditional_pmf", "log_integral_term"]

Array = NDArray[np.float64]

#: Left tails of the log-concave integrals start where the slope is this close to its limit.
_TAIL = 1e-6
#: The infinite-horizon integral stops where the discount slope reaches this value.
_STEEPEST = 4.0**9
#: Patterns per block of the predictions.
_BLOCK = 8192


@attrs.frozen(eq=False)
class TailPairs:
    """The distinct :math:`(x, u)` at which the hypergeometric tail is needed.

    ``x`` and ``u`` hold the distinct pairs :math:`(x, t_x)` (the first ``n_start``, sorted)
    then the distinct pairs :math:`(x, T)` (sorted); ``start`` and ``end`` map every pattern
    with :math:`t_x < T` (mask ``open``) to its pairs :math:`(x, t_x)` and :math:`(x, T)`.
    Data recorded in whole days repeat pairs often, so this cuts the work of each likelihood
    evaluation; a fit builds it once.
    """

    x: Array
    u: Array
    open: NDArray[np.bool_]
    start: NDArray[np.intp]
    end: NDArray[np.intp]
    n_start: int

    @classmethod
    def build(cls, x: Array, t_x: Array, big_t: Array) -> TailPairs:
        """Find the distinct pairs.

        One sort of the :math:`(x, T)`, and of the :math:`(x, t_x)` unless they come sorted
        (as the columns of :func:`~stickykit.models.compress` do).

        Examples
        --------
        >>> pairs = TailPairs.build(np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, 3.0]),
        ...                         np.array([5.0, 6.0, 3.0]))
        >>> pairs.x.tolist(), pairs.u.tolist(), pairs.start.tolist(), pairs.end.tolist()
        ([0.0, 0.0, 0.0], [0.0, 5.0, 6.0], [0, 0], [1, 2])
        """
        open_ = t_x < big_t
        xs, starts, ends = x[open_], t_x[open_], big_t[open_]
        ordered = bool(
            np.all((xs[1:] > xs[:-1]) | ((xs[1:] == xs[:-1]) & (starts[1:] >= starts[:-1])))
        )
        if ordered:  # distinct (x, t_x) by comparing neighbours, no sort
            new = np.ones(len(xs), dtype=bool)
            new[1:] = (xs[1:] != xs[:-1]) | (starts[1:] != starts[:-1])
            first = np.cumsum(new) - 1
            start_x, start_u = xs[new], starts[new]
        else:
            found = compress([xs, starts], np.ones(len(xs)))
            first = found.inverse
            start_x, start_u = found.columns
        last = compress([xs, ends], np.ones(len(xs)))
        n_start = len(start_x)
        return cls(
            np.concatenate([start_x, last.columns[0]]).astype(np.float64),
            np.concatenate([start_u, last.columns[1]]).astype(np.float64),
            open_,
            np.asarray(first, dtype=np.intp),
            last.inverse + n_start,
            n_start,
        )

    def gradient_sum(self, params: Array, weights: Array) -> Array:
        """``weights @ self.log_tail(params)[1]``, without storing the pairs' gradients.

        Examples
        --------
        >>> pairs = TailPairs.build(np.array([0.0, 2.0]), np.array([0.0, 3.0]),
        ...                         np.array([5.0, 6.0]))
        >>> params, w = np.array([0.55, 10.6, 0.61, 11.7]), np.array([1.0, 2.0, 3.0, 4.0])
        >>> bool(np.allclose(pairs.gradient_sum(params, w), w @ pairs.log_tail(params)[1]))
        True
        """
        k = self.n_start
        return np.asarray(
            sum(
                log_tail_gradient_sum(params, self.x[half], self.u[half], weights[half])
                for half in (slice(0, k), slice(k, None))
            ),
            dtype=np.float64,
        )

    def log_tail(
        self,
        params: Array,
        *,
        gradient: bool = True,
        out: tuple[Array, Array] | None = None,
    ) -> tuple[Array, Array]:
        """``log_tail`` at every pair (each half sorted by frequency, as the series likes).

        ``out``: arrays of shapes ``(k,)`` and ``(k, 4)`` to write the result into.

        Examples
        --------
        >>> pairs = TailPairs.build(np.array([0.0, 2.0]), np.array([0.0, 3.0]),
        ...                         np.array([5.0, 6.0]))
        >>> log_g, _ = pairs.log_tail(np.array([0.55, 10.6, 0.61, 11.7]))
        >>> log_g.shape
        (4,)
        """
        k = self.n_start
        log_g, grad = (np.empty(len(self.x)), np.empty((len(self.x), 4))) if out is None else out
        for half in (slice(0, k), slice(k, None)):
            log_tail(
                params, self.x[half], self.u[half], gradient=gradient, out=(log_g[half], grad[half])
            )
        return log_g, grad


def log_integral_term(
    params: Array,
    x: Array,
    t_x: Array,
    big_t: Array,
    pairs: TailPairs | None = None,
    *,
    gradient: bool = True,
) -> tuple[Array, Array]:
    r""":math:`\ln I` and its gradient in :math:`(r, \alpha, s, \beta)`, per pattern.

    :math:`I = G(t_x) - G(T)` by a sign-aware log-difference,
    :math:`\ln I = \ln G(t_x) + \ln(-\operatorname{expm1}(\ln G(T) - \ln G(t_x)))`, with
    gradient :math:`(\nabla \ln G(t_x) - \rho \nabla \ln G(T))/(1 - \rho)`,
    :math:`\rho = G(T)/G(t_x)`; :math:`\ln I = -\infty` (and a zero gradient) where
    :math:`t_x = T`. Each distinct :math:`(x, u)` is evaluated once (``pairs``, built here
    when not given). ``gradient=False`` skips the gradient (zeros are returned).

    Examples
    --------
    >>> from scipy import integrate
    >>> params = np.array([0.55, 10.6, 0.61, 11.7])
    >>> log_i, _ = log_integral_term(params, np.array([2.0, 3.0]), np.array([20.0, 30.0]),
    ...                              np.array([30.0, 30.0]))
    >>> exact = integrate.quad(lambda t: (10.6 + t) ** -2.55 * (11.7 + t) ** -1.61, 20, 30)[0]
    >>> bool(abs(log_i[0] - np.log(exact)) < 1e-9), float(log_i[1])
    (True, -inf)
    """
    if pairs is None:
        pairs = TailPairs.build(x, t_x, big_t)
    k = len(x)
    log_g, grad_g = pairs.log_tail(params, gradient=gradient)
    start_log = log_g[pairs.start]
    rest = -np.expm1(log_g[pairs.end] - start_log)  # 1 - rho, to full relative precision
    positive = rest > 0
    kept = np.where(positive, rest, 1.0)
    values = np.where(positive, start_log + np.log(kept), -np.inf)
    log_i = np.full(k, -np.inf)
    grad_i = np.zeros((k, 4))
    log_i[pairs.open] = values
    if gradient:
        grads = (grad_g[pairs.start] - (1 - kept)[:, None] * grad_g[pairs.end]) / kept[:, None]
        grad_i[pairs.open] = np.where(positive[:, None], grads, 0.0)
    return log_i, grad_i


def _log_pmf(r: Array, alpha: Array, s: float, beta: Array, n: Array, t: float) -> Array:
    r"""Log of :math:`P(X(t) = n)` under the Pareto/NBD, elementwise over broadcast rows.

    Fader & Hardie (2006), "Deriving an expression for P(X(t) = x) under the Pareto/NBD
    model": a customer alive through :math:`t` buys :math:`\mathrm{NBD}(r, \alpha)` over
    :math:`t`; one who dies at :math:`\tau < t` (Lomax density :math:`s\beta^s/(\beta+\tau)^
    {s+1}`) over :math:`\tau`:

    .. math::

       P(X(t)=n) = \frac{\Gamma(r+n)}{\Gamma(r)\,n!}\left[
         \left(\frac{\alpha}{\alpha+t}\right)^r \left(\frac{t}{\alpha+t}\right)^n
         \left(\frac{\beta}{\beta+t}\right)^s
         + \alpha^r\beta^s s \int_0^t \frac{\tau^n\,d\tau}
           {(\alpha+\tau)^{r+n}(\beta+\tau)^{s+1}} \right],

    the integral by ``log_concave_integral`` in :math:`\nu = \ln\tau`, where its
    log-integrand is concave.
    """
    r, alpha, beta, n = (
        np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(r, alpha, beta, n)
    )
    coefficient = gammaln(r + n) - gammaln(r) - gammaln(n + 1)
    if t == 0:
        return np.where(n == 0, 0.0, -np.inf)
    log_a, log_b = np.log(alpha), np.log(beta)
    survive = (
        coefficient
        + r * (log_a - np.log(alpha + t))
        + n * (math.log(t) - np.log(alpha + t))
        + s * (log_b - np.log(beta + t))
    )
    flat = [v.ravel()[:, None] for v in (r, log_a, log_b, n)]
    fr, fa, fb, fn = flat

    def lam(nu: Array) -> Array:
        return np.asarray(
            (fn + 1) * nu - (fr + fn) * np.logaddexp(fa, nu) - (s + 1) * np.logaddexp(fb, nu)
        )

    def slope(nu: Array) -> Array:
        return np.asarray((fn + 1) - (fr + fn) * expit(nu - fa) - (s + 1) * expit(nu - fb))

    need = _TAIL * (fn + 1) / 2
    low = np.minimum(
        np.minimum(fa + np.log(need / (fr + fn)), fb + np.log(need / (s + 1))), math.log(t)
    )
    high = np.full_like(low, math.log(t))
    log_int = log_concave_integral(
        lam, slope, low=low[:, 0], high=high[:, 0], left_tail=True, right_tail=False
    )
    dying = coefficient + r * log_a + s * log_b + math.log(s) + log_int.reshape(r.shape)
    return np.asarray(np.logaddexp(survive, dying))


def _log_discount_integral(delta: float, scale: Array, s: float, horizon: float | None) -> Array:
    r""":math:`\ln \int_0^H e^{-\delta t}(1 + t/B)^{-s} dt`, :math:`H = \infty` when ``None``.

    :math:`\int_0^\infty e^{-\delta t}(1+t/B)^{-s}dt = B^s\delta^{s-1}U(s, s; \delta B) =
    E[1/(\delta+\mu)]` for :math:`\mu \sim \Gamma(s, B)`, in a form that stays finite for
    any :math:`B`: the integral in :math:`\nu = \ln t`, whose log-integrand
    :math:`\nu - \delta e^\nu - s\ln(1 + e^\nu/B)` is concave.
    """
    log_scale = np.log(scale)[:, None]

    def lam(nu: Array) -> Array:
        return np.asarray(nu - delta * np.exp(nu) - s * np.logaddexp(0.0, nu - log_scale))

    def slope(nu: Array) -> Array:
        return np.asarray(1 - delta * np.exp(nu) - s * expit(nu - log_scale))

    with np.errstate(divide="ignore"):
        low = np.minimum(
            math.log(_TAIL / 2 / delta) if delta > 0 else np.inf,
            log_scale[:, 0] + math.log(_TAIL / 2 / s),
        )
    if horizon is None:
        high = np.full_like(low, math.log((_STEEPEST + 1) / delta) + 1.0)
    else:
        high = np.full_like(low, math.log(horizon))
    low = np.minimum(low, high)
    return log_concave_integral(lam, slope, low=low, high=high, left_tail=True, right_tail=False)


class ParetoNBD(TransactionModel):
    r"""The Pareto/NBD model, fitted by maximum likelihood with an analytic gradient.

    Parameters :math:`r, \alpha` (purchase rate :math:`\lambda \sim \Gamma(r, \alpha)`, mean
    :math:`r/\alpha`) and :math:`s, \beta` (drop-out rate :math:`\mu \sim \Gamma(s, \beta)`);
    :math:`\alpha` and :math:`\beta` are in the histories' time unit. See the module
    docstring for the likelihood and :class:`~stickykit.models.TransactionModel` for the
    predictions every transaction model offers.

    Parameters
    ----------
    penalizer, level, tol
        As for :class:`~stickykit.models.LikelihoodModel`.

    Notes
    -----
    - :math:`P(\text{alive}) = \left[1 + s(\alpha+T)^{r+x}(\beta+T)^s I\right]^{-1}`.
    - :math:`E[X(t)] = \frac{r\beta}{\alpha(s-1)}\left[1 - \left(\frac{\beta}{\beta+t}
      \right)^{s-1}\right]` and :math:`E[Y(t) \mid x, t_x, T] = P(\text{alive})\frac{(r+x)
      (\beta+T)}{(\alpha+T)(s-1)}\left[1 - \left(\frac{\beta+T}{\beta+T+t}\right)^{s-1}
      \right]` (Schmittlein et al. 1987; Fader & Hardie 2005 note eq. 41), evaluated with
      :func:`scipy.special.exprel` so that :math:`s = 1` is no special case.
    - The probability of :math:`n` purchases given the history mixes the alive case (a new
      Pareto/NBD with :math:`(r+x, \alpha+T, s, \beta+T)`, by memorylessness) with the dead
      case (no purchase): :math:`P(Y(t)=n \mid \cdot) = P(\text{alive})P_{r+x,\alpha+T,s,
      \beta+T}(X(t)=n) + (1-P(\text{alive}))[n=0]`.
    - Discounted expected residual transactions follow Fader, Hardie & Lee (2005), eq. 2,
      with continuous discounting (see :meth:`discounted_expected_transactions`).

    Examples
    --------
    >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> h = Histories.from_arrays(frequency=[0, 26], recency=[0.0, 30.86], age=[31.0, 31.0])
    >>> [round(float(v), 4) for v in m.probability_alive(h).value]
    [0.3491, 0.9979]
    """

    param_names = ("r", "alpha", "s", "beta")
    reference = (
        "Schmittlein, Morrison & Colombo (1987), Management Science 33(1), 1-24; likelihood "
        "as in Fader, Hardie & Lee (2005), Journal of Marketing Research 42(4), 415-430"
    )

    def __init__(self, *, penalizer: float = 0.0, level: float = 0.95, tol: float = 1e-7) -> None:
        super().__init__(penalizer=penalizer, level=level, tol=tol)
        self._prepared: tuple[Patterns, ParetoData] | None = None
        self._kernel_pairs: tuple[tuple[Array, Array, Array], TailPairs] | None = None

    # -- likelihood --------------------------------------------------------------------------

    def _prepare(self, data: Patterns) -> ParetoData:
        """The tail pairs of ``data``, found once for the fit's repeated evaluations."""
        cached = self._prepared
        if cached is None or cached[0] is not data:
            x, t_x, big_t = (np.asarray(c, dtype=np.float64) for c in data.columns)
            cached = (data, ParetoData.build(data, TailPairs.build(x, t_x, big_t)))
            self._prepared = cached
        return cached[1]

    def _loglik(self, params: Array, data: Patterns) -> tuple[Array, Array]:
        x, t_x, big_t = (np.asarray(c, dtype=np.float64) for c in data.columns)
        return _loglik(params, x, t_x, big_t, self._prepare(data).pairs)

    def _loglik_sums(
        self, params: Array, data: Patterns, *, hessian: bool
    ) -> tuple[float, Array, Array | None]:
        """The weighted sums of ``_loglik`` block by block (``stickykit.models._pareto_sums``).

        There is no analytic Hessian: ``hessian`` is ignored.
        """
        del hessian
        value, gradient = summed_loglik(np.asarray(params, dtype=np.float64), self._prepare(data))
        return value, gradient, None

    def _pairs_of(self, x: Array, t_x: Array, big_t: Array) -> TailPairs:
        """Tail pairs of the histories ``(x, t_x, T)``.

        Kept while the same arrays come back (the columns of the patterns of one
        ``Histories``, for every prediction on it); those of the fit when it was on them.
        """
        prepared = self._prepared
        if prepared is not None:
            fitted = prepared[1]
            fit_columns = (fitted.x, fitted.t_x, fitted.big_t)
            if all(a is b for a, b in zip(fit_columns, (x, t_x, big_t), strict=True)):
                return fitted.pairs
        cached = self._kernel_pairs
        if cached is not None and all(
            a is b for a, b in zip(cached[0], (x, t_x, big_t), strict=True)
        ):
            return cached[1]
        pairs = TailPairs.build(x, t_x, big_t)
        self._kernel_pairs = ((x, t_x, big_t), pairs)
        return pairs

    def _start(self, data: Patterns) -> Array:
        x, _, big_t = (np.asarray(c, dtype=np.float64) for c in data.columns)
        weight = data.weight / data.weight.sum()
        mean_t = max(dot(weight, big_t), 1e-6)
        mean_x = max(dot(weight, x), 1e-6)
        return np.array([1.0, mean_t / mean_x, 1.0, mean_t])

    # -- kernels -----------------------------------------------------------------------------

    def _p_alive(self, params: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        return _p_alive(params, x, t_x, big_t, self._pairs_of(x, t_x, big_t))

    def _conditional_expected(
        self, params: Array, t: float, x: Array, t_x: Array, big_t: Array
    ) -> Array:
        r, alpha, s, beta = params
        out = self._p_alive(params, x, t_x, big_t)
        for lo in range(0, len(out), _BLOCK):  # in place, block by block
            rows = slice(lo, lo + _BLOCK)
            spread = np.log1p(t / (beta + big_t[rows]))
            out[rows] *= (r + x[rows]) / (alpha + big_t[rows]) * (beta + big_t[rows])
            out[rows] *= spread * exprel(-(s - 1) * spread)
        return out

    def _expected(self, params: Array, t: Array) -> Array:
        r, alpha, s, beta = params
        spread = np.log1p(np.asarray(t, dtype=np.float64) / beta)
        return np.asarray(r * beta / alpha * spread * exprel(-(s - 1) * spread))

    def _pmf(self, params: Array, n: Array, t: float) -> Array:
        r, alpha, s, beta = params
        ones = np.ones_like(n)
        return np.exp(_log_pmf(r * ones, alpha * ones, float(s), beta * ones, n, t))

    def _conditional_pmf(
        self, params: Array, n: float, t: float, x: Array, t_x: Array, big_t: Array
    ) -> Array:
        return conditional_pmf(params, np.array([n]), t, x, t_x, big_t)[:, 0]

    # -- discounted expected residual transactions -------------------------------------------

    def discounted_expected_transactions(
        self,
        histories: Histories,
        *,
        annual_discount_rate: float,
        horizon: float | None = None,
        step: float = 1.0,
        periods_per_year: float | None = None,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""Discounted expected residual transactions (DERT), continuously discounted.

        Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
        analysis", *Journal of Marketing Research* 42(4), 415-430, eq. 2:

        .. math::

           \mathrm{DERT} = \int_0^H e^{-\delta t}\, dE[Y(t) \mid x, t_x, T]
           = P(\text{alive})\,\frac{r+x}{\alpha+T}
             \int_0^H e^{-\delta t}\left(\frac{\beta+T}{\beta+T+t}\right)^{s} dt,

        which for :math:`H = \infty` is :math:`\frac{\alpha^r\beta^s\delta^{s-1}\Gamma(r+x+1)
        \,U(s, s; \delta(\beta+T))}{\Gamma(r)(\alpha+T)^{r+x+1} L}` with :math:`U` the
        confluent hypergeometric function of the second kind. The integral is evaluated by
        quadrature in log space rather than through :math:`U` (``scipy.special.hyperu``
        fails for large :math:`\beta`). Multiply by the expected spend per transaction for
        a customer lifetime value.

        Parameters
        ----------
        histories : Histories
        annual_discount_rate : float
            :math:`d \ge 0`; the continuous rate per time unit is :math:`\delta = \ln(1 + d)
            / u` with :math:`u` time units a year (FHL 2005: 15% a year is
            :math:`\delta = 0.0027` a week).
        horizon : float, optional
            ``None`` (default): the infinite horizon of the paper, which needs
            :math:`d > 0`. A number: the integral truncated at that many time units.
        step : float
            Not used: discounting is continuous (accepted for the shared signature).
        periods_per_year : float, optional
            Time units per year; known for days, weeks, months, quarters and years.
        interval, level, method
            Parameter-uncertainty interval, as in
            :meth:`~stickykit.models.LikelihoodModel.uncertainty`.

        Examples
        --------
        >>> m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
        >>> h = Histories.from_arrays(frequency=[0, 2, 10], recency=[0.0, 30.43, 35.0],
        ...                           age=[38.86, 38.86, 38.86])
        >>> d = m.discounted_expected_transactions(h, annual_discount_rate=0.15)
        >>> [round(float(v), 2) for v in d.value]
        [0.48, 6.52, 28.73]
        >>> d.method.split(";")[0]
        'continuous discounting, delta = 0.00267853 per week (annual rate 0.15), infinite horizon (FHL 2005 eq. 2)'
        """
        _fitted(self)
        del step
        if not (math.isfinite(annual_discount_rate) and annual_discount_rate >= 0):
            raise ValueError(
                f"annual_discount_rate must be a finite number >= 0, got {annual_discount_rate!r}"
            )
        end = None if horizon is None else _horizon(horizon)
        per_year = _units_per_year(self.time_unit_, periods_per_year)
        delta = math.log1p(annual_discount_rate) / per_year
        if end is None and delta == 0:
            raise ValueError(
                "an infinite horizon needs annual_discount_rate > 0 (undiscounted expected "
                "lifetime transactions are infinite for s <= 1)"
            )

        def kernel(params: Array, x: Array, t_x: Array, big_t: Array) -> Array:
            r, alpha, s, beta = params
            alive = self._p_alive(params, x, t_x, big_t)
            if end == 0:
                return np.zeros_like(x)
            log_int = _log_discount_integral(delta, beta + big_t, float(s), end)
            return np.asarray(alive * (r + x) / (alpha + big_t) * np.exp(log_int))

        p = self._per_customer(histories, kernel, interval=interval, level=level, method=method)
        span = "infinite horizon" if end is None else f"truncated at {end:g} {self.time_unit_}(s)"
        stated = (
            f"continuous discounting, delta = {delta:.6g} per {self.time_unit_} (annual rate "
            f"{annual_discount_rate:g}), {span} (FHL 2005 eq. 2); {p.method}"
        )
        return Prediction(p.value, p.ci_low, p.ci_high, p.level, stated)


def _loglik(
    params: Array, x: Array, t_x: Array, big_t: Array, pairs: TailPairs | None = None
) -> tuple[Array, Array]:
    """Per-pattern log-likelihood and its gradient in ``(r, alpha, s, beta)``."""
    r, alpha, s, beta = (float(v) for v in params)
    log_i, grad_i = log_integral_term(params, x, t_x, big_t, pairs)
    log_at, log_bt = np.log(alpha + big_t), np.log(beta + big_t)
    first = -(r + x) * log_at - s * log_bt
    second = math.log(s) + log_i
    mix = np.logaddexp(first, second)
    w_first = np.exp(first - mix)
    w_second = np.exp(second - mix)
    values = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + s * math.log(beta) + mix
    gradient = np.stack(
        [
            digamma(r + x)
            - digamma(r)
            + math.log(alpha)
            - w_first * log_at
            + w_second * grad_i[:, 0],
            r / alpha - w_first * (r + x) / (alpha + big_t) + w_second * grad_i[:, 1],
            math.log(beta) - w_first * log_bt + w_second * (1 / s + grad_i[:, 2]),
            s / beta - w_first * s / (beta + big_t) + w_second * grad_i[:, 3],
        ],
        axis=1,
    )
    return np.asarray(values), gradient


def conditional_pmf(params: Array, n: Array, t: float, x: Array, t_x: Array, big_t: Array) -> Array:
    r""":math:`P(Y(t) = n \mid x, t_x, T)` for every history (rows) and count (columns).

    :math:`P(\text{alive}) P_{r+x, \alpha+T, s, \beta+T}(X(t) = n) + (1 - P(\text{alive}))
    [n = 0]`: alive at :math:`T`, the customer's rates have the posteriors
    :math:`\Gamma(r+x, \alpha+T)` and :math:`\Gamma(s, \beta+T)` and, the lifetime being
    memoryless, the future is a new Pareto/NBD customer's; dead, nothing is bought.

    Examples
    --------
    >>> params = np.array([0.553, 10.578, 0.606, 11.669])
    >>> table = conditional_pmf(params, np.arange(300.0), 39.0, np.array([0.0, 2.0]),
    ...                         np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> table.shape, np.round(table.sum(axis=1), 8).tolist()
    ((2, 300), [1.0, 1.0])
    """
    r, alpha, s, beta = (float(v) for v in params)
    alive = _p_alive(params, x, t_x, big_t)[:, None]
    counts = np.asarray(n, dtype=np.float64)[None, :]
    future = np.exp(
        _log_pmf(r + x[:, None], alpha + big_t[:, None], s, beta + big_t[:, None], counts, t)
    )
    return np.asarray(alive * future + (1 - alive) * (counts == 0))


def _p_alive(
    params: Array, x: Array, t_x: Array, big_t: Array, pairs: TailPairs | None = None
) -> Array:
    r"""P(alive at T), in log space.

    :math:`\operatorname{expit}(-[\ln s + (r+x)\ln(\alpha+T) + s\ln(\beta+T) + \ln I])`.
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    if pairs is None:
        pairs = TailPairs.build(x, t_x, big_t)
    k = len(pairs.x)
    log_g, _ = pairs.log_tail(np.asarray(params, dtype=np.float64), gradient=False)
    # ln I of the open patterns, then the odds, block by block (bounded temporaries)
    odds = np.full(len(x), -np.inf)
    where_open = np.flatnonzero(pairs.open)
    for lo in range(0, len(where_open), _BLOCK):
        hi = min(lo + _BLOCK, len(where_open))
        start_log = log_g[pairs.start[lo:hi]] if k else np.zeros(hi - lo)
        rest = -np.expm1(log_g[pairs.end[lo:hi]] - start_log) if k else np.zeros(hi - lo)
        with np.errstate(divide="ignore"):
            odds[where_open[lo:hi]] = np.where(rest > 0, start_log + np.log(rest), -np.inf)
    log_s = math.log(s)
    for lo in range(0, len(x), _BLOCK):
        block = odds[lo : lo + _BLOCK]
        block += (r + x[lo : lo + _BLOCK]) * np.log(alpha + big_t[lo : lo + _BLOCK])
        block += s * np.log(beta + big_t[lo : lo + _BLOCK])
        block += log_s
        np.negative(block, out=block)
        expit(block, out=block)
    return odds
