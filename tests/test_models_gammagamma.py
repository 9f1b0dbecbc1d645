"""Gamma-Gamma spend model and the spend-frequency independence check.

Published values: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", note 025
(p 6.25, q 3.74, gamma 15.44 on the 946 CDNOW repeat customers); CLVTools
``tests/testthat/test_correctness_gg.R`` (log-likelihood -4055.9177); lifetimes 0.11.3
``tests/test_estimation.py`` (first ten expected spends, repeat-spend summary).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import integrate, special, stats

from stickykit.errors import (
    FitError,
    InsufficientDataError,
    NotFittedError,
    StateFileError,
    ValidationError,
)
from stickykit.models import Histories, compress
from stickykit.models.data import cdnow_histories
from stickykit.models.gammagamma import GammaGamma, _expected_spend, spend_frequency_check

PUBLISHED = np.array([6.25, 3.74, 15.44])


@pytest.fixture(scope="module")
def cdnow() -> Histories:
    return cdnow_histories().calibration


@pytest.fixture(scope="module")
def fitted(cdnow: Histories) -> GammaGamma:
    return GammaGamma().fit(cdnow)


def histories(x, z, weight=None, ids=None) -> Histories:
    x = np.asarray(x)
    return Histories.from_arrays(
        frequency=x,
        recency=np.where(x > 0, 1.0, 0.0),
        age=np.full(len(x), 2.0),
        monetary=z,
        weight=weight,
        customer_id=ids,
    )


# -- published values ---------------------------------------------------------------------


def test_repeat_spend_summary(cdnow: Histories) -> None:
    """The 946 repeaters' mean repeat spend: mean 35, sd 30, min 3, median 27, max 300.

    lifetimes ``test_estimation.py`` (``summary_with_money_value`` described) and note 025.
    """
    spend = cdnow.monetary[cdnow.frequency > 0]
    summary = [
        spend.mean(),
        spend.std(ddof=1),
        spend.min(),
        np.median(spend),
        spend.max(),
    ]
    assert len(spend) == 946
    assert [round(v) for v in summary] == [35, 30, 3, 27, 300]


def test_note_025_parameters_and_clvtools_log_likelihood(fitted: GammaGamma) -> None:
    """Note 025: p 6.25, q 3.74, gamma 15.44 (lifetimes checks decimal 2); CLVTools LL -4055.9177."""
    assert np.all(np.abs(fitted.params - PUBLISHED) < 1.5e-2)
    assert fitted.log_likelihood_ == pytest.approx(-4055.9177, abs=1e-4)
    assert fitted.n_customers_ == 946
    assert fitted.diagnostics_ is not None and fitted.diagnostics_.converged


def test_first_ten_expected_spends(fitted: GammaGamma, cdnow: Histories) -> None:
    """lifetimes ``test_estimation.py`` / Hardie's note 025 sheet, atol 0.1.

    Customers 3, 4, 5, 8 and 10 made no repeat purchase and get the population mean 35.17.
    """
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    value = fitted.conditional_expected_spend(cdnow.take(np.arange(10))).value
    assert_allclose(value, expected, atol=0.1)
    assert_allclose(fitted.population_mean_spend().value, [35.17], atol=0.01)


def test_agrees_with_lifetimes(fitted: GammaGamma, cdnow: Histories) -> None:
    """lifetimes 0.11.3 ``GammaGammaFitter`` on the same repeaters: 1e-4 relative."""
    lifetimes = pytest.importorskip("lifetimes")
    pd = pytest.importorskip("pandas")
    repeat = cdnow.frequency > 0
    theirs = lifetimes.GammaGammaFitter().fit(
        pd.Series(cdnow.frequency[repeat]), pd.Series(cdnow.monetary[repeat])
    )
    assert_allclose(fitted.params, theirs.params_[["p", "q", "v"]].to_numpy(), rtol=1e-4)
    # lifetimes stores the mean negative log-likelihood
    assert fitted.log_likelihood_ / 946 == pytest.approx(
        -theirs._negative_log_likelihood_, rel=1e-6
    )
    monetary = np.where(repeat, cdnow.monetary, 0.0)
    their_spend = theirs.conditional_expected_average_profit(
        pd.Series(cdnow.frequency), pd.Series(monetary)
    ).to_numpy()
    assert_allclose(fitted.conditional_expected_spend(cdnow).value, their_spend, rtol=1e-4)


def test_lifetimes_returns_a_negative_mean_for_q_below_one() -> None:
    """lifetimes#146: with q < 1, lifetimes' population mean p v / (q - 1) is negative.

    We refuse such a prediction instead (the mean is infinite).
    """
    lifetimes = pytest.importorskip("lifetimes")
    pd = pytest.importorskip("pandas")
    theirs = lifetimes.GammaGammaFitter()
    theirs.params_ = pd.Series({"p": 2.0, "q": 0.8, "v": 10.0})
    value = theirs.conditional_expected_average_profit(pd.Series([0]), pd.Series([0.0]))
    assert float(value.iloc[0]) < 0
    with pytest.raises(FitError, match="infinite"):
        GammaGamma.from_params(p=2.0, q=0.8, gamma=10.0).population_mean_spend()


# -- likelihood -----------------------------------------------------------------------------


def _density(z: float, p: float, q: float, gamma: float, x: float) -> float:
    """Note 025, eq. 1a, on the natural scale."""
    log = (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * math.log(gamma)
        + (p * x - 1) * math.log(z)
        + p * x * math.log(x)
        - (p * x + q) * math.log(gamma + x * z)
    )
    return math.exp(log)


def _broken_density(z: float, p: float, q: float, gamma: float, x: float) -> float:
    """The density without its x^(px) factor (the mean treated as one transaction)."""
    return _density(z, p, q, gamma, x) / x ** (p * x)


def _integrates_to_one(density, p: float, q: float, gamma: float, x: float) -> bool:
    total, _ = integrate.quad(density, 0, np.inf, args=(p, q, gamma, x), limit=200)
    return abs(total - 1) < 1e-5


def test_log_likelihood_is_the_density() -> None:
    model = GammaGamma()
    data = compress([np.array([1.0, 3.0]), np.array([10.0, 25.0])], np.ones(2))
    params = np.array([2.0, 3.0, 12.0])
    values, _ = model._loglik(params, data)
    assert_allclose(
        np.exp(values), [_density(10.0, 2, 3, 12, 1), _density(25.0, 2, 3, 12, 3)], rtol=1e-12
    )


@given(
    p=st.floats(0.5, 8),
    q=st.floats(0.5, 8),
    gamma=st.floats(1, 50),
    x=st.integers(1, 6),
)
def test_density_integrates_to_one(p: float, q: float, gamma: float, x: int) -> None:
    """The mean spend's density (note 025, eq. 1a) is a proper density for every x."""
    assert _integrates_to_one(_density, p, q, gamma, x)


def test_density_check_fails_on_a_broken_density() -> None:
    """Negative control: dropping x^(px) breaks the normalisation for x > 1."""
    assert not _integrates_to_one(_broken_density, 2.0, 3.0, 10.0, 3)


def _gradient_matches(loglik, params: np.ndarray, data) -> bool:
    _, gradient = loglik(params, data)
    step = 1e-6
    numeric = np.empty_like(gradient)
    for j in range(len(params)):
        shift = np.zeros(len(params))
        shift[j] = step * params[j]
        up, _ = loglik(params + shift, data)
        down, _ = loglik(params - shift, data)
        numeric[:, j] = (up - down) / (2 * shift[j])
    # atol: the central difference of log-likelihood terms near 100 in size, over a step
    # of 1e-6, carries rounding noise near 1e-7 (a gradient of exactly 0 read as 1e-7)
    return bool(np.allclose(gradient, numeric, rtol=1e-5, atol=1e-6))


spend_data = st.lists(
    st.tuples(st.integers(1, 30), st.floats(0.5, 500)), min_size=1, max_size=8
).map(
    lambda rows: compress(
        [np.array([r[0] for r in rows], dtype=float), np.array([r[1] for r in rows])],
        np.ones(len(rows)),
    )
)


@given(
    p=st.floats(0.2, 20),
    q=st.floats(0.2, 20),
    gamma=st.floats(0.5, 200),
    data=spend_data,
)
def test_analytic_gradient_matches_central_differences(
    p: float, q: float, gamma: float, data
) -> None:
    assert _gradient_matches(GammaGamma()._loglik, np.array([p, q, gamma]), data)


def test_gradient_check_fails_on_a_broken_gradient() -> None:
    """Negative control: a gradient missing the ln x term of d/dp is caught."""
    model = GammaGamma()

    def broken(params, data):
        values, gradient = model._loglik(params, data)
        x, _ = data.columns
        gradient = gradient.copy()
        gradient[:, 0] -= x * np.log(x)
        return values, gradient

    data = compress([np.array([2.0, 5.0]), np.array([10.0, 40.0])], np.ones(2))
    assert not _gradient_matches(broken, np.array([2.0, 3.0, 12.0]), data)


def test_log_likelihood_is_additive_and_weights_equal_rows(cdnow: Histories) -> None:
    """The log-likelihood is a sum over customers; weighted patterns equal repeated rows.

    Negative control (torchmetrics style): half the customers give a different total.
    """
    model = GammaGamma()
    params = PUBLISHED
    rows = np.flatnonzero(cdnow.frequency > 0)
    first, second = cdnow.take(rows[:400]), cdnow.take(rows[400:])
    whole = model.log_likelihood(params, model.patterns(cdnow))
    parts = model.log_likelihood(params, model.patterns(first)) + model.log_likelihood(
        params, model.patterns(second)
    )
    assert whole == pytest.approx(parts, rel=1e-12)
    assert whole != pytest.approx(model.log_likelihood(params, model.patterns(first)))
    weighted = histories([2, 1], [10.0, 4.0], weight=[3.0, 2.0])
    expanded = histories([2, 2, 2, 1, 1], [10.0, 10.0, 10.0, 4.0, 4.0])
    a = GammaGamma().fit(histories([2, 1, 5, 3], [10.0, 4.0, 30.0, 8.0], weight=[3, 2, 1, 2]))
    b = GammaGamma().fit(
        histories([2, 2, 2, 1, 1, 5, 3, 3], [10.0, 10.0, 10.0, 4.0, 4.0, 30.0, 8.0, 8.0])
    )
    assert model.log_likelihood(params, model.patterns(weighted)) == pytest.approx(
        model.log_likelihood(params, model.patterns(expanded)), rel=1e-12
    )
    assert_allclose(a.params, b.params, rtol=1e-6)


# -- fitting --------------------------------------------------------------------------------


def test_fit_ignores_customers_without_repeat_purchases(cdnow: Histories) -> None:
    repeaters = cdnow.take(cdnow.frequency > 0)
    assert_allclose(GammaGamma().fit(repeaters).params, GammaGamma().fit(cdnow).params, rtol=1e-8)


def test_fit_with_q_below_one_succeeds_but_predictions_raise() -> None:
    """Heavy-tailed spend (simulated with q = 0.5) fits to q < 1; expected spend is refused."""
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.integers(1, 6, size=n)
    nu = rng.gamma(0.5, 1 / 20.0, size=n)
    z = rng.gamma(3.0 * x, 1 / (x * nu))
    h = histories(x, z)
    model = GammaGamma().fit(h)
    assert model.params_ is not None and model.params_["q"] < 1
    with pytest.raises(FitError, match=r"q = .* <= 1.*infinite"):
        model.conditional_expected_spend(h)
    with pytest.raises(FitError, match="infinite"):
        model.population_mean_spend()


def test_missing_spend_is_refused_naming_row_and_customer() -> None:
    h = Histories.from_arrays(
        frequency=[0, 1], recency=[0.0, 1.0], age=[2.0, 2.0], customer_id=["a", "b"]
    )
    with pytest.raises(ValidationError, match=r"monetary @ row 1: nan .*customer b") as info:
        GammaGamma().fit(h)
    assert info.value.field == "monetary" and info.value.row == 1


@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_non_positive_spend_is_refused(bad: float) -> None:
    h = histories([1, 2, 3, 1, 2], [4.0, 5.0, bad, 6.0, 7.0], ids=list("abcde"))
    with pytest.raises(ValidationError, match=r"row 2: .*customer c") as info:
        GammaGamma().fit(h)
    assert info.value.value == bad
    model = GammaGamma.from_params(p=1.0, q=2.0, gamma=3.0)
    with pytest.raises(ValidationError, match="monetary"):
        model.conditional_expected_spend(h)


def test_too_few_repeaters_is_a_fit_error() -> None:
    with pytest.raises(FitError, match="at least 4"):
        GammaGamma().fit(histories([0, 1, 2, 0, 1], [None, 4.0, 5.0, None, 6.0]))


def test_unfitted_model_raises() -> None:
    with pytest.raises(NotFittedError):
        GammaGamma().conditional_expected_spend(histories([1], [3.0]))


# -- predictions ----------------------------------------------------------------------------


def test_conditional_expected_spend_hand_computed() -> None:
    """p (gamma + x z) / (p x + q - 1): at p 2, q 3, gamma 10, x 4, z 20: 2*90/10 = 18."""
    model = GammaGamma.from_params(p=2.0, q=3.0, gamma=10.0)
    value = model.conditional_expected_spend(histories([4, 0], [20.0, None])).value
    assert_allclose(value, [18.0, 10.0])


def _is_shrunk(kernel, params: np.ndarray, x: np.ndarray, z: np.ndarray) -> bool:
    """E(M | z, x) lies between the population mean p gamma / (q - 1) and z."""
    p, q, gamma = params
    mean = p * gamma / (q - 1)
    value = kernel(params, x, z)
    low, high = np.minimum(mean, z), np.maximum(mean, z)
    return bool(np.all((value >= low * (1 - 1e-12)) & (value <= high * (1 + 1e-12))))


def _broken_spend(params: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Denominator p x + q instead of p x + q - 1."""
    p, q, gamma = params
    return p * (gamma + x * z) / (p * x + q)


@given(
    p=st.floats(0.1, 20),
    q=st.floats(1.01, 20),
    gamma=st.floats(0.1, 200),
    x=st.lists(st.integers(1, 100), min_size=1, max_size=5),
    z=st.floats(0.01, 1000),
)
def test_expected_spend_is_between_population_mean_and_own_mean(
    p: float, q: float, gamma: float, x: list[int], z: float
) -> None:
    xs = np.array(x, dtype=float)
    assert _is_shrunk(_expected_spend, np.array([p, q, gamma]), xs, np.full(len(xs), z))


def test_shrinkage_check_fails_on_a_broken_formula() -> None:
    """Negative control: with denominator p x + q, z at the population mean is not kept."""
    params = np.array([2.0, 3.0, 10.0])
    assert not _is_shrunk(_broken_spend, params, np.array([1.0]), np.array([10.0]))


@given(
    p=st.floats(0.1, 20),
    q=st.floats(1.01, 20),
    gamma=st.floats(0.1, 200),
    z=st.floats(0.01, 1000),
)
def test_more_repeat_purchases_move_the_estimate_towards_own_mean(
    p: float, q: float, gamma: float, z: float
) -> None:
    params = np.array([p, q, gamma])
    mean = _expected_spend(params, np.zeros(1), np.zeros(1))[0]
    distance = np.abs(_expected_spend(params, np.arange(1.0, 30.0), np.full(29, z)) - z)
    assert np.all(np.diff(distance) <= 1e-9 * (1 + abs(mean - z)))


def test_predictions_are_permutation_invariant(fitted: GammaGamma, cdnow: Histories) -> None:
    order = np.random.default_rng(3).permutation(len(cdnow))
    value = fitted.conditional_expected_spend(cdnow).value
    permuted = fitted.conditional_expected_spend(cdnow.take(order)).value
    assert_allclose(permuted, value[order])
    assert not np.allclose(value[order], value)  # negative control: the order matters


@pytest.mark.parametrize("method", ["delta", "draws"])
def test_interval_contains_the_estimate(fitted: GammaGamma, cdnow: Histories, method) -> None:
    h = cdnow.take(np.arange(50))
    p = fitted.conditional_expected_spend(h, interval=True, method=method, n_draws=300)
    assert p.ci_low is not None and p.ci_high is not None
    assert np.all(p.ci_low < p.value) and np.all(p.value < p.ci_high)
    assert p.level == 0.95
    assert ("delta method" if method == "delta" else "draws") in p.method
    narrow = fitted.conditional_expected_spend(h, interval=True, method=method, level=0.5)
    assert narrow.ci_low is not None and narrow.ci_high is not None
    assert np.all(narrow.ci_high - narrow.ci_low < p.ci_high - p.ci_low)
    mean = fitted.population_mean_spend(interval=True)
    assert mean.ci_low is not None and mean.ci_low[0] < 35.17 < mean.ci_high[0]


def test_no_interval_without_covariance() -> None:
    model = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    assert model.conditional_expected_spend(histories([1], [5.0])).ci_low is None
    with pytest.raises(NotFittedError, match="no covariance"):
        model.conditional_expected_spend(histories([1], [5.0]), interval=True)


def test_from_params_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="q"):
        GammaGamma.from_params(p=1.0, q=-1.0, gamma=1.0)


def test_save_and_load_round_trip(fitted: GammaGamma, tmp_path) -> None:
    path = fitted.save(tmp_path / "gg.npz")
    loaded = GammaGamma.load(path)
    assert_allclose(loaded.params, fitted.params)
    assert loaded.log_likelihood_ == fitted.log_likelihood_
    assert str(loaded.summary) == str(fitted.summary)


def test_load_refuses_another_model(tmp_path) -> None:
    from stickykit.models._fit import LikelihoodModel

    class Other(LikelihoodModel):
        param_names = ("rate",)
        reference = "test"

        def _loglik(self, params, data):
            (y,) = data.columns
            return np.log(params[0]) - params[0] * y, (1 / params[0] - y)[:, None]

        def _start(self, data):
            return np.array([1.0])

    other = Other()._fit_patterns(compress([np.array([1.0, 2.0, 3.0])], np.ones(3)), time_unit="")
    path = other.save(tmp_path / "other.npz")
    with pytest.raises(StateFileError):
        GammaGamma.load(path)


# -- the spend-frequency check --------------------------------------------------------------


def test_check_on_cdnow(cdnow: Histories) -> None:
    """Pearson 0.114 among the 946 repeaters (lifetimes Quickstart: 0.113884 on spends
    rounded to cents; Fader, Hardie & Lee 2005b report 0.11); scipy gives the same
    statistics, p-values and Pearson interval."""
    check = spend_frequency_check(cdnow)
    repeat = cdnow.frequency > 0
    x, z = cdnow.frequency[repeat], cdnow.monetary[repeat]
    pearson = stats.pearsonr(x, z)
    spearman = stats.spearmanr(x, z)
    assert check.n == 946
    assert check.pearson == pytest.approx(0.113884, abs=1e-4)
    assert check.pearson == pytest.approx(pearson.statistic, rel=1e-12)
    assert check.pearson_pvalue == pytest.approx(pearson.pvalue, rel=1e-8)
    interval = pearson.confidence_interval(0.95)
    assert (check.pearson_ci_low, check.pearson_ci_high) == pytest.approx(
        (interval.low, interval.high), rel=1e-10
    )
    assert check.spearman == pytest.approx(spearman.statistic, rel=1e-12)
    assert check.spearman_pvalue == pytest.approx(spearman.pvalue, rel=1e-8)
    assert check.spearman_ci_low < check.spearman < check.spearman_ci_high
    assert check.verdict.startswith("weak dependence")
    assert "946 repeat customers" in check.verdict


def _synthetic(n: int, dependence: float, seed: int) -> Histories:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 15, size=n)
    z = rng.gamma(4.0, 5.0, size=n) * np.exp(dependence * (x - x.mean()))
    return histories(x, z)


def test_verdicts() -> None:
    """Independent spend reads as independence, spend growing with frequency as material
    dependence (the negative control of the first), and few customers as inconclusive."""
    independent = spend_frequency_check(_synthetic(2000, 0.0, 1))
    dependent = spend_frequency_check(_synthetic(2000, 0.3, 1))
    small = spend_frequency_check(_synthetic(12, 0.0, 2))
    assert independent.verdict.startswith("consistent with independence")
    assert dependent.verdict.startswith("material dependence")
    assert dependent.pearson > 0.3 and dependent.spearman_pvalue < 1e-10
    assert small.verdict.startswith("inconclusive")


def test_weights_count_customers() -> None:
    weighted = histories([1, 2, 3, 4], [5.0, 9.0, 7.0, 20.0], weight=[2, 1, 3, 1])
    expanded = histories([1, 1, 2, 3, 3, 3, 4], [5.0, 5.0, 9.0, 7.0, 7.0, 7.0, 20.0])
    a, b = spend_frequency_check(weighted), spend_frequency_check(expanded)
    assert (a.pearson, a.spearman, a.n) == pytest.approx((b.pearson, b.spearman, b.n))
    with pytest.raises(ValidationError, match="whole number"):
        spend_frequency_check(histories([1, 2, 3, 4], [5.0, 9.0, 7.0, 2.0], weight=[1.5, 1, 1, 1]))


@given(
    rows=st.lists(
        st.tuples(st.integers(1, 20), st.floats(0.5, 500)), min_size=5, max_size=30
    ).filter(lambda r: len({a for a, _ in r}) > 1 and len({b for _, b in r}) > 1),
    seed=st.integers(0, 2**16),
)
def test_check_is_permutation_invariant_and_bounded(rows, seed: int) -> None:
    x = np.array([r[0] for r in rows])
    z = np.array([r[1] for r in rows])
    order = np.random.default_rng(seed).permutation(len(x))
    a = spend_frequency_check(histories(x, z))
    b = spend_frequency_check(histories(x[order], z[order]))
    assert (a.pearson, a.spearman) == pytest.approx((b.pearson, b.spearman), abs=1e-12)
    for r, low, high in [
        (a.pearson, a.pearson_ci_low, a.pearson_ci_high),
        (a.spearman, a.spearman_ci_low, a.spearman_ci_high),
    ]:
        assert -1 <= low <= r <= high <= 1
    assert 0 <= a.pearson_pvalue <= 1 and 0 <= a.spearman_pvalue <= 1


def test_shuffling_spend_alone_breaks_the_dependence() -> None:
    """Negative control of the invariance test: permuting one column changes the result."""
    h = _synthetic(500, 0.3, 4)
    rng = np.random.default_rng(5)
    shuffled = histories(h.frequency, rng.permutation(h.monetary))
    assert spend_frequency_check(shuffled).pearson < spend_frequency_check(h).pearson - 0.2


def test_check_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(InsufficientDataError, match="at least 4"):
        spend_frequency_check(histories([1, 2, 0], [3.0, 4.0, None]))
    with pytest.raises(InsufficientDataError, match="frequency is the same"):
        spend_frequency_check(histories([1, 1, 1, 1], [3.0, 4.0, 5.0, 6.0]))
    with pytest.raises(InsufficientDataError, match="monetary is the same"):
        spend_frequency_check(histories([1, 2, 3, 4], [3.0, 3.0, 3.0, 3.0]))
    with pytest.raises(ValueError, match="level"):
        spend_frequency_check(histories([1, 2, 3, 4], [3.0, 4.0, 5.0, 6.0]), level=1.0)
    with pytest.raises(ValueError, match="threshold"):
        spend_frequency_check(histories([1, 2, 3, 4], [3.0, 4.0, 5.0, 6.0]), threshold=0.0)
