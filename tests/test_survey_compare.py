"""Comparisons: independent groups, benchmarks, groups with adjusted p-values, trends, panels.

Each property is a ``check_*`` function run on the real formula (must pass) and on a deliberately
broken one (must fail). Hand-computed values show their arithmetic in the docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from stickykit import compute, get_metric
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.compare import (
    Comparison,
    PairedNetScore,
    compare_benchmark,
    compare_groups,
    compare_independent,
    trend,
)
from stickykit.metrics.survey.nps import NetPromoterScore
from stickykit.testing import check_laws, check_metric

Z95 = 1.959963984540054
ANSWER = {-1: 3, 0: 8, 1: 10}  # an NPS answer for each score

#: Properties stop at the first counterexample: no shrinking (negative controls fail fast).
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate))


def nps_of(det: int, pas: int, pro: int, **params: Any) -> MetricResult:
    m = NetPromoterScore(**params)
    values = np.array([0] * det + [7] * pas + [10] * pro, np.int8)
    return m.finalize(m.update(m.init(), SurveyFrame(answers={"nps": values})))


def panel(before: list[int], after: list[int], **extra: Any) -> SurveyFrame:
    """Respondents 0..n-1 answer in wave 1 (``before``) and wave 2 (``after``), NPS answers."""
    n = len(before)
    ids = np.concatenate([np.arange(n), np.arange(n)]).astype(np.int64)
    return SurveyFrame(
        respondent_id=ids,
        answers={"nps": np.array(before + after, np.int8)},
        wave=np.array([1] * n + [2] * n),
        **extra,
    )


def paired(frame: SurveyFrame, **params: Any) -> MetricResult:
    m = PairedNetScore(**params)
    return m.finalize(m.update(m.init(), frame))


# -- independent samples --------------------------------------------------------------------------


def test_independent_wald_by_hand() -> None:
    """a = (10 det, 10 pas, 30 pro): NPS 40, Var = (0.8 - 0.16)/50 = 0.0128;
    b = (20, 10, 20): NPS 0, Var = 0.8/50 = 0.016. SE = sqrt(0.0288) = 0.169706 (16.97 points);
    z = 40/16.9706 = 2.3570, p = 0.01842; interval 40 -+ 1.959964 * 16.9706 = [6.74, 73.26]."""
    c = compare_independent(
        nps_of(10, 10, 30, interval="wald"), nps_of(20, 10, 20, interval="wald")
    )
    assert c.difference == pytest.approx(40.0)
    assert c.se == pytest.approx(16.9706, abs=1e-4)
    assert c.statistic == pytest.approx(2.3570, abs=1e-4)
    assert c.p_value == pytest.approx(0.01842, abs=1e-5)
    assert (c.ci_low, c.ci_high) == (
        pytest.approx(6.739, abs=1e-3),
        pytest.approx(73.261, abs=1e-3),
    )
    assert (c.n_a, c.n_b, c.df, c.alternative, c.unit) == (50, 50, None, "two-sided", "points")


def test_independent_adjusted_wald_uses_adjusted_centres() -> None:
    """Adjusted Wald: a' = (30.75 - 10.75)/53 = 0.377358, b' = 0 (20.75 each side);
    Var_a' = (41.5/53 - 0.377358^2)/53, Var_b' = (41.5/53)/53. The difference reported is the raw
    40 points; the test and interval use the adjusted 37.74."""
    a, b = nps_of(10, 10, 30), nps_of(20, 10, 20)
    c = compare_independent(a, b)
    var_a = (41.5 / 53 - (20 / 53) ** 2) / 53
    var_b = (41.5 / 53) / 53
    se = 100 * math.sqrt(var_a + var_b)
    assert c.difference == pytest.approx(40.0)
    assert c.details["adjusted_difference"] == pytest.approx(100 * 20 / 53)
    assert c.se == pytest.approx(se)
    assert c.statistic == pytest.approx(100 * 20 / 53 / se)
    assert (c.ci_low + c.ci_high) / 2 == pytest.approx(100 * 20 / 53)  # type: ignore[operator]
    assert "adjusted centres" in c.method


def test_welch_for_means() -> None:
    """csat_mean a = 5, 4, 4, 3 (mean 4, s^2 = 2/3, SE^2 = 1/6); b = 5, 5, 5, 4, 4, 2
    (mean 25/6, s^2 = (6 * 111 - 625)/30 = 41/30, SE^2 = 41/180). SE = sqrt(1/6 + 41/180);
    Welch df = SE^4 / ((1/6)^2/3 + (41/180)^2/5) = 7.924."""
    data = {"csat": [5, 4, 4, 3, 5, 5, 5, 4, 4, 2], "segment": list("aaaabbbbbb")}
    r = compute(get_metric("csat_mean", by="segment"), data)
    c = compare_independent(r.groups[0], r.groups[1])
    se2 = 1 / 6 + 41 / 180
    df = se2**2 / ((1 / 6) ** 2 / 3 + (41 / 180) ** 2 / 5)
    assert c.difference == pytest.approx(4 - 25 / 6)
    assert c.se == pytest.approx(math.sqrt(se2))
    assert c.df == pytest.approx(df) and df == pytest.approx(7.924, abs=1e-3)
    from scipy.stats import t

    assert c.p_value == pytest.approx(2 * t.sf(abs(c.statistic), df))
    assert c.method == "independent samples, Welch t on the difference of estimates"


def test_refuses_different_metrics_and_variants() -> None:
    nps = nps_of(3, 3, 4)
    with pytest.raises(ValidationError, match="same metric"):
        compare_independent(nps, compute("csat", {"csat": [5, 4, 1]}))
    for other in (
        nps_of(3, 3, 4, interval="wald"),
        nps_of(3, 3, 4, promoter_min=10),
        nps_of(3, 3, 4, weighted=True),
    ):
        with pytest.raises(ValidationError) as info:
            compare_independent(nps, other)
        assert info.value.field == "params"
    # grouping, min_n, alpha and the item name do not change the definition
    assert compare_independent(nps, nps_of(3, 3, 4, min_n=5, alpha=0.1)).difference == 0


def test_refuses_result_without_se() -> None:
    with pytest.raises(ValidationError, match="standard error"):
        compare_independent(nps_of(0, 0, 1, interval="t"), nps_of(1, 1, 1, interval="t"))


def test_zero_se_is_flagged_not_tested() -> None:
    c = compare_independent(nps_of(0, 0, 5, interval="wald"), nps_of(0, 0, 3, interval="wald"))
    assert math.isnan(c.p_value) and c.ci_low is None
    assert "no test: the standard error of the difference is 0" in c.flags


# -- benchmark ---------------------------------------------------------------------------------


def test_benchmark_by_hand() -> None:
    """60 promoters, 25 passives, 15 detractors: NPS 45, Var = (0.75 - 0.2025)/100, SE 7.3993
    points; against B = 30: z = 15/7.3993 = 2.0272, one-sided p = 1 - Phi(2.0272) = 0.02132;
    lower bound 15 - 1.644854 * 7.3993 = 2.829."""
    r = nps_of(15, 25, 60, interval="wald")
    c = compare_benchmark(r, 30)
    assert c.difference == pytest.approx(15.0)
    assert c.statistic == pytest.approx(2.0272, abs=1e-4)
    assert c.p_value == pytest.approx(0.02132, abs=1e-5)
    assert c.ci_low == pytest.approx(2.829, abs=1e-3) and c.ci_high == math.inf
    assert c.n_b is None and c.label_b == "benchmark 30"
    two = compare_benchmark(r, 30, alternative="two-sided")
    assert two.p_value == pytest.approx(2 * c.p_value)
    less = compare_benchmark(r, 30, alternative="less")
    assert less.p_value == pytest.approx(1 - c.p_value) and less.ci_low == -math.inf
    with pytest.raises(ValueError, match="alternative"):
        compare_benchmark(r, 30, alternative="above")  # type: ignore[arg-type]


# -- groups and multiple testing ---------------------------------------------------------------------


def three_segments(**params: Any) -> MetricResult:
    data = {
        "nps": [10] * 40 + [3] * 10 + [10] * 25 + [3] * 25 + [10] * 30 + [3] * 20,
        "segment": ["a"] * 50 + ["b"] * 50 + ["c"] * 50,
    }
    return compute(get_metric("nps", by="segment", interval="wald", **params), data)


def test_groups_against_overall_by_hand() -> None:
    """a: 40 promoters, 10 detractors, NPS 60; overall 95/55 of 150, NPS 26.67.
    SE_a^2 = (1 - 0.36)/50 = 0.0128; SE^2 = (1 - 0.2667^2)/150 = 0.0061926; f = 1/3;
    Var = 0.0061926 + (1/3) 0.0128 = 0.0104593; z = 0.3333/0.10227 = 3.2594. Conservative next
    to a against the rest (55/45 of 100): z = 0.5/sqrt(0.0128 + 0.0099) = 3.3186."""
    r = three_segments()
    comparisons = compare_groups(r, adjust=None)
    a = comparisons[0]
    assert (a.label_a, a.label_b) == ("a", "all")
    assert a.difference == pytest.approx(100 * (0.6 - 40 / 150))
    assert a.statistic == pytest.approx(3.2594, abs=1e-4)
    assert a.statistic < 3.3186
    assert a.details["share_of_overall"] == pytest.approx(1 / 3)
    assert all(c.p_adjusted is None for c in comparisons)


def test_groups_against_reference() -> None:
    r = three_segments()
    comparisons = compare_groups(r, reference="b")
    assert [(c.label_a, c.label_b) for c in comparisons] == [("a", "b"), ("c", "b")]
    direct = compare_independent(r.groups[0], r.groups[1])
    assert comparisons[0].p_value == pytest.approx(direct.p_value)
    assert comparisons[0].p_adjusted == pytest.approx(min(1.0, 2 * direct.p_value))
    with pytest.raises(ValidationError, match="group labels"):
        compare_groups(r, reference="z")


def test_group_adjustments_order() -> None:
    r = three_segments()
    holm = compare_groups(r, adjust="holm")
    bh = compare_groups(r, adjust="bh")
    for h, b in zip(holm, bh, strict=True):
        assert h.p_value <= b.p_adjusted <= h.p_adjusted  # type: ignore[operator]
    with pytest.raises(ValueError, match="adjust"):
        compare_groups(r, adjust="bonferroni")  # type: ignore[arg-type]


def test_groups_need_a_grouped_result() -> None:
    with pytest.raises(ValidationError, match="grouped"):
        compare_groups(nps_of(1, 2, 3))
    with pytest.raises(ValidationError, match="grouped"):
        trend(nps_of(1, 2, 3))


def test_waves_are_flagged_as_independent() -> None:
    data = {"nps": [10, 3, 8, 10, 10, 3], "wave": [1, 1, 1, 2, 2, 2]}
    comparisons = compare_groups(compute(get_metric("nps", by="wave"), data))
    assert all(any("net_score_paired" in f for f in c.flags) for c in comparisons)


def test_trend() -> None:
    data = {
        "nps": [10, 9, 3, 10, 10, 8, 10, 10, 10, 0],
        "wave": [2, 2, 2, 1, 1, 1, 3, 3, 3, None],
    }
    t = trend(compute(get_metric("nps", by="wave", interval="wald"), data), adjust="bh")
    assert t.periods == ("1", "2", "3")  # a column with a missing label loads as text
    assert [round(p.value, 1) for p in t.points] == [66.7, 33.3, 100.0]
    assert all(p.ci_low is not None for p in t.points)
    assert [c.difference for c in t.changes] == pytest.approx([-100 / 3, 200 / 3])
    assert [(c.label_a, c.label_b) for c in t.changes] == [("2", "1"), ("3", "2")]
    assert all(c.adjustment == "bh" for c in t.changes)
    assert "net_score_paired" in t.flags[0] and "nps by period" in str(t)


def test_comparison_text() -> None:
    c = compare_benchmark(nps_of(15, 25, 60, interval="wald"), 30)
    assert str(c).startswith("nps all - benchmark 30 = 15.0 points [95% CI 2.8 to inf]")
    assert isinstance(c, Comparison)


# -- the paired metric: hand values ---------------------------------------------------------------


def test_paired_by_hand() -> None:
    """Respondents 0-3: before 10, 10, 3, 8 (s1 = 1, 1, -1, 0), after 10, 8, 8, 10
    (s2 = 1, 0, 0, 1); changes 0, -1, 1, 1: mean 0.25 (25 points); var(ddof 0) = 3/4 - 1/16 =
    0.6875; SE = sqrt(0.6875/4) = 0.414578; interval 25 -+ 81.256. var(s1) = 0.6875,
    var(s2) = 0.25, cov = 1/4 - 0.25 * 0.5 = 0.125, r = 0.125/sqrt(0.6875 * 0.25) = 0.301511;
    independent SE = sqrt((0.6875 + 0.25)/4) = 0.484123. Respondent 4 answers before only and
    respondent 5 skips the question after: both count in n_missing."""
    base = panel([10, 10, 3, 8], [10, 8, 8, 10])
    extra = SurveyFrame(
        respondent_id=np.array([4, 5, 5]),
        answers={"nps": np.array([9, 9, 0], np.int8)},
        answer_missing={"nps": np.array([False, False, True])},
        wave=np.array([1, 1, 2]),
    )
    m = PairedNetScore()
    r = m.finalize(m.update(m.update(m.init(), base), extra))
    assert (r.value, r.n, r.n_missing) == (pytest.approx(25.0), 4, 2)
    assert r.se == pytest.approx(41.4578, abs=1e-4)
    assert r.ci_low == pytest.approx(25 - Z95 * 41.4578, abs=1e-3)
    assert r.details["before"] == pytest.approx(25.0)
    assert r.details["after"] == pytest.approx(50.0)
    assert r.details["correlation"] == pytest.approx(0.301511, abs=1e-6)
    assert r.details["se_independent"] == pytest.approx(48.4123, abs=1e-4)
    assert (r.details["n_before"], r.details["n_after"]) == (6.0, 4.0)
    assert r.unit == "points" and r.flags == ("small sample: n = 4 pairs < 30",)


def test_paired_equals_independent_when_uncorrelated() -> None:
    """s1 = 1, 1, -1, -1 and s2 = 1, -1, 1, -1: cov = 0, so var(s2 - s1) = var(s1) + var(s2)
    and the paired SE equals the independent one: sqrt((1 + 1)/4) = 0.7071 (70.71 points)."""
    frame = panel([10, 10, 3, 3], [10, 3, 10, 3])
    r = paired(frame)
    waves = compute(get_metric("nps", by="wave", interval="wald"), frame)
    independent = compare_independent(waves.groups[1], waves.groups[0])
    assert r.se == pytest.approx(independent.se)
    assert r.se == pytest.approx(100 * math.sqrt(0.5))
    assert r.details["correlation"] == 0


def test_paired_bands_at_the_low_end() -> None:
    """CES 1.0 Net Easy on a panel: 1-2 easy (+1), 4-5 difficult (-1). Answers 5 -> 1 and 3 -> 2
    move -1 -> +1 and 0 -> +1: mean change 1.5 (150 points)."""
    frame = SurveyFrame(
        respondent_id=np.array([7, 8, 7, 8]),
        answers={"ces": np.array([5, 3, 1, 2], np.int8)},
        wave=np.array(["q1", "q1", "q2", "q2"]),
    )
    params = {"item": "ces", "before": "q1", "after": "q2", "scale": (1, 5)}
    r = paired(frame, negative=(4, 5), positive=(1, 2), **params)
    assert r.value == pytest.approx(150.0)


# -- the paired metric: property and its negative control -----------------------------------------

scores = st.sampled_from([-1, 0, 1])
panels = st.lists(st.tuples(scores, scores), min_size=2, max_size=40)
PanelSE = Callable[[list[tuple[int, int]]], float]


def to_frame(pairs: list[tuple[int, int]]) -> SurveyFrame:
    return panel([ANSWER[a] for a, _ in pairs], [ANSWER[b] for _, b in pairs])


def real_paired_se(pairs: list[tuple[int, int]]) -> float:
    return paired(to_frame(pairs)).se  # type: ignore[return-value]


def broken_independent_on_panel(pairs: list[tuple[int, int]]) -> float:
    """The independent formula applied to the two waves of a panel."""
    waves = compute(get_metric("nps", by="wave", interval="wald"), to_frame(pairs))
    return compare_independent(waves.groups[1], waves.groups[0]).se  # type: ignore[return-value]


def check_paired_vs_independent(paired_se: PanelSE) -> None:
    @NO_SHRINK
    @given(panels)
    @example([(1, 1), (1, 1), (-1, -1), (0, 0), (-1, 0)])  # strongly positively correlated
    def prop(pairs: list[tuple[int, int]]) -> None:
        s1 = np.array([a for a, _ in pairs])
        s2 = np.array([b for _, b in pairs])
        n = len(pairs)
        cov_n2 = n * int(s1 @ s2) - int(s1.sum()) * int(s2.sum())  # n^2 cov, exact
        se_paired = paired_se(pairs)
        se_independent = broken_independent_on_panel(pairs)
        if cov_n2 > 0:
            assert se_paired < se_independent
        elif cov_n2 == 0:
            assert math.isclose(se_paired, se_independent, rel_tol=1e-9, abs_tol=1e-12)
        else:
            assert se_paired > se_independent

    prop()


def test_paired_narrower_for_positive_correlation() -> None:
    check_paired_vs_independent(real_paired_se)


def test_paired_negative_control_independent_formula() -> None:
    with pytest.raises(AssertionError):
        check_paired_vs_independent(broken_independent_on_panel)


# -- the paired metric: bad input ------------------------------------------------------------------


def test_same_wave_twice_in_one_frame() -> None:
    frame = SurveyFrame(
        respondent_id=np.array([1, 2, 1, 1]),
        answers={"nps": np.array([9, 9, 3, 10], np.int8)},
        wave=np.array([1, 1, 1, 2]),
    )
    m = PairedNetScore()
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    err = info.value
    assert (err.field, err.value, err.row) == ("respondent_id", 1, 2)
    assert "one response per respondent in wave 1" in str(err)
    assert [v.rows.tolist() for v in m.check(frame)] == [[2]]
    with pytest.raises(ValidationError) as info:
        compute(m, {"respondent_id": [1, 2, 1, 1], "nps": [9, 9, 3, 10], "wave": [1, 1, 1, 2]})
    assert (info.value.value, info.value.row) == (1, 2)
    r = compute(
        m,
        {"respondent_id": [1, 2, 1, 1, 2], "nps": [9, 9, 3, 10, 10], "wave": [1, 1, 1, 2, 2]},
        errors="quarantine",
    )
    assert (r.n, r.details["n_rejected"]) == (2, 1.0)


def test_same_wave_twice_across_chunks() -> None:
    frame = SurveyFrame(
        respondent_id=np.array(["r1", "r2", "r1"]),
        answers={"nps": np.array([9, 9, 3], np.int8)},
        wave=np.array([1, 1, 1]),
    )
    m = PairedNetScore()
    a = m.update(m.init(), frame.slice(0, 2))
    b = m.update(m.init(), frame.slice(2, 3))
    with pytest.raises(ValidationError) as info:
        m.merge(a, b)
    assert (info.value.field, info.value.value) == ("respondent_id", "r1")


def test_paired_needs_ids_and_waves() -> None:
    m = PairedNetScore()
    no_ids = SurveyFrame(answers={"nps": np.array([9], np.int8)}, wave=np.array([1]))
    with pytest.raises(ValidationError, match="respondent ids"):
        m.update(m.init(), no_ids)
    no_waves = SurveyFrame(answers={"nps": np.array([9], np.int8)}, respondent_id=np.array([1]))
    with pytest.raises(ValidationError, match="waves"):
        m.update(m.init(), no_waves)
    text_waves = SurveyFrame(
        answers={"nps": np.array([9], np.int8)}, respondent_id=np.array([1]), wave=np.array(["1"])
    )
    with pytest.raises(ValidationError, match="text"):
        m.update(m.init(), text_waves)
    with pytest.raises(InsufficientDataError, match="both"):
        m.finalize(m.update(m.init(), panel([9], [10]).slice(0, 1)))


def test_paired_out_of_scale() -> None:
    with pytest.raises(ValidationError) as info:
        paired(panel([9, 11], [9, 9]))
    assert (info.value.field, info.value.row, info.value.value) == ("nps", 1, 11)


@pytest.mark.parametrize(
    "params",
    [
        {"before": 1, "after": 1},
        {"before": True},
        {"before": 1.5},
        {"by": "customer_id"},
        {"positive": (6, 10)},
    ],
)
def test_paired_bad_parameters(params: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        PairedNetScore(**params)


def test_paired_refuses_other_parameters() -> None:
    a, b = PairedNetScore(), PairedNetScore(after=3)
    with pytest.raises(StateMismatchError):
        a.merge(a.init(), b.init())


# -- laws ------------------------------------------------------------------------------------------


def panel_with_everything() -> SurveyFrame:
    rng = np.random.default_rng(3)
    n = 40
    ids = np.array([f"r{i}" for i in range(n)] * 3)
    return SurveyFrame(
        respondent_id=ids,
        answers={"nps": rng.integers(0, 11, 3 * n).astype(np.int8)},
        answer_missing={"nps": rng.random(3 * n) < 0.1},
        wave=np.repeat(np.array([1, 2, 3]), n),
        label_missing={"wave": rng.random(3 * n) < 0.05},
    )


def test_paired_laws() -> None:
    check_metric(PairedNetScore(), data=panel_with_everything(), max_examples=30)
    check_metric(PairedNetScore(before=3, after=1), data=panel_with_everything(), max_examples=10)
    check_metric(PairedNetScore(), max_examples=15)


@pytest.mark.parametrize("cuts", [[], [10], [0, 45, 45, 119], [60, 61]])
def test_paired_split_anywhere(cuts: list[int]) -> None:
    frame = panel_with_everything()
    check_laws(PairedNetScore(), frame, cuts, list(range(len(frame)))[::-1])
