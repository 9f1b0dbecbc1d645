r"""The beta-geometric/beta-binomial (BG/BB) model of discrete transaction opportunities.

Customers can transact only at discrete opportunities (one donation drive a year, one
conference, one weekly draw). While "alive", a customer transacts at each opportunity with
probability :math:`p`; at the start of each opportunity they become inactive for good with
probability :math:`\theta`. Across customers :math:`p \sim \mathrm{Beta}(\alpha, \beta)` and
:math:`\theta \sim \mathrm{Beta}(\gamma, \delta)`, independently. A history is
:math:`(x, t_x, n)`: :math:`x` transactions in :math:`n` opportunities after the first, the
last at opportunity :math:`t_x` (:math:`t_x = 0` when :math:`x = 0`). Its likelihood is
(Fader, Hardie & Shang 2010)

.. math::

   L = \frac{B(\alpha + x, \beta + n - x)}{B(\alpha, \beta)}
       \frac{B(\gamma, \delta + n)}{B(\gamma, \delta)}
     + \sum_{i=0}^{n - t_x - 1} \frac{B(\alpha + x, \beta + t_x - x + i)}{B(\alpha, \beta)}
       \frac{B(\gamma + 1, \delta + t_x + i)}{B(\gamma, \delta)}:

alive through opportunity :math:`n`, or inactive from opportunity :math:`t_x + i + 1`. It is
evaluated as a log-sum-exp of these terms with its analytic gradient (digamma functions).

:class:`BGBB` fits :math:`(\alpha, \beta, \gamma, \delta)` on histories (arrays, or
:class:`~stickykit.models.Histories` counted in ``"period"`` units) and predicts
P(alive) (equation A10), expected transactions in the next :math:`n^*` opportunities
(equation 13), discounted expected residual transactions (DERT, equation 14), and, for a
newly acquired customer, the distribution of :math:`X(n)` (equation 7), its mean and the
expected number of customers at each count.

References
----------
Fader, P. S., Hardie, B. G. S. and Shang, J. (2010), "Customer-base analysis in a
discrete-time noncontractual setting", *Marketing Science* 29(6), 1086-1108.

Examples
--------
The donations data of Fader, Hardie & Shang (2010): 11,104 first-time supporters of 1995,
whether they gave in each of the six years 1996-2001.

>>> from stickykit.models.datasets_btyd import load_donations
>>> d = load_donations()
>>> m = BGBB().fit(d["frequency"], d["recency"], d["periods"], weight=d["weight"])
>>> m.params.round(3).tolist()
[1.204, 0.75, 0.657, 2.783]
>>> round(m.log_likelihood_, 2)
-33225.58
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, gammaln, logsumexp, psi

from stickykit.errors import FitError, ValidationError
from stickykit.models._fit import LikelihoodModel, Prediction, _fitted
from stickykit.models._histories import Histories, Patterns, compress, fail_at
from stickykit.models.sbg import _check_rate, _hyp2f1_unit, _log_survival_sum, _weights, _whole

__all__ = ["BGBB"]

_RECORD = "BGBB"
#: Patterns times opportunities evaluated at once by the likelihood (bounds its memory).
_CELLS = 1 << 21

History = Histories | ArrayLike


def _columns(
    frequency: History,
    recency: ArrayLike | None,
    periods: ArrayLike | None,
    weight: ArrayLike | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validated ``x, t_x, n, weight`` from arrays or from period-unit histories."""
    if isinstance(frequency, Histories):
        h = frequency
        if recency is not None or periods is not None or weight is not None:
            raise TypeError("with Histories, give no recency, periods or weight (they are in it)")
        if h.time_unit != "period":
            raise ValidationError(
                record="Histories",
                field="time_unit",
                row=None,
                value=h.time_unit,
                expected="'period': BG/BB counts discrete transaction opportunities",
            )
        record, names = "Histories", ("frequency", "recency", "age")
        x = h.frequency.astype(np.float64)
        t_x = _whole("recency", h.recency, len(x), minimum=0, record=record)
        n = _whole("age", h.age, len(x), minimum=0, record=record)
        w = h.weight
    else:
        if recency is None or periods is None:
            raise TypeError("recency and periods are required with arrays of frequencies")
        record, names = _RECORD, ("frequency", "recency", "periods")
        x = _whole("frequency", frequency, None, minimum=0, record=record)
        t_x = _whole("recency", recency, len(x), minimum=0, record=record)
        n = _whole("periods", periods, len(x), minimum=0, record=record)
        w = _weights(weight, len(x), record)
    _fail_above(t_x > n, names[1], t_x, names[2], n, record)
    _fail_above(x > t_x, names[0], x, names[1], t_x, record)
    fail_at(
        (x == 0) & (t_x > 0),
        field=names[1],
        values=t_x,
        expected="0 when frequency is 0 (no transaction)",
        record=record,
    )
    return x, t_x, n, w


def _fail_above(
    mask: NDArray[np.bool_],
    field: str,
    values: NDArray[np.float64],
    other: str,
    limits: NDArray[np.float64],
    record: str,
) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        fail_at(
            mask,
            field=field,
            values=values,
            expected=f"at most {other} {limits[row]:g}",
            record=record,
        )


def _log_a(
    params: NDArray[np.float64], x: NDArray[np.float64], n: NDArray[np.float64], extra: float
) -> NDArray[np.float64]:
    r""":math:`\ln B(\alpha + x + e, \beta + n - x) - \ln B(\alpha, \beta)`."""
    a, b = params[0], params[1]
    return np.asarray(betaln(a + x + extra, b + n - x) - betaln(a, b), dtype=np.float64)


def _log_s(params: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\ln B(\gamma, \delta + t) - \ln B(\gamma, \delta)`: alive at opportunity ``t``."""
    g, d = params[2], params[3]
    return np.asarray(betaln(g, d + t) - betaln(g, d), dtype=np.float64)


def _loglik_block(
    params: NDArray[np.float64],
    x: NDArray[np.float64],
    t_x: NDArray[np.float64],
    n: NDArray[np.float64],
    *,
    gradient: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Log-likelihood (and its gradient) of a block of patterns; see the module docstring."""
    a, b, g, d = (float(v) for v in params)
    k = len(x)
    width = int((n - t_x).max()) if k else 0
    i = np.arange(width, dtype=np.float64)[None, :]
    s = t_x[:, None] + i  # the last opportunity alive, for the drop-out terms
    xx = x[:, None]
    terms = np.empty((k, width + 1))
    terms[:, 0] = _log_a(params, x, n, 0.0) + _log_s(params, n)
    terms[:, 1:] = betaln(a + xx, b + s - xx) - betaln(a, b) + betaln(g + 1, d + s) - betaln(g, d)
    terms[:, 1:][i >= (n - t_x)[:, None]] = -np.inf
    values = logsumexp(terms, axis=1)
    if not gradient:
        return values, None
    share = np.exp(terms - values[:, None])  # each term's share of the likelihood
    base_a, base_b = psi(a) - psi(a + b), psi(b) - psi(a + b)
    base_g, base_d = psi(g) - psi(g + d), psi(d) - psi(g + d)
    grad = np.empty((k, 4))
    alive_ab = psi(a + b + n)
    grad[:, 0] = share[:, 0] * (psi(a + x) - alive_ab - base_a)
    grad[:, 1] = share[:, 0] * (psi(b + n - x) - alive_ab - base_b)
    grad[:, 2] = share[:, 0] * (psi(g + d) - psi(g + d + n))
    grad[:, 3] = share[:, 0] * (psi(d + n) - psi(g + d + n) - base_d)
    rest = share[:, 1:]
    dead_ab = psi(a + b + s)
    dead_gd = psi(g + d + s + 1)
    grad[:, 0] += (rest * (psi(a + xx) - dead_ab - base_a)).sum(axis=1)
    grad[:, 1] += (rest * (psi(b + s - xx) - dead_ab - base_b)).sum(axis=1)
    grad[:, 2] += (rest * (psi(g + 1) - dead_gd - base_g)).sum(axis=1)
    grad[:, 3] += (rest * (psi(d + s) - dead_gd - base_d)).sum(axis=1)
    return values, grad


def _loglik_patterns(
    params: NDArray[np.float64],
    x: NDArray[np.float64],
    t_x: NDArray[np.float64],
    n: NDArray[np.float64],
    *,
    gradient: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The likelihood over all patterns, in blocks of bounded memory, widest first.

    A block starts at its widest pattern, so its rows times that width stay within
    ``_CELLS``.
    """
    values = np.empty(len(x))
    grad = np.zeros((len(x), 4))
    order = np.argsort(t_x - n, kind="stable")
    start = 0
    while start < len(x):
        width = max(int(n[order[start]] - t_x[order[start]]), 1)
        stop = start + max(1, _CELLS // width)
        rows = order[start:stop]
        block_values, block_grad = _loglik_block(
            params, x[rows], t_x[rows], n[rows], gradient=gradient
        )
        values[rows] = block_values
        if block_grad is not None:
            grad[rows] = block_grad
        start = stop
    return values, grad


class BGBB(LikelihoodModel):
    r"""The BG/BB model of Fader, Hardie & Shang (2010) for discrete transaction opportunities.

    Parameters ``alpha, beta`` (transaction probability :math:`p \sim \mathrm{Beta}(\alpha,
    \beta)`) and ``gamma, delta`` (drop-out probability :math:`\theta \sim
    \mathrm{Beta}(\gamma, \delta)`). Histories are ``frequency`` :math:`x`, ``recency``
    :math:`t_x` and ``periods`` :math:`n` (whole numbers, :math:`0 \le x \le t_x \le n`,
    :math:`t_x = 0` when :math:`x = 0`), as arrays with an optional ``weight`` (customers per
    row), or one :class:`~stickykit.models.Histories` whose ``time_unit`` is
    ``"period"`` (its ``age`` is :math:`n`).

    Parameters
    ----------
    penalizer, level, tol
        As for :class:`~stickykit.models.LikelihoodModel`.

    Examples
    --------
    >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> m.probability_alive([0, 2, 6], [0, 4, 6], [6, 6, 6]).value.round(2).tolist()
    [0.11, 0.59, 0.93]
    """

    param_names = ("alpha", "beta", "gamma", "delta")
    reference = (
        "Fader, P. S., Hardie, B. G. S. and Shang, J. (2010), 'Customer-base analysis in a "
        "discrete-time noncontractual setting', Marketing Science 29(6), 1086-1108"
    )

    # -- likelihood ------------------------------------------------------------------------

    def _loglik(
        self, params: NDArray[np.float64], data: Patterns
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x, t_x, n = data.columns
        return _loglik_patterns(params, x, t_x, n, gradient=True)

    def _start(self, data: Patterns) -> NDArray[np.float64]:
        """Transactions per opportunity as the mean of p (alpha + beta = 1); gamma 1, delta 3.

        Not the ``[0.1] * 4`` of ``lifetimes``, where its likelihood is not finite (#259).
        """
        x, _, n = data.columns
        opportunities = float(data.weight @ n)
        rate = float(data.weight @ x) / opportunities if opportunities > 0 else 0.5
        rate = min(max(rate, 0.05), 0.95)
        return np.array([rate, 1 - rate, 1.0, 3.0])

    # -- fitting ---------------------------------------------------------------------------

    def patterns(
        self,
        frequency: History,
        recency: ArrayLike | None = None,
        periods: ArrayLike | None = None,
        weight: ArrayLike | None = None,
    ) -> Patterns:
        """Validate histories and merge equal ones into weighted ``(x, t_x, n)`` patterns.

        Raises
        ------
        ValidationError
            A count that is not a whole number >= 0, a recency above the periods, a frequency
            above the recency (which also refuses a recency of 0 with purchases), a recency
            above 0 without purchases, arrays of different lengths, a weight that is not
            finite and positive, or histories whose time unit is not ``"period"``. The message
            names the row, field and value.

        Examples
        --------
        >>> BGBB().patterns([1, 2], [3, 1], [6, 6])
        Traceback (most recent call last):
        ...
        stickykit.errors.ValidationError: BGBB.frequency @ row 1: 2.0 is invalid, expected at most recency 1
        >>> BGBB().patterns([0, 1], [0, 7], [6, 6])
        Traceback (most recent call last):
        ...
        stickykit.errors.ValidationError: BGBB.recency @ row 1: 7.0 is invalid, expected at most periods 6
        """
        x, t_x, n, w = _columns(frequency, recency, periods, weight)
        return compress([x, t_x, n], w)

    def fit(
        self,
        frequency: History,
        recency: ArrayLike | None = None,
        periods: ArrayLike | None = None,
        weight: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the distinct histories; returns ``self``.

        Parameters
        ----------
        frequency : array_like of int, or stickykit.models.Histories
            Transactions :math:`x` in the ``periods`` opportunities after the first; or
            histories with ``time_unit="period"`` (then give nothing else).
        recency : array_like of int
            :math:`t_x`, the opportunity of the last transaction (0 without any).
        periods : array_like of int
            :math:`n`, the opportunities observed.
        weight : array_like, optional
            Customers each row stands for (Fader, Hardie & Shang give their data as 22
            weighted rows).

        Raises
        ------
        ValidationError
            Invalid histories (see :meth:`patterns`).
        FitError
            No transaction at all, too few customers, or a failed fit.

        Examples
        --------
        The donations data as histories counted in periods (years):

        >>> from stickykit.models import Histories
        >>> from stickykit.models.datasets_btyd import load_donations
        >>> d = load_donations()
        >>> h = Histories.from_arrays(frequency=d["frequency"], recency=d["recency"],
        ...                           age=d["periods"], weight=d["weight"], time_unit="period")
        >>> m = BGBB().fit(h)
        >>> m.diagnostics_.converged, m.n_customers_
        (True, 11104.0)
        """
        data = self.patterns(frequency, recency, periods, weight)
        if len(data) and not np.any(data.columns[0] > 0):
            raise FitError(
                f"{type(self).__name__}: no customer transacted (all frequencies are 0); the "
                "transaction and drop-out processes cannot be estimated"
            )
        return self._fit_patterns(data, time_unit="period")

    @classmethod
    def from_params(cls, *, alpha: float, beta: float, gamma: float, delta: float) -> Self:
        """A model with given parameters (for example published ones), without fitting.

        It has no covariance, so predictions from it have no intervals.

        Examples
        --------
        >>> BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        BGBB(alpha=1.204, beta=0.75, gamma=0.657, delta=2.783; log-likelihood nan, n=0)
        """
        given = {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}
        bad = [k for k, v in given.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"parameters must be finite and > 0: {', '.join(bad)}")
        model = cls()
        model.params_ = {k: float(v) for k, v in given.items()}
        model.time_unit_ = "period"
        return model

    # -- predictions per customer ----------------------------------------------------------

    def _per_customer(
        self,
        kernel: Callable[
            [NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
            NDArray[np.float64],
        ],
        frequency: History,
        recency: ArrayLike | None,
        periods: ArrayLike | None,
        *,
        interval: bool,
        level: float | None,
        method: Literal["delta", "draws"],
    ) -> Prediction:
        """Evaluate ``kernel(params, x, t_x, n)`` once per pattern, expand to the rows."""
        _fitted(self)
        x, t_x, n, w = _columns(frequency, recency, periods, None)
        data = compress([x, t_x, n], w)
        px, pt, pn = data.columns

        def on_patterns(params: NDArray[np.float64]) -> NDArray[np.float64]:
            return kernel(params, px, pt, pn)

        p = self.uncertainty(on_patterns, interval=interval, level=level, method=method)
        return p.take(data.inverse)

    def probability_alive(
        self,
        frequency: History,
        recency: ArrayLike | None = None,
        periods: ArrayLike | None = None,
        *,
        m: int = 1,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""P(alive at opportunity :math:`n + m` | history), per row.

        Fader, Hardie & Shang (2010), equation A10:

        .. math::

           P(\text{alive at } n + m \mid x, t_x, n) =
           \frac{B(\alpha + x, \beta + n - x)}{B(\alpha, \beta)}
           \frac{B(\gamma, \delta + n + m)}{B(\gamma, \delta)} \Big/ L.

        Examples
        --------
        Fader, Hardie & Shang (2010), Table 6: P(alive in 2002) after 1996-2001.

        >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.probability_alive([0, 2, 6], [0, 4, 6], [6, 6, 6]).value.round(2).tolist()
        [0.11, 0.59, 0.93]
        """
        ahead = float(_whole("m", m, 1, minimum=0, record=_RECORD)[0])

        def kernel(
            params: NDArray[np.float64],
            x: NDArray[np.float64],
            t_x: NDArray[np.float64],
            n: NDArray[np.float64],
        ) -> NDArray[np.float64]:
            log_l, _ = _loglik_patterns(params, x, t_x, n, gradient=False)
            log_p = _log_a(params, x, n, 0.0) + _log_s(params, n + ahead) - log_l
            return np.exp(np.minimum(log_p, 0.0))  # a ratio of part of L to L: at most 1

        return self._per_customer(
            kernel, frequency, recency, periods, interval=interval, level=level, method=method
        )

    def conditional_expected_transactions(
        self,
        n_star: int,
        frequency: History,
        recency: ArrayLike | None = None,
        periods: ArrayLike | None = None,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""Expected transactions in the next ``n_star`` opportunities, per row.

        Fader, Hardie & Shang (2010), equation 13, as the sum over the coming opportunities
        :math:`j = 1, \dots, n^*` of P(alive at :math:`n + j`) times the posterior mean of
        :math:`p`:

        .. math::

           E[X(n, n + n^*) \mid x, t_x, n] =
           \frac{B(\alpha + x + 1, \beta + n - x)}{B(\alpha, \beta)}
           \sum_{j=1}^{n^*} \frac{B(\gamma, \delta + n + j)}{B(\gamma, \delta)} \Big/ L,

        with the sum in the paper's closed form,
        :math:`\frac{\delta}{\gamma - 1} \frac{\Gamma(\gamma + \delta)}{\Gamma(1 + \delta)}
        \big[\frac{\Gamma(1 + \delta + n)}{\Gamma(\gamma + \delta + n)} -
        \frac{\Gamma(1 + \delta + n + n^*)}{\Gamma(\gamma + \delta + n + n^*)}\big]`, evaluated
        stably in log space and at its limit near :math:`\gamma = 1`.

        Examples
        --------
        >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.conditional_expected_transactions(5, [6, 0], [6, 0], [6, 6]).value.round(3).tolist()
        [3.752, 0.073]
        """
        ahead = _whole("n_star", n_star, 1, minimum=0, record=_RECORD)

        def kernel(
            params: NDArray[np.float64],
            x: NDArray[np.float64],
            t_x: NDArray[np.float64],
            n: NDArray[np.float64],
        ) -> NDArray[np.float64]:
            log_l, _ = _loglik_patterns(params, x, t_x, n, gradient=False)
            g, d = float(params[2]), float(params[3])
            log_sum = _log_survival_sum(g, d, n, np.broadcast_to(ahead, n.shape))
            return np.exp(_log_a(params, x, n, 1.0) + log_sum - log_l)

        return self._per_customer(
            kernel, frequency, recency, periods, interval=interval, level=level, method=method
        )

    def discounted_expected_residual_transactions(
        self,
        discount_rate: float,
        frequency: History,
        recency: ArrayLike | None = None,
        periods: ArrayLike | None = None,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""DERT: the present value of all future transactions, per row, at rate ``discount_rate``.

        Fader, Hardie & Shang (2010), equation 14, with discount rate :math:`d > 0` per
        opportunity (the transaction at :math:`n + 1` is discounted once):

        .. math::

           \mathrm{DERT}(d \mid x, t_x, n) =
           \frac{B(\alpha + x + 1, \beta + n - x)}{B(\alpha, \beta)}
           \frac{B(\gamma, \delta + n + 1)}{B(\gamma, \delta) (1 + d)}
           \frac{{}_2F_1\big(1, \delta + n + 1; \gamma + \delta + n + 1; \frac{1}{1 + d}\big)}{L}.

        Multiply by the value per transaction for the residual lifetime value. The series is
        summed directly (about :math:`37/d` terms).

        Examples
        --------
        >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> dert = m.discounted_expected_residual_transactions(0.1, [6, 0], [6, 0], [6, 6])
        >>> dert.value.round(3).tolist()
        [5.909, 0.115]
        """
        rate = _check_rate(discount_rate)
        z = 1 / (1 + rate)

        def kernel(
            params: NDArray[np.float64],
            x: NDArray[np.float64],
            t_x: NDArray[np.float64],
            n: NDArray[np.float64],
        ) -> NDArray[np.float64]:
            log_l, _ = _loglik_patterns(params, x, t_x, n, gradient=False)
            g, d = float(params[2]), float(params[3])
            distinct, back = np.unique(n, return_inverse=True)
            series = _hyp2f1_unit(d + distinct + 1, g, z)[back]
            log_rest = _log_a(params, x, n, 1.0) + _log_s(params, n + 1) - math.log1p(rate)
            return np.asarray(np.exp(log_rest - log_l) * series, dtype=np.float64)

        return self._per_customer(
            kernel, frequency, recency, periods, interval=interval, level=level, method=method
        )

    # -- predictions for a newly acquired customer -----------------------------------------

    def expected_transactions(
        self,
        n: ArrayLike,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r""":math:`E[X(n)]`: expected transactions in the first ``n`` opportunities.

        The mean of the distribution of equation 7 of Fader, Hardie & Shang (2010):

        .. math::

           E[X(n)] = \frac{\alpha}{\alpha + \beta}
                     \sum_{j=1}^{n} \frac{B(\gamma, \delta + j)}{B(\gamma, \delta)}
                   = \frac{\alpha}{\alpha + \beta} \frac{\delta}{\gamma - 1}
                     \Big[1 - \frac{\Gamma(\gamma + \delta)\,\Gamma(1 + \delta + n)}
                                   {\Gamma(\gamma + \delta + n)\,\Gamma(1 + \delta)}\Big].

        Examples
        --------
        >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.expected_transactions([1, 6, 11]).value.round(3).tolist()
        [0.498, 2.22, 3.388]
        """
        count = _whole("n", n, None, minimum=0, record=_RECORD)

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            a, b, g, d = (float(v) for v in params)
            log_sum = _log_survival_sum(g, d, np.zeros(count.shape), count)
            return np.asarray(a / (a + b) * np.exp(log_sum), dtype=np.float64)

        _fitted(self)
        return self.uncertainty(function, interval=interval, level=level, method=method)

    def probability_of_transactions(
        self,
        x: ArrayLike,
        n: int,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r""":math:`P(X(n) = x)`: probability of ``x`` transactions in the first ``n`` opportunities.

        Fader, Hardie & Shang (2010), equation 7:

        .. math::

           P(X(n) = x) = \binom{n}{x} \frac{B(\alpha + x, \beta + n - x)}{B(\alpha, \beta)}
               \frac{B(\gamma, \delta + n)}{B(\gamma, \delta)}
             + \sum_{i=x}^{n-1} \binom{i}{x} \frac{B(\alpha + x, \beta + i - x)}{B(\alpha, \beta)}
               \frac{B(\gamma + 1, \delta + i)}{B(\gamma, \delta)},

        0 for :math:`x > n`.

        Examples
        --------
        >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> p = m.probability_of_transactions(range(7), 6).value
        >>> round(float(p[0]), 4), round(float(p.sum()), 12)
        (0.3112, 1.0)
        """
        counts = _whole("x", x, None, minimum=0, record=_RECORD)
        total = float(_whole("n", n, 1, minimum=0, record=_RECORD)[0])

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            return _pmf(params, counts, total)

        _fitted(self)
        return self.uncertainty(function, interval=interval, level=level, method=method)

    def expected_customers_by_frequency(
        self,
        n: int,
        n_customers: float | None = None,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""Expected customers with :math:`x = 0, 1, \dots, n` transactions in ``n`` opportunities.

        :math:`N \cdot P(X(n) = x)` for a cohort of :math:`N` customers (``n_customers``,
        default the customers the model was fitted on), the in-sample comparison of Fader,
        Hardie & Shang (2010) and of Hardie's spreadsheet. Compare it with the observed
        counts for an in-sample check of the fit.

        Examples
        --------
        >>> m = BGBB.from_params(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
        >>> m.expected_customers_by_frequency(6, n_customers=11104).value.round(1).tolist()
        [3455.8, 1888.9, 1348.9, 1113.3, 1017.8, 1026.9, 1252.4]
        """
        _fitted(self)
        size = self.n_customers_ if n_customers is None else float(n_customers)
        if not (math.isfinite(size) and size > 0):
            raise ValueError(
                "n_customers must be a finite number > 0 (a model built from parameters has "
                f"no fitted customers to default to), got {n_customers!r}"
            )
        total = float(_whole("n", n, 1, minimum=0, record=_RECORD)[0])
        counts = np.arange(total + 1)

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            return size * _pmf(params, counts, total)

        return self.uncertainty(function, interval=interval, level=level, method=method)


def _pmf(params: NDArray[np.float64], x: NDArray[np.float64], n: float) -> NDArray[np.float64]:
    """Equation 7 of Fader, Hardie & Shang (2010) for counts ``x`` (0 above ``n``)."""
    a, b, g, d = (float(v) for v in params)
    inside = x <= n
    xs = x[inside][:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    log_binom = gammaln(i + 1) - gammaln(xs + 1) - gammaln(np.maximum(i - xs, 0) + 1)
    dead = (
        log_binom
        + betaln(a + xs, b + np.maximum(i - xs, 0))
        - betaln(a, b)
        + betaln(g + 1, d + i)
        - betaln(g, d)
    )
    dead = np.where(i >= xs, dead, -np.inf)
    x_in = x[inside]
    alive = (
        gammaln(n + 1)
        - gammaln(x_in + 1)
        - gammaln(n - x_in + 1)
        + betaln(a + x_in, b + n - x_in)
        - betaln(a, b)
        + betaln(g, d + n)
        - betaln(g, d)
    )
    out = np.zeros(len(x))
    out[inside] = np.exp(logsumexp(np.concatenate([alive[:, None], dead], axis=1), axis=1))
    return out
