r"""Model input from events: calibration histories and holdout counts, from a mergeable state.

The calibration period runs to ``calibration_end`` inclusive (a calendar day in ``zone``); the
holdout period from the next day to ``holdout_end`` inclusive. For every customer whose first
qualifying purchase falls in calibration:

- purchases on the same calendar day merge into one transaction (amounts added);
- ``frequency`` :math:`x` = calibration purchase days - 1 (repeat purchases);
- ``recency`` :math:`t_x` = last - first calibration purchase day, and ``age`` :math:`T` =
  ``calibration_end`` - first purchase day, in days divided by the time unit's length
  (7 for weeks);
- ``monetary`` = mean amount of the repeat purchase days (the first day excluded), the
  spend input of the Gamma-Gamma model;
- the holdout count is the number of purchase days in the holdout period.

This is how Fader, Hardie & Lee (2005), "'Counting your customers' the easy way", *Marketing
Science* 24(2), 275-284, summarise the CDNOW sample (39-week calibration to 30 September
1997, time in weeks).

The histories are a registered metric, ``"repeat_histories"``
(:class:`RepeatHistories`): its state is the per-customer summary
(:class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState`, daily periods) of the
calibration purchases and of the holdout purchases, plus each customer's first purchase day,
that day's amount and the amount of the later days. Chunks of events merge exactly, whichever
way the rows of a customer, or of one of their days, are split; :func:`calibration_holdout` is
one update over a whole frame.

Examples
--------
>>> split = cdnow_histories()
>>> len(split.calibration), int(split.calibration.frequency.sum())
(2357, 2457)
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone, datetime_to_us, us_to_datetime
from stickykit.core.periods import period_index
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import EventFrame
from stickykit.io.events import currency_violations
from stickykit.io.validate import Violation
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints, package_version
from stickykit.metrics.behaviour._purchases import merge_summaries, purchase_summary, zone_field
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    activity_rows,
    optional_kinds,
    resolve_as_of,
)
from stickykit.models._histories import Histories
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "CalibrationHoldout",
    "RepeatHistories",
    "RepeatHistoriesState",
    "calibration_holdout",
    "cdnow_histories",
    "to_calibration_holdout",
]

_DAYS_PER_UNIT = {"day": 1.0, "week": 7.0}
_EPOCH = dt.date(1970, 1, 1)
_NO_DAY = np.iinfo(np.int64).max
_US_PER_DAY = 86_400_000_000
_REFERENCE = (
    "repeat-purchase histories (x, t_x, T), mean repeat spend and holdout purchase days; "
    "Fader, Hardie & Lee (2005), 'Counting your customers' the easy way, Marketing Science "
    "24(2), 275-284, section 2"
)


@attrs.frozen(eq=False)
class CalibrationHoldout:
    """Calibration histories and, aligned with them, holdout purchase counts.

    Attributes
    ----------
    calibration : Histories
        One row per customer acquired in calibration.
    holdout_frequency : numpy.ndarray of int64
        Purchase days in the holdout period, per customer (zeros without a holdout).
    holdout_monetary : numpy.ndarray of float64
        Amount bought in the holdout period, per customer.
    holdout_length : float
        Length of the holdout period in time units (0 without a holdout).
    calibration_end, holdout_end : datetime.date or None
    """

    calibration: Histories
    holdout_frequency: NDArray[np.int64]
    holdout_monetary: NDArray[np.float64]
    holdout_length: float
    calibration_end: dt.date
    holdout_end: dt.date | None


def _as_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def _calibration_end_date(value: Any) -> dt.date | None:
    return None if value is None else _as_date(value, "calibration_end")


def _holdout_end_date(value: Any) -> dt.date | None:
    return None if value is None else _as_date(value, "holdout_end")


def _time_unit_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    if value not in _DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {sorted(_DAYS_PER_UNIT)}, got {value!r}")


def _holdout_field(instance: RepeatHistories, attribute: Any, value: dt.date | None) -> None:
    del attribute
    if value is None:
        return
    if instance.calibration_end is None:
        raise ValueError("holdout_end needs a calibration_end")
    if value <= instance.calibration_end:
        raise ValueError("holdout_end must be after calibration_end")


def _day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def _day_start_us(day: int, zone: str) -> int:
    """The instant (microseconds, UTC) at which calendar day ``day`` begins in ``zone``."""
    date = _EPOCH + dt.timedelta(days=day)
    tz = check_zone("period", zone)
    if tz is None:
        return day * _US_PER_DAY
    return datetime_to_us(dt.datetime.combine(date, dt.time(), tzinfo=tz))


def _empty_days() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


def _empty_money() -> NDArray[np.float64]:
    return np.empty(0, dtype=np.float64)


@attrs.frozen(eq=False)
class RepeatHistoriesState:
    """What repeat-purchase histories need, per customer, keyed by the original ids.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    calibration : CustomerSummaryState
        Daily summary of the calibration purchases: first and last purchase, purchase
        days (bits), purchase amounts.
    first_day : numpy.ndarray of int64
        Aligned with ``calibration.customer_id``: the first purchase day (days since
        1970-01-01 in the metric's zone).
    first_amount : numpy.ndarray of float64
        Aligned with ``calibration.customer_id``: the amount bought on ``first_day``.
    repeat_amount : numpy.ndarray of float64
        Aligned with ``calibration.customer_id``: the amount bought on later calibration days.
    holdout : CustomerSummaryState
        Daily summary of the holdout purchases.
    ignored_rows : int
        Purchase rows after the end of the last period (calibration or holdout), left out.
    returns : int
        Return rows (negative amount or kind ``"return"``), left out.
    """

    fingerprint: str
    calibration: CustomerSummaryState
    holdout: CustomerSummaryState
    first_day: NDArray[np.int64] = attrs.field(factory=_empty_days)
    first_amount: NDArray[np.float64] = attrs.field(factory=_empty_money)
    repeat_amount: NDArray[np.float64] = attrs.field(factory=_empty_money)
    ignored_rows: int = 0
    returns: int = 0


def _first_day_amounts(
    ids: NDArray[Any], customer_id: NDArray[Any], days: NDArray[np.int64], amount: NDArray[Any]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Per sorted id: the first day, the amount on that day and the amount on later days."""
    codes = np.searchsorted(ids, customer_id)
    first = np.full(len(ids), _NO_DAY, dtype=np.int64)
    np.minimum.at(first, codes, days)
    on_first = days == first[codes]
    money = np.bincount(codes[on_first], weights=amount[on_first], minlength=len(ids))
    later = np.bincount(codes[~on_first], weights=amount[~on_first], minlength=len(ids))
    return first, money.astype(np.float64), later.astype(np.float64)


def _merge_first(
    ids: NDArray[Any], parts: tuple[RepeatHistoriesState, ...]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The earliest first day over the parts, its amount, and the amount of later days.

    A part whose first day is later than the merged one contributes its whole amount to the
    later days; the repeat amount is thus summed, never obtained by a subtraction.
    """
    first = np.full(len(ids), _NO_DAY, dtype=np.int64)
    rows = [np.searchsorted(ids, part.calibration.customer_id) for part in parts]
    for part, at in zip(parts, rows, strict=True):  # two states, not rows
        first[at] = np.minimum(first[at], part.first_day)
    amount = np.zeros(len(ids))
    later = np.zeros(len(ids))
    for part, at in zip(parts, rows, strict=True):
        shared = part.first_day == first[at]
        amount[at] += np.where(shared, part.first_amount, 0.0)
        later[at] += np.where(shared, 0.0, part.first_amount) + part.repeat_amount
    return first, amount, later


@attrs.frozen
class RepeatHistories(MetricBase):
    r"""Repeat-purchase histories and holdout purchase days, as a mergeable metric.

    Parameters
    ----------
    calibration_end : date or str or None
        Last calendar day of calibration, inclusive. ``None``: calibration ends on the day of
        ``as_of`` (by default the day of the latest purchase), with no holdout.
    holdout_end : date or str or None
        Last calendar day of the holdout period, inclusive (after ``calibration_end``).
    time_unit : {"week", "day"}
        Unit of recency, age and the holdout length.
    kinds : tuple of str or None
        Event kinds that are purchases (``None``: every row).
    zone : str
        IANA time zone whose calendar days count.

    Notes
    -----
    For customer :math:`i` with purchase days :math:`d_{i1} < \dots < d_{in_i} \le c` in
    calibration (end day :math:`c`), amounts :math:`a_{ij}` per day and :math:`u` days per
    time unit:

    .. math::

        x_i = n_i - 1, \quad t_{x,i} = (d_{in_i} - d_{i1})/u, \quad T_i = (c - d_{i1})/u,
        \quad \bar z_i = \frac{1}{x_i}\sum_{j=2}^{n_i} a_{ij} \ (x_i > 0),

    Fader, Hardie & Lee (2005), section 2; :math:`\bar z` is the mean repeat spend of the
    Gamma-Gamma model (Fader, Hardie & Lee 2005, *Journal of Marketing Research* 42(4),
    415-430). Holdout counts are purchase days in :math:`(c, h]`.

    Returns (negative amounts, kind ``"return"``) are not purchases and are left out (the
    shared returns policy: never activity); purchases after the last day (``holdout_end``,
    else ``calibration_end``) are ignored. Both are counted in ``details`` and ``flags``.
    Customers whose first purchase falls in the holdout are not in calibration: their
    number is ``n_missing`` and ``details["holdout_only_customers"]``.

    The result's ``value`` is the number of calibration customers; ``tables`` holds per
    customer ``customer_id``, ``frequency``, ``recency``, ``age``, ``monetary``,
    ``holdout_frequency`` and ``holdout_monetary``; :func:`to_calibration_holdout` turns
    it (or a state) into :class:`CalibrationHoldout`. There is no interval: the histories
    describe, they do not estimate.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the easy
    way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-15", "2024-02-03",
    ...                                    "2024-02-01"], dtype="datetime64[us]"),
    ...                amount=np.array([5.0, 7.0, 4.0, 3.0]))
    >>> m = RepeatHistories(calibration_end="2024-01-28", holdout_end="2024-02-25", kinds=None)
    >>> a = m.update(m.init(), f.slice(0, 2))
    >>> b = m.update(m.init(), f.slice(2, 4))
    >>> r = m.finalize(m.merge(a, b))
    >>> r.value, r.tables["frequency"].tolist(), r.tables["holdout_frequency"].tolist()
    (1.0, [1], [1])
    >>> r.n_missing  # customer 2 first bought in the holdout
    1
    """

    name: ClassVar[str] = "repeat_histories"
    family: ClassVar[str] = "models"
    input_kind: ClassVar[Literal["events"]] = "events"
    reference: ClassVar[str] = _REFERENCE

    calibration_end: dt.date | None = attrs.field(default=None, converter=_calibration_end_date)
    holdout_end: dt.date | None = attrs.field(
        default=None, converter=_holdout_end_date, validator=_holdout_field
    )
    time_unit: str = attrs.field(default="week", validator=_time_unit_field)
    kinds: tuple[str, ...] | None = attrs.field(default=("purchase",), converter=optional_kinds)
    zone: str = attrs.field(default="UTC", validator=zone_field)

    def summary(self) -> CustomerSummary:
        """The daily customer summary whose update and merge this metric reuses."""
        return purchase_summary("day", self.zone)

    def init(self) -> RepeatHistoriesState:
        """The empty state."""
        empty = CustomerSummaryState(fingerprint=self.fingerprint)
        return RepeatHistoriesState(self.fingerprint, calibration=empty, holdout=empty)

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` refuses: amounts in a currency other than most rows'."""
        return currency_violations(frame)[1]

    def _summarise(self, frame: EventFrame) -> CustomerSummaryState:
        summary = self.summary()
        return attrs.evolve(summary.update(summary.init(), frame), fingerprint=self.fingerprint)

    def update(self, state: RepeatHistoriesState, frame: EventFrame) -> RepeatHistoriesState:
        """Fold the purchases of ``frame`` into ``state`` (returns and late rows counted)."""
        active, money = activity_rows(frame, self.kinds)
        returns = int((money & ~active).sum())
        if not active.all():
            frame = frame.filter(active)
        days = period_index(frame.timestamp, "day", zone=self.zone)
        if self.calibration_end is None:
            in_calibration = np.ones(len(frame), dtype=bool)
            in_holdout = np.zeros(len(frame), dtype=bool)
        else:
            end = _day_number(self.calibration_end)
            last = end if self.holdout_end is None else _day_number(self.holdout_end)
            in_calibration = days <= end
            in_holdout = (days > end) & (days <= last)
        ignored = len(frame) - int(in_calibration.sum()) - int(in_holdout.sum())
        calibration_rows = frame.filter(in_calibration)
        calibration = self._summarise(calibration_rows)
        amount = (
            np.zeros(len(calibration_rows))
            if calibration_rows.amount is None
            else calibration_rows.amount
        )
        first_day, first_amount, repeat_amount = _first_day_amounts(
            calibration.customer_id, calibration_rows.customer_id, days[in_calibration], amount
        )
        chunk = RepeatHistoriesState(
            fingerprint=self.fingerprint,
            calibration=calibration,
            holdout=self._summarise(frame.filter(in_holdout)),
            first_day=first_day,
            first_amount=first_amount,
            repeat_amount=repeat_amount,
            ignored_rows=ignored,
            returns=returns,
        )
        return self.merge(state, chunk)

    def merge(self, a: RepeatHistoriesState, b: RepeatHistoriesState) -> RepeatHistoriesState:
        """Union of customers; the earlier first day wins, its amounts add, the rest is repeat."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        summary = self.summary()
        calibration = merge_summaries(summary, a.calibration, b.calibration, self.fingerprint)
        first_day, first_amount, repeat_amount = _merge_first(calibration.customer_id, (a, b))
        return RepeatHistoriesState(
            fingerprint=self.fingerprint,
            calibration=calibration,
            holdout=merge_summaries(summary, a.holdout, b.holdout, self.fingerprint),
            first_day=first_day,
            first_amount=first_amount,
            repeat_amount=repeat_amount,
            ignored_rows=a.ignored_rows + b.ignored_rows,
            returns=a.returns + b.returns,
        )

    def _end_days(self, state: RepeatHistoriesState, as_of: dt.datetime | None) -> tuple[int, int]:
        """Last day of calibration and last day of the holdout (equal without a holdout)."""
        if self.calibration_end is None:
            if len(state.calibration) == 0:
                msg = "repeat_histories needs at least one purchase (or a calibration_end)"
                raise InsufficientDataError(msg)
            as_of_us = resolve_as_of(state.calibration.last_us, as_of)
            instant = np.array([as_of_us - 1], dtype="datetime64[us]")
            end = int(period_index(instant, "day", zone=self.zone)[0])
            return end, end
        if as_of is not None:
            msg = (
                "as_of cannot be combined with calibration_end: the periods end on "
                "calibration_end and holdout_end"
            )
            raise ValueError(msg)
        end = _day_number(self.calibration_end)
        return end, end if self.holdout_end is None else _day_number(self.holdout_end)

    def finalize(
        self, state: RepeatHistoriesState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Per-customer histories and holdout counts as ``tables``; ``value`` counts customers.

        ``as_of`` applies only without ``calibration_end``: calibration then ends on the day
        of the last instant before ``as_of``.
        """
        cal, hold = state.calibration, state.holdout
        if cal.currency and hold.currency and cal.currency != hold.currency:
            raise ValidationError(
                record="EventFrame",
                field="currency",
                row=None,
                value=hold.currency,
                expected=f"{cal.currency!r}, the currency of the calibration purchases",
            )
        end, last = self._end_days(state, as_of)
        as_of_us = (
            resolve_as_of(cal.last_us, as_of)
            if self.calibration_end is None
            else _day_start_us(last + 1, self.zone)
        )
        unit = _DAYS_PER_UNIT[self.time_unit]
        frequency = cal.n_periods() - 1
        last_day = period_index(cal.last_times(), "day", zone=self.zone)
        with np.errstate(invalid="ignore", divide="ignore"):
            monetary = np.where(
                frequency > 0,
                state.repeat_amount / np.maximum(frequency, 1),
                np.nan,
            )
        rows = np.searchsorted(cal.customer_id, hold.customer_id)
        known = rows < len(cal)
        known[known] = cal.customer_id[rows[known]] == hold.customer_id[known]
        holdout_frequency = np.zeros(len(cal), dtype=np.int64)
        holdout_frequency[rows[known]] = hold.n_periods()[known]
        holdout_monetary = np.zeros(len(cal))
        holdout_monetary[rows[known]] = hold.monetary[known]
        holdout_only = int((~known).sum())
        flags: list[str] = []
        if holdout_only:
            flags.append(
                f"{holdout_only} customers first seen in the holdout are not in calibration"
            )
        if state.ignored_rows:
            flags.append(f"{state.ignored_rows} purchases after the last day ignored")
        if state.returns:
            flags.append(f"{state.returns} returns left out")
        as_of_dt = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=float(len(cal)),
            n=len(cal),
            n_missing=holdout_only,
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method="descriptive (no interval)",
            reference=self.reference,
            params={**self.params(), "as_of": as_of_dt},
            as_of=as_of_dt,
            version=package_version(),
            unit="customers",
            flags=tuple(flags),
            details={
                "customers": float(len(cal)),
                "repeat_purchases": float(frequency.sum()),
                "zero_repeaters": float((frequency == 0).sum()),
                "holdout_purchases": float(holdout_frequency.sum()),
                "holdout_only_customers": float(holdout_only),
                "ignored_rows": float(state.ignored_rows),
                "returns": float(state.returns),
                "holdout_length": (last - end) / unit,
            },
            tables={
                "customer_id": cal.customer_id,
                "frequency": frequency,
                "recency": (last_day - state.first_day) / unit,
                "age": (end - state.first_day) / unit,
                "monetary": monetary.astype(np.float64),
                "holdout_frequency": holdout_frequency,
                "holdout_monetary": holdout_monetary,
            },
        )


def to_calibration_holdout(
    source: MetricResult | RepeatHistoriesState,
    metric: RepeatHistories | None = None,
    *,
    as_of: dt.datetime | None = None,
) -> CalibrationHoldout:
    """Validated histories and holdout counts from a ``repeat_histories`` result or state.

    Parameters
    ----------
    source : MetricResult or RepeatHistoriesState
        A result of :class:`RepeatHistories`, or a state (then ``metric`` is needed).
    metric : RepeatHistories, optional
        The metric that produced the state.
    as_of : datetime, optional
        Passed to ``finalize`` for a state (only without ``calibration_end``).

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 1]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-01-15"],
    ...                                   dtype="datetime64[us]"),
    ...                amount=np.array([5.0, 5.0, 7.0]))
    >>> m = RepeatHistories(calibration_end="2024-01-28")
    >>> s = to_calibration_holdout(m.update(m.init(), f), m)
    >>> s.calibration.frequency.tolist(), s.calibration.monetary.tolist(), s.calibration_end
    ([1], [7.0], datetime.date(2024, 1, 28))
    """
    if isinstance(source, RepeatHistoriesState):
        if metric is None:
            raise TypeError("a RepeatHistoriesState needs the metric that produced it")
        if source.fingerprint != metric.fingerprint:
            msg = "the state was produced by a repeat_histories metric with other parameters"
            raise StateMismatchError(msg)
        source = metric.finalize(source, as_of)
    if source.metric != RepeatHistories.name:
        raise ValueError(f"expected a {RepeatHistories.name!r} result, got {source.metric!r}")
    params = source.params
    tables = source.tables
    time_unit = str(params["time_unit"])
    holdout_end = params["holdout_end"]
    calibration_end = params["calibration_end"]
    if calibration_end is None:
        assert source.as_of is not None
        before = np.array([datetime_to_us(source.as_of) - 1], dtype="datetime64[us]")
        day = int(period_index(before, "day", zone=str(params["zone"]))[0])
        calibration_end = _EPOCH + dt.timedelta(days=day)
    histories = Histories.from_arrays(
        frequency=tables["frequency"],
        recency=tables["recency"],
        age=tables["age"],
        customer_id=tables["customer_id"],
        monetary=tables["monetary"],
        time_unit=time_unit,
    )
    return CalibrationHoldout(
        calibration=histories,
        holdout_frequency=np.asarray(tables["holdout_frequency"], dtype=np.int64),
        holdout_monetary=np.asarray(tables["holdout_monetary"], dtype=np.float64),
        holdout_length=float(source.details["holdout_length"]),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
    )


def calibration_holdout(
    events: EventFrame,
    *,
    calibration_end: dt.date | str,
    holdout_end: dt.date | str | None = None,
    time_unit: str = "week",
    kinds: tuple[str, ...] | None = ("purchase",),
    zone: str = "UTC",
) -> CalibrationHoldout:
    """Split events by date into calibration histories and holdout counts.

    One :class:`RepeatHistories` update over the whole frame; for data in chunks, update
    and merge the metric's states and call :func:`to_calibration_holdout`.

    Parameters
    ----------
    events : EventFrame
        Purchases (``kinds`` choose which event kinds count; returns never do).
    calibration_end : date or str
        Last calendar day of calibration, inclusive.
    holdout_end : date or str, optional
        Last calendar day of the holdout period, inclusive; purchases after it (after
        ``calibration_end`` without a holdout) are ignored.
    time_unit : {"week", "day"}
        Unit of recency and age.
    kinds : tuple of str or None
        Event kinds that are purchases (``None``: every row).
    zone : str
        IANA time zone whose calendar days count.

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-01-15",
    ...                                    "2024-01-08"], dtype="datetime64[us]"),
    ...                amount=np.array([5.0, 5.0, 7.0, 3.0]))
    >>> s = calibration_holdout(f, calibration_end="2024-01-28", kinds=None)
    >>> s.calibration.frequency.tolist(), s.calibration.recency.tolist(), s.calibration.age.tolist()
    ([1, 0], [2.0, 0.0], [3.857142857142857, 2.857142857142857])
    >>> s.calibration.monetary.tolist()
    [7.0, nan]
    """
    metric = RepeatHistories(
        calibration_end=_as_date(calibration_end, "calibration_end"),
        holdout_end=holdout_end,
        time_unit=time_unit,
        kinds=kinds,
        zone=zone,
    )
    return to_calibration_holdout(metric.update(metric.init(), events), metric)


def cdnow_histories(
    *, calibration_end: str = "1997-09-30", holdout_end: str = "1998-06-30"
) -> CalibrationHoldout:
    """The CDNOW sample of the BTYD papers as calibration histories and holdout counts.

    2,357 customers, weeks, calibration to 30 September 1997 inclusive (39 weeks from the
    first purchase day of the cohort) and holdout to 30 June 1998 (39 weeks); Fader, Hardie
    & Lee (2005), *Marketing Science* 24(2), 275-284, section 4. Customers are keyed and
    ordered by the sample id (1-2,357), as in the papers' tables.

    Examples
    --------
    >>> s = cdnow_histories()
    >>> h = s.calibration
    >>> int((h.frequency == 0).sum()), round(float(h.age.max()), 2), s.holdout_length
    (1411, 38.86, 39.0)
    """
    from stickykit.datasets import load_cdnow  # noqa: PLC0415

    return calibration_holdout(
        load_cdnow(sample=True, ids="sample"),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit="week",
    )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"repeat_histories"``."""
    register(RepeatHistories)
