"""Customer survival: laws, a hand-computed case, lifelines on CDNOW, telco, and properties.

Each property is a ``check_*`` function taking a metric factory ``churn_after_days -> metric``;
it runs on :class:`CustomerSurvival` (must pass) and on a deliberately broken subclass (must
fail).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from fractions import Fraction
from statistics import NormalDist
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from stickykit.datasets import load_cdnow, load_telco
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.behaviour.summary import CustomerSummaryState
from stickykit.metrics.behaviour.survival import CustomerLifetimes, CustomerSurvival
from stickykit.plugins.registry import create_registry
from stickykit.stats.survival import kaplan_meier
from stickykit.testing import check_metric, event_frames

UTC = dt.UTC
END_CDNOW = dt.datetime(1998, 7, 1, tzinfo=UTC)


def frame(ids: list[int], days: list[str], amounts: list[float] | None = None) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids),
        timestamp=np.array(days, dtype="datetime64[us]"),
        amount=None if amounts is None else np.array(amounts),
    )


def run(metric: CustomerSurvival, f: EventFrame, as_of: dt.datetime | None = None) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), f), as_of=as_of)


# -- laws ----------------------------------------------------------------------------------------


def test_laws() -> None:
    check_metric(CustomerSurvival(churn_after_days=90), max_examples=25)


def test_laws_other_options() -> None:
    metric = CustomerSurvival(
        churn_after_days=120, unit="month", censoring="decided", zero_lifetimes="condition"
    )
    check_metric(metric, max_examples=15)


def test_laws_on_cdnow_sample() -> None:
    check_metric(
        CustomerSurvival(churn_after_days=180),
        load_cdnow(sample=True).slice(0, 300),
        max_examples=5,
    )


# -- hand-computed -------------------------------------------------------------------------------

# Six customers, threshold 30 days, as_of 2024-04-01 (so churned means last event before
# 2024-03-02):
#   1: Jan 1 .. Jan 21          churned, lifetime 20
#   2: Jan 1 only               churned, lifetime 0
#   3: Jan 11 .. Feb 10         churned, lifetime 30
#   4: Feb 1 .. Mar 20          active, censored at Apr 1 - Feb 1 = 60 (2024 is a leap year)
#   5: Jan 1 .. Jan 21 (a return on Mar 25 is not activity)   churned, lifetime 20
#   6: Mar 10 only              active, censored at 22
HAND = frame(
    [1, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6],
    [
        "2024-01-01", "2024-01-21", "2024-01-01", "2024-01-11", "2024-02-10", "2024-02-01",
        "2024-03-20", "2024-01-01", "2024-01-21", "2024-03-25", "2024-03-10",
    ],
    [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, -5.0, 5.0],
)  # fmt: skip
HAND_AS_OF = dt.datetime(2024, 4, 1, tzinfo=UTC)


def test_hand_computed() -> None:
    """By hand:

    t=0:  n=6, d=1                  S = 5/6
    t=20: n=5, d=2                  S = 5/6 * 3/5 = 1/2
    t=22: n=3, censored 1           S = 1/2
    t=30: n=2, d=1                  S = 1/2 * 1/2 = 1/4
    t=60: n=1, censored 1           S = 1/4
    Greenwood sums: 1/(6*5) = 1/30; + 2/(5*3) = 1/30 + 2/15 = 1/6; + 1/(2*1) -> 2/3.
    Variance at 20: (1/2)^2 * 1/6 = 1/24.
    The median is 20 (S(20) = 1/2 exactly, the first time S <= 1/2).
    """
    r = run(CustomerSurvival(churn_after_days=30), HAND, HAND_AS_OF)
    t = r.tables
    assert t["times"].tolist() == [0.0, 20.0, 22.0, 30.0, 60.0]
    assert t["at_risk"].tolist() == [6, 5, 3, 2, 1]
    assert t["events"].tolist() == [1, 2, 0, 1, 0]
    assert t["censored"].tolist() == [0, 0, 1, 0, 1]
    exact = [Fraction(5, 6), Fraction(1, 2), Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)]
    np.testing.assert_allclose(t["survival"], [float(s) for s in exact], rtol=1e-14)
    greenwood = [Fraction(1, 30), Fraction(1, 6), Fraction(1, 6), Fraction(2, 3), Fraction(2, 3)]
    variance = [float(s * s * g) for s, g in zip(exact, greenwood, strict=True)]
    np.testing.assert_allclose(t["se"] ** 2, variance, rtol=1e-12)
    # the log(-log) band at t = 30 from the formula
    z = NormalDist().inv_cdf(0.975)
    sigma = math.sqrt(2 / 3) / abs(math.log(0.25))
    np.testing.assert_allclose(
        [t["ci_low"][3], t["ci_high"][3]],
        [0.25 ** math.exp(z * sigma), 0.25 ** math.exp(-z * sigma)],
    )
    assert r.value == 20.0
    assert r.n == 6 and r.n_missing == 0 and r.unit == "days"
    assert r.details["churned"] == 4 and r.details["censored"] == 2
    assert r.details["zero_lifetime"] == 1 and r.details["undecided"] == 0
    assert r.details["max_followup"] == 60.0
    assert r.details["survival_at_30"] == pytest.approx(0.25)
    assert math.isnan(r.details["survival_at_90"])  # past a censored last duration
    assert r.as_of == HAND_AS_OF and r.params["churn_after_days"] == 30
    # interval: where the band limits first reach 1/2
    low = t["times"][np.argmax(t["ci_low"] <= 0.5 + 1e-10)]
    assert r.ci_low == low
    assert r.ci_high == math.inf and r.se is None and r.level == pytest.approx(0.95)
    assert "unbounded" in r.flags[-1]


def test_hand_computed_decided_and_condition() -> None:
    """censoring="decided" censors the active at as_of - 30 days = Mar 2: customer 4 at
    30 days (Feb 1 .. Mar 2), customer 6 (first seen Mar 10) undecided and left out.
    zero_lifetimes="condition" then drops customer 2 (lifetime 0):
    t=20: n=4, d=2 -> 1/2; t=30: n=2, d=1, censored 1 -> 1/4."""
    m = CustomerSurvival(churn_after_days=30, censoring="decided", zero_lifetimes="condition")
    r = run(m, HAND, HAND_AS_OF)
    assert r.tables["times"].tolist() == [20.0, 30.0]
    assert r.tables["at_risk"].tolist() == [4, 2]
    assert r.tables["censored"].tolist() == [0, 1]
    np.testing.assert_allclose(r.tables["survival"], [0.5, 0.25])
    assert r.n == 4 and r.n_missing == 2
    assert r.details["undecided"] == 1 and r.details["zero_lifetime"] == 1
    life = m.lifetimes(m.update(m.init(), HAND), HAND_AS_OF)
    assert isinstance(life, CustomerLifetimes)
    assert life.customer_id.tolist() == [1, 2, 3, 4, 5, 6]
    assert life.duration.tolist() == [20.0, 0.0, 30.0, 30.0, 20.0, -8.0]
    assert life.used.tolist() == [True, False, True, True, True, False]


def test_units_scale_the_times() -> None:
    days = run(CustomerSurvival(churn_after_days=30), HAND, HAND_AS_OF)
    for unit, length in (("week", 7.0), ("month", 365.25 / 12), ("year", 365.25)):
        other = run(CustomerSurvival(churn_after_days=30, unit=unit), HAND, HAND_AS_OF)
        np.testing.assert_allclose(other.tables["times"], days.tables["times"] / length)
        np.testing.assert_array_equal(other.tables["survival"], days.tables["survival"])
        assert other.value == pytest.approx(days.value / length)
    assert "survival_at_12" in run(CustomerSurvival(unit="month"), HAND, HAND_AS_OF).details


def test_median_not_reached_is_infinite_and_flagged() -> None:
    """Everyone active: nothing churns, the curve stays at 1."""
    r = run(CustomerSurvival(churn_after_days=365), HAND, HAND_AS_OF)
    assert r.details["churned"] == 0
    assert r.value == math.inf and (r.ci_low, r.ci_high) == (math.inf, math.inf)
    assert r.flags[0].startswith("median not reached")
    assert json.loads(json.dumps(r.to_dict()))["value"] == math.inf


def test_default_as_of_and_errors() -> None:
    m = CustomerSurvival(churn_after_days=30)
    r = run(m, HAND)
    assert r.as_of == dt.datetime(2024, 3, 20, 0, 0, 0, 1, tzinfo=UTC)  # the return is not activity
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())
    only_new = frame([1], ["2024-03-30"])
    with pytest.raises(InsufficientDataError, match="usable duration"):
        run(CustomerSurvival(churn_after_days=30, censoring="decided"), only_new, HAND_AS_OF)
    with pytest.raises(ValueError, match="naive"):
        run(m, HAND, dt.datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"churn_after_days": 0}, "churn_after_days"),
        ({"churn_after_days": -3.0}, "churn_after_days"),
        ({"churn_after_days": math.inf}, "churn_after_days"),
        ({"churn_after_days": True}, "churn_after_days"),
        ({"unit": "fortnight"}, "unit"),
        ({"censoring": "end"}, "censoring"),
        ({"zero_lifetimes": "drop"}, "zero_lifetimes"),
        ({"alpha": 1.0}, "alpha"),
        ({"horizons": (30, -1)}, "horizons"),
    ],
)
def test_bad_parameters(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CustomerSurvival(**params)


def test_registered_through_the_hook() -> None:
    import stickykit.metrics.behaviour.survival as module

    registry = create_registry(builtins=False, plugins=[module])
    assert registry.names() == ["customer_survival"]
    metric = registry.get("customer_survival", churn_after_days=90)
    assert metric == CustomerSurvival(churn_after_days=90)
    assert metric.fingerprint != CustomerSurvival(churn_after_days=91).fingerprint


# -- lifelines on CDNOW --------------------------------------------------------------------------

#: Curve and band agree with lifelines to this relative tolerance (same float64 formulas);
#: times, counts, the median and its interval exactly.
LIFELINES_RTOL = 1e-12


def pandas_durations(
    f: EventFrame, as_of: dt.datetime, tau_days: float, censoring: str
) -> tuple[np.ndarray, np.ndarray]:
    """Lifetimes in days from the raw events, computed with pandas group-bys."""
    pd = pytest.importorskip("pandas")
    events = pd.DataFrame(
        {"customer": f.customer_id, "time": pd.to_datetime(f.timestamp), "amount": f.amount}
    )
    events = events[events["amount"] >= 0]
    span = events.groupby("customer")["time"].agg(["min", "max"])
    end = pd.Timestamp(as_of).tz_convert(None)
    tau = pd.Timedelta(days=tau_days)
    churned = span["max"] < end - tau
    horizon = end if censoring == "as_of" else end - tau
    stop = span["max"].where(churned, horizon)
    days = ((stop - span["min"]) / pd.Timedelta(days=1)).to_numpy()
    keep = days >= 0
    return days[keep], churned.to_numpy()[keep]


def assert_matches_lifelines(r: MetricResult, durations: np.ndarray, churned: np.ndarray) -> None:
    lifelines = pytest.importorskip("lifelines")
    from lifelines.utils import qth_survival_times

    fitter = lifelines.KaplanMeierFitter(alpha=1 - r.level).fit(durations, churned)
    t = r.tables
    table = fitter.event_table.loc[t["times"]]
    np.testing.assert_array_equal(t["at_risk"], table["at_risk"].to_numpy())
    np.testing.assert_array_equal(t["events"], table["observed"].to_numpy())
    np.testing.assert_array_equal(t["censored"], table["censored"].to_numpy())
    curve = fitter.survival_function_.iloc[:, 0].loc[t["times"]].to_numpy()
    band = fitter.confidence_interval_.loc[t["times"]].to_numpy()
    np.testing.assert_allclose(t["survival"], curve, rtol=LIFELINES_RTOL, atol=0)
    np.testing.assert_allclose(t["ci_low"], band[:, 0], rtol=LIFELINES_RTOL, atol=0)
    np.testing.assert_allclose(t["ci_high"], band[:, 1], rtol=LIFELINES_RTOL, atol=0)
    # lifelines' median depends on rounding where the curve sits at 1/2 exactly: avoid that
    assert np.min(np.abs(t["survival"] - 0.5)) > 1e-9
    assert r.value == fitter.median_survival_time_
    limits = qth_survival_times(0.5, fitter.confidence_interval_).to_numpy().ravel()
    assert (r.ci_low, r.ci_high) == tuple(limits.tolist())


@pytest.mark.parametrize(
    ("tau", "censoring", "alpha"),
    [(180.0, "as_of", 0.05), (90.0, "decided", 0.1), (365.0, "as_of", 0.01)],
)
def test_cdnow_sample_matches_lifelines(tau: float, censoring: str, alpha: float) -> None:
    events = load_cdnow(sample=True)
    m = CustomerSurvival(churn_after_days=tau, censoring=censoring, alpha=alpha)
    r = run(m, events, END_CDNOW)
    durations, churned = pandas_durations(events, END_CDNOW, tau, censoring)
    assert r.n == len(durations) == 2357
    assert r.details["churned"] == churned.sum()
    assert_matches_lifelines(r, durations, churned)


def test_cdnow_sample_conditional_curve_matches_lifelines() -> None:
    events = load_cdnow(sample=True)
    m = CustomerSurvival(churn_after_days=180, zero_lifetimes="condition")
    r = run(m, events, END_CDNOW)
    durations, churned = pandas_durations(events, END_CDNOW, 180, "as_of")
    positive = durations > 0
    assert r.n == positive.sum() and r.n_missing == (~positive).sum()
    assert_matches_lifelines(r, durations[positive], churned[positive])
    # S(t | T > 0) = S(t) / S(0)
    full = run(CustomerSurvival(churn_after_days=180), events, END_CDNOW)
    s0 = full.tables["survival"][0]
    np.testing.assert_allclose(r.tables["survival"], full.tables["survival"][1:] / s0, rtol=1e-12)


def test_cdnow_full_matches_lifelines() -> None:
    """All 23,570 customers, default threshold and as_of the end of the data (30 June 1998)."""
    events = load_cdnow()
    r = run(CustomerSurvival(), events, END_CDNOW)
    durations, churned = pandas_durations(events, END_CDNOW, 365.0, "as_of")
    assert r.n == 23_570
    assert r.value == 0.0  # over half the cohort never buys again
    assert_matches_lifelines(r, durations, churned)
    # chunked, as the engine would run it: the same result
    m = CustomerSurvival()
    state = m.init()
    for start in range(0, len(events), 7_000):
        state = m.merge(state, m.update(m.init(), events.slice(start, start + 7_000)))
    chunked = m.finalize(state, END_CDNOW)
    np.testing.assert_array_equal(chunked.tables["survival"], r.tables["survival"])


# -- telco: an easily verified figure ---------------------------------------------------------------


def test_telco_first_month_by_counting() -> None:
    """IBM telco churn (tenure in months, Churn = event). Counting rows of the CSV verifies:
    7,043 customers, 11 with tenure 0 (none churned), 613 with tenure 1 of whom 380 churned.
    (``zcat telco.csv.gz | awk -F, '$6 == 1' | grep -c Yes$`` gives 380.) So the product-limit
    estimate at one month is 1 - 380 / (7043 - 11) = 1 - 380/7032 = 0.945961..."""
    cols = load_telco()
    tenure, churn = cols["tenure"], cols["Churn"]
    assert len(tenure) == 7043 and int((tenure == 0).sum()) == 11
    assert int((tenure == 1).sum()) == 613 and int((churn & (tenure == 1)).sum()) == 380
    km = kaplan_meier(tenure, churn)
    assert km.survival_at(0.0) == 1.0
    assert km.survival_at(1.0) == pytest.approx(1 - 380 / 7032, rel=1e-15)


# -- properties, each with a negative control -----------------------------------------------------

Factory = Callable[[float], CustomerSurvival]


def real(tau: float) -> CustomerSurvival:
    return CustomerSurvival(churn_after_days=tau)


@attrs.frozen
class InvertedThreshold(CustomerSurvival):
    """Broken: calls a customer churned when the last event is *within* the threshold."""

    def lifetimes(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> CustomerLifetimes:
        life = super().lifetimes(state, as_of)
        return attrs.evolve(life, churned=~life.churned)


@attrs.frozen
class ConditionalSurvival(CustomerSurvival):
    """Broken: reports each time's conditional survival 1 - d/n instead of the product."""

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        r = super().finalize(state, as_of)
        t = r.tables
        return attrs.evolve(r, tables={**t, "survival": 1 - t["events"] / t["at_risk"]})


@attrs.frozen
class FirstRowIsFirstEvent(CustomerSurvival):
    """Broken: takes a customer's first *row* in input order as their first event."""

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        chunk = super().update(self.init(), frame)
        if len(frame):
            ids, where = np.unique(frame.customer_id, return_index=True)
            rows = np.searchsorted(ids, chunk.customer_id)
            first = frame.timestamp.view(np.int64)[where[rows]]
            chunk = attrs.evolve(chunk, first_us=first)
        return self.merge(state, chunk)


def as_of_after(f: EventFrame, days: int) -> dt.datetime:
    latest = f.timestamp.max().astype("datetime64[us]").item()
    return latest.replace(tzinfo=UTC) + dt.timedelta(days=days, microseconds=1)


def check_threshold_monotone(make: Factory, *, shrink: bool = True) -> None:
    """Raising the threshold never increases the number churned (as_of fixed)."""

    @given(event_frames(min_rows=1), st.floats(1, 400), st.floats(1, 400), st.integers(0, 200))
    def prop(f: EventFrame, a: float, b: float, gap: int) -> None:
        low, high = min(a, b), max(a, b)
        as_of = as_of_after(f, gap)
        r_low, r_high = run(make(low), f, as_of), run(make(high), f, as_of)
        assert r_high.details["churned"] <= r_low.details["churned"]

    quick(prop, shrink)()


def check_survival_non_increasing(make: Factory, *, shrink: bool = True) -> None:
    @given(event_frames(min_rows=1), st.floats(1, 400), st.integers(0, 200))
    def prop(f: EventFrame, tau: float, gap: int) -> None:
        r = run(make(tau), f, as_of_after(f, gap))
        s = r.tables["survival"]
        assert np.all(np.diff(s) <= 0) and np.all((s >= 0) & (s <= 1))

    quick(prop, shrink)()


def check_row_order_irrelevant(make: Factory, *, shrink: bool = True) -> None:
    @given(event_frames(min_rows=1), st.floats(1, 400), st.randoms(use_true_random=False))
    def prop(f: EventFrame, tau: float, random: Any) -> None:
        order = np.array(random.sample(range(len(f)), len(f)), dtype=np.intp)
        as_of = as_of_after(f, 30)
        a, b = run(make(tau), f, as_of), run(make(tau), f.take(order), as_of)
        np.testing.assert_array_equal(a.tables["times"], b.tables["times"])
        np.testing.assert_array_equal(a.tables["survival"], b.tables["survival"])
        assert a.details == b.details

    quick(prop, shrink)()


def quick(prop: Any, shrink: bool) -> Any:
    """``prop`` as is, or without the shrink phase (a negative control needs a failure, not
    the smallest one)."""
    return prop if shrink else settings(phases=(Phase.explicit, Phase.generate))(prop)


def assert_rejected(check: Callable[..., None], make: Factory) -> None:
    """``check`` must fail on ``make`` by an assertion (one, or a group of them)."""
    rejected = False
    try:
        check(make, shrink=False)
    except* AssertionError:
        rejected = True
    assert rejected, f"{check.__name__} accepted {make}"


def test_threshold_monotone_holds() -> None:
    check_threshold_monotone(real)


def test_threshold_monotone_negative_control() -> None:
    assert_rejected(check_threshold_monotone, lambda tau: InvertedThreshold(churn_after_days=tau))


def test_survival_non_increasing_holds() -> None:
    check_survival_non_increasing(real)


def test_survival_non_increasing_negative_control() -> None:
    assert_rejected(
        check_survival_non_increasing, lambda tau: ConditionalSurvival(churn_after_days=tau)
    )


def test_row_order_irrelevant_holds() -> None:
    check_row_order_irrelevant(real)


def test_row_order_irrelevant_negative_control() -> None:
    assert_rejected(
        check_row_order_irrelevant, lambda tau: FirstRowIsFirstEvent(churn_after_days=tau)
    )
