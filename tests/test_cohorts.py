"""The cohort retention matrix: hand-computed cases, laws, properties and pandas on CDNOW.

Each property is a ``check_*`` function run on the real metric (must pass) and on a
deliberately broken variant (must raise AssertionError), so none of them cannot fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import stickykit
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.behaviour.cohorts import (
    CohortRetention,
    bitmask_cohort_counts,
    cohort_counts,
)
from stickykit.metrics.behaviour.retention import active_pairs
from stickykit.metrics.behaviour.summary import CustomerSummary, CustomerSummaryState
from stickykit.testing import check_metric, event_frames, results_close

#: Properties: 25 examples each keeps the file fast; negative controls fail on the explicit
#: example first, so no shrinking is needed.
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=25)
UTC = dt.UTC
JAN_2023 = np.datetime64("2023-01", "M")
#: A month matrix: cohort month (months since January 2023) -> counts at offsets 0, 1, ...
Rows = dict[int, list[int]]


def month_start(index: int) -> dt.datetime:
    day = (JAN_2023 + index).astype("datetime64[D]").item()
    return dt.datetime(day.year, day.month, 1, tzinfo=UTC)


def events(customers: list[Any], months: list[int], day: int = 3) -> EventFrame:
    stamps = (JAN_2023 + np.array(months)).astype("datetime64[D]") + (day - 1)
    return EventFrame(
        event_id=np.arange(len(customers)),
        customer_id=np.array(customers),
        timestamp=stamps.astype("datetime64[us]"),
    )


def run(metric: Any, frame: EventFrame, as_of: dt.datetime | None = None) -> MetricResult:
    result: MetricResult = metric.finalize(metric.update(metric.init(), frame), as_of)
    return result


@st.composite
def month_draws(draw: Any, *, max_rows: int = 30, customers: int = 8, months: int = 6) -> Any:
    """(customer, month, day) columns: events on days 1-28 of ``months`` months."""
    n = draw(st.integers(1, max_rows))
    return (
        draw(hnp.arrays(np.int64, n, elements=st.integers(0, customers - 1))),
        draw(hnp.arrays(np.int64, n, elements=st.integers(0, months - 1))),
        draw(hnp.arrays(np.int64, n, elements=st.integers(0, 27))),
    )


def frame_of(customer: Any, month: Any, day: Any) -> EventFrame:
    stamps = (JAN_2023 + np.asarray(month)).astype("datetime64[D]") + np.asarray(day)
    return EventFrame(
        event_id=np.arange(len(customer)),
        customer_id=np.asarray(customer),
        timestamp=stamps.astype("datetime64[us]"),
    )


def month_numbers(dates: Any) -> list[int]:
    months = np.asarray(dates).astype("datetime64[M]") - JAN_2023
    return [int(m) for m in months.astype(np.int64)]


# -- hand-computed cases --------------------------------------------------------------------

#: January cohort {1, 2}: 1 back in March, 2 in February. February cohort {3}: 3 again in
#: April. March: nobody new. Observed to the end of April.
HAND = events([1, 2, 1, 3, 2, 3], [0, 0, 2, 1, 1, 3])


def test_hand_computed_n_period() -> None:
    r = run(CohortRetention(), HAND, as_of=month_start(4))
    t = r.tables
    assert t["cohort_start"].astype(str).tolist() == [
        "2023-01-01",
        "2023-02-01",
        "2023-03-01",
        "2023-04-01",
    ]
    assert t["size"].tolist() == [2, 1, 0, 0]
    assert t["count"].tolist() == [[2, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    nan = np.nan
    expected = [[1, 0.5, 0.5, 0], [1, 0, 1, nan], [nan] * 4, [nan] * 4]
    np.testing.assert_array_equal(t["rate"], expected)
    assert t["observable"].tolist() == [
        [True, True, True, True],
        [True, True, True, False],
        [True, True, False, False],
        [True, False, False, False],
    ]
    assert not t["partial"].any()
    # pooled over cohorts with customers and an observable cell: offset 1 is 1/3
    assert t["pooled_count"].tolist()[:3] == [3, 1, 2]
    assert t["pooled_size"].tolist()[:3] == [3, 3, 3]
    assert r.value == pytest.approx(1 / 3) and r.n == 3
    assert r.details["empty_cohorts"] == 2.0 and r.flags == ()


def test_hand_computed_unbounded_and_brackets() -> None:
    unbounded = run(CohortRetention(mode="unbounded"), HAND, as_of=month_start(4)).tables
    assert unbounded["count"].tolist()[:2] == [[2, 2, 1, 0], [1, 1, 1, 0]]
    brackets = CohortRetention(mode="bracket", brackets=((0, 0), (1, 2), (3, 5)))
    t = run(brackets, HAND, as_of=month_start(4)).tables
    assert t["offset"].tolist() == [0, 1, 3] and t["offset_end"].tolist() == [0, 2, 5]
    assert t["count"].tolist()[:2] == [[2, 2, 0], [1, 1, 0]]
    # January's (3, 5) bracket has begun (April) but runs to June; February's starts in May
    assert t["observable"][:2].tolist() == [[True, True, False], [True, True, False]]
    assert t["partial"][:2].tolist() == [[False, False, True], [False, False, False]]
    assert np.isnan(t["rate"][0, 2])


def test_partial_period_marked() -> None:
    """Mid-April: April's cells are partial (counted so far, rate NaN)."""
    r = run(CohortRetention(), HAND, as_of=dt.datetime(2023, 4, 20, tzinfo=UTC))
    t = r.tables
    assert t["partial"].tolist()[0] == [False, False, False, True]
    assert t["partial"].tolist()[1] == [False, False, True, False]
    assert t["count"][1, 2] == 1 and np.isnan(t["rate"][1, 2])
    assert r.flags == (
        "the month starting 2023-04-01 contains as_of: its cells are partial and masked",
    )
    default = run(CohortRetention(), HAND)  # just after the last event, also in April
    assert results_close(default, attrs.evolve(r, as_of=default.as_of, params=default.params))


def test_zone_moves_the_acquisition_period() -> None:
    """23:30 UTC on 31 January is February in Paris: the cohort follows the zone."""
    f = EventFrame(
        event_id=np.arange(2),
        customer_id=np.array([1, 1]),
        timestamp=np.array(["2023-01-31T23:30", "2023-03-05T12:00"], dtype="datetime64[us]"),
    )
    as_of = dt.datetime(2023, 4, 1, tzinfo=UTC)
    utc = run(CohortRetention(), f, as_of=as_of).tables
    paris = run(CohortRetention(zone="Europe/Paris"), f, as_of=as_of).tables
    assert str(utc["cohort_start"][0]) == "2023-01-01" and utc["count"][0].tolist()[:3] == [1, 0, 1]
    assert str(paris["cohort_start"][0]) == "2023-02-01" and paris["count"][0].tolist()[:2] == [
        1,
        1,
    ]


def test_iso_weeks_and_quarters() -> None:
    f = EventFrame(
        event_id=np.arange(3),
        customer_id=np.array([1, 1, 2]),
        timestamp=np.array(["2024-12-29", "2024-12-30", "2025-01-06"], dtype="datetime64[us]"),
    )
    weeks = run(CohortRetention(period="week"), f, as_of=dt.datetime(2025, 1, 13, tzinfo=UTC))
    assert weeks.tables["cohort_start"].astype(str).tolist() == [
        "2024-12-23",
        "2024-12-30",
        "2025-01-06",
    ]
    assert weeks.tables["count"][0].tolist() == [1, 1, 0]
    quarters = run(CohortRetention(period="quarter"), f, as_of=dt.datetime(2025, 4, 1, tzinfo=UTC))
    assert quarters.tables["size"].tolist() == [1, 1]
    assert quarters.tables["count"][0].tolist() == [1, 0]  # both of 1's events in 2024 Q4


def test_returns_do_not_acquire() -> None:
    f = attrs.evolve(events([1, 1], [0, 1]), amount=np.array([-5.0, 10.0]))
    t = run(CohortRetention(), f, as_of=month_start(2)).tables
    assert t["cohort_start"].astype(str).tolist() == ["2023-02-01"]


def test_bad_parameters_and_empty() -> None:
    with pytest.raises(ValueError, match="needs brackets"):
        CohortRetention(mode="bracket")
    with pytest.raises(ValueError, match="only used with mode='bracket'"):
        CohortRetention(brackets=((0, 1),))
    with pytest.raises(ValueError, match="0 <= lo <= hi"):
        CohortRetention(mode="bracket", brackets=((2, 1),))
    with pytest.raises(ValueError, match="mode"):
        CohortRetention(mode="rolling")  # type: ignore[arg-type]
    with pytest.raises(InsufficientDataError):
        CohortRetention().finalize(CohortRetention().init())
    assert CohortRetention(mode="bracket", brackets=[[0, 0], [1, 3]]).brackets == ((0, 0), (1, 3))


def test_only_offset_zero_has_no_value() -> None:
    r = run(CohortRetention(), events([1, 2], [0, 0]), as_of=month_start(1))
    assert np.isnan(r.value) and r.flags == ("no observable cell after offset 0",)


# -- laws ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        CohortRetention(),
        CohortRetention(period="week", zone="Europe/Paris", kinds=("purchase",)),
        CohortRetention(period="day", mode="bracket", brackets=((0, 6), (7, 29), (30, 89))),
        CohortRetention(period="week", mode="unbounded"),
        CohortRetention(period="quarter", mode="bracket", brackets=((0, 0), (1, 2), (3, 6))),
    ],
    ids=["month", "week-paris", "day-bracket", "week-unbounded", "quarter-bracket"],
)
def test_laws(metric: CohortRetention) -> None:
    check_metric(metric, max_examples=8)


# -- property: inserting an empty period never shifts a cohort's columns ----------------------


def ours(frame: EventFrame, as_of: dt.datetime) -> Rows:
    t = run(CohortRetention(), frame, as_of).tables
    cohorts = month_numbers(t["cohort_start"])
    return {c: t["count"][i].tolist() for i, c in enumerate(cohorts) if t["size"][i] > 0}


def row_count_recipe(frame: EventFrame, as_of: dt.datetime) -> Rows:
    """The much-copied pandas recipe: offsets numbered by row count within each cohort."""
    del as_of
    df = pd.DataFrame({"c": frame.customer_id, "t": frame.timestamp})
    df["period"] = df["t"].dt.to_period("M")
    df["cohort"] = df.groupby("c")["period"].transform("min")
    table = df.groupby(["cohort", "period"])["c"].nunique().reset_index()
    table["offset"] = table.groupby("cohort").cumcount()
    out: Rows = {}
    for (cohort, offset), users in zip(
        zip(table["cohort"], table["offset"], strict=True), table["c"], strict=True
    ):
        row = out.setdefault(int(cohort.ordinal - pd.Period("2023-01", "M").ordinal), [])
        row.extend([0] * (offset + 1 - len(row)))
        row[offset] = int(users)
    return out


def check_empty_period_keeps_columns(matrix: Callable[[EventFrame, dt.datetime], Rows]) -> None:
    """Moving every event from month b on one month later (so b is empty) leaves cohorts before
    b unchanged up to b, gives them a zero column at b and moves later columns by one; cohorts
    from b on move down one row unchanged."""

    @NO_SHRINK
    @given(month_draws(), st.integers(1, 5))
    @example(([1, 1, 2], [0, 1, 2], [0, 0, 0]), 1)
    def prop(draws: Any, b: int) -> None:
        customer, month, day = (np.asarray(x) for x in draws)
        before = matrix(frame_of(customer, month, day), month_start(6))
        after = matrix(frame_of(customer, month + (month >= b), day), month_start(7))
        for c, row in before.items():
            if c >= b:
                assert after[c + 1][: len(row)] == row
                continue
            gap = b - c
            new = after[c]
            padded = new + [0] * (len(row) + 1 - len(new))
            assert padded[:gap] == row[:gap]
            assert padded[gap] == 0
            assert padded[gap + 1 : len(row) + 1] == row[gap:]

    prop()


def test_empty_period_keeps_columns() -> None:
    check_empty_period_keeps_columns(ours)


def test_empty_period_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_empty_period_keeps_columns(row_count_recipe)


# -- property: not-yet-observable cells are masked, never zero ---------------------------------


def check_masked_not_zero(metric: CohortRetention) -> None:
    """observable = the cell's last period ended before as_of; unobservable cells have NaN
    rates; observable cells of non-empty cohorts have the finite rate count / size, zero
    included."""

    @NO_SHRINK
    @given(month_draws(), st.integers(0, 40))
    @example(([1, 2, 1, 3], [0, 0, 1, 2], [0, 0, 0, 0]), 0)
    def prop(draws: Any, as_of_day: int) -> None:
        as_of = month_start(6) + dt.timedelta(days=as_of_day)
        t = run(metric, frame_of(*draws), as_of).tables
        n = len(t["size"])
        last_complete = month_numbers(t["cohort_start"])[0] + n - 1
        if as_of.day != 1:
            last_complete -= 1
        cohort = np.array(month_numbers(t["cohort_start"]))
        reach = cohort[:, None] + t["offset_end"][None, :]
        assert (t["observable"] == (reach <= last_complete)).all()
        assert np.isnan(t["rate"][~t["observable"]]).all()
        filled = t["observable"] & (t["size"][:, None] > 0)
        expected = t["count"] / np.maximum(t["size"], 1)[:, None]
        np.testing.assert_allclose(t["rate"][filled], expected[filled], rtol=1e-12)

    prop()


@attrs.frozen
class ZeroFilled(CohortRetention):
    """Broken: every cell of a non-empty cohort gets count / size, future cells 0."""

    def matrix(self, state: CustomerSummaryState, as_of_us: int) -> Any:
        table, last, partial = super().matrix(state, as_of_us)
        sizes = table["size"][:, None]
        table["rate"] = np.where(sizes > 0, table["count"] / np.maximum(sizes, 1), np.nan)
        return table, last, partial


@attrs.frozen
class NanForBoth(CohortRetention):
    """Broken: NaN for 'nobody active' as for 'not yet observed' (one sentinel for both)."""

    def matrix(self, state: CustomerSummaryState, as_of_us: int) -> Any:
        table, last, partial = super().matrix(state, as_of_us)
        table["rate"] = np.where(table["count"] > 0, table["rate"], np.nan)
        return table, last, partial


def test_masked_not_zero() -> None:
    check_masked_not_zero(CohortRetention())
    check_masked_not_zero(CohortRetention(mode="bracket", brackets=((0, 1), (2, 4))))


@pytest.mark.parametrize("broken", [ZeroFilled(), NanForBoth()], ids=["zero", "nan"])
def test_masked_not_zero_negative_control(broken: CohortRetention) -> None:
    with pytest.raises(AssertionError):
        check_masked_not_zero(broken)


# -- property: row order never matters -----------------------------------------------------------


def first_row_sizes(frame: EventFrame) -> dict[int, int]:
    """Broken: a customer's cohort is the month of their first row (drop_duplicates keeps it)."""
    df = pd.DataFrame({"c": frame.customer_id, "t": frame.timestamp})
    first = df.drop_duplicates("c", keep="first")
    months = month_numbers(first["t"].to_numpy())
    return {int(m): months.count(m) for m in set(months)}


def our_sizes(frame: EventFrame) -> dict[int, int]:
    t = run(CohortRetention(), frame, month_start(6)).tables
    return {
        c: int(s) for c, s in zip(month_numbers(t["cohort_start"]), t["size"], strict=True) if s
    }


def check_row_order_free(sizes: Callable[[EventFrame], dict[int, int]]) -> None:
    """Cohort sizes of a permuted frame equal those of the frame."""

    @NO_SHRINK
    @given(month_draws(), st.randoms(use_true_random=False))
    @example(([1, 1], [1, 0], [0, 0]), None)
    def prop(draws: Any, rng: Any) -> None:
        frame = frame_of(*draws)
        order = list(range(len(frame)))
        if rng is None:
            order.reverse()
        else:
            rng.shuffle(order)
        assert sizes(frame.take(np.array(order, dtype=np.intp))) == sizes(frame)

    prop()


def test_row_order_free() -> None:
    check_row_order_free(our_sizes)


def test_row_order_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_row_order_free(first_row_sizes)


# -- property: the three modes agree where they must -------------------------------------------


@settings(max_examples=25)
@given(month_draws())
def test_modes_agree(draws: Any) -> None:
    """n_period <= unbounded, unbounded never rises with k, one-period brackets are n_period,
    and a bracket (k, last) is unbounded at k; offset 0 is the cohort itself."""
    frame = frame_of(*draws)
    as_of = month_start(6)
    n_period = run(CohortRetention(), frame, as_of).tables
    unbounded = run(CohortRetention(mode="unbounded"), frame, as_of).tables
    n = len(n_period["size"])
    ones = tuple((k, k) for k in range(n))
    tails = tuple((k, n) for k in range(n))
    one = run(CohortRetention(mode="bracket", brackets=ones), frame, as_of).tables
    tail = run(CohortRetention(mode="bracket", brackets=tails), frame, as_of).tables
    assert (n_period["count"] <= unbounded["count"]).all()
    assert (np.diff(unbounded["count"], axis=1) <= 0).all()
    np.testing.assert_array_equal(one["count"], n_period["count"])
    np.testing.assert_array_equal(tail["count"], unbounded["count"])
    assert (n_period["count"][:, 0] == n_period["size"]).all()
    assert (n_period["count"] <= n_period["size"][:, None]).all()


def test_cohort_counts_kernel() -> None:
    counts = cohort_counts(
        np.array([0, 0, 1]),
        np.array([2, 0, 1]),
        np.array([0, 0, 1, 2]),
        np.array([0, 2, 0, 1]),
        3,
        "n_period",
    )
    assert counts.tolist() == [[2, 0, 1], [1, 0, 0], [0, 0, 0]]


# -- CDNOW ---------------------------------------------------------------------------------------


def pandas_matrix(frame: EventFrame, freq: str) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """Cohort sizes and the N-period and unbounded count matrices, on calendar offsets."""
    df = pd.DataFrame({"c": frame.customer_id, "t": frame.timestamp})
    df["p"] = df["t"].dt.to_period(freq)
    df["cohort"] = df.groupby("c")["p"].transform("min")
    df["k"] = (df["p"] - df["cohort"]).map(lambda offset: offset.n)
    sizes = df.groupby("cohort")["c"].nunique()
    columns = range(int(df["k"].max()) + 1)
    n_period = df.pivot_table(
        index="cohort", columns="k", values="c", aggfunc="nunique", fill_value=0
    ).reindex(columns=columns, fill_value=0)
    last = df.groupby("c").agg(cohort=("cohort", "first"), k=("k", "max")).reset_index()
    spread = last.pivot_table(
        index="cohort", columns="k", values="c", aggfunc="count", fill_value=0
    ).reindex(columns=columns, fill_value=0)
    unbounded = spread.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
    return sizes, n_period, unbounded


@pytest.mark.parametrize("freq", ["M", "W-SUN"], ids=["month", "week"])
def test_cdnow_matches_pandas(freq: str) -> None:
    """The CDNOW sample (cohorts January-March 1997) against pandas on calendar offsets."""
    frame = stickykit.datasets.load_cdnow(sample=True)
    period = "month" if freq == "M" else "week"
    as_of = dt.datetime(1998, 7, 1, tzinfo=UTC) if period == "month" else None
    sizes, n_period, unbounded = pandas_matrix(frame, freq)
    ours_n = stickykit.compute(CohortRetention(period=period), frame, as_of=as_of).tables
    ours_u = stickykit.compute(
        CohortRetention(period=period, mode="unbounded"), frame, as_of=as_of
    ).tables
    present = ours_n["size"] > 0
    assert ours_n["size"][present].tolist() == sizes.tolist()
    cols = n_period.shape[1]
    np.testing.assert_array_equal(ours_n["count"][present][:, :cols], n_period.to_numpy())
    np.testing.assert_array_equal(ours_u["count"][present][:, :cols], unbounded.to_numpy())
    observed = ours_n["observable"][present]
    expected = n_period.to_numpy() / sizes.to_numpy()[:, None]
    rate = ours_n["rate"][present][:, :cols]
    np.testing.assert_allclose(rate[observed[:, :cols]], expected[observed[:, :cols]], rtol=1e-12)


def test_cdnow_all_modes_and_chunks() -> None:
    """Every mode and period runs on CDNOW; chunked input gives the same matrix."""
    frame = stickykit.datasets.load_cdnow(sample=True)
    for metric in (
        CohortRetention(period="quarter"),
        CohortRetention(period="day", mode="bracket", brackets=((0, 6), (7, 29), (30, 89))),
        CohortRetention(period="week", mode="unbounded"),
        CohortRetention(mode="bracket", brackets=((0, 0), (1, 2), (3, 5), (6, 11))),
    ):
        one = stickykit.compute(metric, frame)
        assert results_close(one, stickykit.compute(metric, frame, chunk_rows=1000))
        assert one.tables["size"].sum() == 2357
    months = stickykit.compute(CohortRetention(), frame)
    # June 1998 holds as_of: its cells (cohort + offset = June 1998) are partial, masked
    partial = months.tables["partial"]
    assert partial.sum() == 18 and partial[0, 17] and not months.tables["observable"][0, 17]
    assert np.isnan(months.tables["rate"][0, 17]) and months.tables["count"][0, 17] > 0


@given(event_frames(min_rows=1), st.sampled_from(("day", "week", "month")))
def test_bitmask_counts_equal_pair_counts(f: EventFrame, period: str) -> None:
    """Reading the bitmask period by period gives the counts of the listed active pairs."""
    m = CustomerSummary(period=period)  # type: ignore[arg-type]
    s = m.update(m.init(), f)
    lo, hi = s.period_range()
    first_periods = np.array([lo + int(np.argmax(row)) for row in s.active_matrix(lo, hi)])
    last_periods = np.array([hi - int(np.argmax(row[::-1])) for row in s.active_matrix(lo, hi)])
    cohort, last_active = first_periods - lo, last_periods - lo
    n = hi - lo + 1
    rows, periods = active_pairs(s, lo, hi)
    for mode, brackets in (("n_period", None), ("unbounded", None), ("bracket", ((0, 0), (1, 3)))):
        expected = cohort_counts(cohort, last_active, rows, periods - lo, n, mode, brackets)
        got = bitmask_cohort_counts(s, cohort, last_active, lo, n, mode, brackets)
        assert got.tolist() == expected.tolist()
