"""Holdout checks of transaction models: errors, conditional expectations, comparison, tracking.

The plumbing is tested with :class:`PoissonGamma`, a small transaction model with closed-form
kernels (the NBD: Poisson purchases at a gamma-distributed rate, no drop-out; Ehrenberg 1959,
Morrison & Schmittlein 1988), whose analytic gradient is checked against finite differences.
Each property is a ``check_*`` function run on the real code (must pass) and on a deliberately
broken variant (must fail). CDNOW figures are checked against Fader, Hardie & Lee (2005),
*Marketing Science* 24(2), 275-284, and the tracking data against ``lifetimes`` 0.11.3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import gammaln, psi

from stickykit.datasets import load_cdnow
from stickykit.frames import EventFrame
from stickykit.models._histories import Histories, Patterns
from stickykit.models._transactions import TransactionModel
from stickykit.models.data import CalibrationHoldout, cdnow_histories
from stickykit.models.evaluate import (
    CRITERIA,
    ModelComparison,
    actual_repeat_transactions,
    cohort_purchases,
    compare_models,
    conditional_expectations_by_frequency,
    cumulative_repeat_transactions,
    holdout_errors,
)

F64 = np.float64
Array = np.ndarray[Any, Any]


# -- a small transaction model with closed-form kernels ------------------------------------------


class PoissonGamma(TransactionModel):
    r"""NBD: purchases Poisson(:math:`\lambda`), :math:`\lambda \sim` Gamma(r, alpha), no drop-out.

    Per customer :math:`L = \Gamma(r+x)/\Gamma(r)\,\alpha^r/(\alpha+T)^{r+x}`,
    :math:`E[X(t)] = r t/\alpha`, :math:`E[Y(t) \mid x, T] = (r+x) t/(\alpha+T)`.
    """

    param_names = ("r", "alpha")
    reference = "Ehrenberg (1959); Morrison & Schmittlein (1988), JBES 6(2), 145-159"

    def _loglik(self, params: Array, data: Patterns) -> tuple[Array, Array]:
        x, _, big_t = data.columns
        r, alpha = params
        value = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + big_t)
        d_r = psi(r + x) - psi(r) + np.log(alpha) - np.log(alpha + big_t)
        d_alpha = r / alpha - (r + x) / (alpha + big_t)
        return value, np.column_stack([d_r, d_alpha])

    def _start(self, data: Patterns) -> Array:
        return np.array([1.0, 1.0])

    def _p_alive(self, params: Array, x: Array, t_x: Array, big_t: Array) -> Array:
        return np.ones(len(x))

    def _conditional_expected(
        self, params: Array, t: float, x: Array, t_x: Array, big_t: Array
    ) -> Array:
        r, alpha = params
        return np.asarray((r + x) * t / (alpha + big_t), dtype=F64)

    def _expected(self, params: Array, t: Array) -> Array:
        r, alpha = params
        return np.asarray(r * t / alpha, dtype=F64)

    def _pmf(self, params: Array, n: Array, t: float) -> Array:
        r, alpha = params
        return _nbd_pmf(r, alpha, n, t)

    def _conditional_pmf(
        self, params: Array, n: float, t: float, x: Array, t_x: Array, big_t: Array
    ) -> Array:
        r, alpha = params
        return _nbd_pmf(r + x, alpha + big_t, np.full(len(x), n), t)


def _nbd_pmf(r: Any, alpha: Any, n: Array, t: float) -> Array:
    log = (
        gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1)
        + r * np.log(alpha / (alpha + t))
        + n * np.log(t / (alpha + t))
    )
    return np.asarray(np.exp(log), dtype=F64)


class Decaying(PoissonGamma):
    """Broken: E[X(t)] falls after t = 10, which no counting process allows."""

    def _expected(self, params: Array, t: Array) -> Array:
        r, alpha = params
        return np.asarray(r * t / alpha * np.exp(-t / 10), dtype=F64)


def simulate(n: int, seed: int, *, r: float = 0.5, alpha: float = 5.0) -> CalibrationHoldout:
    """NBD customers with ages up to 30 weeks and a 20-week holdout."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    age = rng.uniform(5.0, 30.0, n)
    x = rng.poisson(rate * age)
    last = np.where(x > 0, age * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    holdout = rng.poisson(rate * 20.0)
    h = Histories.from_arrays(frequency=x, recency=last, age=age)
    return CalibrationHoldout(
        h, holdout.astype(np.int64), np.zeros(n), 20.0, dt.date(2024, 1, 1), None
    )


def permuted(split: CalibrationHoldout, order: Array) -> CalibrationHoldout:
    h = split.calibration
    return CalibrationHoldout(
        Histories.from_arrays(
            frequency=h.frequency[order],
            recency=h.recency[order],
            age=h.age[order],
            customer_id=h.customer_id[order],
            weight=h.weight[order],
            time_unit=h.time_unit,
        ),
        split.holdout_frequency[order],
        split.holdout_monetary[order],
        split.holdout_length,
        split.calibration_end,
        split.holdout_end,
    )


@pytest.fixture(scope="module")
def small_split() -> CalibrationHoldout:
    return simulate(300, seed=1)


@pytest.fixture(scope="module")
def fitted(small_split: CalibrationHoldout) -> PoissonGamma:
    return PoissonGamma().fit(small_split.calibration)


@pytest.fixture(scope="module")
def cdnow() -> CalibrationHoldout:
    return cdnow_histories()


# -- the stand-in model itself -------------------------------------------------------------------


def test_stand_in_gradient_matches_central_differences(small_split: CalibrationHoldout) -> None:
    model = PoissonGamma()
    data = model.patterns(small_split.calibration)
    params = np.array([0.7, 3.0])
    _, gradient = model._loglik(params, data)
    total = data.weight @ gradient
    step = 1e-6
    for j in range(2):
        shift = np.zeros(2)
        shift[j] = step
        numeric = (
            model.log_likelihood(params + shift, data) - model.log_likelihood(params - shift, data)
        ) / (2 * step)
        assert_allclose(total[j], numeric, rtol=1e-6)


def test_stand_in_fit_recovers_the_simulated_parameters() -> None:
    model = PoissonGamma().fit(simulate(3000, seed=5).calibration)
    assert model.params_ is not None
    assert_allclose([model.params_["r"], model.params_["alpha"]], [0.5, 5.0], rtol=0.2)


# -- holdout errors ------------------------------------------------------------------------------


def test_holdout_errors_hand_computed() -> None:
    """|0.5-0| + |2-3| + |1-1| = 1.5 over 3; squares 0.25 + 1 + 0 over 3."""
    e = holdout_errors([0.5, 2.0, 1.0], [0, 3, 1])
    assert e.mae == pytest.approx(0.5)
    assert e.rmse == pytest.approx(np.sqrt(1.25 / 3))
    assert (e.predicted_total, e.actual_total, e.n) == (3.5, 4.0, 3.0)


def test_holdout_errors_weights_equal_repeated_rows() -> None:
    weighted = holdout_errors([0.2, 1.5], [1, 0], weight=[3, 2])
    repeated = holdout_errors([0.2] * 3 + [1.5] * 2, [1] * 3 + [0] * 2)
    assert_allclose(
        [weighted.mae, weighted.rmse, weighted.predicted_total, weighted.actual_total],
        [repeated.mae, repeated.rmse, repeated.predicted_total, repeated.actual_total],
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("predicted", "actual", "weight", "message"),
    [
        ([1.0], [1, 2], None, "one length"),
        ([], [], None, "no customers"),
        ([np.nan], [1], None, "finite"),
        ([1.0], [1], [0.0], "weights must be > 0"),
        ([[1.0]], [[1]], None, "1-D"),
    ],
)
def test_holdout_errors_refuses_bad_input(
    predicted: Any, actual: Any, weight: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        holdout_errors(predicted, actual, weight)


def broken_mae(predicted: Array, actual: Array) -> float:
    """Broken: the mean signed error, which cancels over- and under-prediction."""
    return float(np.mean(predicted - actual))


def check_mae(mae: Callable[[Array, Array], float], predicted: Array, actual: Array) -> None:
    value = mae(predicted, actual)
    assert value >= 0
    assert (value == 0) == bool(np.all(predicted == actual))


def our_mae(predicted: Array, actual: Array) -> float:
    return holdout_errors(predicted, actual).mae


counts = hnp.arrays(F64, st.integers(1, 30), elements=st.integers(0, 20).map(float))


@given(actual=counts, data=st.data())
def test_mae_is_non_negative_and_zero_only_for_exact_predictions(actual: Array, data: Any) -> None:
    exact = data.draw(st.booleans())
    noise = data.draw(hnp.arrays(F64, len(actual), elements={"min_value": -3.0, "max_value": 3.0}))
    predicted = actual.copy() if exact else np.maximum(actual + noise, 0.0)
    check_mae(our_mae, predicted, actual)
    rmse = holdout_errors(predicted, actual).rmse
    assert rmse >= our_mae(predicted, actual) - 1e-12  # RMSE >= MAE (Jensen)


def test_mae_check_fails_on_a_signed_error() -> None:
    """Negative control: over- and under-prediction cancel in the signed mean."""
    with pytest.raises(AssertionError):
        check_mae(broken_mae, np.array([0.0, 2.0]), np.array([1.0, 1.0]))
    with pytest.raises(AssertionError):
        check_mae(broken_mae, np.array([0.0]), np.array([1.0]))


# -- conditional expectations by frequency -------------------------------------------------------


def test_conditional_expectations_match_a_direct_computation(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    r = conditional_expectations_by_frequency(fitted, small_split, max_frequency=4)
    h = small_split.calibration
    y = small_split.holdout_frequency.astype(F64)
    predicted = fitted.conditional_expected_transactions(20.0, h).value
    assert r.labels == ("0", "1", "2", "3", "4+")
    assert r.frequency.tolist() == [0, 1, 2, 3, 4]
    for k in range(5):
        group = h.frequency == k if k < 4 else h.frequency >= 4
        assert r.n_customers[k] == group.sum()
        assert_allclose(r.actual[k], y[group].mean(), rtol=1e-12)
        assert_allclose(r.predicted[k], predicted[group].mean(), rtol=1e-12)
        se = y[group].std(ddof=1) / np.sqrt(group.sum())
        assert_allclose(r.actual_se[k], se, rtol=1e-10)
    assert r.n == 300
    assert (r.holdout_length, r.time_unit, r.model) == (20.0, "week", "PoissonGamma")


def test_conditional_expectations_of_the_stand_in_are_closed_form(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    """Zero repeaters: E[Y(t*)] = r t*/(alpha + T), averaged over their ages."""
    assert fitted.params_ is not None
    r, alpha = fitted.params_["r"], fitted.params_["alpha"]
    zero = small_split.calibration.frequency == 0
    expected = np.mean(r * 20.0 / (alpha + small_split.calibration.age[zero]))
    result = conditional_expectations_by_frequency(fitted, small_split)
    assert_allclose(result.predicted[0], expected, rtol=1e-12)


def test_conditional_expectations_weights_equal_repeated_rows(fitted: PoissonGamma) -> None:
    h = Histories.from_arrays(
        frequency=[0, 1, 1], recency=[0.0, 2.0, 3.0], age=[5.0, 5.0, 6.0], weight=[2, 1, 3]
    )
    weighted = CalibrationHoldout(
        h, np.array([1, 0, 2]), np.zeros(3), 4.0, dt.date(2024, 1, 1), None
    )
    rows = np.array([0, 0, 1, 2, 2, 2])
    flat = Histories.from_arrays(
        frequency=h.frequency[rows], recency=h.recency[rows], age=h.age[rows]
    )
    repeated = CalibrationHoldout(
        flat, np.array([1, 0, 2])[rows], np.zeros(6), 4.0, dt.date(2024, 1, 1), None
    )
    a = conditional_expectations_by_frequency(fitted, weighted, max_frequency=2)
    b = conditional_expectations_by_frequency(fitted, repeated, max_frequency=2)
    for name in ("n_customers", "actual", "actual_se", "predicted"):
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, equal_nan=True)


def test_conditional_expectations_empty_group_is_nan_and_single_has_no_se(
    fitted: PoissonGamma,
) -> None:
    h = Histories.from_arrays(frequency=[0, 3], recency=[0.0, 4.0], age=[5.0, 5.0])
    split = CalibrationHoldout(h, np.array([0, 2]), np.zeros(2), 4.0, dt.date(2024, 1, 1), None)
    r = conditional_expectations_by_frequency(fitted, split, max_frequency=2)
    assert r.n_customers.tolist() == [1.0, 0.0, 1.0]
    assert np.isnan(r.actual[1]) and np.isnan(r.predicted[1])
    assert np.isnan(r.actual_se).all()
    assert r.actual[2] == 2.0
    assert "2+" in str(r)
    assert r.to_dict()["labels"] == ["0", "1", "2+"]


def test_conditional_expectations_refuse_bad_arguments(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    with pytest.raises(ValueError, match="max_frequency"):
        conditional_expectations_by_frequency(fitted, small_split, max_frequency=0)
    no_holdout = CalibrationHoldout(
        small_split.calibration,
        np.zeros(300, dtype=np.int64),
        np.zeros(300),
        0.0,
        dt.date(2024, 1, 1),
        None,
    )
    with pytest.raises(ValueError, match="no holdout"):
        conditional_expectations_by_frequency(fitted, no_holdout)


# -- comparison of models ------------------------------------------------------------------------


def models_for(fitted: PoissonGamma) -> dict[str, TransactionModel]:
    assert fitted.params_ is not None
    return {
        "fitted": fitted,
        "twin": fitted,  # an exact tie on every criterion
        "given": PoissonGamma.from_params(r=1.0, alpha=2.0),
        "low": PoissonGamma.from_params(r=0.1, alpha=5.0),
    }


def test_compare_models_figures(fitted: PoissonGamma, small_split: CalibrationHoldout) -> None:
    c = compare_models(models_for(fitted), small_split)
    assert c.names == ("fitted", "twin", "given", "low")
    y = small_split.holdout_frequency
    for i, model in enumerate(models_for(fitted).values()):
        predicted = model.conditional_expected_transactions(20.0, small_split.calibration).value
        assert_allclose(c.mae[i], np.mean(np.abs(predicted - y)), rtol=1e-12)
        assert_allclose(c.rmse[i], np.sqrt(np.mean((predicted - y) ** 2)), rtol=1e-12)
        assert_allclose(c.predicted_total[i], predicted.sum(), rtol=1e-12)
    assert c.actual_total == y.sum()
    assert c.log_likelihood[0] == fitted.log_likelihood_
    assert (c.aic[0], c.bic[0]) == (fitted.aic_, fitted.bic_)
    assert np.isnan(c.log_likelihood[2:]).all() and np.isnan(c.bic[2:]).all()
    assert c.n_params.tolist() == [2, 2, 2, 2]
    assert c.n_calibration.tolist() == [300.0, 300.0, 0.0, 0.0]
    assert c.n == 300.0
    assert c.to_dict()["model"] == list(c.names)


def test_compare_models_ranking_and_table(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    c = compare_models(models_for(fitted), small_split)
    by_mae = c.ranking("mae")
    assert np.all(np.diff(c.values("mae")[[c.names.index(n) for n in by_mae]]) >= 0)
    # fit criteria: the two fitted twins first (by name), models without a fit last
    assert c.ranking("aic") == ("fitted", "twin", "given", "low")
    assert c.ranking("log_likelihood")[:2] == ("fitted", "twin")
    text = str(c)
    assert text.index(by_mae[0]) < text.index(by_mae[-1])
    assert "ranked by mae" in text
    assert "n = 300 customers" in text
    with pytest.raises(ValueError, match="criterion"):
        c.ranking("accuracy")
    with pytest.raises(ValueError, match="criterion"):
        compare_models(models_for(fitted), small_split, criterion="r2")
    with pytest.raises(ValueError, match="no models"):
        compare_models({}, small_split)


def test_compare_models_notes_different_calibration_data(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    other = PoissonGamma().fit(simulate(200, seed=3).calibration)
    text = str(compare_models({"a": fitted, "b": other}, small_split))
    assert "fitted on different customers" in text
    assert "different customers" not in str(compare_models({"a": fitted}, small_split))


def broken_ranking(c: ModelComparison, criterion: str) -> tuple[str, ...]:
    """Broken: ties keep the order the models were given in."""
    values = c.values(criterion)
    key = -values if CRITERIA[criterion] else values
    return tuple(c.names[i] for i in np.argsort(np.nan_to_num(key, nan=np.inf), kind="stable"))


def check_order_invariance(
    rank: Callable[[ModelComparison, str], tuple[str, ...]],
    models: Mapping[str, TransactionModel],
    split: CalibrationHoldout,
    order: list[int],
) -> None:
    names = list(models)
    shuffled = {names[i]: models[names[i]] for i in order}
    a = compare_models(models, split)
    b = compare_models(shuffled, split)
    for criterion in CRITERIA:
        assert rank(a, criterion) == rank(b, criterion)
    for name in names:
        i, j = a.names.index(name), b.names.index(name)
        for criterion in CRITERIA:
            assert_array_equal(a.values(criterion)[i], b.values(criterion)[j])


@given(order=st.permutations(range(4)))
def test_comparison_does_not_depend_on_model_order(
    order: list[int], fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    models = models_for(fitted)
    check_order_invariance(lambda c, k: c.ranking(k), models, small_split, order)
    names = list(models)
    shuffled = {names[i]: models[names[i]] for i in order}
    assert str(compare_models(shuffled, small_split)) == str(compare_models(models, small_split))


def test_order_check_fails_when_ties_keep_the_given_order(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    """Negative control: the twins swap places when the models come in another order."""
    with pytest.raises(AssertionError):
        check_order_invariance(broken_ranking, models_for(fitted), small_split, [1, 0, 2, 3])


def check_customer_order(
    shuffle: Callable[[CalibrationHoldout, Array], CalibrationHoldout],
    model: TransactionModel,
    split: CalibrationHoldout,
    order: Array,
) -> None:
    a = compare_models({"m": model}, split)
    b = compare_models({"m": model}, shuffle(split, order))
    for name in ("mae", "rmse", "predicted_total"):
        assert_allclose(
            a.values(name) if name != "predicted_total" else a.predicted_total,
            b.values(name) if name != "predicted_total" else b.predicted_total,
            rtol=1e-12,
        )
    r1 = conditional_expectations_by_frequency(model, split)
    r2 = conditional_expectations_by_frequency(model, shuffle(split, order))
    assert_allclose(r1.actual, r2.actual, rtol=1e-12, equal_nan=True)
    assert_allclose(r1.predicted, r2.predicted, rtol=1e-12, equal_nan=True)


def misaligned(split: CalibrationHoldout, order: Array) -> CalibrationHoldout:
    """Broken: reorders the histories but not their holdout counts."""
    moved = permuted(split, order)
    return CalibrationHoldout(
        moved.calibration,
        split.holdout_frequency,
        split.holdout_monetary,
        split.holdout_length,
        split.calibration_end,
        split.holdout_end,
    )


@given(seed=st.integers(0, 2**32 - 1))
def test_comparison_does_not_depend_on_customer_order(
    seed: int, fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    order = np.random.default_rng(seed).permutation(300)
    check_customer_order(permuted, fitted, small_split, order)


def test_customer_order_check_fails_when_holdout_counts_are_misaligned(
    fitted: PoissonGamma, small_split: CalibrationHoldout
) -> None:
    """Negative control: histories paired with other customers' holdout counts."""
    with pytest.raises(AssertionError):
        check_customer_order(misaligned, fitted, small_split, np.arange(300)[::-1])


# -- tracking ------------------------------------------------------------------------------------


def test_forecast_equals_a_sum_over_customers() -> None:
    model = PoissonGamma.from_params(r=0.4, alpha=3.0)
    first = np.array([0.0, 0.5, 0.5, 2.0, 7.25])
    times = np.array([0.25, 0.5, 1.0, 3.0, 7.25, 10.0])
    r = cumulative_repeat_transactions(model, first, times)
    expected = [sum(0.4 / 3.0 * (t - f) for f in first if f < t) for t in times]
    assert_allclose(r.cumulative, expected, rtol=1e-12)
    assert_allclose(r.incremental, np.diff(expected, prepend=0.0), rtol=1e-12)
    assert (r.n_customers, r.label, r.time_unit) == (5.0, "PoissonGamma", "week")


def test_forecast_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from stickykit.models import evaluate

    model = PoissonGamma.from_params(r=0.4, alpha=3.0)
    rng = np.random.default_rng(0)
    first = rng.uniform(0, 10, 50)
    times = np.linspace(0.5, 20, 33)
    whole = cumulative_repeat_transactions(model, first, times).cumulative
    monkeypatch.setattr(evaluate, "_BLOCK", 7)
    assert_allclose(cumulative_repeat_transactions(model, first, times).cumulative, whole)


def check_non_decreasing(model: TransactionModel, first: Array, times: Array) -> None:
    c = cumulative_repeat_transactions(model, first, times).cumulative
    assert np.all(c >= 0)
    assert np.all(np.diff(c) >= -1e-9 * max(1.0, float(c.max())))


@given(
    r=st.floats(0.05, 5.0),
    alpha=st.floats(0.1, 50.0),
    first=hnp.arrays(F64, st.integers(1, 20), elements={"min_value": 0.0, "max_value": 20.0}),
    times=hnp.arrays(
        F64, st.integers(1, 20), elements={"min_value": 0.0, "max_value": 60.0}, unique=True
    ),
)
def test_forecast_is_non_decreasing_in_time(
    r: float, alpha: float, first: Array, times: Array
) -> None:
    check_non_decreasing(PoissonGamma.from_params(r=r, alpha=alpha), first, np.sort(times))


def test_non_decreasing_check_fails_on_a_falling_expectation() -> None:
    """Negative control: an E[X(t)] that falls after t = 10."""
    broken = Decaying.from_params(r=1.0, alpha=1.0)
    with pytest.raises(AssertionError):
        check_non_decreasing(broken, np.array([0.0, 1.0]), np.array([5.0, 10.0, 30.0]))


def test_actual_counts_repeat_times_up_to_each_time() -> None:
    r = actual_repeat_transactions([0.0, 1.0], [0.5, 1.5, 1.5, 3.0], [0.0, 0.5, 2.0, 4.0])
    assert r.cumulative.tolist() == [0.0, 1.0, 3.0, 4.0]
    assert r.incremental.tolist() == [0.0, 1.0, 2.0, 1.0]
    assert (r.label, r.n_customers) == ("actual", 2.0)


@pytest.mark.parametrize(
    ("first", "repeats", "times", "message"),
    [
        ([1.0], [0.5], [1.0], "before every first purchase"),
        ([0.0], [0.5], [2.0, 1.0], "strictly increasing"),
        ([0.0], [0.5], [], "empty"),
        ([0.0], [np.inf], [1.0], "finite"),
    ],
)
def test_actual_refuses_bad_input(first: Any, repeats: Any, times: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        actual_repeat_transactions(first, repeats, times)


def frame(ids: list[int], days: list[str], kinds: list[str] | None = None) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids),
        timestamp=np.array(days, dtype="datetime64[us]"),
        kind=None if kinds is None else np.array(kinds),
    )


def test_cohort_purchases_merge_days_and_respect_start_end_and_kinds() -> None:
    f = frame(
        [1, 1, 1, 2, 2, 3, 3],
        [
            "2024-01-02",
            "2024-01-02",
            "2024-01-09",
            "2024-01-01",
            "2024-03-01",
            "2024-01-05",
            "2024-01-06",
        ],
        ["purchase", "purchase", "purchase", "purchase", "purchase", "purchase", "visit"],
    )
    c = cohort_purchases(f)
    assert c.start == dt.date(2024, 1, 1)
    assert c.customer_id.tolist() == [1, 2, 3]
    assert_allclose(c.first_purchase, [1 / 7, 0.0, 4 / 7])
    assert_allclose(c.repeat_times, [8 / 7, 60 / 7])
    assert c.repeat_customer.tolist() == [0, 1]
    assert c.time_of("2024-01-08") == 1.0
    ended = cohort_purchases(f, end="2024-02-01", time_unit="day")
    assert ended.repeat_times.tolist() == [8.0]
    late = cohort_purchases(f, start="2024-01-02")
    assert late.customer_id.tolist() == [1, 3]  # customer 2 was acquired before the start
    assert late.repeat_customer.tolist() == [0]
    every = cohort_purchases(f, kinds=None)
    assert_allclose(every.repeat_times, [8 / 7, 60 / 7, 5 / 7])
    assert every.repeat_customer.tolist() == [0, 1, 2]


def test_cohort_purchases_refuse_bad_arguments() -> None:
    f = frame([1], ["2024-01-02"])
    with pytest.raises(ValueError, match="time_unit"):
        cohort_purchases(f, time_unit="month")
    with pytest.raises(ValueError, match="no purchases"):
        cohort_purchases(f, end="2023-12-31")
    with pytest.raises(ValueError, match="date"):
        cohort_purchases(f, start="January")
    with pytest.raises(ValueError, match="n_periods"):
        cohort_purchases(f).period_ends(0)


# -- CDNOW ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_cohort() -> Any:
    return cohort_purchases(
        load_cdnow(sample=True, ids="sample"), start="1997-01-01", end="1998-06-30"
    )


def test_cdnow_cohort_agrees_with_the_calibration_histories(
    cdnow_cohort: Any, cdnow: CalibrationHoldout
) -> None:
    """Same customers, ages T = 38.86 - t0 weeks, and repeat days = calibration + holdout."""
    c = cdnow_cohort
    h = cdnow.calibration
    assert_array_equal(c.customer_id, h.customer_id)
    calibration_end = c.time_of("1997-09-30")
    assert_allclose(calibration_end - c.first_purchase, h.age, atol=1e-12)
    per_customer = np.bincount(c.repeat_customer, minlength=len(h))
    assert_array_equal(per_customer, h.frequency + cdnow.holdout_frequency)
    weeks = c.period_ends(78)
    assert weeks[38] == calibration_end
    assert weeks[-1] == c.time_of("1998-06-30")
    actual = actual_repeat_transactions(c.first_purchase, c.repeat_times, weeks)
    # calibration 2,457 repeat purchase days, holdout 1,882 (FHL 2005 sample)
    assert actual.cumulative[38] == h.frequency.sum() == 2457
    assert actual.cumulative[-1] - actual.cumulative[38] == cdnow.holdout_frequency.sum() == 1882


def test_cdnow_forecast_at_calibration_end_is_the_sum_of_expected_calibration_counts(
    cdnow_cohort: Any, cdnow: CalibrationHoldout
) -> None:
    model = PoissonGamma().fit(cdnow.calibration)
    at = cdnow_cohort.time_of("1997-09-30")
    forecast = cumulative_repeat_transactions(model, cdnow_cohort.first_purchase, [at])
    assert_allclose(
        forecast.cumulative[0], model.expected_transactions(cdnow.calibration.age).sum()
    )


def test_tracking_matches_lifetimes(cdnow_cohort: Any) -> None:
    """lifetimes' ``expected_cumulative_transactions`` on days: same actual and forecast.

    lifetimes evaluates the forecast at the start of day j (time j) and counts the actual
    purchases of days 0 ... j-1; our actual at time j - 1 includes the same days.
    """
    pd = pytest.importorskip("pandas")
    utils = pytest.importorskip("lifetimes.utils")
    events = load_cdnow(sample=True, ids="sample")
    table = pd.DataFrame(
        {
            "id": events.customer_id,
            "date": pd.to_datetime(events.timestamp.astype("datetime64[ns]")),
        }
    )
    model = PoissonGamma.from_params(r=0.4, alpha=3.0 * 7, time_unit="day")

    class Peer:
        def expected_number_of_purchases_up_to_time(self, t: Array) -> Array:
            return model.expected_transactions(np.asarray(t, dtype=F64))

    peer = utils.expected_cumulative_transactions(Peer(), table, "date", "id", 546)
    days = cohort_purchases(events, time_unit="day")
    ours_actual = actual_repeat_transactions(days.first_purchase, days.repeat_times, np.arange(546))
    ours = cumulative_repeat_transactions(model, days.first_purchase, np.arange(1, 547))
    assert_array_equal(ours_actual.cumulative, peer["actual"].to_numpy())
    assert_allclose(ours.cumulative, peer["predicted"].to_numpy(), rtol=1e-12)
    assert ours_actual.cumulative[-1] == 4339


# -- published CDNOW figures with the real models -------------------------------------------------


def zero_repeaters(model: TransactionModel, split: CalibrationHoldout) -> tuple[float, float]:
    r = conditional_expectations_by_frequency(model, split)
    return float(r.actual[0]), float(r.predicted[0])


def test_cdnow_zero_repeaters_actual(cdnow: CalibrationHoldout, fitted: PoissonGamma) -> None:
    """FHL (2005) section 4: 1,411 customers without a repeat purchase made 334 (0.24 each)."""
    r = conditional_expectations_by_frequency(fitted, cdnow)
    assert r.n_customers[0] == 1411
    assert r.actual[0] * 1411 == pytest.approx(334)
    assert round(r.actual[0], 2) == 0.24


def test_conditional_expectations_match_lifetimes_plot(
    cdnow: CalibrationHoldout, fitted: PoissonGamma
) -> None:
    """lifetimes' ``plot_calibration_purchases_vs_holdout_purchases`` groups x = 0 ... 6.

    Its lines are the mean holdout count and mean prediction per calibration frequency; it
    has no open last group, so groups 0-6 are compared. The model is ours behind lifetimes'
    method name, so this checks the grouping and the averaging.
    """
    pd = pytest.importorskip("pandas")
    plotting = pytest.importorskip("lifetimes.plotting")
    pytest.importorskip("matplotlib").use("Agg")
    import matplotlib.pyplot as plt

    h = cdnow.calibration
    table = pd.DataFrame(
        {
            "frequency_cal": h.frequency.astype(float),
            "recency_cal": h.recency,
            "T_cal": h.age,
            "frequency_holdout": cdnow.holdout_frequency.astype(float),
            "duration_holdout": cdnow.holdout_length,
        }
    )

    class Peer:
        def conditional_expected_number_of_purchases_up_to_time(
            self, t: float, x: Any, t_x: Any, big_t: Any
        ) -> Array:
            rows = Histories.from_arrays(
                frequency=np.asarray(x), recency=np.asarray(t_x), age=np.asarray(big_t)
            )
            return fitted.conditional_expected_transactions(t, rows).value

    try:
        ax = plotting.plot_calibration_purchases_vs_holdout_purchases(Peer(), table)
        actual, predicted = (ln.get_ydata() for ln in ax.lines[:2])
    finally:
        plt.close("all")
    ours = conditional_expectations_by_frequency(fitted, cdnow, max_frequency=7)
    assert_allclose(actual, ours.actual[:7], rtol=1e-12)
    assert_allclose(predicted, ours.predicted[:7], rtol=1e-12)


# -- the real models on CDNOW --------------------------------------------------------------------

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def bgnbd(cdnow: CalibrationHoldout) -> TransactionModel:
    from stickykit.models.bgnbd import BGNBD

    return BGNBD().fit(cdnow.calibration)


def test_cdnow_bgnbd_zero_repeaters(cdnow: CalibrationHoldout, bgnbd: TransactionModel) -> None:
    """FHL (2005) section 4: the 1,411 zero-repeaters bought 0.24 each; BG/NBD predicts 0.23.

    Both with the fitted and with the published parameters.
    """
    from stickykit.models.bgnbd import BGNBD

    for model in (bgnbd, BGNBD.from_params(**PUBLISHED_BGNBD)):
        actual, predicted = zero_repeaters(model, cdnow)
        assert round(actual, 2) == 0.24
        assert round(predicted, 2) == 0.23


def test_cdnow_paretonbd_zero_repeaters(cdnow: CalibrationHoldout) -> None:
    """FHL (2005) section 4: Pareto/NBD predicts 0.14 for the zero-repeaters (actual 0.24).

    With the published parameters r 0.553, alpha 10.578, s 0.606, beta 11.669.
    """
    paretonbd = pytest.importorskip("stickykit.models.paretonbd")
    model = paretonbd.ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    assert round(zero_repeaters(model, cdnow)[1], 2) == 0.14


def test_cdnow_comparison_of_bgnbd_and_mbgnbd(
    cdnow: CalibrationHoldout, bgnbd: TransactionModel
) -> None:
    """Fit figures come from the models: BG/NBD LL -9582.4 (FHL 2005), AIC = 8 - 2 LL."""
    from stickykit.models.mbgnbd import MBGNBD

    mbgnbd = MBGNBD().fit(cdnow.calibration)
    c = compare_models({"BG/NBD": bgnbd, "MBG/NBD": mbgnbd}, cdnow)
    assert round(c.log_likelihood[0], 1) == -9582.4
    assert_allclose(c.aic, [8 - 2 * bgnbd.log_likelihood_, 8 - 2 * mbgnbd.log_likelihood_])
    assert_allclose(c.bic[0], 4 * np.log(2357) - 2 * bgnbd.log_likelihood_)
    assert c.actual_total == 1882
    y = cdnow.holdout_frequency
    for i, model in enumerate((bgnbd, mbgnbd)):
        predicted = model.conditional_expected_transactions(39.0, cdnow.calibration).value
        assert_allclose(c.mae[i], np.abs(predicted - y).mean(), rtol=1e-12)
    text = str(c)
    assert "BG/NBD" in text and "MBG/NBD" in text and "n = 2,357 customers" in text


def test_cdnow_bgnbd_conditional_expectations_match_lifetimes(cdnow: CalibrationHoldout) -> None:
    """lifetimes' BetaGeoFitter at the published parameters, through its holdout plot."""
    pd = pytest.importorskip("pandas")
    lifetimes = pytest.importorskip("lifetimes")
    plotting = pytest.importorskip("lifetimes.plotting")
    pytest.importorskip("matplotlib").use("Agg")
    import matplotlib.pyplot as plt

    from stickykit.models.bgnbd import BGNBD

    peer = lifetimes.BetaGeoFitter()
    peer.params_ = pd.Series(PUBLISHED_BGNBD)
    h = cdnow.calibration
    table = pd.DataFrame(
        {
            "frequency_cal": h.frequency.astype(float),
            "recency_cal": h.recency,
            "T_cal": h.age,
            "frequency_holdout": cdnow.holdout_frequency.astype(float),
            "duration_holdout": cdnow.holdout_length,
        }
    )
    try:
        ax = plotting.plot_calibration_purchases_vs_holdout_purchases(peer, table)
        predicted = ax.lines[1].get_ydata()
    finally:
        plt.close("all")
    ours = conditional_expectations_by_frequency(BGNBD.from_params(**PUBLISHED_BGNBD), cdnow)
    assert_allclose(predicted, ours.predicted[:7], rtol=1e-6)


def test_cdnow_bgnbd_tracking_matches_lifetimes(cdnow_cohort: Any) -> None:
    """lifetimes' ``expected_cumulative_transactions`` with 7 days a week (``freq_multiplier``).

    Its forecast for week k is the sum of E[X((7k - d0)/7)] over customers first buying on
    day d0 < 7k, our forecast at time k on the weekly axis.
    """
    pd = pytest.importorskip("pandas")
    lifetimes = pytest.importorskip("lifetimes")
    utils = pytest.importorskip("lifetimes.utils")
    from stickykit.models.bgnbd import BGNBD

    events = load_cdnow(sample=True, ids="sample")
    table = pd.DataFrame(
        {
            "id": events.customer_id,
            "date": pd.to_datetime(events.timestamp.astype("datetime64[ns]")),
        }
    )
    peer = lifetimes.BetaGeoFitter()
    peer.params_ = pd.Series(PUBLISHED_BGNBD)
    expected = utils.expected_cumulative_transactions(
        peer, table, "date", "id", 546, freq_multiplier=7
    )
    model = BGNBD.from_params(**PUBLISHED_BGNBD)
    ours = cumulative_repeat_transactions(model, cdnow_cohort.first_purchase, np.arange(1, 79))
    assert_allclose(ours.cumulative, expected["predicted"].to_numpy(), rtol=1e-8)


def test_cdnow_bgnbd_forecast_at_calibration_end(
    cdnow_cohort: Any, cdnow: CalibrationHoldout, bgnbd: TransactionModel
) -> None:
    """At the end of calibration the forecast is the sum of E[X(T_i)] over customers."""
    at = cdnow_cohort.time_of("1997-09-30")
    weeks = cdnow_cohort.period_ends(78)
    forecast = cumulative_repeat_transactions(bgnbd, cdnow_cohort.first_purchase, weeks)
    assert forecast.cumulative[38] == pytest.approx(
        float(bgnbd.expected_transactions(cdnow.calibration.age).sum()), rel=1e-12
    )
    assert weeks[38] == at
    check_non_decreasing(bgnbd, cdnow_cohort.first_purchase, weeks)


@given(
    r=st.floats(0.05, 5.0),
    alpha=st.floats(0.1, 50.0),
    a=st.floats(0.05, 5.0),
    b=st.floats(0.05, 5.0),
    first=hnp.arrays(F64, st.integers(1, 10), elements={"min_value": 0.0, "max_value": 20.0}),
)
def test_bgnbd_forecast_is_non_decreasing_in_time(
    r: float, alpha: float, a: float, b: float, first: Array
) -> None:
    from stickykit.models.bgnbd import BGNBD

    model = BGNBD.from_params(r=r, alpha=alpha, a=a, b=b)
    check_non_decreasing(model, first, np.linspace(0.0, 80.0, 41))
