"""Period retention, churn and revenue retention: hand-computed cases, laws and properties.

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
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.behaviour.retention import (
    PeriodChurn,
    PeriodRetention,
    RevenuePeriodState,
    RevenueRetention,
    active_pairs,
    wilson_bounds,
)
from stickykit.metrics.behaviour.summary import CustomerSummaryState
from stickykit.stats.intervals import wilson_interval
from stickykit.testing import check_laws, check_metric, results_close

#: Properties: 25 examples each keeps the file fast; negative controls fail on the explicit
#: example first, so no shrinking is needed.
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=25)
UTC = dt.UTC
JAN_2023 = np.datetime64("2023-01", "M")


def month_start(index: int) -> dt.datetime:
    """First instant of month ``index`` counted from January 2023, in UTC."""
    day = (JAN_2023 + index).astype("datetime64[D]").item()
    return dt.datetime(day.year, day.month, 1, tzinfo=UTC)


def events(
    customers: list[Any], months: list[int], amounts: list[float] | None = None, day: int = 3
) -> EventFrame:
    """One event per entry: customer, month offset from January 2023 (day ``day`` of it)."""
    stamps = (JAN_2023 + np.array(months)).astype("datetime64[D]") + (day - 1)
    return EventFrame(
        event_id=np.arange(len(customers)),
        customer_id=np.array(customers),
        timestamp=stamps.astype("datetime64[us]"),
        amount=None if amounts is None else np.array(amounts, dtype=np.float64),
        currency=None if amounts is None else np.full(len(customers), "EUR"),
    )


def run(metric: Any, frame: EventFrame, as_of: dt.datetime | None = None) -> MetricResult:
    result: MetricResult = metric.finalize(metric.update(metric.init(), frame), as_of)
    return result


@st.composite
def monthly_frames(
    draw: Any, *, max_rows: int = 40, max_customers: int = 8, months: int = 6, returns: bool = False
) -> EventFrame:
    """Events on days 1-28 of ``months`` months; amounts may be negative with ``returns``."""
    n = draw(st.integers(1, max_rows))
    customer = draw(hnp.arrays(np.int64, n, elements=st.integers(0, max_customers - 1)))
    month = draw(hnp.arrays(np.int64, n, elements=st.integers(0, months - 1)))
    day = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 27)))
    low = -300 if returns else 0
    cents = draw(hnp.arrays(np.int64, n, elements=st.integers(low, 20_000)))
    stamps = (JAN_2023 + month).astype("datetime64[D]") + day
    return EventFrame(
        event_id=np.arange(n),
        customer_id=customer,
        timestamp=stamps.astype("datetime64[us]"),
        amount=cents / 100.0,
        currency=np.full(n, "EUR"),
    )


#: After the six months of ``monthly_frames``: every period complete.
AS_OF = month_start(6)


# -- hand-computed cases --------------------------------------------------------------------


def test_hand_computed_counts() -> None:
    """Jan {1, 2, 3}, Feb {1, 3, 4}, Mar {4}: retention 2/3 then 1/3; churn 1/3 then 2/3."""
    f = events([1, 2, 3, 1, 3, 4, 4, 1], [0, 0, 0, 1, 1, 1, 2, 0])
    r = run(PeriodRetention(), f, as_of=month_start(3))
    t = r.tables
    assert t["period_start"].astype(str).tolist() == ["2023-02-01", "2023-03-01"]
    assert t["base"].tolist() == [3, 3] and t["active"].tolist() == [3, 1]
    assert t["retained"].tolist() == [2, 1] and t["churned"].tolist() == [1, 2]
    assert t["gained"].tolist() == [1, 0]
    np.testing.assert_allclose(t["retention"], [2 / 3, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(t["churn_start"], [1 / 3, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(t["churn_average"], [1 / 3, 2 / 2], rtol=1e-12)
    assert r.value == pytest.approx(1 / 3) and r.n == 3 and r.flags == ()
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(1, 3, 0.05))
    assert r.details["pooled_retention"] == pytest.approx(3 / 6)
    assert r.details["mean_retention"] == pytest.approx(0.5)
    churn = run(PeriodChurn(), f, as_of=month_start(3))
    assert churn.value == pytest.approx(2 / 3)
    assert (churn.ci_low, churn.ci_high) == pytest.approx(wilson_interval(2, 3, 0.05))
    average = run(PeriodChurn(base="average"), f, as_of=month_start(3))
    assert average.value == pytest.approx(1.0) and average.ci_low is None
    assert average.method.startswith("no interval")


def test_partial_period_is_listed_but_not_rated() -> None:
    """By default as_of is just after the latest event: March is partial, February counts."""
    f = events([1, 2, 3, 1, 3, 4, 4], [0, 0, 0, 1, 1, 1, 2])
    r = run(PeriodRetention(), f)
    assert r.tables["complete"].tolist() == [True, False]
    assert r.tables["retained"].tolist() == [2, 1]  # March so far
    assert np.isnan(r.tables["retention"][1]) and np.isnan(r.tables["retention_low"][1])
    assert r.value == pytest.approx(2 / 3)
    assert r.flags == (
        "the month starting 2023-03-01 contains as_of: partial, left out of the rates",
    )
    mid_march = run(PeriodRetention(), f, as_of=dt.datetime(2023, 3, 20, tzinfo=UTC))
    assert mid_march.tables["complete"].tolist() == [True, False]


def test_empty_period_kept_and_average_churn_above_one() -> None:
    """Ten customers in January, nobody in February: churn 10/10 on the start base, 10/5 on
    the average base (the case above 1); March's retention has no base (NaN)."""
    f = events([*range(10), 99], [0] * 10 + [2])
    r = run(PeriodChurn(base="average"), f, as_of=month_start(3))
    assert r.tables["active"].tolist() == [0, 1] and r.tables["base"].tolist() == [10, 0]
    assert r.tables["churn_average"][0] == pytest.approx(2.0)
    assert r.tables["churn_start"][0] == pytest.approx(1.0)
    assert np.isnan(r.tables["retention"][1])
    assert r.value == pytest.approx(2.0)  # latest complete period with a base: February


def test_returns_and_other_kinds_are_not_activity() -> None:
    f = events([1, 1, 2, 2], [0, 1, 0, 1], [10.0, -10.0, 5.0, 5.0])
    f = attrs.evolve(f, kind=np.array(["purchase", "purchase", "purchase", "visit"]))
    r = run(PeriodRetention(), f, as_of=month_start(2))
    assert r.tables["retained"].tolist() == [1]  # customer 1's return is not activity
    purchases = run(PeriodRetention(kinds=("purchase",)), f, as_of=month_start(2))
    assert purchases.tables["retained"].tolist() == [0]
    # an event of kind "return" is a return too: never activity, but its amount nets
    refund = attrs.evolve(f, kind=np.array(["purchase", "return", "purchase", "purchase"]))
    refund = attrs.evolve(refund, amount=np.array([10.0, -4.0, 5.0, 5.0]))
    assert run(PeriodRetention(), refund, month_start(2)).tables["retained"].tolist() == [1]
    revenue = run(RevenueRetention(kinds=("purchase",)), refund, month_start(2))
    assert revenue.tables["start"].tolist() == [15.0] and revenue.tables["end"].tolist() == [5.0]


def test_weeks_start_on_monday_in_the_given_zone() -> None:
    """Sunday 2024-03-03 23:30 UTC is Monday 00:30 in Paris: the next ISO week there."""
    f = EventFrame(
        event_id=np.arange(2),
        customer_id=np.array([1, 1]),
        timestamp=np.array(["2024-02-26T10:00", "2024-03-03T23:30"], dtype="datetime64[us]"),
    )
    as_of = dt.datetime(2024, 3, 11, tzinfo=UTC)
    utc = run(PeriodRetention(period="week"), f, as_of=as_of)
    paris = run(PeriodRetention(period="week", zone="Europe/Paris"), f, as_of=as_of)
    assert utc.tables["period_start"].astype(str).tolist() == ["2024-03-04"]
    assert utc.tables["retained"].tolist() == [0]  # both events in the week of 26 February
    assert paris.tables["retained"].tolist()[0] == 1  # one event in each week
    # as_of is 01:00 on Monday 11 March in Paris: that week has begun, and is partial
    assert paris.tables["complete"].tolist() == [True, False]


def test_hand_computed_revenue() -> None:
    """February cohort: a 100 -> 60 (contraction 40), b 50 -> 0 (churned), c 30 -> 80
    (expansion 50). Outside it in March: d new (20), e reactivated (15; bought in January).
    GRR = (180 - 50 - 40) / 180 = 0.5; NRR = (180 - 50 - 40 + 50) / 180 = 140 / 180."""
    f = events(
        ["a", "b", "c", "a", "c", "d", "e", "e"],
        [1, 1, 1, 2, 2, 2, 2, 0],
        [100.0, 50.0, 30.0, 60.0, 80.0, 20.0, 15.0, 9.0],
    )
    net = run(RevenueRetention(), f, as_of=month_start(3))
    gross = run(RevenueRetention(basis="gross"), f, as_of=month_start(3))
    assert gross.value == pytest.approx(0.5) and net.value == pytest.approx(140 / 180)
    t = net.tables
    into_march = 1  # transitions into February and into March
    expected = {
        "start": 180.0,
        "churned": 50.0,
        "contraction": 40.0,
        "expansion": 50.0,
        "retained": 90.0,
        "end": 140.0,
        "new": 20.0,
        "reactivated": 15.0,
    }
    assert {k: t[k][into_march] for k in expected} == pytest.approx(expected)
    assert t["customers_start"][into_march] == 3 and t["customers_churned"][into_march] == 1
    assert t["quick_ratio"][into_march] == pytest.approx((20 + 15 + 50) / (50 + 40))
    assert net.n == 3 and net.ci_low is None and "EUR" in net.method
    # into February: e's 9 in January is the start; e bought nothing in February
    assert t["start"][0] == 9.0 and t["churned"][0] == 9.0 and t["new"][0] == 180.0


def test_nrr_above_one_and_returns_net() -> None:
    """a 100 -> 250: NRR 2.5, GRR 1; b's February return exceeding its purchase is churn."""
    f = events(["a", "b", "a", "b", "b"], [0, 0, 1, 1, 1], [100.0, 40.0, 250.0, 10.0, -30.0])
    net = run(RevenueRetention(), f, as_of=month_start(2))
    gross = run(RevenueRetention(basis="gross"), f, as_of=month_start(2))
    assert net.value == pytest.approx(250 / 140) and gross.value == pytest.approx(100 / 140)
    assert net.tables["churned"][0] == 40.0
    solo = run(RevenueRetention(), events(["a", "a"], [0, 1], [100.0, 250.0]), month_start(2))
    assert solo.value == pytest.approx(2.5)


def test_revenue_state_keys_on_pairs() -> None:
    m = RevenueRetention()
    s = m.update(m.init(), events([5, 3, 5, 5], [1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0]))
    assert s.customer_id.tolist() == [3, 5, 5] and s.period.tolist() == [636, 636, 637]
    assert s.revenue.tolist() == [2.0, 4.0, 4.0] and s.currencies.tolist() == ["EUR"]


# -- errors ------------------------------------------------------------------------------------


def test_bad_input() -> None:
    with pytest.raises(InsufficientDataError):
        PeriodRetention().finalize(PeriodRetention().init())
    with pytest.raises(InsufficientDataError):
        RevenueRetention().finalize(RevenueRetention().init())
    with pytest.raises(ValidationError, match="amount"):
        run(RevenueRetention(), events([1], [0]))
    mixed = attrs.evolve(events([1, 2], [0, 1], [1.0, 2.0]), currency=np.array(["EUR", "USD"]))
    with pytest.raises(ValidationError, match="EUR, USD"):
        run(RevenueRetention(), mixed)
    with pytest.raises(ValueError, match="base"):
        PeriodChurn(base="end")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period must be one of"):
        PeriodRetention(period="year")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="IANA"):
        PeriodRetention(zone="Mars/Olympus")
    with pytest.raises(ValueError, match="alpha"):
        PeriodRetention(alpha=1.5)
    with pytest.raises(StateMismatchError):
        PeriodRetention().merge(PeriodRetention().init(), PeriodChurn().init())
    with pytest.raises(ValueError, match="not after the latest event"):
        run(PeriodRetention(), events([1], [2]), as_of=month_start(1))


def test_mixed_currency_across_chunks_is_refused() -> None:
    m = RevenueRetention()
    a = m.update(m.init(), events([1], [0], [1.0]))
    b = m.update(m.init(), attrs.evolve(events([1], [1], [1.0]), currency=np.array(["USD"])))
    with pytest.raises(ValidationError, match="currency"):
        m.finalize(m.merge(a, b))


def test_single_period_has_no_rate() -> None:
    r = run(PeriodRetention(), events([1, 2], [0, 0]), as_of=month_start(1))
    assert np.isnan(r.value) and r.n == 0 and len(r.tables["base"]) == 0
    assert r.flags == ("no complete period with active customers before it",)


# -- laws ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        PeriodRetention(),
        PeriodRetention(period="week", zone="America/New_York", kinds=("purchase",)),
        PeriodChurn(base="average", period="quarter"),
        PeriodChurn(period="day"),
        RevenueRetention(),
        RevenueRetention(basis="gross", period="week", zone="Asia/Tokyo"),
    ],
    ids=lambda m: f"{m.name}-{'-'.join(str(v) for v in m.params().values())}",
)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=8)


def test_laws_string_ids_on_cdnow_slice() -> None:
    f = stickykit.datasets.load_cdnow(sample=True).slice(0, 300)
    f = attrs.evolve(f, customer_id=np.char.add("c", f.customer_id.astype(str)))
    check_metric(RevenueRetention(), f, max_examples=5)


@attrs.frozen
class ConcatenatingRevenue(RevenueRetention):
    """Broken: merges by stacking pairs without adding those in both states."""

    def merge(self, a: RevenuePeriodState, b: RevenuePeriodState) -> RevenuePeriodState:
        if len(a) == 0:
            return b
        if len(b) == 0:
            return a
        return attrs.evolve(
            a,
            customer_id=np.concatenate([a.customer_id, b.customer_id]),
            period=np.concatenate([a.period, b.period]),
            revenue=np.concatenate([a.revenue, b.revenue]),
            last_us=max(a.last_us, b.last_us),
        )


def test_laws_negative_control() -> None:
    """One customer's month split across two chunks: the broken merge keeps two pairs."""
    frame = events([1, 1, 2], [0, 0, 1], [1.0, 2.0, 3.0])
    check_laws(RevenueRetention(), frame, [1], [2, 1, 0])
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(ConcatenatingRevenue(), frame, [1], [2, 1, 0])


# -- property: count retention and start-base churn in [0, 1], summing to one ----------------


def check_count_rates(retention: Callable[[EventFrame], MetricResult]) -> None:
    """On every complete period with a base: 0 <= r <= 1, 0 <= c <= 1 and r + c = 1."""

    @NO_SHRINK
    @given(monthly_frames())
    @example(events([1, 2, 2, 3, 4], [0, 0, 1, 1, 1]))  # one retained, two new: growth
    def prop(frame: EventFrame) -> None:
        t = retention(frame).tables
        done = t["complete"] & (t["base"] > 0)
        r, c = t["retention"][done], t["churn_start"][done]
        assert ((r >= 0) & (r <= 1)).all() and ((c >= 0) & (c <= 1)).all()
        np.testing.assert_allclose(r + c, 1.0, rtol=1e-12)
        assert (t["retention_low"][done] <= r + 1e-12).all()
        assert (r <= t["retention_high"][done] + 1e-12).all()

    prop()


@attrs.frozen
class HeadcountRetention(PeriodRetention):
    """Broken: retention as the ratio of headcounts |A(t)| / |A(t-1)| (totals, not sets)."""

    def table(self, state: CustomerSummaryState, as_of: dt.datetime | None) -> Any:
        table, as_of_us, last, partial = super().table(state, as_of)
        base = np.where(table["base"] > 0, table["base"], 1)
        ok = table["complete"] & (table["base"] > 0)
        table["retention"] = np.where(ok, table["active"] / base, np.nan)
        table["churn_start"] = np.where(ok, 1 - table["retention"], np.nan)
        return table, as_of_us, last, partial


def test_count_rates() -> None:
    check_count_rates(lambda f: run(PeriodRetention(), f, AS_OF))
    check_count_rates(lambda f: run(PeriodChurn(period="week"), f, AS_OF))


def test_count_rates_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_count_rates(lambda f: run(HeadcountRetention(), f, AS_OF))


# -- property: GRR in [0, 1] -------------------------------------------------------------------


def check_grr_bounded(revenue: Callable[[EventFrame], MetricResult]) -> None:
    """Gross revenue retention of a fixed cohort never leaves [0, 1]."""

    @NO_SHRINK
    @given(monthly_frames(returns=True))
    @example(events([1, 1], [0, 1], [10.0, 30.0]))  # expansion
    def prop(frame: EventFrame) -> None:
        grr = revenue(frame).tables["grr"]
        grr = grr[~np.isnan(grr)]
        assert ((grr >= 0) & (grr <= 1 + 1e-12)).all()

    prop()


@attrs.frozen
class UncappedGross(RevenueRetention):
    """Broken: 'gross' retention as the cohort's whole revenue in t over its start revenue."""

    def finalize(self, state: RevenuePeriodState, as_of: dt.datetime | None = None) -> Any:
        r = super().finalize(state, as_of)
        return attrs.evolve(r, tables={**r.tables, "grr": r.tables["nrr"]})


def test_grr_bounded() -> None:
    check_grr_bounded(lambda f: run(RevenueRetention(basis="gross"), f, AS_OF))


def test_grr_bounded_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_grr_bounded(lambda f: run(UncappedGross(), f, AS_OF))


# -- property: NRR and average-base churn are >= 0 ---------------------------------------------


def check_nonnegative(result: Callable[[EventFrame], MetricResult], key: str) -> None:
    """``tables[key]`` is never negative (net returns included in the data)."""

    @NO_SHRINK
    @given(monthly_frames(returns=True))
    @example(events([1, 1, 1, 2, 3], [0, 1, 1, 1, 1], [10.0, 5.0, -20.0, 1.0, 1.0]))
    def prop(frame: EventFrame) -> None:
        values = result(frame).tables[key]
        assert (values[~np.isnan(values)] >= 0).all()

    prop()


@attrs.frozen
class SignedNet(RevenueRetention):
    """Broken: NRR summing the cohort's signed revenue in t (a net refund counts negative)."""

    def finalize(self, state: RevenuePeriodState, as_of: dt.datetime | None = None) -> Any:
        r = super().finalize(state, as_of)
        ids, periods, revenue = state.customer_id, state.period, state.revenue
        first = int(periods.min())
        nrr = np.full(len(r.tables["nrr"]), np.nan)
        for j, start in enumerate(r.tables["start"]):
            into = first + j + 1
            cohort = np.unique(ids[(periods == into - 1) & (revenue > 0)])
            later = (periods == into) & np.isin(ids, cohort)
            if start > 0 and r.tables["complete"][j]:
                nrr[j] = revenue[later].sum() / start
        return attrs.evolve(r, tables={**r.tables, "nrr": nrr})


@attrs.frozen
class NetChangeChurn(PeriodChurn):
    """Broken: average-base churn from headcounts, (|A(t-1)| - |A(t)|) / mean base."""

    def table(self, state: CustomerSummaryState, as_of: dt.datetime | None) -> Any:
        table, as_of_us, last, partial = super().table(state, as_of)
        mean = (table["base"] + table["active"]) / 2
        ok = table["complete"] & (table["base"] > 0)
        change = (table["base"] - table["active"]) / np.where(ok, mean, 1)
        table["churn_average"] = np.where(ok, change, np.nan)
        return table, as_of_us, last, partial


def test_nrr_and_average_churn_nonnegative() -> None:
    check_nonnegative(lambda f: run(RevenueRetention(), f, AS_OF), "nrr")
    check_nonnegative(lambda f: run(PeriodChurn(base="average"), f, AS_OF), "churn_average")


def test_nrr_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_nonnegative(lambda f: run(SignedNet(), f, AS_OF), "nrr")


def test_average_churn_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_nonnegative(lambda f: run(NetChangeChurn(base="average"), f, AS_OF), "churn_average")


# -- property: revenue movements add up --------------------------------------------------------


@settings(max_examples=15)
@given(monthly_frames(returns=True))
def test_movements_add_up(frame: EventFrame) -> None:
    """start - churned - contraction + expansion = end; end + new + reactivated = revenue(t)."""
    r = run(RevenueRetention(), frame, as_of=month_start(6))
    t = r.tables
    np.testing.assert_allclose(
        t["start"] - t["churned"] - t["contraction"] + t["expansion"], t["end"], atol=1e-9
    )
    np.testing.assert_allclose(t["start"] - t["churned"] - t["contraction"], t["retained"])
    df = pd.DataFrame({"c": frame.customer_id, "m": frame.timestamp, "a": frame.amount})
    df["m"] = df["m"].dt.to_period("M")
    per = df.groupby(["c", "m"])["a"].sum().clip(lower=0).groupby("m").sum()
    months = pd.period_range(df["m"].min(), "2023-06", freq="M")
    expected = per.reindex(months, fill_value=0.0).to_numpy()[1:]
    np.testing.assert_allclose(t["end"] + t["new"] + t["reactivated"], expected, atol=1e-9)


# -- kernels -----------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50)), max_size=30))
def test_wilson_bounds_match_scalar(pairs: list[tuple[int, int]]) -> None:
    x = np.array([min(a, b) for a, b in pairs], dtype=np.int64)
    n = np.array([b for _, b in pairs], dtype=np.int64)
    low, high = wilson_bounds(x, n, 0.1)
    for i in range(len(pairs)):
        assert (low[i], high[i]) == pytest.approx(wilson_interval(x[i], n[i], 0.1))


def test_active_pairs_across_words() -> None:
    """Days 60-70 straddle the first 64-bit word boundary."""
    from stickykit.metrics.behaviour.summary import CustomerSummary

    days = np.array([60, 63, 64, 70, 200])
    f = EventFrame(
        event_id=np.arange(5),
        customer_id=np.array([2, 1, 1, 2, 1]),
        timestamp=days.astype("datetime64[D]").astype("datetime64[us]"),
    )
    m = CustomerSummary(period="day")
    rows, periods = active_pairs(m.update(m.init(), f), 61, 199)
    assert sorted(zip(rows.tolist(), periods.tolist(), strict=True)) == [(0, 63), (0, 64), (1, 70)]


# -- CDNOW -------------------------------------------------------------------------------------


JULY_1998 = dt.datetime(1998, 7, 1, tzinfo=UTC)


def cdnow_frame() -> pd.DataFrame:
    f = stickykit.datasets.load_cdnow(sample=True)
    df = pd.DataFrame({"c": f.customer_id, "t": f.timestamp, "a": f.amount})
    df["m"] = df["t"].dt.to_period("M")
    return df


def test_cdnow_matches_pandas() -> None:
    """Monthly retention, NRR and GRR on the CDNOW sample against a pandas computation."""
    events_ = stickykit.datasets.load_cdnow(sample=True)
    df = cdnow_frame()
    months = pd.period_range(df["m"].min(), df["m"].max(), freq="M")
    counts = df.pivot_table(index="c", columns="m", values="a", aggfunc="size", fill_value=0)
    active = counts.reindex(columns=months, fill_value=0) > 0
    before, after = active.to_numpy()[:, :-1], active.to_numpy()[:, 1:]
    expected = (before & after).sum(axis=0) / before.sum(axis=0)
    r = stickykit.compute(PeriodRetention(), events_, as_of=JULY_1998)
    np.testing.assert_allclose(r.tables["retention"], expected, rtol=1e-12)
    assert r.tables["complete"].all() and r.flags == ()
    sums = df.pivot_table(index="c", columns="m", values="a", aggfunc="sum", fill_value=0.0)
    revenue = sums.reindex(columns=months, fill_value=0.0).to_numpy()
    r0, r1 = revenue[:, :-1], np.maximum(revenue[:, 1:], 0.0)
    cohort = r0 > 0
    start = (r0 * cohort).sum(axis=0)
    nrr = (r1 * cohort).sum(axis=0) / start
    grr = (np.minimum(r0, r1) * cohort).sum(axis=0) / start
    both = stickykit.compute([RevenueRetention(), PeriodChurn()], events_, as_of=JULY_1998)
    np.testing.assert_allclose(both["revenue_retention"].tables["nrr"], nrr, rtol=1e-9)
    np.testing.assert_allclose(both["revenue_retention"].tables["grr"], grr, rtol=1e-9)
    np.testing.assert_allclose(both["churn"].tables["churn_start"], 1 - expected, rtol=1e-12)


def test_cdnow_chunked_and_default_as_of() -> None:
    """Chunks give the result of one pass; by default June 1998 is partial."""
    events_ = stickykit.datasets.load_cdnow(sample=True)
    for metric in (PeriodRetention(), PeriodChurn(base="average"), RevenueRetention()):
        one = stickykit.compute(metric, events_)
        chunked = stickykit.compute(metric, events_, chunk_rows=700)
        assert results_close(one, chunked)
        assert one.tables["complete"].tolist() == [True] * 16 + [False]
        assert one.flags[0].startswith("the month starting 1998-06-01 contains as_of")
