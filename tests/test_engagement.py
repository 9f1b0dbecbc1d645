"""Engagement: DAU/WAU/MAU, DAU/MAU and days active; pandas oracle, properties, CDNOW."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit import compute
from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour.engagement import (
    DauMauRatio,
    DaysActiveDistribution,
    MonthlyDauMau,
    trailing_active,
)
from stickykit.testing import check_metric

DAY_US = 86_400_000_000
START_US = 852_076_800_000_000  # 1997-01-01T00:00Z
#: Negative controls: the broken formula must fail; no shrinking, the failure is the point.
BROKEN = settings(max_examples=200, phases=[Phase.generate], derandomize=True, database=None)


def frame(ids: list[int], times: list[str]) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids, dtype=np.int64),
        timestamp=np.array(times, dtype="datetime64[us]"),
    )


def run(metric: Any, f: EventFrame, **kwargs: Any) -> Any:
    return metric.finalize(metric.update(metric.init(), f), **kwargs)


@st.composite
def dense_events(
    draw: Any, min_rows: int = 1, max_rows: int = 60, span_days: int = 75, max_customers: int = 8
) -> EventFrame:
    """Events of a few customers over some weeks: same-day repeats and overlapping windows."""
    n = draw(st.integers(min_rows, max_rows))
    customers = draw(st.integers(1, max_customers))
    ids = draw(hnp.arrays(np.int64, n, elements=st.integers(0, customers - 1), fill=st.nothing()))
    times = draw(
        hnp.arrays(np.int64, n, elements=st.integers(0, span_days * DAY_US), fill=st.nothing())
    )
    return EventFrame(
        event_id=np.arange(n),
        customer_id=ids,
        timestamp=(times + START_US).astype("datetime64[us]"),
    )


def active_pairs(f: EventFrame) -> pd.DataFrame:
    pairs = pd.DataFrame({"c": f.customer_id, "d": f.timestamp.astype("datetime64[D]")})
    return pairs.drop_duplicates()


def pandas_series(f: EventFrame, window: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """DAU, trailing-window MAU (NaN before a full window) and their ratio, with pandas."""
    pairs = active_pairs(f)
    full = pd.date_range(pairs["d"].min(), pairs["d"].max(), freq="D")
    matrix = (pd.crosstab(pairs["d"], pairs["c"]).reindex(full, fill_value=0) > 0).astype(int)
    dau = matrix.sum(axis=1)
    mau = matrix.rolling(window, min_periods=window).max().sum(axis=1, min_count=1)
    return dau, mau, dau / mau.where(mau > 0)


# -- laws ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        DauMauRatio(),
        DauMauRatio(window=7, zone="Asia/Kolkata", kinds=("visit",)),
        MonthlyDauMau(),
        DaysActiveDistribution(),
        DaysActiveDistribution(period="week", zone="America/New_York"),
    ],
    ids=lambda m: m.name,
)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=15)


# -- hand-computed cases ---------------------------------------------------------------------


def test_series_by_hand() -> None:
    """Customers 1 on days 1, 2, 4 and 2 on day 2, window 3 (days are January 2024)."""
    f = frame([1, 1, 2, 1, 1], ["2024-01-01", "2024-01-02", "2024-01-02T22:00", "2024-01-04",
                                "2024-01-04T01:00"])  # fmt: skip
    r = run(DauMauRatio(window=3), f)
    assert r.tables["day"].astype(str).tolist() == [f"2024-01-0{d}" for d in range(1, 5)]
    assert r.tables["dau"].tolist() == [1, 2, 0, 1]
    np.testing.assert_array_equal(r.tables["mau"], [np.nan, np.nan, 2.0, 2.0])
    np.testing.assert_array_equal(r.tables["ratio"], [np.nan, np.nan, 0.0, 0.5])
    assert r.tables["mau_observable"].tolist() == [False, False, True, True]
    # last window (days 2-4): customer 1 active 2 days, customer 2 one day
    assert r.value == pytest.approx((2 / 3 + 1 / 3) / 2) and r.n == 2
    assert r.tables["customers_by_days_active"].tolist() == [1.0, 1.0, 0.0]
    assert r.details["ratio_last"] == 0.5 and r.details["mean_daily_ratio"] == 0.25
    # WAU needs 7 days: none observable
    assert np.isnan(r.tables["wau"]).all() and not r.tables["wau_observable"].any()


def test_nobody_active_is_zero_not_missing() -> None:
    f = frame([1, 2], ["2024-01-01", "2024-01-10"])
    r = run(DauMauRatio(window=3), f)
    mau, ok = r.tables["mau"], r.tables["mau_observable"]
    assert mau[5] == 0.0 and ok[5] and np.isnan(r.tables["ratio"][5])  # days 4-6: nobody
    assert np.isnan(mau[:2]).all() and not ok[:2].any()  # before a full window: unknown


def test_short_data_has_no_value() -> None:
    r = run(DauMauRatio(), frame([1, 1], ["2024-01-01", "2024-01-05"]))
    assert np.isnan(r.value) and r.n == 0 and np.isnan(r.tables["mau"]).all()
    assert any("no complete 30-day window" in flag for flag in r.flags)
    assert np.isnan(r.tables["customers_by_days_active"]).all()


def test_zone_moves_late_events_to_the_next_day() -> None:
    f = frame([1, 2], ["2024-01-01T12:00", "2024-01-01T23:30"])
    assert run(DauMauRatio(window=2), f).tables["dau"].tolist() == [2]
    assert run(DauMauRatio(window=2, zone="Europe/Paris"), f).tables["dau"].tolist() == [1, 1]


def test_monthly_variant_by_hand() -> None:
    """Data from 15 Jan to 29 Feb 2024: January starts late, so only February counts."""
    f = frame([1, 1, 1, 2, 2], ["2024-01-15", "2024-02-01", "2024-02-03", "2024-02-03",
                                "2024-02-29"])  # fmt: skip
    r = run(MonthlyDauMau(), f)
    assert r.tables["month"].astype(str).tolist() == ["2024-01-01", "2024-02-01"]
    assert r.tables["observable"].tolist() == [False, True]
    assert r.tables["days"].tolist() == [31, 29]
    assert np.isnan(r.tables["mau"][0]) and r.tables["mau"][1] == 2.0
    assert r.tables["mean_dau"][1] == pytest.approx(4 / 29)
    assert r.value == pytest.approx(4 / 29 / 2) and r.n == 2
    # an explicit as_of on 29 Feb at noon: February is no longer complete
    r = run(MonthlyDauMau(), f, as_of=dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC))
    assert np.isnan(r.value) and not r.tables["observable"].any()
    assert any("left out" in flag for flag in r.flags)


def test_days_active_by_hand() -> None:
    f = frame([1, 1, 1, 2, 2, 3], ["2024-02-01", "2024-02-03", "2024-02-03T05:00", "2024-02-03",
                                   "2024-02-29", "2024-03-01"])  # fmt: skip
    r = run(DaysActiveDistribution(), f)
    assert r.tables["observable"].tolist() == [True, False]  # March: only its first day
    assert r.tables["customers"][0, :3].tolist() == [0.0, 2.0, 0.0]
    assert r.tables["at_least"][0, :3].tolist() == [2.0, 2.0, 0.0]
    assert np.isnan(r.tables["customers"][1]).all()
    assert r.value == 2.0 and r.n == 2 and r.details["dau_mau"] == pytest.approx(2 / 29)
    weeks = run(DaysActiveDistribution(period="week"), f)
    assert weeks.tables["customers"].shape[1] == 7
    assert weeks.tables["period_start"].astype(str)[0] == "2024-01-29"  # a Monday


def test_errors() -> None:
    with pytest.raises(ValueError, match="window"):
        DauMauRatio(window=1)
    with pytest.raises(ValueError, match="period"):
        DaysActiveDistribution(period="day")  # type: ignore[arg-type]
    with pytest.raises(InsufficientDataError):
        DauMauRatio().finalize(DauMauRatio().init())
    with pytest.raises(InsufficientDataError, match="complete local day"):
        run(DauMauRatio(), frame([1], ["2024-01-01T08:00"]),
            as_of=dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC))  # fmt: skip


def test_trailing_active_kernel() -> None:
    rows, days = np.array([0, 0, 0, 1]), np.array([0, 1, 5, 2])
    assert trailing_active(rows, days, 0, 6, 3).tolist() == [1, 1, 2, 2, 1, 1, 1]


# -- pandas ----------------------------------------------------------------------------------


@given(dense_events(), st.sampled_from([3, 7, 30]))
def test_series_match_pandas(f: EventFrame, window: int) -> None:
    r = run(DauMauRatio(window=window), f)
    dau, mau, ratio = pandas_series(f, window)
    assert r.tables["dau"].tolist() == dau.tolist()
    np.testing.assert_array_equal(r.tables["mau"], mau.to_numpy())
    np.testing.assert_allclose(r.tables["ratio"], ratio.to_numpy(), rtol=1e-12)


def test_cdnow_matches_pandas() -> None:
    f = load_cdnow(sample=True)
    r = compute(DauMauRatio(), f, chunk_rows=2000)
    dau, mau, ratio = pandas_series(f, 30)
    assert r.tables["dau"].tolist() == dau.tolist()
    np.testing.assert_array_equal(r.tables["mau"], mau.to_numpy())
    np.testing.assert_allclose(r.tables["ratio"], ratio.to_numpy(), rtol=1e-12)
    # the value: mean DAU over the last 30 days over the customers active in them
    assert r.value == pytest.approx(dau.iloc[-30:].mean() / mau.iloc[-1])


# -- properties and their negative controls --------------------------------------------------


def assert_series_consistent(
    dau: np.ndarray, wau: np.ndarray, mau: np.ndarray, customers: int
) -> None:
    """DAU <= WAU <= MAU <= customers wherever observable, and DAU/MAU in [0, 1]."""
    ok = ~np.isnan(mau)
    assert (dau[ok] <= mau[ok]).all() and (mau[ok] <= customers).all()
    both = ok & ~np.isnan(wau)
    assert (dau[both] <= wau[both]).all() and (wau[both] <= mau[both]).all()
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = dau[ok] / mau[ok]
    assert ((ratio[mau[ok] > 0] >= 0) & (ratio[mau[ok] > 0] <= 1)).all()


@given(dense_events())
def test_dau_le_mau(f: EventFrame) -> None:
    r = run(DauMauRatio(window=10), f)
    customers = len(np.unique(f.customer_id))
    t = r.tables
    assert_series_consistent(t["dau"].astype(float), t["wau"], t["mau"], customers)
    ratio = t["ratio"][~np.isnan(t["ratio"])]
    assert ((ratio >= 0) & (ratio <= 1)).all()
    assert np.isnan(r.value) or 0 <= r.value <= 1


def events_per_day(f: EventFrame) -> np.ndarray:
    """Broken DAU: events per day, not distinct customers."""
    days = f.timestamp.astype("datetime64[D]").astype(np.int64)
    return np.bincount(days - days.min()).astype(float)


def test_dau_le_mau_rejects_mau_as_sum_of_dau() -> None:
    @BROKEN
    @given(dense_events())
    def broken(f: EventFrame) -> None:
        dau = run(DauMauRatio(window=10), f).tables["dau"].astype(float)
        mau = pd.Series(dau).rolling(10, min_periods=10).sum().to_numpy()
        wau = pd.Series(dau).rolling(7, min_periods=7).sum().to_numpy()
        assert_series_consistent(dau, wau, mau, len(np.unique(f.customer_id)))

    with pytest.raises(AssertionError):
        broken()


def test_dau_le_mau_rejects_events_as_dau() -> None:
    @BROKEN
    @given(dense_events(min_rows=20, span_days=12, max_customers=3))
    def broken(f: EventFrame) -> None:
        t = run(DauMauRatio(window=10), f).tables
        assert_series_consistent(events_per_day(f), t["wau"], t["mau"], 10**6)

    with pytest.raises(AssertionError):
        broken()


def assert_identity(dau: np.ndarray, f: EventFrame) -> None:
    """Sum over days of DAU == sum over customers of their active days."""
    assert int(dau.sum()) == len(active_pairs(f))


@given(dense_events())
def test_identity_sum_of_dau(f: EventFrame) -> None:
    assert_identity(run(DauMauRatio(window=7), f).tables["dau"], f)
    # its use: per complete month, histogram mean / days == monthly DAU/MAU, and
    # histogram mean x active customers == the month's sum of DAU
    hist = run(DaysActiveDistribution(), f).tables
    monthly = run(MonthlyDauMau(), f).tables
    k = hist["days_active"]
    for m in np.flatnonzero(hist["observable"]):
        counts = hist["customers"][m]
        if counts.sum() == 0:
            continue
        mean = (counts @ k) / counts.sum()
        assert monthly["ratio"][m] == pytest.approx(mean / hist["period_days"][m], rel=1e-12)
        assert monthly["mean_dau"][m] * monthly["days"][m] == pytest.approx(counts @ k)


def test_identity_rejects_events_as_dau() -> None:
    @BROKEN
    @given(dense_events())
    def broken(f: EventFrame) -> None:
        assert_identity(events_per_day(f), f)

    with pytest.raises(AssertionError):
        broken()


def test_identity_on_cdnow() -> None:
    """The headline value is the mean of the power-user histogram over the window length."""
    f = load_cdnow(sample=True)
    r = compute(DauMauRatio(), f)
    assert_identity(r.tables["dau"], f)
    hist = r.tables["customers_by_days_active"]
    mean = (hist @ r.tables["days_active"]) / hist.sum()
    assert r.value == pytest.approx(mean / 30, rel=1e-12)
    monthly = compute(MonthlyDauMau(), f)
    assert monthly.tables["observable"].all()  # 1 Jan 1997 to 30 Jun 1998: whole months
    days_active = compute(DaysActiveDistribution(), f)
    assert days_active.details["dau_mau"] == pytest.approx(monthly.value, rel=1e-12)
    assert days_active.tables["active_customers"].tolist() == monthly.tables["mau"].tolist()


def span_from_row_order(f: EventFrame) -> tuple[int, int]:
    """Broken: the data's first and last day read from the first and last rows."""
    days = f.timestamp.astype("datetime64[D]").astype(np.int64)
    return int(days[0]), int(days[-1])


def series_of(f: EventFrame) -> list[Any]:
    t = run(DauMauRatio(window=7), f).tables
    return [t[k].tolist() for k in ("day", "dau", "wau", "mau", "ratio")]


@given(dense_events(), st.data())
def test_row_order_never_matters(f: EventFrame, data: st.DataObject) -> None:
    order = np.asarray(data.draw(st.permutations(range(len(f)))), dtype=np.intp)
    shuffled = f.take(order)
    assert str(series_of(f)) == str(series_of(shuffled))
    a, b = run(DaysActiveDistribution(), f), run(DaysActiveDistribution(), shuffled)
    np.testing.assert_array_equal(a.tables["customers"], b.tables["customers"])


def test_row_order_rejects_a_span_from_row_order() -> None:
    @BROKEN
    @given(dense_events(), st.data())
    def broken(f: EventFrame, data: st.DataObject) -> None:
        order = np.asarray(data.draw(st.permutations(range(len(f)))), dtype=np.intp)
        assert span_from_row_order(f) == span_from_row_order(f.take(order))

    with pytest.raises(AssertionError):
        broken()


def test_cdnow_days_active() -> None:
    """CDNOW sample: June 1998, 138 buyers; checked against a pandas count."""
    f = load_cdnow(sample=True)
    r = compute(DaysActiveDistribution(), f)
    pairs = active_pairs(f)
    june = pairs[pairs["d"] >= "1998-06-01"].groupby("c").size()
    expected = np.bincount(june, minlength=32)[1:]
    assert r.tables["customers"][-1].tolist() == expected.astype(float).tolist()
    assert r.n == 138 and r.value == pytest.approx(june.mean())
    assert r.tables["customers"].shape == (18, 31)


def test_dau_mau_summed_over_customer_blocks_equals_one_block(monkeypatch):
    """finalize lists (customer, day) pairs a block of customers at a time; sums are exact."""
    from stickykit.datasets import load_cdnow
    from stickykit.metrics.behaviour import engagement

    events = load_cdnow(sample=True)
    metric = engagement.DauMauRatio()
    state = metric.update(metric.init(), events)
    whole = metric.finalize(state)
    monkeypatch.setattr(engagement, "_BLOCK", 7)
    blocks = metric.finalize(state)
    assert len(state) > 7 * 100  # many blocks
    for key in ("dau", "wau", "mau", "ratio", "customers_by_days_active"):
        np.testing.assert_array_equal(whole.tables[key], blocks.tables[key])
    assert (whole.value, whole.n, whole.ci_low) == (blocks.value, blocks.n, blocks.ci_low)
