"""Staggered DiD (Callaway & Sant'Anna 2021) and the programme effect built on it.

Hand-computed 2x2 and staggered cases, simulated panels with a known effect (coverage, no-effect
and broken-trend negative controls), the two-way fixed-effects bias under heterogeneous effects
(Goodman-Bacon 2021), invariances with negative controls, and the ``programme_effect`` metric:
laws, a hand case, simulated self-selection where the naive gap is biased.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from matplotlib.figure import Figure
from numpy.testing import assert_allclose
from scipy import stats

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import EventFrame
from stickykit.metrics.effect import ProgrammeEffect
from stickykit.stats.staggered import (
    StackedDesign,
    callaway_santanna,
    group_time_effects,
    two_way_fixed_effects,
)
from stickykit.testing import check_metric

FAST = settings(max_examples=20, deadline=None)
Z95 = 1.959963984540054


def simulate(
    seed: int,
    n: int = 300,
    periods: int = 8,
    effect: str = "dynamic",
    trend_break: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """A panel with unit and period effects; cohorts 3 and 5 and never-treated units.

    ``effect``: ``"dynamic"`` adds e + 1 in event time e >= 0, ``"constant"`` adds 2,
    ``"none"`` nothing. Treated units have higher levels (selection on levels), which
    differencing removes. ``trend_break`` adds that much per period to treated units'
    outcomes (a violation of parallel trends). Returns outcome, cohort and the true overall
    effect theta^O_sel: the cohort-size weighted mean of each cohort's mean post effect.
    """
    rng = np.random.default_rng(seed)
    cohort = rng.choice([3.0, 5.0, np.inf], size=n, p=[0.3, 0.3, 0.4])
    treated = np.isfinite(cohort)
    t = np.arange(periods)[None, :]
    start = np.where(treated, cohort, 10**6)[:, None]
    e = t - start
    if effect == "dynamic":
        tau = np.where(e >= 0, e + 1.0, 0.0)
    elif effect == "constant":
        tau = np.where(e >= 0, 2.0, 0.0)
    else:
        tau = np.zeros((n, periods))
    level = rng.normal(0, 2, n) + 3.0 * treated
    y = (
        level[:, None]
        + np.linspace(0, 3, periods)[None, :]
        + tau
        + trend_break * t * treated[:, None]
        + rng.normal(0, 1, (n, periods))
    )
    # truth: each cohort's mean of tau over its post periods, weighted by cohort size
    post_means = [tau[cohort == g][:, int(g) :].mean() for g in (3.0, 5.0)]
    sizes = [int((cohort == g).sum()) for g in (3.0, 5.0)]
    truth = float(np.average(post_means, weights=sizes))
    return y, cohort, truth


# -- hand-computed -------------------------------------------------------------------------------


def test_two_by_two_by_hand() -> None:
    """Treated changes 3 and 5 (mean 4), controls 1 and 2 (mean 1.5): ATT = 2.5.

    Influence (N = 4): treated N (dY - 4)/2 = -2, +2; controls -N (dY - 1.5)/2 = +1, -1;
    se = sqrt(4 + 4 + 1 + 1)/4 = 0.7906 = sqrt(var_T/2 + var_C/2) with population variances
    1 and 0.25.
    """
    y = np.array([[0.0, 3], [1, 6], [0, 1], [2, 4]])
    r = callaway_santanna(y, [1, 1, np.inf, np.inf])
    assert r.cells["att"].tolist() == [2.5]
    assert r.overall.value == 2.5
    assert r.overall.se == pytest.approx(np.sqrt(10) / 4, rel=1e-12)
    assert r.overall.ci_low == pytest.approx(2.5 - Z95 * np.sqrt(10) / 4, rel=1e-9)
    # the two-way fixed-effects coefficient is the same 2x2 difference in differences
    assert two_way_fixed_effects(y, [1, 1, np.inf, np.inf]).value == pytest.approx(2.5)


def test_staggered_by_hand() -> None:
    """Cohort 2 (units 0-1): changes from period 1 to 2 are 2, 2 and to 3 are 4, 4; cohort 3
    (unit 2): 3 from period 2 to 3; never-treated units 3-4 do not change. ATT(2,2) = 2,
    ATT(2,3) = 4, ATT(3,3) = 3. Event time 0: (2 x 2 + 1 x 3)/3 = 7/3; event time 1: 4.
    Cohorts: theta(2) = (2 + 4)/2 = 3, theta(3) = 3; overall (2 x 3 + 1 x 3)/3 = 3.
    """
    y = np.array([[0.0, 0, 2, 4], [1, 1, 3, 5], [0, 0, 0, 3], [0, 0, 0, 0], [1, 1, 1, 1]])
    r = callaway_santanna(y, [2, 2, 3, np.inf, np.inf])
    cells = {
        (int(g), int(t)): a
        for g, t, a in zip(r.cells["cohort"], r.cells["period"], r.cells["att"], strict=True)
    }
    assert cells[2, 2] == 2.0 and cells[2, 3] == 4.0 and cells[3, 3] == 3.0
    assert cells[2, 1] == 0.0 and cells[3, 1] == 0.0  # varying base: pre cells t-1 -> t
    es = dict(zip(r.event_study["event_time"].tolist(), r.event_study["att"], strict=True))
    assert es[0] == pytest.approx(7 / 3) and es[1] == pytest.approx(4.0)
    assert r.by_cohort["att"].tolist() == [3.0, 3.0]
    assert r.overall.value == pytest.approx(3.0)
    assert r.overall_event.value == pytest.approx((7 / 3 + 4) / 2)


def test_universal_base_and_anticipation() -> None:
    y = np.array([[0.0, 1, 2, 9], [0, 1, 2, 3]])
    universal = callaway_santanna(y, [3, np.inf], base_period="universal")
    ref = universal.cells["kind"] == "reference"
    assert universal.cells["period"][ref].tolist() == [2]
    assert universal.cells["att"][ref].tolist() == [0.0]
    es = universal.event_study
    assert es["att"][es["event_time"] == -1].tolist() == [0.0]
    assert es["se"][es["event_time"] == -1].tolist() == [0.0]
    # anticipation 1: the base moves to period 1, and period 2 is an anticipation cell
    early = callaway_santanna(y, [3, np.inf], anticipation=1)
    kinds = dict(zip(early.cells["period"].tolist(), early.cells["kind"], strict=True))
    assert kinds[2] == "anticipation" and kinds[3] == "post"
    assert set(early.cells["base"][early.cells["kind"] == "post"].tolist()) == {1}


def test_weighted_controls_by_hand() -> None:
    """A stacked design: control weights 3 and 1 give the control change (3 x 1 + 1 x 5)/4 = 2;
    treated change 6: ATT = 4."""
    y = np.array([[0.0, 6], [0, 1], [0, 5]])
    d = StackedDesign(
        unit=np.arange(3),
        cohort=np.ones(3, np.int64),
        treated=np.array([True, False, False]),
        weight=np.array([1.0, 3.0, 1.0]),
        control_from=np.full(3, 10**6),
        cluster=np.arange(3),
        n_clusters=3,
    )
    assert group_time_effects(y, d).overall.value == pytest.approx(4.0)


def test_matched_periods_are_labelled() -> None:
    """With the outcomes of 2 periods before the base matched on, the pre cells that use them
    are "matched" and leave the pre-trend test; earlier ones stay "pre"."""
    y = np.array([[0.0, 1, 2, 3, 4, 9], [0, 1, 2, 3, 4, 5], [1, 1, 2, 2, 3, 3]])
    d = StackedDesign(
        unit=np.arange(3),
        cohort=np.full(3, 5, np.int64),
        treated=np.array([True, False, False]),
        weight=np.ones(3),
        control_from=np.full(3, 10**6),
        cluster=np.arange(3),
        n_clusters=3,
    )
    r = group_time_effects(y, d, matched_periods=2)
    kinds = dict(zip(r.cells["period"].tolist(), r.cells["kind"].tolist(), strict=True))
    # base 4, matched periods 2 and 3: cells t = 2 (2 vs 1), 3 (3 vs 2), 4 (4 vs 3) use them
    assert kinds == {1: "pre", 2: "matched", 3: "matched", 4: "matched", 5: "post"}
    assert r.pretrend.n_cells == 1
    assert group_time_effects(y, d).pretrend.n_cells == 4


# -- simulations with a known effect -------------------------------------------------------------


def test_interval_covers_the_known_effect() -> None:
    y, cohort, truth = simulate(1)
    r = callaway_santanna(y, cohort)
    assert r.overall.ci_low <= truth <= r.overall.ci_high
    # event-time effects are e + 1
    post = r.event_study["event_time"] >= 0
    assert_allclose(r.event_study["att"][post], r.event_study["event_time"][post] + 1, atol=0.6)


def coverage(estimator: Any, reps: int = 60) -> float:
    hits = 0
    for seed in range(reps):
        y, cohort, truth = simulate(100 + seed, n=200, periods=7)
        low, high = estimator(y, cohort)
        hits += low <= truth <= high
    return hits / reps


def cs_interval(y: np.ndarray, cohort: np.ndarray) -> tuple[float, float]:
    o = callaway_santanna(y, cohort).overall
    return o.ci_low, o.ci_high


def levels_interval(y: np.ndarray, cohort: np.ndarray) -> tuple[float, float]:
    """A broken estimator: post-treatment levels of treated minus never-treated units, without
    the base period (selection on levels makes it biased)."""
    treated = np.isfinite(cohort)
    post = np.arange(y.shape[1]) >= np.where(treated, cohort, 10**6)[:, None]
    gap = y[treated][post[treated]].mean() - y[~treated][:, post.any(axis=0)].mean()
    se = y[treated][post[treated]].std() / np.sqrt(post.sum())
    return gap - Z95 * se, gap + Z95 * se


def test_coverage_with_negative_control() -> None:
    """Over 60 simulated panels the 95 % interval covers theta^O_sel at a rate near 95 %
    (binomial sd about 3 points); the level comparison without a base period never does."""
    assert coverage(cs_interval) >= 0.85
    assert coverage(levels_interval) <= 0.2


def test_no_effect_negative_control() -> None:
    y, cohort, truth = simulate(2, effect="none")
    assert truth == 0.0
    r = callaway_santanna(y, cohort)
    assert r.overall.ci_low <= 0.0 <= r.overall.ci_high
    assert r.pretrend.p_value > 0.05


def test_pretrend_test_detects_a_trend_break() -> None:
    """Negative control for the pre-trend test: treated units trending 0.5 per period faster
    than controls make the pre-treatment cells non-zero and the joint test rejects."""
    y, cohort, _ = simulate(3, trend_break=0.5)
    r = callaway_santanna(y, cohort)
    assert r.pretrend.p_value < 0.001
    assert r.pretrend.df == r.pretrend.n_cells == int((r.cells["kind"] == "pre").sum())


def test_twfe_is_biased_under_heterogeneous_effects() -> None:
    """Effects growing with event time: the two-way fixed-effects coefficient uses
    already-treated units as controls and misses theta^O_sel far outside its interval, while
    the group-time estimate covers it; with a constant effect both are fine."""
    y, cohort, truth = simulate(4, n=600, effect="dynamic")
    twfe = two_way_fixed_effects(y, cohort)
    cs = callaway_santanna(y, cohort)
    assert not twfe.ci_low <= truth <= twfe.ci_high
    assert truth - twfe.value > 0.4
    assert cs.overall.ci_low <= truth <= cs.overall.ci_high
    y, cohort, truth = simulate(4, n=600, effect="constant")
    twfe = two_way_fixed_effects(y, cohort)
    assert twfe.ci_low <= truth <= twfe.ci_high


def test_twfe_matches_dummy_regression() -> None:
    """Oracle: least squares on unit and period dummies plus the treatment dummy."""
    y, cohort, _ = simulate(5, n=40, periods=6)
    n, periods = y.shape
    d = np.arange(periods)[None, :] >= np.where(np.isfinite(cohort), cohort, 99)[:, None]
    unit = np.repeat(np.eye(n), periods, axis=0)
    period = np.tile(np.eye(periods)[:, 1:], (n, 1))
    x = np.column_stack([d.reshape(-1).astype(float), unit, period])
    beta = np.linalg.lstsq(x, y.reshape(-1), rcond=None)[0][0]
    assert two_way_fixed_effects(y, cohort).value == pytest.approx(beta, rel=1e-9)


# -- inference -----------------------------------------------------------------------------------


def test_multiplier_bootstrap() -> None:
    y, cohort, _ = simulate(6, n=300)
    analytic = callaway_santanna(y, cohort)
    boot = callaway_santanna(y, cohort, inference="multiplier", n_boot=400, seed=3)
    again = callaway_santanna(y, cohort, inference="multiplier", n_boot=400, seed=3)
    other = callaway_santanna(y, cohort, inference="multiplier", n_boot=400, seed=4)
    assert boot.overall.value == analytic.overall.value
    assert boot.overall.se == pytest.approx(analytic.overall.se, rel=0.15)
    assert boot.overall.se == again.overall.se != other.overall.se
    assert "multiplier bootstrap (Rademacher weights, 400 replicates, seed 3)" in boot.method
    es = boot.event_study
    usable = es["se"] > 0
    # the simultaneous band is wider than the pointwise interval
    assert (
        es["band_high"][usable] - es["band_low"][usable]
        >= es["ci_high"][usable] - es["ci_low"][usable] - 1e-12
    ).all()
    assert np.isnan(analytic.event_study["band_low"]).all()


def test_customer_clusters() -> None:
    """Each unit's data twice: clustered on the original unit the standard error is that of the
    original panel (exactly); unclustered it shrinks by sqrt(2) (wrongly)."""
    y, cohort, _ = simulate(7, n=120)
    original = callaway_santanna(y, cohort).overall.se
    twice_y, twice_c = np.repeat(y, 2, axis=0), np.repeat(cohort, 2)
    clustered = callaway_santanna(twice_y, twice_c, cluster=np.repeat(np.arange(120), 2))
    naive = callaway_santanna(twice_y, twice_c)
    assert clustered.overall.se == pytest.approx(original, rel=1e-9)
    assert naive.overall.se == pytest.approx(original / np.sqrt(2), rel=1e-9)


def test_not_yet_treated_controls() -> None:
    y, cohort, _ = simulate(8)
    only_treated = np.isfinite(cohort)
    with pytest.raises(InsufficientDataError, match="never-treated"):
        callaway_santanna(y[only_treated], cohort[only_treated])
    r = callaway_santanna(y[only_treated], cohort[only_treated], control="not_yet")
    # cohort 3 can use cohort 5 as controls up to period 4 only; later cells have none
    cells = r.cells
    late = (cells["cohort"] == 3) & (cells["period"] >= 5)
    assert np.isnan(cells["att"][late]).all() and (cells["n_control"][late] == 0).all()
    assert any("without eligible controls" in f for f in r.flags)
    early = (cells["cohort"] == 3) & (cells["period"] == 3)
    assert cells["att"][early][0] == pytest.approx(1.0, abs=0.6)


# -- invariances ---------------------------------------------------------------------------------


@st.composite
def panels(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(4, 12))
    y = draw(hnp.arrays(np.float64, (n, 4), elements=st.floats(-10, 10, allow_subnormal=False)))
    cohort = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([1.0, 2.0, 3.0, np.inf])))
    cohort[0], cohort[1] = 2.0, np.inf
    return y, cohort


@FAST
@given(panels(), hnp.arrays(np.float64, 12, elements=st.floats(-50, 50)), st.floats(0.1, 10))
def test_fixed_effects_and_scale(
    panel: tuple[np.ndarray, np.ndarray], shifts: np.ndarray, scale: float
) -> None:
    y, cohort = panel
    base = callaway_santanna(y, cohort)
    unit_fe = shifts[: len(y), None]
    period_fe = shifts[None, :4]
    moved = callaway_santanna(y + unit_fe + period_fe, cohort)
    assert_allclose(moved.cells["att"], base.cells["att"], atol=1e-8)
    scaled = callaway_santanna(y * scale, cohort)
    assert_allclose(scaled.cells["att"], base.cells["att"] * scale, atol=1e-8)
    assert scaled.overall.se == pytest.approx(base.overall.se * scale, rel=1e-9, abs=1e-9)


def test_unit_effects_break_a_level_comparison() -> None:
    """Negative control for the invariance above: a comparison of levels moves with unit
    effects."""
    y = np.array([[0.0, 3], [1, 6], [0, 1], [2, 4]])
    cohort = np.array([1, 1, np.inf, np.inf])
    shift = np.array([[5.0], [5.0], [0.0], [0.0]])
    assert levels_interval(y + shift, cohort) != levels_interval(y, cohort)
    assert callaway_santanna(y + shift, cohort).overall.value == 2.5


@FAST
@given(panels(), st.randoms(use_true_random=False))
def test_unit_order_does_not_matter(panel: tuple[np.ndarray, np.ndarray], rnd: Any) -> None:
    y, cohort = panel
    order = np.array(rnd.sample(range(len(y)), len(y)))
    a, b = callaway_santanna(y, cohort), callaway_santanna(y[order], cohort[order])
    assert_allclose(a.cells["att"], b.cells["att"], atol=1e-9)
    assert a.overall.se == pytest.approx(b.overall.se, rel=1e-9, abs=1e-12)


# -- input and plots -----------------------------------------------------------------------------


def test_errors_name_row_and_value() -> None:
    y = np.zeros((3, 3))
    y[1, 2] = np.nan
    with pytest.raises(ValidationError, match=r"outcome\[:, 2\] @ row 1: nan"):
        callaway_santanna(y, [1, np.inf, np.inf])
    with pytest.raises(ValidationError, match=r"cohort @ row 2: 7"):
        callaway_santanna(np.zeros((3, 3)), [1, np.inf, 7])
    with pytest.raises(ValidationError, match=r"cohort @ row 0: nan"):
        callaway_santanna(np.zeros((3, 3)), [np.nan, np.inf, 1])
    with pytest.raises(ValidationError, match="strictly increasing"):
        callaway_santanna(np.zeros((2, 3)), [1, np.inf], periods=[0, 2, 2])
    with pytest.raises(InsufficientDataError, match="no cohort"):
        callaway_santanna(np.zeros((2, 3)), [0, np.inf])


def test_event_study_plot() -> None:
    y, cohort, _ = simulate(9, n=100)
    ax = callaway_santanna(y, cohort).plot(Figure().subplots())
    labels = [c.get_label() for c in ax.containers]
    assert labels == ["before treatment (pre-trends)", "after treatment"]
    assert ax.get_xlabel() == "Periods since treatment"


# -- the programme effect ------------------------------------------------------------------------

AS_OF = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def programme_events(
    seed: int, n: int = 500, effect: float = 0.2, ids_as_text: bool = False
) -> EventFrame:
    """Monthly purchases (20 each) over 2023 with probability p_i ~ U(0.05, 0.6); heavy buyers
    join more often (P(join) = min(1, 2.5 p_i - 0.1)) in April, June or August; joining adds
    ``effect`` to the monthly purchase probability, so the true effect on monthly spend is
    20 x effect for every member."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.6, n)
    member = rng.uniform(size=n) < np.clip(2.5 * p - 0.1, 0, 1)
    cohort = np.where(member, rng.choice([3, 5, 7], size=n), 10**6)
    months = np.arange(12)
    buys = rng.uniform(size=(n, 12)) < p[:, None] + effect * (months >= cohort[:, None])
    customer, month = np.nonzero(buys)
    start = np.datetime64("2023-01", "M")
    bought = (start + month).astype("datetime64[D]") + 14
    joiners = np.flatnonzero(member)
    joined = (start + cohort[joiners]).astype("datetime64[D]") + 2
    ids = np.concatenate([customer, joiners]).astype(np.int64)
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.char.add("c", ids.astype(str)) if ids_as_text else ids,
        timestamp=np.concatenate([bought, joined]).astype("datetime64[us]"),
        kind=np.array(["purchase"] * len(customer) + ["enrolled"] * len(joiners)),
        amount=np.concatenate([np.full(len(customer), 20.0), np.zeros(len(joiners))]),
        currency=np.full(len(ids), "EUR"),
    )


def effect_of(frame: EventFrame, **params: Any) -> Any:
    metric = ProgrammeEffect(lookback=3, **params)
    return metric.finalize(metric.update(metric.init(), frame), as_of=AS_OF)


def test_programme_effect_recovers_the_effect_and_the_naive_gap_does_not() -> None:
    """True effect 20 x 0.2 = 4 per member-month. Members self-select (heavy buyers join), so
    the naive member minus non-member gap is far larger; matched DiD covers 4, not the gap."""
    r = effect_of(programme_events(11, n=1000))
    assert r.ci_low <= 4.0 <= r.ci_high
    naive = r.details["naive_gap"]
    assert naive - 4.0 > 3.0
    assert not r.ci_low <= naive <= r.ci_high
    assert r.unit == "EUR per customer per month"
    assert r.details["l1_after"] < r.details["l1_before"]
    assert r.details["pretrend_p_value"] > 0.01
    assert r.n == r.details["members_matched"] > 0
    assert "naive" in r.method and "clustered on" in r.method


def test_programme_effect_no_effect_negative_control() -> None:
    r = effect_of(programme_events(12, effect=0.0))
    assert r.ci_low <= 0.0 <= r.ci_high
    assert r.details["naive_gap"] > 3.0  # selection alone makes members look better


def test_programme_effect_hand_case() -> None:
    """Members 1-2 spend 10 a month, 20 after joining in March; non-member 3 spends 10 and
    non-member 4 spends 1 throughout. Matching on pre-enrollment spend keeps 3 (weight 1) and
    prunes 4: ATT = (20 - 10) - (10 - 10) = 10. Naive gap: 20 - (10 + 1)/2 = 14.5."""
    months = np.array(["2024-01-15", "2024-02-15", "2024-03-15", "2024-04-15"], "datetime64[us]")
    spend = {1: [10, 10, 20, 20], 2: [10, 10, 20, 20], 3: [10, 10, 10, 10], 4: [1, 1, 1, 1]}
    f = EventFrame(
        event_id=np.arange(18),
        customer_id=np.concatenate([np.repeat([1, 2, 3, 4], 4), [1, 2]]),
        timestamp=np.concatenate(
            [np.tile(months, 4), np.array(["2024-03-01", "2024-03-02"], "datetime64[us]")]
        ),
        kind=np.array(["purchase"] * 16 + ["enrolled"] * 2),
        amount=np.array([float(x) for c in (1, 2, 3, 4) for x in spend[c]] + [0.0, 0.0]),
    )
    m = ProgrammeEffect(lookback=2, match_on=("spend",), bins=2)
    r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert r.value == 10.0 and r.details["naive_gap"] == 14.5
    assert r.tables["match_controls"].tolist() == [1]
    assert r.tables["event_att"].tolist() == [0.0, 10.0, 10.0]
    assert r.tables["naive_member_mean"][2:].tolist() == [20.0, 20.0]


def test_programme_effect_laws() -> None:
    frame = programme_events(13, n=40)
    check_metric(ProgrammeEffect(lookback=2), data=frame, max_examples=4)


def test_programme_effect_flags_and_options() -> None:
    frame = programme_events(14, n=300, ids_as_text=True)
    r = effect_of(frame, inference="multiplier", n_boot=200, base_period="universal")
    assert "multiplier bootstrap" in r.method
    assert np.isfinite(r.tables["event_band_low"][r.tables["event_se"] > 0]).all()
    assert r.tables["event_att"][r.tables["event_time"] == -1].tolist() == [0.0]
    total = sum(
        r.details[k] for k in ("members_matched", "members_unmatched", "members_no_history")
    )
    assert total == r.details["members"]
    # one purchase of 20 at most a month: spend = 20 x orders = 20 x active, cell by cell
    spend, orders, active = (effect_of(frame, outcome=o) for o in ("spend", "orders", "active"))
    assert active.unit == "share" and orders.unit == "orders per customer per month"
    assert spend.value == pytest.approx(20 * orders.value) == pytest.approx(20 * active.value)
    tenure = effect_of(frame, match_on=("active_periods", "tenure"))
    assert tenure.method.startswith("CEM on active_periods, tenure over 3 months")
    ax = ProgrammeEffect().plot_pretrends(r, ax=Figure().subplots())
    assert ax.get_xlabel() == "months since enrollment"
    assert "matched-on periods (not a trend test)" in [c.get_label() for c in ax.containers]


def test_matched_window_is_left_out_of_the_pretrend_test() -> None:
    """Members are heavier buyers than their matches (matched on noisy past behaviour), so the
    months next to the matching window drift apart by regression to the mean. Those cells are
    labelled "matched" and kept out of the joint test; treating them as pre-trend cells (the
    negative control) would reject although the trends are parallel."""
    r = effect_of(programme_events(16, n=1500))
    kinds = dict(zip(r.tables["event_time"].tolist(), r.tables["event_kind"], strict=True))
    assert [kinds[e] for e in (-4, -3, -2, -1)] == ["matched"] * 4
    assert kinds[-5] == "pre" and kinds[0] == "post"
    assert r.details["pretrend_p_value"] > 0.05
    assert r.tables["event_att"][r.tables["event_time"] == -1][0] > 1.0  # the drift, shown
    # the matched cells would fail a pre-trend test (a chi-square of their z statistics)
    cells = r.tables
    matched = (cells["cell_kind"] == "matched") & (cells["cell_se"] > 1e-9)
    z = cells["cell_att"][matched] / cells["cell_se"][matched]
    assert stats.chi2.sf(float(z @ z), len(z)) < 0.01


def test_programme_effect_input_errors() -> None:
    frame = programme_events(15, n=30)
    m = ProgrammeEffect()
    no_members = frame.filter(frame.kind != "enrolled")
    with pytest.raises(InsufficientDataError, match="enrolled"):
        m.finalize(m.update(m.init(), no_members))
    mixed = EventFrame(
        event_id=np.arange(3),
        customer_id=np.array([1, 1, 2]),
        timestamp=np.zeros(3, "datetime64[us]"),
        amount=np.array([1.0, 2.0, 3.0]),
        currency=np.array(["EUR", "EUR", "USD"]),
    )
    with pytest.raises(ValidationError, match=r"currency @ row 2: 'USD'"):
        m.update(m.init(), mixed)
    with pytest.raises(ValueError, match="match_on"):
        ProgrammeEffect(match_on=("visits",))
    with pytest.raises(ValueError, match="not after the latest event"):
        m.finalize(m.update(m.init(), frame), as_of=dt.datetime(2023, 6, 1, tzinfo=dt.UTC))
