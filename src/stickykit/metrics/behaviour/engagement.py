r"""Engagement stickiness: DAU, WAU, MAU, the DAU/MAU ratio and the days-active distribution.

A customer is *active* on a local calendar day (IANA zone, default UTC) with at least one
qualifying event (default: every event kind: logins, visits, purchases). Three metrics share
one state, the daily customer summary
(:class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState` with ``period="day"``):
per customer, by original id, the set of active days as a bitmask merged by OR.

- ``"dau_mau"``: the daily series DAU, WAU (trailing 7 days) and MAU (trailing ``window``
  days, default 30) and their ratio DAU/MAU; the value is mean DAU over the last complete
  window divided by the customers active in it;
- ``"dau_mau_monthly"``: the named calendar variant, mean DAU over a calendar month divided by
  that month's active customers;
- ``"days_active"``: per calendar month (or ISO week), how many customers were active on
  1, 2, ..., 31 days: the "stickiness" or power-user chart.

A window that reaches before the first day of data or past the last complete day is not
observable: its figures are NaN and a boolean mask says so. The last complete day is the day
of the latest event, or, with an explicit ``as_of``, the day before its local date (events on
that partial day are left out, with a flag). Nobody active in an observable window is a zero,
which is another thing.

All three rest on one identity: summed over the days of a window, DAU counts every
(customer, active day) pair once, so

.. math::

    \sum_{d \in W} \mathrm{DAU}(d) = \sum_{i} a_i(W), \qquad
    \frac{\overline{\mathrm{DAU}}_W}{\mathrm{MAU}_W} = \frac{\bar a(W)}{|W|},

where :math:`a_i(W)` is the number of days customer :math:`i` was active in :math:`W` and
:math:`\bar a(W)` its mean over the customers active in :math:`W`: the DAU/MAU ratio is the
mean of the days-active histogram divided by the window length.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 2, 1]),
...                timestamp=np.array(["2024-01-01", "2024-01-02", "2024-01-02",
...                                    "2024-01-03"], dtype="datetime64[us]"))
>>> m = DauMauRatio(window=3)
>>> r = m.finalize(m.update(m.init(), f))
>>> r.tables["dau"].tolist(), r.tables["mau"].tolist()
([1, 2, 1], [nan, nan, 2.0])
>>> r.value  # (1 + 2 + 1) / 3 days / 2 customers
0.666...
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core.periods import period_start
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.behaviour._days import (
    DaySpan,
    DaySummaryMetric,
    active_days,
    day_dates,
    days_to_periods,
    observed_span,
    row_counts,
    t_mean,
    zone_field,
)
from stickykit.metrics.behaviour.summary import CustomerSummaryState, optional_kinds
from stickykit.metrics.survey.netscore import check_alpha_field
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "DauMauRatio",
    "DaysActiveDistribution",
    "MonthlyDauMau",
    "daily_active",
    "period_activity",
    "trailing_active",
]

_WEEK = 7
_MAX_DAYS = {"week": 7, "month": 31}
_CHEN = (
    "Chen & Jin (2018), The Power User Curve, andrewchen.com: show the histogram of customers "
    "by days active beside DAU/MAU"
)


def daily_active(days: NDArray[np.int64], first: int, last: int) -> NDArray[np.int64]:
    """DAU: distinct customers per day ``first..last`` from (customer, day) pairs.

    The pairs hold each customer once per day, so DAU is a count of pairs per day.

    Examples
    --------
    >>> daily_active(np.array([3, 5, 3]), 3, 6).tolist()
    [2, 0, 1, 0]
    """
    return np.bincount(days - first, minlength=last - first + 1).astype(np.int64)


def trailing_active(
    rows: NDArray[np.intp], days: NDArray[np.int64], first: int, last: int, window: int
) -> NDArray[np.int64]:
    r"""Distinct customers active in the trailing window ``d - window + 1 .. d``, each day.

    ``rows`` and ``days`` are (customer, day) pairs sorted by customer, then day. A
    customer active on day :math:`t_j` counts on days :math:`t_j .. t_j + w - 1`; the next
    active day :math:`t_{j+1}` takes over where the two spans overlap, so each customer counts
    once per day. The spans are added as +1/-1 steps and summed once over the days: a
    difference array, with no loop over customers or days. Windows reaching before ``first``
    are counted as if nothing happened before; :class:`DauMauRatio` masks them.

    Examples
    --------
    >>> trailing_active(np.array([0, 0, 1]), np.array([0, 2, 1]), 0, 4, 2).tolist()
    [1, 2, 2, 1, 0]
    """
    size = last - first + 1
    if len(days) == 0:
        return np.zeros(size, np.int64)
    same = np.append(rows[1:] == rows[:-1], False)
    following = np.append(days[1:], 0)
    stop = np.where(same, np.minimum(days + window, following), days + window)
    steps = np.bincount(days - first, minlength=size + window + 1)
    steps -= np.bincount(stop - first, minlength=size + window + 1)
    return np.cumsum(steps)[:size].astype(np.int64)


#: Customers whose (customer, active day) pairs are listed at once in ``finalize``.
_BLOCK = 250_000


def _customer_blocks(state: CustomerSummaryState) -> Iterator[CustomerSummaryState]:
    """The state in blocks of at most :data:`_BLOCK` customers (views, no copy)."""
    for start in range(0, max(len(state), 1), _BLOCK):
        stop = start + _BLOCK
        yield attrs.evolve(
            state,
            customer_id=state.customer_id[start:stop],
            first_us=state.first_us[start:stop],
            last_us=state.last_us[start:stop],
            n_events=state.n_events[start:stop],
            monetary=state.monetary[start:stop],
            active=state.active[start:stop],
        )


def _check_window(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    if type(value) is not int or value < 2:
        msg = f"window must be an integer number of days >= 2, got {value!r}"
        raise ValueError(msg)


def _kinds_field() -> Any:
    return attrs.field(default=None, converter=optional_kinds)


def _zone_field() -> Any:
    return attrs.field(default="UTC", validator=zone_field)


def _alpha_field() -> Any:
    return attrs.field(default=0.05, validator=check_alpha_field)


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class _EngagementMetric(DaySummaryMetric):
    alpha: float

    def _result(self, span: DaySpan, **fields: Any) -> MetricResult:
        return MetricResult(
            metric=self.name,
            reference=self.reference,
            params={**self.params(), "as_of": span.as_of},
            as_of=span.as_of,
            version=package_version(),
            level=1 - self.alpha,
            **fields,
        )


def _mean_days(
    active: NDArray[np.int64], length: int, alpha: float
) -> tuple[float, float, float, float]:
    """Mean of ``active / length`` over customers, its standard error and t interval."""
    mean, se, low, high, _ = t_mean(active.astype(np.float64) / length, alpha)
    return mean, se, low, high


@attrs.frozen
class DauMauRatio(_EngagementMetric):
    r"""DAU/MAU: daily active customers over those active in the trailing 30 days.

    Parameters
    ----------
    window : int
        Days in the trailing "monthly" window (default 30; 28 keeps whole weeks).
    kinds : tuple of str or None
        Event kinds that make a customer active (default every event).
    zone : str
        IANA time zone whose calendar days count (default UTC).
    alpha : float
        1 - confidence level.

    Notes
    -----
    With :math:`A(d)` the customers active on local day :math:`d` and :math:`w` the window,

    .. math::

        \mathrm{DAU}(d) = |A(d)|, \quad
        \mathrm{WAU}(d) = \Bigl|\bigcup_{j=0}^{6} A(d - j)\Bigr|, \quad
        \mathrm{MAU}(d) = \Bigl|\bigcup_{j=0}^{w-1} A(d - j)\Bigr|, \quad
        r(d) = \frac{\mathrm{DAU}(d)}{\mathrm{MAU}(d)} \in [0, 1].

    ``tables`` holds the daily series from the first to the last complete day: ``day``,
    ``dau``, ``wau``, ``mau``, ``ratio`` and the masks ``wau_observable`` and
    ``mau_observable``. WAU, MAU and the ratio are NaN on days whose window reaches before the
    first day of data (never zero); the ratio is also NaN where MAU is zero.

    ``value`` is the ratio over the last complete window :math:`W` (the last :math:`w` days):
    mean DAU over :math:`W` divided by the customers active in :math:`W`,

    .. math::

        \frac{\frac{1}{w}\sum_{d \in W}\mathrm{DAU}(d)}{\mathrm{MAU}(L)}
        = \frac{1}{n}\sum_{i=1}^{n} \frac{a_i}{w},

    where :math:`a_i` counts the active days of each of the :math:`n` customers active in
    :math:`W`. The interval is a t interval on that mean, customers as the sampling unit.
    ``tables`` also gives the histogram of :math:`a_i` (``days_active`` 1..w,
    ``customers_by_days_active``), the power-user curve whose mean over :math:`w` is the
    value. ``details`` holds the last day's DAU, WAU, MAU and ratio and the mean of the daily
    ratios.

    References
    ----------
    Chen, A. and Jin, L. (2018). The Power User Curve: the best way to understand your most
    engaged users. andrewchen.com (DAU/MAU hides the distribution of days active).
    Student (1908). The probable error of a mean. *Biometrika* 6(1), 1-25.

    Examples
    --------
    >>> import stickykit
    >>> r = stickykit.compute(DauMauRatio(), stickykit.datasets.load_cdnow(sample=True))
    >>> round(r.value, 4), r.n, int(r.tables["dau"].sum())
    (0.0406, 138, 6696)
    """

    name: ClassVar[str] = "dau_mau"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = f"DAU over trailing-window MAU; {_CHEN}"

    window: int = attrs.field(default=30, validator=_check_window)
    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    alpha: float = _alpha_field()

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The daily series and the ratio over the last complete window."""
        span = observed_span(self.name, state, as_of, self.zone)
        first, last, w = span.first, span.last, self.window
        offset = np.arange(last - first + 1)
        wau_ok = offset >= _WEEK - 1
        mau_ok = offset >= w - 1
        # every count is a sum over customers: add it up over blocks of customers, so that
        # the (customer, day) pairs of one block only are in memory at a time
        dau = np.zeros(len(offset), np.int64)
        wau_count = np.zeros(len(offset), np.int64)
        mau_count = np.zeros(len(offset), np.int64)
        in_window: list[NDArray[np.int64]] = []
        for block in _customer_blocks(state):
            rows, days = active_days(block, first, last)
            dau += daily_active(days, first, last)
            wau_count += trailing_active(rows, days, first, last, _WEEK)
            mau_count += trailing_active(rows, days, first, last, w)
            if mau_ok[-1]:
                in_window.append(row_counts(rows[days > last - w])[1])
        wau = np.where(wau_ok, wau_count, np.nan)
        mau = np.where(mau_ok, mau_count, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(mau_ok & (mau_count > 0), dau / np.maximum(mau_count, 1), np.nan)
        flags = list(span.flags)
        histogram = np.full(w, np.nan)
        value = se = low = high = math.nan
        n = 0
        if mau_ok[-1]:
            active = np.concatenate(in_window) if in_window else np.zeros(0, np.int64)
            n = len(active)
            histogram = np.bincount(active, minlength=w + 1)[1:].astype(np.float64)
            if n:
                value, se, low, high = _mean_days(active, w, self.alpha)
            else:
                flags.append(f"no customer active in the last {w} days")
        else:
            flags.append(f"no complete {w}-day window: {len(offset)} days of data")
        if n == 1:
            flags.append("no interval: the t interval needs n >= 2")
        valid = ~np.isnan(ratio)
        return self._result(
            span,
            value=value,
            n=n,
            n_missing=0,
            se=_none_if_nan(se),
            ci_low=_none_if_nan(low),
            ci_high=_none_if_nan(high),
            method="t interval over the customers active in the window",
            unit="share",
            flags=tuple(flags),
            details={
                "window": float(w),
                "dau_last": float(dau[-1]),
                "wau_last": float(wau[-1]),
                "mau_last": float(mau[-1]),
                "ratio_last": float(ratio[-1]),
                "mean_daily_ratio": float(ratio[valid].mean()) if valid.any() else math.nan,
                "observable_days": float(valid.sum()),
            },
            tables={
                "day": day_dates(first, last),
                "dau": dau,
                "wau": wau,
                "mau": mau,
                "ratio": ratio,
                "wau_observable": wau_ok,
                "mau_observable": mau_ok,
                "days_active": np.arange(1, w + 1, dtype=np.int64),
                "customers_by_days_active": histogram,
            },
        )


def period_activity(
    rows: NDArray[np.intp], days: NDArray[np.int64], first: int, last: int, period: str
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Per (customer, calendar period) active days, and the periods' calendar.

    Returns ``(slot, active, lengths, observable)``: for each customer active in a period,
    the period's position ``slot`` (0 for the period of ``first``) and the number of days
    ``active``; for each period its length in days and whether it lies wholly in
    ``first..last``.

    Examples
    --------
    >>> slot, active, lengths, observable = period_activity(
    ...     np.array([0, 0, 0, 1]), np.array([0, 1, 40, 31]), 0, 58, "month")
    >>> slot.tolist(), active.tolist(), lengths.tolist(), observable.tolist()
    ([0, 1, 1], [2, 1, 1], [31, 28], [True, True])
    """
    p0, p1 = (int(p) for p in days_to_periods(np.array([first, last], np.int64), period))
    index = np.arange(p0, p1 + 2, dtype=np.int64)
    starts = np.asarray(period_start(index, period), dtype="datetime64[D]").astype(np.int64)
    lengths = np.diff(starts)
    observable = (starts[:-1] >= first) & (starts[1:] - 1 <= last)
    size = p1 - p0 + 1
    key = rows.astype(np.int64) * size + (days_to_periods(days, period) - p0)
    runs, active = row_counts(key.astype(np.intp))
    slot = (key[runs] % size).astype(np.int64)
    return slot, active, lengths.astype(np.int64), observable


def _period_dates(first: int, last: int, period: str) -> NDArray[np.datetime64]:
    p0, p1 = days_to_periods(np.array([first, last], np.int64), period)
    index = np.arange(p0, p1 + 1, dtype=np.int64)
    return np.asarray(period_start(index, period), dtype="datetime64[D]")


@attrs.frozen
class MonthlyDauMau(_EngagementMetric):
    r"""Calendar-month DAU/MAU: mean DAU over a month divided by that month's active customers.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that make a customer active (default every event).
    zone : str
        IANA time zone whose calendar days and months count (default UTC).
    alpha : float
        1 - confidence level.

    Notes
    -----
    For calendar month :math:`m` of :math:`D_m` days, with :math:`a_i` the active days of
    each of the :math:`\mathrm{MAU}_m` customers active in it,

    .. math::

        \frac{\overline{\mathrm{DAU}}_m}{\mathrm{MAU}_m}
        = \frac{\frac{1}{D_m}\sum_{d \in m} \mathrm{DAU}(d)}{\mathrm{MAU}_m}
        = \frac{1}{\mathrm{MAU}_m}\sum_i \frac{a_i}{D_m} .

    ``value`` is the ratio of the last complete month, with a t interval over its customers.
    ``tables``: ``month`` (first day), ``days`` (:math:`D_m`), ``mean_dau``, ``mau``,
    ``ratio`` and ``observable``; a month not wholly inside the observed days (data starting
    after its first day, or ending before its last) is NaN, never a partial count. The
    trailing-window ratio ``"dau_mau"`` is the default; this calendar variant matches monthly
    reporting, with months of 28 to 31 days.

    References
    ----------
    Chen, A. and Jin, L. (2018). The Power User Curve: the best way to understand your most
    engaged users. andrewchen.com.

    Examples
    --------
    >>> import stickykit
    >>> r = stickykit.compute(MonthlyDauMau(), stickykit.datasets.load_cdnow(sample=True))
    >>> str(r.tables["month"][-1]), round(r.value, 4), r.n
    ('1998-06-01', 0.0406, 138)
    """

    name: ClassVar[str] = "dau_mau_monthly"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = f"Mean DAU over calendar-month MAU; {_CHEN}"

    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    alpha: float = _alpha_field()

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The monthly table and the ratio of the last complete month."""
        span = observed_span(self.name, state, as_of, self.zone)
        rows, days = active_days(state, span.first, span.last)
        slot, active, lengths, observable = period_activity(
            rows, days, span.first, span.last, "month"
        )
        size = len(lengths)
        mau_count = np.bincount(slot, minlength=size)
        pair_sum = np.bincount(slot, weights=active, minlength=size)
        mau = np.where(observable, mau_count, np.nan)
        mean_dau = np.where(observable, pair_sum / lengths, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(
                observable & (mau_count > 0), mean_dau / np.maximum(mau_count, 1), np.nan
            )
        flags = list(span.flags)
        value = se = low = high = math.nan
        n = 0
        complete = np.flatnonzero(observable)
        if len(complete):
            month = int(complete[-1])
            month_days = active[slot == month]
            n = len(month_days)
            if n:
                value, se, low, high = _mean_days(month_days, int(lengths[month]), self.alpha)
            else:
                flags.append("no customer active in the last complete month")
        else:
            flags.append("no complete calendar month in the data")
        if n == 1:
            flags.append("no interval: the t interval needs n >= 2")
        return self._result(
            span,
            value=value,
            n=n,
            n_missing=0,
            se=_none_if_nan(se),
            ci_low=_none_if_nan(low),
            ci_high=_none_if_nan(high),
            method="t interval over the customers active in the month",
            unit="share",
            flags=tuple(flags),
            details={"complete_months": float(len(complete))},
            tables={
                "month": _period_dates(span.first, span.last, "month"),
                "days": lengths,
                "mean_dau": mean_dau,
                "mau": mau,
                "ratio": ratio,
                "observable": observable,
            },
        )


@attrs.frozen
class DaysActiveDistribution(_EngagementMetric):
    r"""Days active per customer within each calendar month (or ISO week): the stickiness chart.

    Parameters
    ----------
    period : {"month", "week"}
        The calendar period (months of 28-31 days, or ISO weeks Monday to Sunday).
    kinds : tuple of str or None
        Event kinds that make a customer active (default every event).
    zone : str
        IANA time zone whose calendar counts (default UTC).
    alpha : float
        1 - confidence level.

    Notes
    -----
    For each period :math:`m` and :math:`k = 1, \dots, 31` (7 for weeks),

    .. math::

        h_m(k) = \#\{i : a_i(m) = k\}, \qquad
        H_m(k) = \sum_{j \ge k} h_m(j),

    the customers active on exactly (``customers``) and on at least (``at_least``) :math:`k`
    days of :math:`m`. Customers never active in :math:`m` are not in it: the histogram
    describes the active base, as product-analytics "stickiness" charts do. Its mean, divided
    by the period's length, is the period's DAU/MAU (see the module docstring).

    ``tables``: ``period_start``, ``period_days``, ``observable``, ``active_customers``,
    ``days_active`` (1..31 or 1..7) and the matrices ``customers`` and ``at_least`` (periods
    x days). Rows of periods not wholly observed are NaN. ``value`` is the mean days active
    in the last complete period, with a t interval over its customers; ``details`` gives its
    DAU/MAU and the share active on at least half of its days.

    References
    ----------
    Chen, A. and Jin, L. (2018). The Power User Curve: the best way to understand your most
    engaged users. andrewchen.com (the L28/L30 histogram). PostHog stickiness insight:
    ``posthog/hogql_queries/insights/stickiness/stickiness_query_runner.py`` (histogram of
    distinct active intervals, zero-filled, with "N or more").

    Examples
    --------
    >>> import stickykit
    >>> r = stickykit.compute(DaysActiveDistribution(), stickykit.datasets.load_cdnow(sample=True))
    >>> r.tables["customers"].shape, r.tables["customers"][-1, :3].tolist()
    ((18, 31), [113.0, 20.0, 5.0])
    """

    name: ClassVar[str] = "days_active"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        f"Distribution of days active per period; {_CHEN}; PostHog stickiness insight"
    )

    period: Literal["month", "week"] = attrs.field(
        default="month", validator=attrs.validators.in_(("month", "week"))
    )
    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    alpha: float = _alpha_field()

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The histogram per period and the mean days active of the last complete period."""
        span = observed_span(self.name, state, as_of, self.zone)
        rows, days = active_days(state, span.first, span.last)
        slot, active, lengths, observable = period_activity(
            rows, days, span.first, span.last, self.period
        )
        size, width = len(lengths), _MAX_DAYS[self.period]
        counts = np.bincount(slot * width + active - 1, minlength=size * width)
        customers = counts.reshape(size, width).astype(np.float64)
        at_least = np.cumsum(customers[:, ::-1], axis=1)[:, ::-1]
        customers[~observable] = np.nan
        at_least[~observable] = np.nan
        flags = list(span.flags)
        value = se = low = high = math.nan
        n = 0
        details: dict[str, float] = {}
        complete = np.flatnonzero(observable)
        if len(complete):
            last = int(complete[-1])
            period_days = active[slot == last]
            n, length = len(period_days), int(lengths[last])
            details["period_days"] = float(length)
            if n:
                value, se, low, high, _ = t_mean(period_days.astype(np.float64), self.alpha)
                details["dau_mau"] = value / length
                details["at_least_half_share"] = float(np.mean(2 * period_days >= length))
            else:
                flags.append(f"no customer active in the last complete {self.period}")
        else:
            flags.append(f"no complete calendar {self.period} in the data")
        if n == 1:
            flags.append("no interval: the t interval needs n >= 2")
        return self._result(
            span,
            value=value,
            n=n,
            n_missing=0,
            se=_none_if_nan(se),
            ci_low=_none_if_nan(low),
            ci_high=_none_if_nan(high),
            method=f"t interval over the customers active in the {self.period}",
            unit="days",
            flags=tuple(flags),
            details=details,
            tables={
                "period_start": _period_dates(span.first, span.last, self.period),
                "period_days": lengths,
                "observable": observable,
                "active_customers": np.where(observable, customers.sum(axis=1), np.nan),
                "days_active": np.arange(1, width + 1, dtype=np.int64),
                "customers": customers,
                "at_least": at_least,
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the engagement metrics: ``dau_mau``, ``dau_mau_monthly``, ``days_active``."""
    register(DauMauRatio)
    register(MonthlyDauMau)
    register(DaysActiveDistribution)
