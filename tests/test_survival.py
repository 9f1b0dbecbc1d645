"""Kaplan-Meier: hand-computed values, an exact-arithmetic oracle, lifelines, and properties.

Each property is a ``check_*`` function taking an estimator ``(durations, observed) ->
(times, survival)``; it runs on :func:`stickykit.stats.survival.kaplan_meier` (must pass) and
on a deliberately broken estimator (must fail).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from stickykit.datasets import load_telco
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.stats.survival import KaplanMeier, kaplan_meier

Curve = tuple[NDArray[np.float64], NDArray[np.float64]]
Estimator = Callable[[NDArray[np.float64], NDArray[np.bool_]], Curve]
WeightedEstimator = Callable[[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]], Curve]


def real(durations: NDArray[np.float64], observed: NDArray[np.bool_]) -> Curve:
    km = kaplan_meier(durations, observed)
    return km.times, km.survival


def real_weighted(
    durations: NDArray[np.float64], observed: NDArray[np.bool_], weights: NDArray[np.float64]
) -> Curve:
    km = kaplan_meier(durations, observed, weights=weights)
    return km.times, km.survival


# -- deliberately broken estimators (negative controls) ----------------------------------------


def _tables(durations: NDArray[np.float64], observed: NDArray[np.bool_]):
    times, inverse = np.unique(durations, return_inverse=True)
    removed = np.bincount(inverse, minlength=len(times)).astype(float)
    events = np.bincount(inverse, weights=observed.astype(float), minlength=len(times))
    at_risk = np.cumsum(removed[::-1])[::-1]
    return times, at_risk, events


def broken_no_product(durations: NDArray[np.float64], observed: NDArray[np.bool_]) -> Curve:
    """Reports each time's conditional survival 1 - d/n instead of the running product."""
    times, at_risk, events = _tables(durations, observed)
    return times, 1 - events / at_risk


def broken_row_order(durations: NDArray[np.float64], observed: NDArray[np.bool_]) -> Curve:
    """Walks the rows one at a time in input order within tied durations, so a censoring
    listed before a tied event leaves the risk set before that event is counted."""
    order = np.argsort(durations, kind="stable")
    d, e = durations[order], observed[order]
    n = len(d)
    row_survival = np.cumprod(1 - e / (n - np.arange(n)))
    last_of_time = np.r_[d[1:] != d[:-1], True]
    return d[last_of_time], row_survival[last_of_time]


def broken_breslow(durations: NDArray[np.float64], observed: NDArray[np.bool_]) -> Curve:
    """exp(-Nelson-Aalen): a different estimator, not the product limit."""
    times, at_risk, events = _tables(durations, observed)
    return times, np.exp(-np.cumsum(events / at_risk))


def broken_whole_units(durations: NDArray[np.float64], observed: NDArray[np.bool_]) -> Curve:
    """Rounds durations down to whole units before estimating (as if binning by month)."""
    return real(np.floor(durations), observed)


def broken_unweighted_risk_set(
    durations: NDArray[np.float64], observed: NDArray[np.bool_], weights: NDArray[np.float64]
) -> Curve:
    """Weights the events but counts every row once in the risk set."""
    times, at_risk, _ = _tables(durations, observed)
    _, inverse = np.unique(durations, return_inverse=True)
    events = np.bincount(inverse, weights=weights * observed, minlength=len(times))
    return times, np.cumprod(np.clip(1 - events / at_risk, 0, None))


# -- data ----------------------------------------------------------------------------------------

samples = st.integers(1, 25).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 12), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


def arrays(pair: tuple[list[int], list[bool]]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Whole-month durations 0-12 (many ties) and event flags."""
    return np.array(pair[0], dtype=float), np.array(pair[1], dtype=bool)


# -- properties ----------------------------------------------------------------------------------


def check_monotone_in_unit_interval(estimator: Estimator, *, shrink: bool = True) -> None:
    @given(samples)
    def prop(pair: tuple[list[int], list[bool]]) -> None:
        _, survival = estimator(*arrays(pair))
        assert np.all(np.diff(survival) <= 0)
        assert np.all((survival >= 0) & (survival <= 1))

    quick(prop, shrink)()


def check_permutation_invariant(estimator: Estimator, *, shrink: bool = True) -> None:
    @given(samples, st.randoms(use_true_random=False))
    def prop(pair: tuple[list[int], list[bool]], random) -> None:
        durations, observed = arrays(pair)
        order = np.array(random.sample(range(len(durations)), len(durations)))
        times, survival = estimator(durations, observed)
        times_p, survival_p = estimator(durations[order], observed[order])
        np.testing.assert_array_equal(times_p, times)
        np.testing.assert_allclose(survival_p, survival, rtol=1e-12, atol=0)

    quick(prop, shrink)()


def check_empirical_without_censoring(estimator: Estimator, *, shrink: bool = True) -> None:
    """With every event observed, S(t) is the share of durations greater than t."""

    @given(samples)
    def prop(pair: tuple[list[int], list[bool]]) -> None:
        durations, _ = arrays(pair)
        times, survival = estimator(durations, np.ones(len(durations), dtype=bool))
        empirical = (durations[None, :] > times[:, None]).mean(axis=1)
        np.testing.assert_allclose(survival, empirical, rtol=1e-12, atol=1e-14)

    quick(prop, shrink)()


def check_scale_equivariant(estimator: Estimator, *, shrink: bool = True) -> None:
    """Durations times c > 0: the timeline scales by c, the survival values do not change."""

    @given(samples, st.floats(0.05, 20.0))
    def prop(pair: tuple[list[int], list[bool]], c: float) -> None:
        durations, observed = arrays(pair)
        times, survival = estimator(durations, observed)
        times_c, survival_c = estimator(c * durations, observed)
        np.testing.assert_allclose(times_c, c * times, rtol=1e-12)
        np.testing.assert_allclose(survival_c, survival, rtol=1e-12, atol=0)

    quick(prop, shrink)()


def check_frequency_weights(estimator: WeightedEstimator, *, shrink: bool = True) -> None:
    """Integer weights give the estimate on the rows repeated that many times."""

    @given(samples, st.lists(st.integers(1, 4), min_size=25, max_size=25))
    def prop(pair: tuple[list[int], list[bool]], counts: list[int]) -> None:
        durations, observed = arrays(pair)
        w = np.array(counts[: len(durations)], dtype=float)
        times, survival = estimator(durations, observed, w)
        times_x, survival_x = real(
            np.repeat(durations, counts[: len(durations)]),
            np.repeat(observed, counts[: len(durations)]),
        )
        np.testing.assert_array_equal(times, times_x)
        np.testing.assert_allclose(survival, survival_x, rtol=1e-12, atol=1e-15)

    quick(prop, shrink)()


def quick(prop: Any, shrink: bool) -> Any:
    """``prop`` as is, or without the shrink phase (a negative control needs a failure, not
    the smallest one)."""
    return prop if shrink else settings(phases=(Phase.explicit, Phase.generate))(prop)


def assert_rejected(check: Callable[..., None], estimator: Any) -> None:
    """``check`` must fail on ``estimator`` by an assertion: hypothesis raises the falsifying
    AssertionError, or an ExceptionGroup of them when it finds several distinct failures."""
    rejected = False
    try:
        check(estimator, shrink=False)
    except* AssertionError:
        rejected = True
    assert rejected, f"{check.__name__} accepted {estimator.__name__}"


def test_monotone_in_unit_interval_holds() -> None:
    check_monotone_in_unit_interval(real)


def test_monotone_in_unit_interval_negative_control() -> None:
    assert_rejected(check_monotone_in_unit_interval, broken_no_product)


def test_permutation_invariant_holds() -> None:
    check_permutation_invariant(real)


def test_permutation_invariant_negative_control() -> None:
    assert_rejected(check_permutation_invariant, broken_row_order)


def test_empirical_without_censoring_holds() -> None:
    check_empirical_without_censoring(real)


def test_empirical_without_censoring_negative_control() -> None:
    assert_rejected(check_empirical_without_censoring, broken_breslow)


def test_scale_equivariant_holds() -> None:
    check_scale_equivariant(real)


def test_scale_equivariant_negative_control() -> None:
    assert_rejected(check_scale_equivariant, broken_whole_units)


def test_frequency_weights_hold() -> None:
    check_frequency_weights(real_weighted)


def test_frequency_weights_negative_control() -> None:
    assert_rejected(check_frequency_weights, broken_unweighted_risk_set)


@given(samples, st.sampled_from([0.01, 0.05, 0.2]))
def test_band_brackets_curve_and_quantile_interval_brackets_quantile(pair, alpha) -> None:
    km = kaplan_meier(*arrays(pair), alpha=alpha)
    assert np.all(km.ci_low <= km.survival + 1e-15)
    assert np.all(km.survival <= km.ci_high + 1e-15)
    assert np.all((km.ci_low >= 0) & (km.ci_high <= 1))
    for q in (0.25, 0.5, 0.75):
        low, high = km.quantile_interval(q)
        assert low <= km.quantile(q) <= high


# -- exact-arithmetic oracle -------------------------------------------------------------------


def exact_product_limit(durations: list[int], observed: list[bool]):
    """Textbook product limit and Greenwood sum with Fractions, one distinct time at a time."""
    out = []
    survival, greenwood = Fraction(1), Fraction(0)
    for t in sorted(set(durations)):
        n = sum(d >= t for d in durations)
        d = sum(dur == t and obs for dur, obs in zip(durations, observed, strict=True))
        survival *= 1 - Fraction(d, n)
        if 0 < d < n:
            greenwood += Fraction(d, n * (n - d))
        out.append((t, n, d, survival, survival * survival * greenwood))
    return out


@given(samples)
def test_matches_exact_oracle(pair: tuple[list[int], list[bool]]) -> None:
    km = kaplan_meier(*arrays(pair))
    exact = exact_product_limit(*pair)
    assert km.times.tolist() == [float(row[0]) for row in exact]
    assert km.at_risk.tolist() == [float(row[1]) for row in exact]
    assert km.events.tolist() == [float(row[2]) for row in exact]
    assert (km.events + km.censored).sum() == len(pair[0])
    np.testing.assert_allclose(km.survival, [float(row[3]) for row in exact], rtol=1e-13)
    np.testing.assert_allclose(km.variance, [float(row[4]) for row in exact], rtol=1e-12)


# -- hand-computed values --------------------------------------------------------------------------

# Remission times (weeks) of the 21 leukaemia patients on 6-mercaptopurine; False = censored.
# Freireich et al. (1963), Blood 21(6), 699-716, as listed by Gehan (1965), Biometrika 52,
# 203-223; a standard first example of the product-limit estimator in textbooks.
SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [
    *[True, True, True, False, True, False, True, False, False, True, True],
    *[False, False, False, True, True, False, False, False, False, False],
]


def test_hand_computed_six_mp() -> None:
    """Event times and risk sets, by hand:

    t=6:  n=21, d=3 (one more censored at 6)   S = 18/21              = 0.857143
    t=7:  n=17, d=1                            S = 18/21 * 16/17      = 0.806723
    t=10: n=15, d=1 (one censored at 9, 10)    S = 0.806723 * 14/15   = 0.752941
    t=13: n=12, d=1 (censored at 10, 11)       S = 0.752941 * 11/12   = 0.690196
    t=16: n=11, d=1                            S = 0.690196 * 10/11   = 0.627451
    t=22: n=7,  d=1 (censored at 17, 19, 20)   S = 0.627451 * 6/7     = 0.537815
    t=23: n=6,  d=1                            S = 0.537815 * 5/6     = 0.448179

    Greenwood at 6: S^2 * 3/(21*18) = 0.734694 * 0.0079365 = 0.0058309, se 0.07636;
    at 7: S^2 * (3/378 + 1/(17*16)) = 0.650802 * 0.0116130 = 0.0075578, se 0.08694.
    The median is 23 (first S <= 0.5).
    """
    km = kaplan_meier(SIX_MP, SIX_MP_EVENT)
    event_times = km.events > 0
    assert km.times[event_times].tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert km.at_risk[event_times].tolist() == [21, 17, 15, 12, 11, 7, 6]
    assert km.events[event_times].tolist() == [3, 1, 1, 1, 1, 1, 1]
    assert km.censored.sum() == 12
    np.testing.assert_allclose(
        km.survival[event_times],
        [0.857143, 0.806723, 0.752941, 0.690196, 0.627451, 0.537815, 0.448179],
        atol=5e-7,
    )
    np.testing.assert_allclose(km.se[:2], [0.07636, 0.08694], atol=5e-6)
    assert km.median == 23.0
    # log(-log) interval at t=6 from the formula, with scalar math
    s, v = 18 / 21, 3 / (21 * 18)
    sigma = math.sqrt(v) / abs(math.log(s))
    z = NormalDist().inv_cdf(0.975)
    np.testing.assert_allclose(
        [km.ci_low[0], km.ci_high[0]], [s ** math.exp(z * sigma), s ** math.exp(-z * sigma)]
    )
    # after the last event the curve stays at 0.448 (censored at 25, 32, 34, 35)
    assert km.survival_at(40.0) == pytest.approx(0.448179, abs=5e-7)


def test_median_at_exactly_one_half() -> None:
    """Twenty uncensored durations 1..20: S(10) = 10/20 = 1/2 exactly, so the median is 10 by
    the definition min{t: S(t) <= 1/2}. The running product 19/20 * 18/19 * ... may round
    just above 1/2 in floating point; the tolerance keeps the median at 10."""
    km = kaplan_meier(np.arange(1.0, 21.0), np.ones(20, dtype=bool))
    assert km.median == 10.0
    assert km.quantile(0.25) == 5.0
    assert km.quantile(0.75) == 15.0


def test_all_events_at_one_time_and_single_rows() -> None:
    km = kaplan_meier([3, 3, 3], [1, 1, 1])
    assert km.survival.tolist() == [0.0]
    assert km.variance.tolist() == [0.0]
    assert (km.ci_low.tolist(), km.ci_high.tolist()) == ([0.0], [0.0])
    assert km.median == 3.0
    assert km.median_interval == (3.0, 3.0)

    censored = kaplan_meier([5.0], [False])
    assert censored.survival.tolist() == [1.0]
    assert (censored.ci_low.tolist(), censored.ci_high.tolist()) == ([1.0], [1.0])
    assert censored.median == math.inf
    assert censored.median_interval == (math.inf, math.inf)
    assert censored.n == 1.0


def test_survival_at() -> None:
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.survival_at(0.5) == 1.0
    assert isinstance(km.survival_at(2), float)
    assert km.survival_at(2) == 0.5
    assert math.isnan(km.survival_at(float("nan")))
    values = km.survival_at(np.array([[1.0, 2.5], [4.0, 9.0]]))
    assert values.shape == (2, 2)
    np.testing.assert_allclose(values, [[0.75, 0.5], [0.0, 0.0]])


def test_accepts_lists_ints_and_zero_one_flags() -> None:
    a = kaplan_meier([1, 2, 2], [1, 0, 1])
    b = kaplan_meier(np.array([1.0, 2.0, 2.0]), np.array([True, False, True]))
    c = kaplan_meier((1, 2, 2), np.array([1.0, 0.0, 1.0]), weights=[1, 1, 1])
    for other in (b, c):
        np.testing.assert_array_equal(other.survival, a.survival)
        np.testing.assert_array_equal(other.ci_low, a.ci_low)
    assert isinstance(a, KaplanMeier)


def test_alpha_sets_the_band() -> None:
    wide = kaplan_meier(SIX_MP, SIX_MP_EVENT, alpha=0.01)
    narrow = kaplan_meier(SIX_MP, SIX_MP_EVENT, alpha=0.2)
    moving = (wide.survival > 0) & (wide.survival < 1)
    assert np.all(wide.ci_low[moving] < narrow.ci_low[moving])
    assert np.all(wide.ci_high[moving] > narrow.ci_high[moving])
    assert narrow.level == pytest.approx(0.8)


# -- input checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "observed", "weights", "field", "row"),
    [
        ([1.0, float("nan")], [1, 1], None, "durations", 1),
        ([1.0, float("inf")], [1, 1], None, "durations", 1),
        ([1.0, -2.0, -1.0], [1, 1, 1], None, "durations", 1),
        (["a", "b"], [1, 1], None, "durations", None),
        ([[1.0, 2.0]], [1, 1], None, "durations", None),
        ([1.0, 2.0], [1], None, "observed", None),
        ([1.0, 2.0], [1, 2], None, "observed", 1),
        ([1.0, 2.0], [0.5, 1.0], None, "observed", 0),
        ([1.0, 2.0], ["yes", "no"], None, "observed", None),
        ([1.0, 2.0], [1, 0], [1.0], "weights", None),
        ([1.0, 2.0], [1, 0], [1.0, 0.0], "weights", 1),
        ([1.0, 2.0], [1, 0], [-1.0, 1.0], "weights", 0),
        ([1.0, 2.0], [1, 0], [1.0, float("nan")], "weights", 1),
    ],
)
def test_bad_input(durations, observed, weights, field, row) -> None:
    with pytest.raises(ValidationError) as info:
        kaplan_meier(durations, observed, weights=weights)
    assert info.value.record == "kaplan_meier"
    assert info.value.field == field
    assert info.value.row == row


def test_counts_every_failing_row() -> None:
    with pytest.raises(ValidationError, match="2 rows fail") as info:
        kaplan_meier([1.0, -1.0, -3.0], [1, 1, 1])
    assert info.value.n_failing == 2


def test_empty_input() -> None:
    with pytest.raises(InsufficientDataError, match="at least one duration"):
        kaplan_meier([], [])
    with pytest.raises(InsufficientDataError):
        kaplan_meier(np.array([], dtype=float), np.array([], dtype=bool), weights=[])


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.05", None])
def test_bad_alpha(alpha) -> None:
    with pytest.raises(ValueError, match="alpha"):
        kaplan_meier([1.0, 2.0], [1, 1], alpha=alpha)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.5, 2.0, float("nan"), True, "0.5"])
def test_bad_quantile(q) -> None:
    km = kaplan_meier([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="q must be"):
        km.quantile(q)
    with pytest.raises(ValueError, match="q must be"):
        km.quantile_interval(q)


# -- lifelines ---------------------------------------------------------------------------------------

#: Agreement with lifelines: curve and band values to this relative tolerance (both compute
#: the same formulas in float64; observed differences are below 1e-14); times, counts,
#: quantiles and their intervals exactly.
LIFELINES_RTOL = 1e-12


def assert_matches_lifelines(
    km: KaplanMeier, durations, observed, weights=None, quantiles=(0.5,)
) -> None:
    lifelines = pytest.importorskip("lifelines")
    from lifelines.utils import qth_survival_times

    fitter = lifelines.KaplanMeierFitter(alpha=km.alpha).fit(durations, observed, weights=weights)
    table = fitter.event_table.loc[km.times]
    np.testing.assert_array_equal(km.at_risk, table["at_risk"].to_numpy(dtype=float))
    np.testing.assert_array_equal(km.events, table["observed"].to_numpy(dtype=float))
    np.testing.assert_array_equal(km.censored, table["censored"].to_numpy(dtype=float))
    curve = fitter.survival_function_.iloc[:, 0].loc[km.times].to_numpy()
    band = fitter.confidence_interval_.loc[km.times].to_numpy()
    np.testing.assert_allclose(km.survival, curve, rtol=LIFELINES_RTOL, atol=0)
    np.testing.assert_allclose(km.ci_low, band[:, 0], rtol=LIFELINES_RTOL, atol=0)
    np.testing.assert_allclose(km.ci_high, band[:, 1], rtol=LIFELINES_RTOL, atol=0)
    for q in quantiles:
        # lifelines takes the survival level 1 - q; the curve must not sit at 1 - q exactly,
        # where lifelines' answer depends on the rounding of exp(sum(log(...)))
        assert np.min(np.abs(km.survival - (1 - q))) > 1e-9
        assert km.quantile(q) == qth_survival_times(1 - q, fitter.survival_function_)
        limits = qth_survival_times(1 - q, fitter.confidence_interval_)
        assert km.quantile_interval(q) == tuple(limits.to_numpy().ravel().tolist())
    assert km.median == fitter.median_survival_time_


@pytest.mark.parametrize("seed", range(6))
def test_matches_lifelines_on_random_data(seed: int) -> None:
    """Whole-number durations 0-39 (many ties), about 40 % censored, with and without integer
    frequency weights (lifelines truncates non-integer weights in its variance)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    durations = rng.integers(0, 40, n).astype(float)
    observed = rng.random(n) < 0.6
    alpha = (0.05, 0.1, 0.01)[seed % 3]
    km = kaplan_meier(durations, observed, alpha=alpha)
    assert_matches_lifelines(km, durations, observed, quantiles=(0.25, 0.5))
    weights = rng.integers(1, 5, n).astype(float)
    km_w = kaplan_meier(durations, observed, weights=weights, alpha=alpha)
    assert_matches_lifelines(km_w, durations, observed, weights, quantiles=(0.25, 0.5))


def test_matches_lifelines_on_continuous_durations() -> None:
    rng = np.random.default_rng(11)
    durations = rng.exponential(12.0, 500)
    observed = rng.random(500) < 0.7
    km = kaplan_meier(durations, observed)
    assert_matches_lifelines(km, durations, observed, quantiles=(0.1, 0.5, 0.6))


def test_telco_matches_lifelines() -> None:
    """IBM telco churn: tenure in months, Churn Yes = event, No = censored at the tenure.
    Fewer than half the customers churn within 72 months, so the median is infinite in both;
    the 10 % and 25 % quantiles and their intervals are finite and compared."""
    cols = load_telco()
    km = kaplan_meier(cols["tenure"], cols["Churn"])
    assert km.n == 7043
    assert km.events.sum() == 1869
    assert km.times[0] == 0.0
    assert km.median == math.inf
    assert math.isfinite(km.quantile(0.25))
    assert_matches_lifelines(km, cols["tenure"], cols["Churn"], quantiles=(0.1, 0.25))
