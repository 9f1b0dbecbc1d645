"""The Pareto/NBD model: published values, peers, numerics, properties with negative controls.

Published values: Fader, Hardie & Lee (2005a), "'Counting your customers' the easy way",
*Marketing Science* 24(2), 275-284 (Pareto/NBD on the CDNOW sample, as reported in the BTYD
walkthrough and CLVTools' tests), and lifetimes 0.11.3 ``tests/test_estimation.py`` (values
from R BTYD), summarised in REFERENCES section 14.8-14.9.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import integrate
from scipy.special import betaln, expit, gammaln, hyp2f1, hyperu

from stickykit.errors import FitError
from stickykit.models._histories import Histories
from stickykit.models._pareto_integral import log_tail
from stickykit.models.data import cdnow_histories
from stickykit.models.paretonbd import (
    ParetoNBD,
    _loglik,
    _p_alive,
    conditional_pmf,
    log_integral_term,
)

Array = np.ndarray
PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
WEEKS_PER_YEAR = 365.25 / 7


@pytest.fixture(scope="module")
def cdnow() -> Histories:
    return cdnow_histories().calibration


@pytest.fixture(scope="module")
def fitted(cdnow: Histories) -> ParetoNBD:
    return ParetoNBD().fit(cdnow)


def histories(x: list[float], t_x: list[float], big_t: list[float]) -> Histories:
    return Histories.from_arrays(frequency=x, recency=t_x, age=big_t)


def as_arrays(*columns: list[float]) -> tuple[Array, ...]:
    return tuple(np.asarray(c, dtype=np.float64) for c in columns)


# -- published values --------------------------------------------------------------------------


def test_cdnow_estimates_match_published(fitted: ParetoNBD) -> None:
    """FHL 2005a: r 0.553, alpha 10.578, s 0.606, beta 11.669, LL -9595.0 (3 significant
    digits; beta is weakly identified, so loose); BTYD LL -9594.976; CLVTools 0.55315,
    10.57633, 0.60625, 11.67150, SE(beta) 6.2105448 (its relative tolerance 1e-3)."""
    est = fitted.params_
    assert est is not None
    for name in ("r", "alpha", "s"):
        assert abs(est[name] - PUBLISHED[name]) <= 5e-4 * 10 ** math.floor(
            math.log10(PUBLISHED[name]) + 1
        )
    assert abs(est["beta"] - PUBLISHED["beta"]) < 0.05
    assert abs(fitted.log_likelihood_ - (-9595.0)) < 0.05
    assert abs(fitted.log_likelihood_ - (-9594.976)) < 1e-3
    clvtools = [0.55315, 10.57633, 0.60625, 11.67150]
    assert_allclose(fitted.params, clvtools, rtol=1e-3)
    assert_allclose(fitted.standard_errors_["beta"], 6.2105448, rtol=1e-3)
    assert fitted.diagnostics_ is not None and fitted.diagnostics_.converged


def test_expected_transactions_match_btyd(fitted: ParetoNBD) -> None:
    """lifetimes test_estimation.py (from R BTYD): E[X(t)], t = 0..9, atol 0.01."""
    btyd = [0, 0.05077821, 0.09916088, 0.14542507, 0.18979930, 0.23247466, 0.27361274,
            0.31335159, 0.35181024, 0.38909211]  # fmt: skip
    assert_allclose(fitted.expected_transactions(np.arange(10)), btyd, atol=0.01)


def test_conditional_expectation_matches_lifetimes_test(fitted: ParetoNBD) -> None:
    """lifetimes test_estimation.py: E[Y(52) | x 26, t_x 30.86, T 31] = 25.46 (+-0.01)."""
    value = fitted.conditional_expected_transactions(52, histories([26], [30.86], [31]))
    assert abs(value.value[0] - 25.46) < 0.01


def test_probability_alive_matches_lifetimes_test() -> None:
    """lifetimes test_estimation.py: at (0.5534, 10.5802, 0.6061, 11.6562), history
    (26, 30.86, 31), P(alive) = 0.9979 (+-0.001)."""
    m = ParetoNBD.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
    assert abs(m.probability_alive(histories([26], [30.86], [31])).value[0] - 0.9979) < 1e-3


def test_overflow_guard_of_lifetimes_test() -> None:
    """lifetimes test_estimation.py: params [10.465, 7.98565181e-03, 3.0516, 2.820], freq
    [400, 500, 500], rec [5, 1, 4], age [6, 37, 37]: log A0 finite and negative; with freq
    [40, 50, 50] P(alive) is in [0, 1]."""
    params = np.array([10.465, 7.98565181e-03, 3.0516, 2.820])
    x, t_x, big_t = as_arrays([400, 500, 500], [5, 1, 4], [6, 37, 37])
    log_i, grad = log_integral_term(params, x, t_x, big_t)
    log_a0 = log_i + np.log(params[0] + params[2] + x)
    assert np.all(np.isfinite(log_a0)) and np.all(log_a0 < 0)
    assert np.all(np.isfinite(grad))
    alive = _p_alive(params, x / 10, t_x, big_t)
    assert np.all((alive >= 0) & (alive <= 1))


def test_underflow_guard_of_lifetimes_test() -> None:
    """lifetimes test_estimation.py: at (alpha 10.58, beta 11.67, r 0.55, s 0.61),
    E[Y(10)] at (132, 200, 200) and (133, 200, 200) differ by < 0.05 (its comments: 6.2061,
    6.2529). Here recency equals age, so P(alive) = 1 and the closed form is exact."""
    m = ParetoNBD.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
    a = m.conditional_expected_transactions(10, histories([132], [200], [200])).value[0]
    b = m.conditional_expected_transactions(10, histories([133], [200], [200])).value[0]
    assert abs(a - b) < 0.05
    assert_allclose([a, b], [6.2061, 6.2529], atol=1e-4)


# -- the hypergeometric term and the likelihood ------------------------------------------------


def paper_log_tail(r: float, alpha: float, s: float, beta: float, x: float, u: float) -> float:
    """ln G(u) from the hypergeometric form of Fader & Hardie's 2005 note (eqs. 19-20), with
    scipy's hyp2f1 and the argument in [0, 1)."""
    n = r + s + x
    if alpha >= beta:
        f = hyp2f1(n, s + 1, n + 1, (alpha - beta) / (alpha + u))
        return float(np.log(f / n) - n * np.log(alpha + u))
    f = hyp2f1(n, r + x, n + 1, (beta - alpha) / (beta + u))
    return float(np.log(f / n) - n * np.log(beta + u))


def quad_tail(params: Array, x: float, u: float) -> tuple[float, Array]:
    """ln G(u) and its gradient by scipy.integrate.quad, in nu = ln(tau - u) on pieces a few
    units wide (the integrand decays like exp(nu) on the left and exp(-(r+s+x) nu) on the
    right), with the gradient from differentiating under the integral sign."""
    r, alpha, s, beta = params
    n = r + s + x

    def log_f(t: float) -> float:
        return float(-(r + x) * np.log(alpha + t) - (s + 1) * np.log(beta + t))

    centre = np.log((alpha + u) / n)
    top = log_f(u)
    edges = np.arange(centre - 40, centre + 45 / n + 10, 2.0)

    def integral(h: Callable[[float], float]) -> float:
        def g(v: float) -> float:
            t = u + np.exp(v)
            return float(np.exp(log_f(t) - top + v) * h(t))

        return float(
            sum(
                integrate.quad(g, lo, hi, epsabs=0, epsrel=1e-13)[0]
                for lo, hi in itertools.pairwise(edges)
            )
        )

    total = integral(lambda t: 1.0)
    grad = np.array(
        [
            -integral(lambda t: np.log(alpha + t)),
            -(r + x) * integral(lambda t: 1 / (alpha + t)),
            -integral(lambda t: np.log(beta + t)),
            -(s + 1) * integral(lambda t: 1 / (beta + t)),
        ]
    )
    return top + float(np.log(total)), grad / total


@pytest.mark.parametrize(
    "params",
    [
        (0.553, 10.578, 0.606, 11.669),
        (0.553, 11.669, 0.606, 10.578),
        (2.0, 0.5, 3.0, 50.0),
        (0.2, 30.0, 1.5, 2.0),
        (5.0, 1.0, 0.3, 1.0),
    ],
)
def test_log_tail_matches_scipy_hyp2f1(params: tuple[float, float, float, float]) -> None:
    """The quadrature equals the papers' hypergeometric form (scipy.special.hyp2f1) where
    hyp2f1 is accurate (moderate parameters, argument in [0, 1))."""
    x = np.array([0.0, 0, 1, 2, 5, 10, 30])
    u = np.array([0.0, 39, 0.5, 30.43, 20, 35, 38])
    got, _ = log_tail(np.array(params), x, u)
    want = [paper_log_tail(*params, xi, ui) for xi, ui in zip(x, u, strict=True)]
    assert_allclose(got, want, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize(
    ("params", "x", "u"),
    [
        ((0.553, 10.578, 0.606, 11.669), 500.0, 30.0),
        ((0.55, 0.1, 0.6, 1000.0), 800.0, 1.0),
        ((0.55, 1000.0, 0.6, 0.1), 800.0, 1.0),
        ((0.05, 0.01, 0.05, 5000.0), 0.0, 0.0),
        ((3.3, 0.58, 0.35, 0.055), 3000.0, 2.0),
        ((1.2, 0.02, 40.0, 300.0), 1.0, 0.1),
    ],
)
def test_log_tail_and_gradient_match_quad(
    params: tuple[float, float, float, float], x: float, u: float
) -> None:
    """Value and analytic gradient against scipy.integrate.quad, including large x and widely
    separated alpha and beta (the general rule)."""
    got, grad = log_tail(np.array(params), np.array([x]), np.array([u]))
    want, want_grad = quad_tail(np.array(params), x, u)
    assert abs(got[0] - want) < 1e-8 * max(1.0, abs(want))
    assert_allclose(grad[0], want_grad, rtol=1e-6, atol=1e-10)


def test_integral_term_is_zero_when_recency_equals_age() -> None:
    """A0 = 0 exactly when t_x = T, and then the likelihood is its first term only."""
    params = np.array([0.553, 10.578, 0.606, 11.669])
    x, t_x, big_t = as_arrays([3, 500, 0], [39, 39, 0], [39, 39, 0])
    log_i, grad_i = log_integral_term(params, x, t_x, big_t)
    assert np.all(log_i == -np.inf) and np.all(grad_i == 0)
    values, _ = _loglik(params, x, t_x, big_t)
    r, alpha, s, beta = params
    first = (
        gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        - (r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    )  # fmt: skip
    assert_allclose(values, first, rtol=1e-13)


def test_analytic_gradient_matches_finite_differences() -> None:
    """Central differences of the per-pattern log-likelihood at random parameters, with
    x = 500 and t_x = T among the histories."""
    rng = np.random.default_rng(7)
    x, t_x, big_t = as_arrays(
        [0, 0, 1, 4, 26, 500, 500, 60],
        [0, 0, 2.5, 30, 30.86, 20, 39, 39],
        [5, 39, 39, 39, 31, 39, 39, 39],
    )
    for _ in range(6):
        params = np.exp(rng.uniform(np.log([0.1, 0.5, 0.1, 0.5]), np.log([5.0, 50, 5, 50])))
        values, grad = _loglik(params, x, t_x, big_t)
        for j in range(4):
            step = 1e-6 * params[j]
            up, down = params.copy(), params.copy()
            up[j] += step
            down[j] -= step
            fd = (_loglik(up, x, t_x, big_t)[0] - _loglik(down, x, t_x, big_t)[0]) / (2 * step)
            noise = 1e-9 * (1 + np.abs(values)) / step
            assert_allclose(grad[:, j], fd, rtol=1e-6, atol=float(np.max(noise)))


# -- lifetimes ---------------------------------------------------------------------------------


def lifetimes_fitter(params: dict[str, float]) -> Any:
    pytest.importorskip("lifetimes")
    import pandas as pd
    from lifetimes import ParetoNBDFitter

    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(params)
    return fitter


def test_agrees_with_lifetimes_on_cdnow(fitted: ParetoNBD, cdnow: Histories) -> None:
    """lifetimes 0.11.3 at our estimates, every CDNOW customer, 1e-4 relative: its
    log-likelihood (per customer, on its own time axis; REFERENCES 14.1 for the shift),
    P(alive), E[Y(39) | history] and E[X(t)]. Its fit (Nelder-Mead, tol 1e-4) lands within
    1e-3 of our estimates and no higher in likelihood."""
    pytest.importorskip("lifetimes")
    from lifetimes import ParetoNBDFitter

    params = fitted.params
    peer = lifetimes_fitter(dict(zip(fitted.param_names, params, strict=True)))
    x, t_x, big_t = (
        np.asarray(c, dtype=np.float64) for c in (cdnow.frequency, cdnow.recency, cdnow.age)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_ll = ParetoNBDFitter._conditional_log_likelihood(params, x, t_x, big_t)
        their_alive = peer.conditional_probability_alive(x, t_x, big_t)
        their_cond = peer.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, big_t)
        their_exp = peer.expected_number_of_purchases_up_to_time(np.arange(1, 40))
        theirs = ParetoNBDFitter().fit(cdnow.frequency, cdnow.recency, cdnow.age)
    ours_ll, _ = _loglik(params, x, t_x, big_t)
    assert_allclose(ours_ll, their_ll, rtol=1e-4)
    assert_allclose(fitted.probability_alive(cdnow).value, their_alive, rtol=1e-4)
    assert_allclose(
        fitted.conditional_expected_transactions(39, cdnow).value, their_cond, rtol=1e-4
    )
    assert_allclose(fitted.expected_transactions(np.arange(1, 40)), their_exp, rtol=1e-4)
    their_params = theirs.params_[list(fitted.param_names)].to_numpy()
    assert_allclose(their_params, params, rtol=1e-3)
    scale = theirs._scale
    their_total = -theirs._negative_log_likelihood_ + x.sum() * math.log(scale)
    assert their_total <= fitted.log_likelihood_ + 1e-6
    assert abs(their_total - fitted.log_likelihood_) < 1e-3


def test_lifetimes_nan_when_recency_equals_age() -> None:
    """lifetimes' _log_A_0 takes logsumexp(b=[1, -1]) of two equal terms when recency == T;
    scipy >= 1.16 returns NaN there (not -inf), so its predictions are NaN. A0 is exactly 0,
    P(alive) = 1 and E[Y(t)] = (r+x)(b+T)/((a+T)(s-1)) [1 - ((b+T)/(b+T+t))^(s-1)]: ours."""
    params = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    peer = lifetimes_fitter(params)
    ours = ParetoNBD.from_params(**params)
    h = histories([132, 2, 0], [200, 30, 0], [200, 30, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = peer.conditional_expected_number_of_purchases_up_to_time(
            10, h.frequency, h.recency, h.age
        )
    r, a, s, b = params.values()
    big_t = h.age
    closed = (
        (r + h.frequency)
        * (b + big_t)
        / ((a + big_t) * (s - 1))
        * (1 - ((b + big_t) / (b + big_t + 10)) ** (s - 1))
    )
    value = ours.conditional_expected_transactions(10, h).value
    assert np.all(np.isfinite(value))
    assert_allclose(value, closed, rtol=1e-12)
    assert_allclose(ours.probability_alive(h).value, 1.0)
    if not np.isnan(theirs).any():  # an older scipy: then lifetimes is right here too
        assert_allclose(value, theirs, rtol=1e-4)


def test_lifetimes_nan_with_large_frequency() -> None:
    """With alpha < beta lifetimes evaluates hyp2f1(r+s+x, r+x; r+s+x+1; z) with z near 1,
    which overflows for large x (lifetimes#25): NaN log-likelihood and P(alive). Ours is
    finite and matches the likelihood with I integrated by scipy.integrate.quad."""
    params = {"r": 0.55, "alpha": 0.1, "s": 0.6, "beta": 1000.0}
    peer = lifetimes_fitter(params)
    from lifetimes import ParetoNBDFitter

    x, t_x, big_t = as_arrays([300, 800], [10, 30], [39, 39])
    p = np.array(list(params.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ParetoNBDFitter._conditional_log_likelihood(p, x, t_x, big_t)
        their_alive = peer.conditional_probability_alive(x, t_x, big_t)
    ours, _ = _loglik(p, x, t_x, big_t)
    alive = _p_alive(p, x, t_x, big_t)
    assert np.all(np.isfinite(ours)) and np.all((alive >= 0) & (alive <= 1))
    r, a, s, b = p
    for i in range(2):
        log_gx, _ = quad_tail(p, x[i], t_x[i])
        log_gt, _ = quad_tail(p, x[i], big_t[i])
        log_i = log_gx + np.log1p(-np.exp(log_gt - log_gx))
        first = -(r + x[i]) * np.log(a + big_t[i]) - s * np.log(b + big_t[i])
        want = (
            gammaln(r + x[i]) - gammaln(r) + r * np.log(a) + s * np.log(b)
            + np.logaddexp(first, np.log(s) + log_i)
        )  # fmt: skip
        assert abs(ours[i] - want) < 1e-8 * abs(want)
    # where lifetimes is finite it agrees; on scipy 1.17 both histories overflow to NaN
    finite = np.isfinite(theirs) & np.isfinite(their_alive)
    assert_allclose(ours[finite], theirs[finite], rtol=1e-4)
    assert_allclose(alive[finite], their_alive[finite], rtol=1e-4)


# -- probabilities of purchases ----------------------------------------------------------------


def fh2006_pmf(n: int, t: float, r: float, a: float, s: float, b: float) -> float:
    """P(X(t) = n): Fader & Hardie (2006), "Deriving an expression for P(X(t) = x) under the
    Pareto/NBD model", eq. 17-18, with scipy's hyp2f1."""
    first = np.exp(
        gammaln(r + n) - gammaln(r) - gammaln(n + 1)
        + r * np.log(a / (a + t)) + n * np.log(t / (a + t)) + s * np.log(b / (b + t))
    )  # fmt: skip
    if a >= b:
        b1 = hyp2f1(r + s, s + 1, r + s + n + 1, (a - b) / a) / a ** (r + s)

        def b2(i: int) -> float:
            return float(
                hyp2f1(r + s + i, s + 1, r + s + n + 1, (a - b) / (a + t)) / (a + t) ** (r + s + i)
            )
    else:
        b1 = hyp2f1(r + s, r + n, r + s + n + 1, (b - a) / b) / b ** (r + s)

        def b2(i: int) -> float:
            return float(
                hyp2f1(r + s + i, r + n, r + s + n + 1, (b - a) / (b + t)) / (b + t) ** (r + s + i)
            )

    total = sum(
        np.exp(gammaln(r + s + i) - gammaln(r + s) - gammaln(i + 1)) * t**i * b2(i)
        for i in range(n + 1)
    )
    return float(first + a**r * b**s * np.exp(betaln(r + n, s + 1) - betaln(r, s)) * (b1 - total))


@pytest.mark.parametrize(
    "params",
    [(0.553, 10.578, 0.606, 11.669), (0.553, 11.669, 0.606, 10.578), (1.2, 3.0, 2.5, 40.0)],
)
def test_pmf_matches_fader_hardie_2006(params: tuple[float, float, float, float]) -> None:
    """P(X(t) = n), n = 0..7, t = 39, against the note's closed form (1e-9 absolute)."""
    m = ParetoNBD.from_params(**dict(zip(ParetoNBD.param_names, params, strict=True)))
    got = m.probability_of_transactions(np.arange(8), 39.0)
    want = [fh2006_pmf(n, 39.0, *params) for n in range(8)]
    assert_allclose(got, want, atol=1e-9)


def test_pmf_sums_to_one_and_has_the_expected_mean(fitted: ParetoNBD) -> None:
    """Sum over n of P(X(39) = n) is 1 and its mean is E[X(39)]; P(X(0) = 0) = 1."""
    n = np.arange(400)
    pmf = fitted.probability_of_transactions(n, 39.0)
    assert abs(pmf.sum() - 1) < 1e-8
    assert abs(n @ pmf - fitted.expected_transactions(39.0)) < 1e-6
    assert_allclose(fitted.probability_of_transactions([0, 1], 0.0), [1.0, 0.0])


def test_conditional_pmf_mean_is_conditional_expectation(fitted: ParetoNBD) -> None:
    """Sum over n of n P(Y(52) = n | history) equals E[Y(52) | history], incl. t_x = T; the
    public method gives the same numbers as the table."""
    h = histories([0, 2, 26, 10, 500], [0, 30.43, 30.86, 39, 30], [39, 38.86, 31, 39, 39])
    n = np.arange(1500.0)
    table = conditional_pmf(fitted.params, n, 52.0, h.frequency.astype(float), h.recency, h.age)
    assert_allclose(table.sum(axis=1), 1.0, atol=1e-9)
    assert_allclose(table @ n, fitted.conditional_expected_transactions(52.0, h).value, rtol=1e-7)
    for count in (0, 3, 700):
        assert_allclose(
            fitted.probability_of_transactions(count, 52.0, h), table[:, count], rtol=1e-12
        )


# -- discounted expected residual transactions -------------------------------------------------


def test_dert_matches_hyperu_form_and_brute_force(fitted: ParetoNBD, cdnow: Histories) -> None:
    """FHL 2005b eq. 2 with scipy.special.hyperu where it is well behaved, and a brute-force
    quad of the discounted increments of E[Y(t) | history]; 15% a year (delta = ln 1.15 / 52.18
    per week)."""
    h = cdnow.take(np.arange(0, 2357, 97))
    got = fitted.discounted_expected_transactions(h, annual_discount_rate=0.15)
    r, a, s, b = fitted.params
    delta = math.log(1.15) / WEEKS_PER_YEAR
    alive = fitted.probability_alive(h).value
    x, big_t = h.frequency, h.age
    scale = b + big_t
    hyperu_form = (
        alive * (r + x) / (a + big_t) * scale**s * delta ** (s - 1) * hyperu(s, s, delta * scale)
    )
    assert_allclose(got.value, hyperu_form, rtol=1e-9)
    for i in (0, 5, 12):
        step = fitted.conditional_expected_transactions(1e-9, h.take(np.array([i]))).value[0]
        rate = step / 1e-9  # dE[Y]/dt at 0 = P(alive) (r+x)/(a+T)

        def increment(t: float, i: int = i, rate: float = rate) -> float:
            return float(np.exp(-delta * t) * rate * (scale[i] / (scale[i] + t)) ** s)

        brute = integrate.quad(increment, 0, np.inf, epsabs=0, epsrel=1e-11, limit=500)[0]
        assert abs(got.value[i] - brute) < 1e-6 * brute
    assert "infinite horizon" in got.method


def test_dert_stays_finite_where_hyperu_form_does_not() -> None:
    """With large s and beta the U-function form overflows (beta^s * U: inf * 0, CLVTools #163
    reports the same for large beta); the integral form stays finite and matches quad."""
    m = ParetoNBD.from_params(r=0.553, alpha=10.578, s=60.0, beta=1e7)
    h = histories([2], [30.43], [38.86])
    value = m.discounted_expected_transactions(h, annual_discount_rate=0.15).value[0]
    delta = math.log(1.15) / WEEKS_PER_YEAR
    scale = np.float64(1e7 + 38.86)
    with np.errstate(all="ignore"):
        via_u = scale**60.0 * delta**59.0 * hyperu(60.0, 60.0, delta * scale)
    assert not np.isfinite(via_u) or via_u == 0
    rate = m.conditional_expected_transactions(1e-9, h).value[0] / 1e-9
    brute = integrate.quad(
        lambda t: np.exp(-delta * t) * rate * np.exp(-60.0 * np.log1p(t / scale)),
        0,
        np.inf,
        epsabs=0,
        epsrel=1e-11,
        limit=500,
    )[0]
    assert np.isfinite(value) and abs(value - brute) < 1e-6 * brute


def test_dert_finite_horizon(fitted: ParetoNBD, cdnow: Histories) -> None:
    """A finite horizon truncates the integral; with no discounting it is E[Y(H) | history]."""
    h = cdnow.take(np.arange(0, 2357, 131))
    plain = fitted.conditional_expected_transactions(52, h).value
    undiscounted = fitted.discounted_expected_transactions(h, annual_discount_rate=0.0, horizon=52)
    assert_allclose(undiscounted.value, plain, rtol=1e-9)
    discounted = fitted.discounted_expected_transactions(h, annual_discount_rate=0.1, horizon=52)
    infinite = fitted.discounted_expected_transactions(h, annual_discount_rate=0.1)
    assert np.all(discounted.value < plain) and np.all(discounted.value < infinite.value)
    assert "truncated at 52 week(s)" in discounted.method
    assert_allclose(
        fitted.discounted_expected_transactions(h, annual_discount_rate=0.1, horizon=0).value, 0.0
    )
    with pytest.raises(ValueError, match="infinite horizon"):
        fitted.discounted_expected_transactions(h, annual_discount_rate=0.0)


def test_dert_interval(fitted: ParetoNBD) -> None:
    """Intervals come from the parameter uncertainty (delta method), and say so."""
    h = histories([0, 2], [0, 30.43], [38.86, 38.86])
    p = fitted.discounted_expected_transactions(h, annual_discount_rate=0.1, interval=True)
    assert p.ci_low is not None and p.ci_high is not None
    assert np.all((p.ci_low < p.value) & (p.value < p.ci_high))
    assert "delta method" in p.method


# -- properties, each with a negative control --------------------------------------------------

params_strategy = st.tuples(
    st.floats(-3, 3), st.floats(-4, 7), st.floats(-3, 3), st.floats(-4, 7)
).map(lambda v: np.exp(np.array(v)))


@st.composite
def history_strategy(draw: st.DrawFn, min_size: int = 1) -> tuple[Array, Array, Array]:
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 600),
                st.floats(0.01, 1.0),
                st.floats(0.5, 200.0),
                st.booleans(),
            ),
            min_size=min_size,
            max_size=8,
        )
    )
    x = np.array([float(r[0]) for r in rows])
    big_t = np.array([r[2] for r in rows])
    t_x = np.where(
        x > 0, np.where([r[3] for r in rows], big_t, big_t * np.array([r[1] for r in rows])), 0.0
    )
    return x, t_x, big_t


def in_unit_interval(values: Array) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all((values >= 0) & (values <= 1)))


def broken_p_alive(params: Array, x: Array, t_x: Array, big_t: Array) -> Array:
    """1 - odds instead of 1 / (1 + odds): a first-order slip."""
    r, a, s, b = params
    log_i, _ = log_integral_term(params, x, t_x, big_t)
    return np.asarray(
        1 - np.exp(np.log(s) + (r + x) * np.log(a + big_t) + s * np.log(b + big_t) + log_i)
    )


@given(params_strategy, history_strategy())
def test_p_alive_is_a_probability(params: Array, data: tuple[Array, Array, Array]) -> None:
    assert in_unit_interval(_p_alive(params, *data))


def test_p_alive_negative_control() -> None:
    params = np.array([0.553, 10.578, 0.606, 11.669])
    assert not in_unit_interval(broken_p_alive(params, *as_arrays([0], [0], [39])))


def non_decreasing(values: Array) -> bool:
    return bool(np.all(np.diff(values) >= -1e-12 * np.abs(values[1:])))


def broken_expected(params: Array, t: Array) -> Array:
    """A sign slip in E[X(t)]: 1 + (b/(b+t))^(s-1)."""
    r, a, s, b = params
    return np.asarray(r * b / (a * (s - 1)) * (1 + (b / (b + t)) ** (s - 1)))


@given(params_strategy, history_strategy(), st.lists(st.floats(0, 500), min_size=2, max_size=6))
def test_expectations_grow_with_horizon(
    params: Array, data: tuple[Array, Array, Array], ts: list[float]
) -> None:
    times = np.sort(np.array(ts))
    m = ParetoNBD()
    assert non_decreasing(m._expected(params, times))
    cond = np.array([m._conditional_expected(params, float(t), *data) for t in times])
    assert all(non_decreasing(cond[:, j]) for j in range(cond.shape[1]))


def test_expectations_negative_control() -> None:
    assert not non_decreasing(
        broken_expected(np.array([0.5, 10.0, 2.0, 10.0]), np.array([1.0, 5.0, 50.0]))
    )


@given(params_strategy, history_strategy(), st.floats(0.5, 60))
def test_conditional_pmf_sums_to_one(
    params: Array, data: tuple[Array, Array, Array], t: float
) -> None:
    x, _, big_t = data
    shape, rate = params[0] + x, params[1] + big_t
    ratio = t / (rate + t)  # the alive customer's counts have a tail below ratio^n n^shape
    mean = shape * t / rate
    counts = np.max(2 * mean + (30 + shape * np.log1p(10 * mean + shape)) / -np.log(ratio))
    if counts > 1000:  # a long sum; the mean identity test covers large counts
        return
    table = conditional_pmf(params, np.arange(float(math.ceil(counts))), t, *data)
    assert_allclose(table.sum(axis=1), 1.0, atol=1e-7)


def test_conditional_pmf_negative_control() -> None:
    """Leaving out the dead customers' mass at n = 0 no longer sums to 1."""
    params = np.array([0.553, 10.578, 0.606, 11.669])
    data = as_arrays([0, 2], [0, 30.43], [39, 38.86])
    table = conditional_pmf(params, np.arange(200.0), 39.0, *data)
    table[:, 0] -= 1 - _p_alive(params, *data)
    assert not np.allclose(table.sum(axis=1), 1.0, atol=1e-7)


def total_loglik(params: Array, x: Array, t_x: Array, big_t: Array) -> float:
    h = Histories.from_arrays(frequency=x, recency=t_x, age=big_t)
    m = ParetoNBD()
    return m.log_likelihood(params, m.patterns(h))


def mean_loglik(params: Array, x: Array, t_x: Array, big_t: Array) -> float:
    """A per-customer mean (as lifetimes stores): not additive over customers."""
    return total_loglik(params, x, t_x, big_t) / len(x)


@given(params_strategy, history_strategy(min_size=2))
def test_loglik_additive_over_customers(params: Array, data: tuple[Array, Array, Array]) -> None:
    x, t_x, big_t = data
    k = len(x) // 2
    whole = total_loglik(params, x, t_x, big_t)
    parts = total_loglik(params, x[:k], t_x[:k], big_t[:k]) + total_loglik(
        params, x[k:], t_x[k:], big_t[k:]
    )
    assert abs(whole - parts) <= 1e-9 * max(1.0, abs(whole))


def test_additivity_negative_control() -> None:
    params = np.array([0.553, 10.578, 0.606, 11.669])
    x, t_x, big_t = as_arrays([0, 2, 5], [0, 30.0, 20.0], [39, 39, 30])
    whole = mean_loglik(params, x, t_x, big_t)
    parts = mean_loglik(params, x[:1], t_x[:1], big_t[:1]) + mean_loglik(
        params, x[1:], t_x[1:], big_t[1:]
    )
    assert abs(whole - parts) > 1e-3


@given(params_strategy, history_strategy(min_size=2), st.randoms(use_true_random=False))
def test_permutation_invariance(
    params: Array, data: tuple[Array, Array, Array], rnd: object
) -> None:
    x, t_x, big_t = data
    order = np.arange(len(x))
    rnd.shuffle(order)
    assert abs(
        total_loglik(params, x, t_x, big_t)
        - total_loglik(params, x[order], t_x[order], big_t[order])
    ) <= 1e-9 * max(1.0, abs(total_loglik(params, x, t_x, big_t)))
    assert_allclose(
        _p_alive(params, x[order], t_x[order], big_t[order]),
        _p_alive(params, x, t_x, big_t)[order],
        rtol=1e-12,
    )


def test_permutation_negative_control() -> None:
    """A likelihood weighting patterns by their position depends on the order."""
    params = np.array([0.553, 10.578, 0.606, 11.669])
    x, t_x, big_t = as_arrays([0, 2, 5], [0, 30.0, 20.0], [39, 39, 30])

    def positional(x: Array, t_x: Array, big_t: Array) -> float:
        values, _ = _loglik(params, x, t_x, big_t)
        return float(np.arange(1, len(x) + 1) @ values)

    order = np.array([2, 0, 1])
    assert abs(positional(x, t_x, big_t) - positional(x[order], t_x[order], big_t[order])) > 1e-3


@given(params_strategy, history_strategy(), st.floats(0.01, 100))
def test_time_scale_invariance(params: Array, data: tuple[Array, Array, Array], c: float) -> None:
    """Times x c with alpha, beta x c: P(alive) unchanged, LL shifted by -sum(x) ln c."""
    x, t_x, big_t = data
    scaled = params * np.array([1, c, 1, c])
    before, _ = _loglik(params, x, t_x, big_t)
    after, _ = _loglik(scaled, x, c * t_x, c * big_t)
    assert_allclose(after, before - x * math.log(c), rtol=1e-9, atol=1e-8)
    assert_allclose(
        _p_alive(scaled, x, c * t_x, c * big_t),
        _p_alive(params, x, t_x, big_t),
        rtol=1e-8,
        atol=1e-12,
    )


def test_time_scale_negative_control() -> None:
    """Scaling alpha but not beta is not the same model on the new axis."""
    params = np.array([0.553, 10.578, 0.606, 11.669])
    data = as_arrays([2], [30.0], [39.0])
    c = 7.0
    wrong = params * np.array([1, c, 1, 1])
    moved = (data[0], c * data[1], c * data[2])
    assert abs(_p_alive(wrong, *moved)[0] - _p_alive(params, *data)[0]) > 1e-3


def test_time_scale_invariance_of_the_fit(cdnow: Histories, fitted: ParetoNBD) -> None:
    """Fitting CDNOW in days (x 7) multiplies alpha and beta by 7 and shifts LL by -sum(x) ln 7."""
    days = Histories.from_arrays(
        frequency=cdnow.frequency, recency=cdnow.recency * 7, age=cdnow.age * 7, time_unit="day"
    )
    m = ParetoNBD().fit(days)
    assert_allclose(m.params, fitted.params * np.array([1, 7, 1, 7]), rtol=1e-5)
    shift = -float(cdnow.frequency.sum()) * math.log(7)
    assert abs(m.log_likelihood_ - (fitted.log_likelihood_ + shift)) < 1e-6


# -- input, persistence ------------------------------------------------------------------------


def test_all_zero_frequencies_refused() -> None:
    h = histories([0, 0, 0, 0, 0, 0], [0] * 6, [10, 20, 30, 5, 6, 7])
    with pytest.raises(FitError, match="all frequencies"):
        ParetoNBD().fit(h)


def test_too_few_customers_refused() -> None:
    with pytest.raises(FitError, match="customers for 4 parameters"):
        ParetoNBD().fit(histories([0, 2, 3], [0, 3, 4], [10, 10, 10]))


def test_save_load_round_trip(fitted: ParetoNBD, cdnow: Histories, tmp_path: object) -> None:
    path = fitted.save(tmp_path / "pnbd.npz")  # type: ignore[operator]
    back = ParetoNBD.load(path)
    assert_allclose(back.params, fitted.params, rtol=0)
    assert back.log_covariance_ is not None and fitted.log_covariance_ is not None
    assert_allclose(back.log_covariance_, fitted.log_covariance_, rtol=0)
    assert back.log_likelihood_ == fitted.log_likelihood_
    h = cdnow.take(np.arange(20))
    assert_allclose(back.probability_alive(h).value, fitted.probability_alive(h).value, rtol=0)
    assert str(back.summary) == str(fitted.summary)


def test_sigmoid_form_of_p_alive(fitted: ParetoNBD) -> None:
    """P(alive) is the first term's share of the likelihood (FHL 2005 note eq. 36)."""
    params = fitted.params
    x, t_x, big_t = as_arrays([0, 3, 10], [0, 20, 38], [39, 39, 39])
    r, a, s, b = params
    log_i, _ = log_integral_term(params, x, t_x, big_t)
    first = -(r + x) * np.log(a + big_t) - s * np.log(b + big_t)
    assert_allclose(_p_alive(params, x, t_x, big_t), expit(first - np.log(s) - log_i), rtol=1e-14)
