"""Before/after comparisons: 30 % -> 60 % is +30 points and +100 %; the delta method on the
log ratio; the paired customer bootstrap against the analytic paired net score; negative
controls for the formulas and for ignoring the pairing."""

from __future__ import annotations

import datetime as dt
import math

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stickykit.errors import ValidationError
from stickykit.frames import EventFrame, SurveyFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.before_after import Change, before_after, compare_results
from stickykit.metrics.behaviour.repurchase import RepeatCustomerRate
from stickykit.metrics.behaviour.retention import RevenueRetention
from stickykit.metrics.survey.compare import PairedNetScore
from stickykit.metrics.survey.nps import NetPromoterScore

FAST = settings(max_examples=30, deadline=None)
Z95 = 1.959963984540054


def result(
    value: float, se: float | None, *, unit: str = "share", metric: str = "rate", n: int = 400
) -> MetricResult:
    return MetricResult(
        metric=metric,
        value=value,
        n=n,
        n_missing=0,
        se=se,
        ci_low=None,
        ci_high=None,
        level=None,
        method="-",
        reference="-",
        params={},
        as_of=None,
        version="0",
        unit=unit,
    )


def reads_correctly(before: float, after: float, points: float, relative: float) -> bool:
    """The two readings of a change of a share: points = 100 (after - before) and
    relative = after / before - 1."""
    return math.isclose(points, 100 * (after - before)) and math.isclose(
        relative, after / before - 1
    )


# -- the 30 % -> 60 % case -------------------------------------------------------------------------


def test_thirty_to_sixty_percent() -> None:
    """120 of 400 then 240 of 400: +30 points, +100 %. Wald standard errors
    sqrt(.3 x .7/400) = .02291 and sqrt(.6 x .4/400) = .02449; absolute interval
    .3 +- 1.96 sqrt(.02291^2 + .02449^2) = .3 +- .0657; log ratio log 2 +- 1.96
    sqrt((.02291/.3)^2 + (.02449/.6)^2) = .6931 +- .1697 -> relative 68.8 % to 137.0 %."""
    se0, se1 = math.sqrt(0.3 * 0.7 / 400), math.sqrt(0.6 * 0.4 / 400)
    c = compare_results(result(0.3, se0), result(0.6, se1))
    assert c.points == pytest.approx(30.0)
    assert c.relative == pytest.approx(1.0)
    assert reads_correctly(0.3, 0.6, c.points, c.relative)
    half = Z95 * math.hypot(se0, se1)
    assert (c.absolute_low, c.absolute_high) == pytest.approx((0.3 - half, 0.3 + half))
    spread = Z95 * math.hypot(se0 / 0.3, se1 / 0.6)
    assert c.relative_low == pytest.approx(math.exp(math.log(2) - spread) - 1)
    assert c.relative_high == pytest.approx(math.exp(math.log(2) + spread) - 1)
    assert (round(c.relative_low, 3), round(c.relative_high, 3)) == (0.688, 1.370)
    assert "+30.0 points" in str(c) and "+100.0%" in str(c)


def test_wrong_readings_are_rejected() -> None:
    """Negative control: the ratio itself (+200 %), the difference read as a relative change
    (+30 %) and the points read against the base in percent units (+300 %: 30 points / 0.1...)
    all fail the check that the correct readings pass."""
    assert reads_correctly(0.3, 0.6, 30.0, 1.0)
    assert not reads_correctly(0.3, 0.6, 30.0, 2.0)
    assert not reads_correctly(0.3, 0.6, 30.0, 0.3)
    assert not reads_correctly(0.3, 0.6, 30.0, 3.0)
    assert not reads_correctly(0.3, 0.6, 0.3, 1.0)


@FAST
@given(
    st.floats(0.1, 100),
    st.floats(0.1, 100),
    st.floats(0.001, 1),
    st.floats(0.001, 1),
)
def test_change_properties(before: float, after: float, se0: float, se1: float) -> None:
    c = compare_results(result(before, se0, unit="x"), result(after, se1, unit="x"))
    assert c.absolute == pytest.approx(after - before)
    assert (1 + c.relative) * before == pytest.approx(after)
    assert -1 < c.relative_low <= c.relative <= c.relative_high
    assert c.absolute_low <= c.absolute <= c.absolute_high
    back = compare_results(result(after, se1, unit="x"), result(before, se0, unit="x"))
    assert back.absolute == pytest.approx(-c.absolute)
    # the log-ratio interval maps onto itself when the sides swap; a bound near -100 % holds
    # 1 + bound to an absolute precision of about 1e-16 only, hence the widened tolerance
    eps = np.finfo(float).eps
    assert back.relative_low == pytest.approx(
        1 / (1 + c.relative_high) - 1, rel=1e-6 + 8 * eps / (1 + back.relative_low)
    )
    assert back.relative_high == pytest.approx(
        1 / (1 + c.relative_low) - 1, rel=1e-6 + 8 * eps / (1 + c.relative_low)
    )


def test_linear_relative_interval_negative_control() -> None:
    """A symmetric interval on the relative change itself (delta method on the ratio, not its
    log) can fall below -100 %, which the property above forbids; the log-ratio one cannot."""
    before, se0, after, se1 = 0.10, 0.04, 0.03, 0.02
    ratio = after / before
    se_ratio = ratio * math.hypot(se0 / before, se1 / after)
    assert ratio - 1 - Z95 * se_ratio < -1
    c = compare_results(result(before, se0), result(after, se1))
    assert c.relative_low > -1


def test_no_relative_change_for_signed_scores() -> None:
    c = compare_results(
        result(-10.0, 4.0, unit="points", metric="nps"),
        result(5.0, 4.0, unit="points", metric="nps"),
    )
    assert c.absolute == 15.0 and c.relative is None
    assert any("no relative change" in f for f in c.flags)
    assert "+15.0 points" in str(c)


def test_compare_results_errors() -> None:
    with pytest.raises(ValidationError, match="same metric"):
        compare_results(result(0.3, 0.02, metric="a"), result(0.4, 0.02, metric="b"))
    with pytest.raises(ValidationError, match="before_after"):
        compare_results(result(0.3, None), result(0.4, 0.02))
    variant_a = attrs.evolve(result(0.3, 0.02), params={"kinds": ["purchase"], "as_of": 1})
    variant_b = attrs.evolve(result(0.4, 0.02), params={"kinds": None, "as_of": 2})
    with pytest.raises(ValidationError, match="same variant"):
        compare_results(variant_a, variant_b)
    same = attrs.evolve(variant_b, params={"kinds": ["purchase"], "window": ("a", "b")})
    assert compare_results(variant_a, same).absolute == pytest.approx(0.1)


# -- data-level comparisons ---------------------------------------------------------------------


def nps_waves(seed: int, n: int = 300) -> tuple[SurveyFrame, SurveyFrame]:
    """The same n customers answer twice; most keep their category (a positive correlation)."""
    rng = np.random.default_rng(seed)
    first = rng.choice([3, 7, 10], size=n, p=[0.3, 0.3, 0.4])
    keep = rng.uniform(size=n) < 0.75
    second = np.where(keep, first, rng.choice([3, 7, 10], size=n, p=[0.15, 0.3, 0.55]))
    ids = np.arange(n) + 1000

    def wave(scores: np.ndarray) -> SurveyFrame:
        return SurveyFrame(
            answers={"nps": scores.astype(np.int8)}, customer_id=ids, respondent_id=ids
        )

    return wave(first), wave(second)


def test_paired_bootstrap_agrees_with_the_paired_net_score() -> None:
    """Validation against the analytic paired Wald interval of net_score_paired; the
    independent interval (negative control) is wider because the waves correlate."""
    first, second = nps_waves(1)
    metric = NetPromoterScore(interval="wald")
    c = before_after(metric, first, second, n_boot=300, seed=2)
    assert c.paired and c.n_both == 300
    both = SurveyFrame(
        answers={"nps": np.concatenate([first.answers["nps"], second.answers["nps"]])},
        respondent_id=np.concatenate([first.respondent_id, second.respondent_id]),
        wave=np.repeat([1, 2], 300),
    )
    paired = PairedNetScore(before=1, after=2)
    exact = paired.finalize(paired.update(paired.init(), both))
    assert c.absolute == pytest.approx(exact.value)
    assert c.absolute_se == pytest.approx(exact.se, rel=0.15)
    independent = before_after(metric, first, second, paired=False)
    assert independent.absolute_se > 1.3 * exact.se
    assert any("ignores their correlation" in f for f in independent.flags)
    assert "paired customer bootstrap: 300 replicates" in c.method


def test_bootstrap_is_seeded() -> None:
    first, second = nps_waves(3, n=100)
    metric = NetPromoterScore(interval="wald")
    a = before_after(metric, first, second, n_boot=100, seed=7)
    b = before_after(metric, first, second, n_boot=100, seed=7)
    c = before_after(metric, first, second, n_boot=100, seed=8)
    assert (a.absolute_low, a.absolute_high) == (b.absolute_low, b.absolute_high)
    assert (a.absolute_low, a.absolute_high) != (c.absolute_low, c.absolute_high)
    assert "(seed 7)" in a.method


def test_independent_groups_use_the_standard_errors() -> None:
    first, second = nps_waves(4)
    other = SurveyFrame(answers=second.answers, customer_id=second.customer_id + 10_000)
    metric = NetPromoterScore(interval="wald")
    c = before_after(metric, first, other)
    assert not c.paired and c.n_both == 0
    assert c.method.startswith("independent samples")
    a = metric.finalize(metric.update(metric.init(), first))
    b = metric.finalize(metric.update(metric.init(), other))
    assert c.absolute_se == pytest.approx(math.hypot(a.se, b.se))


def repeat_year(year: int, repeaters: np.ndarray, n: int = 60) -> EventFrame:
    ids = np.concatenate([np.arange(n), repeaters])
    days = np.repeat([f"{year}-06-01", f"{year}-06-15"], [n, len(repeaters)])
    return EventFrame(
        event_id=np.arange(len(ids)), customer_id=ids, timestamp=days.astype("datetime64[us]")
    )


def test_thirty_to_sixty_on_events_paired() -> None:
    """60 customers, 18 repeat in 2023 (30 %) and 36 in 2024 (60 %), the 18 among the 36."""
    before = repeat_year(2023, np.arange(18))
    after = repeat_year(2024, np.arange(36))
    c = before_after(
        RepeatCustomerRate(),
        before,
        after,
        as_of_before=dt.datetime(2023, 7, 1, tzinfo=dt.UTC),
        as_of_after=dt.datetime(2024, 7, 1, tzinfo=dt.UTC),
        n_boot=150,
        seed=5,
    )
    assert (c.before, c.after) == (0.3, 0.6)
    assert reads_correctly(c.before, c.after, c.points, c.relative)
    assert c.absolute_low < 0.3 < c.absolute_high and c.relative_low < 1.0 < c.relative_high
    # nested repeaters: every resample keeps after >= before, so the interval stays above 0
    assert c.absolute_low > 0
    assert isinstance(c, Change) and c.paired


def test_metric_without_standard_error_is_bootstrapped() -> None:
    """Net revenue retention has no standard error: even independent groups are bootstrapped."""
    rng = np.random.default_rng(9)

    def group(offset: int, keep: float) -> EventFrame:
        n = 80
        ids = np.arange(n) + offset
        stay = rng.uniform(size=n) < keep
        customer = np.concatenate([ids, ids[stay]])
        days = np.repeat(["2024-01-10", "2024-02-10"], [n, int(stay.sum())])
        return EventFrame(
            event_id=np.arange(len(customer)),
            customer_id=customer,
            timestamp=days.astype("datetime64[us]"),
            amount=np.full(len(customer), 10.0),
        )

    c = before_after(
        RevenueRetention(),
        group(0, 0.4),
        group(1000, 0.7),
        as_of_before=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        as_of_after=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        n_boot=100,
    )
    assert not c.paired and c.method.startswith("customer bootstrap")
    assert c.absolute_low < c.absolute < c.absolute_high


def test_before_after_errors() -> None:
    first, second = nps_waves(5, n=20)
    metric = NetPromoterScore()
    with pytest.raises(ValidationError, match="a frame"):
        before_after(metric, {"nps": [1]}, second)  # type: ignore[arg-type]
    other = SurveyFrame(answers=second.answers, customer_id=second.customer_id + 500)
    with pytest.raises(ValidationError, match="none are"):
        before_after(metric, first, other, paired=True)
    with pytest.raises(ValueError, match="n_boot"):
        before_after(metric, first, second, n_boot=1)
    by_name = before_after("nps", first, second, n_boot=20)
    assert by_name.metric == "nps" and by_name.paired
