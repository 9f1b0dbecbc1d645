"""Seeded simulators against the models' closed-form moments and distributions.

The formulas are written out here from the papers (and the summary in REFERENCES §14), not
taken from the model classes, so a simulator and a model cannot share a mistake. Each check
allows 4 standard errors of the simulated statistic (or a p-value above 1e-3 for a
goodness-of-fit test) on a fixed seed, and has a negative control: the same check rejects a
deliberately broken formula on the same sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats
from scipy.special import betaln, gammaln, hyp2f1

from stickykit.models.simulate import (
    simulate_bgbb,
    simulate_bgnbd,
    simulate_gammagamma_spend,
    simulate_mbgnbd,
    simulate_paretonbd,
    simulate_sbg,
)

BGNBD_CDNOW = (0.243, 4.414, 0.793, 2.426)  # FHL 2005a
PARETO_CDNOW = (0.553, 10.578, 0.606, 11.669)  # FHL 2005a
BGBB_DONATIONS = (1.204, 0.750, 0.657, 2.783)  # FHS 2010
N = 20_000
Z_MAX = 4.0


# -- closed forms -------------------------------------------------------------------------------


def bgnbd_mean(
    t: NDArray[np.float64], r: float, alpha: float, a: float, b: float
) -> NDArray[np.float64]:
    """E[X(t)], FHL 2005a eq. 9."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def mbgnbd_mean(
    t: NDArray[np.float64], r: float, alpha: float, a: float, b: float
) -> NDArray[np.float64]:
    """E[X(t)], Batislam et al. 2007 (REFERENCES §14.3)."""
    z = t / (alpha + t)
    return b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, z))


def pareto_mean(
    t: NDArray[np.float64], r: float, alpha: float, s: float, beta: float
) -> NDArray[np.float64]:
    """E[X(t)], Schmittlein, Morrison & Colombo 1987 (REFERENCES §14.4)."""
    return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


def bgnbd_pmf(
    x: NDArray[np.int64], t: float, r: float, alpha: float, a: float, b: float
) -> NDArray[np.float64]:
    """P(X(t) = x), FHL 2005a eq. 8."""
    x = np.asarray(x)
    log_nbd = (
        gammaln(r + x)
        - gammaln(r)
        - gammaln(x + 1)
        + r * np.log(alpha / (alpha + t))
        + x * np.log(t / (alpha + t))
    )
    first = np.exp(betaln(a, b + x) - betaln(a, b) + log_nbd)
    j = np.arange(int(x.max()) + 1)
    terms = np.exp(
        gammaln(r + j)
        - gammaln(r)
        - gammaln(j + 1)
        + r * np.log(alpha / (alpha + t))
        + j * np.log(t / (alpha + t))
    )
    below = np.concatenate([[0.0], np.cumsum(terms)])[x]  # sum over j < x
    second = np.where(
        x > 0, np.exp(betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b)) * (1 - below), 0.0
    )
    return first + second


def bgbb_alive(n: int, gamma: float, delta: float) -> float:
    """P(alive at opportunity n) = B(gamma, delta + n) / B(gamma, delta)."""
    return math.exp(betaln(gamma, delta + n) - betaln(gamma, delta))


def bgbb_mean(
    first: int, last: int, alpha: float, beta: float, gamma: float, delta: float
) -> float:
    """E[purchases at opportunities first..last] = E[p] * sum of P(alive at t)."""
    alive = sum(bgbb_alive(t, gamma, delta) for t in range(first, last + 1))
    return alpha / (alpha + beta) * alive


def bgbb_pattern_probability(
    x: int, t_x: int, n: int, alpha: float, beta: float, gamma: float, delta: float
) -> float:
    """P(x, t_x | n): the sequence likelihood (FHS 2010 eq. 3) times C(t_x - 1, x - 1) sequences."""
    log_b = betaln(alpha, beta)
    log_g = betaln(gamma, delta)
    value = math.exp(betaln(alpha + x, beta + n - x) - log_b + betaln(gamma, delta + n) - log_g)
    for i in range(n - t_x):
        value += math.exp(
            betaln(alpha + x, beta + t_x - x + i)
            - log_b
            + betaln(gamma + 1, delta + t_x + i)
            - log_g
        )
    return value * (math.comb(t_x - 1, x - 1) if x > 0 else 1.0)


def sbg_survival(t: NDArray[np.int64], alpha: float, beta: float) -> NDArray[np.float64]:
    """S(t) = B(alpha, beta + t) / B(alpha, beta), Fader & Hardie 2007 eq. 5."""
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def z_score(values: NDArray[np.float64], expected: float | NDArray[np.float64]) -> float:
    residual = np.asarray(values, dtype=np.float64) - expected
    return float(residual.mean() / (residual.std(ddof=1) / math.sqrt(len(residual))))


def share_z(hits: NDArray[np.bool_], expected: float) -> float:
    return float((hits.mean() - expected) / math.sqrt(expected * (1 - expected) / len(hits)))


def chi_square_p(observed: NDArray[np.float64], probability: NDArray[np.float64]) -> float:
    """Goodness of fit; cells with an expected count under 5 are pooled into the last cell."""
    expected = probability * observed.sum()
    small = expected < 5
    obs = np.concatenate([observed[~small], [observed[small].sum()]])
    exp = np.concatenate([expected[~small], [expected[small].sum()]])
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    exp *= obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


# -- the formulas themselves against published values --------------------------------------------


def test_formulas_reproduce_published_expectations() -> None:
    """E[X(t)] at the CDNOW estimates: lifetimes 0.11.3 ``tests/test_estimation.py``.

    BG/NBD at t = 0.1429, 1, 3, 31.8571, 32, 78: 0.0078, 0.0532, 0.1506, 1.0405, 1.0437,
    1.8576; Pareto/NBD (R BTYD) at t = 1, 5, 9: 0.05077821, 0.23247466, 0.38909211. Those
    come from unrounded fits; at the rounded published parameters they agree within 0.2%.
    """
    t = np.array([0.1429, 1, 3, 31.8571, 32, 78])
    np.testing.assert_allclose(
        bgnbd_mean(t, *BGNBD_CDNOW),
        [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576],
        rtol=2e-3,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        pareto_mean(np.array([1.0, 5.0, 9.0]), *PARETO_CDNOW),
        [0.05077821, 0.23247466, 0.38909211],
        atol=0.01,
    )
    # P(X(39) = 0) = 0.5737864 at the published BG/NBD parameters (lifetimes' test)
    assert abs(float(bgnbd_pmf(np.array([0]), 39.0, *BGNBD_CDNOW)[0]) - 0.5737864) < 1e-4
    # the pmf sums to 1, and its mean is the closed-form mean
    x = np.arange(4000)
    pmf = bgnbd_pmf(x, 39.0, *BGNBD_CDNOW)
    assert abs(pmf.sum() - 1) < 1e-9
    assert abs(float(x @ pmf) - float(bgnbd_mean(np.array(39.0), *BGNBD_CDNOW))) < 1e-6


def test_bgbb_mean_is_fhs_closed_form() -> None:
    """The sum of P(alive) equals FHS 2010's E[X(n)] (eq. 7's mean) at the donation estimates."""
    a, b, g, d = BGBB_DONATIONS
    closed = (
        a
        / (a + b)
        * d
        / (g - 1)
        * (1 - math.exp(gammaln(g + d) - gammaln(1 + d) + gammaln(1 + d + 6) - gammaln(g + d + 6)))
    )
    assert abs(bgbb_mean(1, 6, *BGBB_DONATIONS) - closed) < 1e-12
    total = sum(
        bgbb_pattern_probability(x, t, 6, *BGBB_DONATIONS)
        for t in range(7)
        for x in range(t + 1)
        if (x == 0) == (t == 0)
    )
    assert abs(total - 1) < 1e-12


# -- BG/NBD and MBG/NBD -----------------------------------------------------------------------


def test_bgnbd_counts_match_the_pmf_and_mean() -> None:
    """Repeat counts at T = 38.86: distribution (eq. 8), mean (eq. 9), zero share."""
    sim = simulate_bgnbd(*BGNBD_CDNOW, n_customers=N, age=38.86, rng=1)
    x = sim.histories.frequency
    observed = np.bincount(x).astype(np.float64)
    pmf = bgnbd_pmf(np.arange(len(observed)), 38.86, *BGNBD_CDNOW)
    assert chi_square_p(observed, pmf) > 1e-3
    assert abs(z_score(x, float(bgnbd_mean(np.array(38.86), *BGNBD_CDNOW)))) < Z_MAX
    zero = (BGNBD_CDNOW[1] / (BGNBD_CDNOW[1] + 38.86)) ** BGNBD_CDNOW[0]
    assert abs(share_z(x == 0, zero)) < Z_MAX
    # negative control: MBG/NBD's zero share (drop-out at time 0 too) is rejected
    _, _, a, b = BGNBD_CDNOW
    assert abs(share_z(x == 0, b / (a + b) * zero + a / (a + b))) > Z_MAX


def test_bgnbd_pmf_negative_control() -> None:
    """A pmf without the 1{x>0} drop-out term's shift (b + x instead of b + x - 1) is rejected."""
    sim = simulate_bgnbd(*BGNBD_CDNOW, n_customers=N, age=38.86, rng=1)
    observed = np.bincount(sim.histories.frequency).astype(np.float64)
    x = np.arange(len(observed))
    r, alpha, a, b = BGNBD_CDNOW
    broken = bgnbd_pmf(x, 38.86, r, alpha, a, b + 1)  # the drop-out term of a shifted b
    assert chi_square_p(observed, broken) < 1e-6


def test_bgnbd_varying_ages_and_holdout() -> None:
    """Uniform acquisition over 39 weeks; the holdout mean is E[X(T + 39)] - E[X(T)]."""
    rng = np.random.default_rng(2)
    ages = rng.uniform(0, 39, N)
    sim = simulate_bgnbd(*BGNBD_CDNOW, n_customers=N, age=ages, rng=rng, holdout=39.0)
    before = bgnbd_mean(ages, *BGNBD_CDNOW)
    after = bgnbd_mean(ages + 39, *BGNBD_CDNOW)
    assert abs(z_score(sim.histories.frequency, before)) < Z_MAX
    assert abs(z_score(sim.holdout_frequency, after - before)) < Z_MAX
    # negative control: the holdout is not a second calibration period of the same length
    assert abs(z_score(sim.holdout_frequency, bgnbd_mean(np.full(N, 39.0), *BGNBD_CDNOW))) > Z_MAX
    h = sim.histories
    assert np.all((h.recency <= h.age) & ((h.frequency > 0) == (h.recency > 0)))


def test_mbgnbd_mean_zero_share_and_holdout() -> None:
    """MBG/NBD: mean, zero share b/(a+b) (alpha/(alpha+T))^r + a/(a+b), holdout."""
    r, alpha, a, b = 0.525, 6.183, 0.891, 1.614  # lifetimes' CDNOW estimates
    t = 38.86
    sim = simulate_mbgnbd(r, alpha, a, b, n_customers=N, age=t, rng=3, holdout=20.0)
    x = sim.histories.frequency
    assert abs(z_score(x, float(mbgnbd_mean(np.array(t), r, alpha, a, b)))) < Z_MAX
    nbd_zero = (alpha / (alpha + t)) ** r
    assert abs(share_z(x == 0, b / (a + b) * nbd_zero + a / (a + b))) < Z_MAX
    gain = mbgnbd_mean(np.array(t + 20), r, alpha, a, b) - mbgnbd_mean(np.array(t), r, alpha, a, b)
    assert abs(z_score(sim.holdout_frequency, float(gain))) < Z_MAX
    # negative control: the BG/NBD mean at the same parameters is rejected
    assert abs(z_score(x, float(bgnbd_mean(np.array(t), r, alpha, a, b)))) > Z_MAX
    # a customer who has dropped out buys nothing in the holdout
    assert np.all(sim.holdout_frequency[~sim.alive] == 0)


# -- Pareto/NBD ---------------------------------------------------------------------------------


def test_paretonbd_mean_alive_share_and_holdout() -> None:
    """E[X(T)], P(alive at T) = (beta/(beta+T))^s, holdout E[X(T+t)] - E[X(T)]."""
    r, alpha, s, beta = PARETO_CDNOW
    rng = np.random.default_rng(4)
    ages = rng.uniform(0, 39, N)
    sim = simulate_paretonbd(r, alpha, s, beta, n_customers=N, age=ages, rng=rng, holdout=39.0)
    before = pareto_mean(ages, *PARETO_CDNOW)
    after = pareto_mean(ages + 39, *PARETO_CDNOW)
    assert abs(z_score(sim.histories.frequency, before)) < Z_MAX
    assert abs(z_score(sim.holdout_frequency, after - before)) < Z_MAX
    alive = (beta / (beta + ages)) ** s
    assert abs(z_score(sim.alive.astype(float), alive)) < Z_MAX
    # negative control: a mean with exponent s instead of s - 1 is rejected
    broken = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + ages)) ** s)
    assert abs(z_score(sim.histories.frequency, broken)) > Z_MAX
    assert np.all(sim.holdout_frequency[~sim.alive] == 0)


# -- Gamma-Gamma --------------------------------------------------------------------------------


def gg_uniforms(
    z: NDArray[np.float64], x: NDArray[np.int64], p: float, q: float, gamma: float
) -> NDArray[np.float64]:
    """x z / (x z + gamma) ~ Beta(p x, q) (a ratio of independent gammas); its CDF is uniform."""
    return np.asarray(stats.beta.cdf(x * z / (x * z + gamma), p * x, q))


def test_gammagamma_spend_distribution_and_mean() -> None:
    """The exact law of the mean spend (note 025), and E(Z) = p gamma / (q - 1)."""
    p, q, gamma = 6.25, 3.74, 15.44
    rng = np.random.default_rng(5)
    x = rng.integers(0, 8, N)
    z = simulate_gammagamma_spend(p, q, gamma, x, rng)
    assert np.all(np.isnan(z[x == 0])) and np.all(z[x > 0] > 0)
    repeat = x > 0
    assert stats.kstest(gg_uniforms(z[repeat], x[repeat], p, q, gamma), "uniform").pvalue > 1e-3
    assert abs(z_score(z[repeat], p * gamma / (q - 1))) < Z_MAX
    # negative control: the law of a total (not a mean) of x transactions is rejected
    broken = gg_uniforms(z[repeat] / x[repeat], x[repeat], p, q, gamma)
    assert stats.kstest(broken, "uniform").pvalue < 1e-6


# -- sBG ----------------------------------------------------------------------------------------


def test_sbg_survivors_match_the_survival_curve() -> None:
    """Survivors after t periods ~ n S(t), S(t) = B(alpha, beta + t)/B(alpha, beta)."""
    alpha, beta = 0.704, 1.182  # FH 2007, regular customers
    cohort = simulate_sbg(alpha, beta, N, 12, rng=6)
    t = np.arange(13)
    survival = sbg_survival(t, alpha, beta)
    share = cohort.survivors / N
    se = np.sqrt(survival * (1 - survival) / N)
    assert np.all(np.abs(share[1:] - survival[1:]) < Z_MAX * se[1:])
    lost = -np.diff(cohort.survivors)
    cells = np.concatenate([lost, [cohort.survivors[-1]]]).astype(np.float64)
    assert chi_square_p(cells, np.concatenate([-np.diff(survival), [survival[-1]]])) > 1e-3
    assert cohort.churned.sum() == N - cohort.survivors[-1]
    assert np.all(cohort.periods[~cohort.churned] == 12)
    # negative control: no heterogeneity (every theta at the mean) is rejected
    flat = (1 - alpha / (alpha + beta)) ** t
    assert np.any(np.abs(share[1:] - flat[1:]) > Z_MAX * se[1:])


# -- BG/BB --------------------------------------------------------------------------------------


def test_bgbb_patterns_match_the_likelihood() -> None:
    """The 22 (x, t_x) patterns over n = 6 against P(x, t_x | n) (FHS 2010 eq. 3)."""
    sim = simulate_bgbb(*BGBB_DONATIONS, N, 6, rng=7, n_holdout=5)
    h = sim.histories
    cells = [(x, t) for t in range(7) for x in range(t + 1) if (x == 0) == (t == 0)]
    observed = np.array(
        [np.sum((h.frequency == x) & (h.recency == t)) for x, t in cells], dtype=float
    )
    assert observed.sum() == N
    probability = np.array([bgbb_pattern_probability(x, t, 6, *BGBB_DONATIONS) for x, t in cells])
    assert chi_square_p(observed, probability) > 1e-3
    assert abs(z_score(h.frequency, bgbb_mean(1, 6, *BGBB_DONATIONS))) < Z_MAX
    assert abs(z_score(sim.holdout_frequency, bgbb_mean(7, 11, *BGBB_DONATIONS))) < Z_MAX
    a, b, g, d = BGBB_DONATIONS
    assert abs(share_z(sim.alive, bgbb_alive(6, g, d))) < Z_MAX
    # negative control: drop-out at the end of an opportunity (gamma + 1 term shifted) is rejected
    broken = np.array([bgbb_pattern_probability(x, t, 6, a, b, g, d + 1) for x, t in cells])
    assert chi_square_p(observed, broken) < 1e-6


# -- reproducibility and input checks -----------------------------------------------------------

SIMULATORS: list[Callable[[object], object]] = [
    lambda rng: simulate_bgnbd(*BGNBD_CDNOW, n_customers=50, age=30.0, rng=rng, holdout=5.0),
    lambda rng: simulate_mbgnbd(*BGNBD_CDNOW, n_customers=50, age=30.0, rng=rng),
    lambda rng: simulate_paretonbd(*PARETO_CDNOW, n_customers=50, age=30.0, rng=rng),
    lambda rng: simulate_bgbb(*BGBB_DONATIONS, 50, 6, rng),
]


@pytest.mark.parametrize("simulate", SIMULATORS)
def test_seeded_and_reproducible(simulate: Callable[[object], object]) -> None:
    one, two, other = simulate(11), simulate(np.random.default_rng(11)), simulate(12)
    assert np.array_equal(one.histories.frequency, two.histories.frequency)  # type: ignore[attr-defined]
    assert np.array_equal(one.histories.recency, two.histories.recency)  # type: ignore[attr-defined]
    assert not np.array_equal(one.histories.recency, other.histories.recency)  # type: ignore[attr-defined]


def test_degenerate_draws_stay_valid() -> None:
    """Tiny beta shapes draw p = 0 exactly (numpy's geometric refuses it); no error, no NaN."""
    sim = simulate_bgnbd(0.5, 1.0, 0.005, 1.0, n_customers=2000, age=10.0, rng=8)
    assert np.all(np.isfinite(sim.histories.recency))
    cohort = simulate_sbg(0.005, 1.0, 2000, 4, rng=8)
    assert cohort.survivors[-1] > 0
    assert simulate_bgbb(1.0, 1.0, 0.005, 1.0, 2000, 4, rng=8).alive.mean() > 0.9


def test_empty_and_zero_length() -> None:
    assert len(simulate_bgnbd(*BGNBD_CDNOW, n_customers=0, age=1.0, rng=1).histories) == 0
    sim = simulate_paretonbd(*PARETO_CDNOW, n_customers=5, age=0.0, rng=1)
    assert sim.histories.frequency.tolist() == [0] * 5
    assert simulate_bgbb(*BGBB_DONATIONS, 3, 0, 1).histories.frequency.tolist() == [0, 0, 0]
    assert simulate_gammagamma_spend(1.0, 2.0, 3.0, np.array([], dtype=int), 1).shape == (0,)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: simulate_bgnbd(-1.0, 1, 1, 1, n_customers=3, age=1.0, rng=1),
            ValueError,
            "r=-1.0",
        ),
        (
            lambda: simulate_bgnbd(1, math.nan, 1, 1, n_customers=3, age=1.0, rng=1),
            ValueError,
            "alpha",
        ),
        (
            lambda: simulate_bgnbd(1, 1, 1, 1, n_customers=3, age=[1.0, 2.0], rng=1),
            ValueError,
            "age",
        ),
        (
            lambda: simulate_bgnbd(1, 1, 1, 1, n_customers=2, age=[1.0, -2.0], rng=1),
            ValueError,
            "age",
        ),
        (
            lambda: simulate_bgnbd(1, 1, 1, 1, n_customers=-1, age=1.0, rng=1),
            ValueError,
            "n_customers",
        ),
        (
            lambda: simulate_bgnbd(1, 1, 1, 1, n_customers=2, age=1.0, rng=1, holdout=-1),
            ValueError,
            "holdout",
        ),
        (lambda: simulate_bgnbd(1, 1, 1, 1, n_customers=2, age=1.0, rng="x"), TypeError, "rng"),
        (lambda: simulate_paretonbd(1, 1, 0, 1, n_customers=2, age=1.0, rng=1), ValueError, "s=0"),
        (lambda: simulate_gammagamma_spend(1, 1, 1, [1.5], 1), ValueError, "frequency"),
        (lambda: simulate_sbg(1, 1, 10, 0, 1), ValueError, "n_periods"),
        (lambda: simulate_bgbb(1, 1, 1, 1, 10, 2, 1, n_holdout=-1), ValueError, "n_holdout"),
    ],
)
def test_bad_input(call: Callable[[], object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()
