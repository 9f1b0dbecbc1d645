"""BG/NBD (Fader, Hardie & Lee 2005): published values, peers, gradient, invariants.

Published values: Fader, Hardie & Lee (2005), "'Counting your customers' the easy way",
*Marketing Science* 24(2), 275-284, section 4 (CDNOW, 39-week calibration). Peer values:
``CamDavidsonPilon/lifetimes`` 0.11.3 ``tests/test_estimation.py`` (``TestBetaGeoFitter``),
whose reference numbers come from Hardie's spreadsheet and R BTYD; CLVTools and the BTYD
walkthrough as collected in the project's references (section 14.8).
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

from stickykit.errors import FitError, NotFittedError
from stickykit.models._histories import Histories, compress
from stickykit.models._hypergeometric import _trapezoid, expected_purchases_while_active
from stickykit.models.bgnbd import BGNBD, count_pmf
from stickykit.models.data import cdnow_histories

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


# -- data -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow() -> Histories:
    return cdnow_histories().calibration


@pytest.fixture(scope="module")
def fitted(cdnow: Histories) -> BGNBD:
    return BGNBD().fit(cdnow)


def simulate(n: int, params: tuple[float, float, float, float], seed: int) -> Histories:
    """Histories drawn from the BG/NBD process itself (FHL 2005, section 2)."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    age = np.round(rng.uniform(20, 40, n), 2)
    time = np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        time = time + rng.exponential(1 / rate)
        active &= time <= age
        x += active
        recency = np.where(active, time, recency)
        active &= rng.uniform(size=n) >= p  # drop-out chance after each repeat purchase
    return Histories.from_arrays(frequency=x, recency=recency, age=age)


@pytest.fixture(scope="module")
def synthetic() -> Histories:
    return simulate(400, (0.5, 4.0, 0.8, 2.5), seed=1)


@pytest.fixture(scope="module")
def synthetic_fit(synthetic: Histories) -> BGNBD:
    return BGNBD().fit(synthetic)


def one(x: float, t_x: float, big_t: float) -> Histories:
    return Histories.from_arrays(frequency=[x], recency=[t_x], age=[big_t])


def concat(*parts: Histories) -> Histories:
    return Histories.from_arrays(
        frequency=np.concatenate([p.frequency for p in parts]),
        recency=np.concatenate([p.recency for p in parts]),
        age=np.concatenate([p.age for p in parts]),
        weight=np.concatenate([p.weight for p in parts]),
    )


positive = st.floats(-3.0, 3.0).map(math.exp)
params_strategy = st.tuples(positive, positive, positive, positive).map(np.array)


@st.composite
def history_strategy(draw: st.DrawFn, max_x: int = 60) -> tuple[float, float, float]:
    x = draw(st.sampled_from([0, 1, 2, 5, 20, max_x]))
    big_t = draw(st.floats(0.5, 200.0))
    t_x = 0.0 if x == 0 else big_t * draw(st.floats(0.001, 1.0))
    return float(x), t_x, big_t


# -- published values -----------------------------------------------------------------------


def test_cdnow_reproduces_fader_hardie_lee_2005(fitted: BGNBD) -> None:
    """FHL (2005), section 4: r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4.

    Also CLVTools (0.2425945, 4.4136019, 0.7929199, 2.4258881) at its relative tolerance
    1e-3 and the BTYD walkthrough's LL -9582.429, to its printed precision.
    """
    assert fitted.params_ is not None
    assert {k: round(v, 3) for k, v in fitted.params_.items()} == PUBLISHED
    assert round(fitted.log_likelihood_, 1) == -9582.4
    assert round(fitted.log_likelihood_, 3) == -9582.429
    assert_allclose(fitted.params, [0.2425945, 4.4136019, 0.7929199, 2.4258881], rtol=1e-3)
    assert fitted.n_customers_ == 2357
    assert fitted.diagnostics_ is not None and fitted.diagnostics_.converged


def test_lifetimes_expectations_on_the_fit(fitted: BGNBD) -> None:
    """lifetimes ``TestBetaGeoFitter``: conditional expectation 1.226 (+-0.001) for
    (t 39, x 2, t_x 30.43, T 38.86) and E[X(t)] from Hardie's sheet (decimal 3)."""
    value = fitted.conditional_expected_transactions(39, one(2, 30.43, 38.86)).value[0]
    assert abs(value - 1.226) < 0.001
    times = [0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    assert np.all(np.abs(fitted.expected_transactions(times) - expected) < 1.5e-3)


def test_lifetimes_pmf_at_published_parameters() -> None:
    """lifetimes ``test_probability_of_n_purchases_up_to_time_same_as_R_BTYD`` (R BTYD):
    P(X(2) = 10) = 1.07869e-07, P(X(39) = 0) = 0.5737864 and P(X(30) = n), n = 11...20,
    here to the printed digits (lifetimes asserts 1e-4 and decimal 5)."""
    m = BGNBD.from_params(**PUBLISHED)
    assert_allclose(m.probability_of_transactions(10, 2.0), [1.07869e-07], rtol=1e-5)
    assert_allclose(m.probability_of_transactions(0, 39.0), [0.5737864], atol=1e-7)
    expected = [
        0.0019995214, 0.0015170236, 0.0011633150, 0.0009003148, 0.0007023638,
        0.0005517902, 0.0004361913, 0.0003467171, 0.0002769613, 0.0002222260,
    ]  # fmt: skip
    assert_allclose(m.probability_of_transactions(np.arange(11, 21), 30.0), expected, atol=1e-10)


def test_lifetimes_p_alive_cases(fitted: BGNBD) -> None:
    """lifetimes: P(alive) = 1 without repeat purchases; P(alive)(1000, 10, 100) = 0 with
    every floating-point error raising. lifetimes passes recency 1 with frequency 0, not a
    valid history here (recency is 0 without repeats), so the kernel gets it directly."""
    assert fitted.probability_alive(one(0, 0.0, 1.0)).value[0] == 1.0
    kernel = fitted._p_alive(fitted.params, np.array([0.0]), np.array([1.0]), np.array([1.0]))
    assert kernel[0] == 1.0
    with np.errstate(all="raise"):
        assert fitted.probability_alive(one(1000, 10.0, 100.0)).value[0] == 0.0


def test_penalizer_shrinks_every_parameter(cdnow: Histories, fitted: BGNBD) -> None:
    """lifetimes ``test_penalizer_term_will_shrink_coefs_to_0`` (penalizers 0.1 and 10)."""
    light = BGNBD(penalizer=0.1).fit(cdnow)
    heavy = BGNBD(penalizer=10).fit(cdnow)
    assert np.all(light.params < fitted.params)
    assert np.all(heavy.params < light.params)
    # the reported log-likelihood never includes the penalty
    assert light.log_likelihood_ == light.log_likelihood(light.params, light.patterns(cdnow))


# -- lifetimes 0.11.3 on the same data ------------------------------------------------------


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow: Histories) -> Any:
    lifetimes = pytest.importorskip("lifetimes")
    pd = pytest.importorskip("pandas")
    return lifetimes.BetaGeoFitter().fit(
        pd.Series(cdnow.frequency), pd.Series(cdnow.recency), pd.Series(cdnow.age)
    )


def _lifetimes_params(fit: Any) -> np.ndarray:
    return np.array([fit.params_[k] for k in ("r", "alpha", "a", "b")])


def test_agrees_with_lifetimes_fit(cdnow: Histories, fitted: BGNBD, lifetimes_fit: Any) -> None:
    """Parameters to 1e-4 relative, and the total log-likelihood on the user's time axis.

    lifetimes rescales time so that the largest age is 1 (times multiplied by s = 1/max T)
    and stores the mean negative log-likelihood; each likelihood on the rescaled axis is
    s^(-x) times the one on ours, so LL = -n * mean + sum(x) ln s (section 14.1).
    """
    assert_allclose(fitted.params, _lifetimes_params(lifetimes_fit), rtol=1e-4)
    scale = lifetimes_fit._scale
    mean_nll = lifetimes_fit._negative_log_likelihood_
    user_axis = -mean_nll * len(cdnow) + cdnow.frequency.sum() * np.log(scale)
    assert_allclose(fitted.log_likelihood_, user_axis, rtol=1e-9)
    assert fitted.log_likelihood_ > user_axis - 1e-6  # ours is at least as high


def test_agrees_with_lifetimes_predictions(cdnow: Histories, lifetimes_fit: Any) -> None:
    """At lifetimes' own estimates, every CDNOW customer's predictions agree to 1e-8."""
    peer = lifetimes_fit
    ours = BGNBD.from_params(**dict(zip(BGNBD.param_names, _lifetimes_params(peer), strict=True)))
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
        ours.probability_of_transactions(np.arange(25), 39.0),
        [peer.probability_of_n_purchases_up_to_time(39.0, n) for n in range(25)],
        rtol=1e-8,
    )


def test_where_lifetimes_is_wrong() -> None:
    """lifetimes#302: x 0, r 0.11, alpha 2.24, a 0.31, b 0.50, t 30, T 1. With a + b < 1
    the hypergeometric term is negative and lifetimes takes its log: NaN. Ours is finite and
    equals the positive-term series sum_k P(survive k) P(N >= k + 1) (independent of 2F1)."""
    lifetimes = pytest.importorskip("lifetimes")
    peer = lifetimes.BetaGeoFitter()
    peer.params_ = {"r": 0.11, "alpha": 2.24, "a": 0.31, "b": 0.50}
    with np.errstate(all="ignore"):
        broken = peer.conditional_expected_number_of_purchases_up_to_time(30, 0, 0, 1)
    assert not np.isfinite(broken)
    ours = BGNBD.from_params(r=0.11, alpha=2.24, a=0.31, b=0.50)
    value = ours.conditional_expected_transactions(30, one(0, 0.0, 1.0)).value[0]
    reference = _series_reference(0.11, 2.24 + 1.0, 0.31, 0.50, 30.0)
    assert_allclose(value, reference, rtol=1e-9)


# -- the hypergeometric evaluation ----------------------------------------------------------


def _series_reference(r: float, alpha: float, a: float, b: float, t: float) -> float:
    """sum_k B(a, b + k)/B(a, b) I_z(k + 1, r), z = t/(alpha + t), summed to convergence."""
    z = t / (alpha + t)
    # the gamma-mixed Poisson count has mean r z/(1 - z) and sd sqrt(r z)/(1 - z)
    n_terms = int((r * z + 15 * math.sqrt(r * z) + 60) / (1 - z)) + 100
    k = np.arange(n_terms, dtype=np.float64)
    terms = np.exp(special.betaln(a, b + k) - special.betaln(a, b)) * special.betainc(k + 1, r, z)
    return float(terms.sum())


@given(
    r=positive,
    alpha=positive,
    a=st.one_of(positive, st.floats(0.999, 1.001)),
    b=positive,
    x=st.sampled_from([0, 1, 10, 500]),
    t=st.floats(0.01, 100.0),
)
def test_expected_while_active_matches_positive_series(
    r: float, alpha: float, a: float, b: float, x: int, t: float
) -> None:
    """FHL eq. 10's bracket (Euler form, series near a = 1, C = 0) equals the positive sum
    over purchases of P(survive k purchases) P(at least k + 1 purchases), for any a > 0."""
    z = t / (alpha + t)
    assume(z < 0.98)  # the reference series needs about 40/(1 - z) terms
    value = float(expected_purchases_while_active(r + x, alpha, a, b + x, t))
    assert_allclose(value, _series_reference(r + x, alpha, a, b + x, t), rtol=1e-7)


def test_expected_while_active_against_mpmath() -> None:
    """Against 60-digit arithmetic, where overflow, sign loss and 0/0 threaten: large x
    (lifetimes#25), a + b < 1 (#302), a = 1, a + b = 1, c - a - b an integer, large a,
    z near 1 with large b (where scipy's Gauss function returns NaN)."""
    mpmath = pytest.importorskip("mpmath")
    cases = [  # r, alpha, a, b, t
        (500.243, 4.4 + 39, 0.793, 502.4, 39.0),
        (1000.5, 20.0, 1.5, 1001.0, 5000.0),
        (0.11, 3.24, 0.31, 0.50, 30.0),
        (0.5, 2.0, 1.0, 3.0, 100.0),
        (0.5, 2.0, 0.7, 0.3, 100.0),
        (2.0, 1.0, 2.0, 5.0, 1000.0),  # c - a - b = r - a + 1, an integer
        (301.95, 0.0978, 291.0, 300.0, 50.0),  # (1 - z)^A underflows, 2F1 overflows
        (0.243, 4.414, 0.793, 2.426, 1e-9),
        (5.92, 8.7e-4, 0.0603, 390.2, 20.0),  # z = 1 - 4e-5, b = 390
        (2.0, 1.0, 0.5, 800.0, 500.0),  # ten years of weeks, slow drop-out
        (1000.3, 1.0, 0.0498, 1000.0, 14.0),
    ]
    with mpmath.workdps(60):
        for r, alpha, a, b, t in cases:
            mr, ma, mb, mz = (mpmath.mpf(v) for v in (r, a, b, t / (alpha + t)))
            ma = ma if a != 1 else ma + mpmath.mpf("1e-40")
            c = ma + mb - 1
            gauss = (1 - mz) ** (ma - 1) * mpmath.hyp2f1(ma - 1, c - mr, c, mz)
            exact = float(c / (ma - 1) * (1 - gauss))
            value = float(expected_purchases_while_active(r, alpha, a, b, t))
            assert_allclose(value, exact, rtol=1e-8, err_msg=str((r, alpha, a, b, t)))


@given(
    r=st.floats(-3.0, 7.0).map(math.exp),
    alpha=positive,
    a=positive,
    b=st.floats(-3.0, 7.0).map(math.exp),
    t=st.floats(-5.0, 10.0).map(math.exp),
)
def test_trapezoid_agrees_with_closed_form(
    r: float, alpha: float, a: float, b: float, t: float
) -> None:
    """The positive integral (step 3) equals the series/scipy steps wherever those apply
    (z up to 0.98, a away from 1), for r and b up to about 1100 and z up to 1 - 1e-6."""
    assume(abs(a - 1) > 1e-3)
    values = [np.array([v]) for v in (r, alpha, a, b, t)]
    z = t / (alpha + t)
    quadrature = _trapezoid(values[0], values[4] / values[1], values[2], values[3])[0]
    if z <= 0.98:
        assert_allclose(quadrature, expected_purchases_while_active(*values)[0], rtol=1e-9)
    else:
        assert quadrature == expected_purchases_while_active(*values)[0]


# -- analytic gradient ----------------------------------------------------------------------


def _gradient_matches(
    loglik: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], params: np.ndarray
) -> bool:
    """Central differences (relative step 1e-6) against the analytic gradient.

    Tolerance: 1e-5 relative (truncation), plus the rounding error of the differences,
    about 1e-16 |loglik| / step, with a margin of 100.
    """
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
    """The analytic gradient (module docstring) at random parameters, x up to 500."""
    model = BGNBD()
    assert _gradient_matches(lambda p: model._loglik(p, HISTORIES), params)


def test_gradient_check_catches_a_broken_gradient() -> None:
    """Negative control: without the w/a term of d/da the check fails."""
    model = BGNBD()

    def broken(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, gradient = model._loglik(p, HISTORIES)
        w = special.expit(model._log_odds_inactive(p, *HISTORIES.columns))
        gradient = gradient.copy()
        gradient[:, 2] -= w / p[2]
        return values, gradient

    params = np.array([0.243, 4.414, 0.793, 2.426])
    assert _gradient_matches(lambda p: model._loglik(p, HISTORIES), params)
    assert not _gradient_matches(broken, params)


# -- P(alive) -------------------------------------------------------------------------------


def _p_alive_ok(p_alive: np.ndarray, x: np.ndarray) -> bool:
    """In [0, 1], and exactly 1 without a repeat purchase (BG/NBD)."""
    in_range = bool(np.all((p_alive >= 0) & (p_alive <= 1)))
    return in_range and bool(np.all(p_alive[x == 0] == 1.0))


@given(params=params_strategy, history=st.lists(history_strategy(), min_size=1, max_size=5))
def test_p_alive_bounds_and_no_repeat(
    params: np.ndarray, history: list[tuple[float, float, float]]
) -> None:
    """0 <= P(alive) <= 1 and P(alive) = 1 for x = 0 (FHL 2008, note 021)."""
    x, t_x, big_t = (np.array(c) for c in zip(*history, strict=True))
    m = BGNBD.from_params(**dict(zip(BGNBD.param_names, params, strict=True)))
    h = Histories.from_arrays(frequency=x, recency=t_x, age=big_t)
    assert _p_alive_ok(m.probability_alive(h).value, x)


def test_p_alive_check_catches_broken_formulas() -> None:
    """Negative controls: the MBG/NBD odds without the [x > 0] indicator (below 1 for x = 0)
    and a first-order expansion 1 - odds (negative for large odds) both fail."""
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    x, t_x, big_t = np.array([0.0, 10.0]), np.array([0.0, 5.0]), np.array([39.0, 39.0])
    odds = a / (b + x) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    assert not _p_alive_ok(1 / (1 + odds), x)
    assert not _p_alive_ok(1 - odds, x)
    m = BGNBD.from_params(r=r, alpha=alpha, a=a, b=b)
    h = Histories.from_arrays(frequency=x, recency=t_x, age=big_t)
    assert _p_alive_ok(m.probability_alive(h).value, x)


# -- monotone expectations ------------------------------------------------------------------


def _non_decreasing(values: np.ndarray) -> bool:
    return bool(np.all(np.diff(values) >= -1e-10 * np.abs(values[1:])))


HORIZONS = np.array([0.0, 0.01, 0.5, 1.0, 5.0, 20.0, 52.0, 104.0, 520.0])


@given(params=params_strategy, history=history_strategy())
def test_expectations_non_decreasing_in_horizon(
    params: np.ndarray, history: tuple[float, float, float]
) -> None:
    """E[X(t)] (eq. 9) and E[Y(t) | history] (eq. 10) never fall as t grows; both start at
    0 and stay finite."""
    m = BGNBD.from_params(**dict(zip(BGNBD.param_names, params, strict=True)))
    unconditional = m.expected_transactions(HORIZONS)
    h = one(*history)
    conditional = np.array([m.conditional_expected_transactions(t, h).value[0] for t in HORIZONS])
    for values in (unconditional, conditional):
        assert np.all(np.isfinite(values)) and values[0] == 0.0
        assert _non_decreasing(values)


def test_monotonicity_check_catches_a_broken_formula() -> None:
    """Negative control: eq. 9 with MBG/NBD's c = a + b in the Gauss function (an
    off-by-one between the two models) falls with t."""
    r, alpha, a, b = PUBLISHED.values()
    z = HORIZONS / (alpha + HORIZONS)
    hyp = special.hyp2f1(r, b, a + b, z)
    broken = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + HORIZONS)) ** r * hyp)
    assert not _non_decreasing(broken)
    assert _non_decreasing(BGNBD.from_params(**PUBLISHED).expected_transactions(HORIZONS))


# -- conditional PMF ------------------------------------------------------------------------


def _pmf_grid(
    model: BGNBD, t: float, x: float, t_x: float, big_t: float, pmf: Callable[..., np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """P(Y(t) = n | history) for n = 0...N, N where the NBD tail is below 1e-15."""
    r, alpha, a, b = model.params
    z = t / (alpha + big_t + t)
    n_max = 50
    while special.betainc(n_max, r + x, z) > 1e-15:
        n_max *= 2
    n = np.arange(n_max + 1, dtype=np.float64)
    arrays = (np.array([x]), np.array([t_x]), np.array([big_t]))
    active, inactive = model._active_inactive(model.params, *arrays)
    return n, pmf(n, t, active, inactive, r + x, alpha + big_t, a, b + x)


@given(params=params_strategy, history=history_strategy(), t=st.floats(0.1, 60.0))
def test_conditional_pmf_sums_to_one_with_the_right_mean(
    params: np.ndarray, history: tuple[float, float, float], t: float
) -> None:
    """P(Y(t) = n | history) (FHL 2010, "Deriving the conditional PMF of the BG/NBD
    model") sums to 1 over n, and its mean equals the
    conditional expectation of eq. 10, which is computed independently (2F1, not betainc)."""
    assume(t / (params[1] + history[2] + t) < 0.99)
    m = BGNBD.from_params(**dict(zip(BGNBD.param_names, params, strict=True)))
    n, p = _pmf_grid(m, t, *history, count_pmf)
    assert np.all(p >= 0)
    assert_allclose(p.sum(), 1.0, atol=1e-9)
    expected = m.conditional_expected_transactions(t, one(*history)).value[0]
    assert_allclose(n @ p, expected, rtol=1e-7, atol=1e-12)
    # the public path gives the same numbers
    public = [m.probability_of_transactions(k, t, one(*history))[0] for k in range(3)]
    assert_allclose(public, p[:3], rtol=1e-12)


def test_pmf_check_catches_a_broken_pmf() -> None:
    """Negative control: without the drop-out mass at n = 0 (a customer who is gone buys
    nothing) the probabilities of a lapsing customer sum to P(alive) < 1."""

    def broken(*args: object) -> np.ndarray:
        n, t, active, _inactive, *rest = args
        return count_pmf(n, t, active, np.zeros(1), *rest)

    m = BGNBD.from_params(**PUBLISHED)
    _, good = _pmf_grid(m, 39.0, 3.0, 5.0, 38.0, count_pmf)
    _, bad = _pmf_grid(m, 39.0, 3.0, 5.0, 38.0, broken)
    assert_allclose(good.sum(), 1.0, atol=1e-12)
    assert abs(bad.sum() - 1.0) > 0.1


def test_unconditional_pmf_sums_to_one_with_mean_eq_9() -> None:
    """P(X(t) = n) (eq. 8) sums to 1 and its mean is E[X(t)] (eq. 9)."""
    m = BGNBD.from_params(**PUBLISHED)
    n = np.arange(4000)
    for t in (1.0, 39.0, 78.0):
        p = m.probability_of_transactions(n, t)
        assert_allclose(p.sum(), 1.0, atol=1e-10)
        assert_allclose(n @ p, m.expected_transactions(t), rtol=1e-8)


# -- additivity, permutation, time scale ----------------------------------------------------


@settings(max_examples=10)
@given(cut=st.integers(1, 399), params=params_strategy)
def test_log_likelihood_is_additive_and_halves_fit_as_the_whole(
    synthetic: Histories, synthetic_fit: BGNBD, cut: int, params: np.ndarray
) -> None:
    """LL of a union = sum of the parts' LLs, and fitting the two halves' weighted pattern
    summaries, concatenated, gives the fit on all customers (section 14.1)."""
    model = BGNBD()
    first, second = synthetic.take(np.arange(cut)), synthetic.take(np.arange(cut, 400))
    whole = model.log_likelihood(params, model.patterns(synthetic))
    parts = model.log_likelihood(params, model.patterns(first)) + model.log_likelihood(
        params, model.patterns(second)
    )
    assert_allclose(whole, parts, rtol=1e-12)
    summaries = []
    for half in (first, second):
        p = model.patterns(half)
        x, t_x, big_t = p.columns
        summaries.append(
            Histories.from_arrays(frequency=x, recency=t_x, age=big_t, weight=p.weight)
        )
    merged = BGNBD().fit(concat(*summaries))
    assert_allclose(merged.params, synthetic_fit.params, rtol=1e-8)
    assert_allclose(merged.log_likelihood_, synthetic_fit.log_likelihood_, rtol=1e-12)


def test_additivity_check_catches_a_mean_log_likelihood(synthetic: Histories) -> None:
    """Negative control: the per-customer mean (what lifetimes stores) is not additive."""
    model = BGNBD()
    params = np.array([0.5, 4.0, 0.8, 2.5])

    def mean(h: Histories) -> float:
        return model.log_likelihood(params, model.patterns(h)) / h.n_customers

    first, second = synthetic.take(np.arange(100)), synthetic.take(np.arange(100, 400))
    assert not math.isclose(mean(synthetic), mean(first) + mean(second), rel_tol=1e-6)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_fit_is_permutation_invariant(
    synthetic: Histories, synthetic_fit: BGNBD, seed: int
) -> None:
    """Shuffling customers changes nothing: the fit sees the same weighted patterns."""
    order = np.random.default_rng(seed).permutation(len(synthetic))
    shuffled = BGNBD().fit(synthetic.take(order))
    assert_allclose(shuffled.params, synthetic_fit.params, rtol=1e-12)
    assert shuffled.log_likelihood_ == pytest.approx(synthetic_fit.log_likelihood_, rel=1e-13)


def test_permutation_check_catches_different_data(
    synthetic: Histories, synthetic_fit: BGNBD
) -> None:
    """Negative control (torchmetrics style): dropping customers changes the fit."""
    part = BGNBD().fit(synthetic.take(np.arange(300)))
    assert not np.allclose(part.params, synthetic_fit.params, rtol=1e-6)


def _scaled(h: Histories, c: float) -> Histories:
    return Histories.from_arrays(frequency=h.frequency, recency=h.recency * c, age=h.age * c)


@settings(max_examples=10)
@given(c=st.floats(0.01, 100.0))
@example(c=10.0)  # lifetimes' scaling test
def test_time_scale_equivariance(synthetic: Histories, synthetic_fit: BGNBD, c: float) -> None:
    """Times multiplied by c: alpha scales by c, r, a, b and P(alive) are unchanged and the
    log-likelihood shifts by -sum(x) ln c (each purchase-time density scales by 1/c);
    lifetimes' ``test_scaling_inputs_gives_same_or_similar_results`` at c = 10."""
    scaled = BGNBD().fit(_scaled(synthetic, c))
    expected = synthetic_fit.params * np.array([1.0, c, 1.0, 1.0])
    assert_allclose(scaled.params, expected, rtol=1e-6)
    shift = -synthetic.frequency.sum() * math.log(c)
    assert_allclose(scaled.log_likelihood_, synthetic_fit.log_likelihood_ + shift, rtol=1e-10)
    assert_allclose(
        scaled.probability_alive(_scaled(synthetic, c)).value,
        synthetic_fit.probability_alive(synthetic).value,
        atol=1e-7,
    )


def test_time_scale_check_catches_a_broken_p_alive() -> None:
    """Negative control: P(alive) with (1 + T)/(1 + t_x) for (alpha + T)/(alpha + t_x)
    depends on the time unit; the real one does not."""
    r, alpha, a, b = PUBLISHED.values()

    def broken(x: float, t_x: float, big_t: float) -> float:
        return 1 / (1 + a / (b + x - 1) * ((1 + big_t) / (1 + t_x)) ** (r + x))

    assert not math.isclose(broken(2, 30.0, 39.0), broken(2, 300.0, 390.0), rel_tol=1e-4)
    weeks = BGNBD.from_params(**PUBLISHED).probability_alive(one(2, 30.0, 39.0)).value
    days = BGNBD.from_params(**{**PUBLISHED, "alpha": alpha * 7})
    assert_allclose(days.probability_alive(one(2, 210.0, 273.0)).value, weeks, rtol=1e-12)


# -- extreme histories ----------------------------------------------------------------------

EXTREME = Histories.from_arrays(
    frequency=[1000, 1000, 1000, 0, 0, 500],
    recency=[1e4, 10.0, 1e6, 0.0, 0.0, 39.0],
    age=[1e4, 100.0, 1e6, 1e6, 0.0, 39.0],
)


@pytest.mark.parametrize("params", [PUBLISHED, {"r": 2.0, "alpha": 0.1, "a": 50.0, "b": 0.3}])
def test_extreme_histories_are_finite_without_floating_point_errors(
    params: dict[str, float],
) -> None:
    """x = 1000 with t_x = T and large T, T up to 1e6, T = 0: every prediction is finite
    and in range, with every numpy floating-point error raising."""
    m = BGNBD.from_params(**params)
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
    assert p_alive[1] == 0.0  # 1000 purchases and silent for 90 weeks


def test_extreme_check_catches_the_textbook_formula() -> None:
    """Negative control: eq. 10 as printed (lifetimes' first attempt) overflows for
    x = 1000 (lifetimes#25): 2F1(r + x, b + x; a + b + x - 1; z) is infinite, times 0."""
    r, alpha, a, b = PUBLISHED.values()
    x, big_t, t = 1000.0, 10.0, 52.0
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
        textbook = (
            (a + b + x - 1)
            / (a - 1)
            * (1 - hyp * ((alpha + big_t) / (alpha + big_t + t)) ** (r + x))
        )
    assert not np.isfinite(textbook)
    ours = BGNBD.from_params(**PUBLISHED).conditional_expected_transactions(t, one(x, big_t, big_t))
    assert np.isfinite(ours.value[0]) and ours.value[0] > 0


# -- intervals, discounting, saving, bad input ----------------------------------------------


def test_parameter_intervals(fitted: BGNBD, cdnow: Histories) -> None:
    """interval=True brackets the point value, for both interval methods."""
    h = cdnow.take(np.arange(20))
    delta = fitted.conditional_expected_transactions(39, h, interval=True)
    draws = fitted.probability_alive(h, interval=True, method="draws")
    for p in (delta, draws):
        assert p.ci_low is not None and p.ci_high is not None
        assert np.all(p.ci_low <= p.value + 1e-12) and np.all(p.value <= p.ci_high + 1e-12)
    assert np.all(delta.ci_high > delta.ci_low)
    with pytest.raises(NotFittedError):
        BGNBD.from_params(**PUBLISHED).probability_alive(h, interval=True)


def test_discounted_expected_transactions_without_discount(fitted: BGNBD) -> None:
    """With a zero rate the periodic sum telescopes to the conditional expectation."""
    h = one(2, 30.43, 38.86)
    dert = fitted.discounted_expected_transactions(h, annual_discount_rate=0.0, horizon=52)
    plain = fitted.conditional_expected_transactions(52, h).value
    assert_allclose(dert.value, plain, rtol=1e-12)
    assert "periodic sum" in dert.method


def test_save_load_round_trip(fitted: BGNBD, cdnow: Histories, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "bgnbd.npz")
    loaded = BGNBD.load(path)
    assert_allclose(loaded.params, fitted.params, rtol=0)
    assert loaded.log_likelihood_ == fitted.log_likelihood_
    assert str(loaded.summary) == str(fitted.summary)
    h = cdnow.take(np.arange(50))
    assert_allclose(
        loaded.conditional_expected_transactions(39, h, interval=True).ci_high,
        fitted.conditional_expected_transactions(39, h, interval=True).ci_high,
        rtol=0,
    )


def test_refuses_histories_without_repeat_purchases() -> None:
    h = Histories.from_arrays(frequency=[0] * 10, recency=[0.0] * 10, age=[5.0] * 10)
    with pytest.raises(FitError, match="all frequencies"):
        BGNBD().fit(h)


def test_refuses_fewer_customers_than_needed() -> None:
    h = Histories.from_arrays(frequency=[0, 1, 2, 5], recency=[0.0, 1.0, 4.0, 9.0], age=[10.0] * 4)
    with pytest.raises(FitError, match="4 customers for 4 parameters"):
        BGNBD().fit(h)


def test_small_example_fits() -> None:
    """Five customers (the four above and one more without repeats) fit: a converged,
    well-conditioned maximum with intervals (the size of the examples in the docs)."""
    h = Histories.from_arrays(
        frequency=[0, 1, 2, 5, 0], recency=[0.0, 1.0, 4.0, 9.0, 0.0], age=[10.0] * 5
    )
    m = BGNBD().fit(h)
    assert m.diagnostics_ is not None and m.diagnostics_.converged
    assert m.diagnostics_.condition_number < 1e4
    p = m.uncertainty(lambda params: params[:1] * 2)
    assert p.ci_low is not None and p.ci_high is not None
    assert p.ci_low[0] < p.value[0] < p.ci_high[0]


def test_unfitted_model_refuses_predictions() -> None:
    with pytest.raises(NotFittedError):
        BGNBD().probability_alive(one(1, 1.0, 2.0))
