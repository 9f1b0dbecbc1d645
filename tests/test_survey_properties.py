"""Properties shared by the survey measures, each checked on every measure it applies to.

The per-measure files hold each measure's own properties; this file covers what must hold
across all of them: reverse keying applied twice is the identity at the level of a scored
index, a higher answer never lowers a one-item score, driver importances are unchanged by a
positive affine rescale of the answers, loyalty-curve rates stay in [0, 1] and never fall when
a loyalty answer rises, every survey result reports ``n_missing`` and flags small groups, and
negative or NaN respondent weights are refused or quarantined. Each property is a ``check_*``
function run on the real code (must pass) and on a deliberately broken variant (must raise
AssertionError), so none of them is a test that cannot fail.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import stickykit
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.ces import CESEasyShare, CustomerEffortScore, NetEasyScore
from stickykit.metrics.survey.csat import (
    CustomerSatisfaction,
    NetSatisfaction,
    SatisfactionMean,
)
from stickykit.metrics.survey.delivered_value import CustomerDeliveredValue
from stickykit.metrics.survey.drivers import KeyDrivers
from stickykit.metrics.survey.loyalty_curve import LoyaltyCurve
from stickykit.metrics.survey.multiitem import ItemIndexMetric, ScoringPlan
from stickykit.metrics.survey.netscore import NetScore, weight_problems
from stickykit.metrics.survey.nps import NetPromoterScore
from stickykit.metrics.survey.relationship_benefits import RelationshipBenefitIndex
from stickykit.metrics.survey.reliability import CronbachAlpha
from stickykit.metrics.survey.switching_costs import SwitchingCostIndex
from stickykit.plugins.registry import default_registry
from stickykit.testing import results_close

#: Negative controls only need to fail: no shrinking of the failing example.
NO_SHRINK = settings(phases=[Phase.explicit, Phase.reuse, Phase.generate], max_examples=60)
seeds = st.integers(0, 2**32 - 1)


def run(metric: Any, frame: SurveyFrame) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), frame))  # type: ignore[no-any-return]


def must_fail(check: Callable[..., None], *args: Any) -> None:
    with pytest.raises(AssertionError):
        check(*args)


# -- reverse keying twice is the identity, on the scored index ----------------------------------


def unkeyed(cls: type[ItemIndexMetric]) -> type[ItemIndexMetric]:
    """Broken variant of ``cls``: ignores every item's reverse flag."""

    @attrs.frozen(kw_only=True)
    class Unkeyed(cls):  # type: ignore[valid-type,misc]
        def build_plan(self, instrument: Instrument) -> ScoringPlan:
            plan = super().build_plan(instrument)
            return attrs.evolve(plan, reverse=(False,) * len(plan.items))

    return Unkeyed


def index_frame(metric: Any, seed: int, n: int) -> SurveyFrame:
    rng = np.random.default_rng(seed)
    answers = {
        item: rng.integers(lo, hi + 1, n).astype(np.int8)
        for item, (lo, hi) in metric.scales.items()
    }
    missing = {item: rng.random(n) < 0.1 for item in metric.scales}
    return SurveyFrame(answers=answers, answer_missing=missing)


def check_double_reverse(cls: type[ItemIndexMetric], instrument_name: str) -> None:
    """Flipping an item's reverse flag in the instrument and mirroring its answers
    (x -> lo + hi - x) reverses it twice: every score of the index is unchanged."""
    base = stickykit.get_instrument(instrument_name)

    @NO_SHRINK
    @given(seeds, st.integers(3, 25), st.data())
    def prop(seed: int, n: int, data: st.DataObject) -> None:
        metric = cls(instrument=base)
        frame = index_frame(metric, seed, n)
        flipped_ids = set(data.draw(st.sets(st.sampled_from(metric.requires), min_size=1)))
        items = tuple(
            attrs.evolve(i, reverse=not i.reverse) if i.id in flipped_ids else i for i in base.items
        )
        flipped = cls(instrument=attrs.evolve(base, items=items))
        answers = dict(frame.answers)
        for item in flipped_ids:
            lo, hi = metric.scales[item]
            answers[item] = (lo + hi - answers[item]).astype(np.int8)
        mirrored = attrs.evolve(frame, answers=answers)
        try:
            a = run(metric, frame)
        except InsufficientDataError:
            return
        b = run(flipped, mirrored)
        assert results_close(a, b), (a, b)

    prop()


INDEXES = [
    (SwitchingCostIndex, "switching-costs-bfm2003"),
    (RelationshipBenefitIndex, "relationship-benefits-ggb1998"),
    (CustomerDeliveredValue, "delivered-value-kotler"),
]


@pytest.mark.parametrize(("cls", "instrument"), INDEXES)
def test_double_reverse_is_identity(cls: type[ItemIndexMetric], instrument: str) -> None:
    check_double_reverse(cls, instrument)


@pytest.mark.parametrize(("cls", "instrument"), INDEXES)
def test_double_reverse_negative_control(cls: type[ItemIndexMetric], instrument: str) -> None:
    must_fail(check_double_reverse, unkeyed(cls), instrument)


AlphaOf = Callable[[np.ndarray, tuple[str, ...]], float]


def real_alpha(x: np.ndarray, reverse: tuple[str, ...]) -> float:
    m = CronbachAlpha(items=("q1", "q2", "q3", "q4"), scale=(1, 5), reverse=reverse)
    frame = SurveyFrame(answers={f"q{j + 1}": x[:, j].astype(np.int8) for j in range(4)})
    return run(m, frame).value


def alpha_ignoring_reverse(x: np.ndarray, reverse: tuple[str, ...]) -> float:
    """Broken: scores every item as answered."""
    del reverse
    return real_alpha(x, ())


def check_alpha_double_reverse(alpha_of: AlphaOf) -> None:
    """Naming an item reverse-keyed and mirroring its answers leaves alpha unchanged."""

    @NO_SHRINK
    @given(
        seeds, st.integers(4, 30), st.sets(st.sampled_from(["q1", "q2", "q3", "q4"]), min_size=1)
    )
    def prop(seed: int, n: int, flipped: set[str]) -> None:
        rng = np.random.default_rng(seed)
        x = np.clip(np.rint(3 + rng.normal(size=(n, 1)) + rng.normal(size=(n, 4))), 1, 5)
        mirrored = x.copy()
        for item in flipped:
            j = int(item[1]) - 1
            mirrored[:, j] = 6 - x[:, j]
        try:
            a = alpha_of(x, ())
        except InsufficientDataError:
            return
        b = alpha_of(mirrored, tuple(sorted(flipped)))
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, abs_tol=1e-9)

    prop()


def test_alpha_double_reverse_is_identity() -> None:
    check_alpha_double_reverse(real_alpha)


def test_alpha_double_reverse_negative_control() -> None:
    must_fail(check_alpha_double_reverse, alpha_ignoring_reverse)


# -- one-item scores: a higher answer never lowers the score --------------------------------------

ONE_ITEM: list[tuple[Any, int]] = [
    # (metric, sign of the change of value when one answer rises by one point)
    (CustomerSatisfaction(), 1),
    (CustomerSatisfaction(box=(5, 5)), 1),
    (SatisfactionMean(), 1),
    (NetSatisfaction(), 1),
    (NetPromoterScore(), 1),
    (CustomerEffortScore(variant="2.0"), 1),
    (CESEasyShare(variant="2.0"), 1),
    (NetEasyScore(variant="2.0"), 1),
    # CES 1.0 asks how much effort the customer put in: a higher answer is more effort, so
    # the mean rises and the shares and net score of easy answers never rise
    (CustomerEffortScore(variant="1.0"), 1),
    (CESEasyShare(variant="1.0"), -1),
    (NetEasyScore(variant="1.0"), -1),
]


def one_item_value(metric: Any, values: list[int]) -> float:
    frame = SurveyFrame(answers={metric.item: np.array(values, np.int8)})
    return run(metric, frame).value


def check_one_item_monotone(metric: Any, sign: int, value_of: Callable[..., float]) -> None:
    lo, hi = metric.scale

    @NO_SHRINK
    @given(st.lists(st.integers(lo, hi), min_size=1, max_size=30), st.data())
    def prop(values: list[int], data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(values) - 1))
        if values[i] == hi:
            return
        higher = list(values)
        higher[i] += 1
        assert sign * (value_of(metric, higher) - value_of(metric, values)) >= -1e-12

    prop()


@pytest.mark.parametrize(("metric", "sign"), ONE_ITEM, ids=lambda v: repr(v)[:40])
def test_one_item_monotone(metric: Any, sign: int) -> None:
    check_one_item_monotone(metric, sign, one_item_value)


def test_one_item_monotone_negative_controls() -> None:
    """A box placed at the bottom of the scale, and CES 1.0 read in the CES 2.0 direction."""
    must_fail(check_one_item_monotone, CustomerSatisfaction(box=(1, 2)), 1, one_item_value)
    wrong_way = NetScore(item="ces", scale=(1, 5), negative=(4, 5), positive=(1, 2))
    must_fail(check_one_item_monotone, wrong_way, 1, one_item_value)


def check_box_share_affine(share_of: Callable[[Any, list[int]], float]) -> None:
    """The top-two-box share is a standardised score: recoding 1-5 answers as x -> 3x - 1
    (scale 2-14) with the box recoded alike (4-5 -> 11-14) leaves it unchanged; so does the
    net satisfaction score with both bands recoded."""

    @NO_SHRINK
    @given(st.lists(st.integers(1, 5), min_size=1, max_size=30))
    def prop(values: list[int]) -> None:
        moved = [3 * v - 1 for v in values]
        a = share_of(CustomerSatisfaction(), values)
        b = share_of(CustomerSatisfaction(scale=(2, 14), box=(11, 14)), moved)
        assert math.isclose(a, b, abs_tol=1e-12)
        c = share_of(NetSatisfaction(), values)
        d = share_of(NetSatisfaction(scale=(2, 14), dissatisfied=(2, 5), satisfied=(11, 14)), moved)
        assert math.isclose(c, d, abs_tol=1e-12)

    prop()


def share_at_fixed_cut(metric: Any, values: list[int]) -> float:
    """Broken: counts answers of at least 4 as satisfied, whatever the metric's scale."""
    del metric
    return float(np.mean(np.array(values) >= 4))


def test_box_share_affine() -> None:
    check_box_share_affine(one_item_value)


def test_box_share_affine_negative_control() -> None:
    must_fail(check_box_share_affine, share_at_fixed_cut)


# -- key drivers: standardised importances ignore a positive affine rescale ----------------------

DRIVER_KEYS = ("beta", "relative_weight", "dominance", "correlation")


def driver_frame(seed: int, n: int) -> SurveyFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    sat = np.clip(np.rint(6 + 2 * z[:, 0]), 0, 10)
    intent = np.clip(np.rint(6 + 1.5 * z[:, 0] + 1.5 * z[:, 1]), 0, 10)
    nps = np.clip(np.rint(5 + 1.2 * z[:, 0] + 0.8 * z[:, 1] + z[:, 2]), 0, 10)
    return SurveyFrame(
        respondent_id=np.arange(n),
        answers={
            "nps": nps.astype(np.int8),
            "satisfaction": sat.astype(np.int8),
            "intention": intent.astype(np.int8),
        },
    )


def drivers(metric: KeyDrivers, frame: SurveyFrame) -> dict[str, float]:
    r = run(metric, frame)
    out = {k: v for k, v in r.details.items() if k.split("[")[0] in DRIVER_KEYS}
    out["r2"] = r.value
    return out


def raw_slopes(metric: KeyDrivers, frame: SurveyFrame) -> dict[str, float]:
    """Broken: reports unstandardised least-squares slopes as the betas."""
    out = drivers(metric, frame)
    x = np.column_stack(
        [np.ones(len(frame))] + [frame.answers[p].astype(float) for p in metric.predictors]
    )
    slopes = np.linalg.lstsq(x, frame.answers[metric.outcome].astype(float), rcond=None)[0]
    for j, item in enumerate(metric.predictors):
        out[f"beta[{item}]"] = float(slopes[j + 1])
    return out


def check_drivers_affine(
    importances: Callable[[KeyDrivers, SurveyFrame], dict[str, float]],
) -> None:
    """Recoding each item x -> a x + b (a > 0, its own a and b) leaves R², the standardised
    coefficients, relative weights, general dominance and correlations unchanged."""

    @NO_SHRINK
    @given(seeds, st.integers(20, 60), st.lists(st.integers(1, 3), min_size=3, max_size=3))
    def prop(seed: int, n: int, factors: list[int]) -> None:
        frame = driver_frame(seed, n)
        base = KeyDrivers(n_boot=0)
        try:
            before = importances(base, frame)
        except InsufficientDataError:
            return
        shifts = dict(zip(("nps", "satisfaction", "intention"), factors, strict=True))
        moved = attrs.evolve(
            frame,
            answers={
                k: (shifts[k] * v + shifts[k] - 1).astype(np.int8) for k, v in frame.answers.items()
            },
        )
        scales = {k: (a - 1, 11 * a - 1) for k, a in shifts.items()}
        rescaled = KeyDrivers(
            n_boot=0,
            scale=scales["nps"],
            item_scales={k: v for k, v in scales.items() if k != "nps"},
        )
        after = importances(rescaled, moved)
        for key, value in before.items():
            assert math.isclose(after[key], value, rel_tol=1e-9, abs_tol=1e-12), key

    prop()


def test_drivers_affine_invariance() -> None:
    check_drivers_affine(drivers)


def test_drivers_affine_negative_control() -> None:
    must_fail(check_drivers_affine, raw_slopes)


# -- the satisfaction-loyalty curve: bounds and monotonicity --------------------------------------


def curve_frame(seed: int, n: int) -> SurveyFrame:
    rng = np.random.default_rng(seed)
    sat = rng.integers(0, 11, n)
    intention = np.clip(np.rint(sat * 0.8 + rng.normal(1, 2, n)), 0, 10)
    return SurveyFrame(
        answers={"satisfaction": sat.astype(np.int8), "intention": intention.astype(np.int8)}
    )


def curve_details(frame: SurveyFrame) -> dict[str, float]:
    return run(LoyaltyCurve(n_boot=0), frame).details


def curve_details_wald(frame: SurveyFrame) -> dict[str, float]:
    """Broken: Wald limits instead of Wilson (leave [0, 1], zero width at 0 and 1)."""
    d = dict(curve_details(frame))
    for key in [k for k in d if k.startswith("rate[")]:
        level = key[len("rate[") : -1]
        p, n = d[key], d[f"n[{level}]"]
        half = 1.959964 * math.sqrt(p * (1 - p) / n)
        d[f"rate_low[{level}]"], d[f"rate_high[{level}]"] = p - half, p + half
    return d


def check_curve_bounds(details_of: Callable[[SurveyFrame], dict[str, float]]) -> None:
    """Rates, their interval limits and the isotonic fit lie in [0, 1]; each interval
    contains its rate with positive width; the isotonic fit never falls; level means lie on
    the loyalty scale."""

    @NO_SHRINK
    @given(seeds, st.integers(1, 80))
    def prop(seed: int, n: int) -> None:
        d = details_of(curve_frame(seed, n))
        levels = sorted(int(k[2:-1]) for k in d if k.startswith("n["))
        fit = [d[f"isotonic[{level}]"] for level in levels]
        assert all(a <= b + 1e-12 for a, b in itertools.pairwise(fit))
        for level in levels:
            low, rate, high = (d[f"{k}[{level}]"] for k in ("rate_low", "rate", "rate_high"))
            assert 0 <= low <= rate <= high <= 1 and high > low
            assert 0 <= d[f"isotonic[{level}]"] <= 1
            assert 0 <= d[f"mean[{level}]"] <= 10

    prop()


def test_wilson_limits_exact_at_the_ends() -> None:
    """At 0 successes the Wilson lower limit is exactly 0, at n successes the upper exactly 1."""
    from stickykit.stats.intervals import wilson_interval

    for n in range(1, 200):
        assert wilson_interval(0, n, 0.05)[0] == 0.0, n
        assert wilson_interval(n, n, 0.05)[1] == 1.0, n


def test_curve_bounds() -> None:
    check_curve_bounds(curve_details)


def test_curve_bounds_negative_control() -> None:
    must_fail(check_curve_bounds, curve_details_wald)


def curve_rates_reversed(frame: SurveyFrame) -> dict[str, float]:
    """Broken: counts loyalty from the bottom of the scale (intention <= 1 as loyal)."""
    mirrored = attrs.evolve(
        frame,
        answers={**frame.answers, "intention": (10 - frame.answers["intention"]).astype(np.int8)},
    )
    return curve_details(mirrored)


def check_curve_monotone(details_of: Callable[[SurveyFrame], dict[str, float]]) -> None:
    """One point more on one respondent's loyalty answer never lowers the loyalty rate or the
    mean loyalty answer at that respondent's satisfaction level."""

    @NO_SHRINK
    @given(seeds, st.integers(1, 60), st.data())
    def prop(seed: int, n: int, data: st.DataObject) -> None:
        frame = curve_frame(seed, n)
        row = data.draw(st.integers(0, n - 1))
        y = frame.answers["intention"].copy()
        if y[row] == 10:
            y[row] = 9
        before = details_of(attrs.evolve(frame, answers={**frame.answers, "intention": y}))
        y = y.copy()
        y[row] += 1
        after = details_of(attrs.evolve(frame, answers={**frame.answers, "intention": y}))
        level = int(frame.answers["satisfaction"][row])
        assert after[f"rate[{level}]"] >= before[f"rate[{level}]"]
        assert after[f"mean[{level}]"] >= before[f"mean[{level}]"] - 1e-12

    prop()


def test_curve_monotone() -> None:
    check_curve_monotone(curve_details)


def test_curve_monotone_negative_control() -> None:
    must_fail(check_curve_monotone, curve_rates_reversed)


# -- every survey result reports n_missing and flags small groups ---------------------------------

SURVEY_METRICS = [
    n for n in default_registry().names() if default_registry().info(n).family == "survey"
]


def survey_frame(metric: Any, seed: int, n: int) -> SurveyFrame:
    """Answers inside each item's scale, 10 % missing, a big and a tiny segment, two waves
    (labelled "before" and "after") with each respondent answering once per wave."""
    rng = np.random.default_rng(seed)
    answers = {
        k: rng.integers(lo, hi + 1, n).astype(np.int8) for k, (lo, hi) in metric.scales.items()
    }
    missing = {k: rng.random(n) < 0.1 for k in metric.scales}
    half = n // 2
    return SurveyFrame(
        answers=answers,
        answer_missing=missing,
        respondent_id=np.arange(n) % half,
        wave=np.where(np.arange(n) < half, "before", "after"),
        segment=np.where(np.arange(n) % 10 == 0, "tiny", "big"),
    )


def grouped(name: str) -> Any:
    metric = stickykit.get_metric(name)
    fields = {f.name for f in attrs.fields(type(metric))}
    changes: dict[str, Any] = {}
    if name == "net_score_paired":  # ``by`` names the column of the two waves
        changes.update(by="wave", before="before", after="after")
    elif "by" in fields:
        changes["by"] = "segment"
    if "n_boot" in fields:
        changes["n_boot"] = 0
    return attrs.evolve(metric, **changes)


def check_small_groups_flagged(
    result_of: Callable[[Any, SurveyFrame], MetricResult], name: str, n: int = 80
) -> None:
    """The result and each group report ``n_missing`` (an int) and a result whose n is below
    ``min_n`` carries a "small sample" flag."""
    metric = grouped(name)
    frame = survey_frame(metric, 7, n)
    result = result_of(metric, frame)
    min_n = getattr(metric, "min_n", 30)
    for r in (result, *result.groups):
        assert isinstance(r.n_missing, int) and r.n_missing >= 0, r
        small = any(f.startswith("small sample") for f in r.flags)
        assert small == (0 < r.n < min_n), (name, r.group, r.n, r.flags)
    if getattr(metric, "by", None) == "segment":
        assert {g.group for g in result.groups} == {"big", "tiny"}, name


def result_without_flags(metric: Any, frame: SurveyFrame) -> MetricResult:
    """Broken: drops every flag from the result and its groups."""
    r = run(metric, frame)
    return attrs.evolve(r, flags=(), groups=tuple(attrs.evolve(g, flags=()) for g in r.groups))


@pytest.mark.parametrize("name", SURVEY_METRICS)
def test_small_groups_flagged_and_n_missing_reported(name: str) -> None:
    check_small_groups_flagged(run, name)


def test_small_groups_negative_control() -> None:
    must_fail(check_small_groups_flagged, result_without_flags, "loyalty_curve")
    must_fail(check_small_groups_flagged, result_without_flags, "key_drivers", 20)


def test_small_sample_flags_by_hand() -> None:
    """Ten paired answers with min_n 10 are not flagged; with the default 30 they are."""
    frame = curve_frame(3, 10)
    assert not any("small" in f for f in run(LoyaltyCurve(n_boot=0, min_n=10), frame).flags)
    assert "small sample: n = 10 < 30" in run(LoyaltyCurve(n_boot=0), frame).flags
    drivers_result = run(KeyDrivers(n_boot=0), driver_frame(1, 12))
    assert "small sample: n = 12 < 30" in drivers_result.flags
    with pytest.raises(ValueError, match="min_n"):
        LoyaltyCurve(min_n=0)
    with pytest.raises(ValueError, match="min_n"):
        KeyDrivers(min_n=0)


# -- negative and NaN respondent weights ---------------------------------------------------------

WEIGHTED = ["nps", "net_csat", "net_easy", "csat", "csat_mean", "ces", "ces_easy"]
BAD_WEIGHTS = [-1.0, math.nan, math.inf]


def weighted_frame(metric: Any, bad: float) -> SurveyFrame:
    lo, hi = metric.scale
    return SurveyFrame(
        answers={metric.item: np.array([lo, hi, hi, lo], np.int8)},
        weight=np.array([1.0, 2.0, bad, 1.0]),
        respondent_id=np.array([11, 12, 13, 14]),
    )


def check_bad_weights_refused(
    name: str, bad: float, update: Callable[[Any, SurveyFrame], Any]
) -> None:
    """A weighted score refuses a negative or non-finite weight, naming the field, the row and
    the value, and ``errors="quarantine"`` keeps the other rows and gives the reason."""
    metric = stickykit.get_metric(name, weighted=True)
    frame = weighted_frame(metric, bad)
    try:
        update(metric, frame)
    except ValidationError as exc:
        err = exc
    else:
        raise AssertionError(f"{name}: weight {bad} accepted")
    assert (err.field, err.row) == ("weight", 2)
    assert (math.isnan(bad) and math.isnan(err.value)) or err.value == bad
    assert "weight @ row 2" in str(err) and ">= 0" in str(err)
    result = stickykit.compute(metric, frame, errors="quarantine")
    assert result.n == 3 and "1 input rows quarantined" in result.flags


def update_skipping_weight_check(metric: Any, frame: SurveyFrame) -> Any:
    """Broken: counts the frame as if its weights had been checked."""
    values, answered = metric._answers(frame)
    labels, codes = metric._groups(frame)
    return metric._count(values, answered, labels, codes, frame.weight)


@pytest.mark.parametrize("bad", BAD_WEIGHTS)
@pytest.mark.parametrize("name", WEIGHTED)
def test_bad_weights_refused(name: str, bad: float) -> None:
    check_bad_weights_refused(name, bad, lambda m, f: m.update(m.init(), f))


@pytest.mark.parametrize("name", ["nps", "csat"])
def test_bad_weights_negative_control(name: str) -> None:
    must_fail(check_bad_weights_refused, name, -1.0, update_skipping_weight_check)


def test_unweighted_metrics_ignore_weights() -> None:
    """Weights are read only when asked for: an unweighted score takes any weight column."""
    metric = NetPromoterScore()
    assert run(metric, weighted_frame(metric, -1.0)).n == 4


def test_weight_problems_by_hand() -> None:
    problems = weight_problems(np.array([1.0, -0.5, 0.0, math.nan]), first_row=100)
    assert len(problems) == 1
    assert problems[0].rows.tolist() == [101, 103]
    assert weight_problems(None, 0) == [] and weight_problems(np.ones(3), 0) == []


@pytest.mark.parametrize("bad", [-1.0, 0.0, math.nan, math.inf])
@pytest.mark.parametrize(
    "cls", [SwitchingCostIndex, RelationshipBenefitIndex, CustomerDeliveredValue]
)
def test_bad_index_weights(cls: type[ItemIndexMetric], bad: float) -> None:
    """Component weights of an index must be positive and finite; the error names the component."""
    component = {
        SwitchingCostIndex: "financial",
        RelationshipBenefitIndex: "social",
        CustomerDeliveredValue: "time",
    }[cls]
    with pytest.raises(ValueError, match=f"{component}"):
        cls(weights={component: bad})


# -- reliability: bounds -------------------------------------------------------------------------


def alpha_result(x: np.ndarray) -> MetricResult:
    k = x.shape[1]
    m = CronbachAlpha(items=tuple(f"q{j + 1}" for j in range(k)), scale=(1, 7))
    return run(m, SurveyFrame(answers={f"q{j + 1}": x[:, j].astype(np.int8) for j in range(k)}))


def alpha_with_item_rest_covariances(x: np.ndarray) -> MetricResult:
    """Broken: item-rest covariances reported where correlations belong."""
    r = alpha_result(x)
    details = dict(r.details)
    for j in range(x.shape[1]):
        rest = np.delete(x, j, axis=1).sum(axis=1)
        details[f"item_rest_r:q{j + 1}"] = float(np.cov(x[:, j], rest)[0, 1])
    return attrs.evolve(r, details=details)


def check_alpha_bounds(result_of: Callable[[np.ndarray], MetricResult]) -> None:
    """Alpha, standardised alpha, alpha-if-deleted and the Feldt limits never exceed 1; the
    interval contains alpha; item-rest correlations lie in [-1, 1]."""

    @NO_SHRINK
    @given(seeds, st.integers(5, 40), st.integers(2, 6), st.floats(0.0, 2.0))
    def prop(seed: int, n: int, k: int, loading: float) -> None:
        rng = np.random.default_rng(seed)
        x = np.clip(np.rint(4 + loading * rng.normal(size=(n, 1)) + rng.normal(size=(n, k))), 1, 7)
        if np.any(x.var(axis=0) == 0) or x.sum(axis=1).var() == 0:
            return
        r = result_of(x)
        assert r.value <= 1 and r.details["standardized_alpha"] <= 1 + 1e-12
        assert r.ci_low is not None and r.ci_high is not None
        assert r.ci_low <= r.value <= r.ci_high <= 1
        for key, value in r.details.items():
            if key.startswith("item_rest_r:"):
                assert math.isnan(value) or -1 - 1e-12 <= value <= 1 + 1e-12, key
            if key.startswith("alpha_if_deleted:"):
                assert math.isnan(value) or value <= 1 + 1e-12, key

    prop()


def test_alpha_bounds() -> None:
    check_alpha_bounds(alpha_result)


def test_alpha_bounds_negative_control() -> None:
    must_fail(check_alpha_bounds, alpha_with_item_rest_covariances)
