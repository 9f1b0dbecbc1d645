r"""The shifted-beta-geometric (sBG) model of retention in a contractual setting.

Each customer renews at the end of every period with a constant probability
:math:`1 - \theta` until the first non-renewal; :math:`\theta` varies across customers as
:math:`\theta \sim \mathrm{Beta}(\alpha, \beta)`. The period :math:`T \ge 1` in which a customer
churns then follows the shifted-beta-geometric distribution of Fader & Hardie (2007):

.. math::

   P(T = t) = \frac{B(\alpha + 1, \beta + t - 1)}{B(\alpha, \beta)}, \qquad
   S(t) = P(T > t) = \frac{B(\alpha, \beta + t)}{B(\alpha, \beta)}, \qquad
   r_t = \frac{S(t)}{S(t-1)} = \frac{\beta + t - 1}{\alpha + \beta + t - 1}.

The retention rate :math:`r_t` rises with :math:`t` although no customer's own renewal
probability changes: the customers most likely to churn leave first (heterogeneity alone).

A customer observed for :math:`t` periods contributes :math:`\ln P(T = t)` if they churned in
period :math:`t` and :math:`\ln S(t)` if they are still active (right-censored), so a cohort's
survivor curve :math:`n_0 \ge n_1 \ge \dots \ge n_k` gives

.. math::

   \ell(\alpha, \beta) = \sum_{t=1}^{k} (n_{t-1} - n_t) \ln P(T = t) + n_k \ln S(k).

:class:`ShiftedBetaGeometric` fits :math:`(\alpha, \beta)` by maximum likelihood with the
analytic gradient (digamma functions) and predicts survival, churn probabilities, retention
rates, the expected lifetime and the discounted expected residual lifetime (DERL) of Fader &
Hardie (2010), each with a parameter-uncertainty interval.

References
----------
Fader, P. S. and Hardie, B. G. S. (2007), "How to project customer retention", *Journal of
Interactive Marketing* 21(1), 76-90 (the model; the data of Table 1).

Fader, P. S. and Hardie, B. G. S. (2010), "Customer-base valuation in a contractual setting:
the perils of ignoring heterogeneity", *Marketing Science* 29(1), 85-93 (DERL, equation 6;
Table 3).

Examples
--------
The regular-customer cohort of Fader & Hardie (2007), Table 1, years 0-7:

>>> m = ShiftedBetaGeometric().fit_survivors([1000, 631, 468, 382, 326, 289, 262, 241])
>>> round(m.params_["alpha"], 3), round(m.params_["beta"], 3)
(0.704, 1.182)
>>> (1000 * m.survival_function([8, 12]).value).round(1).tolist()
[220.1, 170.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Self

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, gammaln, psi

from stickykit.errors import FitError, ValidationError
from stickykit.models._fit import LikelihoodModel, ModelSummary, Prediction, _fitted
from stickykit.models._histories import Patterns, compress, fail_at

__all__ = [
    "GroupFit",
    "ShiftedBetaGeometric",
    "SurvivorLifetimes",
    "fit_telco_by_contract",
    "lifetimes_from_survivors",
]

_RECORD = "ShiftedBetaGeometric"
#: Series terms held at once by the hypergeometric sum (bounds its memory).
_SERIES_CELLS = 1 << 20
#: Below this distance of a beta-parameter from 1 the survival sum uses its limit form.
_NEAR_ONE = 1e-4


# -- numerical helpers shared with the BG/BB model --------------------------------------------


def _log_expm1_ratio(delta: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\ln(\operatorname{expm1}(\Delta) / \Delta)`, stable for every real :math:`\Delta`."""
    out = np.zeros_like(delta)
    positive = delta > 0
    negative = delta < 0
    d = delta[positive]
    out[positive] = d + np.log(-np.expm1(-d)) - np.log(d)
    d = delta[negative]
    out[negative] = np.log(-np.expm1(d)) - np.log(-d)
    return out


def _log_survival_sum(
    alpha: float, beta: float, start: NDArray[np.float64], count: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Log of :math:`\sum_{j=1}^{N} S(s + j)`, :math:`S(t) = B(\alpha, \beta + t)/B(\alpha, \beta)`.

    Closed form by telescoping: with :math:`R(k) = \Gamma(1 + \beta + k)/\Gamma(\alpha + \beta
    + k)`, :math:`R(k) - R(k + 1) = (\alpha - 1)\,\Gamma(\beta + k + 1)/\Gamma(\alpha + \beta +
    k + 1)`, so the sum is :math:`\Gamma(\alpha+\beta)/\Gamma(\beta)\,[R(s) - R(s+N)]/(\alpha -
    1)`, the form of Fader, Hardie & Shang (2010), equation 13. Near :math:`\alpha = 1` the
    ratio :math:`\Delta/(\alpha - 1)` of :math:`\Delta = \ln R(s+N) - \ln R(s)` is replaced by
    its derivative at the midpoint of :math:`[\alpha, 1]`. ``count`` 0 gives :math:`-\infty`.
    """
    s = np.asarray(start, dtype=np.float64)
    n = np.asarray(count, dtype=np.float64)
    s, n = np.broadcast_arrays(s, n)
    out = np.full(s.shape, -np.inf)
    some = n > 0
    s, n = s[some], n[some]
    log_r_start = gammaln(1 + beta + s) - gammaln(alpha + beta + s)
    delta = gammaln(1 + beta + s + n) - gammaln(alpha + beta + s + n) - log_r_start
    if abs(alpha - 1) >= _NEAR_ONE:
        slope = delta / (alpha - 1)
    else:
        middle = (1 + alpha) / 2
        slope = psi(middle + beta + s) - psi(middle + beta + s + n)
    out[some] = (
        gammaln(alpha + beta)
        - gammaln(beta)
        + log_r_start
        + _log_expm1_ratio(delta)
        + np.log(-slope)
    )
    return out


def _hyp2f1_unit(b: NDArray[np.float64], gap: float, z: float) -> NDArray[np.float64]:
    r"""Gauss's :math:`{}_2F_1(1, b; b + g; z)` for :math:`b > 0`, :math:`g > 0`, :math:`0 \le z < 1`.

    Summed from its series :math:`\sum_k \prod_{j<k} z (b + j)/(b + g + j)`, in blocks, until
    the remainder, at most the next term over :math:`1 - z` (every term ratio is below
    :math:`z`), is below :math:`10^{-17}` of the sum. Used instead of
    :func:`scipy.special.hyp2f1`, which returns NaN in parts of this region (large :math:`b`,
    :math:`z` near 1). The work grows like :math:`1/(1 - z)`.
    """
    b = np.asarray(b, dtype=np.float64)
    total = np.zeros(b.shape)
    carry = np.ones(b.shape)  # the next term of each series
    offset = 0
    active = np.ones(b.shape, dtype=bool)
    needed = 40 / -math.log(z) if 0 < z < 1 else 1.0  # terms until z**k < 1e-17
    width = int(min(max(needed, 64), max(_SERIES_CELLS // max(b.size, 1), 64)))
    while active.any():
        k = offset + np.arange(width, dtype=np.float64)
        bb = b[active][:, None]
        ratios = z * (bb + k) / (bb + gap + k)
        products = np.cumprod(ratios, axis=1)
        terms = np.concatenate([np.ones((len(bb), 1)), products[:, :-1]], axis=1)
        terms *= carry[active][:, None]
        total[active] += terms.sum(axis=1)
        carry[active] = carry[active] * products[:, -1]
        offset += width
        active &= carry > 1e-17 * (1 - z) * total
    return total


def _whole(
    name: str, values: ArrayLike, n: int | None, *, minimum: int, record: str
) -> NDArray[np.float64]:
    """A 1-D float array of whole numbers >= ``minimum``; ValidationError names the row."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            record=record, field=name, row=None, value=values, expected="numbers"
        ) from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValidationError(
            record=record,
            field=name,
            row=None,
            value=f"shape {array.shape}",
            expected=f"a 1-D array of length {n}" if n is not None else "a 1-D array",
        )
    fail_at(
        ~np.isfinite(array) | (array < minimum) | (array != np.round(array)),
        field=name,
        values=array,
        expected=f"a whole number >= {minimum}",
        record=record,
    )
    return array


def _weights(weight: ArrayLike | None, n: int, record: str) -> NDArray[np.float64]:
    if weight is None:
        return np.ones(n)
    try:
        w = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            record=record, field="weight", row=None, value=weight, expected="numbers"
        ) from None
    if w.ndim != 1 or len(w) != n:
        raise ValidationError(
            record=record,
            field="weight",
            row=None,
            value=f"shape {w.shape}",
            expected=f"a 1-D array of length {n}",
        )
    fail_at(
        ~np.isfinite(w) | (w <= 0),
        field="weight",
        values=w,
        expected="a finite count > 0",
        record=record,
    )
    return w


def _check_rate(discount_rate: float) -> float:
    rate = float(discount_rate)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"discount_rate must be a finite number > 0, got {discount_rate!r}")
    return rate


def _geometric_rate(data: Patterns) -> float:
    """Churns per period at risk: the churn rate of the homogeneous geometric model (its MLE)."""
    t, churned = data.columns
    return float(data.weight @ churned) / float(data.weight @ t)


class SurvivorLifetimes(NamedTuple):
    """Weighted, right-censored lifetimes from a survivor curve (:func:`lifetimes_from_survivors`).

    Examples
    --------
    >>> lifetimes_from_survivors([10, 6, 5]).weight.tolist()
    [4.0, 1.0, 5.0]
    """

    #: The period of each row (whole numbers >= 1).
    periods: NDArray[np.float64]
    #: ``True`` for churners, ``False`` for the censored survivors (the last row).
    churned: NDArray[np.bool_]
    #: Customers in each row.
    weight: NDArray[np.float64]


def lifetimes_from_survivors(survivors: ArrayLike) -> SurvivorLifetimes:
    r"""Turn a cohort's survivor curve into weighted, right-censored lifetimes.

    ``survivors[t]`` customers are still active after ``t`` periods (``survivors[0]`` is the
    cohort size). Then :math:`n_{t-1} - n_t` customers churned in period :math:`t`, and the
    :math:`n_k` still active at the last period :math:`k` are censored there. Periods without
    churners are left out, so every weight is positive.

    Returns
    -------
    SurvivorLifetimes
        ``periods``, ``churned`` and ``weight`` arrays; the weights add up to
        ``survivors[0]``.

    Raises
    ------
    ValidationError
        Fewer than two values, a value that is not a whole number >= 0, a first value of 0,
        or a value above the one before it.

    Examples
    --------
    >>> periods, churned, weight = lifetimes_from_survivors([10, 7, 7, 4])
    >>> periods.tolist(), churned.tolist(), weight.tolist()
    ([1.0, 3.0, 3.0], [True, True, False], [3.0, 3.0, 4.0])
    """
    s = _whole("survivors", survivors, None, minimum=0, record=_RECORD)
    if len(s) < 2:
        raise ValidationError(
            record=_RECORD,
            field="survivors",
            row=None,
            value=s.tolist(),
            expected="at least two values: the cohort size and the survivors after period 1",
        )
    empty = np.zeros(len(s), dtype=bool)
    empty[0] = s[0] <= 0
    fail_at(
        empty,
        field="survivors",
        values=s,
        expected="a cohort size > 0",
        record=_RECORD,
    )
    rising = np.concatenate([[False], s[1:] > s[:-1]])
    fail_at(
        rising,
        field="survivors",
        values=s,
        expected="at most the number surviving the period before (a survivor curve never rises)",
        record=_RECORD,
    )
    k = len(s) - 1
    lost = s[:-1] - s[1:]
    periods = np.arange(1, k + 1, dtype=np.float64)
    keep = lost > 0
    all_periods = np.concatenate([periods[keep], [float(k)]])
    churned = np.concatenate([np.ones(int(keep.sum()), dtype=bool), [False]])
    weight = np.concatenate([lost[keep], [s[-1]]])
    if s[-1] == 0:
        all_periods, churned, weight = all_periods[:-1], churned[:-1], weight[:-1]
    return SurvivorLifetimes(all_periods, churned, weight)


class ShiftedBetaGeometric(LikelihoodModel):
    r"""The shifted-beta-geometric model of contract renewals (Fader & Hardie 2007).

    Parameters ``alpha`` and ``beta`` of the beta distribution of the per-period churn
    probability :math:`\theta`; its mean :math:`\alpha/(\alpha+\beta)` is the churn rate of the
    first period. Fit on customer lifetimes with :meth:`fit`, on a survivor curve with
    :meth:`fit_survivors`, or per group with :meth:`fit_by_group`; or build from given
    parameters with :meth:`from_params`. The formulas are in the module docstring.

    Parameters
    ----------
    penalizer, level, tol
        As for :class:`~stickykit.models.LikelihoodModel`.

    Examples
    --------
    >>> m = ShiftedBetaGeometric().fit([1, 1, 2, 3, 3, 3], [True, True, True, True, False, False])
    >>> m.diagnostics_.converged, m.time_unit_
    (True, 'period')
    """

    param_names = ("alpha", "beta")
    reference = (
        "Fader, P. S. and Hardie, B. G. S. (2007), 'How to project customer retention', "
        "Journal of Interactive Marketing 21(1), 76-90"
    )

    # -- likelihood ------------------------------------------------------------------------

    def _loglik(
        self, params: NDArray[np.float64], data: Patterns
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        r"""Per pattern :math:`\ln P(T = t)` (churned) or :math:`\ln S(t)` (censored).

        Gradients: :math:`\partial_a \ln B(a, b) = \psi(a) - \psi(a + b)`, likewise for
        :math:`b`.
        """
        t, churned = data.columns
        a, b = float(params[0]), float(params[1])
        base_a = psi(a) - psi(a + b)
        base_b = psi(b) - psi(a + b)
        gone = churned > 0
        # churned: ln B(a+1, b+t-1) - ln B(a, b); censored: ln B(a, b+t) - ln B(a, b)
        first = np.where(gone, a + 1, a)
        second = np.where(gone, b + t - 1, b + t)
        values = betaln(first, second) - betaln(a, b)
        both = psi(a + b + t)
        gradient = np.empty((len(t), 2))
        gradient[:, 0] = psi(first) - both - base_a
        gradient[:, 1] = psi(second) - both - base_b
        return values, gradient

    def _start(self, data: Patterns) -> NDArray[np.float64]:
        """The geometric churn rate (churns per period at risk), split as alpha + beta = 1."""
        hazard = min(max(_geometric_rate(data), 0.01), 0.99)
        return np.array([hazard, 1 - hazard])

    # -- fitting ---------------------------------------------------------------------------

    def patterns(
        self, periods: ArrayLike, churned: ArrayLike, weight: ArrayLike | None = None
    ) -> Patterns:
        """Validate lifetimes and merge equal ones into weighted patterns ``(period, churned)``.

        Raises
        ------
        ValidationError
            A period that is not a whole number >= 1, a churn flag that is not true/false (or
            1/0), arrays of different lengths, or a weight that is not finite and positive.

        Examples
        --------
        >>> p = ShiftedBetaGeometric().patterns([2, 1, 2], [True, False, True])
        >>> [c.tolist() for c in p.columns], p.weight.tolist()
        ([[1.0, 2.0], [0.0, 1.0]], [1.0, 2.0])
        >>> ShiftedBetaGeometric().patterns([1, 0], [True, False])
        Traceback (most recent call last):
        ...
        stickykit.errors.ValidationError: ShiftedBetaGeometric.periods @ row 1: 0.0 is invalid, expected a whole number >= 1
        """
        t = _whole("periods", periods, None, minimum=1, record=_RECORD)
        raw = np.asarray(churned)
        if raw.ndim == 0:
            raw = raw.reshape(1)
        if raw.ndim != 1 or len(raw) != len(t):
            raise ValidationError(
                record=_RECORD,
                field="churned",
                row=None,
                value=f"shape {raw.shape}",
                expected=f"a 1-D array of length {len(t)}",
            )
        if raw.dtype != np.bool_:
            try:
                numbers = raw.astype(np.float64)
            except (TypeError, ValueError):
                raise ValidationError(
                    record=_RECORD,
                    field="churned",
                    row=None,
                    value=raw.dtype.name,
                    expected="booleans (True = churned, False = still active)",
                ) from None
            fail_at(
                (numbers != 0) & (numbers != 1),
                field="churned",
                values=numbers,
                expected="True/False or 1/0",
                record=_RECORD,
            )
            raw = numbers == 1
        w = _weights(weight, len(t), _RECORD)
        return compress([t, raw.astype(np.float64)], w)

    def _fit_checked(self, data: Patterns, time_unit: str) -> Self:
        name = type(self).__name__
        if len(data) and not np.any(data.columns[1] > 0):
            raise FitError(
                f"{name}: no customer churned; the churn rate cannot be estimated (every "
                "lifetime is censored)"
            )
        try:
            return self._fit_patterns(data, time_unit=time_unit)
        except FitError as error:
            if not self._rises_to_geometric(data):
                raise
            theta = _geometric_rate(data)
            raise FitError(
                f"{name}: the likelihood keeps rising towards the homogeneous geometric model "
                f"(alpha and beta without bound, churn rate {theta:.4g} per period for all): "
                "the churn rate does not fall with tenure as the sBG's heterogeneity implies "
                "(it may rise, e.g. at contract ends), so the sBG has no maximum-likelihood "
                f"estimate on these data ({error})"
            ) from error

    def _rises_to_geometric(self, data: Patterns) -> bool:
        r"""Whether the profile likelihood still rises towards the geometric limit.

        Compares the log-likelihood at concentrations :math:`\alpha + \beta` of
        :math:`10^5` and :math:`10^6` with the mean fixed at the geometric churn rate.
        """
        theta = _geometric_rate(data)
        if not 0 < theta < 1:
            return False
        values = [
            self.log_likelihood(np.array([s * theta, s * (1 - theta)]), data) for s in (1e5, 1e6)
        ]
        return values[1] > values[0]

    def fit(
        self,
        periods: ArrayLike,
        churned: ArrayLike,
        weight: ArrayLike | None = None,
        *,
        time_unit: str = "period",
    ) -> Self:
        """Fit on right-censored lifetimes; returns ``self``.

        Parameters
        ----------
        periods : array_like of int
            Periods each customer was observed, >= 1: the period of churn for churners, the
            periods survived so far for active customers.
        churned : array_like of bool
            ``True``: churned in period ``periods``; ``False``: still active (censored).
        weight : array_like, optional
            Customers each row stands for (aggregated data).
        time_unit : str
            The length of one period, for the record (``"month"``, ``"year"``...).

        Raises
        ------
        ValidationError
            Invalid input (see :meth:`patterns`).
        FitError
            No churn at all, too few customers, or a failed fit.

        Examples
        --------
        >>> m = ShiftedBetaGeometric().fit([1, 2, 3, 4, 4], [1, 1, 1, 0, 0], weight=[30, 15, 8, 3, 44])
        >>> round(m.params_["alpha"], 3), round(m.params_["beta"], 3)
        (0.354, 0.782)
        """
        return self._fit_checked(self.patterns(periods, churned, weight), time_unit)

    def fit_survivors(self, survivors: ArrayLike, *, time_unit: str = "period") -> Self:
        """Fit on a cohort's survivor curve (``survivors[0]`` is the cohort size); returns ``self``.

        See :func:`lifetimes_from_survivors` for how the curve becomes lifetimes.

        Examples
        --------
        The high-end cohort of Fader & Hardie (2007), Table 1, years 0-7:

        >>> m = ShiftedBetaGeometric().fit_survivors([1000, 869, 743, 653, 593, 551, 517, 491])
        >>> round(m.params_["alpha"], 3), round(m.params_["beta"], 3)
        (0.668, 3.806)
        """
        periods, churned, weight = lifetimes_from_survivors(survivors)
        return self._fit_checked(self.patterns(periods, churned, weight), time_unit)

    @classmethod
    def fit_by_group(
        cls,
        periods: ArrayLike,
        churned: ArrayLike,
        groups: ArrayLike,
        weight: ArrayLike | None = None,
        *,
        time_unit: str = "period",
        **settings: Any,
    ) -> dict[str, Self]:
        """Fit one model per group (contract type, cohort...), keyed by the group's label.

        ``settings`` (``penalizer``, ``level``, ``tol``) go to every model. Groups are fitted
        in sorted order; a group that cannot be fitted raises :class:`FitError` naming it.

        Examples
        --------
        >>> fits = ShiftedBetaGeometric.fit_by_group(
        ...     [1, 2, 2, 3, 1, 1, 2, 3], [1, 1, 0, 0, 1, 1, 1, 0], ["a"] * 4 + ["b"] * 4,
        ...     weight=[20, 10, 5, 65, 40, 20, 10, 30])
        >>> sorted(fits), fits["a"].params_["alpha"] < fits["b"].params_["alpha"]
        (['a', 'b'], True)
        """
        t = _whole("periods", periods, None, minimum=1, record=_RECORD)
        labels = np.asarray(groups)
        if labels.ndim != 1 or len(labels) != len(t):
            raise ValidationError(
                record=_RECORD,
                field="groups",
                row=None,
                value=f"shape {labels.shape}",
                expected=f"a 1-D array of length {len(t)}",
            )
        flags = np.asarray(churned)
        w = _weights(weight, len(t), _RECORD)
        fits: dict[str, Self] = {}
        for label in np.unique(labels):
            rows = labels == label
            model = cls(**settings)
            try:
                model.fit(t[rows], flags[rows], w[rows], time_unit=time_unit)
            except FitError as error:
                raise FitError(f"group {label!s}: {error}") from error
            fits[str(label)] = model
        return fits

    @classmethod
    def from_params(cls, *, alpha: float, beta: float, time_unit: str = "period") -> Self:
        """A model with given parameters (for example published ones), without fitting.

        It has no covariance, so predictions from it have no intervals.

        Examples
        --------
        >>> ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
        ShiftedBetaGeometric(alpha=0.704, beta=1.182; log-likelihood nan, n=0)
        """
        bad = [k for k, v in (("alpha", alpha), ("beta", beta)) if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"parameters must be finite and > 0: {', '.join(bad)}")
        model = cls()
        model.params_ = {"alpha": float(alpha), "beta": float(beta)}
        model.time_unit_ = time_unit
        return model

    # -- predictions -----------------------------------------------------------------------

    def _predict(
        self,
        function: Any,
        *,
        interval: bool,
        level: float | None,
        method: Literal["delta", "draws"],
    ) -> Prediction:
        _fitted(self)
        return self.uncertainty(function, interval=interval, level=level, method=method)

    def survival_function(
        self,
        t: ArrayLike,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r""":math:`S(t) = B(\alpha, \beta + t)/B(\alpha, \beta)`: the share still active after ``t`` periods.

        The survivor function of Fader & Hardie (2007). ``t`` are whole numbers >= 0;
        :math:`S(0) = 1`.

        Examples
        --------
        >>> m = ShiftedBetaGeometric.from_params(alpha=1.0, beta=1.0)
        >>> m.survival_function([0, 1, 3]).value.tolist()  # 1/(t + 1)
        [1.0, 0.5, 0.25]
        """
        times = _whole("t", t, None, minimum=0, record=_RECORD)

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            a, b = params
            return np.asarray(np.exp(betaln(a, b + times) - betaln(a, b)), dtype=np.float64)

        return self._predict(function, interval=interval, level=level, method=method)

    def churn_probability(
        self,
        t: ArrayLike,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r""":math:`P(T = t) = B(\alpha + 1, \beta + t - 1)/B(\alpha, \beta)`: churn in period ``t``.

        The shifted-beta-geometric distribution of Fader & Hardie (2007), for a newly acquired
        customer; ``t`` >= 1.

        Examples
        --------
        >>> m = ShiftedBetaGeometric.from_params(alpha=1.0, beta=1.0)
        >>> m.churn_probability([1, 2, 3]).value.round(4).tolist()  # 1/(t (t + 1))
        [0.5, 0.1667, 0.0833]
        """
        times = _whole("t", t, None, minimum=1, record=_RECORD)

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            a, b = params
            return np.asarray(np.exp(betaln(a + 1, b + times - 1) - betaln(a, b)), dtype=np.float64)

        return self._predict(function, interval=interval, level=level, method=method)

    def retention_rate(
        self,
        t: ArrayLike,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r""":math:`r_t = (\beta + t - 1)/(\alpha + \beta + t - 1)`: renewal at the end of period ``t``.

        Fader & Hardie (2007): the share of the customers active in period ``t``
        who renew, :math:`S(t)/S(t-1)`; ``t`` >= 1. It rises with ``t``.

        Examples
        --------
        >>> m = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
        >>> m.retention_rate([1, 2, 12]).value.round(3).tolist()
        [0.627, 0.756, 0.945]
        """
        times = _whole("t", t, None, minimum=1, record=_RECORD)

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            a, b = params
            return np.asarray((b + times - 1) / (a + b + times - 1), dtype=np.float64)

        return self._predict(function, interval=interval, level=level, method=method)

    def expected_lifetime(
        self,
        horizon: int | None = None,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""Expected lifetime in periods of a newly acquired customer, optionally capped.

        A customer with churn probability :math:`\theta` stays :math:`1/\theta` periods on
        average (a geometric lifetime from 1), so over the beta mixture of Fader & Hardie
        (2007)

        .. math::

           E[T] = E[\theta^{-1}] = \frac{B(\alpha - 1, \beta)}{B(\alpha, \beta)}
                = \frac{\alpha + \beta - 1}{\alpha - 1},

        finite only for :math:`\alpha > 1`. With a ``horizon`` :math:`H` it is the expected
        lifetime within the next :math:`H` periods, :math:`E[\min(T, H)] = \sum_{t=0}^{H-1}
        S(t)`, finite for every :math:`\alpha` (summed in closed form by telescoping).

        Raises
        ------
        ValueError
            No horizon while :math:`\alpha \le 1` (the mean lifetime is infinite), or a
            horizon that is not a whole number >= 1.

        Examples
        --------
        >>> m = ShiftedBetaGeometric.from_params(alpha=3.0, beta=6.0)
        >>> float(m.expected_lifetime().value[0])
        4.0
        >>> round(float(m.expected_lifetime(horizon=2).value[0]), 4)  # 1 + S(1)
        1.6667
        """
        _fitted(self)
        if horizon is None:
            if self.params_ is not None and self.params_["alpha"] <= 1:
                raise ValueError(
                    f"alpha = {self.params_['alpha']:.4g} <= 1: the expected lifetime is "
                    "infinite; pass a horizon for the expected lifetime within it"
                )

            def mean(params: NDArray[np.float64]) -> NDArray[np.float64]:
                a, b = params
                return np.array([(a + b - 1) / (a - 1)])

            return self._predict(mean, interval=interval, level=level, method=method)
        cap = _whole("horizon", horizon, 1, minimum=1, record=_RECORD)

        def capped(params: NDArray[np.float64]) -> NDArray[np.float64]:
            a, b = params
            rest = _log_survival_sum(float(a), float(b), np.zeros(1), cap - 1)
            return np.asarray(1 + np.exp(rest), dtype=np.float64)

        return self._predict(capped, interval=interval, level=level, method=method)

    def discounted_expected_residual_lifetime(
        self,
        discount_rate: float,
        renewals: ArrayLike = 0,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""DERL: discounted expected residual lifetime of a customer with ``renewals`` made.

        Fader & Hardie (2010), equation 6, for a customer who has made :math:`n` renewals and
        is about to decide on the next, with discount rate :math:`d` per period:

        .. math::

           \mathrm{DERL}(d \mid n) = \frac{\beta + n}{\alpha + \beta + n}\;
               {}_2F_1\!\left(1, \beta + n + 1; \alpha + \beta + n + 1; \tfrac{1}{1 + d}\right)
           = \sum_{k \ge 0} \frac{S(n + k + 1)}{S(n)} (1 + d)^{-k},

        the expected number of future payments, the next one undiscounted. Multiply by the
        margin per period for the residual value of the customer. The hypergeometric series
        is summed directly (it needs about :math:`37/d` terms).

        Parameters
        ----------
        discount_rate : float
            :math:`d > 0`, per period.
        renewals : array_like of int
            :math:`n \ge 0`; Fader & Hardie's "period :math:`n`" customers have made
            :math:`n - 1` renewals.

        Examples
        --------
        Fader & Hardie (2010), Table 3, :math:`\alpha` 3.80, :math:`\beta` 15.20, :math:`d`
        0.1:

        >>> m = ShiftedBetaGeometric.from_params(alpha=3.80, beta=15.20)
        >>> m.discounted_expected_residual_lifetime(0.1, renewals=[0, 1, 2, 3, 4]).value.round(2)
        array([3.31, 3.45, 3.59, 3.72, 3.84])
        """
        rate = _check_rate(discount_rate)
        n = _whole("renewals", renewals, None, minimum=0, record=_RECORD)
        z = 1 / (1 + rate)

        def function(params: NDArray[np.float64]) -> NDArray[np.float64]:
            a, b = float(params[0]), float(params[1])
            series = _hyp2f1_unit(b + n + 1, a, z)
            return np.asarray((b + n) / (a + b + n) * series, dtype=np.float64)

        return self._predict(function, interval=interval, level=level, method=method)


@attrs.frozen(eq=False)
class GroupFit:
    """One group's sBG fit, or the reason it has none, with the group's churn counts.

    Attributes
    ----------
    model : ShiftedBetaGeometric or None
        The fitted model; ``None`` when the fit failed.
    summary : stickykit.models.ModelSummary or None
        ``model.summary``; ``None`` when the fit failed.
    n_customers, n_churned : float
        Customers in the group and how many of them churned.
    geometric_rate : float
        Churns per period at risk: the churn rate of the homogeneous geometric model, the
        limit the sBG runs to when its churn rate cannot fall with tenure.
    problem : str or None
        Why the fit failed (the :class:`~stickykit.errors.FitError` message), else ``None``.

    Examples
    --------
    >>> fit = fit_telco_by_contract()["One year"]
    >>> fit.model is None, fit.n_customers, fit.n_churned
    (True, 1472.0, 166.0)
    """

    model: ShiftedBetaGeometric | None
    summary: ModelSummary | None
    n_customers: float
    n_churned: float
    geometric_rate: float
    problem: str | None


def fit_telco_by_contract(
    columns: Mapping[str, NDArray[Any]] | None = None, **settings: Any
) -> dict[str, GroupFit]:
    r"""Fit one monthly sBG model per contract type of IBM's telco churn sample.

    ``tenure`` (whole months) is the lifetime, censored where ``Churn`` is false. The 11
    customers of tenure 0 have not completed a month and carry no information (they would
    contribute :math:`\ln S(0) = 0`), so they are left out.

    In these data only month-to-month customers churn in the sBG's pattern, fastest early
    on. On one- and two-year contracts churn *rises* with tenure, so the sBG likelihood keeps
    growing towards the homogeneous geometric model and has no maximum: those groups come
    back without a model, with the reason in ``problem`` and the geometric churn rate.

    Parameters
    ----------
    columns : mapping, optional
        The columns of :func:`stickykit.datasets.load_telco` (loaded when omitted), or any
        mapping with ``tenure``, ``Churn`` and ``Contract``.
    **settings
        ``penalizer``, ``level``, ``tol`` for every model.

    Returns
    -------
    dict of str to GroupFit
        One entry per contract type, in sorted order.

    Examples
    --------
    >>> fits = fit_telco_by_contract()
    >>> sorted(fits)
    ['Month-to-month', 'One year', 'Two year']
    >>> monthly = fits["Month-to-month"]
    >>> monthly.summary.n, monthly.summary.time_unit, monthly.problem
    (3875.0, 'month', None)
    >>> fits["Two year"].model is None, round(fits["Two year"].geometric_rate, 5)
    (True, 0.0005)
    """
    if columns is None:
        from stickykit.datasets import load_telco  # noqa: PLC0415 (keeps the import light)

        columns = load_telco()
    tenure = np.asarray(columns["tenure"])
    started = tenure >= 1
    periods = tenure[started]
    churned = np.asarray(columns["Churn"])[started]
    contract = np.asarray(columns["Contract"])[started]
    fits: dict[str, GroupFit] = {}
    for label in np.unique(contract):
        rows = contract == label
        model = ShiftedBetaGeometric(**settings)
        data = model.patterns(periods[rows], churned[rows])
        counts = (float(data.weight.sum()), float(data.weight @ data.columns[1]))
        try:
            model._fit_checked(data, "month")
        except FitError as error:
            fits[str(label)] = GroupFit(None, None, *counts, _geometric_rate(data), str(error))
            continue
        fits[str(label)] = GroupFit(model, model.summary, *counts, _geometric_rate(data), None)
    return fits
