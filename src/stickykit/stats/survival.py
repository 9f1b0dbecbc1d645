r"""The Kaplan-Meier survival curve with Greenwood variance and log(-log) intervals.

:func:`kaplan_meier` turns right-censored durations (customer lifetimes: first to last
activity for customers who churned, first activity to the end of observation, censored, for
customers still active) into a :class:`KaplanMeier` record: the distinct times, the numbers at
risk, of events and of censorings there, the survival curve, its Greenwood variance, a
pointwise confidence band, and the median and other quantiles of the lifetime with their
intervals.

Examples
--------
>>> km = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
>>> km.times.tolist()
[1.0, 2.0, 3.0, 4.0]
>>> km.survival.round(4).tolist()
[0.8, 0.6, 0.3, 0.3]
>>> km.median
3.0
"""

from __future__ import annotations

from typing import Any, overload

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.stats.intervals import check_alpha, z_value

__all__ = ["KaplanMeier", "kaplan_meier"]

_RECORD = "kaplan_meier"
#: A curve value within this distance of a level counts as reaching it (absorbs the rounding
#: of the running product, so that a curve equal to 1/2 in exact arithmetic reaches 1/2).
_LEVEL_TOLERANCE = 1e-10


@attrs.frozen(eq=False)
class KaplanMeier:
    r"""A Kaplan-Meier estimate, as returned by :func:`kaplan_meier`.

    All arrays are float64, one entry per distinct duration :math:`t_1 < \dots < t_k` (event
    and censoring times alike). Counts are sums of weights, so with ``weights=None`` they are
    whole numbers.

    Parameters
    ----------
    times : numpy.ndarray
        The distinct durations :math:`t_i`, increasing.
    at_risk : numpy.ndarray
        :math:`n_i`: the number with duration :math:`\ge t_i`.
    events : numpy.ndarray
        :math:`d_i`: the number of observed events (churns) at :math:`t_i`.
    censored : numpy.ndarray
        :math:`c_i`: the number censored at :math:`t_i` (:math:`d_i + c_i` leave the risk
        set there).
    survival : numpy.ndarray
        :math:`\hat S(t_i)`, the estimated probability of surviving beyond :math:`t_i`.
    variance : numpy.ndarray
        Greenwood's estimate of :math:`\operatorname{Var} \hat S(t_i)`.
    ci_low, ci_high : numpy.ndarray
        The pointwise :math:`1 - \alpha` interval for :math:`S(t_i)` on the log(-log) scale.
    alpha : float
        One minus the confidence level of the intervals.

    Examples
    --------
    >>> km = kaplan_meier([2, 2, 5], [1, 0, 1])
    >>> km.at_risk.tolist(), km.events.tolist(), km.censored.tolist()
    ([3.0, 1.0], [1.0, 1.0], [1.0, 0.0])
    >>> km.survival_at([0, 2, 4.5, 9]).round(4).tolist()
    [1.0, 0.6667, 0.6667, 0.0]
    """

    times: NDArray[np.float64]
    at_risk: NDArray[np.float64]
    events: NDArray[np.float64]
    censored: NDArray[np.float64]
    survival: NDArray[np.float64]
    variance: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    alpha: float

    @property
    def n(self) -> float:
        """The number of durations (the sum of the weights).

        Examples
        --------
        >>> kaplan_meier([3, 1, 4], [1, 1, 0]).n
        3.0
        """
        return float(self.at_risk[0])

    @property
    def level(self) -> float:
        r"""The confidence level :math:`1 - \alpha` of the intervals.

        Examples
        --------
        >>> kaplan_meier([3, 1, 4], [1, 1, 0], alpha=0.1).level
        0.9
        """
        return 1.0 - self.alpha

    @property
    def se(self) -> NDArray[np.float64]:
        r"""Greenwood standard errors :math:`\sqrt{\widehat{\operatorname{Var}}\,\hat S(t_i)}`.

        Examples
        --------
        >>> kaplan_meier([1, 2], [1, 1]).se.round(4).tolist()
        [0.3536, 0.0]
        """
        return np.sqrt(self.variance)

    @overload
    def survival_at(self, t: float) -> float: ...

    @overload
    def survival_at(self, t: ArrayLike) -> NDArray[np.float64]: ...

    def survival_at(self, t: Any) -> Any:
        r"""The step function :math:`\hat S(t)`, right-continuous, at any time(s).

        :math:`\hat S(t) = 1` before the first time; after the last time the curve keeps its
        last value (the estimate is undefined there when the last duration is censored).

        Parameters
        ----------
        t : float or array_like
            Time(s) on the durations' scale. NaN gives NaN.

        Returns
        -------
        float or numpy.ndarray
            A float for a scalar ``t``, else an array of ``t``'s shape.

        Examples
        --------
        >>> km = kaplan_meier([1, 2, 3], [1, 1, 1])
        >>> km.survival_at(1.5)
        0.6666666666666667
        >>> km.survival_at([-1, 1, 3]).round(4).tolist()
        [1.0, 0.6667, 0.0]
        """
        values = np.asarray(t, dtype=np.float64)
        index = np.searchsorted(self.times, values, side="right") - 1
        curve = np.concatenate(([1.0], self.survival))
        out = np.where(np.isnan(values), np.nan, curve[index + 1])
        if out.ndim == 0:
            return float(out)
        return out

    def quantile(self, q: float) -> float:
        r"""The :math:`q`-quantile of the lifetime: the first time the curve reaches :math:`1-q`.

        .. math::

            \hat t_q = \min\{t_i : \hat S(t_i) \le 1 - q\},

        :math:`+\infty` if the curve never falls that low (too much censoring). A curve value
        within :math:`10^{-10}` of :math:`1-q` counts as reaching it, so that rounding in the
        running product does not move a quantile that is exact in exact arithmetic. This is
        the lifetime distribution's quantile (:math:`F = 1 - S`); lifelines'
        ``qth_survival_time(p, ...)`` takes the survival level instead, :math:`p = 1 - q`.

        Parameters
        ----------
        q : float
            A probability in (0, 1); 0.5 gives the median.

        Returns
        -------
        float

        Examples
        --------
        >>> km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 0])
        >>> km.quantile(0.25), km.quantile(0.5), km.quantile(0.9)
        (1.0, 2.0, inf)
        """
        return _first_time_at_or_below(self.times, self.survival, _level(q))

    def quantile_interval(self, q: float) -> tuple[float, float]:
        r"""The :math:`1-\alpha` interval of the :math:`q`-quantile, from the pointwise band.

        .. math::

            \Big[\min\{t_i : \hat S_{\mathrm{low}}(t_i) \le 1 - q\},\;
                 \min\{t_i : \hat S_{\mathrm{high}}(t_i) \le 1 - q\}\Big],

        with :math:`+\infty` for a band limit that never falls to :math:`1-q`: the times where
        a horizontal line at :math:`1-q` meets the lower and the upper log(-log) band. When the
        band limits are non-increasing this is the closure of the set of times whose pointwise
        interval contains :math:`1-q`, that is, the times not rejected by a pointwise test of
        :math:`S(t) = 1-q` at level :math:`\alpha`: the test-inversion construction of
        Brookmeyer & Crowley (1982), with the log(-log) band in place of their untransformed
        Greenwood band. It equals lifelines' ``median_survival_times(kmf.confidence_interval_)``
        for :math:`q = 1/2`. Band values within :math:`10^{-10}` of :math:`1-q` count as
        reaching it, as in :meth:`quantile`. The interval always contains :meth:`quantile`
        because the band contains the curve.

        Parameters
        ----------
        q : float
            A probability in (0, 1).

        Returns
        -------
        tuple of float
            ``(low, high)``.

        References
        ----------
        Brookmeyer, R. and Crowley, J. (1982). A confidence interval for the median survival
        time. *Biometrics* 38(1), 29-41.

        Examples
        --------
        >>> km = kaplan_meier(np.arange(1.0, 21.0), np.ones(20, bool))
        >>> km.quantile_interval(0.5)
        (5.0, 15.0)
        """
        level = _level(q)
        return (
            _first_time_at_or_below(self.times, self.ci_low, level),
            _first_time_at_or_below(self.times, self.ci_high, level),
        )

    @property
    def median(self) -> float:
        r"""The median lifetime :math:`\min\{t_i : \hat S(t_i) \le 1/2\}` (:meth:`quantile`).

        Examples
        --------
        >>> kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median
        2.0
        """
        return self.quantile(0.5)

    @property
    def median_interval(self) -> tuple[float, float]:
        """The Brookmeyer-Crowley type interval of the median (:meth:`quantile_interval`).

        Examples
        --------
        >>> kaplan_meier(np.arange(1.0, 21.0), np.ones(20, bool)).median_interval
        (5.0, 15.0)
        """
        return self.quantile_interval(0.5)


def kaplan_meier(
    durations: ArrayLike,
    observed: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> KaplanMeier:
    r"""The Kaplan-Meier (product-limit) estimate of a survival curve.

    Parameters
    ----------
    durations : array_like
        1-D non-negative finite durations (for customers: first to last activity if they
        churned, else first activity to the end of observation), in any unit; the result's
        times are in that unit.
    observed : array_like
        1-D, one per duration: ``True`` (or 1) if the duration ends in the event (churn),
        ``False`` (or 0) if it is right-censored (still active at the end of observation).
    weights : array_like, optional
        1-D positive finite weights, e.g. how many customers share a row (frequency weights);
        1 each by default.
    alpha : float
        One minus the confidence level of the pointwise intervals, in (0, 1).

    Returns
    -------
    KaplanMeier
        Times, counts, survival, Greenwood variance, intervals, and quantile methods.

    Raises
    ------
    stickykit.errors.InsufficientDataError
        If there are no durations.
    stickykit.errors.ValidationError
        For arrays that are not 1-D or of different lengths, a duration that is NaN,
        infinite, negative or not a number, an ``observed`` value other than true/false/0/1,
        or a weight that is not positive and finite.
    ValueError
        If ``alpha`` is not a number in (0, 1).

    Notes
    -----
    With :math:`t_1 < \dots < t_k` the distinct durations, :math:`n_i` the number with
    duration :math:`\ge t_i` (at risk just before :math:`t_i`) and :math:`d_i` the number of
    events at :math:`t_i`, the product-limit estimate (Kaplan & Meier 1958, eq. 2b) is

    .. math::

        \hat S(t) = \prod_{i:\, t_i \le t} \left(1 - \frac{d_i}{n_i}\right).

    At a time with both events and censorings the censored durations count as at risk (they
    are taken to end just after the events). Greenwood's (1926) variance is

    .. math::

        \widehat{\operatorname{Var}}\,\hat S(t) = \hat S(t)^2 \sum_{i:\, t_i \le t}
        \frac{d_i}{n_i (n_i - d_i)}.

    The pointwise interval applies the delta method to :math:`\log(-\log \hat S)`, which keeps
    it inside [0, 1] (Kalbfleisch & Prentice 2002; the "exponential Greenwood"
    interval of lifelines):

    .. math::

        \hat\sigma^2(t) = \frac{\sum_{i:\, t_i \le t} d_i / (n_i (n_i - d_i))}
        {(\log \hat S(t))^2}, \qquad
        \hat S(t)^{\exp(\pm z_{1-\alpha/2}\, \hat\sigma(t))},

    the lower limit taking :math:`+`; :math:`z_{1-\alpha/2}` is the standard normal quantile.
    Where :math:`\hat S = 1` (before the first event) the interval is [1, 1]. A time with
    :math:`d_i = n_i` sends the curve to 0; its Greenwood term :math:`d_i / (n_i (n_i - d_i))`
    is undefined and is left out of the sum, so there the variance is 0 and the interval
    [0, 0], as in lifelines.

    Weighted counts :math:`n_i = \sum_{j:\, T_j \ge t_i} w_j` and
    :math:`d_i = \sum_{j:\, T_j = t_i,\, \delta_j = 1} w_j` enter the same formulas. With
    frequency weights this equals the estimate on the expanded rows; with other weights (such
    as inverse-probability weights) the curve is the weighted estimate but the Greenwood
    variance and intervals are not valid and should be replaced by a bootstrap.

    The computation sorts once (:func:`numpy.unique`), counts with :func:`numpy.bincount` and
    accumulates with cumulative sums and products; there is no loop over rows.

    References
    ----------
    Kaplan, E. L. and Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *Journal of the American Statistical Association* 53(282), 457-481.
    Greenwood, M. (1926). The natural duration of cancer. *Reports on Public Health and
    Medical Subjects* 33, 1-26. His Majesty's Stationery Office, London.
    Kalbfleisch, J. D. and Prentice, R. L. (2002). *The Statistical Analysis of Failure Time
    Data*, 2nd ed. Wiley. Section 1.4 (the log(-log) interval).
    Brookmeyer, R. and Crowley, J. (1982). A confidence interval for the median survival
    time. *Biometrics* 38(1), 29-41 (see :meth:`KaplanMeier.quantile_interval`).

    Examples
    --------
    Five customers: churned after 1, 2 and 3 months, one still active at 2 months and one at
    4. At 2 months four are at risk and one churns, so
    :math:`\hat S(2) = (1 - 1/5)(1 - 1/4) = 0.6`; at 3 months two are at risk and one churns,
    :math:`\hat S(3) = 0.6 \times (1 - 1/2) = 0.3`.

    >>> km = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    >>> km.at_risk.tolist(), km.events.tolist()
    ([5.0, 4.0, 2.0, 1.0], [1.0, 1.0, 1.0, 0.0])
    >>> km.survival.round(4).tolist()
    [0.8, 0.6, 0.3, 0.3]
    >>> km.se.round(4).tolist()
    [0.1789, 0.2191, 0.2387, 0.2387]
    >>> km.ci_low.round(4).tolist()
    [0.2038, 0.1257, 0.0123, 0.0123]
    >>> km.median, km.median_interval
    (3.0, (1.0, inf))
    """
    time, event, weight = _checked(durations, observed, weights)
    z = z_value(check_alpha(alpha))

    times, inverse = np.unique(time, return_inverse=True)
    k = len(times)
    removed = _weighted_counts(inverse, weight, k)
    events = _weighted_counts(inverse, np.where(event, weight, 0.0), k)
    censored = _weighted_counts(inverse, np.where(event, 0.0, weight), k)
    at_risk: NDArray[np.float64] = np.cumsum(removed[::-1])[::-1]

    survival = np.cumprod(1.0 - events / at_risk, dtype=np.float64)
    survivors = at_risk - events
    terms = np.divide(
        events,
        at_risk * survivors,
        out=np.zeros(k),
        where=(events > 0) & (survivors > 0),
    )
    greenwood = np.cumsum(terms)
    variance = survival**2 * greenwood
    ci_low, ci_high = _log_log_band(survival, greenwood, z)
    return KaplanMeier(
        times=times.astype(np.float64),
        at_risk=at_risk,
        events=events,
        censored=censored,
        survival=survival,
        variance=variance,
        ci_low=ci_low,
        ci_high=ci_high,
        alpha=float(alpha),
    )


def _weighted_counts(
    inverse: NDArray[np.intp], weight: NDArray[np.float64], k: int
) -> NDArray[np.float64]:
    """Sum of ``weight`` per distinct time (``inverse`` maps rows to times)."""
    return np.bincount(inverse, weights=weight, minlength=k).astype(np.float64)


def _log_log_band(
    survival: NDArray[np.float64], greenwood: NDArray[np.float64], z: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pointwise log(-log) limits; [1, 1] where S = 1 and [0, 0] where S = 0."""
    inside = (survival > 0) & (survival < 1)
    log_s = np.log(survival, out=np.full_like(survival, -1.0), where=inside)
    spread = z * np.sqrt(greenwood) / np.abs(log_s)
    low = np.where(inside, survival ** np.exp(spread), survival)
    high = np.where(inside, survival ** np.exp(-spread), survival)
    return low, high


def _first_time_at_or_below(
    times: NDArray[np.float64], curve: NDArray[np.float64], level: float
) -> float:
    reached = curve <= level + _LEVEL_TOLERANCE
    first = int(np.argmax(reached))
    return float(times[first]) if reached[first] else float("inf")


def _level(q: object) -> float:
    if isinstance(q, bool) or not isinstance(q, int | float | np.floating) or not 0 < q < 1:
        msg = f"q must be a probability in (0, 1), got {q!r}"
        raise ValueError(msg)
    return 1.0 - float(q)


def _one_dimensional(values: ArrayLike, field: str) -> NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=f"an array of shape {array.shape}",
            expected="a 1-D array",
        )
    return array


def _first_failure(field: str, array: NDArray[Any], bad: NDArray[np.bool_], expected: str) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=int(rows[0]),
            value=array[rows[0]].item(),
            expected=expected,
            n_failing=int(rows.size),
        )


def _checked(
    durations: ArrayLike, observed: ArrayLike, weights: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    """The three inputs as 1-D float64, bool and float64 arrays, or a ValidationError."""
    raw_time = _one_dimensional(durations, "durations")
    raw_event = _one_dimensional(observed, "observed")
    raw_weight = None if weights is None else _one_dimensional(weights, "weights")
    n = len(raw_time)
    for field, array in (("observed", raw_event), ("weights", raw_weight)):
        if array is not None and len(array) != n:
            raise ValidationError(
                record=_RECORD,
                field=field,
                row=None,
                value=f"{len(array)} values",
                expected=f"one per duration ({n})",
            )
    if n == 0:
        msg = "kaplan_meier needs at least one duration, got none"
        raise InsufficientDataError(msg)

    if raw_time.dtype.kind not in "iuf":
        raise ValidationError(
            record=_RECORD,
            field="durations",
            row=None,
            value=f"an array of dtype {raw_time.dtype}",
            expected="numbers (convert timedeltas to a unit first)",
        )
    time = raw_time.astype(np.float64)
    _first_failure("durations", raw_time, ~np.isfinite(time), "a finite number")
    _first_failure("durations", raw_time, time < 0, "a duration >= 0")

    if raw_event.dtype.kind == "b":
        event = raw_event.astype(np.bool_)
    elif raw_event.dtype.kind in "iuf":
        _first_failure(
            "observed",
            raw_event,
            ~np.isin(raw_event, (0, 1)),
            "True/False or 1/0 (1 = event observed)",
        )
        event = raw_event == 1
    else:
        raise ValidationError(
            record=_RECORD,
            field="observed",
            row=None,
            value=f"an array of dtype {raw_event.dtype}",
            expected="booleans, or integers 0 and 1",
        )

    if raw_weight is None:
        weight = np.ones(n)
    else:
        if raw_weight.dtype.kind not in "iuf":
            raise ValidationError(
                record=_RECORD,
                field="weights",
                row=None,
                value=f"an array of dtype {raw_weight.dtype}",
                expected="numbers",
            )
        weight = raw_weight.astype(np.float64)
        _first_failure("weights", raw_weight, ~(np.isfinite(weight) & (weight > 0)), "a weight > 0")
    return time, event, weight
