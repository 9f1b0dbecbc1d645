"""The shifted-beta-geometric model: published values, properties, gradients, telco fits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import betaln, hyp2f1, psi

from stickykit.errors import FitError, NotFittedError, StateFileError, ValidationError
from stickykit.models._histories import Patterns
from stickykit.models.sbg import (
    ShiftedBetaGeometric,
    _hyp2f1_unit,
    _log_survival_sum,
    fit_telco_by_contract,
    lifetimes_from_survivors,
)
from stickykit.stats.survival import kaplan_meier

#: Fader & Hardie (2007), Table 1: customers (of 1,000) surviving years 0-12.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]

positive = st.floats(min_value=0.05, max_value=50.0)


def sbg_survival(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


# -- published values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta"),
    [(REGULAR[:8], 0.704, 1.182), (HIGH_END[:8], 0.668, 3.806)],
    ids=["regular", "high-end"],
)
def test_fader_hardie_2007_estimates(survivors: list[int], alpha: float, beta: float) -> None:
    """Fader & Hardie (2007), "How to project customer retention", JIM 21(1), published estimates.

    Fitted on years 1-7 of Table 1; the paper prints 3 decimals, so the tolerance is a
    relative 1e-3 of the printed value (a printed value is within 0.0005 of the estimate).
    """
    m = ShiftedBetaGeometric().fit_survivors(survivors, time_unit="year")
    assert m.diagnostics_ is not None and m.diagnostics_.converged
    assert_allclose(m.params, [alpha, beta], rtol=1e-3)
    assert m.n_customers_ == 1000
    assert m.time_unit_ == "year"


@pytest.mark.parametrize(
    ("survivors", "rtol"), [(REGULAR, 0.02), (HIGH_END, 0.05)], ids=["regular", "high-end"]
)
def test_projection_years_8_to_12(survivors: list[int], rtol: float) -> None:
    """Projected survivors in years 8-12 against the actual ones of FH (2007), Table 1.

    The sBG fitted on years 1-7 projects 220.1, 204.4, 191.2, 179.9, 170.0 (regular; actual
    223, 207, 194, 183, 173) and 460.4, 435.8, 414.2, 395.1, 378.0 (high end; actual 468, 445,
    427, 409, 394): slightly low, within 2% and 5%.
    """
    m = ShiftedBetaGeometric().fit_survivors(survivors[:8])
    projected = 1000 * m.survival_function(np.arange(8, 13)).value
    actual = np.array(survivors[8:], dtype=float)
    assert_allclose(projected, actual, rtol=rtol)
    assert np.all(projected < actual)  # the projection is a little pessimistic


@pytest.mark.parametrize(
    ("alpha", "beta", "table"),
    [
        (3.80, 15.20, [3.31, 3.45, 3.59, 3.72, 3.84]),
        (0.067, 0.267, [7.68, 9.46, 9.86, 10.06, 10.19]),
    ],
)
def test_derl_fader_hardie_2010_table_3(alpha: float, beta: float, table: list[float]) -> None:
    """Fader & Hardie (2010), Marketing Science 29(1), Table 3: DERL at d = 0.1.

    The paper's customers of period n = 1..5 have made n - 1 renewals. Its parameters are
    rounded, so the match is within 0.01 (the largest gap is 0.009, 7.671 against 7.68).
    """
    m = ShiftedBetaGeometric.from_params(alpha=alpha, beta=beta)
    derl = m.discounted_expected_residual_lifetime(0.1, renewals=range(5)).value
    assert_allclose(derl, table, atol=0.01)


def test_derl_equals_the_discounted_survival_sum() -> None:
    """DERL(d | n) = sum_k S(n + k + 1)/S(n) (1 + d)^-k, summed far out directly."""
    alpha, beta, d = 0.7, 1.2, 0.05
    m = ShiftedBetaGeometric.from_params(alpha=alpha, beta=beta)
    k = np.arange(20000)
    for n in (0, 3, 40):
        direct = np.sum(
            sbg_survival(alpha, beta, n + k + 1)
            / sbg_survival(alpha, beta, np.array(n))
            * np.exp(-k * np.log1p(d))
        )
        value = m.discounted_expected_residual_lifetime(d, renewals=n).value[0]
        assert_allclose(value, direct, rtol=1e-12)


def test_hyp2f1_series_matches_scipy_where_scipy_is_reliable() -> None:
    """The unit series agrees with scipy.special.hyp2f1 for moderate arguments."""
    rng = np.random.default_rng(5)
    b = rng.uniform(0.1, 30, 50)
    for gap in (0.05, 0.7, 1.0, 3.8):
        for z in (0.1, 0.5, 0.909):
            assert_allclose(_hyp2f1_unit(b, gap, z), hyp2f1(1, b, b + gap, z), rtol=1e-12)


def test_hyp2f1_series_is_finite_where_scipy_fails() -> None:
    """scipy 1.17 returns NaN at b 2029.3, c - b 0.1848, z 0.99881 (mpmath: 795.789069298993)."""
    b, gap, z = 2029.2859846251063, 0.18477098274054637, 0.9988125712310127
    mpmath = pytest.importorskip("mpmath")
    reference = float(mpmath.hyp2f1(1, b, b + gap, z))
    assert_allclose(_hyp2f1_unit(np.array([b]), gap, z), [reference], rtol=1e-10)


# -- properties with negative controls ----------------------------------------------------


def non_increasing_in_unit_interval(values: np.ndarray) -> bool:
    return bool(np.all((values >= 0) & (values <= 1)) and np.all(np.diff(values) <= 1e-15))


@given(alpha=positive, beta=positive)
def test_survival_is_in_unit_interval_and_non_increasing(alpha: float, beta: float) -> None:
    m = ShiftedBetaGeometric.from_params(alpha=alpha, beta=beta)
    values = m.survival_function(np.arange(0, 60)).value
    assert values[0] == 1.0
    assert non_increasing_in_unit_interval(values)


def test_survival_property_fails_on_a_broken_formula() -> None:
    """Negative control: B(a, b)/B(a, b + t), the ratio inverted, grows above 1."""
    t = np.arange(0, 60)
    broken = np.exp(betaln(0.7, 1.2) - betaln(0.7, 1.2 + t))
    assert not non_increasing_in_unit_interval(broken)


def non_decreasing(values: np.ndarray) -> bool:
    return bool(np.all(np.diff(values) >= -1e-15))


@given(alpha=positive, beta=positive)
def test_retention_rate_rises_with_tenure(alpha: float, beta: float) -> None:
    """FH (2007): with heterogeneity the retention rate r_t rises with t, and r_t = S(t)/S(t-1)."""
    m = ShiftedBetaGeometric.from_params(alpha=alpha, beta=beta)
    t = np.arange(1, 60)
    rates = m.retention_rate(t).value
    assert non_decreasing(rates)
    assert np.all((rates > 0) & (rates < 1))
    survival = m.survival_function(np.arange(0, 60)).value
    assert_allclose(rates, survival[1:] / survival[:-1], rtol=1e-10)


def test_retention_property_fails_on_a_broken_formula() -> None:
    """Negative control: beta/(alpha + beta + t - 1) falls with t."""
    t = np.arange(1, 60)
    assert not non_decreasing(1.2 / (0.7 + 1.2 + t - 1))


@given(alpha=positive, beta=positive, k=st.integers(min_value=1, max_value=40))
def test_churn_probabilities_and_survival_add_to_one(alpha: float, beta: float, k: int) -> None:
    m = ShiftedBetaGeometric.from_params(alpha=alpha, beta=beta)
    total = m.churn_probability(np.arange(1, k + 1)).value.sum() + m.survival_function(k).value[0]
    assert_allclose(total, 1.0, rtol=1e-10)


lifetimes_strategy = st.lists(
    st.tuples(st.integers(1, 12), st.booleans(), st.integers(1, 30)), min_size=1, max_size=30
)


@given(rows=lifetimes_strategy, split=st.integers(0, 30))
def test_log_likelihood_is_additive(rows: list[tuple[int, bool, int]], split: int) -> None:
    """LL of all rows = LL of any split; weighted rows = repeated rows."""
    periods, churned, weight = (np.array(c) for c in zip(*rows, strict=True))
    m = ShiftedBetaGeometric()
    params = np.array([0.7, 1.9])
    whole = m.log_likelihood(params, m.patterns(periods, churned, weight))
    split = min(split, len(rows))
    parts = [
        m.log_likelihood(params, m.patterns(periods[s], churned[s], weight[s]))
        for s in (slice(0, split), slice(split, None))
        if len(periods[s])
    ]
    assert_allclose(sum(parts), whole, rtol=1e-12)
    repeated = np.repeat(np.arange(len(rows)), weight)
    assert_allclose(
        m.log_likelihood(params, m.patterns(periods[repeated], churned[repeated])),
        whole,
        rtol=1e-12,
    )


def test_additivity_fails_for_a_mean_log_likelihood() -> None:
    """Negative control: a per-customer mean (what lifetimes stores) is not additive."""
    m = ShiftedBetaGeometric()
    params = np.array([0.7, 1.9])

    def mean_ll(periods: list[int], churned: list[bool]) -> float:
        data = m.patterns(periods, churned)
        return m.log_likelihood(params, data) / data.weight.sum()

    whole = mean_ll([1, 2, 3], [True, True, False])
    parts = mean_ll([1], [True]) + mean_ll([2, 3], [True, False])
    assert not np.isclose(whole, parts)


survivor_curves = st.lists(st.integers(0, 50), min_size=1, max_size=15).map(
    lambda losses: list(np.cumsum([0, *losses])[::-1] + 1)
)


def counts_balance(survivors: list[int], weight: np.ndarray, churned: np.ndarray) -> bool:
    churns = weight[churned].sum()
    censored = weight[~churned].sum()
    return bool(
        churns + censored == survivors[0]
        and censored == survivors[-1]
        and churns == survivors[0] - survivors[-1]
    )


@given(survivors=survivor_curves)
def test_censored_plus_churned_equals_customers(survivors: list[int]) -> None:
    periods, churned, weight = lifetimes_from_survivors(survivors)
    assert counts_balance(survivors, weight, churned)
    assert np.all(weight > 0)
    # churns in period t are the drop from t - 1 to t
    lost = -np.diff(survivors)
    assert_allclose(weight[churned], lost[lost > 0])
    assert_allclose(periods[churned], np.flatnonzero(lost > 0) + 1)


def test_count_balance_fails_on_a_broken_decomposition() -> None:
    """Negative control: counting churns up to the second-last period drops customers."""
    survivors = [10, 7, 7, 4]
    lost = -np.diff(survivors)[:-1]  # off by one: the last period's churners are forgotten
    weight = np.array([*lost[lost > 0], survivors[-1]], dtype=float)
    churned = np.array([True] * int((lost > 0).sum()) + [False])
    assert not counts_balance(survivors, weight, churned)


# -- gradient, helpers, fitting -----------------------------------------------------------


def gradient_matches(model: ShiftedBetaGeometric, params: np.ndarray, data: Patterns) -> bool:
    """The weighted analytic gradient against central differences of the log-likelihood."""
    _, gradient = model._loglik(params, data)
    analytic = data.weight @ gradient
    numeric = np.empty(len(params))
    for j in range(len(params)):
        step = np.zeros(len(params))
        step[j] = 1e-6 * params[j]
        up = model.log_likelihood(params + step, data)
        down = model.log_likelihood(params - step, data)
        numeric[j] = (up - down) / (2 * step[j])
    # central differences lose about eps * |LL| / step to rounding
    rounding = 1e-8 * (abs(model.log_likelihood(params, data)) + 1) / params
    return bool(np.all(np.abs(analytic - numeric) <= 1e-5 * np.abs(analytic) + rounding))


@given(alpha=positive, beta=positive, rows=lifetimes_strategy)
def test_analytic_gradient_matches_finite_differences(
    alpha: float, beta: float, rows: list[tuple[int, bool, int]]
) -> None:
    periods, churned, weight = (np.array(c) for c in zip(*rows, strict=True))
    m = ShiftedBetaGeometric()
    assert gradient_matches(m, np.array([alpha, beta]), m.patterns(periods, churned, weight))


class BrokenGradient(ShiftedBetaGeometric):
    """The gradient without the psi(a + b) of d/da ln B(a, b): a plausible slip."""

    def _loglik(self, params: np.ndarray, data: Patterns) -> tuple[np.ndarray, np.ndarray]:
        values, gradient = super()._loglik(params, data)
        gradient = gradient.copy()
        gradient[:, 0] -= psi(params[0] + params[1])
        return values, gradient


def test_gradient_check_fails_on_a_broken_gradient() -> None:
    m = BrokenGradient()
    data = m.patterns([1, 2, 5], [True, False, True], [10, 20, 5])
    assert not gradient_matches(m, np.array([0.8, 2.0]), data)


@pytest.mark.parametrize("alpha", [0.3, 1 - 1e-3, 1 - 1e-5, 1.0, 1 + 1e-5, 1 + 2e-4, 4.0])
def test_survival_sum_closed_form(alpha: float) -> None:
    """The telescoped sum of S(s + j), j = 1..N, equals the direct sum, also near alpha = 1."""
    beta = 2.5
    start = np.array([0.0, 3.0, 10.0, 0.0])
    count = np.array([1.0, 7.0, 200.0, 5000.0])
    direct = [
        sbg_survival(alpha, beta, s + np.arange(1, n + 1)).sum()
        for s, n in zip(start, count, strict=True)
    ]
    assert_allclose(np.exp(_log_survival_sum(alpha, beta, start, count)), direct, rtol=1e-9)
    assert np.exp(_log_survival_sum(alpha, beta, np.zeros(1), np.zeros(1)))[0] == 0.0


def test_expected_lifetime() -> None:
    """E[T] = (a + b - 1)/(a - 1) for a > 1; E[min(T, H)] = sum_{t<H} S(t)."""
    m = ShiftedBetaGeometric.from_params(alpha=2.5, beta=4.0)
    assert_allclose(m.expected_lifetime().value, [(2.5 + 4.0 - 1) / 1.5])
    direct = sbg_survival(2.5, 4.0, np.arange(0, 30)).sum()
    assert_allclose(m.expected_lifetime(horizon=30).value, [direct], rtol=1e-10)
    assert_allclose(
        m.expected_lifetime(horizon=10**7).value, m.expected_lifetime().value, rtol=1e-6
    )
    low = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
    with pytest.raises(ValueError, match="infinite"):
        low.expected_lifetime()
    capped = low.expected_lifetime(horizon=12).value[0]
    assert 1 < capped < 12


def test_recovers_parameters_from_expected_survivors() -> None:
    """A large cohort following the model's own survivor curve gives its parameters back."""
    curve = 10**7 * sbg_survival(0.9, 2.7, np.arange(0, 10))
    m = ShiftedBetaGeometric().fit_survivors(np.round(curve))
    assert_allclose(m.params, [0.9, 2.7], rtol=2e-3)


def test_weighted_and_individual_fits_agree() -> None:
    periods, churned, weight = lifetimes_from_survivors(REGULAR[:8])
    rows = np.repeat(np.arange(len(periods)), weight.astype(int))
    a = ShiftedBetaGeometric().fit(periods, churned, weight)
    b = ShiftedBetaGeometric().fit(periods[rows], churned[rows])
    assert_allclose(a.params, b.params, rtol=1e-7)
    assert_allclose(a.log_likelihood_, b.log_likelihood_, rtol=1e-12)


def test_intervals_and_from_params() -> None:
    m = ShiftedBetaGeometric().fit_survivors(REGULAR[:8])
    for p in (
        m.survival_function([1, 5, 12], interval=True),
        m.churn_probability([1, 5], interval=True),
        m.retention_rate([1, 5], interval=True),
        m.discounted_expected_residual_lifetime(0.1, [0, 4], interval=True),
        m.expected_lifetime(horizon=20, interval=True),
    ):
        assert p.ci_low is not None and p.ci_high is not None
        assert np.all(p.ci_low < p.value) and np.all(p.value < p.ci_high)
        assert "delta method" in p.method
    draws = m.survival_function([5], interval=True, method="draws")
    assert draws.ci_low is not None and draws.ci_low[0] < draws.value[0]
    given_params = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
    with pytest.raises(NotFittedError, match="no covariance"):
        given_params.survival_function([1], interval=True)
    with pytest.raises(ValueError, match="finite and > 0"):
        ShiftedBetaGeometric.from_params(alpha=-1.0, beta=1.0)
    with pytest.raises(NotFittedError):
        ShiftedBetaGeometric().survival_function([1])


def test_save_load_round_trip(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "sbg.npz"
    m = ShiftedBetaGeometric().fit_survivors(HIGH_END[:8], time_unit="year")
    m.save(path)
    back = ShiftedBetaGeometric.load(path)
    assert_allclose(back.params, m.params, rtol=0)
    assert back.summary == m.summary
    assert_allclose(
        back.survival_function([3, 9], interval=True).ci_low,  # type: ignore[arg-type]
        m.survival_function([3, 9], interval=True).ci_low,  # type: ignore[arg-type]
    )
    from stickykit.models.bgbb import BGBB

    with pytest.raises(StateFileError):
        BGBB.load(path)


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("periods", "churned", "weight", "match"),
    [
        ([1, 0], [True, False], None, r"periods @ row 1: 0.0 is invalid"),
        ([1, 2.5], [True, False], None, r"periods @ row 1: 2.5"),
        ([1, -3], [True, False], None, r"periods @ row 1: -3.0"),
        ([1, 2], [True, 2], None, r"churned @ row 1: 2.0 is invalid, expected True/False"),
        ([1, 2], [True], None, r"churned: 'shape \(1,\)'"),
        ([1, 2], [True, False], [1.0, 0.0], r"weight @ row 1: 0.0"),
        ([1, 2], ["yes", "no"], None, r"churned: 'str"),
    ],
)
def test_invalid_lifetimes_name_row_field_and_value(
    periods: list[float], churned: list[object], weight: list[float] | None, match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        ShiftedBetaGeometric().fit(periods, churned, weight)


@pytest.mark.parametrize(
    ("survivors", "match"),
    [
        ([1000, 631, 700], r"survivors @ row 2: 700.0 is invalid, expected at most"),
        ([0, 0], r"survivors @ row 0: 0.0 is invalid, expected a cohort size"),
        ([1000], r"at least two values"),
        ([1000, 500.5], r"survivors @ row 1: 500.5"),
    ],
)
def test_invalid_survivor_curves(survivors: list[float], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ShiftedBetaGeometric().fit_survivors(survivors)


def test_no_churn_is_a_fit_error() -> None:
    with pytest.raises(FitError, match="no customer churned"):
        ShiftedBetaGeometric().fit_survivors([100, 100, 100])


def test_prediction_arguments_are_checked() -> None:
    m = ShiftedBetaGeometric.from_params(alpha=1.0, beta=2.0)
    with pytest.raises(ValidationError, match="t @ row 0"):
        m.churn_probability([0])
    with pytest.raises(ValueError, match="discount_rate"):
        m.discounted_expected_residual_lifetime(0.0)
    with pytest.raises(ValidationError, match="horizon"):
        m.expected_lifetime(horizon=0)


# -- telco, one model per contract type ---------------------------------------------------


@pytest.fixture(scope="module")
def telco_fits() -> dict[str, object]:
    return dict(fit_telco_by_contract())


def test_telco_month_to_month_fit(telco_fits: dict[str, object]) -> None:
    from stickykit.models.sbg import GroupFit

    fit = telco_fits["Month-to-month"]
    assert isinstance(fit, GroupFit)
    assert fit.problem is None and fit.model is not None and fit.summary is not None
    assert fit.model.diagnostics_ is not None and fit.model.diagnostics_.converged
    assert np.all(np.isfinite(fit.summary.estimate)) and np.all(np.isfinite(fit.summary.se))
    assert (fit.n_customers, fit.n_churned) == (3875.0, 1655.0)
    assert fit.summary.time_unit == "month"


def test_telco_long_contracts_have_no_sbg_maximum(telco_fits: dict[str, object]) -> None:
    """On one- and two-year contracts churn rises with tenure, so the sBG likelihood keeps
    rising towards the homogeneous geometric limit; the fit says so instead of returning a
    point on the edge of the search range.
    """
    from stickykit.models.sbg import GroupFit

    for name in ("One year", "Two year"):
        fit = telco_fits[name]
        assert isinstance(fit, GroupFit)
        assert fit.model is None and fit.summary is None
        assert fit.problem is not None and "geometric" in fit.problem
        assert 0 < fit.geometric_rate < 0.01
        # the profile likelihood still rises at a concentration of a million
        m = ShiftedBetaGeometric()
        cols = _telco_group(name)
        data = m.patterns(cols[0], cols[1])
        theta = fit.geometric_rate
        lls = [m.log_likelihood(np.array([s * theta, s * (1 - theta)]), data) for s in (1e3, 1e6)]
        assert lls[1] > lls[0]


def _telco_group(name: str) -> tuple[np.ndarray, np.ndarray]:
    from stickykit.datasets import load_telco

    cols = load_telco()
    rows = (cols["Contract"] == name) & (cols["tenure"] >= 1)
    return cols["tenure"][rows], cols["Churn"][rows]


def test_telco_month_to_month_churns_faster_than_two_year(telco_fits: dict[str, object]) -> None:
    from stickykit.models.sbg import GroupFit

    monthly, two_year = telco_fits["Month-to-month"], telco_fits["Two year"]
    assert isinstance(monthly, GroupFit) and isinstance(two_year, GroupFit)
    assert monthly.model is not None
    first_month = monthly.model.churn_probability([1]).value[0]
    assert first_month > 10 * two_year.geometric_rate
    assert monthly.geometric_rate > 10 * two_year.geometric_rate
    tenure, churn = _telco_group("Two year")
    km = kaplan_meier(tenure, churn)
    assert monthly.model.survival_function([24]).value[0] < km.survival_at([24])[0]


def test_fit_by_group_names_the_failing_group() -> None:
    with pytest.raises(FitError, match=r"group b: .*no customer churned"):
        ShiftedBetaGeometric.fit_by_group(
            [1, 2, 3, 2, 2], [1, 1, 0, 0, 0], ["a", "a", "a", "b", "b"], weight=[5, 3, 9, 4, 4]
        )
