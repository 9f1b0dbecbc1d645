r"""Repurchase: repeat-customer rate, cohort repeat rate, orders per customer, purchase gaps.

A *purchase* here is a local calendar day on which the customer made at least one qualifying
event (default: events of kind ``"purchase"``; a frame without a ``kind`` column holds
purchases only). Several orders or order lines on one day count as one purchase, the
convention of the buy-till-you-die literature, which merges a customer's transactions within
one time unit (lifetimes and pymc-marketing, ``_find_first_transactions``); it also keeps
split order lines and same-day corrections from looking like repeat business. Days are local
to an IANA time zone (default UTC).

Four metrics share one state, the daily customer summary
(:class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState` with ``period="day"``),
keyed by the original customer ids and merged by id, so a customer's purchases split across
chunks meet again in ``finalize``:

- ``"repeat_customer_rate"``: customers with purchases on at least two days in a window, over
  customers with at least one (Wilson interval);
- ``"cohort_repeat_rate"``: first-time buyers of a window who buy again within ``k`` days;
  buyers whose ``k`` days are not yet over are left out and counted, not taken as non-repeaters;
- ``"orders_per_customer"``: purchase days per buying customer (mean with a t interval, and the
  distribution as a table);
- ``"interpurchase_time"``: the gaps in days between a customer's consecutive purchase days
  (quantiles and a histogram table).

A window is given by local dates, ``start`` inclusive and ``end`` exclusive (default: every
complete day of the data: up to the day of the latest event, or, with an explicit ``as_of``, up
to the day before its local date).
Results name the first and last day observed, inclusive, in ``params["window"]``.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 1, 1, 2, 3]),
...                timestamp=np.array(["2024-01-01", "2024-01-01T18:00", "2024-01-11",
...                                    "2024-01-02", "2024-01-05"], dtype="datetime64[us]"))
>>> m = RepeatCustomerRate()
>>> m.finalize(m.update(m.init(), f)).value  # customer 1 bought on two days, 2 and 3 on one
0.333...
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.errors import InsufficientDataError
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.behaviour._days import (
    DaySpan,
    DaySummaryMetric,
    active_days,
    days_to_periods,
    observed_span,
    optional_date,
    row_counts,
    t_mean,
    zone_field,
)
from stickykit.metrics.behaviour.summary import CustomerSummaryState, optional_kinds
from stickykit.metrics.survey.netscore import check_alpha_field
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import wilson_interval

__all__ = [
    "CohortRepeatRate",
    "InterPurchaseTime",
    "OrdersPerCustomer",
    "RepeatCustomerRate",
    "purchase_gaps",
]

_EPOCH_DATE = dt.date(1970, 1, 1)
_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
_PURCHASE_DAYS = (
    "purchases are distinct local days with a qualifying event, as in the buy-till-you-die "
    "summaries (lifetimes, pymc-marketing)"
)


def _kinds_field() -> Any:
    return attrs.field(default=("purchase",), converter=optional_kinds)


def _zone_field() -> Any:
    return attrs.field(default="UTC", validator=zone_field)


def _alpha_field() -> Any:
    return attrs.field(default=0.05, validator=check_alpha_field)


def _check_end(instance: Any, attribute: Any, value: dt.date | None) -> None:
    del attribute
    if value is not None and instance.start is not None and value <= instance.start:
        msg = f"end ({value}) must be after start ({instance.start}): end is exclusive"
        raise ValueError(msg)


def _day_number(value: dt.date) -> int:
    return (value - _EPOCH_DATE).days


def purchase_gaps(
    rows: NDArray[np.intp], days: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Gaps in days between consecutive purchase days of one customer, and whose they are.

    ``rows`` and ``days`` are (customer, day) pairs sorted by customer, then day, with no
    duplicate (as the day bitmask of the state yields them).
    A customer with :math:`k` purchase days has :math:`k - 1` gaps, each at least one day.

    Examples
    --------
    >>> gaps, who = purchase_gaps(np.array([0, 0, 0, 1, 2, 2]), np.array([1, 4, 5, 9, 2, 12]))
    >>> gaps.tolist(), who.tolist()
    ([3, 1, 10], [0, 0, 2])
    """
    same = rows[1:] == rows[:-1]
    gaps = (days[1:] - days[:-1])[same].astype(np.int64)
    return gaps, rows[1:][same]


class _WindowMetric(DaySummaryMetric):
    """Shared window handling of the repurchase metrics."""

    start: dt.date | None
    end: dt.date | None

    def _window(self, state: CustomerSummaryState, as_of: dt.datetime | None) -> DaySpan:
        """The observed days of the window ``[start, end)`` (local dates)."""
        span = observed_span(self.name, state, as_of, self.zone)
        lo, hi = span.first, span.last
        flags = list(span.flags)
        if self.start is not None:
            lo = _day_number(self.start)
            if lo < span.first:
                flags.append(
                    f"window starts before the first event ({np.datetime64(span.first, 'D')})"
                )
        if self.end is not None:
            hi = _day_number(self.end) - 1
            if hi > span.last:
                flags.append(
                    "window ends after the last complete day "
                    f"({np.datetime64(span.last, 'D')}): observed to that day"
                )
                hi = span.last
        if hi < lo:
            msg = f"{self.name}: the window has no observed day"
            raise InsufficientDataError(msg)
        return DaySpan(lo, hi, span.as_of, tuple(flags))

    def _params(self, window: DaySpan) -> dict[str, Any]:
        params = self.params()
        for key in ("start", "end"):
            if params.get(key) is not None:
                params[key] = params[key].isoformat()
        params["as_of"] = window.as_of
        params["window"] = (
            str(np.datetime64(window.first, "D")),
            str(np.datetime64(window.last, "D")),
        )
        return params

    def _result(self, window: DaySpan, **fields: Any) -> MetricResult:
        return MetricResult(
            metric=self.name,
            reference=self.reference,
            params=self._params(window),
            as_of=window.as_of,
            version=package_version(),
            **fields,
        )


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@attrs.frozen
class RepeatCustomerRate(_WindowMetric):
    r"""Repeat-customer rate: buyers of a window who bought on at least two days in it.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``; ``None``: every event).
    zone : str
        IANA time zone whose calendar days count (default UTC).
    start, end : datetime.date, str or None
        The window, as local dates: ``start`` inclusive, ``end`` exclusive (default: every
        complete day of the data, which gives the lifetime repeat rate).
    alpha : float
        1 - confidence level.

    Notes
    -----
    With :math:`k_i` the number of distinct purchase days of customer :math:`i` inside the
    window,

    .. math::

        \hat p = \frac{\#\{i : k_i \ge 2\}}{\#\{i : k_i \ge 1\}},

    a share in [0, 1], with the Wilson interval (customers as the sampling unit) and the Wald
    standard error :math:`\sqrt{\hat p(1 - \hat p)/n}`. Both purchases must fall in the window
    (the "period repeat rate"); a customer who bought before the window and once in it counts
    as a one-time buyer here (that is the "returning customer rate", another measure). Over the
    whole history it is the lifetime repeat rate. Several orders on one local day count as one
    purchase.

    References
    ----------
    Period and lifetime repeat rate: Little Stream Software; e-commerce glossaries
    (ecommercedb, Wall Street Prep). Wilson, E. B. (1927). Probable inference, the law of
    succession, and statistical inference. *Journal of the American Statistical Association*
    22(158), 209-212.

    Examples
    --------
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> r = stickykit.compute(RepeatCustomerRate(end="1998-01-01"), events)
    >>> round(r.value, 3), r.n, [round(r.ci_low, 3), round(r.ci_high, 3)]
    (0.441, 2357, [0.421, 0.461])
    """

    name: ClassVar[str] = "repeat_customer_rate"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Period repeat rate (Little Stream Software); purchases = distinct local days; "
        "Wilson (1927), JASA 22(158), 209-212"
    )

    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    start: dt.date | None = attrs.field(default=None, converter=optional_date)
    end: dt.date | None = attrs.field(default=None, converter=optional_date, validator=_check_end)
    alpha: float = _alpha_field()

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The rate over the window, with its Wilson interval."""
        window = self._window(state, as_of)
        rows, _ = active_days(state, window.first, window.last)
        _, counts = row_counts(rows)
        n = len(counts)
        repeaters = int(np.count_nonzero(counts >= 2))
        flags = list(window.flags)
        if n == 0:
            flags.append("no customer purchased in the window")
            share = se = low = high = math.nan
        else:
            share = repeaters / n
            se = math.sqrt(share * (1 - share) / n)
            low, high = wilson_interval(repeaters, n, self.alpha)
            low, high = min(low, share), max(high, share)
        return self._result(
            window,
            value=share,
            n=n,
            n_missing=0,
            se=_none_if_nan(se),
            ci_low=_none_if_nan(low),
            ci_high=_none_if_nan(high),
            level=1 - self.alpha,
            method=f"Wilson score interval; {_PURCHASE_DAYS}",
            unit="share",
            flags=tuple(flags),
            details={
                "customers": float(n),
                "repeat_customers": float(repeaters),
                "one_time_customers": float(n - repeaters),
            },
        )


def _within_field() -> Any:
    return attrs.field(
        default=90, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )


@attrs.frozen
class CohortRepeatRate(_WindowMetric):
    r"""Cohort repeat rate: first-time buyers of a window who buy again within ``k`` days.

    Parameters
    ----------
    within_days : int
        :math:`k`, the days allowed for the second purchase (default 90; 30 and 60 are common
        too).
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``).
    zone : str
        IANA time zone whose calendar days count (default UTC).
    start, end : datetime.date, str or None
        The acquisition window, local dates (``start`` inclusive, ``end`` exclusive): the
        cohort is every customer whose first purchase day in the data falls in it.
    alpha : float
        1 - confidence level.

    Notes
    -----
    With :math:`d_{i1} < d_{i2}` the first two purchase days of customer :math:`i` and
    :math:`L` the last complete day observed,

    .. math::

        \hat p_k = \frac{\#\{i \in C : d_{i2} - d_{i1} \le k\}}
                        {\#\{i \in C : d_{i1} + k \le L\}},

    over the cohort :math:`C` of customers whose first purchase falls in the window, with the
    Wilson interval. A customer whose :math:`k` days are not over at :math:`L` cannot be
    classified yet: they are left out of numerator and denominator, counted in ``n_missing``
    and flagged, never taken as non-repeaters. ``tables`` gives the same rate per acquisition
    month (``cohort_month``, ``customers``, ``observable``, ``repeaters``, ``rate``; the rate is
    NaN for a month with no observable customer).

    "First purchase" is the first in the data: if the data begin after the business did,
    earlier customers look new (left truncation); start the window after a look-back period.

    References
    ----------
    Cohort repeat rate within 30/60/90 days: Tresl; direct-to-consumer dashboards. Wilson, E.
    B. (1927). Probable inference, the law of succession, and statistical inference. *Journal
    of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> r = stickykit.compute(CohortRepeatRate(within_days=90), events)
    >>> round(r.value, 3), r.n
    (0.291, 2357)
    """

    name: ClassVar[str] = "cohort_repeat_rate"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Cohort repeat rate within k days (Tresl; DTC dashboards); Wilson (1927), JASA "
        "22(158), 209-212"
    )

    within_days: int = _within_field()
    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    start: dt.date | None = attrs.field(default=None, converter=optional_date)
    end: dt.date | None = attrs.field(default=None, converter=optional_date, validator=_check_end)
    alpha: float = _alpha_field()

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The rate over the observable cohort, with its Wilson interval and a monthly table."""
        window = self._window(state, as_of)
        span = observed_span(self.name, state, as_of, self.zone)
        rows, days = active_days(state, span.first, span.last)
        starts, counts = row_counts(rows)
        first = days[starts]
        second = np.where(
            counts >= 2, days[np.minimum(starts + 1, len(days) - 1)], np.iinfo(np.int64).max
        )
        in_cohort = (first >= window.first) & (first <= window.last)
        first, second = first[in_cohort], second[in_cohort]
        observable = first + self.within_days <= span.last
        repeat = observable & (second - first <= self.within_days)
        n, x = int(observable.sum()), int(repeat.sum())
        censored = len(first) - n
        flags = list(window.flags)
        if censored:
            flags.append(
                f"{censored} cohort customers bought first within {self.within_days} days of "
                "the last complete day: not yet observable, left out"
            )
        if n == 0:
            flags.append("no cohort customer is observable yet")
            share = se = low = high = math.nan
        else:
            share = x / n
            se = math.sqrt(share * (1 - share) / n)
            low, high = wilson_interval(x, n, self.alpha)
            low, high = min(low, share), max(high, share)
        return self._result(
            window,
            value=share,
            n=n,
            n_missing=censored,
            se=_none_if_nan(se),
            ci_low=_none_if_nan(low),
            ci_high=_none_if_nan(high),
            level=1 - self.alpha,
            method=f"Wilson score interval; {_PURCHASE_DAYS}",
            unit="share",
            flags=tuple(flags),
            details={
                "cohort_customers": float(len(first)),
                "observable_customers": float(n),
                "repeat_customers": float(x),
                "not_yet_observable": float(censored),
                "within_days": float(self.within_days),
            },
            tables=self._monthly(window, first, observable, repeat),
        )

    def _monthly(
        self,
        window: DaySpan,
        first: NDArray[np.int64],
        observable: NDArray[np.bool_],
        repeat: NDArray[np.bool_],
    ) -> dict[str, NDArray[Any]]:
        lo, hi = days_to_periods(np.array([window.first, window.last]), "month")
        months = days_to_periods(first, "month") - lo
        size = int(hi - lo + 1)
        customers = np.bincount(months, minlength=size).astype(np.int64)
        seen = np.bincount(months, weights=observable, minlength=size).astype(np.int64)
        again = np.bincount(months, weights=repeat, minlength=size).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(seen > 0, again / np.maximum(seen, 1), np.nan)
        return {
            "cohort_month": np.arange(lo, hi + 1).astype("datetime64[M]").astype("datetime64[D]"),
            "customers": customers,
            "observable": seen,
            "repeaters": again,
            "rate": rate,
        }


@attrs.frozen
class OrdersPerCustomer(_WindowMetric):
    r"""Orders (purchase days) per buying customer in a window: mean and distribution.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``).
    zone : str
        IANA time zone whose calendar days count (default UTC).
    start, end : datetime.date, str or None
        The window, as local dates (``start`` inclusive, ``end`` exclusive; default: all data).
    alpha : float
        1 - confidence level.

    Notes
    -----
    With :math:`k_i \ge 1` the distinct purchase days of each of the :math:`n` customers who
    bought in the window,

    .. math::

        \bar k = \frac{1}{n}\sum_i k_i, \qquad
        \bar k \pm t_{n-1,\,1-\alpha/2}\, s_k/\sqrt n .

    An order is a purchase day: orders placed on one local day count once. ``tables`` holds
    the distribution: ``orders`` (1, 2, ..., max) and ``customers`` (how many customers placed
    exactly that many); it is skewed (most customers buy once), so read it beside the mean.
    ``details`` gives the median and the share of one-time buyers. With daily periods,
    :math:`k_i - 1` is the number of repeat transactions of the buy-till-you-die models.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the easy
    way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284 (repeat
    transactions as purchase days after the first). Student (1908). The probable error of a
    mean. *Biometrika* 6(1), 1-25.

    Examples
    --------
    >>> import stickykit
    >>> r = stickykit.compute(OrdersPerCustomer(), stickykit.datasets.load_cdnow(sample=True))
    >>> round(r.value, 2), r.tables["orders"][:3].tolist(), r.tables["customers"][:3].tolist()
    (2.84, [1, 2, 3], [1218, 403, 209])
    """

    name: ClassVar[str] = "orders_per_customer"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Mean purchase days per buying customer; Student (1908), Biometrika 6(1), 1-25"
    )

    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    start: dt.date | None = attrs.field(default=None, converter=optional_date)
    end: dt.date | None = attrs.field(default=None, converter=optional_date, validator=_check_end)
    alpha: float = _alpha_field()

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The mean with its t interval and the distribution table."""
        window = self._window(state, as_of)
        rows, _ = active_days(state, window.first, window.last)
        _, counts = row_counts(rows)
        n = len(counts)
        mean, se, low, high, sd = t_mean(counts.astype(np.float64), self.alpha)
        flags = list(window.flags)
        if n == 0:
            flags.append("no customer purchased in the window")
        elif n == 1:
            flags.append("no interval: the t interval needs n >= 2")
        histogram = np.bincount(counts, minlength=2)[1:].astype(np.int64)
        return self._result(
            window,
            value=mean,
            n=n,
            n_missing=0,
            se=_none_if_nan(se),
            ci_low=_none_if_nan(low),
            ci_high=_none_if_nan(high),
            level=1 - self.alpha,
            method=f"t interval; {_PURCHASE_DAYS}",
            unit="orders",
            flags=tuple(flags),
            details={
                "customers": float(n),
                "orders": float(counts.sum()),
                "sd": sd,
                "median": float(np.median(counts)) if n else math.nan,
                "one_time_share": float(np.mean(counts == 1)) if n else math.nan,
            },
            tables={
                "orders": np.arange(1, len(histogram) + 1, dtype=np.int64),
                "customers": histogram,
            },
        )


@attrs.frozen
class InterPurchaseTime(_WindowMetric):
    r"""Inter-purchase time: days between a customer's consecutive purchase days.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``).
    zone : str
        IANA time zone whose calendar days count (default UTC).
    start, end : datetime.date, str or None
        The window, as local dates (``start`` inclusive, ``end`` exclusive; default: all data):
        both purchases of a gap lie in it.

    Notes
    -----
    For customer :math:`i` with purchase days :math:`d_{i1} < \dots < d_{ik_i}` in the window,
    the gaps are

    .. math::

        g_{ij} = d_{i,j+1} - d_{ij} \ge 1, \qquad j = 1, \dots, k_i - 1,

    so there are :math:`\sum_i (k_i - 1)` gaps. ``value`` is their median in days;
    ``details`` holds the mean and the 10/25/50/75/90 % quantiles (numpy's linear
    interpolation) and ``tables`` the histogram (``gap_days`` 1, 2, ..., max and ``gaps``).

    These are completed gaps only: the open interval after each customer's last purchase is
    censored and left out, so long gaps are under-represented, all the more in a short window.
    This describes the observed purchase rhythm; it does not estimate the time to the next
    purchase (a survival question). There is no interval: the gaps of one customer are not
    independent, so an interval treating them as a simple random sample would be too narrow.

    References
    ----------
    Ehrenberg, A. S. C. (1988). *Repeat-Buying: Facts, Theory and Applications* (2nd ed.).
    Griffin, London. Goodhardt, G. J., Ehrenberg, A. S. C. and Chatfield, C. (1984). The
    Dirichlet: a comprehensive model of buying behaviour. *Journal of the Royal Statistical
    Society A* 147(5), 621-655.

    Examples
    --------
    >>> import stickykit
    >>> r = stickykit.compute(InterPurchaseTime(), stickykit.datasets.load_cdnow(sample=True))
    >>> r.value, r.n, int(r.tables["gaps"].sum())
    (34.0, 4339, 4339)
    """

    name: ClassVar[str] = "interpurchase_time"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = (
        "Gaps between consecutive purchase days (repeat-buying tradition: Ehrenberg 1988)"
    )

    kinds: tuple[str, ...] | None = _kinds_field()
    zone: str = _zone_field()
    start: dt.date | None = attrs.field(default=None, converter=optional_date)
    end: dt.date | None = attrs.field(default=None, converter=optional_date, validator=_check_end)

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The median gap, its quantiles and the histogram."""
        window = self._window(state, as_of)
        rows, days = active_days(state, window.first, window.last)
        gaps, who = purchase_gaps(rows, days)
        flags = list(window.flags)
        details: dict[str, float] = {
            "gaps": float(len(gaps)),
            "customers_with_gaps": float(len(np.unique(who))),
            "buyers": float(len(row_counts(rows)[0])),
        }
        if len(gaps):
            quantiles = np.quantile(gaps, _QUANTILES)
            details["mean"] = float(gaps.mean())
            details.update(
                {f"q{round(q * 100)}": float(v) for q, v in zip(_QUANTILES, quantiles, strict=True)}
            )
            value = float(quantiles[2])
        else:
            flags.append("no customer purchased on two days in the window")
            value = math.nan
            details["mean"] = math.nan
            details.update({f"q{round(q * 100)}": math.nan for q in _QUANTILES})
        histogram = np.bincount(gaps, minlength=2)[1:].astype(np.int64)
        return self._result(
            window,
            value=value,
            n=len(gaps),
            n_missing=0,
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method=(
                "descriptive (no interval: the gaps of one customer are not independent); "
                + _PURCHASE_DAYS
            ),
            unit="days",
            flags=tuple(flags),
            details=details,
            tables={
                "gap_days": np.arange(1, len(histogram) + 1, dtype=np.int64),
                "gaps": histogram,
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the repurchase metrics."""
    register(RepeatCustomerRate)
    register(CohortRepeatRate)
    register(OrdersPerCustomer)
    register(InterPurchaseTime)
