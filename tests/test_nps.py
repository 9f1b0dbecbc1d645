"""NPS: hand-computed values, published values, properties, and their negative controls.

Each property is written once as a ``check_*`` function taking an NPS implementation; it runs
on the real metric (must pass) and on a deliberately broken variant (must fail), so no property
here is a test that cannot fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit import compute, get_metric
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.nps import NetPromoterScore, count_categories
from stickykit.testing import check_laws, check_metric

Score = Callable[[int, int, int], MetricResult]


def frame_of(det: int, pas: int, pro: int, *, shuffle_seed: int | None = None) -> SurveyFrame:
    values = np.array([0] * det + [7] * pas + [10] * pro, dtype=np.int8)
    if shuffle_seed is not None:
        np.random.default_rng(shuffle_seed).shuffle(values)
    return SurveyFrame(answers={"nps": values})


def score_with(metric: NetPromoterScore) -> Score:
    def score(det: int, pas: int, pro: int) -> MetricResult:
        return metric.finalize(metric.update(metric.init(), frame_of(det, pas, pro)))

    return score


real = score_with(NetPromoterScore())
real_wald = score_with(NetPromoterScore(interval="wald"))


# -- deliberately broken variants (negative controls) ------------------------------------


def broken_denominator(det: int, pas: int, pro: int) -> MetricResult:
    """Divides by promoters and detractors only... and then by the promoters again."""
    r = real(det, pas, pro)
    return attrs.evolve(r, value=100 * (pro - det) / max(pro, 1))


def broken_promoter_in_denominator(det: int, pas: int, pro: int) -> MetricResult:
    r = real(det, pas, pro)
    n = det + pas + pro
    return attrs.evolve(r, value=100 * (pro - det) / (n + pro * pro))


def broken_unclipped(det: int, pas: int, pro: int) -> MetricResult:
    """Adjusted Wald without the clipping to [-100, 100]."""
    r = real(det, pas, pro)
    n = det + pas + pro + 3
    p, d = (pro + 0.75) / n, (det + 0.75) / n
    se = math.sqrt((p + d - (p - d) ** 2) / n)
    return attrs.evolve(r, ci_low=100 * (p - d - 1.96 * se), ci_high=100 * (p - d + 1.96 * se))


def broken_wald_centre(det: int, pas: int, pro: int) -> MetricResult:
    """A Wald interval centred on the adjusted score instead of the estimate."""
    r = real_wald(det, pas, pro)
    adjusted = real(det, pas, pro).details["adjusted_nps"]
    half = (r.ci_high - r.ci_low) / 2  # type: ignore[operator]
    return attrs.evolve(r, ci_low=adjusted - half, ci_high=adjusted + half)


def broken_asymmetric(det: int, pas: int, pro: int) -> MetricResult:
    """Pseudo-counts added to promoters only."""
    r = real(det, pas, pro)
    n = det + pas + pro + 1
    p, d = (pro + 1) / n, det / n
    se = math.sqrt(max(p + d - (p - d) ** 2, 0) / n)
    return attrs.evolve(r, ci_low=100 * (p - d - 1.96 * se), ci_high=100 * (p - d + 1.96 * se))


counts = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)).filter(
    lambda c: sum(c) > 0
)


# -- properties ------------------------------------------------------------------------------


def check_bounds(score: Score) -> None:
    @given(counts)
    def prop(c: tuple[int, int, int]) -> None:
        r = score(*c)
        assert -100 <= r.value <= 100
        assert -100 <= r.ci_low <= r.ci_high <= 100  # type: ignore[operator]

    prop()


def check_monotone(score: Score) -> None:
    @given(counts)
    def prop(c: tuple[int, int, int]) -> None:
        det, pas, pro = c
        base = score(det, pas, pro).value
        assert score(det, pas, pro + 1).value >= base - 1e-12
        assert score(det + 1, pas, pro).value <= base + 1e-12

    prop()


def check_wald_centred(score: Score) -> None:
    @given(counts)
    def prop(c: tuple[int, int, int]) -> None:
        r = score(*c)
        assert math.isclose((r.ci_low + r.ci_high) / 2, r.value, abs_tol=1e-9)  # type: ignore[operator]

    prop()


def check_mirror(score: Score) -> None:
    @given(counts)
    def prop(c: tuple[int, int, int]) -> None:
        det, pas, pro = c
        a, b = score(det, pas, pro), score(pro, pas, det)
        assert math.isclose(a.value, -b.value, abs_tol=1e-9)
        assert math.isclose(a.ci_low, -b.ci_high, abs_tol=1e-9)  # type: ignore[arg-type,operator]
        assert math.isclose(a.ci_high, -b.ci_low, abs_tol=1e-9)  # type: ignore[arg-type,operator]

    prop()


def test_bounds_hold() -> None:
    check_bounds(real)
    check_bounds(real_wald_clipped_for_bounds)


def real_wald_clipped_for_bounds(det: int, pas: int, pro: int) -> MetricResult:
    """The Wald interval can leave [-100, 100] (Rocks 2016); the bound applies to its value."""
    r = real_wald(det, pas, pro)
    return attrs.evolve(r, ci_low=max(r.ci_low, -100), ci_high=min(r.ci_high, 100))  # type: ignore[type-var]


def test_bounds_negative_controls() -> None:
    with pytest.raises(AssertionError):
        check_bounds(broken_denominator)
    with pytest.raises(AssertionError):
        check_bounds(broken_unclipped)


def test_monotone_holds() -> None:
    check_monotone(real)
    check_monotone(score_with(NetPromoterScore(weighted=True)))


def test_monotone_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_monotone(broken_promoter_in_denominator)


def test_wald_centred_holds() -> None:
    check_wald_centred(real_wald)


def test_wald_centred_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_wald_centred(broken_wald_centre)


def test_mirror_holds() -> None:
    check_mirror(real)
    check_mirror(real_wald)


def test_mirror_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_mirror(broken_asymmetric)


@given(counts, st.integers(0, 2**32 - 1))
def test_permutation_invariance(c: tuple[int, int, int], seed: int) -> None:
    m = NetPromoterScore()
    a = m.finalize(m.update(m.init(), frame_of(*c)))
    b = m.finalize(m.update(m.init(), frame_of(*c, shuffle_seed=seed)))
    assert a.value == b.value and a.ci_low == b.ci_low and a.ci_high == b.ci_high


@given(counts, st.floats(0.01, 100))
def test_weights_scale_invariance(c: tuple[int, int, int], factor: float) -> None:
    """Multiplying every weight by a constant leaves the weighted score and interval unchanged."""
    m = NetPromoterScore(weighted=True, interval="wald")
    frame = frame_of(*c)
    w = np.linspace(0.5, 2.0, len(frame))
    a = m.finalize(m.update(m.init(), attrs.evolve(frame, weight=w)))
    b = m.finalize(m.update(m.init(), attrs.evolve(frame, weight=w * factor)))
    assert math.isclose(a.value, b.value, rel_tol=1e-9, abs_tol=1e-9)
    if a.se is None or b.se is None:  # one respondent: no linearised variance
        assert a.se is b.se is None and a.n == 1
    else:
        assert math.isclose(a.se, b.se, rel_tol=1e-9, abs_tol=1e-9)


@given(counts)
def test_equal_weights_equal_unweighted(c: tuple[int, int, int]) -> None:
    weighted = NetPromoterScore(weighted=True)
    frame = frame_of(*c)
    a = weighted.finalize(
        weighted.update(weighted.init(), attrs.evolve(frame, weight=np.full(len(frame), 3.0)))
    )
    b = real(*c)
    assert math.isclose(a.value, b.value, abs_tol=1e-9)
    assert math.isclose(a.ci_low, b.ci_low, abs_tol=1e-9)  # type: ignore[arg-type]
    assert math.isclose(a.details["n_effective"], sum(c))


def test_scale_of_reporting() -> None:
    """The score is in points: 100 x the -1...1 net share of Rocks (2016)."""
    r = real(2, 1, 3)
    net_share = (3 - 2) / 6
    assert math.isclose(r.value, 100 * net_share)


# -- hand-computed and published values -------------------------------------------------------


def test_hand_computed_wald() -> None:
    """(det, pas, pro) = (2, 1, 3): p = 1/2, d = 1/3, NPS = 16.67;
    Var = (5/6 - 1/36)/6 = 0.134259; SE = 36.641 points; z = 1.959964."""
    r = real_wald(2, 1, 3)
    assert r.value == pytest.approx(100 / 6)
    assert r.se == pytest.approx(100 * math.sqrt((5 / 6 - 1 / 36) / 6))
    assert r.ci_low == pytest.approx(100 / 6 - 1.959964 * 36.6414, abs=1e-3)
    assert r.ci_high == pytest.approx(100 / 6 + 1.959964 * 36.6414, abs=1e-3)
    assert r.details == pytest.approx(
        {"promoters": 50.0, "passives": 100 / 6, "detractors": 100 / 3}
    )


def test_one_promoter_adjusted_wald() -> None:
    """One promoter alone: adjusted shares 1.75/4 and 0.75/4, centre 25, SE 37.5 points,
    interval about [-48.5, 98.5] (issue text; Rocks 2016 adjusted Wald)."""
    r = real(0, 0, 1)
    assert r.value == 100
    assert r.details["adjusted_nps"] == pytest.approx(25.0)
    assert r.se == pytest.approx(37.5)
    assert r.ci_low == pytest.approx(-48.5, abs=0.05)
    assert r.ci_high == pytest.approx(98.5, abs=0.05)
    assert r.flags == ("small sample: n = 1 < 30",)


def test_npsgame_counts_by_hand() -> None:
    """NPSgame: 8,465 promoters and 1,194 detractors among 13,612 answers, 342 missing."""
    from stickykit.datasets import load_npsgame, npsgame_columns

    raw = npsgame_columns()["nps"]
    answered = raw[~np.isnan(raw)]
    pro, det = int((answered >= 9).sum()), int((answered <= 6).sum())
    r = compute("nps", load_npsgame())
    assert (pro, det, r.n, r.n_missing) == (8465, 1194, 13612, 342)
    assert r.value == pytest.approx(100 * (pro - det) / len(answered))


def test_custom_cutoffs() -> None:
    m = get_metric("nps", promoter_min=10, detractor_max=7)
    values = np.array([10, 9, 8, 7, 0], np.int8)
    r = m.finalize(m.update(m.init(), SurveyFrame(answers={"nps": values})))
    assert r.value == pytest.approx(100 * (1 - 2) / 5)  # 10 promotes; 7 and 0 detract


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"promoter_min": 6, "detractor_max": 6}, "cut-offs"),
        ({"promoter_min": 11}, "cut-offs"),
        ({"scale": (5, 3)}, "scale"),
        ({"alpha": 1.5}, "alpha"),
        ({"interval": "exact"}, "interval"),
        ({"by": "colour"}, "by"),
        ({"min_n": 0}, "min_n"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        NetPromoterScore(**params)


# -- missing answers, groups, weights -----------------------------------------------------------


def test_missing_never_detractors() -> None:
    values = np.array([10, 0, 0, 9], np.int8)
    missing = np.array([False, True, True, False])
    m = NetPromoterScore()
    r = m.finalize(
        m.update(m.init(), SurveyFrame(answers={"nps": values}, answer_missing={"nps": missing}))
    )
    assert (r.value, r.n, r.n_missing) == (100.0, 2, 2)


def test_grouped_with_missing_labels() -> None:
    data = {"nps": [10, 0, 9, 8, 3], "wave": ["a", "a", "b", None, "b"]}
    r = compute(get_metric("nps", by="wave", interval="wald"), data)
    by_group = {g.group: g for g in r.groups}
    assert set(by_group) == {"a", "b", "(missing)"}
    assert by_group["a"].value == 0 and by_group["b"].value == 0
    assert by_group["(missing)"].n == 1 and by_group["(missing)"].value == 0
    assert r.n == 5 and all("small sample" in g.flags[0] for g in r.groups)


def test_merge_refuses_other_parameters() -> None:
    a, b = NetPromoterScore(), NetPromoterScore(promoter_min=10)
    with pytest.raises(StateMismatchError, match="fingerprint"):
        a.merge(a.init(), b.init())


def test_merge_refuses_mixed_label_types() -> None:
    m = NetPromoterScore(by="wave")
    ints = m.update(
        m.init(), SurveyFrame(answers={"nps": np.array([9], np.int8)}, wave=np.array([1]))
    )
    text = m.update(
        m.init(), SurveyFrame(answers={"nps": np.array([9], np.int8)}, wave=np.array(["1"]))
    )
    with pytest.raises(StateMismatchError, match="labels"):
        m.merge(ints, text)


def test_no_answers_is_an_error_not_a_number() -> None:
    m = NetPromoterScore()
    frame = SurveyFrame(
        answers={"nps": np.zeros(3, np.int8)}, answer_missing={"nps": np.ones(3, bool)}
    )
    with pytest.raises(InsufficientDataError, match="no valid 'nps' answers"):
        m.finalize(m.update(m.init(), frame))
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())


@pytest.mark.parametrize(
    ("bad", "field"),
    [(11, "nps"), (-1, "nps"), (7.5, "nps"), ("abc", "nps"), (float("inf"), "nps"), (True, "nps")],
)
def test_bad_scores_raise_naming_row(bad: Any, field: str) -> None:
    data = {"nps": np.array([10, 9, bad, 3], dtype=object)}
    with pytest.raises(ValidationError) as info:
        compute("nps", data)
    assert info.value.field == field and info.value.row == 2


def test_bad_scores_quarantined() -> None:
    data = {"nps": np.array([10, 11, 9, -1, None, 7.5, "x", 0], dtype=object)}
    r = compute("nps", data, errors="quarantine")
    assert r.n + r.n_missing + r.details["n_rejected"] == 8
    assert (r.n, r.n_missing, r.details["n_rejected"]) == (3, 1, 4.0)
    assert "4 input rows quarantined" in r.flags


def test_update_refuses_out_of_scale_frames_directly() -> None:
    m = NetPromoterScore()
    frame = SurveyFrame(answers={"nps": np.array([3, 12], np.int8)}, first_row=100)
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    assert (info.value.row, info.value.value) == (101, 12)
    assert [v.rows.tolist() for v in m.check(frame)] == [[101]]


def test_empty_input_is_an_error() -> None:
    with pytest.raises(ValidationError, match="0 rows"):
        compute("nps", {"nps": np.array([], dtype=np.int8)})


def test_count_categories_blocks() -> None:
    """The blocked kernel equals a one-shot count across block boundaries."""
    rng = np.random.default_rng(1)
    values = rng.integers(0, 11, 200_003).astype(np.int8)
    answered = rng.random(200_003) > 0.1
    det, pas, pro = count_categories(values, answered, 6, 9)
    kept = values[answered]
    assert (det, pas, pro) == (
        int((kept <= 6).sum()),
        int(((kept > 6) & (kept < 9)).sum()),
        int((kept >= 9).sum()),
    )


# -- laws -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        NetPromoterScore(),
        NetPromoterScore(by="wave", interval="wald"),
        NetPromoterScore(by="segment", weighted=True),
        NetPromoterScore(by="customer_id", weighted=True, interval="wald"),
    ],
    ids=["plain", "by-wave", "by-segment-weighted", "by-customer-weighted-wald"],
)
def test_laws(metric: NetPromoterScore) -> None:
    check_metric(metric)


@attrs.frozen
class MaxMergeNPS(NetPromoterScore):
    """Broken: merges counts with max instead of sum."""

    def merge(self, a: Any, b: Any) -> Any:
        merged = super().merge(a, b)
        if a.counts.shape == b.counts.shape:
            return attrs.evolve(merged, counts=np.maximum(a.counts, b.counts))
        return merged


@attrs.frozen
class FirstHalfNPS(NetPromoterScore):
    """Broken: reads only the first half of each batch (order-dependent)."""

    def update(self, state: Any, frame: SurveyFrame) -> Any:
        return super().update(state, frame.slice(0, (len(frame) + 1) // 2))


def test_laws_negative_control_merge() -> None:
    frame = frame_of(3, 2, 4, shuffle_seed=0)
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(MaxMergeNPS(), frame, [4], list(range(len(frame))))


def test_laws_negative_control_permutation() -> None:
    frame = frame_of(3, 0, 3)
    order = list(reversed(range(len(frame))))
    with pytest.raises(AssertionError, match="law"):
        check_laws(FirstHalfNPS(), frame, [], order)


def test_check_metric_finds_broken_merge() -> None:
    with pytest.raises(AssertionError, match="law"):
        check_metric(MaxMergeNPS(), data=frame_of(3, 2, 4, shuffle_seed=1))
