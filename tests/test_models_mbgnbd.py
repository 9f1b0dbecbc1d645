"""MBG/NBD (Batislam, Denizel & Filiztekin 2007; Wagner & Hoppe 2008): values, peers, invariants.

No MBG/NBD estimates for CDNOW are published in the papers; the reference values are those of
``CamDavidsonPilon/lifetimes`` 0.11.3 ``tests/test_estimation.py``
(``TestModifiedBetaGammaFitter``), which took its parameters from R BTYDplus and, loosely,
reuses Hardie's BG/NBD spreadsheet figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import special

from stickykit.errors import FitError
from stickykit.models._histories import Histories, compress
from stickykit.models.bgnbd import count_pmf
from stickykit.models.data import cdnow_histories
from stickykit.models.mbgnbd import MBGNBD

BG_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
LIFETIMES = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def cdnow() -> Histories:
    return cdnow_histories().calibration


@pytest.fixture(scope="module")
def fitted(cdnow: Histories) -> MBGNBD:
    return MBGNBD().fit(cdnow)


def simulate(n: int, params: tuple[float, float, float, float], seed: int) -> Histories:
    """Histories drawn from the MBG/NBD process: a drop-out chance after every purchase,
    the first included (Batislam et al. 2007, section 2)."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    age = np.round(rng.uniform(20, 40, n), 2)
    time = np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    active = rng.uniform(size=n) >= p  # right after the first purchase
    while active.any():
        time = time + rng.exponential(1 / rate)
        active &= time <= age
        x += active
        recency = np.where(active, time, recency)
        active &= rng.uniform(size=n) >= p
    return Histories.from_arrays(frequency=x, recency=recency, age=age)


@pytest.fixture(scope="module")
def synthetic() -> Histories:
    return simulate(400, (0.5, 4.0, 1.5, 6.0), seed=2)


@pytest.fixture(scope="module")
def synthetic_fit(synthetic: Histories) -> MBGNBD:
    return MBGNBD().fit(synthetic)


def one(x: float, t_x: float, big_t: float) -> Histories:
    return Histories.from_arrays(frequency=[x], recency=[t_x], age=[big_t])


def model(params: np.ndarray | dict[str, float]) -> MBGNBD:
    if isinstance(params, dict):
        return MBGNBD.from_params(**params)
    return MBGNBD.from_params(**dict(zip(MBGNBD.param_names, params, strict=True)))


positive = st.floats(-3.0, 3.0).map(math.exp)
params_strategy = st.tuples(positive, positive, positive, positive).map(np.array)


@st.composite
def history_strategy(draw: st.DrawFn) -> tuple[float, float, float]:
    x = draw(st.sampled_from([0, 1, 2, 5, 20, 60]))
    big_t = draw(st.floats(0.5, 200.0))
    t_x = 0.0 if x == 0 else big_t * draw(st.floats(0.001, 1.0))
    return float(x), t_x, big_t


# -- reference values -----------------------------------------------------------------------


def test_cdnow_matches_lifetimes_btydplus_estimates(fitted: MBGNBD) -> None:
    """lifetimes ``test_params_out_is_close_to_BTYDplus``: [0.525, 6.183, 0.891, 1.614]
    (decimal 3), here equal after rounding to three decimals."""
    assert fitted.params_ is not None
    assert {k: round(v, 3) for k, v in fitted.params_.items()} == LIFETIMES
    assert fitted.diagnostics_ is not None and fitted.diagnostics_.converged


def test_lifetimes_expectations_on_the_fit(fitted: MBGNBD) -> None:
    """lifetimes: conditional expectation 1.226 (+-0.05) for (39, 2, 30.43, 38.86), and
    E[X(t)] within 5% of Hardie's BG/NBD sheet figures (its loose MBG/NBD check)."""
    value = fitted.conditional_expected_transactions(39, one(2, 30.43, 38.86)).value[0]
    assert abs(value - 1.226) < 0.05
    times = [0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    assert_allclose(fitted.expected_transactions(times), expected, rtol=0.05)


def test_lifetimes_pmf_checks() -> None:
    """lifetimes ``test_probability_of_n_purchases_up_to_time_same_as_R_BTYD`` for MBG/NBD:
    at the BG/NBD estimates, P(X(2) = 10) within 1e-4 of 1.07869e-07 and P(X(30) = n),
    n = 11...20, within 50% of R BTYD's BG/NBD values."""
    m = model(BG_PUBLISHED)
    assert abs(m.probability_of_transactions(10, 2.0)[0] - 1.07869e-07) < 1e-4
    expected = [
        0.0019995214, 0.0015170236, 0.0011633150, 0.0009003148, 0.0007023638,
        0.0005517902, 0.0004361913, 0.0003467171, 0.0002769613, 0.0002222260,
    ]  # fmt: skip
    assert_allclose(m.probability_of_transactions(np.arange(11, 21), 30.0), expected, rtol=0.5)


def test_p_alive_below_one_without_repeat_purchases(fitted: MBGNBD) -> None:
    """lifetimes: P(alive)(0, 1, 1) < 1 (a drop-out chance right after the first purchase);
    for T = 0 it is exactly the prior chance b/(a + b) of surviving that purchase."""
    p_alive = fitted.probability_alive(one(0, 0.0, 1.0)).value[0]
    assert 0 < p_alive < 1
    _, _, a, b = fitted.params
    assert_allclose(fitted.probability_alive(one(0, 0.0, 0.0)).value, b / (a + b), rtol=1e-14)


def test_penalizer_shrinks_every_parameter(cdnow: Histories, fitted: MBGNBD) -> None:
    """lifetimes ``test_penalizer_term_will_shrink_coefs_to_0`` (there the sums shrink;
    here every parameter does, for penalizers 0.1 and 10)."""
    light = MBGNBD(penalizer=0.1).fit(cdnow)
    heavy = MBGNBD(penalizer=10).fit(cdnow)
    assert np.all(light.params < fitted.params)
    assert np.all(heavy.params < light.params)


def test_expected_transactions_is_batislam_eq() -> None:
    """E[X(t)] = b/(a - 1) [1 - (alpha/(alpha + t))^r 2F1(r, b + 1; a + b; t/(alpha + t))]
    (Batislam et al. 2007, as corrected by Wagner & Hoppe 2008), evaluated as printed where
    that is safe (a > 1, moderate t), equals ours."""
    r, alpha, a, b = 0.5, 3.0, 2.5, 4.0
    t = np.array([0.5, 1.0, 10.0, 39.0, 100.0])
    printed = (
        b
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b + 1, a + b, t / (alpha + t)))
    )
    m = model({"r": r, "alpha": alpha, "a": a, "b": b})
    assert_allclose(m.expected_transactions(t), printed, rtol=1e-12)
    # and E[X(t)] is the conditional expectation of a customer with x = t_x = T = 0
    conditional = [m.conditional_expected_transactions(s, one(0, 0.0, 0.0)).value[0] for s in t]
    assert_allclose(conditional, printed, rtol=1e-12)


# -- lifetimes 0.11.3 on the same data ------------------------------------------------------


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow: Histories) -> Any:
    lifetimes = pytest.importorskip("lifetimes")
    pd = pytest.importorskip("pandas")
    return lifetimes.ModifiedBetaGeoFitter().fit(
        pd.Series(cdnow.frequency), pd.Series(cdnow.recency), pd.Series(cdnow.age)
    )


def _lifetimes_params(fit: Any) -> np.ndarray:
    return np.array([fit.params_[k] for k in ("r", "alpha", "a", "b")])


def test_agrees_with_lifetimes_fit(cdnow: Histories, fitted: MBGNBD, lifetimes_fit: Any) -> None:
    """Parameters to 1e-4 relative; total LL on the user's axis (lifetimes rescales time by
    s = 1/max T and stores a mean: LL = -n * mean + sum(x) ln s, section 14.1)."""
    assert_allclose(fitted.params, _lifetimes_params(lifetimes_fit), rtol=1e-4)
    scale = lifetimes_fit._scale
    mean_nll = lifetimes_fit._negative_log_likelihood_
    user_axis = -mean_nll * len(cdnow) + cdnow.frequency.sum() * np.log(scale)
    assert_allclose(fitted.log_likelihood_, user_axis, rtol=1e-9)


def test_agrees_with_lifetimes_predictions(cdnow: Histories, lifetimes_fit: Any) -> None:
    """At lifetimes' estimates, every CDNOW customer's predictions agree to 1e-8."""
    peer = lifetimes_fit
    ours = model(_lifetimes_params(peer))
    x, t_x, big_t = cdnow.frequency, cdnow.recency, cdnow.age
    assert_allclose(
        ours.probability_alive(cdnow).value,
        peer.conditional_probability_alive(x, t_x, big_t),
        rtol=1e-10,
    )
    for t in (1.0, 39.0, 52.0):
        assert_allclose(
            ours.conditional_expected_transactions(t, cdnow).value,
            peer.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, big_t),
            rtol=1e-8,
        )
    times = np.array([0.5, 1.0, 39.0, 78.0, 520.0])
    assert_allclose(
        ours.expected_transactions(times),
        peer.expected_number_of_purchases_up_to_time(times),
        rtol=1e-8,
    )
    assert_allclose(
        ours.probability_of_transactions(np.arange(1, 25), 39.0),
        [peer.probability_of_n_purchases_up_to_time(39.0, n) for n in range(1, 25)],
        rtol=1e-8,
    )


def test_where_lifetimes_is_wrong() -> None:
    """lifetimes evaluates Wagner & Hoppe's formulas as printed: for x = 1000 (lifetimes#25)
    the Gauss function overflows and the conditional expectation is NaN; for a slow drop-out
    (b = 200) over a horizon of 1,000 alphas scipy's Gauss function is NaN, and so is
    E[X(t)]; its P(alive) overflows in linear space for x = 1000. Ours are finite and equal
    the mean of the count distribution, which never uses the Gauss function."""
    lifetimes = pytest.importorskip("lifetimes")
    cases = [
        (LIFETIMES, (1000.0, 10.0, 10.0), 52.0),
        ({"r": 2.0, "alpha": 1.0, "a": 0.5, "b": 200.0}, (0.0, 0.0, 0.0), 1000.0),
    ]
    for params, history, t in cases:
        peer = lifetimes.ModifiedBetaGeoFitter()
        peer.params_ = params
        with np.errstate(all="ignore"):
            broken = peer.conditional_expected_number_of_purchases_up_to_time(t, *history)
        assert not np.isfinite(broken)
        m = model(params)
        value = m.conditional_expected_transactions(t, one(*history)).value[0]
        n, p = _pmf_grid(m, t, *history, count_pmf)
        assert_allclose(value, n @ p, rtol=1e-9)
    peer = lifetimes.ModifiedBetaGeoFitter()
    peer.params_ = LIFETIMES
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        peer.conditional_probability_alive(np.array([1000]), np.array([10.0]), np.array([1e3]))
    with np.errstate(all="raise"):
        assert model(LIFETIMES).probability_alive(one(1000, 10.0, 1000.0)).value[0] == 0.0


@given(params=params_strategy, history=st.lists(history_strategy(), min_size=1, max_size=6))
def test_log_likelihood_is_lifetimes_formula(
    params: np.ndarray, history: list[tuple[float, float, float]]
) -> None:
    """The total log-likelihood equals lifetimes' MBG/NBD one (Wagner & Hoppe's corrected
    likelihood, written there as logaddexp(A_4, 0)), to rounding."""
    lifetimes = pytest.importorskip("lifetimes")
    x, t_x, big_t = (np.array(c) for c in zip(*history, strict=True))
    data = compress([x, t_x, big_t], np.ones(len(x)))
    ours = MBGNBD().log_likelihood(params, data)
    x, t_x, big_t = data.columns
    theirs = (
        -lifetimes.ModifiedBetaGeoFitter._negative_log_likelihood(
            np.log(params), x, t_x, big_t, data.weight, 0.0
        )
        * data.weight.sum()
    )
    assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * len(history))


# -- analytic gradient ----------------------------------------------------------------------


def _gradient_matches(
    loglik: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], params: np.ndarray
) -> bool:
    """Central differences (relative step 1e-6): 1e-5 relative plus rounding, as for BG/NBD."""
    values, gradient = loglik(params)
    numeric = np.empty_like(gradient)
    for j in range(len(params)):
        step = np.zeros(len(params))
        step[j] = 1e-6 * params[j]
        numeric[:, j] = (loglik(params + step)[0] - loglik(params - step)[0]) / (2 * step[j])
    rounding = 1e-14 * (1 + np.abs(values))[:, None] / (1e-6 * params)
    return bool(np.all(np.abs(numeric - gradient) <= 1e-5 * np.abs(gradient) + rounding))


HISTORIES = compress(
    [
        np.array([0.0, 0.0, 1.0, 2.0, 5.0, 30.0, 500.0, 500.0]),
        np.array([0.0, 0.0, 1.0, 4.0, 9.0, 39.0, 100.0, 9.5]),
        np.array([10.0, 0.5, 10.0, 10.0, 10.0, 39.0, 100.0, 200.0]),
    ],
    np.ones(8),
)


@given(params=params_strategy)
def test_gradient_matches_central_differences(params: np.ndarray) -> None:
    """The analytic gradient (bgnbd module docstring, b_x = b + x + 1), x up to 500."""
    m = MBGNBD()
    assert _gradient_matches(lambda p: m._loglik(p, HISTORIES), params)


def test_gradient_check_catches_a_broken_gradient() -> None:
    """Negative control: the BG/NBD gradient of b (b_x = b + x) is wrong for MBG/NBD."""
    m = MBGNBD()

    def broken(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, gradient = m._loglik(p, HISTORIES)
        x = HISTORIES.columns[0]
        gradient = gradient.copy()
        gradient[:, 3] += special.psi(p[3] + x) - special.psi(p[3] + x + 1)
        return values, gradient

    params = np.array(list(LIFETIMES.values()))
    assert _gradient_matches(lambda p: m._loglik(p, HISTORIES), params)
    assert not _gradient_matches(broken, params)


# -- invariants -----------------------------------------------------------------------------


@given(params=params_strategy, history=st.lists(history_strategy(), min_size=1, max_size=5))
def test_p_alive_bounds(params: np.ndarray, history: list[tuple[float, float, float]]) -> None:
    """0 <= P(alive) <= 1, below 1 without repeat purchases, and for T = 0 equal to b/(a+b)."""
    x, t_x, big_t = (np.array(c) for c in zip(*history, strict=True))
    m = model(params)
    p_alive = m.probability_alive(Histories.from_arrays(frequency=x, recency=t_x, age=big_t))
    assert np.all((p_alive.value >= 0) & (p_alive.value <= 1))
    assert np.all(p_alive.value[x == 0] < 1)
    _, _, a, b = params
    assert_allclose(m.probability_alive(one(0, 0.0, 0.0)).value, b / (a + b), rtol=1e-12)


def test_p_alive_check_catches_the_bg_indicator() -> None:
    """Negative control: the BG/NBD odds (with [x > 0], b + x - 1) give 1 for x = 0."""
    r, alpha, a, b = LIFETIMES.values()
    x, t_x, big_t = 0.0, 0.0, 39.0
    bg_form = 1 / (1 + (x > 0) * a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    assert not bg_form < 1
    assert model(LIFETIMES).probability_alive(one(x, t_x, big_t)).value[0] < 1


HORIZONS = np.array([0.0, 0.01, 0.5, 1.0, 5.0, 20.0, 52.0, 104.0, 520.0])


def _non_decreasing(values: np.ndarray) -> bool:
    return bool(np.all(np.diff(values) >= -1e-10 * np.abs(values[1:])))


@given(params=params_strategy, history=history_strategy())
def test_expectations_non_decreasing_in_horizon(
    params: np.ndarray, history: tuple[float, float, float]
) -> None:
    m = model(params)
    unconditional = m.expected_transactions(HORIZONS)
    h = one(*history)
    conditional = np.array([m.conditional_expected_transactions(t, h).value[0] for t in HORIZONS])
    for values in (unconditional, conditional):
        assert np.all(np.isfinite(values)) and values[0] == 0.0
        assert _non_decreasing(values)


def test_monotonicity_check_catches_a_broken_formula() -> None:
    """Negative control: E[X(t)] with c = a + b + 1 in the Gauss function (an off-by-one)
    falls with t."""
    r, alpha, a, b = LIFETIMES.values()
    z = HORIZONS / (alpha + HORIZONS)
    hyp = special.hyp2f1(r, b + 1, a + b + 1, z)
    broken = b / (a - 1) * (1 - (alpha / (alpha + HORIZONS)) ** r * hyp)
    assert not _non_decreasing(broken)
    assert _non_decreasing(model(LIFETIMES).expected_transactions(HORIZONS))


def _pmf_grid(
    m: MBGNBD, t: float, x: float, t_x: float, big_t: float, pmf: Callable[..., np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    r, alpha, a, b = m.params
    z = t / (alpha + big_t + t)
    n_max = 50
    while special.betainc(n_max, r + x, z) > 1e-15:
        n_max *= 2
    n = np.arange(n_max + 1, dtype=np.float64)
    arrays = (np.array([x]), np.array([t_x]), np.array([big_t]))
    active, inactive = m._active_inactive(m.params, *arrays)
    return n, pmf(n, t, active, inactive, r + x, alpha + big_t, a, b + x + 1)


@given(params=params_strategy, history=history_strategy(), t=st.floats(0.1, 60.0))
def test_conditional_pmf_sums_to_one_with_the_right_mean(
    params: np.ndarray, history: tuple[float, float, float], t: float
) -> None:
    """P(Y(t) = n | history) sums to 1 and its mean is the conditional expectation."""
    assume(t / (params[1] + history[2] + t) < 0.99)
    m = model(params)
    n, p = _pmf_grid(m, t, *history, count_pmf)
    assert np.all(p >= 0)
    assert_allclose(p.sum(), 1.0, atol=1e-9)
    expected = m.conditional_expected_transactions(t, one(*history)).value[0]
    assert_allclose(n @ p, expected, rtol=1e-7, atol=1e-12)
    public = [m.probability_of_transactions(k, t, one(*history))[0] for k in range(3)]
    assert_allclose(public, p[:3], rtol=1e-12)


def test_pmf_check_catches_a_broken_pmf() -> None:
    """Negative control: the BG/NBD posterior b + x instead of b + x + 1 gives a mean that
    is not the MBG/NBD conditional expectation."""

    def broken(n: np.ndarray, t: float, active: np.ndarray, inactive: np.ndarray,
               r: float, alpha: float, a: float, b: float) -> np.ndarray:  # fmt: skip
        return count_pmf(n, t, active, inactive, r, alpha, a, b - 1)

    m = model(LIFETIMES)
    expected = m.conditional_expected_transactions(39.0, one(3.0, 20.0, 38.0)).value[0]
    n, good = _pmf_grid(m, 39.0, 3.0, 20.0, 38.0, count_pmf)
    _, bad = _pmf_grid(m, 39.0, 3.0, 20.0, 38.0, broken)
    assert_allclose(n @ good, expected, rtol=1e-10)
    assert not math.isclose(n @ bad, expected, rel_tol=1e-3)


def test_unconditional_pmf_sums_to_one_with_mean() -> None:
    m = model(LIFETIMES)
    n = np.arange(4000)
    for t in (1.0, 39.0, 78.0):
        p = m.probability_of_transactions(n, t)
        assert_allclose(p.sum(), 1.0, atol=1e-10)
        assert_allclose(n @ p, m.expected_transactions(t), rtol=1e-8)


@settings(max_examples=10)
@given(cut=st.integers(1, 399), seed=st.integers(0, 2**32 - 1))
def test_additive_and_permutation_invariant(
    synthetic: Histories, synthetic_fit: MBGNBD, cut: int, seed: int
) -> None:
    """LL of a union = sum over parts; a shuffled copy fits identically."""
    m = MBGNBD()
    params = np.array(list(LIFETIMES.values()))
    first, second = synthetic.take(np.arange(cut)), synthetic.take(np.arange(cut, 400))
    whole = m.log_likelihood(params, m.patterns(synthetic))
    parts = m.log_likelihood(params, m.patterns(first)) + m.log_likelihood(
        params, m.patterns(second)
    )
    assert_allclose(whole, parts, rtol=1e-12)
    order = np.random.default_rng(seed).permutation(len(synthetic))
    shuffled = MBGNBD().fit(synthetic.take(order))
    assert_allclose(shuffled.params, synthetic_fit.params, rtol=1e-12)


def test_invariance_checks_catch_broken_versions(synthetic: Histories) -> None:
    """Negative controls: a mean log-likelihood is not additive; a subset fits differently."""
    m = MBGNBD()
    params = np.array(list(LIFETIMES.values()))

    def mean(h: Histories) -> float:
        return m.log_likelihood(params, m.patterns(h)) / h.n_customers

    first, second = synthetic.take(np.arange(100)), synthetic.take(np.arange(100, 400))
    assert not math.isclose(mean(synthetic), mean(first) + mean(second), rel_tol=1e-6)
    whole = MBGNBD().fit(synthetic)
    part = MBGNBD().fit(synthetic.take(np.arange(300)))
    assert not np.allclose(part.params, whole.params, rtol=1e-6)


def _scaled(h: Histories, c: float) -> Histories:
    return Histories.from_arrays(frequency=h.frequency, recency=h.recency * c, age=h.age * c)


@settings(max_examples=10)
@given(c=st.floats(0.01, 100.0))
@example(c=10.0)  # lifetimes' scaling test
def test_time_scale_equivariance(synthetic: Histories, synthetic_fit: MBGNBD, c: float) -> None:
    """Times x c: alpha x c, the rest and P(alive) unchanged, LL - sum(x) ln c (lifetimes'
    hourly-versus-daily and x10 scaling tests, exactly)."""
    scaled = MBGNBD().fit(_scaled(synthetic, c))
    assert_allclose(scaled.params, synthetic_fit.params * np.array([1.0, c, 1.0, 1.0]), rtol=1e-6)
    shift = -synthetic.frequency.sum() * math.log(c)
    assert_allclose(scaled.log_likelihood_, synthetic_fit.log_likelihood_ + shift, rtol=1e-10)
    assert_allclose(
        scaled.probability_alive(_scaled(synthetic, c)).value,
        synthetic_fit.probability_alive(synthetic).value,
        atol=1e-7,
    )
    assert_allclose(
        scaled.expected_transactions(30 * c), synthetic_fit.expected_transactions(30), rtol=1e-5
    )


def test_time_scale_check_catches_a_broken_p_alive() -> None:
    """Negative control: odds with (1 + T)/(1 + t_x) change with the time unit."""
    r, _, a, b = LIFETIMES.values()

    def broken(x: float, t_x: float, big_t: float) -> float:
        return 1 / (1 + a / (b + x) * ((1 + big_t) / (1 + t_x)) ** (r + x))

    assert not math.isclose(broken(2, 30.0, 39.0), broken(2, 300.0, 390.0), rel_tol=1e-4)


EXTREME = Histories.from_arrays(
    frequency=[1000, 1000, 1000, 0, 0, 500],
    recency=[1e4, 10.0, 1e6, 0.0, 0.0, 39.0],
    age=[1e4, 100.0, 1e6, 1e6, 0.0, 39.0],
)


@pytest.mark.parametrize("params", [LIFETIMES, {"r": 2.0, "alpha": 0.1, "a": 50.0, "b": 0.3}])
def test_extreme_histories_are_finite_without_floating_point_errors(
    params: dict[str, float],
) -> None:
    m = model(params)
    with np.errstate(all="raise"):
        p_alive = m.probability_alive(EXTREME).value
        values = [p_alive]
        for t in (1.0, 52.0, 1e4):
            values.append(m.conditional_expected_transactions(t, EXTREME).value)
            values.append(m.probability_of_transactions(0, t, EXTREME))
            values.append(m.probability_of_transactions(1000, t, EXTREME))
        values.append(m.expected_transactions([0.0, 1e-8, 1.0, 1e4, 1e8]))
    assert all(np.all(np.isfinite(v)) for v in values)
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert p_alive[1] == 0.0


def test_save_load_round_trip(fitted: MBGNBD, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "mbgnbd.npz")
    loaded = MBGNBD.load(path)
    assert_allclose(loaded.params, fitted.params, rtol=0)
    assert str(loaded.summary) == str(fitted.summary)


def test_bad_input() -> None:
    zeros = Histories.from_arrays(frequency=[0] * 10, recency=[0.0] * 10, age=[5.0] * 10)
    with pytest.raises(FitError, match="all frequencies"):
        MBGNBD().fit(zeros)
    few = Histories.from_arrays(
        frequency=[0, 1, 2, 5], recency=[0.0, 1.0, 4.0, 9.0], age=[10.0] * 4
    )
    with pytest.raises(FitError, match="4 customers for 4 parameters"):
        MBGNBD().fit(few)
