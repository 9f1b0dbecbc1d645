"""Repurchase: hand-computed cases, a pandas oracle, properties with negative controls, CDNOW."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from stickykit import compute
from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError, StateMismatchError
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour._days import active_days
from stickykit.metrics.behaviour.repurchase import (
    CohortRepeatRate,
    InterPurchaseTime,
    OrdersPerCustomer,
    RepeatCustomerRate,
    purchase_gaps,
)
from stickykit.metrics.behaviour.summary import CustomerSummary
from stickykit.testing import check_metric, chunks_at, event_frames, split_points

DAY_US = 86_400_000_000
START_US = 852_076_800_000_000  # 1997-01-01T00:00Z


#: Negative controls: the broken formula must fail; no shrinking, the failure is the point.
BROKEN = settings(max_examples=200, phases=[Phase.generate], derandomize=True, database=None)


def frame(ids: list[int], times: list[str], kinds: list[str] | None = None) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids, dtype=np.int64),
        timestamp=np.array(times, dtype="datetime64[us]"),
        kind=None if kinds is None else np.array(kinds),
    )


def run(metric: Any, f: EventFrame, **kwargs: Any) -> Any:
    return metric.finalize(metric.update(metric.init(), f), **kwargs)


@st.composite
def dense_events(draw: Any, min_rows: int = 1, max_rows: int = 50) -> EventFrame:
    """Purchases of a few customers over ten weeks: many customers with several days."""
    n = draw(st.integers(min_rows, max_rows))
    customers = draw(st.integers(1, 8))
    ids = draw(hnp.arrays(np.int64, n, elements=st.integers(0, customers - 1), fill=st.nothing()))
    times = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 70 * DAY_US), fill=st.nothing()))
    return EventFrame(
        event_id=np.arange(n),
        customer_id=ids,
        timestamp=(times + START_US).astype("datetime64[us]"),
    )


# -- laws ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        RepeatCustomerRate(),
        RepeatCustomerRate(start="1998-01-01", end="1999-01-01", zone="America/New_York"),
        CohortRepeatRate(within_days=30),
        CohortRepeatRate(start="1997-06-01", end="1998-06-01", kinds=None),
        OrdersPerCustomer(),
        InterPurchaseTime(end="1998-07-01"),
    ],
    ids=lambda m: m.name,
)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=15)


def test_states_of_different_windows_refuse_to_merge() -> None:
    a, b = RepeatCustomerRate(), RepeatCustomerRate(end="1998-01-01")
    with pytest.raises(StateMismatchError):
        a.merge(a.init(), b.init())


# -- hand-computed cases ---------------------------------------------------------------------

HAND = frame(
    [1, 1, 1, 2, 3, 4, 4],
    [
        "2024-01-01T09:00",
        "2024-01-01T18:00",  # same day: one purchase
        "2024-01-11",
        "2024-01-02",
        "2024-01-05",
        "2024-01-03T10:00",
        "2024-01-03T23:30",  # 00:30 on the 4th in Paris
    ],
)


def test_repeat_rate_by_hand() -> None:
    """Days: customer 1 {1, 11}, 2 {2}, 3 {5}, 4 {3}: one repeater of four."""
    r = run(RepeatCustomerRate(), HAND)
    assert r.value == 0.25 and r.n == 4
    assert r.details == {"customers": 4.0, "repeat_customers": 1.0, "one_time_customers": 3.0}
    low, high = r.ci_low, r.ci_high
    z = stats.norm.ppf(0.975)
    centre = (0.25 + z * z / 8) / (1 + z * z / 4)
    half = z * np.sqrt(0.25 * 0.75 / 4 + z * z / 64) / (1 + z * z / 4)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert r.params["window"] == ("2024-01-01", "2024-01-11")


def test_repeat_rate_window_and_zone() -> None:
    assert run(RepeatCustomerRate(start="2024-01-02"), HAND).value == 0.0  # 1 keeps only the 11th
    assert run(RepeatCustomerRate(end=dt.date(2024, 1, 11)), HAND).value == 0.0
    assert run(RepeatCustomerRate(zone="Europe/Paris"), HAND).value == 0.5  # 4 now on 3rd and 4th


def test_cohort_repeat_rate_by_hand() -> None:
    """First days 1, 2, 5, 3; only customer 1 buys again, 10 days later."""
    assert run(CohortRepeatRate(within_days=9), HAND).value == 0.0
    as_of = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)  # last complete day: 31 January
    r = run(CohortRepeatRate(within_days=10), HAND, as_of=as_of)
    assert (r.value, r.n, r.n_missing) == (0.25, 4, 0)
    # by the 11th, the last day of data, only customer 1's 10 days are over
    r = run(CohortRepeatRate(within_days=10), HAND)
    assert (r.value, r.n, r.n_missing) == (1.0, 1, 3)
    r = run(CohortRepeatRate(within_days=11), HAND)
    assert np.isnan(r.value) and (r.n, r.n_missing) == (0, 4)
    assert any("not yet observable" in flag for flag in r.flags)
    # a cohort of the 2nd to the 4th: customers 2 and 4; 3 joined later, 1 earlier
    r = run(CohortRepeatRate(within_days=5, start="2024-01-02", end="2024-01-05"), HAND)
    assert (r.value, r.n, r.n_missing) == (0.0, 2, 0)
    assert r.tables["customers"].tolist() == [2] and r.tables["rate"].tolist() == [0.0]


def test_orders_per_customer_by_hand() -> None:
    r = run(OrdersPerCustomer(), HAND)
    counts = np.array([2, 1, 1, 1])
    low, high = stats.t.interval(0.95, 3, loc=counts.mean(), scale=stats.sem(counts))
    assert r.value == 1.25 and r.n == 4
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high))
    assert r.tables["orders"].tolist() == [1, 2] and r.tables["customers"].tolist() == [3, 1]
    assert r.details["one_time_share"] == 0.75 and r.details["median"] == 1.0


def test_interpurchase_time_by_hand() -> None:
    f = frame(
        [1, 1, 1, 2, 2], ["2024-01-01", "2024-01-04", "2024-01-05", "2024-01-02", "2024-01-09"]
    )
    r = run(InterPurchaseTime(), f)
    assert sorted(np.repeat(r.tables["gap_days"], r.tables["gaps"]).tolist()) == [1, 3, 7]
    assert r.value == 3.0 and r.n == 3 and r.details["customers_with_gaps"] == 2.0
    assert r.details["mean"] == pytest.approx(11 / 3)
    r = run(InterPurchaseTime(start="2024-01-05"), f)  # one purchase day each from the 5th
    assert r.n == 0 and np.isnan(r.value) and r.flags


def test_kinds_filter() -> None:
    f = frame([1, 1], ["2024-01-01", "2024-01-02"], kinds=["purchase", "visit"])
    assert run(RepeatCustomerRate(), f).value == 0.0
    assert run(RepeatCustomerRate(kinds=None), f).value == 1.0


def test_errors_and_flags() -> None:
    m = RepeatCustomerRate()
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())
    with pytest.raises(InsufficientDataError, match="no observed day"):
        run(RepeatCustomerRate(start="2030-01-01"), HAND)
    with pytest.raises(TypeError, match="calendar date"):
        RepeatCustomerRate(start=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match=r"end .* must be after start"):
        RepeatCustomerRate(start="2024-02-01", end="2024-02-01")
    with pytest.raises(ValueError, match="IANA"):
        RepeatCustomerRate(zone="Mars/Olympus")
    with pytest.raises(ValueError, match="alpha"):
        RepeatCustomerRate(alpha=1.5)
    r = run(RepeatCustomerRate(end="2030-01-01"), HAND)
    assert any("window ends after the last complete day" in flag for flag in r.flags)
    # an explicit as_of inside a day: that partial day is left out, with a flag
    r = run(RepeatCustomerRate(), HAND, as_of=dt.datetime(2024, 1, 11, 12, tzinfo=dt.UTC))
    assert r.value == 0.0 and r.params["window"][1] == "2024-01-10"
    assert any("left out" in flag for flag in r.flags)


# -- a pandas oracle -------------------------------------------------------------------------


def purchase_days(f: EventFrame) -> pd.DataFrame:
    days = pd.DataFrame({"c": f.customer_id, "d": f.timestamp.astype("datetime64[D]")})
    return days.drop_duplicates().sort_values(["c", "d"])


@given(dense_events())
def test_matches_pandas(f: EventFrame) -> None:
    days = purchase_days(f)
    per = days.groupby("c").size()
    assert run(RepeatCustomerRate(), f).value == pytest.approx((per >= 2).mean())
    r = run(OrdersPerCustomer(), f)
    assert r.value == pytest.approx(per.mean())
    assert r.tables["customers"].tolist() == [
        int((per == k).sum()) for k in range(1, per.max() + 1)
    ]
    gaps = days.groupby("c")["d"].diff().dropna().dt.days.to_numpy()
    r = run(InterPurchaseTime(), f)
    assert np.repeat(r.tables["gap_days"], r.tables["gaps"]).tolist() == sorted(gaps.tolist())
    if len(gaps):
        assert r.value == np.median(gaps)
    rank = days.groupby("c").cumcount()
    first = days[rank == 0].set_index("c")["d"]
    second = days[rank == 1].set_index("c")["d"].reindex(first.index)
    last = days["d"].max()
    k = 14
    observable = first + pd.Timedelta(days=k) <= last
    repeat = (second - first).dt.days <= k
    r = run(CohortRepeatRate(within_days=k), f)
    assert (r.n, r.n_missing) == (int(observable.sum()), int((~observable).sum()))
    if observable.any():
        assert r.value == pytest.approx(repeat[observable].mean())


# -- properties and their negative controls --------------------------------------------------


def assert_rate_in_unit(rate: float) -> None:
    assert np.isnan(rate) or 0.0 <= rate <= 1.0


def repeat_purchases_per_customer(f: EventFrame) -> float:
    """Broken: repeat purchases (events after the first) per customer, not a share."""
    _, counts = np.unique(f.customer_id, return_counts=True)
    return float((counts - 1).sum() / len(counts))


@given(event_frames(min_rows=1))
def test_rates_in_unit_interval(f: EventFrame) -> None:
    assert_rate_in_unit(run(RepeatCustomerRate(kinds=None), f).value)
    assert_rate_in_unit(run(CohortRepeatRate(kinds=None, within_days=60), f).value)


def test_rate_in_unit_rejects_a_count_per_customer() -> None:
    @BROKEN
    @given(dense_events())
    def broken(f: EventFrame) -> None:
        assert_rate_in_unit(repeat_purchases_per_customer(f))

    with pytest.raises(AssertionError):
        broken()


def assert_gaps_consistent(gaps: np.ndarray, f: EventFrame) -> None:
    """Gaps are >= 1 day and there are sum over customers of (purchase days - 1)."""
    per = purchase_days(f).groupby("c").size()
    assert (gaps >= 1).all()
    assert len(gaps) == int((per - 1).sum())


def gaps_of(metric: InterPurchaseTime, state: Any) -> np.ndarray:
    first, last = state.period_range()
    return purchase_gaps(*active_days(state, first, last))[0]


@given(dense_events(), st.data())
def test_gaps_consistent_across_chunks(f: EventFrame, data: st.DataObject) -> None:
    m = InterPurchaseTime()
    cuts = data.draw(split_points(len(f)))
    state = m.init()
    for chunk in chunks_at(f, cuts):
        state = m.merge(state, m.update(m.init(), chunk))
    assert_gaps_consistent(gaps_of(m, state), f)
    assert int(m.finalize(state).tables["gaps"].sum()) == int(
        (purchase_days(f).groupby("c").size() - 1).sum()
    )


def test_gaps_property_rejects_per_chunk_gaps() -> None:
    """Broken: gaps computed within each chunk and concatenated (a customer's gap across a
    chunk boundary is lost, a day bought in both chunks is counted twice)."""
    m = InterPurchaseTime()

    @BROKEN
    @given(dense_events(min_rows=10), st.data())
    def broken(f: EventFrame, data: st.DataObject) -> None:
        cuts = sorted(data.draw(st.lists(st.integers(1, len(f) - 1), min_size=1, max_size=4)))
        parts = [gaps_of(m, m.update(m.init(), c)) for c in chunks_at(f, cuts) if len(c)]
        assert_gaps_consistent(np.concatenate(parts), f)

    with pytest.raises(AssertionError):
        broken()


def gaps_in_row_order(f: EventFrame) -> np.ndarray:
    """Broken: differences of purchase days in row order (assumes sorted input)."""
    order = np.argsort(f.customer_id, kind="stable")
    ids, days = f.customer_id[order], f.timestamp[order].astype("datetime64[D]").astype(np.int64)
    keep = np.ones(len(ids), bool)
    keep[1:] = (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])
    ids, days = ids[keep], days[keep]
    return np.diff(days)[ids[1:] == ids[:-1]]


def test_gaps_property_rejects_row_order_gaps() -> None:
    @BROKEN
    @given(dense_events())
    def broken(f: EventFrame) -> None:
        assert_gaps_consistent(gaps_in_row_order(f), f)

    with pytest.raises(AssertionError):
        broken()


def assert_order_free(fn: Any, f: EventFrame, order: list[int]) -> None:
    a, b = fn(f), fn(f.take(np.asarray(order, dtype=np.intp)))
    assert np.array_equal(np.sort(a), np.sort(b)) if isinstance(a, np.ndarray) else a == b


def described(metric: Any, f: EventFrame) -> str:
    r = run(metric, f)
    return str(r) + repr({k: v.tolist() for k, v in r.tables.items()})


@given(dense_events(), st.data())
def test_row_order_never_matters(f: EventFrame, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(len(f))))
    for metric in (InterPurchaseTime(), CohortRepeatRate(within_days=7), OrdersPerCustomer()):
        assert_order_free(lambda g, m=metric: described(m, g), f, order)


def test_row_order_property_rejects_row_order_gaps() -> None:
    @BROKEN
    @given(dense_events(), st.data())
    def broken(f: EventFrame, data: st.DataObject) -> None:
        order = data.draw(st.permutations(range(len(f))))
        assert_order_free(lambda g: np.sort(gaps_in_row_order(g)).tolist(), f, order)

    with pytest.raises(AssertionError):
        broken()


# -- CDNOW -----------------------------------------------------------------------------------


def test_cdnow_sample() -> None:
    """Checked against pandas on the same purchase days (CDNOW sample, Fader & Hardie 2001)."""
    f = load_cdnow(sample=True)
    days = purchase_days(f)
    per = days.groupby("c").size()
    r = compute(RepeatCustomerRate(), f)
    assert r.value == pytest.approx((per >= 2).mean()) and r.n == 2357
    r = compute(OrdersPerCustomer(), f, chunk_rows=1000)
    assert r.value == pytest.approx(per.mean()) and r.tables["customers"][0] == 1218
    r = compute(InterPurchaseTime(), f, chunk_rows=1000)
    assert (r.value, r.n) == (34.0, 4339)
    r = compute(CohortRepeatRate(within_days=90), f)
    assert r.n == 2357 and r.n_missing == 0 and 0 < r.value < 1
    assert r.tables["cohort_month"].astype(str).tolist()[:3] == [
        "1997-01-01",
        "1997-02-01",
        "1997-03-01",
    ]
    assert r.tables["customers"][:3].sum() == 2357 and r.tables["customers"][3:].sum() == 0


def test_result_to_dict_is_plain() -> None:
    r = run(RepeatCustomerRate(start="2024-01-01"), HAND)
    assert r.to_dict()["params"]["start"] == "2024-01-01"
    assert attrs.has(type(r))


@given(event_frames(min_rows=1), st.integers(-70, 400), st.integers(-5, 400))
def test_active_days_kernel_matches_the_bit_matrix(f: EventFrame, shift: int, length: int) -> None:
    """The bit-peeling kernel against the summary's own dense matrix, on any day range."""
    m = CustomerSummary(period="day")
    state = m.update(m.init(), f)
    lo = state.period_range()[0] + shift
    hi = lo + length
    rows, days = active_days(state, lo, hi)
    expected_rows, columns = np.nonzero(state.active_matrix(lo, hi))
    assert rows.tolist() == expected_rows.tolist()
    assert days.tolist() == (columns + lo).tolist()
