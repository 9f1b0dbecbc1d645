"""Customer delivered value and the value-cost ratio: hand-computed values, properties with
negative controls, laws, bad input.

Each property is a ``check_*`` function; it runs on the real formula (must pass) and on a
deliberately broken variant (must fail with AssertionError).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit import compute, get_instrument, get_metric
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.delivered_value import CustomerDeliveredValue, value_cost_ratio
from stickykit.metrics.survey.multiitem import ScoringPlan, component_scores
from stickykit.testing import check_laws, check_metric, results_close

INSTRUMENT = get_instrument("delivered-value-kotler")
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
VALUE = ("product", "services", "personnel", "image")
COST = ("monetary", "time", "energy", "psychic")
COST_ITEMS = {i.id for i in INSTRUMENT.items if i.dimension == "cost"}
T_1 = 12.706204736  # Student t, 1 df, 0.975 quantile
Z = 1.959963985  # standard normal 0.975 quantile


def items_of(component: str) -> list[str]:
    return [i.id for i in INSTRUMENT.items if i.facet == component]


def rows_of(metric: CustomerDeliveredValue, *rows: dict[str, Any], default: int = 4) -> SurveyFrame:
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


def by_component(**values: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for component, answers in values.items():
        out |= dict(zip(items_of(component), answers, strict=True))
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
        wave=np.array(["spring", "autumn"])[rng.integers(0, 2, n)],
        instrument=np.full(n, "delivered-value-kotler"),
        customer_id=rng.integers(0, n // 2, n),
        answered_at=(rng.integers(0, 10**12, n) + 1_600_000_000_000_000).astype("datetime64[us]"),
    )


@st.composite
def answer_frames(
    draw: Any, metric: Any, *, max_rows: int = 8, missing: bool = False
) -> SurveyFrame:
    n = draw(st.integers(1, max_rows))
    k = len(metric.requires)
    lo, hi = metric.plan.scale
    matrix = draw(hnp.arrays(np.int8, (n, k), elements=st.integers(lo, hi)))
    mask = draw(hnp.arrays(np.bool_, (n, k), elements=st.booleans())) if missing else None
    return SurveyFrame(
        answers={item: matrix[:, j].copy() for j, item in enumerate(metric.requires)},
        answer_missing={}
        if mask is None
        else {item: mask[:, j] for j, item in enumerate(metric.requires)},
    )


# -- deliberately broken variants -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CostMinusValue(CustomerDeliveredValue):
    """Broken: TCC - TCV instead of TCV - TCC."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        flipped = attrs.evolve(plan.headline, coefficients=(-1.0, 1.0))
        return attrs.evolve(plan, components=(*plan.components[:-1], flipped))


@attrs.frozen(kw_only=True)
class NoOffset(CustomerDeliveredValue):
    """Broken: the 0-100 form of every score as 100 * score / (hi - lo)."""

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        plan = super().build_plan(instrument)
        return attrs.evolve(plan, components=[attrs.evolve(c, offset=0.0) for c in plan.components])


@attrs.frozen(kw_only=True)
class EveryOtherRow(CustomerDeliveredValue):
    """Broken: reads every other row of each batch."""

    def update(self, state: Any, frame: SurveyFrame) -> Any:
        return super().update(state, frame.take(np.arange(0, len(frame), 2)))


# -- the instrument ---------------------------------------------------------------------------


def test_instrument_structure_and_notes() -> None:
    assert INSTRUMENT.dimensions == ("value", "cost")
    assert tuple(dict.fromkeys(i.facet for i in INSTRUMENT.select(dimension="value"))) == VALUE
    assert tuple(dict.fromkeys(i.facet for i in INSTRUMENT.select(dimension="cost"))) == COST
    assert {i.scale for i in INSTRUMENT.items} == {(1, 7)}
    notes = " ".join(INSTRUMENT.notes.split())
    assert "paraphrase" in notes and "not a questionnaire" in notes
    assert "share one anchored rating scale" in notes
    assert "9th ed. (1997)" in INSTRUMENT.reference
    # cited by edition, chapter and figure title; no page number (none could be verified)
    assert "Chapter 2, figure 'Determinants of Customer Delivered Value'" in INSTRUMENT.reference
    assert "page not verified" in INSTRUMENT.reference
    assert not re.search(r"\bpp?\.\s*\d", INSTRUMENT.reference)


# -- hand-computed values ---------------------------------------------------------------------


def hand_rows() -> list[dict[str, Any]]:
    """R1: value 6 everywhere (TCV 6); monetary 5,5, time 2,2, energy 3,3, psychic 2,- (one of
    two answered: 2), so TCC (5 + 2 + 3 + 2)/4 = 3 and CDV 3. R2: product 7,7, services 5,5,
    personnel 4,4, image 4,- (TCV (7 + 5 + 4 + 4)/4 = 5), costs 4 (TCC 4): CDV 1. R3: value 5;
    both time items missing: no TCC, no CDV."""
    r1 = by_component(product=[6, 6], services=[6, 6], personnel=[6, 6], image=[6, 6])
    r1 |= by_component(monetary=[5, 5], time=[2, 2], energy=[3, 3], psychic=[2, None])
    r2 = by_component(product=[7, 7], services=[5, 5], personnel=[4, 4], image=[4, None])
    r3 = by_component(product=[5, 5], services=[5, 5], personnel=[5, 5], image=[5, 5])
    r3 |= by_component(time=[None, None])
    return [r1, r2, r3]


def test_hand_computed() -> None:
    """CDV 3 and 1: mean 2, s = sqrt(2), se = 1; t(1) = 12.706 gives [-10.7, 14.7], clipped to
    the possible range [1 - 7, 7 - 1] = [-6, 6]. TCV (6 + 5 + 5)/3 (n 3), TCC (3 + 4)/2 (n 2),
    time cost (2 + 4)/2 (n 2), product (6 + 7 + 5)/3."""
    m = CustomerDeliveredValue()
    r = run(m, rows_of(m, *hand_rows()))
    assert (r.value, r.n, r.n_missing) == (2.0, 2, 1)
    assert r.se == pytest.approx(1.0)
    assert (r.ci_low, r.ci_high) == (-6.0, 6.0)
    d = r.details
    assert d["total.value"] == pytest.approx(16 / 3) and d["total.value.n"] == 3
    assert d["total.cost"] == 3.5 and d["total.cost.n_missing"] == 1
    assert d["cost.time"] == 3.0 and d["cost.time.n"] == 2
    assert d["cost.psychic"] == pytest.approx((2 + 4 + 4) / 3)
    assert d["value.product"] == 6.0 and d["value.image"] == 5.0
    assert r.unit == "scale points (1-7 answers)"
    assert "Kotler" in r.reference and "9th ed." in r.reference
    assert "ch. 2, figure 'Determinants of Customer Delivered Value'" in r.reference
    assert "page not verified" in r.reference and not re.search(r"\bpp?\.\s*\d", r.reference)
    table = component_scores(r)
    assert [(s.level, s.name) for s in table][-3:] == [
        ("total", "value"),
        ("total", "cost"),
        ("overall", "customer_delivered_value"),
    ]


def test_hand_computed_zero_to_hundred() -> None:
    """CDV 100 * 2/6 = 33.33 (no offset for a difference); TCV 100 * (16/3 - 1)/6 = 72.22."""
    m = CustomerDeliveredValue(form="0-100")
    r = run(m, rows_of(m, *hand_rows()))
    assert r.value == pytest.approx(100 / 3)
    assert r.se == pytest.approx(100 / 6)
    assert r.details["total.value"] == pytest.approx(100 * (16 / 3 - 1) / 6)
    assert r.details["total.value"] - r.details["total.cost"] != pytest.approx(r.value)  # n differ
    assert r.unit == "points (-100 to 100)"


def test_hand_computed_weights() -> None:
    """monetary weighs 2, product 3. R1: TCV 6, TCC (2*5 + 2 + 3 + 2)/5 = 3.4, CDV 2.6.
    R2: TCV (3*7 + 5 + 4 + 4)/6 = 34/6, TCC 4, CDV 10/6. Mean (2.6 + 10/6)/2."""
    m = CustomerDeliveredValue(weights={"monetary": 2, "product": 3})
    r = run(m, rows_of(m, *hand_rows()))
    assert r.value == pytest.approx((2.6 + 10 / 6) / 2)


# -- properties ---------------------------------------------------------------------------------


def check_monotone(metric: CustomerDeliveredValue, phases: Any = tuple(Phase)) -> None:
    """A higher value answer never lowers CDV; a higher cost answer never raises it."""

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(frame=answer_frames(metric), data=st.data())
    def prop(frame: SurveyFrame, data: st.DataObject) -> None:
        row = data.draw(st.integers(0, len(frame) - 1))
        item = data.draw(st.sampled_from(metric.requires))
        values = frame.answers[item].copy()
        values[row] = min(values[row], 6)
        before = run(metric, attrs.evolve(frame, answers={**frame.answers, item: values}))
        values = values.copy()
        values[row] += 1
        after = run(metric, attrs.evolve(frame, answers={**frame.answers, item: values}))
        sign = -1 if item in COST_ITEMS else 1
        assert sign * (after.value - before.value) >= -1e-12, item
        for s, t in zip(component_scores(before), component_scores(after), strict=True):
            if s.level != "overall":  # each total and component rises with its own items
                assert t.value >= s.value - 1e-12, s.name

    prop()


def check_bounds(metric: CustomerDeliveredValue, phases: Any = tuple(Phase)) -> None:
    """Totals and components within the scale (or [0, 100]); CDV within [lo - hi, hi - lo]."""
    percent = metric.form == "0-100"

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(answer_frames(metric, max_rows=6, missing=True))
    def prop(frame: SurveyFrame) -> None:
        try:
            r = run(metric, frame)
        except InsufficientDataError:
            return
        for s in component_scores(r):
            if s.level == "overall":
                low, high = (-100.0, 100.0) if percent else (-6.0, 6.0)
            else:
                low, high = (0.0, 100.0) if percent else (1.0, 7.0)
            for x in (s.value, s.ci_low, s.ci_high):
                assert x is None or math.isnan(x) or low - 1e-9 <= x <= high + 1e-9, s

    prop()


def check_affine_invariance(cls: type[CustomerDeliveredValue], phases: Any = tuple(Phase)) -> None:
    base = cls(form="0-100")

    @settings(max_examples=30, deadline=None, phases=phases)
    @given(answer_frames(base, max_rows=6, missing=True), st.integers(1, 3), st.integers(-20, 20))
    def prop(frame: SurveyFrame, a: int, b: int) -> None:
        moved = cls(form="0-100", scale=(a + b, 7 * a + b))
        recoded = attrs.evolve(
            frame, answers={k: (a * v + b).astype(np.int8) for k, v in frame.answers.items()}
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


def check_permutation(metric: CustomerDeliveredValue, phases: Any = tuple(Phase)) -> None:
    @settings(max_examples=30, deadline=None, phases=phases)
    @given(frame=answer_frames(metric), seed=st.integers(0, 2**32 - 1))
    def prop(frame: SurveyFrame, seed: int) -> None:
        order = np.random.default_rng(seed).permutation(len(frame))
        assert results_close(run(metric, frame), run(metric, frame.take(order)))

    prop()


def test_monotone() -> None:
    check_monotone(CustomerDeliveredValue())
    check_monotone(CustomerDeliveredValue(weights={"time": 3, "image": 0.25}))


def test_monotone_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_monotone(CostMinusValue(), NO_SHRINK)


def test_bounds() -> None:
    check_bounds(CustomerDeliveredValue())
    check_bounds(CustomerDeliveredValue(form="0-100"))


def test_bounds_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_bounds(NoOffset(form="0-100"), NO_SHRINK)


def test_affine_invariance() -> None:
    check_affine_invariance(CustomerDeliveredValue)


def test_affine_invariance_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_affine_invariance(NoOffset, NO_SHRINK)


def test_permutation_invariance() -> None:
    check_permutation(CustomerDeliveredValue())


def test_permutation_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_permutation(EveryOtherRow(), NO_SHRINK)


# -- laws -----------------------------------------------------------------------------------------

VARIANTS = [
    CustomerDeliveredValue(),
    CustomerDeliveredValue(by="wave", form="0-100"),
    CustomerDeliveredValue(by="instrument", weights={"monetary": 2}),
    CustomerDeliveredValue(by="customer_id", min_answered=1.0),
]


@pytest.mark.parametrize("metric", VARIANTS, ids=range(len(VARIANTS)))
def test_laws(metric: CustomerDeliveredValue) -> None:
    check_metric(metric, data=random_frame(metric, 1), max_examples=10)
    check_metric(metric, data=random_frame(metric, 2, n=6, missing=0.5), max_examples=6)


def test_laws_generated() -> None:
    check_metric(CustomerDeliveredValue(by="segment"), max_examples=8)


def test_laws_negative_control() -> None:
    m = EveryOtherRow()
    frame = random_frame(CustomerDeliveredValue(), 3, missing=0.0)
    with pytest.raises(AssertionError, match="law"):
        check_laws(m, frame, [9, 30], list(reversed(range(len(frame)))))


def test_as_of_from_answer_times() -> None:
    m = CustomerDeliveredValue()
    frame = random_frame(m, 5)
    latest = frame.answered_at.max()  # type: ignore[union-attr]
    r = run(m, frame)
    assert r.as_of is not None
    assert np.datetime64(r.as_of.replace(tzinfo=None), "us") == latest + np.timedelta64(1, "us")


# -- compute and bad input ------------------------------------------------------------------------


def test_compute_from_columns() -> None:
    m = CustomerDeliveredValue()
    data: dict[str, Any] = {i: [6, 2, None] for i in m.requires}
    data |= {i: [2, 6, None] for i in COST_ITEMS}
    r = compute(get_metric("customer_delivered_value"), data)
    assert (r.value, r.n, r.n_missing) == (0.0, 2, 1)
    assert r.se == pytest.approx(4.0)  # CDVs 4 and -4


def test_out_of_range_and_non_integer_answers() -> None:
    m = CustomerDeliveredValue()
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), rows_of(m, {}, {}, {"cdv_energy_2": 8}))
    assert (info.value.field, info.value.row, info.value.value) == ("cdv_energy_2", 2, 8)
    data: dict[str, Any] = {i: [4.0, 3.5] if i == "cdv_image_1" else [4, 4] for i in m.requires}
    with pytest.raises(ValidationError) as info:
        compute(m, data)
    assert (info.value.field, info.value.row) == ("cdv_image_1", 1)


def test_respondent_who_answered_nothing() -> None:
    m = CustomerDeliveredValue()
    r = run(m, rows_of(m, dict.fromkeys(m.requires), {}))
    assert (r.value, r.n, r.n_missing, r.details["n_empty"]) == (0.0, 1, 1, 1.0)


def test_items_not_in_the_instrument() -> None:
    with pytest.raises(ValidationError, match="cdv_loyalty_1"):
        CustomerDeliveredValue(items=["cdv_product_1", "cdv_loyalty_1"])
    with pytest.raises(ValidationError, match="psychic"):
        CustomerDeliveredValue(items=[i for i in INSTRUMENT.item_ids if "psychic" not in i])
    with pytest.raises(ValidationError, match="weights"):
        CustomerDeliveredValue(weights={"loyalty": 2})


def test_instrument_without_value_and_cost() -> None:
    odd = attrs.evolve(
        INSTRUMENT,
        name="odd",
        items=[attrs.evolve(i, dimension="benefit") for i in INSTRUMENT.items],
        dimensions=(),
    )
    with pytest.raises(ValidationError, match="'value' or 'cost'"):
        CustomerDeliveredValue(instrument=odd)


# -- the value-cost ratio -------------------------------------------------------------------------


def test_ratio_hand_computed() -> None:
    """V = 150, 90, 60; C = 100, 100, 50. R = 300/250 = 1.2; residuals V - 1.2 C = 30, -30, 0;
    Var = 1800/2/3/83.333^2, se = 17.3205/83.333 = 0.207846; CI 1.2 -/+ 1.96 * se."""
    r = value_cost_ratio(np.array([150.0, 90, 60]), np.array([100.0, 100, 50]), currency="EUR")
    assert r.value == pytest.approx(1.2)
    assert r.se == pytest.approx(math.sqrt(300) / (250 / 3))
    assert r.ci_low == pytest.approx(1.2 - Z * 0.2078461, abs=1e-6)
    assert r.ci_high == pytest.approx(1.2 + Z * 0.2078461, abs=1e-6)
    assert r.details == pytest.approx(
        {
            "mean_value": 100.0,
            "mean_cost": 250 / 3,
            "mean_difference": 50 / 3,
            "mean_of_ratios": 1.2,
        }
    )
    assert (r.n, r.n_missing, r.unit, r.params["currency"]) == (3, 0, "ratio", "EUR")
    assert r.flags == ("small sample: n = 3 < 30",)


def test_ratio_missing_pairs_and_one_customer() -> None:
    r = value_cost_ratio(
        np.array([np.nan, 30.0, 5.0]), np.array([10.0, 20.0, np.nan]), currency="$"
    )
    assert (r.value, r.n, r.n_missing, r.se) == (1.5, 1, 2, None)
    assert r.flags[0] == "no interval: fewer than 2 customers"
    with pytest.raises(InsufficientDataError):
        value_cost_ratio(np.array([np.nan]), np.array([1.0]), currency="EUR")


def check_currency_invariance(
    ratio: Callable[..., MetricResult], phases: Any = tuple(Phase)
) -> None:
    """Converting both amounts to another currency leaves the ratio and its interval unchanged."""
    amounts = hnp.arrays(np.float64, st.integers(2, 20), elements=st.floats(1.0, 1000.0))

    @settings(max_examples=40, deadline=None, phases=phases)
    @given(amounts, st.data(), st.floats(0.01, 100.0))
    def prop(value: Any, data: st.DataObject, rate: float) -> None:
        cost = data.draw(hnp.arrays(np.float64, len(value), elements=st.floats(1.0, 1000.0)))
        a = ratio(value, cost, currency="EUR")
        b = ratio(value * rate, cost * rate, currency="USD")
        assert math.isclose(a.value, b.value, rel_tol=1e-9)
        assert math.isclose(a.se, b.se, rel_tol=1e-6, abs_tol=1e-12)  # type: ignore[arg-type]

    prop()


def broken_difference_ratio(value: Any, cost: Any, *, currency: str) -> MetricResult:
    """Broken: reports the mean difference V - C as if it were the ratio."""
    r = value_cost_ratio(value, cost, currency=currency)
    return attrs.evolve(r, value=r.details["mean_difference"])


def test_ratio_currency_invariance() -> None:
    check_currency_invariance(value_cost_ratio)


def test_ratio_currency_invariance_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_currency_invariance(broken_difference_ratio, NO_SHRINK)


@pytest.mark.parametrize(
    ("value", "cost", "field", "match"),
    [
        (np.array([6, 5], np.int8), np.array([3, 5], np.int8), "value", "not ratio-scale"),
        (np.array([6.0, 5.0]), np.array([3, 5]), "cost", "float array"),
        (np.array([True, False]), np.array([1.0, 2.0]), "value", "float array"),
        (np.array(["1", "2"]), np.array([1.0, 2.0]), "value", "float array"),
        (np.ones((2, 2)), np.ones((2, 2)), "value", "one-dimensional"),
        (np.array([1.0, 2.0]), np.array([1.0]), "cost", "as many amounts"),
        (np.array([1.0, -2.0]), np.array([1.0, 1.0]), "value", ">= 0"),
        (np.array([1.0, 2.0]), np.array([1.0, 0.0]), "cost", "> 0"),
        (np.array([1.0, np.inf]), np.array([1.0, 1.0]), "value", "finite"),
    ],
)
def test_ratio_bad_input(value: Any, cost: Any, field: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match) as info:
        value_cost_ratio(value, cost, currency="EUR")
    assert info.value.field == field


def test_ratio_on_survey_answers_is_refused() -> None:
    """The int8 Likert columns of a survey frame are not money."""
    m = CustomerDeliveredValue()
    frame = rows_of(m, {}, {})
    with pytest.raises(ValidationError, match="customer_delivered_value"):
        value_cost_ratio(
            frame.answers["cdv_product_1"], frame.answers["cdv_monetary_1"], currency="EUR"
        )


def test_ratio_bad_row_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        value_cost_ratio(np.array([1.0, 2, 3, 4]), np.array([1.0, 0, 1, -1]), currency="EUR")
    assert (info.value.row, info.value.value, info.value.n_failing) == (1, 0.0, 2)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"currency": ""}, ValidationError),
        ({"currency": None}, ValidationError),
        ({"currency": "EUR", "alpha": 1.0}, ValueError),
        ({"currency": "EUR", "min_n": 0}, ValueError),
        ({}, TypeError),
    ],
)
def test_ratio_bad_parameters(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        value_cost_ratio(np.array([1.0]), np.array([1.0]), **kwargs)
