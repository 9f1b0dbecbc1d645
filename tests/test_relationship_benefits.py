"""Relationship-benefit index: hand-computed scores, properties with negative controls, laws.

Each property is a ``check_*`` function taking a metric; it runs on the real metric (must
pass) and on a deliberately broken variant (must fail with AssertionError).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit import compute, get_instrument
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.multiitem import ScoringPlan, component_scores
from stickykit.metrics.survey.relationship_benefits import RelationshipBenefitIndex
from stickykit.testing import check_laws, check_metric, results_close

INSTRUMENT = get_instrument("relationship-benefits-ggb1998")
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
BENEFITS = ("confidence", "social", "special_treatment")


def items_of(benefit: str, battery: str = "main") -> list[str]:
    return [i.id for i in INSTRUMENT.select(dimension=benefit, battery=battery)]


def rows_of(
    metric: RelationshipBenefitIndex, *rows: dict[str, Any], default: int = 4
) -> SurveyFrame:
    """Respondents answering ``default`` except where a row says otherwise (None = missing)."""
    items = metric.requires
    matrix = np.full((len(rows), len(items)), default)
    missing = np.zeros(matrix.shape, dtype=bool)
    for r, row in enumerate(rows):
        for item, value in row.items():
            j = items.index(item)
            missing[r, j] = value is None
            matrix[r, j] = 0 if value is None else value
    return SurveyFrame(
        answers={item: matrix[:, j].astype(np.int8) for j, item in enumerate(items)},
        answer_missing={item: missing[:, j] for j, item in enumerate(items) if missing[:, j].any()},
    )


def by_benefit(**values: list[Any]) -> dict[str, Any]:
    """``confidence=[7, 7, 6, 6]`` -> one answer per item of the benefit, in order."""
    out: dict[str, Any] = {}
    for benefit, answers in values.items():
        battery = "importance" if benefit.startswith("imp_") else "main"
        ids = items_of(benefit.removeprefix("imp_"), battery)
        out |= dict(zip(ids, answers, strict=True))
    return out


def run(metric: Any, frame: SurveyFrame) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), frame))  # type: ignore[no-any-return]


def random_frame(metric: Any, seed: int, n: int = 40, missing: float = 0.15) -> SurveyFrame:
    rng = np.random.default_rng(seed)
    answers = {
        i: rng.integers(lo, hi + 1, n).astype(np.int8) for i, (lo, hi) in metric.scales.items()
    }
    return SurveyFrame(
        answers=answers,
        answer_missing={i: rng.random(n) < missing for i in answers},
        wave=rng.integers(0, 3, n),
        segment=np.array(["a", "b"])[rng.integers(0, 2, n)],
        customer_id=rng.integers(0, n // 2, n),
        label_missing={"segment": rng.random(n) < 0.1},
    )


@st.composite
def answer_frames(
    draw: Any, metric: Any, *, max_rows: int = 8, missing: bool = False
) -> SurveyFrame:
    n = draw(st.integers(1, max_rows))
    k = len(metric.requires)
    raw = draw(hnp.arrays(np.int64, (n, k), elements=st.integers(0, 1000)))
    lo = np.array([s[0] for s in metric.scales.values()])
    width = np.array([s[1] - s[0] + 1 for s in metric.scales.values()])
    matrix = (lo + raw % width).astype(np.int8)
    mask = draw(hnp.arrays(np.bool_, (n, k), elements=st.booleans())) if missing else None
    return SurveyFrame(
        answers={item: matrix[:, j] for j, item in enumerate(metric.requires)},
        answer_missing={}
        if mask is None
        else {item: mask[:, j] for j, item in enumerate(metric.requires)},
    )


# -- deliberately broken variants -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class BenefitsCountAgainst(RelationshipBenefitIndex):
    """Broken: confidence and social benefits enter the index with negative signs."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        overall = attrs.evolve(plan.headline, coefficients=(-0.5, -0.25, 1.75))
        return attrs.evolve(plan, components=(*plan.components[:-1], overall))


@attrs.frozen(kw_only=True)
class OneItemIsEnough(RelationshipBenefitIndex):
    """Broken: a benefit score from a single answered item."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        fixed = [attrs.evolve(c, required=1) if c.items else c for c in plan.components]
        return attrs.evolve(plan, components=fixed)


@attrs.frozen(kw_only=True)
class NoOffset(RelationshipBenefitIndex):
    """Broken: the 0-100 form as 100 * score / (hi - lo)."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        return attrs.evolve(plan, components=[attrs.evolve(c, offset=0.0) for c in plan.components])


@attrs.frozen(kw_only=True)
class LastRowsOnly(RelationshipBenefitIndex):
    """Broken: reads only the second half of each batch."""

    def update(self, state: Any, frame: SurveyFrame) -> Any:
        return super().update(state, frame.slice(len(frame) // 2, len(frame)))


# -- the instrument ---------------------------------------------------------------------------


def test_instrument_structure_and_notes() -> None:
    assert INSTRUMENT.dimensions == (*BENEFITS, "respect")
    assert [len(items_of(b)) for b in (*BENEFITS, "respect")] == [4, 3, 3, 2]
    assert all(len(items_of(b, "importance")) == 1 for b in (*BENEFITS, "respect"))
    assert not any(item.reverse for item in INSTRUMENT.items)
    notes = " ".join(INSTRUMENT.notes.split())
    assert "paraphrase" in notes and "does not reproduce any published items" in notes
    assert "optional user facet" in notes and "cites no source" in notes
    assert "Gwinner" in INSTRUMENT.reference and "26(2), 101-114" in INSTRUMENT.reference


def test_defaults_leave_respect_and_importance_out() -> None:
    m = RelationshipBenefitIndex()
    assert m.requires == tuple(i for b in BENEFITS for i in items_of(b))
    assert [c.name for c in m.plan.components] == [*BENEFITS, "index"]


# -- hand-computed values ---------------------------------------------------------------------


def hand_rows() -> list[dict[str, Any]]:
    """R1: confidence 7,7,6,6 (6.5), social 5,5,2 (4), special 1,1,1 (1), respect 7,7,
    importance 7,2,1,1. R2: confidence 4 (4), social 4 (4), special 7,-,7 (7: 2 of 3),
    respect 1,1, importance 1,1,2,1. R3: one confidence item of four (no confidence score),
    social 3, special 3."""
    r1 = by_benefit(
        confidence=[7, 7, 6, 6], social=[5, 5, 2], special_treatment=[1, 1, 1], respect=[7, 7]
    ) | by_benefit(imp_confidence=[7], imp_social=[2], imp_special_treatment=[1], imp_respect=[1])
    r2 = by_benefit(
        confidence=[4] * 4, social=[4] * 3, special_treatment=[7, None, 7], respect=[1, 1]
    ) | by_benefit(imp_confidence=[1], imp_social=[1], imp_special_treatment=[2], imp_respect=[1])
    r3 = by_benefit(confidence=[5, None, None, None], social=[3] * 3, special_treatment=[3] * 3)
    return [r1, r2, r3]


def subset(metric: RelationshipBenefitIndex, row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in metric.requires}


def hand(metric: RelationshipBenefitIndex) -> MetricResult:
    return run(metric, rows_of(metric, *(subset(metric, r) for r in hand_rows())))


def test_hand_computed_equal_weights() -> None:
    """R1 (6.5 + 4 + 1)/3 = 3.8333, R2 (4 + 4 + 7)/3 = 5, R3 missing: mean 4.41667, n 2.
    Benefits: confidence (6.5 + 4)/2 = 5.25 (n 2), social (4 + 4 + 3)/3, special (1 + 7 + 3)/3.
    se = |5 - 3.8333| / 2 = 0.58333 (two values: s = |a - b|/sqrt 2, se = s/sqrt 2)."""
    r = hand(RelationshipBenefitIndex())
    assert r.value == pytest.approx((11.5 / 3 + 5) / 2)
    assert (r.n, r.n_missing) == (2, 1)
    assert r.se == pytest.approx((5 - 11.5 / 3) / 2)
    assert r.details["facet.confidence"] == 5.25 and r.details["facet.confidence.n_missing"] == 1
    assert r.details["facet.social"] == pytest.approx(11 / 3)
    assert r.details["facet.special_treatment"] == pytest.approx(11 / 3)
    assert r.unit == "on the 1-7 scale"
    assert [s.name for s in component_scores(r)][-1] == "relationship_benefit_index"


def test_hand_computed_importance_weighted() -> None:
    """R1 (7*6.5 + 2*4 + 1*1)/(7 + 2 + 1) = 5.45; R2 (4 + 4 + 2*7)/4 = 5.5; mean 5.475."""
    r = hand(RelationshipBenefitIndex(importance=True))
    assert r.value == pytest.approx(5.475)
    assert r.n == 2
    assert "rb_imp_social" in RelationshipBenefitIndex(importance=True).requires


def test_hand_computed_fixed_weights() -> None:
    """confidence weighs 2: R1 (13 + 4 + 1)/4 = 4.5, R2 (8 + 4 + 7)/4 = 4.75; mean 4.625."""
    r = hand(RelationshipBenefitIndex(weights={"confidence": 2}))
    assert r.value == pytest.approx(4.625)


def test_hand_computed_with_respect() -> None:
    """R1 (6.5 + 4 + 1 + 7)/4 = 4.625, R2 (4 + 4 + 7 + 1)/4 = 4; mean 4.3125;
    importance-weighted: R1 (45.5 + 8 + 1 + 7)/11 = 5.5909, R2 (4 + 4 + 14 + 1)/5 = 4.6."""
    r = hand(RelationshipBenefitIndex(respect=True))
    assert r.value == pytest.approx(4.3125)
    assert r.details["facet.respect"] == 4.0
    r = hand(RelationshipBenefitIndex(respect=True, importance=True))
    assert r.value == pytest.approx((61.5 / 11 + 4.6) / 2)


def test_hand_computed_zero_to_hundred() -> None:
    """100 * (4.41667 - 1)/6 = 56.944."""
    r = hand(RelationshipBenefitIndex(form="0-100"))
    assert r.value == pytest.approx(100 * ((11.5 / 3 + 5) / 2 - 1) / 6)
    assert r.details["facet.confidence"] == pytest.approx(100 * 4.25 / 6)


def test_missing_importance_answer_means_no_index() -> None:
    m = RelationshipBenefitIndex(importance=True)
    r = run(m, rows_of(m, {"rb_imp_social": None}, {}))
    assert (r.n, r.n_missing, r.value) == (1, 1, 4.0)
    assert r.details["facet.social.n"] == 2


def test_importance_summing_to_zero_means_no_index() -> None:
    """On a 0-10 importance scale, all-zero importance answers give no weighted mean."""
    zero_based = attrs.evolve(
        INSTRUMENT,
        name="benefits-0-10-importance",
        items=[
            attrs.evolve(i, scale=(0, 10)) if i.battery == "importance" else i  # type: ignore[arg-type]
            for i in INSTRUMENT.items
        ],
    )
    m = RelationshipBenefitIndex(instrument=zero_based, importance=True)
    zeros = dict.fromkeys(items_of(b, "importance")[0] for b in BENEFITS)
    r = run(m, rows_of(m, dict.fromkeys(zeros, 0), {}))
    assert (r.n, r.n_missing) == (1, 1)


# -- properties ---------------------------------------------------------------------------------


def check_monotone(metric: RelationshipBenefitIndex, phases: Any = tuple(Phase)) -> None:
    """A higher benefit answer never lowers the index or any benefit score."""
    benefit_items = [i for i in metric.requires if not i.startswith("rb_imp")]

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(frame=answer_frames(metric), data=st.data())
    def prop(frame: SurveyFrame, data: st.DataObject) -> None:
        row = data.draw(st.integers(0, len(frame) - 1))
        item = data.draw(st.sampled_from(benefit_items))
        values = frame.answers[item].copy()
        values[row] = min(values[row], 6)
        before = run(metric, attrs.evolve(frame, answers={**frame.answers, item: values}))
        values = values.copy()
        values[row] += 1
        after = run(metric, attrs.evolve(frame, answers={**frame.answers, item: values}))
        assert after.value >= before.value - 1e-12
        for s, t in zip(component_scores(before), component_scores(after), strict=True):
            assert t.value >= s.value - 1e-12, s.name

    prop()


def check_bounds(metric: RelationshipBenefitIndex, phases: Any = tuple(Phase)) -> None:
    low, high = (0.0, 100.0) if metric.form == "0-100" else (1.0, 7.0)

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(answer_frames(metric, max_rows=6, missing=True))
    def prop(frame: SurveyFrame) -> None:
        try:
            r = run(metric, frame)
        except InsufficientDataError:
            return
        for s in component_scores(r):
            for x in (s.value, s.ci_low, s.ci_high):
                assert x is None or math.isnan(x) or low - 1e-9 <= x <= high + 1e-9, s

    prop()


def check_half_rule(metric: RelationshipBenefitIndex, phases: Any = tuple(Phase)) -> None:
    @settings(max_examples=40, deadline=None, phases=phases)
    @given(answer_frames(metric, max_rows=6, missing=True))
    def prop(frame: SurveyFrame) -> None:
        try:
            r = run(metric, frame)
        except InsufficientDataError:
            r = None
        for benefit in BENEFITS:
            items = items_of(benefit)
            answered = np.sum([~frame.answer_missing[i] for i in items], axis=0)
            expected = int(np.count_nonzero(2 * answered >= len(items)))
            assert (0 if r is None else r.details[f"facet.{benefit}.n"]) == expected, benefit

    prop()


def check_affine_invariance(
    cls: type[RelationshipBenefitIndex], phases: Any = tuple(Phase)
) -> None:
    """Recoding benefit answers x -> a x + b with the scale leaves the 0-100 form unchanged
    (importance answers are weights and stay as they are)."""
    base = cls(form="0-100", importance=True)

    @settings(max_examples=30, deadline=None, phases=phases)
    @given(answer_frames(base, max_rows=6, missing=True), st.integers(1, 3), st.integers(-20, 20))
    def prop(frame: SurveyFrame, a: int, b: int) -> None:
        moved = cls(form="0-100", importance=True, scale=(a + b, 7 * a + b))
        recoded = attrs.evolve(
            frame,
            answers={
                k: v if k.startswith("rb_imp") else (a * v + b).astype(np.int8)
                for k, v in frame.answers.items()
            },
        )
        try:
            r = run(base, frame)
        except InsufficientDataError:
            with pytest.raises(InsufficientDataError):
                run(moved, recoded)
            return
        for x, y in zip(component_scores(r), component_scores(run(moved, recoded)), strict=True):
            for f in ("value", "se", "ci_low", "ci_high"):
                u, v = getattr(x, f), getattr(y, f)
                same = (u is None and v is None) or (math.isnan(u) and math.isnan(v))
                assert same or math.isclose(u, v, abs_tol=1e-9), (x, y)

    prop()


def check_permutation(metric: RelationshipBenefitIndex, phases: Any = tuple(Phase)) -> None:
    @settings(max_examples=30, deadline=None, phases=phases)
    @given(frame=answer_frames(metric), seed=st.integers(0, 2**32 - 1))
    def prop(frame: SurveyFrame, seed: int) -> None:
        order = np.random.default_rng(seed).permutation(len(frame))
        assert results_close(run(metric, frame), run(metric, frame.take(order)))

    prop()


def test_monotone() -> None:
    check_monotone(RelationshipBenefitIndex())
    check_monotone(RelationshipBenefitIndex(importance=True, respect=True))


def test_monotone_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_monotone(BenefitsCountAgainst(), NO_SHRINK)


def test_bounds() -> None:
    check_bounds(RelationshipBenefitIndex(importance=True))
    check_bounds(RelationshipBenefitIndex(form="0-100", respect=True))


def test_bounds_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_bounds(NoOffset(form="0-100"), NO_SHRINK)


def test_half_rule() -> None:
    check_half_rule(RelationshipBenefitIndex())


def test_half_rule_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_half_rule(OneItemIsEnough(), NO_SHRINK)


def test_affine_invariance() -> None:
    check_affine_invariance(RelationshipBenefitIndex)


def test_affine_invariance_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_affine_invariance(NoOffset, NO_SHRINK)


def test_permutation_invariance() -> None:
    check_permutation(RelationshipBenefitIndex(importance=True))


def test_permutation_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_permutation(LastRowsOnly(), NO_SHRINK)


# -- laws -----------------------------------------------------------------------------------------

VARIANTS = [
    RelationshipBenefitIndex(),
    RelationshipBenefitIndex(by="segment", importance=True, respect=True),
    RelationshipBenefitIndex(by="wave", weights={"social": 0.5}, form="0-100"),
    RelationshipBenefitIndex(by="customer_id", min_answered=1.0),
]


@pytest.mark.parametrize("metric", VARIANTS, ids=range(len(VARIANTS)))
def test_laws(metric: RelationshipBenefitIndex) -> None:
    check_metric(metric, data=random_frame(metric, 1), max_examples=10)
    check_metric(metric, data=random_frame(metric, 2, n=6, missing=0.5), max_examples=6)


def test_laws_generated() -> None:
    check_metric(RelationshipBenefitIndex(by="segment", importance=True), max_examples=8)


def test_laws_negative_control() -> None:
    m = LastRowsOnly()
    frame = random_frame(RelationshipBenefitIndex(), 3, missing=0.0)
    with pytest.raises(AssertionError, match="law"):
        check_laws(m, frame, [10, 25], list(range(len(frame))))


# -- compute and bad input ------------------------------------------------------------------------


def test_compute_with_importance_from_columns() -> None:
    m = RelationshipBenefitIndex(importance=True, by="wave")
    data: dict[str, Any] = {item: [7, 1, None] for item in m.requires}
    data["wave"] = ["a", "a", "b"]
    r = compute(m, data)
    assert (r.n, r.n_missing, r.details["n_empty"]) == (2, 1, 1.0)
    assert [(g.group, g.n) for g in r.groups] == [("a", 2), ("b", 0)]
    assert r.groups[1].flags[0].startswith("no valid relationship-benefit index score")


def test_out_of_range_importance_answer() -> None:
    m = RelationshipBenefitIndex(importance=True)
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), rows_of(m, {}, {"rb_imp_confidence": 8}))
    assert (info.value.field, info.value.row, info.value.value) == ("rb_imp_confidence", 1, 8)


def test_bad_answer_through_compute() -> None:
    m = RelationshipBenefitIndex()
    data: dict[str, Any] = {item: [4.0, 4.0] for item in m.requires}
    data["rb_social_2"] = [4.0, 4.5]
    with pytest.raises(ValidationError) as info:
        compute(m, data)
    assert (info.value.field, info.value.row) == ("rb_social_2", 1)


def test_respondent_who_answered_nothing() -> None:
    m = RelationshipBenefitIndex()
    r = run(m, rows_of(m, dict.fromkeys(m.requires), {}, default=6))
    assert (r.value, r.n, r.n_missing, r.details["n_empty"]) == (6.0, 1, 1, 1.0)


def test_items_not_in_the_instrument() -> None:
    with pytest.raises(ValidationError, match="rb_loyalty") as info:
        RelationshipBenefitIndex(items=["rb_conf_1", "rb_loyalty"])
    assert info.value.field == "items"
    with pytest.raises(ValidationError, match="social"):
        RelationshipBenefitIndex(items=["rb_conf_1", "rb_special_1"])


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"importance": True, "weights": {"social": 2}}, ValueError, "alternatives"),
        ({"weights": {"respect": 2}}, ValidationError, "respect"),
        ({"respect": "yes"}, TypeError, "respect"),
        ({"importance": 1}, TypeError, "importance"),
    ],
)
def test_bad_parameters(params: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        RelationshipBenefitIndex(**params)


def test_instruments_that_do_not_fit() -> None:
    no_respect = attrs.evolve(
        INSTRUMENT,
        name="benefits-no-respect",
        items=[i for i in INSTRUMENT.items if i.dimension != "respect"],
        dimensions=BENEFITS,
    )
    with pytest.raises(ValidationError, match="respect"):
        RelationshipBenefitIndex(instrument=no_respect, respect=True)
    no_twin = attrs.evolve(
        no_respect, items=[i for i in no_respect.items if i.id != "rb_imp_social"]
    )
    with pytest.raises(ValidationError, match="one importance item for benefit 'social'"):
        RelationshipBenefitIndex(instrument=no_twin, importance=True)
    signed = attrs.evolve(
        no_respect,
        items=[
            attrs.evolve(i, scale=(-3, 3)) if i.battery == "importance" else i  # type: ignore[arg-type]
            for i in no_respect.items
        ],
    )
    with pytest.raises(ValidationError, match="from 0 up"):
        RelationshipBenefitIndex(instrument=signed, importance=True)
    mixed = attrs.evolve(
        no_respect,
        items=[
            attrs.evolve(i, scale=(1, 5)) if i.id == "rb_conf_1" else i  # type: ignore[arg-type]
            for i in no_respect.items
        ],
    )
    with pytest.raises(ValidationError, match="one answer scale"):
        RelationshipBenefitIndex(instrument=mixed)
    assert RelationshipBenefitIndex(instrument=mixed, scale=(1, 7)).plan.scale == (1, 7)
