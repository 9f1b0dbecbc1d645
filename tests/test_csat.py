"""CSAT: top-box share (Wilson), mean (t), net satisfaction; hand values, properties, laws.

Each property is a ``check_*`` function run on the real metric (must pass) and on a deliberately
broken variant (must fail).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from stickykit import compute, get_metric
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.csat import (
    CustomerSatisfaction,
    NetSatisfaction,
    SatisfactionMean,
    agresti_coull_interval,
)
from stickykit.stats.planning import required_n_proportion
from stickykit.testing import check_metric

Z95 = 1.959963984540054
Histogram = tuple[int, int, int, int, int]

#: Properties stop at the first counterexample: no shrinking (negative controls fail fast).
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate))


def frame_from(hist: Histogram, item: str = "csat") -> SurveyFrame:
    values = np.repeat(np.arange(1, 6), hist).astype(np.int8)
    return SurveyFrame(answers={item: values})


def run(metric: Any, values: list[int], **frame: Any) -> MetricResult:
    f = SurveyFrame(answers={metric.item: np.array(values, np.int8)}, **frame)
    return metric.finalize(metric.update(metric.init(), f))  # type: ignore[no-any-return]


histograms = st.tuples(*[st.integers(0, 40)] * 5).filter(lambda h: sum(h) > 0)


# -- hand-computed values -----------------------------------------------------------------------


def test_top_two_box_by_hand() -> None:
    """5, 5, 4, 4, 4, 3, 2, 1: five of eight answer 4-5, p = 0.625.
    Wilson: z^2 = 3.841459; centre 0.625 + 3.841459/16 = 0.865091;
    half 1.959964 * sqrt(0.625 * 0.375/8 + 3.841459/256) = 0.412537; denominator
    1 + 3.841459/8 = 1.480182; interval [0.452554/1.480182, 1.277628/1.480182] =
    [0.305742, 0.863156]. SE = sqrt(0.625 * 0.375/8)."""
    r = run(CustomerSatisfaction(), [5, 5, 4, 4, 4, 3, 2, 1])
    assert r.value == 0.625 and r.n == 8 and r.unit == "share"
    assert r.ci_low == pytest.approx(0.305742, abs=1e-6)
    assert r.ci_high == pytest.approx(0.863156, abs=1e-6)
    assert r.se == pytest.approx(math.sqrt(0.625 * 0.375 / 8))
    assert r.method == "Wilson score interval; share answering 4-5 of 1-5"
    assert r.details == {"n_box": 5.0}
    assert r.flags == ("small sample: n = 8 < 30",)


def test_custom_box() -> None:
    """Top box only (5 of 1-5): two of eight."""
    r = run(CustomerSatisfaction(box=(5, 5)), [5, 5, 4, 4, 4, 3, 2, 1])
    assert r.value == 0.25


def test_agresti_coull_by_hand() -> None:
    """8 of 10: p~ = (8 + 1.920729)/(10 + 3.841459) = 9.920729/13.841459 = 0.716740;
    SE = sqrt(0.716740 * 0.283260/13.841459) = 0.121111; 0.716740 -+ 1.959964 * 0.121111."""
    centre, se, low, high = agresti_coull_interval(8, 10, 0.05)
    assert centre == pytest.approx(0.716740, abs=1e-6)
    assert se == pytest.approx(0.121111, abs=1e-6)
    assert low == pytest.approx(0.716740 - Z95 * 0.121111, abs=1e-5)
    assert high == pytest.approx(0.716740 + Z95 * 0.121111, abs=1e-5)
    r = run(CustomerSatisfaction(interval="agresti-coull"), [5] * 8 + [1] * 2)
    assert r.value == 0.8 and r.details["adjusted_share"] == pytest.approx(0.716740, abs=1e-6)


def test_mean_by_hand() -> None:
    """5, 4, 4, 3: mean 4; s^2 = (4 * 66 - 16^2)/(4 * 3) = 0.666667; SE = 0.408248;
    t(3, 0.975) = 3.182446; interval 4 -+ 3.182446 * 0.408248 = 4 -+ 1.299228 =
    [2.700772, 5.299228]."""
    r = run(SatisfactionMean(), [5, 4, 4, 3])
    assert r.value == 4.0 and r.unit == "on 1-5"
    assert r.se == pytest.approx(0.408248, abs=1e-6)
    assert r.ci_low == pytest.approx(2.700772, abs=1e-6)
    assert r.ci_high == pytest.approx(5.299228, abs=1e-6)
    assert r.details == pytest.approx({"sd": math.sqrt(2 / 3), "df": 3.0})
    assert r.method == "t interval"


def test_mean_single_answer_and_constant() -> None:
    r = run(SatisfactionMean(), [4])
    assert r.value == 4 and r.ci_low is None
    assert "no interval: the t interval needs n >= 2" in r.flags
    r = run(SatisfactionMean(), [4, 4, 4])
    assert (r.ci_low, r.ci_high) == (4.0, 4.0)
    assert "zero-width t interval: every answer the same" in r.flags


def test_net_satisfaction_by_hand() -> None:
    """5, 4, 4, 3, 1: three satisfied, one neutral, one dissatisfied: (3 - 1)/5 = 40 points."""
    r = run(NetSatisfaction(interval="wald"), [5, 4, 4, 3, 1])
    assert r.value == 40.0
    assert r.details == {"satisfied": 60.0, "neutral": 20.0, "dissatisfied": 20.0}
    assert r.se == pytest.approx(100 * math.sqrt((0.8 - 0.16) / 5))


def test_weighted_share_by_hand() -> None:
    """Answers 5, 1, 4, 2 with weights 1, 1, 2, 2: box weight 3 of 6 = 0.5;
    n_eff = 6^2/(1 + 1 + 4 + 4) = 3.6; Wilson on 1.8 of 3.6."""
    from stickykit.stats.intervals import wilson_interval

    r = run(
        CustomerSatisfaction(weighted=True), [5, 1, 4, 2], weight=np.array([1.0, 1.0, 2.0, 2.0])
    )
    assert r.value == 0.5 and r.details["n_effective"] == pytest.approx(3.6)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(1.8, 3.6, 0.05))
    assert r.method.endswith("(Kish effective n)")


def test_weighted_mean_by_hand() -> None:
    """Answers 5, 3 with weights 3, 1: mean (15 + 3)/4 = 4.5; linearised variance
    2/1 * (9 * 0.25 + 1 * 2.25)/16 = 0.5625, SE 0.75; n_eff = 16/10 = 1.6, df 0.6."""
    r = run(SatisfactionMean(weighted=True), [5, 3], weight=np.array([3.0, 1.0]))
    assert r.value == 4.5
    assert r.se == pytest.approx(0.75)
    assert r.details["df"] == pytest.approx(0.6)


def test_missing_and_groups() -> None:
    data = {"csat": [5, None, 4, 1, 2], "segment": ["a", "a", "b", None, "b"]}
    r = compute(get_metric("csat", by="segment"), data)
    assert (r.n, r.n_missing) == (4, 1)
    groups = {g.group: g for g in r.groups}
    assert (groups["a"].n, groups["a"].n_missing, groups["a"].value) == (1, 1, 1.0)
    assert groups["b"].value == 0.5 and groups["(missing)"].value == 0.0
    assert all(any(f.startswith("small sample") for f in g.flags) for g in r.groups)


def test_group_without_answers() -> None:
    frame = SurveyFrame(
        answers={"csat": np.array([5, 3], np.int8)},
        answer_missing={"csat": np.array([False, True])},
        segment=np.array(["a", "b"]),
    )
    m = CustomerSatisfaction(by="segment")
    r = m.finalize(m.update(m.init(), frame))
    b = r.groups[1]
    assert math.isnan(b.value) and b.n_missing == 1 and "no valid answers" in b.flags


def test_no_answers_is_an_error() -> None:
    m = SatisfactionMean()
    with pytest.raises(InsufficientDataError, match="no valid 'csat' answers"):
        m.finalize(m.init())


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["csat", "csat_mean", "net_csat"])
@pytest.mark.parametrize(("bad", "row"), [(6, 2), (0, 2), (4.5, 2), ("x", 2)])
def test_bad_answers_raise_naming_row(name: str, bad: Any, row: int) -> None:
    data = {"csat": np.array([5, 4, bad, 3], dtype=object)}
    with pytest.raises(ValidationError) as info:
        compute(name, data)
    assert (info.value.field, info.value.row) == ("csat", row)


def test_out_of_scale_quarantined() -> None:
    r = compute("csat", {"csat": [5, 6, 4, None, 0]}, errors="quarantine")
    assert (r.n, r.n_missing, r.details["n_rejected"]) == (2, 1, 2.0)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (CustomerSatisfaction, {"box": (4, 6)}),
        (CustomerSatisfaction, {"box": (5, 4)}),
        (CustomerSatisfaction, {"scale": (5, 1)}),
        (CustomerSatisfaction, {"interval": "wald"}),
        (SatisfactionMean, {"scale": (1, 200)}),
        (NetSatisfaction, {"satisfied": (2, 5)}),
        (NetSatisfaction, {"min_n": 0}),
    ],
)
def test_bad_parameters(cls: Any, params: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        cls(**params)


# -- properties and negative controls ----------------------------------------------------------

ShareOf = Callable[[Histogram], MetricResult]


def real_share(hist: Histogram) -> MetricResult:
    m = CustomerSatisfaction()
    return m.finalize(m.update(m.init(), frame_from(hist)))


def broken_odds(hist: Histogram) -> MetricResult:
    """Satisfied over not satisfied (odds), not a share."""
    r = real_share(hist)
    x = hist[3] + hist[4]
    return attrs.evolve(r, value=x / max(sum(hist) - x, 1))


def broken_wald(hist: Histogram) -> MetricResult:
    """Wald interval instead of Wilson: leaves [0, 1] and has zero width at 0 or 1."""
    r = real_share(hist)
    p, n = r.value, r.n
    half = Z95 * math.sqrt(p * (1 - p) / n)
    return attrs.evolve(r, ci_low=p - half, ci_high=p + half)


def broken_centred_on_wilson(hist: Histogram) -> MetricResult:
    """A narrow interval around the Wilson centre, which may miss the estimate."""
    r = real_share(hist)
    centre = (r.ci_low + r.ci_high) / 2  # type: ignore[operator]
    return attrs.evolve(r, ci_low=centre - 1e-3, ci_high=centre + 1e-3)


def check_share(share_of: ShareOf) -> None:
    @NO_SHRINK
    @given(histograms)
    @example((1, 0, 0, 0, 5))  # p = 5/6: Wald leaves [0, 1]
    @example((3, 0, 0, 0, 0))
    @example((0, 0, 0, 0, 7))
    def prop(hist: Histogram) -> None:
        r = share_of(hist)
        assert 0 <= r.value <= 1
        assert 0 <= r.ci_low <= r.value <= r.ci_high <= 1  # type: ignore[operator]

    prop()


def test_share_in_unit_interval_and_wilson_contains_it() -> None:
    check_share(real_share)


@pytest.mark.parametrize("broken", [broken_odds, broken_wald, broken_centred_on_wilson])
def test_share_negative_controls(broken: ShareOf) -> None:
    with pytest.raises(AssertionError):
        check_share(broken)


def real_mean(hist: Histogram) -> MetricResult:
    m = SatisfactionMean()
    return m.finalize(m.update(m.init(), frame_from(hist)))


def broken_mean_divisor(hist: Histogram) -> MetricResult:
    """Sum divided by n - 1: leaves the scale."""
    r = real_mean(hist)
    n = sum(hist)
    return attrs.evolve(r, value=r.value * n / max(n - 1, 1))


def check_mean(mean_of: ShareOf) -> None:
    @NO_SHRINK
    @given(histograms.filter(lambda h: sum(h) > 1))
    @example((0, 0, 0, 0, 2))
    def prop(hist: Histogram) -> None:
        r = mean_of(hist)
        assert 1 <= r.value <= 5
        assert r.ci_low <= r.value <= r.ci_high  # type: ignore[operator]
        wider = mean_of(tuple(4 * h for h in hist))  # type: ignore[arg-type]
        assert wider.ci_high - wider.ci_low <= r.ci_high - r.ci_low  # type: ignore[operator]

    prop()


def test_mean_inside_scale_and_interval_shrinks() -> None:
    check_mean(real_mean)


def test_mean_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_mean(broken_mean_divisor)


def check_equal_weights(metric: Any) -> None:
    @NO_SHRINK
    @given(histograms, st.floats(0.1, 10))
    @example((1, 0, 2, 0, 3), 2.0)
    def prop(hist: Histogram, w: float) -> None:
        frame = frame_from(hist)
        weighted = attrs.evolve(metric, weighted=True)
        a = weighted.finalize(
            weighted.update(weighted.init(), attrs.evolve(frame, weight=np.full(len(frame), w)))
        )
        b = metric.finalize(metric.update(metric.init(), frame))
        assert math.isclose(a.value, b.value, rel_tol=1e-9, abs_tol=1e-12)
        if b.ci_low is not None and a.ci_low is not None:
            assert math.isclose(a.ci_low, b.ci_low, rel_tol=1e-9, abs_tol=1e-12)

    prop()


@attrs.frozen
class SquaredWeightShare(CustomerSatisfaction):
    """Broken: weights the box share by w^2 / w (uses the wrong weight sums)."""

    def summarise(self, counts: Any, weight_sums: Any, weight_sq_sums: Any) -> Any:
        return super().summarise(counts, weight_sq_sums * 0 + counts, weight_sq_sums)


def test_equal_weights_equal_unweighted() -> None:
    check_equal_weights(CustomerSatisfaction())
    check_equal_weights(SatisfactionMean())


def test_equal_weights_negative_control() -> None:
    """Counting answers instead of weights breaks the Kish n_eff when weights are not 1."""
    with pytest.raises(AssertionError):
        check_equal_weights(SquaredWeightShare())


# -- planning (proportions) ----------------------------------------------------------------------


def test_required_n_proportion_by_hand() -> None:
    """Worst case ±5 points: 1.959964^2/(4 * 0.05^2) = 384.15 -> 385;
    p = 0.8, ±3 points: 3.841459 * 0.16/0.0009 = 682.93 -> 683."""
    assert required_n_proportion(0.05) == 385
    assert required_n_proportion(0.03, p=0.8) == 683
    with pytest.raises(ValueError, match="margin"):
        required_n_proportion(3)
    with pytest.raises(ValueError, match="share"):
        required_n_proportion(0.03, p=1.5)


# -- laws -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        CustomerSatisfaction(),
        CustomerSatisfaction(by="segment", weighted=True, interval="agresti-coull"),
        CustomerSatisfaction(scale=(0, 10), box=(9, 10), by="customer_id"),
        SatisfactionMean(by="wave", weighted=True),
        NetSatisfaction(by="wave", interval="score"),
        NetSatisfaction(weighted=True, interval="t"),
    ],
    ids=["csat", "csat-ac-weighted", "csat-0-10", "mean-weighted", "net-score", "net-t-weighted"],
)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=15)
