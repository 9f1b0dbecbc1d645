"""Net score engine: Tango score and trinomial t intervals, custom bands, sample size planning.

Each property is a ``check_*`` function run on the real formula (must pass) and on a
deliberately broken one (must fail: the negative control).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from stickykit import compute
from stickykit.errors import ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.netscore import (
    NetScore,
    net_interval,
    tango_interval,
    tango_z,
    trinomial_t_interval,
)
from stickykit.metrics.survey.nps import NetPromoterScore
from stickykit.stats.planning import required_n
from stickykit.testing import check_metric

Z95 = 1.959963984540054
Interval = Callable[[int, int, int], tuple[float, float]]

#: Properties stop at the first counterexample: no shrinking (negative controls fail fast).
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate))


def frame_of(det: int, pas: int, pro: int) -> SurveyFrame:
    values = np.array([0] * det + [7] * pas + [10] * pro, dtype=np.int8)
    return SurveyFrame(answers={"nps": values})


def nps_result(det: int, pas: int, pro: int, **params: Any) -> MetricResult:
    m = NetPromoterScore(**params)
    return m.finalize(m.update(m.init(), frame_of(det, pas, pro)))


def tango(det: int, pas: int, pro: int) -> tuple[float, float]:
    return tango_interval(pro, det, det + pas + pro, 0.05)


counts = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)).filter(
    lambda c: sum(c) > 0
)


# -- an independent check of the score interval -----------------------------------------------


def constrained_negative_share(b: int, c: int, n: int, delta: float) -> float:
    """Maximum-likelihood detractor share under NPS = delta, found numerically (no closed form)."""
    from scipy.optimize import minimize_scalar

    a = n - b - c
    lo, hi = max(0.0, -delta) + 1e-15, (1 - delta) / 2 - 1e-15

    def negative_log_likelihood(q: float) -> float:
        total = 0.0
        for count, share in ((b, q), (c, q + delta), (a, 1 - 2 * q - delta)):
            if count:
                total -= count * math.log(share)
        return total

    found = minimize_scalar(
        negative_log_likelihood, bounds=(lo, hi), method="bounded", options={"xatol": 1e-14}
    )
    return float(found.x)


def independent_z(b: int, c: int, n: int, delta: float) -> float:
    q = constrained_negative_share(b, c, n, delta)
    return (c - b - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))


@pytest.mark.parametrize(("det", "pas", "pro"), [(1, 2, 3), (7, 2, 2), (3, 7, 10), (0, 4, 9)])
def test_tango_limits_invert_the_score_test(det: int, pas: int, pro: int) -> None:
    """Each limit is where |z| crosses 1.96, with z built from a numerically maximised
    constrained likelihood (independent of the quadratic's closed-form root)."""
    n = det + pas + pro
    low, high = tango(det, pas, pro)
    step = 1e-6
    assert (
        abs(independent_z(det, pro, n, low + step))
        < Z95
        < abs(independent_z(det, pro, n, low - step))
    )
    assert (
        abs(independent_z(det, pro, n, high - step))
        < Z95
        < abs(independent_z(det, pro, n, high + step))
    )
    assert math.isclose(tango_z(pro, det, n, low), Z95, rel_tol=1e-6)


def test_tango_closed_forms() -> None:
    """Derived by hand from the score equation.

    All n answers passive (b = c = 0): q = max(0, -D), z^2 = nD/(1 - D), so the limits are
    +-z^2/(n + z^2); n = 4: 3.8415/7.8415 = 0.48989.
    All promoters (c = n): q = (1 - D)/2, z^2 = n(1 - D)/(1 + D), lower limit
    (n - z^2)/(n + z^2); n = 5: 1.1585/8.8415 = 0.13103; upper limit 1.
    """
    z2 = Z95**2
    low, high = tango(0, 4, 0)
    assert low == pytest.approx(-z2 / (4 + z2), abs=1e-9)
    assert high == pytest.approx(z2 / (4 + z2), abs=1e-9)
    assert math.isclose(z2 / (4 + z2), 0.48989, abs_tol=1e-5)
    low, high = tango(0, 0, 5)
    assert (low, high) == (pytest.approx((5 - z2) / (5 + z2), abs=1e-9), 1.0)
    assert math.isclose(low, 0.13103, abs_tol=1e-5)
    assert tango(5, 0, 0) == (-1.0, pytest.approx(-(5 - z2) / (5 + z2), abs=1e-9))


def test_seven_two_two() -> None:
    """(det, pas, pro) = (7, 2, 2): s-bar = -5/11 = -0.45455; sum s^2 = 9, so
    sd^2 = (9 - 11 * 25/121)/10 = 0.672727, SE = sqrt(0.672727/11) = 0.247299; t(10) = 2.228139:
    t interval -0.45455 -+ 0.55102 = [-1.00557, 0.09647], outside [-1, 1]. The score interval
    stays inside and (2, 2, 7) mirrors it."""
    se, low, high = trinomial_t_interval(2, 7, 11, 0.05)
    assert se == pytest.approx(0.247299, abs=1e-6)
    assert low == pytest.approx(-1.00557, abs=1e-5)
    assert high == pytest.approx(0.09647, abs=1e-5)
    assert low < -1
    score = tango(7, 2, 2)
    assert -1 <= score[0] < -5 / 11 < score[1] <= 1
    mirrored = tango(2, 2, 7)
    assert mirrored[0] == pytest.approx(-score[1], abs=1e-9)
    assert mirrored[1] == pytest.approx(-score[0], abs=1e-9)
    r = nps_result(7, 2, 2, interval="t")
    assert r.ci_low == pytest.approx(-100.557, abs=1e-3)
    assert "the t interval leaves [-100, 100]" in r.flags
    assert r.details["df"] == 10


def test_score_interval_through_the_metric() -> None:
    r = nps_result(1, 2, 3, interval="score")
    low, high = tango(1, 2, 3)
    assert r.method == "iterative score (Tango 1998)"
    assert (r.ci_low, r.ci_high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert r.value == pytest.approx(100 * 2 / 6)
    # se is the Wald standard error of the estimate: (4/6 - 1/9)/6
    assert r.se == pytest.approx(100 * math.sqrt((4 / 6 - 1 / 9) / 6))


# -- properties and their negative controls -------------------------------------------------------


def check_inside(interval: Interval) -> None:
    @NO_SHRINK
    @given(counts)
    @example((0, 1, 5))  # nearly all promoters: Wald leaves [-1, 1]
    @example((7, 2, 2))
    def prop(c: tuple[int, int, int]) -> None:
        det, pas, pro = c
        low, high = interval(det, pas, pro)
        estimate = (pro - det) / (det + pas + pro)
        assert -1 <= low <= estimate <= high <= 1

    prop()


def check_shrinks(interval: Interval) -> None:
    @NO_SHRINK
    @given(counts)
    def prop(c: tuple[int, int, int]) -> None:
        det, pas, pro = c
        low, high = interval(det, pas, pro)
        low4, high4 = interval(4 * det, 4 * pas, 4 * pro)
        assert high4 - low4 < high - low

    prop()


def check_mirror(interval: Interval) -> None:
    @NO_SHRINK
    @given(counts)
    def prop(c: tuple[int, int, int]) -> None:
        det, pas, pro = c
        low, high = interval(det, pas, pro)
        low_m, high_m = interval(pro, pas, det)
        assert math.isclose(low, -high_m, abs_tol=1e-9)
        assert math.isclose(high, -low_m, abs_tol=1e-9)

    prop()


def broken_unclipped_wald(det: int, pas: int, pro: int) -> tuple[float, float]:
    _, _, low, high = net_interval(pro, det, det + pas + pro, 0.05, "wald")
    return low, high


def broken_fixed_width(det: int, pas: int, pro: int) -> tuple[float, float]:
    estimate = (pro - det) / (det + pas + pro)
    return max(-1.0, estimate - 0.1), min(1.0, estimate + 0.1)


def broken_lopsided(det: int, pas: int, pro: int) -> tuple[float, float]:
    """A pseudo-promoter added before the score interval."""
    return tango_interval(pro + 1, det, det + pas + pro + 1, 0.05)


def via_metric(det: int, pas: int, pro: int) -> tuple[float, float]:
    r = nps_result(det, pas, pro, interval="score")
    return r.ci_low / 100, r.ci_high / 100  # type: ignore[operator]


def test_score_interval_inside_and_contains_estimate() -> None:
    check_inside(tango)
    check_inside(via_metric)


def test_inside_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_inside(broken_unclipped_wald)


def test_score_interval_shrinks_with_n() -> None:
    check_shrinks(tango)


def test_shrinks_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_shrinks(broken_fixed_width)


def test_score_interval_mirrors() -> None:
    check_mirror(tango)


def test_mirror_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_mirror(broken_lopsided)


def test_t_interval_mirrors_and_centres() -> None:
    def t_limits(det: int, pas: int, pro: int) -> tuple[float, float]:
        _, low, high = trinomial_t_interval(pro, det, det + pas + pro, 0.05)
        return (low, high) if det + pas + pro > 1 else (0.0, 0.0)

    check_mirror(t_limits)


# -- the generic engine ------------------------------------------------------------------------


def test_generic_net_score_by_hand() -> None:
    """Answers 5, 4, 3, 2, 1, 1 on 1-5 with 4-5 positive and 1-2 negative: 2 positive,
    1 middle, 3 negative, net = (2 - 3)/6 = -16.67 points."""
    m = NetScore(item="q", scale=(1, 5), negative=(1, 2), positive=(4, 5), interval="wald")
    frame = SurveyFrame(answers={"q": np.array([5, 4, 3, 2, 1, 1], np.int8)})
    r = m.finalize(m.update(m.init(), frame))
    assert r.value == pytest.approx(-100 / 6)
    assert r.details == pytest.approx({"positive": 100 / 3, "middle": 100 / 6, "negative": 50.0})
    assert r.se == pytest.approx(100 * math.sqrt((5 / 6 - 1 / 36) / 6))


def test_positive_band_at_the_low_end() -> None:
    """Low answers good: positive 1-2, negative 4-5 turns the same answers into +16.67."""
    m = NetScore(item="q", scale=(1, 5), negative=(4, 5), positive=(1, 2))
    frame = SurveyFrame(answers={"q": np.array([5, 4, 3, 2, 1, 1], np.int8)})
    assert m.finalize(m.update(m.init(), frame)).value == pytest.approx(100 / 6)


@pytest.mark.parametrize(
    "params",
    [
        {"negative": (0, 6), "positive": (6, 10)},
        {"negative": (1, 6), "positive": (9, 10)},
        {"negative": (0, 6), "positive": (9, 9)},
        {"scale": (1, 5), "negative": (0, 2), "positive": (4, 5)},
        {"scale": (5, 1)},
        {"interval": "exact"},
        {"alpha": 0},
    ],
)
def test_bad_bands_and_parameters(params: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        NetScore(**params)


def test_out_of_scale_and_non_integer_answers() -> None:
    m = NetScore(item="q", scale=(1, 5), negative=(1, 2), positive=(4, 5))
    frame = SurveyFrame(answers={"q": np.array([5, 0, 3], np.int8)})
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame)
    assert (info.value.field, info.value.row, info.value.value) == ("q", 1, 0)
    with pytest.raises(ValidationError) as info:
        compute(m, {"q": [5, 4.5, 3]})
    assert info.value.row == 1


def test_weighted_score_interval_equal_weights() -> None:
    """Equal weights give n_eff = n, so the Kish score interval equals the unweighted one."""
    frame = frame_of(3, 4, 5)
    m = NetPromoterScore(weighted=True, interval="score")
    r = m.finalize(m.update(m.init(), attrs.evolve(frame, weight=np.full(12, 2.5))))
    plain = nps_result(3, 4, 5, interval="score")
    assert r.ci_low == pytest.approx(plain.ci_low)
    assert r.ci_high == pytest.approx(plain.ci_high)
    assert r.details["n_effective"] == pytest.approx(12)
    assert r.details["weight_sum"] == pytest.approx(30)
    assert r.method == "iterative score (Tango 1998) on the Kish effective n"


def test_weighted_t_uses_kish_degrees_of_freedom() -> None:
    frame = frame_of(3, 4, 5)
    w = np.linspace(1, 3, 12)
    m = NetPromoterScore(weighted=True, interval="t")
    r = m.finalize(m.update(m.init(), attrs.evolve(frame, weight=w)))
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert r.details["df"] == pytest.approx(n_eff - 1)
    wald = NetPromoterScore(weighted=True, interval="wald")
    rw = wald.finalize(wald.update(wald.init(), attrs.evolve(frame, weight=w)))
    assert r.se == pytest.approx(rw.se)
    assert r.ci_high - r.ci_low > rw.ci_high - rw.ci_low  # type: ignore[operator]


def test_single_answer_t_has_no_interval() -> None:
    r = nps_result(0, 0, 1, interval="t")
    assert r.ci_low is None and "no interval: the t interval needs n >= 2" in r.flags


# -- sample size planning (net scores) -------------------------------------------------------------


def test_required_n_published_worst_case() -> None:
    """±5 points at 95 %: (1.959964/0.05)^2 = 1536.58, so 1,537 (REFERENCES section 1)."""
    assert required_n(0.05) == 1537


def test_required_n_by_hand() -> None:
    """p = 0.6, d = 0.1: p + d - (p - d)^2 = 0.45; 1.959964^2 * 0.45 / 0.0025 = 691.46 -> 692.
    At 90 %: z = 1.644854, (1.644854/0.05)^2 = 1082.24 -> 1083."""
    assert required_n(0.05, p=0.6, d=0.1) == 692
    assert required_n(0.05, level=0.90) == 1083
    assert required_n(0.05, p=0.5, d=0.5) == 1537


def test_required_n_shrinks_with_margin_and_variance() -> None:
    assert required_n(0.10) < required_n(0.05) < required_n(0.02)
    assert required_n(0.05, p=0.9, d=0.05) < required_n(0.05, p=0.4, d=0.3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"margin": 5},
        {"margin": 0},
        {"margin": 0.05, "p": 0.5},
        {"margin": 0.05, "level": 95},
        {"margin": 0.05, "p": 0.7, "d": 0.5},
    ],
)
def test_required_n_bad_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"margin|p|level"):
        required_n(**kwargs)


# -- laws -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        NetScore(),
        NetScore(scale=(1, 5), negative=(4, 5), positive=(1, 2), by="wave", interval="score"),
        NetScore(scale=(1, 7), negative=(1, 3), positive=(5, 7), weighted=True, interval="t"),
        NetPromoterScore(interval="score", by="segment"),
        NetPromoterScore(interval="t", weighted=True),
    ],
    ids=["generic", "reversed-by-wave-score", "weighted-t", "nps-score", "nps-t-weighted"],
)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=15)


def test_threaded_counts_equal_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting in several threads gives the counts and the range error of one thread."""
    from stickykit.core.threads import kernel_threads
    from stickykit.metrics.survey import netscore

    rng = np.random.default_rng(3)
    values = rng.integers(0, 11, 5_000).astype(np.int8)
    answered = rng.random(5_000) < 0.9
    serial = netscore.count_categories(values, answered, 6, 9, scale=(0, 10))
    monkeypatch.setattr(netscore, "THREAD_MIN_ROWS", 100)
    monkeypatch.setenv("STICKYKIT_MAX_THREADS", "3")
    assert kernel_threads(len(values), netscore.THREAD_MIN_ROWS) == min(3, os.cpu_count() or 1)
    assert netscore.count_categories(values, answered, 6, 9, scale=(0, 10)) == serial
    values[4_999] = 11
    with pytest.raises(netscore.OutOfScaleError):
        netscore.count_categories(values, None, 6, 9, scale=(0, 10))
