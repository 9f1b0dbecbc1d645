"""CES 1.0 and CES 2.0: variants as identity, direction, mean, share easy and Net Easy.

CES 1.0: Dixon, Freeman & Toman (2010), HBR 88(7/8): 1-5 effort, lower is better.
CES 2.0: Dixon, Toman & DeLisi (2013), The Effortless Experience: 1-7 agreement, higher is
better. Each property runs on the real metric and on a deliberately broken one (must fail).
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
from stickykit.errors import StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.ces import (
    CES_VARIANTS,
    CESEasyShare,
    CustomerEffortScore,
    NetEasyScore,
)
from stickykit.metrics.survey.compare import compare_benchmark, compare_independent
from stickykit.metrics.survey.netscore import NetScore
from stickykit.testing import check_metric

#: Properties stop at the first counterexample: no shrinking (negative controls fail fast).
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate))


def run(metric: Any, values: list[int], **frame: Any) -> MetricResult:
    f = SurveyFrame(answers={"ces": np.array(values, np.int8)}, **frame)
    return metric.finalize(metric.update(metric.init(), f))  # type: ignore[no-any-return]


# -- variants are part of the identity ------------------------------------------------------------


@pytest.mark.parametrize("cls", [CustomerEffortScore, CESEasyShare, NetEasyScore])
def test_variant_scale_and_direction_in_params(cls: Any) -> None:
    one, two = cls(variant="1.0"), cls(variant="2.0")
    assert one.params()["scale"] == [1, 5] and one.params()["direction"] == "lower is better"
    assert two.params()["scale"] == [1, 7] and two.params()["direction"] == "higher is better"
    assert one.fingerprint != two.fingerprint
    with pytest.raises(StateMismatchError, match="fingerprint"):
        one.merge(one.init(), two.init())


@pytest.mark.parametrize("cls", [CustomerEffortScore, CESEasyShare, NetEasyScore])
def test_scale_and_direction_follow_the_variant_only(cls: Any) -> None:
    with pytest.raises(TypeError):
        cls(variant="1.0", direction="higher is better")
    with pytest.raises(TypeError):
        cls(variant="1.0", scale=(1, 7))
    with pytest.raises(ValueError, match="variant"):
        cls(variant="3.0")


def test_results_name_the_variant() -> None:
    r1 = run(CustomerEffortScore(variant="1.0"), [1, 2, 2, 4, 5])
    r2 = run(CustomerEffortScore(), [7, 6, 6, 5, 2])
    assert r1.method == "t interval; CES 1.0 (1-5 effort, lower is better)"
    assert r2.method == "t interval; CES 2.0 (1-7 agreement, higher is better)"
    assert r1.reference.startswith("CES 1.0: Dixon, Freeman & Toman (2010)")
    assert r2.reference.startswith("CES 2.0: Dixon, Toman & DeLisi (2013)")
    assert r1.params["variant"] == "1.0" and r2.params["variant"] == "2.0"


# -- hand-computed values ----------------------------------------------------------------------------


def test_ces_one_by_hand() -> None:
    """CES 1.0 answers 1, 2, 2, 4, 5: mean 14/5 = 2.8; share easy (1-2) 3/5;
    Net Easy (1-2 minus 4-5) = (3 - 2)/5 = 20 points."""
    assert run(CustomerEffortScore(variant="1.0"), [1, 2, 2, 4, 5]).value == pytest.approx(2.8)
    assert run(CESEasyShare(variant="1.0"), [1, 2, 2, 4, 5]).value == pytest.approx(0.6)
    r = run(NetEasyScore(variant="1.0", interval="wald"), [1, 2, 2, 4, 5])
    assert r.value == pytest.approx(20.0)
    assert r.details == pytest.approx({"easy": 60.0, "neutral": 0.0, "difficult": 40.0})
    assert r.method == "Wald; CES 1.0 (1-5 effort, lower is better)"


def test_ces_two_by_hand() -> None:
    """CES 2.0 answers 7, 6, 6, 5, 4, 2: mean 30/6 = 5; easy (5-7) 4/6; difficult (1-3) 1/6;
    Net Easy = (4 - 1)/6 = 50 points; s^2 = (6 * 166 - 900)/30 = 3.2."""
    r = run(CustomerEffortScore(), [7, 6, 6, 5, 4, 2])
    assert r.value == 5.0 and r.details["sd"] == pytest.approx(math.sqrt(3.2))
    assert run(CESEasyShare(), [7, 6, 6, 5, 4, 2]).value == pytest.approx(4 / 6)
    assert run(NetEasyScore(), [7, 6, 6, 5, 4, 2]).value == pytest.approx(50.0)


def test_custom_easy_band() -> None:
    """Top-2 box on CES 2.0: 6-7 only."""
    assert run(CESEasyShare(easy=(6, 7)), [7, 6, 6, 5, 4, 2]).value == pytest.approx(0.5)


# -- direction -------------------------------------------------------------------------------------

answers_one = st.lists(st.integers(1, 5), min_size=2, max_size=40)


def real_ces_one(values: list[int]) -> MetricResult:
    return run(CustomerEffortScore(variant="1.0"), values)


@attrs.frozen
class MislabelledCES(CustomerEffortScore):
    """Broken: a CES 1.0 mean that reports the CES 2.0 direction."""

    def params(self) -> dict[str, Any]:
        return {**super().params(), "direction": "higher is better"}


def check_never_higher_is_better(score: Callable[[list[int]], MetricResult]) -> None:
    @NO_SHRINK
    @given(answers_one)
    def prop(values: list[int]) -> None:
        r = score(values)
        text = f"{r} {r.method} {r.params} {r.reference}"
        assert "higher is better" not in text
        assert r.params["direction"] == "lower is better"

    prop()


def test_lower_is_better_never_reports_higher_is_better() -> None:
    check_never_higher_is_better(real_ces_one)
    assert CustomerEffortScore.higher_is_better is None


def test_direction_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_never_higher_is_better(lambda v: run(MislabelledCES(variant="1.0"), v))


def real_net_easy_one(values: list[int]) -> float:
    return run(NetEasyScore(variant="1.0"), values).value


def broken_net_easy_one(values: list[int]) -> float:
    """CES 1.0 answers scored as if high were easy (the CES 2.0 orientation)."""
    m = NetScore(item="ces", scale=(1, 5), negative=(1, 2), positive=(4, 5))
    return run(m, values).value


def check_less_effort_scores_higher(net_easy: Callable[[list[int]], float]) -> None:
    """On CES 1.0 a lower answer is less effort: lowering any answer never lowers Net Easy."""

    @NO_SHRINK
    @given(answers_one, st.data())
    @example([5, 5, 3], None)
    def prop(values: list[int], data: Any) -> None:
        i = data.draw(st.integers(0, len(values) - 1)) if data is not None else 0
        easier = list(values)
        easier[i] = max(1, easier[i] - 2)
        assert net_easy(easier) >= net_easy(values) - 1e-9

    prop()


def test_less_effort_scores_higher() -> None:
    check_less_effort_scores_higher(real_net_easy_one)


def test_less_effort_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_less_effort_scores_higher(broken_net_easy_one)


def test_benchmark_direction_for_lower_is_better() -> None:
    """For CES 1.0 'better than a benchmark' means below it: alternative='less'."""
    r = run(CustomerEffortScore(variant="1.0"), [1, 1, 2, 2, 1, 2, 3, 1, 2, 1] * 4)
    below = compare_benchmark(r, 3.0, alternative="less")
    assert below.difference == pytest.approx(1.6 - 3.0)
    assert below.p_value < 0.001 and below.ci_low == -math.inf


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "variant", "bad"), [("ces", "1.0", 6), ("ces_easy", "1.0", 0), ("net_easy", "2.0", 8)]
)
def test_out_of_scale_answers(name: str, variant: str, bad: int) -> None:
    with pytest.raises(ValidationError) as info:
        compute(get_metric(name, variant=variant), {"ces": [1, 2, bad, 3]})
    assert (info.value.field, info.value.row, info.value.value) == ("ces", 2, bad)
    assert info.value.expected == f"an integer in [1, {CES_VARIANTS[variant].scale[1]}]"


def test_seven_is_valid_on_ces_two_only() -> None:
    assert compute("ces", {"ces": [7, 1]}).value == 4.0
    with pytest.raises(ValidationError):
        compute(get_metric("ces", variant="1.0"), {"ces": [7, 1]})


def test_non_integer_answer() -> None:
    with pytest.raises(ValidationError) as info:
        compute("net_easy", {"ces": [7, 5.5]})
    assert info.value.row == 1


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (CESEasyShare, {"variant": "1.0", "easy": (4, 5)}),
        (CESEasyShare, {"variant": "2.0", "easy": (1, 3)}),
        (CESEasyShare, {"variant": "1.0", "easy": (1, 7)}),
        (NetEasyScore, {"variant": "1.0", "easy": (4, 5), "difficult": (1, 2)}),
        (NetEasyScore, {"easy": (3, 7)}),
    ],
)
def test_bands_must_respect_the_variant(cls: Any, params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"easy|band|scale"):
        cls(**params)


def test_comparing_variants_is_refused() -> None:
    one = run(CustomerEffortScore(variant="1.0"), [1, 2, 3, 2])
    two = run(CustomerEffortScore(variant="2.0"), [5, 6, 7, 6])
    with pytest.raises(ValidationError) as info:
        compare_independent(one, two)
    assert info.value.field == "params" and "variant" in info.value.value
    easy = run(CESEasyShare(), [5, 6, 7, 6])
    with pytest.raises(ValidationError, match="same metric"):
        compare_independent(two, easy)


# -- laws --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        CustomerEffortScore(variant="1.0"),
        CustomerEffortScore(by="segment", weighted=True),
        CESEasyShare(variant="1.0", by="wave"),
        CESEasyShare(weighted=True, interval="agresti-coull"),
        NetEasyScore(variant="1.0", interval="score", by="wave"),
        NetEasyScore(weighted=True),
    ],
    ids=["mean-1", "mean-2-weighted", "easy-1", "easy-2-ac", "net-1-score", "net-2-weighted"],
)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=15)
