"""The satisfaction-loyalty curve: hand-computed values, published values, properties with
negative controls, laws, bad input, and the bundled NPSgame data.
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
from numpy.typing import NDArray

from stickykit import compute, get_metric
from stickykit.datasets import load_npsgame, npsgame_columns
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.loyalty_curve import (
    LoyaltyCurve,
    SegmentFit,
    bootstrap_breakpoints,
    level_table,
    risk_ratio,
    three_segment_fit,
)
from stickykit.stats.bootstrap import generator, resample_counts
from stickykit.stats.intervals import wilson_interval
from stickykit.stats.isotonic import pava
from stickykit.testing import check_laws, check_metric

#: Negative controls only need to fail: no shrinking of the failing example.
NO_SHRINK = settings(phases=[Phase.explicit, Phase.generate])


def frame_of(satisfaction: list[int], intention: list[int], **columns: Any) -> SurveyFrame:
    return SurveyFrame(
        answers={
            "satisfaction": np.array(satisfaction, np.int8),
            "intention": np.array(intention, np.int8),
        },
        **columns,
    )


def run(metric: LoyaltyCurve, frame: SurveyFrame) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), frame))


def curve_frame(levels: NDArray[np.int64], n: NDArray[np.int64], loyal: NDArray[np.int64]):
    """A frame with n[i] answers at satisfaction levels[i], loyal[i] of them answering 10."""
    satisfaction = np.repeat(levels, n).astype(np.int8)
    intention = np.concatenate(
        [np.r_[np.full(k, 10), np.full(m - k, 5)] for m, k in zip(n, loyal, strict=True)]
    ).astype(np.int8)
    return SurveyFrame(
        answers={"satisfaction": satisfaction, "intention": intention},
        respondent_id=np.arange(len(satisfaction)),
    )


# -- hand-computed values ----------------------------------------------------------------------

HAND = frame_of(
    [10, 10, 10, 10, 9, 9, 9, 9, 8, 8],
    [10, 9, 10, 5, 9, 6, 7, 4, 3, 9],
)


def test_hand_computed_rates_and_risk_ratio() -> None:
    """Satisfaction 10: intentions 10, 9, 10, 5 -> 3 loyal of 4 (p1 = 0.75); satisfaction 9:
    9, 6, 7, 4 -> 1 of 4 (p2 = 0.25); satisfaction 8: 3, 9 -> 1 of 2.
    RR = 0.75 / 0.25 = 3; SE(ln RR) = sqrt((1 - 0.75)/3 + (1 - 0.25)/1) = sqrt(0.8333) = 0.91287;
    interval 3 exp(-/+ 1.95996 x 0.91287) = 3 exp(-/+ 1.78919) = (0.50128, 17.9539)."""
    r = run(LoyaltyCurve(n_boot=0), HAND)
    assert (r.value, r.n, r.n_missing) == (3.0, 10, 0)
    assert r.details["log_rr_se"] == pytest.approx(math.sqrt(0.25 / 3 + 0.75))
    assert r.ci_low == pytest.approx(0.50128431, rel=1e-7)
    assert r.ci_high == pytest.approx(17.9538833, rel=1e-7)
    assert r.se == pytest.approx(3 * 0.91287093, rel=1e-7)
    table = level_table(r)
    assert table["level"] == [8.0, 9.0, 10.0]
    assert table["n"] == [2.0, 4.0, 4.0] and table["loyal"] == [1.0, 1.0, 3.0]
    assert table["rate"] == [0.5, 0.25, 0.75]
    assert (r.details["top_rate"], r.details["next_rate"]) == (0.75, 0.25)


def test_hand_computed_means_and_isotonic() -> None:
    """Level 9: intentions 9, 6, 7, 4: mean 26/4 = 6.5, s^2 = (81+36+49+16 - 4 x 6.5^2)/3 =
    (182 - 169)/3 = 4.3333, SE = sqrt(4.3333/4) = 1.04083. Isotonic fit of rates 0.5, 0.25, 0.75
    with counts 2, 4, 4: the first two pool to (2 x 0.5 + 4 x 0.25)/6 = 1/3."""
    r = run(LoyaltyCurve(n_boot=0), HAND)
    assert r.details["mean[9]"] == 6.5
    assert r.details["mean_se[9]"] == pytest.approx(math.sqrt(13 / 3 / 4))
    assert level_table(r)["isotonic"] == pytest.approx([1 / 3, 1 / 3, 0.75])


def test_wilson_per_level() -> None:
    r = run(LoyaltyCurve(n_boot=0, alpha=0.1), HAND)
    for level, (x, n) in {8: (1, 2), 9: (1, 4), 10: (3, 4)}.items():
        assert (r.details[f"rate_low[{level}]"], r.details[f"rate_high[{level}]"]) == (
            wilson_interval(x, n, 0.1)
        )


def test_too_few_levels_flagged() -> None:
    """Three levels cannot make three segments: flagged, no zone keys, the rest computed."""
    r = run(LoyaltyCurve(), HAND)
    assert any("too few satisfaction levels" in f and "3 seen, 4 needed" in f for f in r.flags)
    assert "breakpoint_1" not in r.details and "zone[9]" not in r.details
    assert r.value == 3.0
    with pytest.raises(InsufficientDataError, match="at least 4 levels"):
        three_segment_fit(np.arange(3), np.zeros(3), np.ones(3))


def test_top_box_parameter() -> None:
    """top_box=9 compares 9 with 8: RR = 0.25 / 0.5 = 0.5."""
    assert run(LoyaltyCurve(n_boot=0, top_box=9), HAND).value == 0.5


def test_published_katz_example() -> None:
    """The relative-risk example of scipy.stats.contingency.relative_risk (Katz et al. 1978,
    "method C"): 10 of 75 exposed, 12 of 225 controls -> RR 2.5, 95% CI (1.1262, 5.5499)."""
    rr, _, low, high = risk_ratio(10, 75, 12, 225, 0.05)
    assert rr == pytest.approx(2.5)
    assert (low, high) == pytest.approx((1.1261564003469628, 5.549850800541033), rel=1e-9)


@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 60), st.integers(1, 60))
def test_katz_matches_scipy(a: int, b: int, c: int, d: int) -> None:
    from scipy.stats.contingency import relative_risk

    n1, n2 = a + b, c + d
    expected = relative_risk(a, n1, c, n2)
    rr, _, low, high = risk_ratio(a, n1, c, n2, 0.05)
    ci = expected.confidence_interval(0.95)
    assert rr == pytest.approx(expected.relative_risk, rel=1e-12)
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_risk_ratio_undefined_cases() -> None:
    assert all(math.isnan(v) for v in risk_ratio(1, 5, 0, 5, 0.05))
    assert all(math.isnan(v) for v in risk_ratio(1, 0, 1, 5, 0.05))
    rr, se, low, high = risk_ratio(0, 5, 2, 5, 0.05)
    assert rr == 0 and math.isnan(se) and math.isnan(low) and math.isnan(high)


def test_flags_for_empty_boxes() -> None:
    no_top = run(LoyaltyCurve(n_boot=0), frame_of([9, 8], [10, 2]))
    assert math.isnan(no_top.value) and no_top.ci_low is None
    assert "no answers at satisfaction 10 or 9: no risk ratio" in no_top.flags
    no_loyal_next = run(LoyaltyCurve(n_boot=0), frame_of([10, 9], [10, 2]))
    assert "no loyal answers at satisfaction 9: risk ratio undefined" in no_loyal_next.flags
    all_loyal = run(LoyaltyCurve(n_boot=0), frame_of([10, 9], [10, 9]))
    assert all_loyal.value == 1 and all_loyal.ci_low == all_loyal.ci_high == 1
    assert any(f.startswith("zero-width interval") for f in all_loyal.flags)


# -- the three-segment fit ---------------------------------------------------------------------


def test_step_curve_recovered() -> None:
    """A step from 10 % loyal (satisfaction 0-5) to 90 % (6-10), 200 answers per level: the
    continuous fit is exact with knots at 5 and 6 (flat, slope 0.8, flat); zones 0-5, -, 6-10;
    the bootstrap keeps both knots in every replicate."""
    levels = np.arange(11)
    n = np.full(11, 200)
    loyal = np.where(levels <= 5, 20, 180)
    r = run(LoyaltyCurve(n_boot=100), curve_frame(levels, n, loyal))
    d = r.details
    assert (d["breakpoint_1"], d["breakpoint_2"]) == (5.0, 6.0)
    assert (d["breakpoint_1_low"], d["breakpoint_1_high"]) == (5.0, 5.0)
    assert (d["breakpoint_2_low"], d["breakpoint_2_high"]) == (6.0, 6.0)
    assert d["slope_indifference"] == pytest.approx(0.8)
    assert d["slope_defection"] == pytest.approx(0, abs=1e-12)
    assert d["slope_affection"] == pytest.approx(0, abs=1e-12)
    assert level_table(r)["zone"] == [0.0] * 6 + [2.0] * 5
    assert d["n_boot_failed"] == 0


def test_ramp_curve_recovered() -> None:
    """Flat at 10 % to level 3, a ramp of 0.7/3 per level to 80 % at 6, flat above: knots 3, 6;
    levels 4 and 5 form the middle zone."""
    levels = np.arange(11)
    n = np.full(11, 300)
    loyal = np.round(300 * np.clip(0.1 + (levels - 3) * 0.7 / 3, 0.1, 0.8)).astype(int)
    r = run(LoyaltyCurve(n_boot=50), curve_frame(levels, n, loyal))
    assert (r.details["breakpoint_1"], r.details["breakpoint_2"]) == (3.0, 6.0)
    assert level_table(r)["zone"] == [0.0] * 4 + [1.0] * 2 + [2.0] * 5
    assert r.details["breakpoint_1_low"] <= 3 <= r.details["breakpoint_1_high"]
    assert r.details["breakpoint_2_low"] <= 6 <= r.details["breakpoint_2_high"]


SegmentFitter = Callable[[NDArray[Any], NDArray[np.float64], NDArray[np.float64]], SegmentFit]


def broken_adjacent_knots(
    levels: NDArray[Any], values: NDArray[np.float64], weights: NDArray[np.float64]
) -> SegmentFit:
    """Searches only knot pairs at neighbouring levels."""
    x = np.asarray(levels, float)
    best: SegmentFit | None = None
    for i in range(1, len(x) - 2):
        fit = _fit_pair(x, values, weights, x[i], x[i + 1])
        if best is None or fit.sse < best.sse:
            best = fit
    assert best is not None
    return best


def broken_unweighted(
    levels: NDArray[Any], values: NDArray[np.float64], weights: NDArray[np.float64]
) -> SegmentFit:
    """Ignores the counts behind each level's rate."""
    fit = three_segment_fit(levels, values, np.ones(len(values)))
    return attrs.evolve(fit, sse=float(weights @ (values - fit.fitted) ** 2))


def _fit_pair(
    x: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], k1: float, k2: float
) -> SegmentFit:
    """Weighted least squares with numpy.linalg.lstsq for one knot pair (the brute force)."""
    design = np.column_stack([np.ones_like(x), x, np.maximum(x - k1, 0), np.maximum(x - k2, 0)])
    root = np.sqrt(w)
    b = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
    fitted = design @ b
    return SegmentFit(
        breakpoints=(k1, k2),
        slopes=(b[1], b[1] + b[2], b[1] + b[2] + b[3]),
        fitted=fitted,
        sse=float(w @ (y - fitted) ** 2),
        n_best=1,
    )


curves = st.integers(5, 11).flatmap(
    lambda n_levels: st.tuples(
        st.just(n_levels),
        st.lists(st.integers(0, 100), min_size=n_levels, max_size=n_levels),
        st.lists(st.integers(1, 500), min_size=n_levels, max_size=n_levels),
    )
)


def check_least_squares(fit: SegmentFitter, *, shrink: bool = True) -> None:
    """The chosen knots give the smallest weighted SSE over every interior pair (lstsq)."""

    @(settings() if shrink else NO_SHRINK)
    @given(curves)
    def prop(case: tuple[int, list[int], list[int]]) -> None:
        n_levels, hundredths, counts = case
        x = np.arange(n_levels, dtype=float)
        y, w = np.array(hundredths) / 100, np.array(counts, float)
        brute = min(
            _fit_pair(x, y, w, x[i], x[j]).sse
            for i, j in itertools.combinations(range(1, n_levels - 1), 2)
        )
        assert fit(x, y, w).sse <= brute + 1e-9 * max(brute, 1e-6)

    prop()


def check_recovers_knots(fit: SegmentFitter, *, shrink: bool = True) -> None:
    """Noise-free continuous piecewise-linear curves with clear kinks are recovered exactly."""

    @(settings() if shrink else NO_SHRINK)
    @given(
        st.integers(6, 11).flatmap(
            lambda n: st.tuples(
                st.just(n),
                st.integers(1, n - 3).flatmap(
                    lambda i: st.tuples(st.just(i), st.integers(i + 1, n - 2))
                ),
                st.tuples(st.floats(-0.2, 0.2), st.floats(0.1, 0.3), st.floats(0.1, 0.3)),
            )
        )
    )
    def prop(case: tuple[int, tuple[int, int], tuple[float, float, float]]) -> None:
        n_levels, (k1, k2), (slope, up, down) = case
        x = np.arange(n_levels, dtype=float)
        y = slope * x + up * np.maximum(x - k1, 0) - (up + down) * np.maximum(x - k2, 0)
        got = fit(x, y, np.full(n_levels, 50.0))
        assert got.breakpoints == (float(k1), float(k2))

    prop()


def test_least_squares_holds() -> None:
    check_least_squares(three_segment_fit)


def test_least_squares_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_least_squares(broken_unweighted, shrink=False)


def test_recovers_knots_holds() -> None:
    check_recovers_knots(three_segment_fit)


def test_recovers_knots_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_recovers_knots(broken_adjacent_knots, shrink=False)


def test_flat_curve_flags_non_unique_knots() -> None:
    r = run(LoyaltyCurve(n_boot=0), curve_frame(np.arange(6), np.full(6, 10), np.full(6, 5)))
    assert "breakpoints not unique: 6 knot pairs fit equally well" in r.flags


# -- the bootstrap -----------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_resamples_counts() -> None:
    """Same seed, same intervals; the multinomial replicates keep the total and the empty cells."""
    frame = load_npsgame()
    a = compute(LoyaltyCurve(n_boot=40, seed=3), frame)
    b = compute(LoyaltyCurve(n_boot=40, seed=3), frame)
    assert a.details == b.details
    draws = resample_counts(np.array([[5, 0], [2, 3]]), 30, generator(1))
    assert set(draws.sum(axis=(1, 2)).tolist()) == {10} and not draws[:, 0, 1].any()
    assert a.method.endswith("(40 multinomial resamples of the counts, seed 3)")


def test_bootstrap_breakpoints_vary_with_noise() -> None:
    """On noisy rates the replicates spread over several knots, and a different seed gives a
    different set of replicates."""
    levels = np.arange(8)
    n = np.full(8, 25)
    loyal = np.array([3, 5, 4, 8, 12, 11, 20, 22])
    one = bootstrap_breakpoints(levels, n, loyal, 200, generator(0))
    two = bootstrap_breakpoints(levels, n, loyal, 200, generator(1))
    assert len(np.unique(one[:, 0])) > 1 and not np.array_equal(one, two)


# -- reversed scales and NPSgame ----------------------------------------------------------------


def test_reversed_scale_flag() -> None:
    """Loyalty at the lowest satisfaction level above that at the next is flagged; a rising
    curve is not."""
    reversed_ = run(LoyaltyCurve(n_boot=0), frame_of([0, 0, 1, 1, 10], [10, 9, 0, 9, 10]))
    assert any("reversed the scale" in f for f in reversed_.flags)
    rising = run(LoyaltyCurve(n_boot=0), frame_of([0, 0, 1, 1, 10], [10, 0, 9, 9, 10]))
    assert not any("reversed the scale" in f for f in rising.flags)


def test_npsgame() -> None:
    """NPSgame, satisfaction against repurchase intention (loyal = 9-10): counts per level
    recomputed from the raw columns; 141 respondents at satisfaction 1 are 29.8 % loyal
    against 10.4 % of the 67 at 2 (flagged); knots 7 and 9 from the data."""
    cols = npsgame_columns()
    s, i = cols["satisfaction"], cols["intention"]
    both = ~np.isnan(s) & ~np.isnan(i)
    r = compute(LoyaltyCurve(n_boot=50), load_npsgame())
    assert (r.n, r.n_missing) == (int(both.sum()), int((~both).sum())) == (13715, 239)
    table = level_table(r)
    for level, n, loyal in zip(table["level"], table["n"], table["loyal"], strict=True):
        at = both & (s == level)
        assert (n, loyal) == (at.sum(), (at & (i >= 9)).sum())
    assert table["level"] == [float(v) for v in range(1, 11)]
    assert any("satisfaction 1 (0.298) than at 2 (0.104)" in f for f in r.flags)
    assert (r.details["breakpoint_1"], r.details["breakpoint_2"]) == (7.0, 9.0)
    p1, p2 = 4264 / 4451, 2522 / 2771
    assert r.value == pytest.approx(p1 / p2)
    assert table["isotonic"] == pytest.approx(pava(table["rate"], table["n"]).tolist())


# -- grouping, merging, laws --------------------------------------------------------------------


def test_groups_equal_their_own_curves() -> None:
    """Each wave's curve equals the curve of that wave's rows alone (bootstrap off)."""
    frame = load_npsgame().slice(0, 3000)
    grouped = compute(LoyaltyCurve(n_boot=0, by="wave"), frame)
    for g in grouped.groups:
        if g.group == "(missing)":
            continue
        alone = compute(LoyaltyCurve(n_boot=0), frame.filter(frame.wave == g.group))
        assert g.details.keys() == alone.details.keys() and g.flags == alone.flags
        np.testing.assert_array_equal(
            [g.value, *g.details.values()], [alone.value, *alone.details.values()]
        )


def test_merge_refuses_other_parameters() -> None:
    a, b = LoyaltyCurve(), LoyaltyCurve(loyal_min=10)
    with pytest.raises(StateMismatchError, match="fingerprint"):
        a.merge(a.init(), b.init())


@pytest.mark.parametrize(
    "metric",
    [
        LoyaltyCurve(),
        LoyaltyCurve(by="wave", n_boot=20, loyal_min=7),
        LoyaltyCurve(satisfaction="csat", loyalty="nps", satisfaction_scale=(1, 5), n_boot=30),
    ],
    ids=["default", "by-wave", "five-point"],
)
def test_laws(metric: LoyaltyCurve) -> None:
    check_metric(metric, max_examples=25)


@attrs.frozen
class MaxMergeCurve(LoyaltyCurve):
    """Broken: merges counts with max instead of sum."""

    def merge(self, a: Any, b: Any) -> Any:
        merged = super().merge(a, b)
        if a.counts.shape == b.counts.shape and np.array_equal(a.levels, b.levels):
            return attrs.evolve(merged, counts=np.maximum(a.counts, b.counts))
        return merged


def test_laws_negative_control() -> None:
    frame = frame_of([10, 9, 9, 10, 9, 10], [10, 9, 2, 3, 9, 10])
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(MaxMergeCurve(n_boot=0), frame, [3], list(range(6)))


def test_registered() -> None:
    metric = get_metric("loyalty_curve", loyalty="nps", n_boot=10)
    assert isinstance(metric, LoyaltyCurve)
    assert metric.scales == {"satisfaction": (0, 10), "nps": (0, 10)}


# -- bad input ------------------------------------------------------------------------------------


def test_out_of_range_answers_raise_naming_row() -> None:
    m = LoyaltyCurve()
    frame = frame_of([10, 11, 9], [9, 9, 12], first_row=5)
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    assert (info.value.field, info.value.row, info.value.value) == ("satisfaction", 6, 11)
    assert info.value.n_failing == 2
    assert [(v.field, v.rows.tolist()) for v in m.check(frame)] == [
        ("satisfaction", [6]),
        ("intention", [7]),
    ]


def test_out_of_range_quarantined() -> None:
    data = {"satisfaction": [10, 11, 9, 10], "intention": [9, 9, -1, 10]}
    r = compute(LoyaltyCurve(n_boot=0), data, errors="quarantine")
    assert (r.n, r.details["n_rejected"]) == (2, 2.0)


def test_missing_answers_counted() -> None:
    frame = frame_of(
        [10, 9, 0, 10],
        [9, 0, 9, 10],
        answer_missing={"intention": np.array([False, True, False, False])},
    )
    r = run(LoyaltyCurve(n_boot=0), frame)
    assert (r.n, r.n_missing) == (3, 1)


def test_no_complete_rows_is_an_error() -> None:
    m = LoyaltyCurve()
    frame = frame_of([10], [9], answer_missing={"intention": np.array([True])})
    with pytest.raises(InsufficientDataError, match="no rows answer both"):
        m.finalize(m.update(m.init(), frame))


def test_missing_item_and_group_column() -> None:
    with pytest.raises(ValidationError, match="an item named 'intention'"):
        run(LoyaltyCurve(), SurveyFrame(answers={"satisfaction": np.array([1], np.int8)}))
    with pytest.raises(ValidationError, match="'wave' column"):
        run(LoyaltyCurve(by="wave"), HAND)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"loyal_min": 11}, "loyal_min"),
        ({"loyal_min": 0}, "loyal_min"),
        ({"loyalty": "satisfaction"}, "different items"),
        ({"satisfaction_scale": (5, 1)}, "satisfaction_scale"),
        ({"loyalty_scale": (0, 200)}, "loyalty_scale"),
        ({"top_box": 0}, "top_box"),
        ({"alpha": 0}, "alpha"),
        ({"seed": -1}, "seed"),
        ({"n_boot": -5}, "n_boot"),
        ({"by": "colour"}, "by"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        LoyaltyCurve(**params)
