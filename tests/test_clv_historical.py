"""Historical CLV: hand-computed values, a pandas oracle under any chunking, and CDNOW."""

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

from stickykit.core.periods import period_index
from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour.clv import HistoricalCLV, HistoricalCLVState
from stickykit.testing import check_laws, check_metric, chunks_at, event_frames, split_points

UTC = dt.UTC
AS_OF = dt.datetime(2001, 1, 1, tzinfo=UTC)  # after every generated event


def frame(ids: list[int], days: list[str], amounts: list[float]) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids),
        timestamp=np.array(days, dtype="datetime64[us]"),
        amount=np.array(amounts),
    )


@st.composite
def frames_with_returns(draw: Any) -> EventFrame:
    f = draw(event_frames(max_rows=40))
    returned = draw(hnp.arrays(np.bool_, len(f)))
    assert f.amount is not None
    return attrs.evolve(f, amount=np.where(returned, -f.amount / 2, f.amount))


VARIANTS = [
    HistoricalCLV(),
    HistoricalCLV(margin=0.4, discount_rate=0.02),
    HistoricalCLV(discount_rate=0.001, discount_to="acquisition", period="day", lifespan_years=3),
]


@pytest.mark.parametrize("metric", VARIANTS, ids=["plain", "as_of", "acquisition"])
def test_laws(metric: HistoricalCLV) -> None:
    check_metric(metric, max_examples=8)


@settings(max_examples=10, deadline=None)
@given(f=frames_with_returns(), data=st.data())
def test_laws_with_returns(f: EventFrame, data: st.DataObject) -> None:
    cuts = data.draw(split_points(len(f)))
    order = data.draw(st.permutations(range(len(f))))
    check_laws(HistoricalCLV(discount_rate=0.05), f, cuts, order)


# -- hand-computed -----------------------------------------------------------------------------


def test_hand_computed_discounting() -> None:
    """Customer 1: 100 in January and 100 in March 2024; customer 2: 50 in March and a return
    of 10 in March. as_of 2024-04-01, so the as_of period is March; margin 0.5, 10 % a month.

    as_of:       c1 = 0.5 (100 * 1.1**2 + 100) = 110.5;  c2 = 0.5 * 40 = 20
    acquisition: c1 = 0.5 (100 + 100 / 1.1**2) = 91.3223...;  c2 = 20
    """
    f = frame(
        [1, 1, 2, 2],
        ["2024-01-15", "2024-03-15", "2024-03-20", "2024-03-25"],
        [100.0, 100.0, 50.0, -10.0],
    )
    as_of = dt.datetime(2024, 4, 1, tzinfo=UTC)
    m = HistoricalCLV(margin=0.5, discount_rate=0.1)
    r = m.finalize(m.update(m.init(), f), as_of=as_of)
    np.testing.assert_allclose(r.tables["clv"], [110.5, 20.0], rtol=1e-12)
    assert r.tables["revenue"].tolist() == [200.0, 40.0]
    assert r.tables["margin"].tolist() == [100.0, 20.0]
    assert r.tables["purchases"].tolist() == [2, 1]  # the return is not a purchase
    assert r.value == pytest.approx(65.25)
    back = HistoricalCLV(margin=0.5, discount_rate=0.1, discount_to="acquisition")
    r2 = back.finalize(back.update(back.init(), f), as_of=as_of)
    np.testing.assert_allclose(r2.tables["clv"], [0.5 * (100 + 100 / 1.21), 20.0], rtol=1e-12)


def test_t_interval_and_naive_estimate() -> None:
    """Three customers: revenue 10, 20, 60 in 1 + 1 + 2 purchases, first purchases 1, 0.5
    and 0.25 years before as_of (365.25-day years).

    AOV = 90 / 4 = 22.5; frequency = 4 / 1.75 per customer-year;
    naive = 0.5 * 22.5 * 4/1.75 * 2 = 51.4286 = 0.5 * 90 / 1.75 * 2 (the order count cancels).
    Mean 0.5 * 30 = 15 with sd 0.5 * 26.458 and the t(2) quantile from scipy.
    """
    as_of_us = np.datetime64("2024-01-01T00:00", "us")
    year = np.timedelta64(int(365.25 * 86_400_000_000), "us")
    stamps = np.array(
        [
            as_of_us - year,
            as_of_us - year // 2,
            as_of_us - year // 4,
            as_of_us - year // 8,
        ]
    )
    f = EventFrame(
        event_id=np.arange(4),
        customer_id=np.array([1, 2, 3, 3]),
        timestamp=stamps,
        amount=np.array([10.0, 20.0, 30.0, 30.0]),
    )
    m = HistoricalCLV(margin=0.5, lifespan_years=2.0)
    r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert r.details["aov"] == pytest.approx(22.5)
    assert r.details["purchase_frequency"] == pytest.approx(4 / 1.75)
    assert r.details["naive_clv"] == pytest.approx(0.5 * 90 / 1.75 * 2)
    values = np.array([5.0, 10.0, 30.0])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert r.value == pytest.approx(15.0)
    assert (r.ci_low, r.ci_high) == pytest.approx((15 - half, 15 + half))
    assert r.method == "t interval of the mean over customers"
    one = m.finalize(m.update(m.init(), f.slice(0, 1)), as_of=dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert one.ci_low is None and one.method.startswith("no interval")


def test_without_lifespan_the_naive_estimate_is_nan() -> None:
    m = HistoricalCLV()
    r = m.finalize(m.update(m.init(), frame([1], ["2024-01-01"], [5.0])))
    assert np.isnan(r.details["naive_clv"])


def test_returns_only_customer_left_out() -> None:
    m = HistoricalCLV()
    r = m.finalize(m.update(m.init(), frame([1, 2], ["2024-01-01", "2024-01-02"], [5.0, -3.0])))
    assert r.tables["customer_id"].tolist() == [1] and r.n_missing == 1
    with pytest.raises(InsufficientDataError):
        m.finalize(m.update(m.init(), frame([2], ["2024-01-02"], [-3.0])))


def test_parameter_checks() -> None:
    with pytest.raises(ValueError, match="discount_rate"):
        HistoricalCLV(discount_rate=-0.1)
    with pytest.raises(ValueError, match="lifespan_years"):
        HistoricalCLV(lifespan_years=0)
    with pytest.raises(ValueError, match="alpha"):
        HistoricalCLV(alpha=1.5)


# -- a pandas oracle, under any chunking ---------------------------------------------------------


def pandas_clv(f: EventFrame, rate: float, period: str, as_of: dt.datetime) -> pd.Series:
    """Revenue per (customer, period) from a pandas groupby, compounded to the as_of period."""
    periods = period_index(f.timestamp, period)
    target = period_index(
        np.array([np.datetime64(as_of.replace(tzinfo=None)) - 1], "M8[us]"), period
    )
    df = pd.DataFrame({"customer": f.customer_id, "period": periods, "amount": f.amount})
    cells = df.groupby(["customer", "period"], as_index=False)["amount"].sum()
    cells["value"] = cells["amount"] * (1 + rate) ** (target[0] - cells["period"])
    return cells.groupby("customer")["value"].sum()


def check_matches_oracle(metric: HistoricalCLV, config: settings) -> None:
    @config
    @given(f=event_frames(min_rows=1, max_rows=60), data=st.data())
    def prop(f: EventFrame, data: st.DataObject) -> None:
        cuts = data.draw(split_points(len(f)))
        state = metric.init()
        for chunk in chunks_at(f, cuts):
            state = metric.merge(state, metric.update(metric.init(), chunk))
        r = metric.finalize(state, as_of=AS_OF)
        expected = pandas_clv(f, metric.discount_rate, metric.period, AS_OF)
        assert r.tables["customer_id"].tolist() == expected.index.tolist()
        np.testing.assert_allclose(r.tables["clv"], expected.to_numpy(), rtol=1e-9, atol=1e-9)

    prop()


@attrs.frozen
class UnscaledMerge(HistoricalCLV):
    """Broken: adds compounded sums of two chunks without rebasing them on a common anchor."""

    def merge(self, a: HistoricalCLVState, b: HistoricalCLVState) -> HistoricalCLVState:
        merged = super().merge(a, b)
        if len(a.summary) == 0 or len(b.summary) == 0:
            return merged
        out = np.zeros(len(merged.summary))
        for part in (a, b):
            rows = np.searchsorted(merged.summary.customer_id, part.summary.customer_id)
            out[rows] += part.compounded
        return attrs.evolve(merged, compounded=out)


def test_matches_pandas_under_any_chunking() -> None:
    check_matches_oracle(
        HistoricalCLV(discount_rate=0.05, kinds=None), settings(max_examples=12, deadline=None)
    )


def test_oracle_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_matches_oracle(
            UnscaledMerge(discount_rate=0.05, kinds=None),
            settings(max_examples=60, deadline=None, phases=[Phase.generate]),
        )


# -- CDNOW ------------------------------------------------------------------------------------------


def test_cdnow_sample() -> None:
    events = load_cdnow(sample=True)
    as_of = dt.datetime(1998, 7, 1, tzinfo=UTC)
    m = HistoricalCLV(margin=0.3, lifespan_years=3)
    r = m.finalize(m.update(m.init(), events), as_of=as_of)
    assert r.n == 2357
    assert r.details["total_clv"] == pytest.approx(0.3 * float(events.amount.sum()), rel=1e-12)
    assert r.ci_low < r.value < r.ci_high
    # CDNOW spans 1.5 years: the naive 3-year figure extrapolates past the data
    assert r.details["naive_clv"] > r.value
    d = HistoricalCLV(margin=0.3, discount_rate=0.01)
    rd = d.finalize(d.update(d.init(), events), as_of=as_of)
    assert rd.value > r.value  # compounded forward, past margin is worth more at as_of
