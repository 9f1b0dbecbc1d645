r"""Period retention and churn, by customer count and by revenue.

A customer is *active* in a calendar period (day, ISO week, month or quarter, in an IANA
time zone) when they have at least one qualifying event in it. With :math:`A(t)` the active
customers of period :math:`t`:

- ``"retention"`` (:class:`PeriodRetention`): :math:`|A(t-1) \cap A(t)| / |A(t-1)|`, the
  share of last period's active customers active again, with a Wilson interval;
- ``"churn"`` (:class:`PeriodChurn`): the customers lost, :math:`|A(t-1) \setminus A(t)|`,
  over the start-of-period base :math:`|A(t-1)|` (``base="start"``, :math:`1 -` retention)
  or over the average of the start and end bases (``base="average"``);
- ``"revenue_retention"`` (:class:`RevenueRetention`): gross (GRR) and net (NRR) revenue
  retention of the fixed cohort of customers with revenue in :math:`t-1`.

Each result describes every transition :math:`t-1 \to t` from the first period with data to
the period containing ``as_of``, in ``tables``; its ``value`` is the rate of the latest
*complete* period. The period containing ``as_of`` is partial: it is listed (its counts so far
are shown), marked ``complete = False``, and left out of every rate.

Activity follows the shared returns policy (``stickykit.io.events``, applied by
:func:`~stickykit.metrics.behaviour.summary.activity_rows`): a return (a negative amount, or
an event of kind ``"return"``) is never activity, while revenue sums the signed amounts of the
qualifying events and the returns, so returns net against purchases.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 2, 3, 1, 3]),
...                timestamp=np.array(["2024-01-03", "2024-01-09", "2024-01-20", "2024-02-02",
...                                    "2024-02-28"], dtype="datetime64[us]"))
>>> m = PeriodRetention(period="month")
>>> import datetime as dt
>>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
>>> r.value, r.tables["retained"].tolist(), r.tables["base"].tolist()
(0.666..., [2], [3])
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone, us_to_datetime
from stickykit.core.periods import Period, period_index, period_start
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import EventFrame
from stickykit.metrics.base import (
    MetricBase,
    MetricResult,
    check_fingerprints,
    package_version,
)
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    activity_rows,
    optional_kinds,
    period_field,
    resolve_as_of,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha, z_value

__all__ = [
    "ActivityMetricBase",
    "ChurnBase",
    "PeriodChurn",
    "PeriodRetention",
    "RevenueBasis",
    "RevenuePeriodState",
    "RevenueRetention",
    "active_pairs",
    "observed_periods",
    "period_dates",
    "retention_movements",
    "revenue_movements",
    "wilson_bounds",
]

ChurnBase = Literal["start", "average"]
RevenueBasis = Literal["net", "gross"]

_WORD = 64
_NO_TIME = int(np.iinfo(np.int64).min)
_COUNT_REFERENCE = (
    "retention(t) = |A(t-1) & A(t)| / |A(t-1)|, churn on the start-of-period base "
    "(ChartMogul, 'Churn rate formulas', help.chartmogul.com); Wilson (1927), JASA 22(158), "
    "209-212"
)
_REVENUE_REFERENCE = (
    "fixed-cohort revenue retention: GRR = (start - churned - contraction) / start, "
    "NRR = (start - churned - contraction + expansion) / start; MRR movements after "
    "ChartMogul and Baremetrics (help.chartmogul.com, help.baremetrics.com)"
)


# -- shared kernels ---------------------------------------------------------------------------


def observed_periods(as_of_us: int, period: str, zone: str) -> tuple[int, bool]:
    """The last period with observed time before ``as_of`` and whether it is partial.

    ``as_of`` is exclusive. The last observed period is the one holding the instant just
    before ``as_of``; it is partial unless ``as_of`` falls exactly on the start of the next
    period (on the calendar of ``zone``).

    Examples
    --------
    >>> import datetime as dt
    >>> from stickykit.core._time import datetime_to_us
    >>> us = datetime_to_us(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    >>> observed_periods(us, "month", "UTC")  # February 2024 is complete
    (649, False)
    >>> observed_periods(us + 1, "month", "UTC")  # March has begun
    (650, True)
    """
    instants = np.array([as_of_us - 1, as_of_us], dtype=np.int64).astype("datetime64[us]")
    before, at = period_index(instants, period, zone=zone).tolist()
    return int(before), bool(before == at)


def period_dates(index: NDArray[np.int64], period: str) -> NDArray[np.datetime64]:
    """The local start date of each period, as ``datetime64[D]``.

    Examples
    --------
    >>> period_dates(np.array([649, 650]), "month").astype(str).tolist()
    ['2024-02-01', '2024-03-01']
    """
    dates: NDArray[np.datetime64] = period_start(index, period).astype("datetime64[D]")
    return dates


def wilson_bounds(
    successes: NDArray[Any], n: NDArray[Any], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Wilson score interval of many proportions at once (NaN where ``n <= 0``).

    .. math::

        \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    The same interval as :func:`stickykit.stats.intervals.wilson_interval`, on arrays.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> low, high = wilson_bounds(np.array([8, 0]), np.array([10, 0]), 0.05)
    >>> np.round(low, 4).tolist(), np.round(high, 4).tolist()
    ([0.4902, nan], [0.9433, nan])
    """
    z = z_value(alpha)
    x = np.asarray(successes, dtype=np.float64)
    size = np.asarray(n, dtype=np.float64)
    ok = size > 0
    safe = np.where(ok, size, 1.0)
    p = x / safe
    centre = p + z * z / (2 * safe)
    half = z * np.sqrt(np.maximum(p * (1 - p), 0.0) / safe + z * z / (4 * safe * safe))
    denom = 1 + z * z / safe
    low = np.where(ok, np.maximum(0.0, (centre - half) / denom), np.nan)
    high = np.where(ok, np.minimum(1.0, (centre + half) / denom), np.nan)
    return low, high


def active_pairs(
    state: CustomerSummaryState, first: int, last: int
) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """The (customer row, period) pairs of the bitmask with a period in ``first..last``.

    Unpacks the 64-bit words one word column at a time (a loop over periods, never over
    customers), so memory stays proportional to the active pairs, not to customers x periods.

    Examples
    --------
    >>> m = CustomerSummary(period="day")
    >>> s = m.update(m.init(), EventFrame(
    ...     event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
    ...     timestamp=np.array(["1970-01-02", "1970-01-04", "1970-01-04"],
    ...                        dtype="datetime64[us]")))
    >>> rows, periods = active_pairs(s, 0, 10)
    >>> rows.tolist(), periods.tolist()
    ([0, 0, 1], [1, 3, 3])
    """
    rows: list[NDArray[np.intp]] = []
    periods: list[NDArray[np.int64]] = []
    for column in range(state.active.shape[1]):
        word = state.word_origin + column
        if (word + 1) * _WORD <= first or word * _WORD > last:
            continue
        words = state.active[:, column]
        holders = np.flatnonzero(words)
        if len(holders) == 0:
            continue
        as_bytes = words[holders].astype("<u8").view(np.uint8).reshape(-1, 8)
        bits = np.unpackbits(as_bytes, axis=1, bitorder="little")
        hit_row, hit_bit = np.nonzero(bits)
        period = word * _WORD + hit_bit.astype(np.int64)
        keep = (period >= first) & (period <= last)
        rows.append(holders[hit_row[keep]].astype(np.intp))
        periods.append(period[keep])
    if not rows:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(periods)


def retention_movements(
    rows: NDArray[np.intp], periods: NDArray[np.int64], first: int, n_periods: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    r"""Active customers per period and those also active in the period before.

    Returns ``(active, retained)``, each of length ``n_periods`` (periods ``first...``);
    ``retained[t]`` is :math:`|A(t-1) \cap A(t)|` (0 for the first period).

    Examples
    --------
    >>> active, retained = retention_movements(
    ...     np.array([0, 0, 1, 2]), np.array([5, 6, 5, 6]), 5, 2)
    >>> active.tolist(), retained.tolist()
    ([2, 2], [0, 1])
    """
    relative = periods - first
    active = np.bincount(relative, minlength=n_periods).astype(np.int64)
    key = np.sort(rows.astype(np.int64) * n_periods + relative)
    same = (key[1:] // n_periods) == (key[:-1] // n_periods)
    follows = same & (np.diff(key) == 1)
    retained = np.bincount(key[1:][follows] % n_periods, minlength=n_periods).astype(np.int64)
    return active, retained


def _zone_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_zone("period", value)


def _alpha_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_alpha(value)


def _partial_flag(last: int, partial: bool, period: str) -> list[str]:
    if not partial:
        return []
    start = period_dates(np.array([last]), period)[0]
    return [f"the {period} starting {start} contains as_of: partial, left out of the rates"]


# -- count retention and churn ------------------------------------------------------------------


@attrs.frozen
class ActivityMetricBase(CustomerSummary):
    r"""Base of the count-based retention metrics: a customer summary of activity periods.

    The state is a :class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState` built
    with the metric's own ``kinds``, ``period`` and ``zone`` from the rows that count as
    activity (:func:`~stickykit.metrics.behaviour.summary.activity_rows`), so ``merge`` is
    the summary's merge (a union of ids and an OR of bitmask words). Subclasses choose the
    headline value in :meth:`headline`.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as activity (default every event).
    period : {"day", "week", "month", "quarter"}
        The calendar period (default month).
    zone : str
        IANA time zone of the calendar (default UTC; ISO weeks start on Monday).
    alpha : float
        1 - confidence level of the Wilson intervals.

    Examples
    --------
    >>> PeriodRetention(period="week").params()["period"]
    'week'
    """

    family: ClassVar[str] = "behaviour"
    reference: ClassVar[str] = _COUNT_REFERENCE

    kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    period: Period = attrs.field(default="month", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=_zone_field)
    alpha: float = attrs.field(default=0.05, validator=_alpha_field)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the activity rows of ``frame`` (qualifying, not returns) into ``state``."""
        keep, _ = activity_rows(frame, self.kinds)
        if not keep.all():
            frame = frame.filter(keep)
        return self.merge(state, self._summarise(frame))

    def table(
        self, state: CustomerSummaryState, as_of: dt.datetime | None
    ) -> tuple[dict[str, Any], int, int, bool]:
        """The per-transition table, the resolved ``as_of``, the last period, partial or not."""
        if len(state) == 0:
            msg = f"{self.name} needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us, as_of)
        last, partial = observed_periods(as_of_us, self.period, self.zone)
        first, _ = state.period_range()
        n_periods = last - first + 1
        rows, periods = active_pairs(state, first, last)
        active, retained = retention_movements(rows, periods, first, n_periods)
        base = active[:-1]
        end = active[1:]
        kept = retained[1:]
        churned = base - kept
        complete = np.ones(len(base), dtype=bool)
        if partial and len(complete):
            complete[-1] = False
        usable = complete & (base > 0)
        safe = np.where(usable, base, 1)
        retention = np.where(usable, kept / safe, np.nan)
        churn_start = np.where(usable, churned / safe, np.nan)
        mean_base = (base + end) / 2.0
        churn_average = np.where(usable, churned / np.where(usable, mean_base, 1.0), np.nan)
        low, high = wilson_bounds(kept, np.where(usable, base, 0), self.alpha)
        churn_low, churn_high = wilson_bounds(churned, np.where(usable, base, 0), self.alpha)
        table = {
            "period_start": period_dates(np.arange(first + 1, last + 1), self.period),
            "base": base,
            "active": end,
            "retained": kept,
            "churned": churned,
            "gained": end - kept,
            "complete": complete,
            "retention": retention,
            "retention_low": low,
            "retention_high": high,
            "churn_start": churn_start,
            "churn_start_low": churn_low,
            "churn_start_high": churn_high,
            "churn_average": churn_average,
        }
        return table, as_of_us, last, partial

    def headline(self, table: dict[str, Any], latest: int) -> tuple[float, float, float, str]:
        """``(value, low, high, method)`` of transition ``latest`` (or ``-1``: none)."""
        raise NotImplementedError  # pragma: no cover

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The latest complete period's rate; the per-period series in ``tables``."""
        table, as_of_us, last, partial = self.table(state, as_of)
        usable = np.flatnonzero(table["complete"] & (table["base"] > 0))
        latest = int(usable[-1]) if len(usable) else -1
        value, low, high, method = self.headline(table, latest)
        flags = _partial_flag(last, partial, self.period)
        if latest < 0:
            flags.append("no complete period with active customers before it")
        kept = table["retained"][usable]
        base = table["base"][usable]
        pooled = float(kept.sum() / base.sum()) if len(usable) else math.nan
        mean = float(table["retention"][usable].mean()) if len(usable) else math.nan
        when = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=value,
            n=int(table["base"][latest]) if latest >= 0 else 0,
            n_missing=0,
            se=None,
            ci_low=None if math.isnan(low) else low,
            ci_high=None if math.isnan(high) else high,
            level=None if math.isnan(low) else 1 - self.alpha,
            method=method,
            reference=self.reference,
            params={**self.params(), "as_of": when},
            as_of=when,
            version=package_version(),
            unit="share",
            flags=tuple(flags),
            details={
                "customers": float(len(state)),
                "periods": float(len(table["base"])),
                "complete_periods": float(len(usable)),
                "latest_index": float(latest),
                "pooled_retention": pooled,
                "mean_retention": mean,
            },
            tables=table,
        )


@attrs.frozen
class PeriodRetention(ActivityMetricBase):
    r"""Period retention: the share of last period's active customers active again.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as activity (default every event; ``("purchase",)`` for
        purchases only). Returns (negative amounts) never count.
    period : {"day", "week", "month", "quarter"}
        The calendar period (default month).
    zone : str
        IANA time zone of the calendar (default UTC; ISO weeks start on Monday).
    alpha : float
        1 - confidence level of the Wilson intervals.

    Notes
    -----
    With :math:`A(t)` the customers with at least one qualifying event in period :math:`t`,

    .. math::

        r(t) = \frac{|A(t-1) \cap A(t)|}{|A(t-1)|},

    a binomial share of the start-of-period base with the Wilson (1927) interval. Customers
    who return after a gap, or arrive for the first time, are active in :math:`t` but not
    retained (``tables["gained"]``); counting customer sets, never totals, avoids the
    :math:`(E - N)/S` pitfall of joiners-and-leavers within one period.

    ``value`` is the retention of the latest complete period (the transition into it) with its
    interval; ``n`` is its base. ``tables`` has one entry per transition :math:`t-1 \to t`
    from the first period with data: ``period_start`` (date :math:`t` starts), ``base``
    (:math:`|A(t-1)|`), ``active`` (:math:`|A(t)|`), ``retained``, ``churned``, ``gained``,
    ``complete`` and the rates ``retention``, ``churn_start``, ``churn_average`` with Wilson
    bounds ``retention_low/high`` and ``churn_start_low/high``. The period containing
    ``as_of`` is listed with its counts so far, ``complete = False`` and NaN rates.
    ``details`` gives the pooled retention :math:`\sum|A(t-1)\cap A(t)| / \sum |A(t-1)|`
    and the unweighted mean over complete periods.

    References
    ----------
    ChartMogul, "Churn rate formulas" (help.chartmogul.com): churned customers over customers
    at the start of the period.
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import datetime as dt
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> r = stickykit.compute(PeriodRetention(), events,
    ...                       as_of=dt.datetime(1998, 7, 1, tzinfo=dt.UTC))
    >>> str(r.tables["period_start"][-1]), round(r.value, 3), r.n
    ('1998-06-01', 0.306, 134)
    """

    name: ClassVar[str] = "retention"
    higher_is_better: ClassVar[bool | None] = True

    def headline(self, table: dict[str, Any], latest: int) -> tuple[float, float, float, str]:
        """Retention of transition ``latest`` with its Wilson interval."""
        method = "Wilson score interval on the start-of-period base"
        if latest < 0:
            return math.nan, math.nan, math.nan, method
        return (
            float(table["retention"][latest]),
            float(table["retention_low"][latest]),
            float(table["retention_high"][latest]),
            method,
        )


@attrs.frozen
class PeriodChurn(ActivityMetricBase):
    r"""Period churn: customers lost since last period, over the start or the average base.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as activity (default every event). Returns never count.
    period : {"day", "week", "month", "quarter"}
        The calendar period (default month).
    zone : str
        IANA time zone of the calendar (default UTC; ISO weeks start on Monday).
    base : {"start", "average"}
        ``"start"``: churned over the customers active in :math:`t-1`, equal to
        :math:`1 - r(t)`, with a Wilson interval. ``"average"``: churned over the mean of the
        start and end actives, without an interval.
    alpha : float
        1 - confidence level of the Wilson interval.

    Notes
    -----
    .. math::

        c_{start}(t) = \frac{|A(t-1) \setminus A(t)|}{|A(t-1)|} = 1 - r(t), \qquad
        c_{avg}(t) = \frac{|A(t-1) \setminus A(t)|}{(|A(t-1)| + |A(t)|)/2}.

    :math:`c_{start}` is a share in [0, 1]. :math:`c_{avg}` is not a share of anyone: it
    lies in [0, 2] and exceeds 1 when more than the average base is lost (10 active, all 10
    lost, 0 active after gives 2). Its denominator is not a binomial count, so it has no
    interval and ``method`` says so. Both rates for every period are in ``tables``
    (see :class:`PeriodRetention`); ``value`` is the latest complete period's.

    References
    ----------
    ChartMogul, "Churn rate formulas" (help.chartmogul.com): churned customers over customers
    at the start of the period. The average base is a convention of some tools, named here so
    that numbers can be compared; no published source is claimed for it.
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import datetime as dt
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> july = dt.datetime(1998, 7, 1, tzinfo=dt.UTC)
    >>> start = stickykit.compute(PeriodChurn(), events, as_of=july)
    >>> average = stickykit.compute(PeriodChurn(base="average"), events, as_of=july)
    >>> round(start.value, 3), round(average.value, 3), average.ci_low is None
    (0.694, 0.684, True)
    """

    name: ClassVar[str] = "churn"
    higher_is_better: ClassVar[bool | None] = False

    base: ChurnBase = attrs.field(
        default="start", validator=attrs.validators.in_(("start", "average"))
    )

    def headline(self, table: dict[str, Any], latest: int) -> tuple[float, float, float, str]:
        """Churn of transition ``latest`` on the chosen base."""
        if self.base == "average":
            method = "no interval: the average base is not a binomial denominator"
            value = float(table["churn_average"][latest]) if latest >= 0 else math.nan
            return value, math.nan, math.nan, method
        method = "Wilson score interval on the start-of-period base"
        if latest < 0:
            return math.nan, math.nan, math.nan, method
        return (
            float(table["churn_start"][latest]),
            float(table["churn_start_low"][latest]),
            float(table["churn_start_high"][latest]),
            method,
        )


# -- revenue retention ------------------------------------------------------------------------


def _empty_ids() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


def _empty_labels() -> NDArray[np.str_]:
    return np.empty(0, dtype="<U3")


@attrs.frozen(eq=False)
class RevenuePeriodState:
    """Revenue per (customer, period): sorted unique pairs with summed signed amounts.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    customer_id : numpy.ndarray
        Original customer ids (int64 or unicode), one per pair, sorted with ``period``.
    period : numpy.ndarray
        int64 period index of each pair; pairs are unique and sorted by (customer, period).
    revenue : numpy.ndarray
        float64 sum of the pair's amounts (returns net).
    currencies : numpy.ndarray
        Sorted unique currency codes seen (several are refused in ``finalize``).
    last_us : int
        Latest qualifying event, microseconds since the epoch (int64 minimum when empty).

    Examples
    --------
    >>> len(RevenuePeriodState(fingerprint="x"))
    0
    """

    fingerprint: str
    customer_id: NDArray[Any] = attrs.field(factory=_empty_ids)
    period: NDArray[np.int64] = attrs.field(factory=_empty_ids)
    revenue: NDArray[np.float64] = attrs.field(factory=lambda: np.empty(0, np.float64))
    currencies: NDArray[np.str_] = attrs.field(factory=_empty_labels)
    last_us: int = _NO_TIME

    def __len__(self) -> int:
        return len(self.customer_id)


def _sum_pairs(
    customer_id: NDArray[Any], period: NDArray[np.int64], revenue: NDArray[np.float64]
) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[np.float64]]:
    """Sorted unique (customer, period) pairs with their summed revenue."""
    ids, codes = np.unique(customer_id, return_inverse=True)
    low = int(period.min())
    span = int(period.max()) - low + 1
    key = codes.astype(np.int64).ravel() * span + (period - low)
    keys, where = np.unique(key, return_inverse=True)
    sums = np.bincount(where.ravel(), weights=revenue, minlength=len(keys))
    return ids[keys // span], keys % span + low, sums.astype(np.float64)


def revenue_movements(
    customer_id: NDArray[Any],
    period: NDArray[np.int64],
    revenue: NDArray[np.float64],
    first: int,
    n_periods: int,
) -> dict[str, NDArray[Any]]:
    r"""Revenue movements of every transition into periods ``first + 1 ... first + n - 1``.

    The pairs must be sorted unique (customer, period). The cohort of transition
    :math:`t-1 \to t` is the customers with revenue :math:`R_{i,t-1} > 0`; with
    :math:`R^+_{i,t} = \max(R_{i,t}, 0)` (net revenue below zero counts as none):

    .. math::

        S = \sum R_{i,t-1}, \quad
        \mathrm{churned} = \sum_{R^+_{i,t} = 0} R_{i,t-1}, \quad
        \mathrm{contraction} = \sum_{0 < R_{i,t} < R_{i,t-1}} (R_{i,t-1} - R_{i,t}), \quad
        \mathrm{expansion} = \sum_{R_{i,t} > R_{i,t-1}} (R_{i,t} - R_{i,t-1}).

    Revenue in :math:`t` from outside the cohort is ``new`` (a customer's first period with
    revenue) or ``reactivated`` (revenue before, but none in :math:`t-1`). Arrays have one
    entry per transition.

    Examples
    --------
    >>> m = revenue_movements(np.array([1, 1, 2, 3]), np.array([0, 1, 0, 1]),
    ...                       np.array([100.0, 60.0, 50.0, 30.0]), 0, 2)
    >>> {k: m[k].tolist() for k in ("start", "churned", "contraction", "new")}
    {'start': [150.0], 'churned': [50.0], 'contraction': [40.0], 'new': [30.0]}
    """
    n = max(n_periods - 1, 0)
    same_next = np.zeros(len(period), dtype=bool)
    if len(period) > 1:
        same_next[:-1] = (customer_id[1:] == customer_id[:-1]) & (period[1:] == period[:-1] + 1)
    following = np.zeros(len(period))
    following[:-1] = revenue[1:]
    following = np.where(same_next, np.maximum(following, 0.0), 0.0)
    start = (revenue > 0) & (period - first < n)
    slot = (period - first)[start]
    r0, r1 = revenue[start], following[start]

    def total(weights: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(slot, weights=weights, minlength=n)[:n].astype(np.float64)

    lost = r1 <= 0
    down = (r1 > 0) & (r1 < r0)
    up = r1 > r0
    positive = revenue > 0
    pos_ids, pos_period, pos_rev = customer_id[positive], period[positive], revenue[positive]
    seen = np.zeros(len(pos_period), dtype=bool)
    adjacent = np.zeros(len(pos_period), dtype=bool)
    if len(pos_period) > 1:
        seen[1:] = pos_ids[1:] == pos_ids[:-1]
        adjacent[1:] = seen[1:] & (pos_period[1:] == pos_period[:-1] + 1)
    into = pos_period - first - 1
    outside = into >= 0

    def outside_total(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        chosen = mask & outside
        summed = np.bincount(into[chosen], weights=pos_rev[chosen], minlength=n)[:n]
        return summed.astype(np.float64)

    return {
        "customers_start": np.bincount(slot, minlength=n)[:n].astype(np.int64),
        "customers_churned": np.bincount(slot[lost], minlength=n)[:n].astype(np.int64),
        "start": total(r0),
        "churned": total(np.where(lost, r0, 0.0)),
        "contraction": total(np.where(down, r0 - r1, 0.0)),
        "expansion": total(np.where(up, r1 - r0, 0.0)),
        "retained": total(np.minimum(r0, r1)),
        "end": total(r1),
        "new": outside_total(~seen),
        "reactivated": outside_total(seen & ~adjacent),
    }


@attrs.frozen
class RevenueRetention(MetricBase):
    r"""Net (NRR) or gross (GRR) revenue retention of the customers with revenue last period.

    Parameters
    ----------
    basis : {"net", "gross"}
        ``"net"``: NRR, expansion included (may exceed 1). ``"gross"``: GRR, churned and
        contracted revenue only (in [0, 1]). Both are in ``tables`` either way.
    kinds : tuple of str or None
        Event kinds whose amounts count as revenue (default every event).
    period : {"day", "week", "month", "quarter"}
        The calendar period (default month).
    zone : str
        IANA time zone of the calendar (default UTC).

    Notes
    -----
    Revenue per customer and period, :math:`R_{i,t}`, is the sum of signed amounts (returns
    net against purchases; below zero counts as no revenue). The cohort of :math:`t` is fixed:
    the customers with :math:`R_{i,t-1} > 0`, whose revenue :math:`S` is the start revenue.
    New and reactivated customers are outside it. With the movements of
    :func:`revenue_movements`,

    .. math::

        \mathrm{GRR}(t) = \frac{S - \mathrm{churned} - \mathrm{contraction}}{S}
        = \frac{\sum_i \min(R_{i,t-1}, R^+_{i,t})}{S} \in [0, 1], \qquad
        \mathrm{NRR}(t) = \frac{S - \mathrm{churned} - \mathrm{contraction}
        + \mathrm{expansion}}{S} = \frac{\sum_i R^+_{i,t}}{S} \ge 0.

    A customer whose revenue falls to zero (or below) is churned revenue, never contraction,
    so the two never overlap. ``tables`` gives, per transition: ``period_start``,
    ``customers_start``, ``customers_churned``, ``start``, ``churned``, ``contraction``,
    ``expansion``, ``retained`` (GRR numerator), ``end`` (NRR numerator), ``new``,
    ``reactivated``, ``grr``, ``nrr``, ``quick_ratio`` ((new + reactivated + expansion) /
    (churned + contraction)) and ``complete``. The period containing ``as_of`` is partial and
    left out of the rates. There is no interval: the ratio is a census of the cohort's money,
    not a sampled share. The state keys on original (customer, period) pairs and merges by
    union, adding revenue; amounts in more than one currency are refused.

    References
    ----------
    ChartMogul, MRR movements (new, expansion, contraction, churn, reactivation)
    (help.chartmogul.com). Baremetrics, net revenue retention
    :math:`1 - (\mathrm{churned} - \mathrm{expansion})/\mathrm{start}` (help.baremetrics.com).

    Examples
    --------
    >>> import datetime as dt
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> july = dt.datetime(1998, 7, 1, tzinfo=dt.UTC)
    >>> net = stickykit.compute(RevenueRetention(), events, as_of=july)
    >>> gross = stickykit.compute(RevenueRetention(basis="gross"), events, as_of=july)
    >>> round(net.value, 3), round(gross.value, 3)
    (0.266, 0.209)
    """

    name: ClassVar[str] = "revenue_retention"
    family: ClassVar[str] = "behaviour"
    input_kind: ClassVar[Literal["events"]] = "events"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REVENUE_REFERENCE

    basis: RevenueBasis = attrs.field(
        default="net", validator=attrs.validators.in_(("net", "gross"))
    )
    kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    period: Period = attrs.field(default="month", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=_zone_field)

    def init(self) -> RevenuePeriodState:
        """The empty state."""
        return RevenuePeriodState(fingerprint=self.fingerprint)

    def update(self, state: RevenuePeriodState, frame: EventFrame) -> RevenuePeriodState:
        """Add the amounts of the qualifying rows and returns of ``frame``, per pair."""
        if frame.amount is None:
            raise ValidationError(
                record="EventFrame",
                field="amount",
                row=None,
                value=None,
                expected="an amount column (revenue retention sums amounts)",
            )
        _, money = activity_rows(frame, self.kinds)
        if not money.all():
            frame = frame.filter(money)
        if len(frame) == 0:
            return state
        assert frame.amount is not None  # checked above; filter keeps the column
        periods = period_index(frame.timestamp, self.period, zone=self.zone)
        ids, pair_periods, sums = _sum_pairs(frame.customer_id, periods, frame.amount)
        currencies = _empty_labels()
        if frame.currency is not None:
            present = frame.currency
            missing = frame.label_missing.get("currency")
            if missing is not None:
                present = present[~missing]
            currencies = np.unique(present)
        chunk = RevenuePeriodState(
            fingerprint=self.fingerprint,
            customer_id=ids,
            period=pair_periods,
            revenue=sums,
            currencies=currencies,
            last_us=int(frame.timestamp.view(np.int64).max()),
        )
        return self.merge(state, chunk)

    def merge(self, a: RevenuePeriodState, b: RevenuePeriodState) -> RevenuePeriodState:
        """Union of pairs, adding the revenue of pairs in both; union of currencies."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        if len(b) == 0 and len(b.currencies) == 0:
            return a
        if len(a) == 0 and len(a.currencies) == 0:
            return b
        currencies = np.union1d(a.currencies, b.currencies)
        last_us = max(a.last_us, b.last_us)
        if len(a) == 0 or len(b) == 0:
            kept = a if len(a) else b
            return attrs.evolve(kept, currencies=currencies, last_us=last_us)
        ids, periods, sums = _sum_pairs(
            np.concatenate([a.customer_id, b.customer_id]),
            np.concatenate([a.period, b.period]),
            np.concatenate([a.revenue, b.revenue]),
        )
        return RevenuePeriodState(
            fingerprint=self.fingerprint,
            customer_id=ids,
            period=periods,
            revenue=sums,
            currencies=currencies,
            last_us=last_us,
        )

    def finalize(self, state: RevenuePeriodState, as_of: dt.datetime | None = None) -> MetricResult:
        """The latest complete period's NRR or GRR; the movements per period in ``tables``."""
        if len(state) == 0:
            msg = "revenue_retention needs at least one qualifying event"
            raise InsufficientDataError(msg)
        if len(state.currencies) > 1:
            raise ValidationError(
                record="EventFrame",
                field="currency",
                row=None,
                value=", ".join(state.currencies.tolist()),
                expected="one currency (convert amounts first, e.g. with prepare_events rates)",
            )
        as_of_us = resolve_as_of(np.array([state.last_us]), as_of)
        last, partial = observed_periods(as_of_us, self.period, self.zone)
        first = int(state.period.min())
        n_periods = last - first + 1
        moves = revenue_movements(state.customer_id, state.period, state.revenue, first, n_periods)
        complete = np.ones(n_periods - 1, dtype=bool)
        if partial and len(complete):
            complete[-1] = False
        usable = complete & (moves["start"] > 0)
        start = np.where(usable, moves["start"], 1.0)
        grr = np.where(usable, moves["retained"] / start, np.nan)
        nrr = np.where(usable, moves["end"] / start, np.nan)
        gained = moves["new"] + moves["reactivated"] + moves["expansion"]
        lost = moves["churned"] + moves["contraction"]
        with np.errstate(divide="ignore", invalid="ignore"):
            quick = np.where(complete & (lost > 0), gained / np.where(lost > 0, lost, 1.0), np.nan)
        table: dict[str, Any] = {
            "period_start": period_dates(np.arange(first + 1, last + 1), self.period),
            **moves,
            "complete": complete,
            "grr": grr,
            "nrr": nrr,
            "quick_ratio": quick,
        }
        chosen = table["nrr" if self.basis == "net" else "grr"]
        index = np.flatnonzero(usable)
        latest = int(index[-1]) if len(index) else -1
        flags = _partial_flag(last, partial, self.period)
        if latest < 0:
            flags.append("no complete period with revenue in the period before it")
        pooled_start = float(moves["start"][index].sum())
        numerator = moves["end" if self.basis == "net" else "retained"][index].sum()
        currency = state.currencies[0] if len(state.currencies) else "unstated currency"
        when = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=float(chosen[latest]) if latest >= 0 else math.nan,
            n=int(moves["customers_start"][latest]) if latest >= 0 else 0,
            n_missing=0,
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method=(
                f"{'NRR' if self.basis == 'net' else 'GRR'} of a fixed cohort, amounts in "
                f"{currency}; no interval (a ratio of the cohort's revenue, not a sampled share)"
            ),
            reference=self.reference,
            params={**self.params(), "as_of": when},
            as_of=when,
            version=package_version(),
            unit="share",
            flags=tuple(flags),
            details={
                "customers": float(len(np.unique(state.customer_id))),
                "periods": float(len(complete)),
                "complete_periods": float(len(index)),
                "latest_index": float(latest),
                "pooled": float(numerator / pooled_start) if pooled_start > 0 else math.nan,
            },
            tables=table,
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"retention"``, ``"churn"`` and ``"revenue_retention"``."""
    register(PeriodRetention)
    register(PeriodChurn)
    register(RevenueRetention)
