"""Switching-cost index: hand-computed scores, properties with negative controls, laws, bad input.

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

from stickykit import compute, get_instrument, get_metric
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.multiitem import ScoringPlan, component_scores
from stickykit.metrics.survey.switching_costs import SwitchingCostIndex
from stickykit.testing import check_laws, check_metric, results_close

INSTRUMENT = get_instrument("switching-costs-bfm2003")
REVERSED = {item.id for item in INSTRUMENT.items if item.reverse}
FACETS = {
    "procedural": ("economic_risk", "evaluation", "learning", "setup"),
    "financial": ("benefit_loss", "monetary_loss"),
    "relational": ("personal_relationship_loss", "brand_relationship_loss"),
}
T_1 = 12.706204736  # Student t, 1 df, 0.975 quantile (any t table)
T_2 = 4.302652730  # Student t, 2 df, 0.975 quantile
#: Negative controls must fail; shrinking their counterexample would only cost time.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


# -- helpers ------------------------------------------------------------------------------------


def make_frame(
    metric: SwitchingCostIndex,
    matrix: Any,
    missing: Any = None,
    **columns: Any,
) -> SurveyFrame:
    """A frame with one column per item the metric reads (``matrix`` rows x items)."""
    matrix = np.asarray(matrix)
    answers = {item: matrix[:, j].astype(np.int8) for j, item in enumerate(metric.requires)}
    answer_missing = {}
    if missing is not None:
        missing = np.asarray(missing, dtype=bool)
        answer_missing = {
            item: missing[:, j] for j, item in enumerate(metric.requires) if missing[:, j].any()
        }
    return SurveyFrame(answers=answers, answer_missing=answer_missing, **columns)


def rows_of(metric: SwitchingCostIndex, *rows: dict[str, Any], default: int = 3) -> SurveyFrame:
    """Respondents scoring ``default`` on every item (reverse-keyed items answered
    ``lo + hi - default``) except where a row gives a raw answer (None = missing)."""
    items = metric.requires
    lo, hi = metric.plan.scale
    matrix = np.array(
        [[lo + hi - default if r else default for r in metric.plan.reverse]] * len(rows)
    )
    matrix = matrix.reshape(len(rows), len(items))
    missing = np.zeros(matrix.shape, dtype=bool)
    for r, row in enumerate(rows):
        for item, value in row.items():
            j = items.index(item)
            if value is None:
                missing[r, j] = True
            else:
                matrix[r, j] = value
    return make_frame(metric, matrix, missing)


def facet_items(facet: str) -> list[str]:
    return [item.id for item in INSTRUMENT.items if item.facet == facet]


def run(metric: Any, frame: SurveyFrame) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), frame))  # type: ignore[no-any-return]


def random_frame(metric: Any, seed: int, n: int = 40, missing: float = 0.15) -> SurveyFrame:
    rng = np.random.default_rng(seed)
    matrix = np.column_stack([rng.integers(lo, hi + 1, n) for lo, hi in metric.scales.values()])
    wave = rng.integers(0, 3, n)
    return make_frame(
        metric,
        matrix,
        rng.random(matrix.shape) < missing,
        respondent_id=np.arange(n),
        wave=wave,
        segment=np.array(["a", "b"])[rng.integers(0, 2, n)],
        customer_id=rng.integers(0, n // 2, n),
        label_missing={"wave": rng.random(n) < 0.1},
    )


@st.composite
def answer_frames(
    draw: Any, metric: Any, *, min_rows: int = 1, max_rows: int = 8, missing: bool = False
) -> SurveyFrame:
    """Frames of answers inside each item's scale, drawn as one matrix (fast)."""
    n = draw(st.integers(min_rows, max_rows))
    k = len(metric.requires)
    raw = draw(hnp.arrays(np.int64, (n, k), elements=st.integers(0, 1000)))
    scales = list(metric.scales.values())
    lo = np.array([s[0] for s in scales])
    width = np.array([s[1] - s[0] + 1 for s in scales])
    matrix = lo + raw % width
    mask = draw(hnp.arrays(np.bool_, (n, k), elements=st.booleans())) if missing else None
    return make_frame(metric, matrix, mask)


# -- deliberately broken variants (negative controls) -----------------------------------------


@attrs.frozen(kw_only=True)
class NoReverseKeying(SwitchingCostIndex):
    """Broken: scores reverse-keyed items as they are."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        return attrs.evolve(plan, reverse=(False,) * len(plan.items))


@attrs.frozen(kw_only=True)
class OneItemIsEnough(SwitchingCostIndex):
    """Broken: a facet score from a single answered item, whatever the facet's size."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        fixed = [attrs.evolve(c, required=1) if c.items else c for c in plan.components]
        return attrs.evolve(plan, components=fixed)


@attrs.frozen(kw_only=True)
class NoOffset(SwitchingCostIndex):
    """Broken: the 0-100 form as 100 * score / (hi - lo), forgetting to subtract lo."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        fixed = [attrs.evolve(c, offset=0.0) for c in plan.components]
        return attrs.evolve(plan, components=fixed)


@attrs.frozen(kw_only=True)
class FirstHalfOnly(SwitchingCostIndex):
    """Broken: reads only the first half of each batch (depends on row order)."""

    def update(self, state: Any, frame: SurveyFrame) -> Any:
        return super().update(state, frame.slice(0, (len(frame) + 1) // 2))


# -- the instrument -------------------------------------------------------------------------


def test_instrument_structure_and_notes() -> None:
    """Three types, eight facets, paraphrased items, reverse keys only in learning and set-up."""
    assert INSTRUMENT.dimensions == ("procedural", "financial", "relational")
    for type_, facets in FACETS.items():
        assert tuple(dict.fromkeys(i.facet for i in INSTRUMENT.select(dimension=type_))) == facets
    assert {INSTRUMENT.item(i).facet for i in REVERSED} == {"learning", "setup"}
    assert all(item.scale == (1, 5) for item in INSTRUMENT.items)
    notes = " ".join(INSTRUMENT.notes.split())
    assert "paraphrase" in notes and "does not reproduce the published items" in notes
    assert "number of items per facet is stickykit's choice" in notes
    assert "10.1177/0092070302250897" in INSTRUMENT.reference


def test_reverse_keying_twice_is_identity() -> None:
    for item_id in REVERSED:
        item = INSTRUMENT.item(item_id)
        assert [item.keyed(item.keyed(x)) for x in range(1, 6)] == [1, 2, 3, 4, 5]
        assert [item.keyed(x) for x in range(1, 6)] == [5, 4, 3, 2, 1]  # x' = (K + 1) - x


# -- hand-computed values ---------------------------------------------------------------------


def hand_frame(m: SwitchingCostIndex) -> SurveyFrame:
    """A scores 3 everywhere. B: economic risk 5,5,4,4 (4.5); evaluation 3; learning 4,4 and
    reverse 2,2 (keyed 4; facet 4); set-up 2,2,2 and reverse 4 (keyed 2; facet 2);
    benefit loss 5; monetary loss 1; personal 4; brand 2. C answers 3 except: one economic-risk
    item of four (facet missing), evaluation 5, 4 and one missing (2 of 3 answered: 4.5)."""
    risk, ev, learn, setup = (facet_items(f) for f in FACETS["procedural"])
    b = dict(zip(risk, [5, 5, 4, 4], strict=True))
    b |= dict.fromkeys(ev, 3) | dict(zip(learn, [4, 4, 2, 2], strict=True))
    b |= dict(zip(setup, [2, 2, 2, 4], strict=True))
    b |= dict.fromkeys(facet_items("benefit_loss"), 5) | dict.fromkeys(
        facet_items("monetary_loss"), 1
    )
    b |= dict.fromkeys(facet_items("personal_relationship_loss"), 4)
    b |= dict.fromkeys(facet_items("brand_relationship_loss"), 2)
    c: dict[str, Any] = dict.fromkeys(risk[1:], None) | dict(zip(ev, [5, 4, None], strict=True))
    return rows_of(m, {}, b, c)


def test_hand_computed_facets_types_overall() -> None:
    """B: procedural (4.5 + 3 + 4 + 2)/4 = 3.375, financial (5 + 1)/2 = 3, relational
    (4 + 2)/2 = 3, overall (3.375 + 3 + 3)/3 = 3.125. A: 3 everywhere. C: no economic-risk score,
    so no procedural and no overall score (n_missing); evaluation 4.5, the rest 3.

    Overall: mean (3 + 3.125)/2 = 3.0625, s^2 = 2 * 0.0625^2 / 1, se = s/sqrt(2) = 0.0625,
    CI 3.0625 -/+ t(1) * 0.0625. Facets: economic risk (3 + 4.5)/2 = 3.75 (n 2), evaluation
    (3 + 3 + 4.5)/3 = 3.5 (n 3); types: procedural (3 + 3.375)/2 = 3.1875, financial 3."""
    m = SwitchingCostIndex()
    r = run(m, hand_frame(m))
    assert (r.value, r.n, r.n_missing) == (3.0625, 2, 1)
    assert r.se == pytest.approx(0.0625)
    assert r.ci_low == pytest.approx(3.0625 - T_1 * 0.0625)
    assert r.ci_high == pytest.approx(3.0625 + T_1 * 0.0625)
    d = r.details
    assert d["facet.economic_risk"] == 3.75 and d["facet.economic_risk.n"] == 2
    assert d["facet.economic_risk.n_missing"] == 1
    assert d["facet.evaluation"] == pytest.approx(3.5) and d["facet.evaluation.n"] == 3
    assert d["facet.learning"] == pytest.approx(10 / 3)  # A 3, B 4, C 3
    assert d["facet.setup"] == pytest.approx(8 / 3)  # A 3, B 2, C 3
    assert d["type.procedural"] == pytest.approx(3.1875) and d["type.procedural.n"] == 2
    assert d["type.financial"] == 3.0 and d["type.financial.n"] == 3
    assert d["n_empty"] == 0
    assert r.flags == ("small sample: n = 2 < 30",)
    assert r.unit == "on the 1-5 scale" and "Student t" in r.method
    assert "Burnham" in r.reference and r.params["instrument"] == "switching-costs-bfm2003"


def test_hand_computed_zero_to_hundred() -> None:
    """100 * (3.0625 - 1)/(5 - 1) = 51.5625; se 100/4 * 0.0625 = 1.5625."""
    m = SwitchingCostIndex(form="0-100")
    r = run(m, hand_frame(m))
    assert r.value == pytest.approx(51.5625)
    assert r.se == pytest.approx(1.5625)
    assert r.details["facet.economic_risk"] == pytest.approx(100 * (3.75 - 1) / 4)
    assert r.unit == "points (0-100)"


def test_hand_computed_weights() -> None:
    """weights procedural 2, economic risk 3. B: procedural (3*4.5 + 3 + 4 + 2)/6 = 3.75,
    overall (2*3.75 + 3 + 3)/4 = 3.375; A: 3; mean 3.1875."""
    m = SwitchingCostIndex(weights={"procedural": 2, "economic_risk": 3})
    r = run(m, hand_frame(m))
    assert r.value == pytest.approx(3.1875)
    assert r.details["type.procedural"] == pytest.approx((3 + 3.75) / 2)


def test_hand_computed_interval_clipped() -> None:
    """Overall scores 3, 4, 5: mean 4, s = 1, se = 1/sqrt(3); t(2) = 4.3027 gives
    4 -/+ 2.4841 = [1.5159, 6.4841], clipped to the scale: [1.5159, 5]."""
    m = SwitchingCostIndex()
    frame = rows_of(
        m,
        *[{i: (6 - v if i in REVERSED else v) for i in m.requires} for v in (3, 4, 5)],
    )
    r = run(m, frame)
    assert r.value == pytest.approx(4.0)
    assert r.se == pytest.approx(1 / math.sqrt(3))
    assert r.ci_low == pytest.approx(4 - T_2 / math.sqrt(3))
    assert r.ci_high == 5.0


def test_component_table() -> None:
    m = SwitchingCostIndex()
    table = component_scores(run(m, hand_frame(m)))
    assert [(s.level, s.name) for s in table] == [
        *[("facet", f) for facets in FACETS.values() for f in facets],
        *[("type", t) for t in FACETS],
        ("overall", "switching_cost_index"),
    ]
    assert table[-1].value == 3.0625 and table[0].n_missing == 1


# -- properties ---------------------------------------------------------------------------------


def check_monotone(metric: SwitchingCostIndex, phases: Any = tuple(Phase)) -> None:
    """A higher answer never lowers any score; on a reverse-keyed item never raises one."""

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(frame=answer_frames(metric), data=st.data())
    def prop(frame: SurveyFrame, data: st.DataObject) -> None:
        row = data.draw(st.integers(0, len(frame) - 1))
        # every item may be drawn; reverse-keyed ones (3 of 26) are drawn about half the time
        item = data.draw(st.sampled_from(sorted(REVERSED)) | st.sampled_from(metric.requires))
        values = frame.answers[item].copy()
        if values[row] == 5:
            values[row] = 4
        before = run(metric, attrs.evolve(frame, answers={**frame.answers, item: values}))
        values = values.copy()
        values[row] += 1
        after = run(metric, attrs.evolve(frame, answers={**frame.answers, item: values}))
        sign = -1 if item in REVERSED else 1
        assert sign * (after.value - before.value) >= -1e-12
        for key, value in before.details.items():
            if key.count(".") == 1:
                assert sign * (after.details[key] - value) >= -1e-12, key

    prop()


def check_bounds(metric: SwitchingCostIndex, phases: Any = tuple(Phase)) -> None:
    """Every score and interval lies within the item scale (or within [0, 100])."""
    low, high = (0.0, 100.0) if metric.form == "0-100" else (1.0, 5.0)

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


def check_half_rule(metric: SwitchingCostIndex, phases: Any = tuple(Phase)) -> None:
    """A facet is scored exactly for respondents who answered at least half its items."""

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(answer_frames(metric, max_rows=6, missing=True))
    def prop(frame: SurveyFrame) -> None:
        try:
            r = run(metric, frame)
        except InsufficientDataError:
            r = None
        for facets in FACETS.values():
            for facet in facets:
                items = facet_items(facet)
                answered = np.sum(
                    [~frame.answer_missing.get(i, np.zeros(len(frame), bool)) for i in items],
                    axis=0,
                )
                expected = int(np.count_nonzero(2 * answered >= len(items)))
                got = 0 if r is None else int(r.details[f"facet.{facet}.n"])
                assert got == expected, facet
                if r is not None:
                    assert r.details[f"facet.{facet}.n_missing"] == len(frame) - expected

    prop()


def check_affine_invariance(cls: type[SwitchingCostIndex], phases: Any = tuple(Phase)) -> None:
    """Recoding answers x -> a x + b (a > 0) with the scale leaves the 0-100 form unchanged."""
    base = cls(form="0-100")

    @settings(max_examples=30, deadline=None, phases=phases)
    @given(
        frame=answer_frames(base, max_rows=6, missing=True),
        a=st.integers(1, 3),
        b=st.integers(-10, 10),
    )
    def prop(frame: SurveyFrame, a: int, b: int) -> None:
        moved = cls(form="0-100", scale=(a + b, 5 * a + b))
        recoded = attrs.evolve(
            frame, answers={k: (a * v + b).astype(np.int8) for k, v in frame.answers.items()}
        )
        try:
            r = run(base, frame)
        except InsufficientDataError:
            with pytest.raises(InsufficientDataError):
                run(moved, recoded)
            return
        s = run(moved, recoded)
        for x, y in zip(component_scores(r), component_scores(s), strict=True):
            for f in ("value", "se", "ci_low", "ci_high"):
                u, v = getattr(x, f), getattr(y, f)
                same = (u is None and v is None) or (math.isnan(u) and math.isnan(v))
                assert same or math.isclose(u, v, abs_tol=1e-9), (x, y)

    prop()


def check_permutation(metric: SwitchingCostIndex, phases: Any = tuple(Phase)) -> None:
    """Shuffling the respondents changes nothing."""

    @settings(max_examples=30, deadline=None, phases=phases)
    @given(frame=answer_frames(metric, min_rows=2, max_rows=8), seed=st.integers(0, 2**32 - 1))
    def prop(frame: SurveyFrame, seed: int) -> None:
        order = np.random.default_rng(seed).permutation(len(frame))
        assert results_close(run(metric, frame), run(metric, frame.take(order)))

    prop()


def test_monotone() -> None:
    check_monotone(SwitchingCostIndex())
    check_monotone(SwitchingCostIndex(weights={"financial": 3, "learning": 0.5}))


def test_monotone_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_monotone(NoReverseKeying(), NO_SHRINK)


def test_bounds() -> None:
    check_bounds(SwitchingCostIndex())
    check_bounds(SwitchingCostIndex(form="0-100"))


def test_bounds_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_bounds(NoOffset(form="0-100"), NO_SHRINK)


def test_half_rule() -> None:
    check_half_rule(SwitchingCostIndex())


def test_half_rule_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_half_rule(OneItemIsEnough(), NO_SHRINK)


def test_half_rule_by_hand() -> None:
    """Learning has four items: two answered give a score, one does not; monetary loss has
    two: one answered is half."""
    m = SwitchingCostIndex()
    learn, money = facet_items("learning"), facet_items("monetary_loss")
    r = run(
        m,
        rows_of(
            m,
            {learn[0]: None, learn[1]: None},
            {learn[0]: None, learn[1]: None, learn[2]: None},
            {money[0]: None, money[1]: 5},
        ),
    )
    assert r.details["facet.learning.n"] == 2 and r.details["facet.learning.n_missing"] == 1
    assert r.details["facet.monetary_loss"] == pytest.approx((3 + 3 + 5) / 3)


def test_stricter_min_answered() -> None:
    m = SwitchingCostIndex(min_answered=1.0)
    r = run(m, rows_of(m, {facet_items("learning")[0]: None}, {}))
    assert r.details["facet.learning.n"] == 1 and r.n == 1


def test_affine_invariance() -> None:
    check_affine_invariance(SwitchingCostIndex)


def test_affine_invariance_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_affine_invariance(NoOffset, NO_SHRINK)


def test_permutation_invariance() -> None:
    check_permutation(SwitchingCostIndex())


def test_permutation_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_permutation(FirstHalfOnly(), NO_SHRINK)


def test_item_column_order_is_irrelevant() -> None:
    m = SwitchingCostIndex()
    frame = random_frame(m, 3)
    shuffled = SurveyFrame(
        answers=dict(reversed(list(frame.answers.items()))), answer_missing=frame.answer_missing
    )
    assert results_close(run(m, frame), run(m, shuffled))


# -- laws ----------------------------------------------------------------------------------------

VARIANTS = [
    SwitchingCostIndex(),
    SwitchingCostIndex(by="wave", form="0-100"),
    SwitchingCostIndex(by="segment", weights={"relational": 2, "setup": 0.5}),
    SwitchingCostIndex(by="customer_id", min_answered=1.0, alpha=0.1, min_n=5),
    SwitchingCostIndex(items=[i for i in INSTRUMENT.item_ids if i != "sc_risk_4"]),
]


@pytest.mark.parametrize("metric", VARIANTS, ids=range(len(VARIANTS)))
def test_laws(metric: SwitchingCostIndex) -> None:
    check_metric(metric, data=random_frame(metric, 1), max_examples=10)
    check_metric(metric, data=random_frame(metric, 2, n=7, missing=0.6), max_examples=6)


def test_laws_generated() -> None:
    check_metric(SwitchingCostIndex(by="wave"), max_examples=8)


@attrs.frozen(kw_only=True)
class SumNotMoments(SwitchingCostIndex):
    """Broken: merges centred sums of squares by plain addition (drops the between term)."""

    def merge(self, a: Any, b: Any) -> Any:
        merged = super().merge(a, b)
        if a.m2.shape == b.m2.shape:
            return attrs.evolve(merged, m2=a.m2 + b.m2)
        return merged


def test_laws_negative_control() -> None:
    m = SumNotMoments()
    frame = random_frame(m, 4, missing=0.0)
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(m, frame, [20], list(range(len(frame))))


# -- grouping, compute, missing -----------------------------------------------------------------


def test_grouped_with_missing_labels() -> None:
    m = SwitchingCostIndex(by="wave")
    frame = attrs.evolve(
        rows_of(m, {}, {}, {}, default=4),
        wave=np.array([1, 1, 2]),
        label_missing={"wave": np.array([False, False, True])},
    )
    r = run(m, frame)
    assert [(g.group, g.n, g.value) for g in r.groups] == [(1, 2, 4.0), ("(missing)", 1, 4.0)]
    assert all("small sample" in g.flags[-1] for g in r.groups)
    assert r.groups[1].flags[0] == "no interval: fewer than 2 respondents"


def test_compute_from_columns() -> None:
    m = SwitchingCostIndex()
    data: dict[str, Any] = {item: [4, 2, None] for item in m.requires}
    data |= {item: [2, 4, None] for item in REVERSED}
    r = compute(m, data)
    assert (r.value, r.n, r.n_missing, r.details["n_empty"]) == (3.0, 2, 1, 1.0)
    assert "1 respondents answered no item" in r.flags


def test_registered() -> None:
    metric = get_metric("switching_cost_index", form="0-100")
    assert isinstance(metric, SwitchingCostIndex) and metric.form == "0-100"


def test_custom_instrument_object() -> None:
    """A company's 7-point version passed as an Instrument object; results name it."""
    seven = attrs.evolve(
        INSTRUMENT,
        name="acme-switching-7",
        items=[attrs.evolve(item, scale=(1, 7)) for item in INSTRUMENT.items],  # type: ignore[arg-type]
    )
    m = SwitchingCostIndex(instrument=seven)
    r = run(m, rows_of(m, {}, default=7))
    assert r.params["instrument"] == "acme-switching-7"
    assert r.details["facet.learning"] == 7.0  # reverse-keyed answers 1 score 7 - 1 + 1
    assert m.fingerprint != SwitchingCostIndex().fingerprint


# -- bad input ------------------------------------------------------------------------------------


def test_out_of_range_answer_names_row_item_value() -> None:
    m = SwitchingCostIndex()
    frame = attrs.evolve(rows_of(m, {}, {"sc_eval_2": 6}, {"sc_brand_1": 0}), first_row=10)
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    assert (info.value.field, info.value.row, info.value.value) == ("sc_eval_2", 11, 6)
    assert info.value.n_failing == 2
    assert [(v.field, v.rows.tolist()) for v in m.check(frame)] == [
        ("sc_eval_2", [11]),
        ("sc_brand_1", [12]),
    ]


def test_out_of_range_unanswered_cell_is_ignored() -> None:
    m = SwitchingCostIndex()
    frame = rows_of(m, {"sc_eval_2": None}, {})
    frame.answers["sc_eval_2"][0] = 99  # the placeholder under a missing answer is not read
    assert m.check(frame) == []
    assert run(m, frame).n == 2


@pytest.mark.parametrize("bad", [2.5, 6, 0, "x", True])
def test_bad_answers_through_compute(bad: Any) -> None:
    m = SwitchingCostIndex()
    data: dict[str, Any] = {item: np.array([3, 3, 3], dtype=object) for item in m.requires}
    data["sc_setup_2"][1] = bad
    with pytest.raises(ValidationError) as info:
        compute(m, data)
    assert (info.value.field, info.value.row) == ("sc_setup_2", 1)


def test_quarantine() -> None:
    m = SwitchingCostIndex()
    data: dict[str, Any] = {item: [3, 3, 3, 3] for item in m.requires}
    data["sc_risk_1"] = [3, 9, 3, 3]
    data["sc_money_2"] = [3, 3, -1, 3]
    r = compute(m, data, errors="quarantine")
    assert (r.n, r.details["n_rejected"]) == (2, 2.0)


def test_items_not_in_the_instrument() -> None:
    with pytest.raises(ValidationError, match="loyalty_1") as info:
        SwitchingCostIndex(items=("sc_risk_1", "loyalty_1"))
    assert info.value.field == "items"


def test_short_form_must_keep_every_facet() -> None:
    keep = [i for i in INSTRUMENT.item_ids if not i.startswith("sc_money")]
    with pytest.raises(ValidationError, match="monetary_loss"):
        SwitchingCostIndex(items=keep)


def test_frame_without_an_item() -> None:
    m = SwitchingCostIndex()
    frame = SurveyFrame(answers={"sc_risk_1": np.array([3], np.int8)})
    with pytest.raises(ValidationError, match="missing") as info:
        m.update(m.init(), frame)
    assert info.value.field == "answers"


def test_respondent_who_answered_nothing() -> None:
    """Counted as missing everywhere and in n_empty; never scored as a low answer."""
    m = SwitchingCostIndex()
    nothing = dict.fromkeys(m.requires)
    r = run(m, rows_of(m, {}, nothing, default=5))
    assert (r.value, r.n, r.n_missing, r.details["n_empty"]) == (5.0, 1, 1, 1.0)
    assert r.details["facet.learning.n_missing"] == 1
    assert "1 respondents answered no item" in r.flags


def test_nobody_answered() -> None:
    m = SwitchingCostIndex()
    nothing = dict.fromkeys(m.requires)
    with pytest.raises(InsufficientDataError, match="2 of them without any answer"):
        run(m, rows_of(m, nothing, nothing))
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())


def test_no_complete_respondent() -> None:
    """Facets scored, but nobody has every facet: the overall is NaN with a flag."""
    m = SwitchingCostIndex()
    r = run(m, rows_of(m, dict.fromkeys(facet_items("evaluation"))))
    assert math.isnan(r.value) and r.n == 0 and r.n_missing == 1
    assert r.flags[0].startswith("no valid switching-cost index score")
    assert r.details["facet.learning"] == 3.0


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"min_answered": 0}, ValueError, "min_answered"),
        ({"min_answered": 1.5}, ValueError, "min_answered"),
        ({"scale": (5, 1)}, ValueError, "scale"),
        ({"form": "z"}, ValueError, "form"),
        ({"by": "colour"}, ValueError, "by"),
        ({"alpha": 0}, ValueError, "alpha"),
        ({"min_n": 0}, ValueError, "min_n"),
        ({"weights": {"procedural": -1}}, ValueError, "positive"),
        ({"weights": {"procedural": "2"}}, TypeError, "positive"),
        ({"weights": {"loyalty": 2}}, ValidationError, "loyalty"),
        ({"instrument": "no-such-instrument"}, KeyError, "no-such-instrument"),
    ],
)
def test_bad_parameters(params: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        SwitchingCostIndex(**params)


def test_merge_refuses_other_parameters() -> None:
    a, b = SwitchingCostIndex(), SwitchingCostIndex(form="0-100")
    with pytest.raises(StateMismatchError, match="fingerprint"):
        a.merge(a.init(), b.init())


def test_blocks_merge_like_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring in blocks of 7 rows (merged by the pairwise formula) equals one block."""
    from stickykit.metrics.survey import multiitem

    m = SwitchingCostIndex(by="wave")
    frame = random_frame(m, 6, n=50)
    whole = run(m, frame)
    monkeypatch.setattr(multiitem, "BLOCK_ROWS", 7)
    assert results_close(run(m, frame), whole)
