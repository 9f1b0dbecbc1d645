r"""Active days of customers: the shared state and kernels of repurchase and engagement.

Repurchase and engagement measures need, for every customer, the set of local calendar days
with at least one qualifying event. The per-customer summary with ``period="day"``
(:class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState`) holds exactly that, as a
bitmask keyed by the original customer ids, and merges by id. The metrics here reuse its
state and its ``update`` and ``merge``, under their own fingerprint, and read the days back
in ``finalize``.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> from stickykit.metrics.behaviour.summary import CustomerSummary
>>> m = CustomerSummary(period="day")
>>> s = m.update(m.init(), EventFrame(
...     event_id=np.arange(3), customer_id=np.array([5, 2, 5]),
...     timestamp=np.array(["1970-01-03", "1970-01-02", "1970-01-01"], dtype="datetime64[us]")))
>>> rows, days = active_days(s, 0, 10)
>>> rows.tolist(), days.tolist()
([0, 1, 1], [1, 0, 2])
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone, us_to_datetime
from stickykit.core.periods import period_index, period_of
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricBase, check_fingerprints
from stickykit.metrics.behaviour._purchases import merge_summaries
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    resolve_as_of,
)
from stickykit.metrics.survey.csat import mean_t_interval

__all__ = [
    "DaySpan",
    "DaySummaryMetric",
    "active_days",
    "day_dates",
    "days_to_periods",
    "observed_span",
    "optional_date",
    "row_counts",
    "t_mean",
    "zone_field",
]

_WORD = 64


def zone_field(instance: Any, attribute: Any, value: Any) -> None:
    """Validator of a ``zone`` parameter: an IANA time zone name.

    Examples
    --------
    >>> zone_field(None, None, "Europe/Paris")
    """
    del instance, attribute
    check_zone("zone", value)


def optional_date(value: Any) -> dt.date | None:
    """Converter of a date parameter: ``None``, a :class:`datetime.date` or an ISO string.

    A :class:`datetime.datetime` is refused: a window is made of local calendar days.

    Examples
    --------
    >>> optional_date("1997-03-01")
    datetime.date(1997, 3, 1)
    >>> optional_date(None) is None
    True
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        msg = f"give a calendar date (local to the metric's zone), got the datetime {value!r}"
        raise TypeError(msg)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    msg = f"expected a date or an ISO date string, got {value!r}"
    raise TypeError(msg)


class DaySummaryMetric(MetricBase):
    """The four functions over a day-bitmask customer summary, under the metric's fingerprint.

    Subclasses are attrs classes with the fields ``kinds`` and ``zone`` (and their own) and
    implement ``finalize``.
    """

    family: ClassVar[str] = "behaviour"
    input_kind: ClassVar[Literal["events"]] = "events"
    kinds: tuple[str, ...] | None
    zone: str

    def summary(self) -> CustomerSummary:
        """The daily customer summary whose state this metric keeps."""
        return CustomerSummary(kinds=self.kinds, period="day", zone=self.zone)

    def init(self) -> CustomerSummaryState:
        """The empty state."""
        return CustomerSummaryState(fingerprint=self.fingerprint)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the qualifying events of ``frame`` into ``state``."""
        summary = self.summary()
        chunk = summary.update(summary.init(), frame)
        return self.merge(state, attrs.evolve(chunk, fingerprint=self.fingerprint))

    def merge(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        """Union of customers by id, OR of their active days."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        return merge_summaries(self.summary(), a, b, self.fingerprint)

    def merge_into(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        """``merge(a, b)``, updating ``a`` in place when it can (see ``CustomerSummary``)."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        return merge_summaries(self.summary(), a, b, self.fingerprint, into=True)


def active_days(
    state: CustomerSummaryState, lo: int, hi: int
) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """Every (customer row, active day) pair with ``lo <= day <= hi``, by row, then day.

    Days are absolute local day numbers (days since 1970-01-01). Only the non-zero words of
    the bitmask are read; their set bits are peeled off lowest first, all words at once, so the
    loop runs at most 64 times whatever the number of customers, and the pairs are sorted once.
    """
    empty = (np.empty(0, np.intp), np.empty(0, np.int64))
    width = state.active.shape[1]
    if len(state) == 0 or width == 0 or hi < lo:
        return empty
    w0 = max(lo // _WORD - state.word_origin, 0)
    w1 = min(hi // _WORD - state.word_origin + 1, width)
    if w1 <= w0:
        return empty
    words = state.active[:, w0:w1]
    rows, cols = np.nonzero(words)
    values = words[rows, cols]
    span = (w1 - w0) * _WORD
    base = rows.astype(np.int64) * span + cols.astype(np.int64) * _WORD
    keys: list[NDArray[np.int64]] = []
    one = np.uint64(1)
    while len(values):
        lowest = values & (~values + one)
        keys.append(base + np.bitwise_count(lowest - one).astype(np.int64))
        values = values ^ lowest
        left = values != 0
        values, base = values[left], base[left]
    key = np.sort(np.concatenate(keys)) if keys else np.empty(0, np.int64)
    days = key % span + (state.word_origin + w0) * _WORD
    inside = (days >= lo) & (days <= hi)
    return (key[inside] // span).astype(np.intp), days[inside]


def row_counts(rows: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """Where each customer's run of pairs starts and its length (rows sorted).

    Examples
    --------
    >>> starts, counts = row_counts(np.array([0, 0, 3, 3, 3]))
    >>> starts.tolist(), counts.tolist()
    ([0, 2], [2, 3])
    """
    if len(rows) == 0:
        return np.empty(0, np.intp), np.empty(0, np.int64)
    starts = np.concatenate([[0], np.flatnonzero(rows[1:] != rows[:-1]) + 1]).astype(np.intp)
    counts = np.diff(np.append(starts, len(rows))).astype(np.int64)
    return starts, counts


@attrs.frozen
class DaySpan:
    """The local days a result can observe.

    Parameters
    ----------
    first, last : int
        First and last observed day (day numbers since 1970-01-01, local to the zone).
    as_of : datetime
        The exclusive instant the result describes.
    flags : tuple of str
        What a reader must know (events left out after the last complete day).
    """

    first: int
    last: int
    as_of: dt.datetime
    flags: tuple[str, ...] = ()


def observed_span(
    name: str, state: CustomerSummaryState, as_of: dt.datetime | None, zone: str
) -> DaySpan:
    r"""First and last complete local day the data observe.

    The first day is the day of the first qualifying event. The last is the day of the latest
    event when ``as_of`` is not given (the data are taken to cover that day), else the day
    before the local day of ``as_of``: a day is complete only when it ends by ``as_of``.
    Events on a later, partial day are left out of day-based results, with a flag.

    Raises
    ------
    InsufficientDataError
        When the state holds no event.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> from stickykit.metrics.behaviour.summary import CustomerSummary
    >>> m = CustomerSummary(period="day")
    >>> s = m.update(m.init(), EventFrame(
    ...     event_id=np.arange(2), customer_id=np.array([1, 1]),
    ...     timestamp=np.array(["1970-01-02", "1970-01-05T08:00"], dtype="datetime64[us]")))
    >>> span = observed_span("demo", s, None, "UTC")
    >>> span.first, span.last
    (1, 4)
    >>> span = observed_span("demo", s, dt.datetime(1970, 1, 5, 12, tzinfo=dt.UTC), "UTC")
    >>> span.last, span.flags
    (3, ('1 day(s) with events after the last complete day (1970-01-04) left out',))
    """
    if len(state) == 0:
        msg = f"{name} needs at least one qualifying event"
        raise InsufficientDataError(msg)
    as_of_us = resolve_as_of(state.last_us, as_of)
    first, last_event = state.period_range()
    if as_of is None:
        return DaySpan(first, last_event, us_to_datetime(as_of_us))
    last = period_of(as_of, "day", zone=zone) - 1
    if last < first:
        msg = f"{name} needs a complete local day before as_of ({as_of.isoformat()})"
        raise InsufficientDataError(msg)
    flags: tuple[str, ...] = ()
    if last_event > last:
        late = int(np.bitwise_or.reduce(state.active_matrix(last + 1, last_event), axis=0).sum())
        end = np.datetime64(last, "D")
        flags = (f"{late} day(s) with events after the last complete day ({end}) left out",)
    return DaySpan(first, last, us_to_datetime(as_of_us), flags)


def day_dates(first: int, last: int) -> NDArray[np.datetime64]:
    """The local dates of days ``first..last`` as ``datetime64[D]``.

    Examples
    --------
    >>> day_dates(0, 1).astype(str).tolist()
    ['1970-01-01', '1970-01-02']
    """
    return np.arange(first, last + 1, dtype=np.int64).astype("datetime64[D]")


def days_to_periods(days: NDArray[np.int64], period: str) -> NDArray[np.int64]:
    """The calendar period (week or month...) of local day numbers.

    Days are already local, so the calendar mapping runs in UTC on their midnights.

    Examples
    --------
    >>> days_to_periods(np.array([0, 30, 31]), "month").tolist()
    [0, 0, 1]
    """
    midnights = days.astype("datetime64[D]").astype("datetime64[us]")
    return period_index(midnights, period, zone="UTC")


def t_mean(values: NDArray[np.float64], alpha: float) -> tuple[float, float, float, float, float]:
    r"""Mean, standard error, t interval and standard deviation of a sample.

    .. math::

        \bar x \pm t_{n-1,\,1-\alpha/2}\, s/\sqrt n

    NaN where undefined (``n < 2`` for the spread and interval, ``n = 0`` for the mean).

    Examples
    --------
    >>> [round(v, 3) for v in t_mean(np.array([1.0, 2.0, 3.0]), 0.05)]
    [2.0, 0.577, -0.484, 4.484, 1.0]
    """
    n = len(values)
    if n == 0:
        return (math.nan,) * 5
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    se = sd / math.sqrt(n)
    low, high = mean_t_interval(mean, se, n - 1, alpha)
    return mean, se, low, high, sd
