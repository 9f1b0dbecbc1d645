"""SERVQUAL and SERVPERF: the instrument file, hand-computed values, properties, bad input.

Each property is a ``check_*`` function taking a scoring function; it runs on the real metric
(must pass) and on a deliberately broken variant (must fail), so no property here is a test
that cannot fail. No licensable raw SERVQUAL data exists, so the data are small hand-made
frames and seeded synthetic answers generated here (:func:`synthetic`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stickykit
import stickykit.plugins.registry
from stickykit import compute, get_metric, hookimpl
from stickykit.errors import (
    InsufficientDataError,
    StateMismatchError,
    UnknownInstrumentError,
    ValidationError,
)
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.servqual import (
    Layout,
    Servperf,
    Servqual,
    instrument_layout,
    reverse_key,
    t_interval,
)
from stickykit.plugins import create_registry
from stickykit.testing import check_laws, check_metric, split_points

E_IDS = [f"E{j}" for j in range(1, 23)]
P_IDS = [f"P{j}" for j in range(1, 23)]
DIMENSIONS = ("tangibles", "reliability", "responsiveness", "assurance", "empathy")
I_IDS = [f"I_{d}" for d in DIMENSIONS]
#: 1988 negatively worded items: responsiveness 10-13 and empathy 18-22.
REVERSED = {10, 11, 12, 13, 18, 19, 20, 21, 22}
DIMENSION_OF = {
    j: d
    for d, items in zip(
        DIMENSIONS,
        (range(1, 5), range(5, 10), range(10, 14), range(14, 18), range(18, 23)),
        strict=True,
    )
    for j in items
}
SIZES = (4, 5, 4, 4, 5)


# -- data ----------------------------------------------------------------------------------------


def frame_of(
    e: np.ndarray | None,
    p: np.ndarray,
    points: np.ndarray | None = None,
    *,
    missing: dict[str, np.ndarray] | None = None,
    **labels: Any,
) -> SurveyFrame:
    """A frame from raw (unkeyed) answer blocks: e, p of shape (n, 22), points (n, 5)."""
    answers: dict[str, np.ndarray] = {}
    if e is not None:
        answers.update({item: e[:, j].astype(np.int8) for j, item in enumerate(E_IDS)})
    answers.update({item: p[:, j].astype(np.int8) for j, item in enumerate(P_IDS)})
    if points is not None:
        answers.update({item: points[:, d].astype(np.int8) for d, item in enumerate(I_IDS)})
    return SurveyFrame(answers=answers, answer_missing=missing or {}, **labels)


def by_dimension(values: dict[str, int], n: int = 1) -> np.ndarray:
    """A (n, 22) block holding one raw answer per dimension."""
    row = [values[DIMENSION_OF[j]] for j in range(1, 23)]
    return np.tile(np.array(row, dtype=np.int8), (n, 1))


def synthetic(
    seed: int, n: int, *, missing: float = 0.0, points: bool = True, labels: bool = True
) -> SurveyFrame:
    """Seeded synthetic SERVQUAL answers (a documented toy, not a model of real data).

    Each respondent has a latent level ``z ~ N(0, 1)``; keyed expectations are
    ``round(5.5 + 0.8 z + N(0, 0.8))`` and keyed perceptions ``round(5 + z + N(0, 1))``, clipped
    to 1-7; negatively worded items are then written as ``8 - keyed`` (as respondents answer
    them). Importance points are a multinomial draw of 100 over the five dimensions, so they
    total 100. Each answer is missing with probability ``missing``.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 1))
    e = np.clip(np.rint(5.5 + 0.8 * z + rng.normal(0, 0.8, (n, 22))), 1, 7)
    p = np.clip(np.rint(5.0 + z + rng.normal(0, 1.0, (n, 22))), 1, 7)
    rev = np.array([j in REVERSED for j in range(1, 23)])
    e[:, rev], p[:, rev] = 8 - e[:, rev], 8 - p[:, rev]
    pts = rng.multinomial(100, [0.2] * 5, size=n) if points else None
    masks: dict[str, np.ndarray] = {}
    if missing:
        for item in E_IDS + P_IDS:
            mask = rng.random(n) < missing
            if mask.any():
                masks[item] = mask
    extra: dict[str, Any] = {}
    if labels:
        extra = {
            "wave": rng.integers(0, 3, n),
            "segment": np.array(["a", "b"])[rng.integers(0, 2, n)],
            "customer_id": rng.integers(0, max(1, n // 2), n),
        }
    return frame_of(e, p, pts, missing=masks, **extra)


def run(metric: Any, frame: SurveyFrame) -> MetricResult:
    result: MetricResult = metric.finalize(metric.update(metric.init(), frame))
    return result


@contextlib.contextmanager
def registered(*instruments: Instrument) -> Iterator[None]:
    """Make ``stickykit.get_instrument`` see extra instruments (a fresh default registry)."""

    class Plugin:
        @hookimpl
        def register_instruments(self, register: Any) -> None:
            for instrument in instruments:
                register(instrument)

    registry = create_registry(plugins=[Plugin()])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stickykit.plugins.registry, "default_registry", lambda: registry)
        yield


def variant(name: str, **changes: Any) -> Instrument:
    """The shipped instrument under another name, with ``changes(item) -> item`` applied."""
    base = stickykit.get_instrument("servqual-1988")
    items = tuple(changes["item"](i) for i in base.items) if "item" in changes else base.items
    fields = {k: v for k, v in changes.items() if k != "item"}
    return attrs.evolve(base, name=name, items=items, **fields)


# -- the instrument file ---------------------------------------------------------------------------


def test_instrument_file() -> None:
    """22 items x (E, P) on 1-7, five dimensions, 1988 negative items reversed, 5 importance items."""
    inst = stickykit.get_instrument("servqual-1988")
    assert inst.dimensions == DIMENSIONS
    assert inst.version == "1988.1"
    assert "64(1), 12-40" in inst.reference
    assert "paraphrase" in inst.notes and "copyright" in inst.notes
    assert [i.id for i in inst.select(battery="expectation")] == E_IDS
    assert [i.id for i in inst.select(battery="perception")] == P_IDS
    assert [i.id for i in inst.select(battery="importance")] == I_IDS
    for j in range(1, 23):
        for battery in "EP":
            item = inst.item(f"{battery}{j}")
            assert item.dimension == DIMENSION_OF[j]
            assert item.scale == (1, 7)
            assert item.reverse == (j in REVERSED), item.id
    for d, item_id in zip(DIMENSIONS, I_IDS, strict=True):
        assert inst.item(item_id).scale == (0, 100)
        assert inst.item(item_id).dimension == d
    layout = instrument_layout(inst)
    assert layout.sizes == SIZES
    assert layout.min_items == (2, 3, 2, 2, 3)


# -- hand-computed values --------------------------------------------------------------------------

# Three respondents. Raw answers per dimension (tangibles, reliability, responsiveness,
# assurance, empathy); responsiveness and empathy items are negatively worded, keyed 8 - x.
#   r1: E = (7, 7, 1, 7, 1) -> keyed (7, 7, 7, 7, 7); P = (5, 4, 3, 6, 2) -> keyed (5, 4, 5, 6, 6)
#       gaps (-2, -3, -2, -1, -1); SQ = -9/5 = -1.8
#   r2: E = (6, 6, 2, 6, 2) -> keyed 6 everywhere; P the same -> gaps 0; SQ = 0
#   r3: E = (5, 5, 3, 5, 3) -> keyed 5; P = (7, 4, 1, 6, 4) -> keyed (7, 4, 7, 6, 4);
#       P5 and P6 missing (3 of 5 reliability pairs left: enough), P15-P17 missing (1 of 4
#       assurance pairs left: too few) -> gaps (2, -1, 2, missing, -1); no overall score.
E3 = np.vstack(
    [
        by_dimension(dict(zip(DIMENSIONS, row, strict=True)))
        for row in [(7, 7, 1, 7, 1), (6, 6, 2, 6, 2), (5, 5, 3, 5, 3)]
    ]
)
P3 = np.vstack(
    [
        by_dimension(dict(zip(DIMENSIONS, row, strict=True)))
        for row in [(5, 4, 3, 6, 2), (6, 6, 2, 6, 2), (7, 4, 1, 6, 4)]
    ]
)
MISSING3 = {f"P{j}": np.array([False, False, True]) for j in (5, 6, 15, 16, 17)}


def test_hand_computed_gaps() -> None:
    """Overall: (-1.8 + 0) / 2 = -0.9 (r3 lacks assurance). SE: scores -1.8, 0 have
    s = sqrt(2 * 0.9^2 / 1) = 1.27279, SE = s / sqrt(2) = 0.9; t(0.975, 1) = 12.7062, so the
    interval is -0.9 +- 11.4356. Dimensions over r1, r2, r3: tangibles (-2 + 0 + 2)/3 = 0,
    reliability (-3 + 0 - 1)/3 = -4/3, responsiveness (-2 + 0 + 2)/3 = 0, assurance
    (-1 + 0)/2 = -0.5 (1 missing), empathy (-1 + 0 - 1)/3 = -2/3. Tangibles perception
    (5 + 6 + 7)/3 = 6, expectation (7 + 6 + 5)/3 = 6."""
    r = run(Servqual(), frame_of(E3, P3, missing=MISSING3))
    assert (r.n, r.n_missing) == (2, 1)
    assert r.value == pytest.approx(-0.9)
    assert r.se == pytest.approx(0.9)
    assert r.ci_low == pytest.approx(-0.9 - 12.7062 * 0.9, abs=1e-3)
    assert r.ci_high == pytest.approx(-0.9 + 12.7062 * 0.9, abs=1e-3)
    d = r.details
    assert [d[dim] for dim in DIMENSIONS] == pytest.approx([0, -4 / 3, 0, -0.5, -2 / 3])
    assert [d[f"{dim}_n"] for dim in DIMENSIONS] == [3, 3, 3, 2, 3]
    assert d["assurance_n_missing"] == 1
    assert (d["tangibles_perception"], d["tangibles_expectation"]) == pytest.approx((6, 6))
    assert d["empathy_perception"] - d["empathy_expectation"] == pytest.approx(d["empathy"])
    assert r.unit == "scale points" and "small sample: n = 2 < 30" in r.flags
    assert r.params["instrument"] == "servqual-1988"
    assert r.params["instrument_version"] == "1988.1"


def test_hand_computed_weighted() -> None:
    """r1 gives points (10, 40, 20, 20, 10): SQw = 0.1(-2) + 0.4(-3) + 0.2(-2) + 0.2(-1) +
    0.1(-1) = -2.1; r2 (points 20 each) has gaps 0, so SQw = 0; mean -1.05 (unweighted -0.9).
    Weighting by the raw points instead would give -210 and a mean of -105."""
    points = np.array([[10, 40, 20, 20, 10], [20, 20, 20, 20, 20], [0, 0, 0, 0, 100]])
    r = run(Servqual(weighted=True), frame_of(E3, P3, points, missing=MISSING3))
    assert r.value == pytest.approx(-1.05)
    assert r.details["unweighted"] == pytest.approx(-0.9)
    assert r.details["reliability_weight"] == pytest.approx((0.4 + 0.2) / 2)
    assert (r.n, r.n_missing) == (2, 1)


def test_hand_computed_servperf() -> None:
    """SERVPERF reads only P. Keyed P: r1 (5, 4, 5, 6, 6) -> SP = (4*5 + 5*4 + 4*5 + 4*6 +
    5*6)/22 = 114/22; r2 6 everywhere -> 6; r3 lacks assurance. Mean (114/22 + 6)/2 =
    5.590909. Weighted with points (10, 40, 20, 20, 10): r1 0.5 + 1.6 + 1.0 + 1.2 + 0.6 = 4.9,
    r2 6, mean 5.45."""
    r = run(Servperf(), frame_of(None, P3, missing=MISSING3))
    assert r.value == pytest.approx((114 / 22 + 6) / 2)
    assert r.details["tangibles"] == pytest.approx((5 + 6 + 7) / 3)
    assert r.details["assurance_n"] == 2
    points = np.array([[10, 40, 20, 20, 10], [20, 20, 20, 20, 20], [20, 20, 20, 20, 20]])
    w = run(Servperf(weighted=True), frame_of(None, P3, points, missing=MISSING3))
    assert w.value == pytest.approx((4.9 + 6) / 2)
    assert w.details["unweighted"] == pytest.approx(r.value)


def test_servperf_item_mean_when_complete() -> None:
    """With every item answered SP_r is the plain mean of the 22 keyed perception items."""
    frame = synthetic(3, 40, labels=False)
    p = np.column_stack([frame.answers[i] for i in P_IDS]).astype(float)
    rev = [j - 1 for j in REVERSED]
    p[:, rev] = 8 - p[:, rev]
    assert run(Servperf(), frame).value == pytest.approx(p.mean())


def test_t_interval_by_hand() -> None:
    """Scores 1, 2, 3: mean 2, s = 1, SE = 0.57735, t(0.975, 2) = 4.302653."""
    mean, se, low, high = t_interval(3, 6.0, 14.0, 0.05)
    assert (mean, se) == pytest.approx((2, 1 / math.sqrt(3)))
    assert (low, high) == pytest.approx((2 - 4.302653 / math.sqrt(3), 2 + 4.302653 / math.sqrt(3)))
    assert math.isnan(t_interval(1, 2.0, 4.0, 0.05)[1])
    assert all(math.isnan(x) for x in t_interval(0, 0.0, 0.0, 0.05))


# -- reverse keying --------------------------------------------------------------------------------


@pytest.mark.parametrize("j", range(1, 23))
def test_reverse_keying_per_item(j: int) -> None:
    """From all answers at 4, one point more on P_j moves its dimension's gap (and SERVPERF) up
    for a positively worded item and down for a negatively worded one; one more on E_j the
    opposite way."""
    base_e, base_p = np.full((1, 22), 4), np.full((1, 22), 4)
    dim = DIMENSION_OF[j]
    sign = -1 if j in REVERSED else 1
    size = SIZES[DIMENSIONS.index(dim)]
    p_up = base_p.copy()
    p_up[0, j - 1] = 5
    e_up = base_e.copy()
    e_up[0, j - 1] = 5
    assert run(Servqual(), frame_of(base_e, p_up)).details[dim] == pytest.approx(sign / size)
    assert run(Servqual(), frame_of(e_up, base_p)).details[dim] == pytest.approx(-sign / size)
    assert run(Servperf(), frame_of(None, p_up)).details[dim] == pytest.approx(4 + sign / size)


def check_reverse(fn: Callable[[np.ndarray, int, int], np.ndarray]) -> None:
    """Reverse keying maps [lo, hi] onto itself, swaps the ends and is its own inverse."""

    @settings(report_multiple_bugs=False)
    @given(st.integers(-20, 10), st.integers(1, 20), st.data())
    def prop(lo: int, width: int, data: st.DataObject) -> None:
        hi = lo + width
        x = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1)), dtype=np.int8)
        once = fn(x, lo, hi)
        assert np.array_equal(fn(once.astype(np.int8), lo, hi), x)
        assert once.min() >= lo and once.max() <= hi
        assert fn(np.array([lo], np.int8), lo, hi)[0] == hi

    prop()


def test_reverse_key_twice_is_identity() -> None:
    check_reverse(reverse_key)


def test_reverse_key_negative_control() -> None:
    """The hard-coded 8 - x of the 1-7 scale is an involution but leaves other scales."""
    with pytest.raises(AssertionError):
        check_reverse(lambda x, lo, hi: 8 - x.astype(np.int16))


# -- broken variants (negative controls) -----------------------------------------------------------


@attrs.frozen
class RawPointsServqual(Servqual):
    """Broken: weights by the raw points instead of points / 100 (the bug seen in the wild)."""

    def _overall_unit(self, layout: Layout, weighted: bool) -> float:
        return float(layout.unit) if weighted else super()._overall_unit(layout, weighted)


@attrs.frozen
class SumServperf(Servperf):
    """Broken: sums the dimension means weighted by item count instead of averaging."""

    def _overall_unit(self, layout: Layout, weighted: bool) -> float:
        return float(layout.unit) if not weighted else super()._overall_unit(layout, weighted)


@attrs.frozen
class UnkeyedServqual(Servqual):
    """Broken: ignores reverse keying."""

    @property
    def layout(self) -> Layout:
        base = super().layout
        return attrs.evolve(base, reverse=tuple(tuple(False for _ in r) for r in base.reverse))


@attrs.frozen
class EightMinusServqual(Servqual):
    """Broken: reverse-keys with the 1-7 constant, 8 - x, whatever the instrument's scale."""

    @property
    def layout(self) -> Layout:
        return attrs.evolve(super().layout, scale=(1, 7))


@attrs.frozen
class EightMinusServperf(Servperf):
    """Broken: reverse-keys with 8 - x whatever the scale."""

    @property
    def layout(self) -> Layout:
        return attrs.evolve(super().layout, scale=(1, 7))


@attrs.frozen
class FirstHalfServqual(Servqual):
    """Broken: reads only the first half of each batch (depends on row order)."""

    def update(self, state: Any, frame: SurveyFrame) -> Any:
        return super().update(state, frame.slice(0, (len(frame) + 1) // 2))


@attrs.frozen
class MaxMergeServqual(Servqual):
    """Broken: merges respondent counts with max instead of sum."""

    def merge(self, a: Any, b: Any) -> Any:
        merged = super().merge(a, b)
        if a.n.shape == b.n.shape:
            return attrs.evolve(merged, n=np.maximum(a.n, b.n))
        return merged


seeds = st.integers(0, 2**32 - 1)


# -- bounds ----------------------------------------------------------------------------------------


def check_bounds(metric: Any, lo: float, hi: float) -> None:
    """Value and dimension scores lie in [lo, hi] (gaps in [-6, 6]; SERVPERF in [1, 7])."""

    @settings(report_multiple_bugs=False)
    @given(seeds, st.integers(1, 30), st.sampled_from([0.0, 0.3]))
    def prop(seed: int, n: int, missing: float) -> None:
        frame = synthetic(seed, n, missing=missing, labels=False)
        try:
            r = run(metric, frame)
        except InsufficientDataError:
            return
        assert lo <= r.value <= hi
        for dim in DIMENSIONS:
            if dim in r.details:
                assert lo <= r.details[dim] <= hi

    prop()


def test_bounds_hold() -> None:
    check_bounds(Servqual(), -6, 6)
    check_bounds(Servqual(weighted=True), -6, 6)
    check_bounds(Servperf(), 1, 7)
    check_bounds(Servperf(weighted=True), 1, 7)


def test_bounds_extremes() -> None:
    """The bounds are reached: E keyed 7 and P keyed 1 give -6; the reverse +6."""
    low_p = by_dimension(dict.fromkeys(DIMENSIONS, 1))
    high_p = by_dimension(dict.fromkeys(DIMENSIONS, 7))
    for j in REVERSED:  # raw answers on negative items are mirrored
        low_p[0, j - 1], high_p[0, j - 1] = 7, 1
    assert run(Servqual(), frame_of(high_p, low_p)).value == -6
    assert run(Servqual(), frame_of(low_p, high_p)).value == 6
    assert run(Servperf(), frame_of(None, low_p)).value == 1


def test_bounds_negative_controls() -> None:
    """Weighting by raw points (not points / 100) leaves [-6, 6]; so does a sum for SERVPERF."""
    with pytest.raises(AssertionError):
        check_bounds(RawPointsServqual(weighted=True), -6, 6)
    with pytest.raises(AssertionError):
        check_bounds(SumServperf(), 1, 7)


# -- monotonicity ----------------------------------------------------------------------------------


def check_monotone(metric: Any, *, gaps: bool) -> None:
    """One point more on P_j never lowers the score (E_j: never raises); the other way round
    for reverse-keyed items. Checked on the overall value and on the item's dimension."""

    @settings(report_multiple_bugs=False)
    @given(seeds, st.integers(1, 12), st.integers(1, 22), st.booleans(), st.data())
    def prop(seed: int, n: int, j: int, perception: bool, data: st.DataObject) -> None:
        frame = synthetic(seed, n, missing=0.1, labels=False)
        item = f"{'P' if perception or not gaps else 'E'}{j}"
        row = data.draw(st.integers(0, n - 1))
        values = frame.answers[item].copy()
        if values[row] == 7:
            return
        values[row] += 1
        moved = attrs.evolve(frame, answers={**frame.answers, item: values})
        direction = (1 if item[0] == "P" else -1) * (-1 if j in REVERSED else 1)
        dim = DIMENSION_OF[j]
        try:
            before, after = run(metric, frame), run(metric, moved)
        except InsufficientDataError:
            return
        assert direction * (after.value - before.value) >= -1e-12
        if dim in before.details:
            assert direction * (after.details[dim] - before.details[dim]) >= -1e-12

    prop()


def test_monotone_holds() -> None:
    check_monotone(Servqual(), gaps=True)
    check_monotone(Servqual(weighted=True), gaps=True)
    check_monotone(Servperf(), gaps=False)
    check_monotone(Servperf(weighted=True), gaps=False)


def test_monotone_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_monotone(UnkeyedServqual(), gaps=True)


# -- permutation invariance ------------------------------------------------------------------------


def check_row_permutation(metric: Any) -> None:
    """Reordering respondents changes nothing."""

    @settings(report_multiple_bugs=False)
    @given(seeds, st.integers(2, 30), seeds)
    def prop(seed: int, n: int, order_seed: int) -> None:
        frame = synthetic(seed, n, missing=0.2)
        order = np.random.default_rng(order_seed).permutation(n)
        try:
            a = run(metric, frame)
        except InsufficientDataError:
            return
        try:
            b = run(metric, frame.take(order))
        except InsufficientDataError as exc:
            raise AssertionError(str(exc)) from exc
        assert b.value == pytest.approx(a.value, abs=1e-12)
        assert (a.n, a.n_missing) == (b.n, b.n_missing)
        assert b.details == pytest.approx(a.details, abs=1e-12, nan_ok=True)

    prop()


def test_row_permutation_holds() -> None:
    check_row_permutation(Servqual(weighted=True))
    check_row_permutation(Servperf())


def test_row_permutation_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_row_permutation(FirstHalfServqual())


def test_pair_permutation_within_dimension() -> None:
    """Swapping two (E, P) pairs of one dimension between item slots changes nothing."""
    frame = synthetic(11, 25, missing=0.1)
    swapped = dict(frame.answers)
    masks = dict(frame.answer_missing)
    for a, b in (("E1", "E3"), ("P1", "P3"), ("E14", "E17"), ("P14", "P17")):
        swapped[a], swapped[b] = frame.answers[b], frame.answers[a]
        masks.pop(a, None), masks.pop(b, None)
        if b in frame.answer_missing:
            masks[a] = frame.answer_missing[b]
        if a in frame.answer_missing:
            masks[b] = frame.answer_missing[a]
    other = attrs.evolve(frame, answers=swapped, answer_missing=masks)
    a, b = run(Servqual(), frame), run(Servqual(), other)
    assert b.value == pytest.approx(a.value) and b.details == pytest.approx(a.details)


# -- positive affine rescaling ---------------------------------------------------------------------

RESCALED = "servqual-rescaled"


def rescaled_instrument() -> Instrument:
    """The 1988 items on the scale 0-12 (x -> 2x - 2), importance unchanged."""
    return variant(
        RESCALED,
        item=lambda i: i if i.battery == "importance" else attrs.evolve(i, scale=(0, 12)),
    )


def check_affine(make: Callable[[], Any], a: float, b: float) -> None:
    """Answers x -> 2x - 2 on the rescaled instrument: the value, its interval and every
    dimension score map to a * v + b (gaps: a = 2, b = 0; SERVPERF: a = 2, b = -2), the
    standard error to 2 * se, and the perception and expectation means to 2v - 2 (no
    standardised score is reported, so equivariance is the property to check)."""

    @settings(report_multiple_bugs=False)
    @given(seeds, st.integers(2, 20))
    def prop(seed: int, n: int) -> None:
        frame = synthetic(seed, n, missing=0.1, labels=False)
        moved = attrs.evolve(
            frame,
            answers={
                k: v if k.startswith("I_") else (2 * v - 2).astype(np.int8)
                for k, v in frame.answers.items()
            },
        )
        try:
            original = run(make(), frame)
        except InsufficientDataError:
            return
        new = run(attrs.evolve(make(), instrument=RESCALED), moved)
        assert new.value == pytest.approx(a * original.value + b, abs=1e-9)
        if original.se is not None:
            assert new.se == pytest.approx(2 * original.se, abs=1e-9)
            assert new.ci_low == pytest.approx(a * original.ci_low + b, abs=1e-9)  # type: ignore[operator]
            assert new.ci_high == pytest.approx(a * original.ci_high + b, abs=1e-9)  # type: ignore[operator]
        for dim in DIMENSIONS:
            if dim in original.details:
                assert new.details[dim] == pytest.approx(a * original.details[dim] + b, abs=1e-9)
            for part in ("perception", "expectation"):
                key = f"{dim}_{part}"
                if key in original.details:
                    assert new.details[key] == pytest.approx(2 * original.details[key] - 2)

    prop()


def test_affine_rescale_equivariance() -> None:
    with registered(rescaled_instrument()):
        check_affine(Servqual, 2, 0)
        check_affine(lambda: Servqual(weighted=True), 2, 0)
        check_affine(Servperf, 2, -2)


def test_affine_rescale_negative_control() -> None:
    """Reverse keying with the 1-7 constant (8 - x) breaks on any other scale."""
    with registered(rescaled_instrument()):
        with pytest.raises(AssertionError):
            check_affine(EightMinusServqual, 2, 0)
        with pytest.raises(AssertionError):
            check_affine(EightMinusServperf, 2, -2)


# -- importance points -----------------------------------------------------------------------------


def test_points_must_total_100() -> None:
    """A total other than 100 names the respondent row and the total."""
    points = np.array([[20, 20, 20, 20, 20], [10, 40, 20, 20, 5], [0, 0, 0, 0, 0]])
    frame = frame_of(E3, P3, points, first_row=40)
    m = Servqual(weighted=True)
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    err = info.value
    assert (err.field, err.row, err.value, err.n_failing) == ("importance", 41, 95, 2)
    assert "totalling 100" in str(err)
    assert [(v.field, v.rows.tolist(), v.values.tolist()) for v in m.check(frame)] == [
        ("importance", [41, 42], [95, 0])
    ]
    data = {k: v.astype(int).tolist() for k, v in frame.answers.items()}
    r = compute(m, data, errors="quarantine")
    assert (r.n, r.details["n_rejected"]) == (1, 2)


def test_points_partly_answered_is_an_error() -> None:
    points = np.array([[20, 20, 20, 20, 20], [50, 50, 0, 0, 0]])
    missing = {"I_assurance": np.array([False, True])}
    m = Servqual(weighted=True)
    with pytest.raises(ValidationError, match="answered, or none") as info:
        m.update(m.init(), frame_of(E3[:2], P3[:2], points, missing=missing))
    assert info.value.row == 1


def test_points_normalised_on_request() -> None:
    """Points (1, 4, 2, 2, 1) total 10: rescaled they are (10, 40, 20, 20, 10), flagged."""
    points = np.array([[1, 4, 2, 2, 1], [20, 20, 20, 20, 20], [0, 0, 0, 0, 100]])
    frame = frame_of(E3, P3, points, missing=MISSING3)
    r = run(Servqual(weighted=True, normalise_points=True), frame)
    assert r.value == pytest.approx(-1.05)
    assert r.details["n_points_normalised"] == 1
    assert "importance points rescaled to total 100 for 1 respondents" in r.flags
    zero = frame_of(E3[:1], P3[:1], np.zeros((1, 5), int))
    m = Servqual(weighted=True, normalise_points=True)
    with pytest.raises(ValidationError, match="positive total"):
        m.update(m.init(), zero)


def test_no_points_is_missing_not_zero() -> None:
    """A respondent who gave no points has no weighted score: counted, flagged."""
    points = np.array([[10, 40, 20, 20, 10], [0, 0, 0, 0, 0]])
    missing = {item: np.array([False, True]) for item in I_IDS}
    r = run(Servqual(weighted=True), frame_of(E3[:2], P3[:2], points, missing=missing))
    assert (r.value, r.n, r.n_missing) == (pytest.approx(-2.1), 1, 1)
    assert r.details["n_no_points"] == 1
    assert "1 respondents gave no importance points" in r.flags


def test_weights_over_100_not_raw_points() -> None:
    """Equal points (20 each) give exactly the unweighted score (weights 0.2 = 1/5)."""
    frame = synthetic(5, 30, labels=False)
    even = attrs.evolve(
        frame, answers={**frame.answers, **{i: np.full(30, 20, np.int8) for i in I_IDS}}
    )
    assert run(Servqual(weighted=True), even).value == pytest.approx(run(Servqual(), even).value)
    assert run(RawPointsServqual(weighted=True), even).value == pytest.approx(
        100 * run(Servqual(), even).value
    )


# -- missing answers -------------------------------------------------------------------------------


def test_half_the_items_rule() -> None:
    """Tangibles (4 items) needs 2 answered pairs, reliability (5 items) 3; a pair needs both
    E and P."""
    e, p = np.full((4, 22), 5), np.full((4, 22), 6)
    rows = np.arange(4)
    missing = {
        "P1": rows >= 0,  # every row loses pair 1
        "E2": rows >= 1,  # rows 1-3 lose pair 2 (E missing, P present)
        "P3": rows >= 2,  # rows 2-3 lose pair 3
        "E5": rows >= 3,
        "P6": rows >= 3,
        "E7": rows >= 3,  # row 3 keeps 2 of 5 reliability pairs
    }
    r = run(Servqual(), frame_of(e, p, missing=missing))
    assert r.details["tangibles_n"] == 2  # rows 0 (3 pairs) and 1 (2 pairs)
    assert r.details["tangibles_n_missing"] == 2
    assert r.details["reliability_n"] == 3
    assert (r.n, r.n_missing) == (2, 2)  # rows 0 and 1 have every dimension
    assert r.details["tangibles"] == 1


def test_respondent_who_answered_nothing() -> None:
    """Counted in n_missing and flagged, never scored 0."""
    e, p = np.vstack([E3[:2], np.zeros((1, 22))]), np.vstack([P3[:2], np.zeros((1, 22))])
    missing = {item: np.array([False, False, True]) for item in E_IDS + P_IDS}
    r = run(Servqual(), frame_of(e, p, missing=missing))
    assert (r.value, r.n, r.n_missing) == (pytest.approx(-0.9), 2, 1)
    assert r.details["n_no_answers"] == 1
    assert "1 respondents answered no item" in r.flags
    for dim in DIMENSIONS:
        assert r.details[f"{dim}_n_missing"] == 1


def test_no_complete_respondent_is_an_error() -> None:
    """Respondent r3 alone lacks assurance: no overall score, an error rather than a number."""
    m = Servqual()
    lone = frame_of(E3[2:], P3[2:], missing={k: v[2:] for k, v in MISSING3.items()})
    with pytest.raises(InsufficientDataError, match="every dimension"):
        m.finalize(m.update(m.init(), lone))
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())


def test_instrument_missing_codes_are_unanswered() -> None:
    """An instrument may declare codes meaning "not answered" (here 0 on the 1-7 items)."""
    coded = variant(
        "servqual-coded",
        item=lambda i: i if i.battery == "importance" else attrs.evolve(i, missing_codes=(0,)),
    )
    with registered(coded):
        p = P3[:2].copy()
        p[1, :] = 0  # respondent 2 answered no perception item
        r = run(Servqual(instrument="servqual-coded"), frame_of(E3[:2], p))
        assert (r.value, r.n, r.n_missing) == (pytest.approx(-1.8), 1, 1)
        with pytest.raises(ValidationError):
            run(Servqual(), frame_of(E3[:2], p))


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("item", "bad"), [("P3", 8), ("E20", 0), ("P22", -1)])
def test_out_of_range_answers(item: str, bad: int) -> None:
    frame = synthetic(1, 5, labels=False)
    values = frame.answers[item].copy()
    values[3] = bad
    frame = attrs.evolve(frame, answers={**frame.answers, item: values})
    m = Servqual()
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    assert (info.value.field, info.value.row, info.value.value) == (item, 3, bad)
    assert [(v.field, v.rows.tolist()) for v in m.check(frame)] == [(item, [3])]


def test_out_of_range_quarantined_through_compute() -> None:
    frame = synthetic(2, 6, labels=False)
    data: dict[str, Any] = {k: v.astype(int).tolist() for k, v in frame.answers.items()}
    data["P7"][2] = 9
    with pytest.raises(ValidationError, match="P7 @ row 2"):
        compute("servqual", data)
    r = compute("servqual", data, errors="quarantine")
    assert r.details["n_rejected"] == 1 and r.n + r.n_missing == 5


def test_frame_lacking_items_names_them() -> None:
    frame = synthetic(1, 3, labels=False)
    answers = {k: v for k, v in frame.answers.items() if k not in ("E4", "P21")}
    m = Servqual()
    with pytest.raises(ValidationError, match="servqual-1988") as info:
        m.update(m.init(), SurveyFrame(answers=answers))
    assert info.value.value == ["P21", "E4"]
    only_p = {k: v for k, v in frame.answers.items() if k.startswith("P")}
    run(Servperf(), SurveyFrame(answers=only_p))  # SERVPERF needs no expectations
    with pytest.raises(ValidationError, match="I_tangibles"):
        run(Servperf(weighted=True), SurveyFrame(answers=only_p))


def test_bad_parameters_and_instruments() -> None:
    with pytest.raises(UnknownInstrumentError, match="servqual-1988"):
        Servqual(instrument="servqual-1989")
    with pytest.raises(ValueError, match="weighted=True"):
        Servqual(normalise_points=True)
    with pytest.raises(ValueError, match="alpha"):
        Servperf(alpha=0)
    with pytest.raises(ValueError, match="by"):
        Servqual(by="colour")
    base = stickykit.get_instrument("servqual-1988")
    perceptions_only = attrs.evolve(
        base,
        name="perceptions-only",
        items=[i for i in base.items if i.battery != "expectation"],
    )
    no_importance = attrs.evolve(
        perceptions_only,
        name="no-importance",
        items=[i for i in perceptions_only.items if i.battery != "importance"],
    )
    with registered(perceptions_only, no_importance):
        Servperf(instrument="perceptions-only", weighted=True)
        with pytest.raises(ValidationError, match="expectation"):
            Servqual(instrument="perceptions-only")
        with pytest.raises(ValidationError, match="importance"):
            Servperf(instrument="no-importance", weighted=True)


def test_layout_refuses_unpaired_instruments() -> None:
    base = stickykit.get_instrument("servqual-1988")
    fewer = attrs.evolve(base, items=[i for i in base.items if i.id != "E3"])
    with pytest.raises(ValidationError, match=r"4 expectation items"):
        instrument_layout(fewer)
    flipped = attrs.evolve(
        base, items=[attrs.evolve(i, reverse=True) if i.id == "E1" else i for i in base.items]
    )
    with pytest.raises(ValidationError, match="reverse keying"):
        instrument_layout(flipped)
    mixed = attrs.evolve(
        base, items=[attrs.evolve(i, scale=(1, 5)) if i.id == "P2" else i for i in base.items]
    )
    with pytest.raises(ValidationError, match="one answer scale"):
        instrument_layout(mixed)


# -- fingerprints, groups, registry ----------------------------------------------------------------


def test_fingerprint_covers_instrument_name_and_version() -> None:
    newer = variant("servqual-1988", version="1988.2")
    plain = Servqual()
    with pytest.raises(StateMismatchError, match="fingerprint"):
        plain.merge(plain.init(), Servqual(weighted=True).init())
    other = variant("servqual-copy")
    fingerprints = {plain.fingerprint}
    for inst in (newer, other):
        # a fresh registry per instrument: "servqual-1988" at another version replaces ours
        class Only:
            @hookimpl
            def register_instruments(self, register: Any, inst: Instrument = inst) -> None:
                register(inst)

        registry = create_registry(builtins=False, plugins=[Only()])
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(stickykit.plugins.registry, "default_registry", lambda r=registry: r)
            m = Servqual(instrument=inst.name)
            fingerprints.add(m.fingerprint)
            assert m.params()["instrument_version"] == inst.version
    assert len(fingerprints) == 3


def test_grouped_results_match_separate_runs() -> None:
    frame = synthetic(8, 60, missing=0.1)
    r = run(Servqual(by="segment"), frame)
    for g in r.groups:
        alone = run(Servqual(), frame.filter(frame.segment == g.group))
        assert g.value == pytest.approx(alone.value)
        assert g.ci_low == pytest.approx(alone.ci_low)
        assert g.details == pytest.approx(alone.details)
    assert r.n == sum(g.n for g in r.groups)


def test_registered_names() -> None:
    assert get_metric("servqual").name == "servqual"
    assert get_metric("servperf", weighted=True).weighted
    assert set(Servqual().requires) == set(E_IDS + P_IDS)
    assert set(Servperf(weighted=True).requires) == set(P_IDS + I_IDS)
    assert Servqual(weighted=True).scales["I_empathy"] == (0, 100)


# -- laws ------------------------------------------------------------------------------------------

VARIANTS = [
    Servqual(),
    Servqual(by="wave"),
    Servqual(weighted=True, by="segment"),
    Servqual(weighted=True, normalise_points=True, by="customer_id"),
    Servperf(),
    Servperf(weighted=True, by="wave"),
]


VARIANT_IDS = [
    "servqual",
    "servqual-by-wave",
    "servqual-weighted-by-segment",
    "servqual-normalised-by-customer",
    "servperf",
    "servperf-weighted-by-wave",
]


@pytest.mark.parametrize("metric", VARIANTS, ids=VARIANT_IDS)
def test_laws(metric: Any) -> None:
    """check_laws on seeded synthetic frames (valid points), split and permuted many ways."""

    @settings(max_examples=15)
    @given(seeds, st.integers(0, 25), st.data())
    def laws(seed: int, n: int, data: st.DataObject) -> None:
        frame = synthetic(seed, n, missing=0.15)
        cuts = data.draw(split_points(n))
        order = data.draw(st.permutations(range(n)))
        check_laws(metric, frame, cuts, order)

    laws()


@pytest.mark.parametrize("metric", VARIANTS, ids=VARIANT_IDS)
def test_check_metric(metric: Any) -> None:
    """The public law suite on one seeded frame per variant (valid importance points), split
    and permuted; test_common runs it on generated frames for the registered defaults."""
    check_metric(metric, data=synthetic(4, 24, missing=0.15), max_examples=8)


def test_laws_negative_control() -> None:
    frame = synthetic(6, 12)
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(MaxMergeServqual(), frame, [5], list(range(12)))
    with pytest.raises(AssertionError, match="law"):
        check_laws(FirstHalfServqual(), frame, [], list(reversed(range(12))))
