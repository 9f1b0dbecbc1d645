"""The BG/BB model: published values, lifetimes, properties, gradients, validation."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import betaln, gammaln, psi

from stickykit.errors import FitError, NotFittedError, StateFileError, ValidationError
from stickykit.models import bgbb as bgbb_module
from stickykit.models._histories import Histories, Patterns
from stickykit.models.bgbb import BGBB, _loglik_patterns
from stickykit.models.datasets_btyd import load_donations

PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


@pytest.fixture(scope="module")
def donations() -> dict[str, np.ndarray]:
    return load_donations()


@pytest.fixture(scope="module")
def fitted(donations: dict[str, np.ndarray]) -> BGBB:
    d = donations
    return BGBB().fit(d["frequency"], d["recency"], d["periods"], weight=d["weight"])


def random_histories(
    draw: st.DrawFn, max_n: int = 12, max_rows: int = 12
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows = draw(st.integers(1, max_rows))
    x, t_x, n, w = [], [], [], []
    for _ in range(rows):
        periods = draw(st.integers(0, max_n))
        recency = draw(st.integers(0, periods))
        frequency = 0 if recency == 0 else draw(st.integers(1, recency))
        x.append(frequency)
        t_x.append(recency)
        n.append(periods)
        w.append(draw(st.integers(1, 20)))
    return np.array(x), np.array(t_x), np.array(n), np.array(w)


histories = st.composite(random_histories)
params_strategy = st.tuples(*[st.floats(min_value=0.05, max_value=20.0)] * 4).map(np.array)


def reference_loglik(params: np.ndarray, x: float, t_x: float, n: float) -> float:
    """FHS (2010) likelihood term by term, one history at a time (the slow, obvious way)."""
    a, b, g, d = params
    terms = [betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n) - betaln(g, d)]
    for i in range(int(n - t_x)):
        terms.append(
            betaln(a + x, b + t_x - x + i)
            - betaln(a, b)
            + betaln(g + 1, d + t_x + i)
            - betaln(g, d)
        )
    return float(np.logaddexp.reduce(terms))


# -- published values ---------------------------------------------------------------------


def test_fader_hardie_shang_2010_estimates(fitted: BGBB) -> None:
    """FHS (2010), Marketing Science 29(6), the published estimates: alpha 1.204, beta 0.750, gamma 0.657,
    delta 2.783 (printed to 3 decimals, tolerance 1e-3 absolute); LL -33225.58 (BTYD
    walkthrough; tolerance 0.005).
    """
    assert fitted.diagnostics_ is not None and fitted.diagnostics_.converged
    assert_allclose(fitted.params, list(PUBLISHED.values()), atol=1e-3)
    assert abs(fitted.log_likelihood_ - -33225.58) < 0.005
    assert fitted.n_customers_ == 11104
    assert fitted.diagnostics_.n_patterns == 22


def test_table_6_probability_alive(fitted: BGBB) -> None:
    """FHS (2010), Table 6: P(alive in 2002) for (x, t_x) = (0, 0), (2, 4), (6, 6), n = 6."""
    for model in (fitted, BGBB.from_params(**PUBLISHED)):
        p = model.probability_alive([0, 2, 6], [0, 4, 6], [6, 6, 6], m=1).value
        assert_allclose(p, [0.11, 0.59, 0.93], atol=0.005)


def test_expected_transactions_2002_2006(fitted: BGBB, donations: dict[str, np.ndarray]) -> None:
    """Hardie's spreadsheet (lifetimes' test, decimal 0): the 11,104 donors are expected to
    give 12,884.2 times in the next five years (2002-2006).
    """
    d = donations
    expected = fitted.conditional_expected_transactions(
        5, d["frequency"], d["recency"], d["periods"]
    )
    assert abs(float(d["weight"] @ expected.value) - 12884.2) < 0.1


def test_expected_customers_by_frequency(fitted: BGBB) -> None:
    """Hardie's spreadsheet: 3,454.9 donors with no repeat and 1,253.1 with six in 1996-2001."""
    counts = fitted.expected_customers_by_frequency(6).value
    assert abs(counts[0] - 3454.9) < 0.05
    assert abs(counts[6] - 1253.1) < 0.05
    assert_allclose(counts.sum(), 11104, rtol=1e-12)


# -- lifetimes ----------------------------------------------------------------------------


def test_against_lifetimes(fitted: BGBB, donations: dict[str, np.ndarray]) -> None:
    """lifetimes 0.11.3 BetaGeoBetaBinomFitter on the same data.

    Estimates agree to 1e-4 relative; at equal parameters P(alive), conditional
    expectations and expected counts agree to 1e-10. Its likelihood adds 1e-15 inside the
    log of the drop-out sum (a guard against log 0), which moves it by < 1e-10 here. Its
    start [0.1] * 4 gave NaN in issue #259; with these data and versions it converges.
    """
    pd = pytest.importorskip("pandas")
    lifetimes = pytest.importorskip("lifetimes")
    d = donations
    f, r, n, w = (pd.Series(d[k]) for k in ("frequency", "recency", "periods", "weight"))
    peer = lifetimes.BetaGeoBetaBinomFitter().fit(f, r, n, weights=w, initial_params=[0.1] * 4)
    assert_allclose(peer.params_.to_numpy(), fitted.params, rtol=1e-4)
    peer_ll = -peer._negative_log_likelihood_ * w.sum()
    assert_allclose(peer_ll, fitted.log_likelihood_, rtol=1e-9)
    peer.params_ = pd.Series(fitted.params, index=list(PUBLISHED))
    x, t_x, periods = d["frequency"], d["recency"], d["periods"]
    assert_allclose(
        np.asarray(peer.conditional_probability_alive(1, f, r, n)),
        fitted.probability_alive(x, t_x, periods).value,
        rtol=1e-10,
    )
    assert_allclose(
        np.asarray(peer.conditional_expected_number_of_purchases_up_to_time(5, f, r, n)),
        fitted.conditional_expected_transactions(5, x, t_x, periods).value,
        rtol=1e-10,
    )
    assert_allclose(
        peer.expected_number_of_transactions_in_first_n_periods(6).to_numpy().ravel(),
        fitted.expected_customers_by_frequency(6).value,
        rtol=1e-10,
    )


# -- formulas against independent computations ---------------------------------------------


@given(params=params_strategy, data=histories())
def test_loglik_matches_the_term_by_term_reference(
    params: np.ndarray, data: tuple[np.ndarray, ...]
) -> None:
    x, t_x, n, _ = (c.astype(float) for c in data)
    values, _ = _loglik_patterns(params, x, t_x, n, gradient=False)
    reference = [reference_loglik(params, *row) for row in zip(x, t_x, n, strict=True)]
    assert_allclose(values, reference, rtol=1e-12, atol=1e-12)


def test_blocks_do_not_change_the_likelihood(monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluating the patterns in many small blocks gives the same values and gradient."""
    x, t_x, n = (np.array(c, dtype=float) for c in ([0, 3, 1, 5], [0, 4, 9, 40], [6, 9, 40, 50]))
    params = np.array([1.2, 0.7, 0.6, 2.8])
    whole = _loglik_patterns(params, x, t_x, n, gradient=True)
    monkeypatch.setattr(bgbb_module, "_CELLS", 7)
    blocked = _loglik_patterns(params, x, t_x, n, gradient=True)
    assert_allclose(blocked[0], whole[0], rtol=1e-14)
    assert_allclose(blocked[1], whole[1], rtol=1e-14)


def test_dert_equals_the_discounted_sum_of_expected_transactions() -> None:
    """Equation 14 against sum_j (E[X(n, n+j)] - E[X(n, n+j-1)]) (1 + d)^-j, j up to 3000."""
    m = BGBB.from_params(**PUBLISHED)
    x, t_x, n = [0, 3, 6], [0, 4, 6], [6, 6, 6]
    d = 0.1
    cumulative = np.array(
        [m.conditional_expected_transactions(j, x, t_x, n).value for j in range(3001)]
    )
    per_period = np.diff(cumulative, axis=0)
    discount = np.exp(-np.arange(1, 3001) * np.log1p(d))[:, None]
    direct = (per_period * discount).sum(axis=0)
    dert = m.discounted_expected_residual_transactions(d, x, t_x, n).value
    assert_allclose(dert, direct, rtol=1e-9)


@pytest.mark.parametrize("gamma", [1 - 1e-3, 1 - 1e-6, 1.0, 1 + 1e-6, 1 + 1e-3])
def test_conditional_expectation_near_gamma_one(gamma: float) -> None:
    """The closed form of equation 13 divides by gamma - 1; at and near 1 it equals the sum
    of P(alive at n + j) times the posterior mean of p.
    """
    params = {"alpha": 1.2, "beta": 0.75, "gamma": gamma, "delta": 2.8}
    m = BGBB.from_params(**params)
    a, b, g, dd = params.values()
    x, t_x, n, n_star = 2.0, 4.0, 6.0, 25
    log_l = reference_loglik(np.array([a, b, g, dd]), x, t_x, n)
    j = np.arange(1, n_star + 1)
    direct = np.exp(betaln(a + x + 1, b + n - x) - betaln(a, b) - log_l) * np.sum(
        np.exp(betaln(g, dd + n + j) - betaln(g, dd))
    )
    value = m.conditional_expected_transactions(n_star, [x], [t_x], [n]).value[0]
    assert_allclose(value, direct, rtol=1e-8)


@given(params=params_strategy, n=st.integers(0, 15))
def test_pmf_sums_to_one_and_has_the_expected_mean(params: np.ndarray, n: int) -> None:
    m = BGBB.from_params(**dict(zip(PUBLISHED, params, strict=True)))
    pmf = m.probability_of_transactions(np.arange(n + 3), n).value
    assert np.all(pmf >= 0)
    assert_allclose(pmf.sum(), 1.0, rtol=1e-10)
    assert np.all(pmf[n + 1 :] == 0)
    mean = m.expected_transactions([n]).value[0]
    assert_allclose((np.arange(n + 3) * pmf).sum(), mean, rtol=1e-8, atol=1e-12)


def test_pmf_without_binomial_coefficients_does_not_sum_to_one() -> None:
    """Negative control: equation 7 without its binomial coefficients is no distribution."""
    a, b, g, d = PUBLISHED.values()
    n = 6
    broken = 0.0
    for x in range(n + 1):
        broken += np.exp(betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n) - betaln(g, d))
        for i in range(x, n):
            broken += np.exp(
                betaln(a + x, b + i - x) - betaln(a, b) + betaln(g + 1, d + i) - betaln(g, d)
            )
    assert not np.isclose(broken, 1.0, rtol=1e-3)


# -- properties with negative controls ----------------------------------------------------


def in_unit_interval(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values) & (values >= 0) & (values <= 1)))


@given(params=params_strategy, data=histories(max_n=30), m=st.integers(0, 5))
def test_probability_alive_is_a_probability(
    params: np.ndarray, data: tuple[np.ndarray, ...], m: int
) -> None:
    model = BGBB.from_params(**dict(zip(PUBLISHED, params, strict=True)))
    x, t_x, n, _ = data
    assert in_unit_interval(model.probability_alive(x, t_x, n, m=m).value)


def broken_probability_alive(params: np.ndarray, x: float, t_x: float, n: float) -> float:
    """P(alive) divided by the drop-out terms of L only (the alive term forgotten)."""
    a, b, g, d = params
    alive = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + 1) - betaln(g, d)
    dead = [
        betaln(a + x, b + t_x - x + i) - betaln(a, b) + betaln(g + 1, d + t_x + i) - betaln(g, d)
        for i in range(int(n - t_x))
    ]
    return float(np.exp(alive - np.logaddexp.reduce(dead)))


def test_probability_alive_bound_fails_on_a_broken_formula() -> None:
    params = np.array(list(PUBLISHED.values()))
    broken = np.array(
        [broken_probability_alive(params, 3, 5, 6), broken_probability_alive(params, 6, 6, 7)]
    )
    assert not in_unit_interval(broken)


def increasing(values: np.ndarray) -> bool:
    """Rises with the horizon: strictly over the first opportunity, never falling after.

    (Later increments can be below the resolution of the running total for customers who
    are almost surely gone, so only the first step is required to be strict.)
    """
    return bool(values[1] > values[0] and np.all(np.diff(values) >= 0))


@given(params=params_strategy, data=histories(max_rows=4))
def test_expected_transactions_increase_with_the_horizon(
    params: np.ndarray, data: tuple[np.ndarray, ...]
) -> None:
    model = BGBB.from_params(**dict(zip(PUBLISHED, params, strict=True)))
    x, t_x, n, _ = data
    horizons = [0, 1, 2, 5, 10, 40]
    values = np.array(
        [model.conditional_expected_transactions(h, x, t_x, n).value for h in horizons]
    )
    assert np.all(values[0] == 0)
    assert all(increasing(values[:, k]) for k in range(len(x)))
    assert np.all(np.isfinite(values))


def test_increase_fails_with_a_sign_slip() -> None:
    """Negative control: equation 13 with delta/(1 - gamma) instead of delta/(gamma - 1)."""
    a, b, g, d = PUBLISHED.values()
    x, n = 2.0, 6.0

    def broken(n_star: float) -> float:
        r = np.exp(gammaln(1 + d + n) - gammaln(g + d + n))
        r_star = np.exp(gammaln(1 + d + n + n_star) - gammaln(g + d + n + n_star))
        scale = np.exp(
            betaln(a + x + 1, b + n - x) - betaln(a, b) + gammaln(g + d) - gammaln(1 + d)
        )
        return float(scale * d / (1 - g) * (r - r_star))

    assert not increasing(np.array([broken(h) for h in (1, 2, 5, 10, 40)]))


@given(data=histories(), split=st.integers(0, 12))
def test_log_likelihood_is_additive(data: tuple[np.ndarray, ...], split: int) -> None:
    """LL of all histories = LL of any split; weighted rows = repeated rows."""
    x, t_x, n, w = data
    m = BGBB()
    params = np.array([1.2, 0.75, 0.66, 2.8])
    whole = m.log_likelihood(params, m.patterns(x, t_x, n, w))
    split = min(split, len(x))
    parts = [
        m.log_likelihood(params, m.patterns(x[s], t_x[s], n[s], w[s]))
        for s in (slice(0, split), slice(split, None))
        if len(x[s])
    ]
    assert_allclose(sum(parts), whole, rtol=1e-12)
    rows = np.repeat(np.arange(len(x)), w)
    assert_allclose(
        m.log_likelihood(params, m.patterns(x[rows], t_x[rows], n[rows])), whole, rtol=1e-12
    )


def test_additivity_fails_for_a_mean_log_likelihood() -> None:
    """Negative control: the per-customer mean lifetimes stores is not additive."""
    m = BGBB()
    params = np.array([1.2, 0.75, 0.66, 2.8])

    def mean_ll(x: list[int], t_x: list[int], n: list[int]) -> float:
        data = m.patterns(x, t_x, n)
        return m.log_likelihood(params, data) / data.weight.sum()

    assert not np.isclose(
        mean_ll([0, 2, 5], [0, 3, 6], [6] * 3),
        mean_ll([0], [0], [6]) + mean_ll([2, 5], [3, 6], [6] * 2),
    )


# -- gradient -----------------------------------------------------------------------------


def gradient_matches(model: BGBB, params: np.ndarray, data: Patterns) -> bool:
    """The weighted analytic gradient against central differences of the log-likelihood."""
    _, gradient = model._loglik(params, data)
    analytic = data.weight @ gradient
    numeric = np.empty(4)
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6 * params[j]
        up = model.log_likelihood(params + step, data)
        down = model.log_likelihood(params - step, data)
        numeric[j] = (up - down) / (2 * step[j])
    # central differences lose about eps * |LL| / step to rounding
    rounding = 1e-8 * (abs(model.log_likelihood(params, data)) + 1) / params
    return bool(np.all(np.abs(analytic - numeric) <= 1e-5 * np.abs(analytic) + rounding))


@given(params=params_strategy, data=histories(max_n=20))
def test_analytic_gradient_matches_finite_differences(
    params: np.ndarray, data: tuple[np.ndarray, ...]
) -> None:
    m = BGBB()
    assert gradient_matches(m, params, m.patterns(*data))


class BrokenGradient(BGBB):
    """The drop-out terms' d/d delta without psi(gamma + delta): a plausible slip."""

    def _loglik(self, params: np.ndarray, data: Patterns) -> tuple[np.ndarray, np.ndarray]:
        values, gradient = super()._loglik(params, data)
        gradient = gradient.copy()
        gradient[:, 3] -= psi(params[2] + params[3])
        return values, gradient


def test_gradient_check_fails_on_a_broken_gradient() -> None:
    m = BrokenGradient()
    data = m.patterns([0, 2, 6], [0, 4, 6], [6, 6, 6], [10, 5, 3])
    assert not gradient_matches(m, np.array([1.2, 0.75, 0.66, 2.8]), data)


# -- input, fitting, intervals, saving ------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "t_x", "n", "match"),
    [
        (
            [1, 2],
            [3, 7],
            [6, 6],
            r"BGBB.recency @ row 1: 7.0 is invalid, expected at most periods 6",
        ),
        (
            [1, 4],
            [3, 3],
            [6, 6],
            r"BGBB.frequency @ row 1: 4.0 is invalid, expected at most recency 3",
        ),
        ([1, -1], [3, 3], [6, 6], r"BGBB.frequency @ row 1: -1.0 is invalid, expected a whole"),
        ([1, 1], [3, 2.5], [6, 6], r"BGBB.recency @ row 1: 2.5 is invalid"),
        ([1, 0], [3, 2], [6, 6], r"BGBB.recency @ row 1: 2.0 is invalid, expected 0 when"),
        ([1, 1], [3, 2], [6, -6], r"BGBB.periods @ row 1: -6.0"),
        ([1, 1], [3, 2], [6], r"BGBB.periods: 'shape \(1,\)'"),
        ([1, np.nan], [3, 2], [6, 6], r"BGBB.frequency @ row 1: nan"),
    ],
)
def test_invalid_histories_name_row_field_and_value(
    x: list[float], t_x: list[float], n: list[float], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        BGBB().fit(x, t_x, n)


def test_histories_input(donations: dict[str, np.ndarray], fitted: BGBB) -> None:
    d = donations
    h = Histories.from_arrays(
        frequency=d["frequency"],
        recency=d["recency"],
        age=d["periods"],
        weight=d["weight"],
        time_unit="period",
    )
    m = BGBB().fit(h)
    assert_allclose(m.params, fitted.params, rtol=1e-10)
    assert_allclose(
        m.probability_alive(h).value,
        fitted.probability_alive(d["frequency"], d["recency"], d["periods"]).value,
    )
    weeks = Histories.from_arrays(frequency=[1], recency=[2.0], age=[3.0])
    with pytest.raises(ValidationError, match="time_unit: 'week' is invalid"):
        BGBB().fit(weeks)
    fractional = Histories.from_arrays(frequency=[1], recency=[2.5], age=[3.0], time_unit="period")
    with pytest.raises(ValidationError, match=r"Histories.recency @ row 0: 2.5"):
        BGBB().fit(fractional)
    with pytest.raises(TypeError, match="give no recency"):
        BGBB().fit(h, d["recency"])
    with pytest.raises(TypeError, match="required"):
        BGBB().fit(d["frequency"])


def test_no_transactions_is_a_fit_error() -> None:
    with pytest.raises(FitError, match="no customer transacted"):
        BGBB().fit([0, 0, 0], [0, 0, 0], [5, 5, 5], weight=[10, 10, 10])


def test_intervals(fitted: BGBB, donations: dict[str, np.ndarray]) -> None:
    d = donations
    x, t_x, n = d["frequency"], d["recency"], d["periods"]
    for p in (
        fitted.probability_alive(x, t_x, n, interval=True),
        fitted.conditional_expected_transactions(5, x, t_x, n, interval=True),
        fitted.discounted_expected_residual_transactions(0.1, x, t_x, n, interval=True),
        fitted.expected_transactions([1, 6], interval=True),
        fitted.probability_of_transactions([0, 3, 6], 6, interval=True),
        fitted.expected_customers_by_frequency(6, interval=True),
    ):
        assert p.ci_low is not None and p.ci_high is not None
        assert np.all(p.ci_low < p.value) and np.all(p.value < p.ci_high)
        assert p.level == 0.95
    given_params = BGBB.from_params(**PUBLISHED)
    with pytest.raises(NotFittedError, match="no covariance"):
        given_params.probability_alive([0], [0], [6], interval=True)
    with pytest.raises(ValueError, match="n_customers"):
        given_params.expected_customers_by_frequency(6)
    with pytest.raises(NotFittedError):
        BGBB().probability_alive([0], [0], [6])
    with pytest.raises(ValueError, match="discount_rate"):
        given_params.discounted_expected_residual_transactions(-0.1, [0], [0], [6])


def test_save_load_round_trip(tmp_path: pathlib.Path, fitted: BGBB) -> None:
    path = fitted.save(tmp_path / "bgbb.npz")
    back = BGBB.load(path)
    assert_allclose(back.params, fitted.params, rtol=0)
    assert back.summary == fitted.summary
    a = back.probability_alive([0, 6], [0, 6], [6, 6], interval=True)
    b = fitted.probability_alive([0, 6], [0, 6], [6, 6], interval=True)
    assert_allclose(a.ci_high, b.ci_high)  # type: ignore[arg-type]
    from stickykit.models.sbg import ShiftedBetaGeometric

    with pytest.raises(StateFileError):
        ShiftedBetaGeometric.load(path)


def test_fit_is_invariant_to_row_order(donations: dict[str, np.ndarray], fitted: BGBB) -> None:
    d = donations
    order = np.random.default_rng(3).permutation(len(d["frequency"]))
    m = BGBB().fit(*(d[k][order] for k in ("frequency", "recency", "periods", "weight")))
    assert_allclose(m.params, fitted.params, rtol=1e-9)


def test_likelihood_is_finite_at_lifetimes_start_and_ours(donations: dict[str, np.ndarray]) -> None:
    """lifetimes' start [0.1] * 4 gave NaN there (#259); here the likelihood, its gradient and
    the deterministic start are finite on the donations data.
    """
    d = donations
    m = BGBB()
    data = m.patterns(d["frequency"], d["recency"], d["periods"], d["weight"])
    for params in (np.full(4, 0.1), m._start(data)):
        values, gradient = m._loglik(params, data)
        assert np.all(np.isfinite(values)) and np.all(np.isfinite(gradient))
