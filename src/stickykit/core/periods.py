r"""Calendar periods of instants, counted in a named time zone.

Behaviour measures count customers active per day, ISO week, month or quarter. A period is
an integer index on the local calendar of an IANA time zone (default UTC):

- ``"day"``: days since 1970-01-01 (local date);
- ``"week"``: ISO weeks (Monday to Sunday) since the week of Monday 1969-12-29;
- ``"month"``: months since January 1970;
- ``"quarter"``: calendar quarters since the first quarter of 1970.

Consecutive periods have consecutive indices, so an empty period is a gap in the index and
never shifts later periods (the defect of counting periods by row number).

Instants are ``datetime64[us]`` in UTC. Their local time is found with the zone's offsets,
computed once for the span of the data (not per row): the offset is sampled once a day and
each change is located to the microsecond by bisection, so daylight-saving transitions are
exact. Two changes of offset less than a day apart would be missed; daylight-saving rules
keep their changes months apart.

Examples
--------
>>> import numpy as np
>>> t = np.array(["2024-03-31T21:30", "2024-03-31T22:30"], dtype="datetime64[us]")
>>> period_index(t, "month").tolist()
[650, 650]
>>> period_index(t, "month", zone="Europe/Paris").tolist()  # 23:30 and 00:30 local
[650, 651]
>>> period_start(np.array([651]), "month").tolist()
[datetime.date(2024, 4, 1)]
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone

__all__ = [
    "PERIODS",
    "Period",
    "PeriodMapper",
    "check_period",
    "local_offsets",
    "period_index",
    "period_of",
    "period_start",
]

Period = Literal["day", "week", "month", "quarter"]
#: The period units, finest first.
PERIODS: tuple[str, ...] = get_args(Period)

_US_PER_DAY = 86_400_000_000
_STEP_US = 24 * 3_600_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# 1970-01-01 was a Thursday: day d lies in ISO week (d + 3) // 7, counted from Monday 1969-12-29
_MONDAY_SHIFT = 3


def check_period(value: str) -> Period:
    """``value`` if it names a period unit, else a ValueError listing the units.

    Examples
    --------
    >>> check_period("fortnight")
    Traceback (most recent call last):
    ...
    ValueError: period must be one of ('day', 'week', 'month', 'quarter'), got 'fortnight'
    """
    if value not in PERIODS:
        msg = f"period must be one of {PERIODS}, got {value!r}"
        raise ValueError(msg)
    return value  # type: ignore[return-value]


def _offset_us(zone: dt.tzinfo, instant_us: int) -> int:
    moment = _EPOCH + dt.timedelta(microseconds=instant_us)
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None  # an aware datetime always has one
    return offset // dt.timedelta(microseconds=1)


def _transitions(zone: dt.tzinfo, start_us: int, stop_us: int) -> tuple[list[int], list[int]]:
    """Instants where the zone's offset changes in ``[start, stop]`` and the offsets after."""
    times = [start_us]
    offsets = [_offset_us(zone, start_us)]
    t = start_us
    while t < stop_us:
        nxt = min(t + _STEP_US, stop_us)
        after = _offset_us(zone, nxt)
        if after != offsets[-1]:
            lo, hi = t, nxt  # offset(lo) is the old one, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_us(zone, mid) == offsets[-1]:
                    lo = mid
                else:
                    hi = mid
            times.append(hi)
            offsets.append(after)
        t = nxt
    return times, offsets


def _is_utc(tz: dt.tzinfo | None) -> bool:
    return tz is None or tz is dt.UTC or tz == zoneinfo.ZoneInfo("UTC")


def local_offsets(timestamps: NDArray[np.datetime64], zone: str | dt.tzinfo) -> NDArray[np.int64]:
    """The UTC offset of each instant in ``zone``, in microseconds.

    Parameters
    ----------
    timestamps : numpy.ndarray
        ``datetime64[us]`` instants in UTC.
    zone : str or tzinfo
        An IANA zone name such as ``"Europe/Paris"``, or a tzinfo.

    Examples
    --------
    >>> t = np.array(["2024-01-15T12:00", "2024-07-15T12:00"], dtype="datetime64[us]")
    >>> (local_offsets(t, "Europe/Paris") // 3_600_000_000).tolist()
    [1, 2]
    """
    us = timestamps.astype("datetime64[us]", copy=False).view(np.int64)
    tz = check_zone("period", zone)
    if len(us) == 0 or tz is None or _is_utc(tz):
        return np.zeros(len(us), dtype=np.int64)
    times, offsets = _transitions(tz, int(us.min()), int(us.max()))
    where = np.searchsorted(np.asarray(times, dtype=np.int64), us, side="right") - 1
    return np.asarray(offsets, dtype=np.int64)[where]


class PeriodMapper:
    """The calendar period of instants within a known span, in a named time zone.

    The zone's offsets over the span and the table from local day to period are computed once,
    when the mapper is made, so that it can be applied to many blocks of instants (each call
    makes arrays the size of its block only). :func:`period_index` is one mapper applied once.

    Parameters
    ----------
    period : {"day", "week", "month", "quarter"}
        The calendar unit.
    zone : str or tzinfo
        The time zone whose calendar counts.
    start_us, stop_us : int
        The first and last instant (microseconds since the epoch, UTC) it will be given.

    Attributes
    ----------
    bounds : tuple of int
        Periods that include every period of the span: exact in UTC; in other zones the first
        and last may be one day wider than the instants need (a lower and upper bound).

    Examples
    --------
    >>> t = np.array(["2024-01-31T23:00", "2024-02-01T01:00"], dtype="datetime64[us]").view(np.int64)
    >>> mapper = PeriodMapper("month", "UTC", int(t.min()), int(t.max()))
    >>> mapper.bounds, mapper(t).tolist()
    ((648, 649), [648, 649])
    """

    def __init__(self, period: str, zone: str | dt.tzinfo, start_us: int, stop_us: int) -> None:
        self.period = check_period(period)
        tz = check_zone("period", zone)
        self._times: NDArray[np.int64] | None = None
        self._offsets = np.zeros(1, dtype=np.int64)
        if not _is_utc(tz):
            assert tz is not None  # _is_utc(None) is True
            times, offsets = _transitions(tz, start_us, stop_us)
            self._times = np.asarray(times, dtype=np.int64)
            self._offsets = np.asarray(offsets, dtype=np.int64)
        # every local day of the span: the offset of any instant in it is one of these
        self._first_day = (start_us + int(self._offsets.min())) // _US_PER_DAY
        last_day = (stop_us + int(self._offsets.max())) // _US_PER_DAY
        span = np.arange(self._first_day, last_day + 1, dtype=np.int64)
        if self.period == "day":
            self._table = span
        elif self.period == "week":
            self._table = np.floor_divide(span + _MONDAY_SHIFT, 7)
        else:
            table = span.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            self._table = table if self.period == "month" else np.floor_divide(table, 3)
        self.bounds = (int(self._table[0]), int(self._table[-1]))

    def __call__(self, us: NDArray[np.int64]) -> NDArray[np.int64]:
        """The period index of each instant of ``us`` (int64 microseconds, UTC)."""
        if self._times is None:
            days = np.floor_divide(us, _US_PER_DAY)
        else:
            where = np.searchsorted(self._times, us, side="right")
            where -= 1
            days = self._offsets[where]
            days += us
            np.floor_divide(days, _US_PER_DAY, out=days)  # in place: one row-sized array
        if self.period == "day":
            return days
        # the span of days is small: map each day through the table, not row by row
        days -= self._first_day
        result: NDArray[np.int64] = self._table[days]
        return result


def period_index(
    timestamps: NDArray[np.datetime64], period: str, *, zone: str | dt.tzinfo = "UTC"
) -> NDArray[np.int64]:
    """The calendar period of each instant, as an integer index (see the module docstring).

    Parameters
    ----------
    timestamps : numpy.ndarray
        ``datetime64[us]`` instants in UTC.
    period : {"day", "week", "month", "quarter"}
        The calendar unit.
    zone : str or tzinfo
        The time zone whose calendar counts (default UTC).

    Examples
    --------
    >>> t = np.array(["2024-12-29", "2024-12-30", "2025-01-05"], dtype="datetime64[us]")
    >>> weeks = period_index(t, "week")
    >>> (weeks - weeks[0]).tolist()  # Sunday, then the Monday and Sunday of the next ISO week
    [0, 1, 1]
    >>> period_index(t, "quarter").tolist()
    [219, 219, 220]
    """
    check_period(period)
    check_zone("period", zone)
    us = timestamps.astype("datetime64[us]", copy=False).view(np.int64)
    if len(us) == 0:
        return np.zeros(0, dtype=np.int64)
    return PeriodMapper(period, zone, int(us.min()), int(us.max()))(us)


def period_start(index: NDArray[np.int64], period: str) -> NDArray[np.object_]:
    """The local date each period starts on (a Monday for weeks).

    Examples
    --------
    >>> period_start(np.array([0, 1]), "week").tolist()
    [datetime.date(1969, 12, 29), datetime.date(1970, 1, 5)]
    """
    unit = check_period(period)
    index = np.asarray(index, dtype=np.int64)
    if unit == "day":
        days = index.astype("datetime64[D]")
    elif unit == "week":
        days = (index * 7 - _MONDAY_SHIFT).astype("datetime64[D]")
    elif unit == "month":
        days = index.astype("datetime64[M]").astype("datetime64[D]")
    else:
        days = (index * 3).astype("datetime64[M]").astype("datetime64[D]")
    return days.astype(object)


def period_of(instant: dt.datetime, period: str, *, zone: str | dt.tzinfo = "UTC") -> int:
    """The period index of one aware datetime.

    Examples
    --------
    >>> period_of(dt.datetime(1970, 2, 1, tzinfo=dt.UTC), "month")
    1
    """
    if instant.tzinfo is None:
        msg = f"instant must be timezone-aware, got naive {instant!r}"
        raise ValueError(msg)
    us = (instant - _EPOCH) // dt.timedelta(microseconds=1)
    return int(period_index(np.array([us], dtype="datetime64[us]"), period, zone=zone)[0])
