"""Calendar periods in a time zone: checked instant by instant against zoneinfo."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from stickykit.core.periods import (
    PeriodMapper,
    local_offsets,
    period_index,
    period_of,
    period_start,
)
from stickykit.errors import ValidationError

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")


def near_local_midnights(zone: str) -> st.SearchStrategy[list[int]]:
    """Instants (2000-2030) within two hours of a local midnight of ``zone``, or on it.

    Period boundaries are local midnights (of the first of a month, for months and
    quarters), so this is where a wrong offset shows.
    """
    tz = zoneinfo.ZoneInfo(zone)

    def build(day: int, minutes: int, nudge: int) -> int:
        midnight = dt.datetime.combine(dt.date.fromordinal(day), dt.time(), tzinfo=tz)
        moment = midnight.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
        return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
            microseconds=1
        ) - nudge

    any_day = st.integers(dt.date(2000, 1, 1).toordinal(), dt.date(2030, 1, 1).toordinal())
    first_of_month = st.builds(
        lambda y, m: dt.date(y, m, 1).toordinal(), st.integers(2000, 2029), st.integers(1, 12)
    )
    one = st.builds(
        build,
        st.one_of(any_day, first_of_month),
        st.sampled_from((-120, -90, -60, -30, 0, 30, 60, 90, 120)),
        st.sampled_from((0, 1)),
    )
    return st.lists(one, min_size=1, max_size=30)


def reference_period(us: int, period: str, zone: str) -> int:
    """One instant's period, by the standard library (the slow, obvious way)."""
    local = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)).astimezone(
        zoneinfo.ZoneInfo(zone)
    )
    day = local.date()
    if period == "day":
        return (day - dt.date(1970, 1, 1)).days
    if period == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return (monday - dt.date(1969, 12, 29)).days // 7
    months = (day.year - 1970) * 12 + day.month - 1
    return months if period == "month" else months // 3


Indexer = Callable[[NDArray[np.datetime64], str, str], NDArray[np.int64]]


def real(t: NDArray[np.datetime64], period: str, zone: str) -> NDArray[np.int64]:
    return period_index(t, period, zone=zone)


def fixed_offset(t: NDArray[np.datetime64], period: str, zone: str) -> NDArray[np.int64]:
    """Broken: one offset (the first instant's) for every row, ignoring daylight saving."""
    one = local_offsets(t[:1], zone)[0]
    return period_index((t.view(np.int64) + one).astype("datetime64[us]"), period, zone="UTC")


def check_matches_zoneinfo(index: Indexer) -> None:
    @given(st.sampled_from(ZONES), st.sampled_from(("day", "week", "month", "quarter")), st.data())
    def prop(zone: str, period: str, data: st.DataObject) -> None:
        values = data.draw(near_local_midnights(zone))
        t = np.array(values, dtype=np.int64).astype("datetime64[us]")
        expected = [reference_period(v, period, zone) for v in values]
        assert index(t, period, zone).tolist() == expected

    prop()


def test_matches_zoneinfo() -> None:
    check_matches_zoneinfo(real)


def test_matches_zoneinfo_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_matches_zoneinfo(fixed_offset)


@given(st.sampled_from(ZONES), st.sampled_from(("day", "week", "month", "quarter")), st.data())
def test_monotone_in_time(zone: str, period: str, data: st.DataObject) -> None:
    values = data.draw(near_local_midnights(zone))
    t = np.sort(np.array(values, dtype=np.int64)).astype("datetime64[us]")
    assert (np.diff(period_index(t, period, zone=zone)) >= 0).all()


def test_daylight_saving_change_is_exact_to_the_microsecond() -> None:
    # Europe/Paris went from UTC+1 to UTC+2 at 2024-03-31 01:00:00 UTC
    change = np.datetime64("2024-03-31T01:00:00", "us")
    t = np.array([change - np.timedelta64(1, "us"), change], dtype="datetime64[us]")
    assert (local_offsets(t, "Europe/Paris") // 60_000_000).tolist() == [60, 120]


def test_empty_periods_are_gaps_not_shifts() -> None:
    t = np.array(["2024-01-10", "2024-03-10"], dtype="datetime64[us]")
    a, b = period_index(t, "month").tolist()
    assert b - a == 2


def test_period_start_round_trip() -> None:
    for period in ("day", "week", "month", "quarter"):
        idx = np.arange(-5, 200)
        starts = period_start(idx, period)
        back = period_index(np.array(starts, dtype="datetime64[us]"), period)
        assert back.tolist() == idx.tolist()
    assert {d.weekday() for d in period_start(np.arange(50), "week")} == {0}


def test_period_of_and_errors() -> None:
    assert period_of(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), "quarter") == 217
    with pytest.raises(ValueError, match="naive"):
        period_of(dt.datetime(2024, 5, 1), "day")
    with pytest.raises(ValueError, match="period must be one of"):
        period_index(np.zeros(1, "datetime64[us]"), "year")
    with pytest.raises(ValidationError, match="IANA"):
        period_index(np.zeros(1, "datetime64[us]"), "day", zone="Mars/Olympus")


def utc_day_bounds(mapper: PeriodMapper, start: int, stop: int) -> tuple[int, int]:
    """Broken: the periods of the first and last UTC day, ignoring the zone's offsets."""
    days = np.array([start, stop]) // 86_400_000_000 * 86_400_000_000
    lo, hi = period_index(days.astype("datetime64[us]"), mapper.period, zone="UTC").tolist()
    return lo, hi


def check_bounds_hold(bounds: Callable[[PeriodMapper, int, int], tuple[int, int]]) -> None:
    @given(st.sampled_from(ZONES), st.sampled_from(("day", "week", "month", "quarter")), st.data())
    def prop(zone: str, period: str, data: st.DataObject) -> None:
        values = np.array(data.draw(near_local_midnights(zone)), dtype=np.int64)
        start, stop = int(values.min()), int(values.max())
        mapper = PeriodMapper(period, zone, start, stop)
        lo, hi = bounds(mapper, start, stop)
        periods = mapper(values)
        assert (
            periods.tolist()
            == period_index(values.astype("datetime64[us]"), period, zone=zone).tolist()
        )
        assert lo <= periods.min() and periods.max() <= hi
        if zone == "UTC":
            assert (lo, hi) == (periods.min(), periods.max())

    prop()


def test_mapper_bounds_hold_every_period() -> None:
    """A mapper built for a span bounds the periods of its instants (exactly in UTC)."""
    check_bounds_hold(lambda mapper, start, stop: mapper.bounds)


def test_mapper_bounds_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_bounds_hold(utc_day_bounds)
