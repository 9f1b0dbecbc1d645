"""Key-driver analysis: oracles on raw data, sums-to-R² properties with negative controls, the
mergeable Poisson bootstrap, quadrants, laws and bad input.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from stickykit import compute, get_metric
from stickykit.datasets import load_npsgame, npsgame_columns
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import MetricResult, states_equal
from stickykit.metrics.survey.drivers import (
    MAX_DOMINANCE_PREDICTORS,
    DriverWeights,
    KeyDrivers,
    correlations,
    driver_table,
    driver_weights,
)
from stickykit.stats.bootstrap import hash_ids, poisson_weights
from stickykit.testing import check_laws, check_metric, chunks_at

NO_SHRINK = settings(phases=[Phase.explicit, Phase.generate])
ITEMS = ("nps", "a", "b", "c")


def frame_from(x: NDArray[Any], items: tuple[str, ...] = ITEMS, **columns: Any) -> SurveyFrame:
    return SurveyFrame(
        answers={item: x[:, j].astype(np.int8) for j, item in enumerate(items)}, **columns
    )


def run(metric: KeyDrivers, frame: SurveyFrame) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), frame))


def corr_of(x: NDArray[Any]) -> NDArray[np.float64]:
    return np.corrcoef(x.astype(float), rowvar=False)


def standardise(x: NDArray[Any]) -> NDArray[np.float64]:
    x = x.astype(float)
    return (x - x.mean(axis=0)) / x.std(axis=0)


def lstsq_r2(y: NDArray[np.float64], x: NDArray[np.float64]) -> float:
    """R² of y on x with an intercept, by numpy.linalg.lstsq on the raw rows."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x])
    b = np.linalg.lstsq(design, y, rcond=None)[0]
    residual = y - design @ b
    return float(1 - residual @ residual / ((y - y.mean()) @ (y - y.mean())))


# integer survey answers 0-10 with a common factor, so predictors correlate
def _answers(p: int) -> st.SearchStrategy[NDArray[np.int64]]:
    return (
        st.integers(12, 40)
        .flatmap(lambda n: hnp.arrays(np.int64, (n, p + 1), elements=st.integers(0, 10)))
        .map(lambda x: np.clip(x + x[:, [0]] // 2 - 2, 0, 10))
    )


def usable(x: NDArray[Any]) -> bool:
    """Every column varies and the predictors are not (nearly) collinear."""
    if np.any(x.std(axis=0) == 0):
        return False
    return bool(np.linalg.eigvalsh(corr_of(x)[1:, 1:]).min() > 1e-6)


data = st.integers(1, 4).flatmap(_answers).filter(usable)


# -- standardised coefficients against lstsq -------------------------------------------------------


@given(data)
def test_standardised_coefficients_match_lstsq(x: NDArray[np.int64]) -> None:
    """beta* equals numpy.linalg.lstsq of the standardised outcome on standardised predictors,
    and R² equals that of the raw regression."""
    z = standardise(x)
    expected = np.linalg.lstsq(z[:, 1:], z[:, 0], rcond=None)[0]
    w = driver_weights(correlations(np.array(len(x)), x.sum(axis=0), x.T @ x))
    np.testing.assert_allclose(w.beta, expected, rtol=1e-8, atol=1e-10)
    assert float(w.r2) == pytest.approx(lstsq_r2(x[:, 0].astype(float), x[:, 1:]), abs=1e-10)


@given(data)
def test_correlations_match_corrcoef(x: NDArray[np.int64]) -> None:
    r = correlations(np.array(len(x)), x.sum(axis=0), x.T @ x)
    np.testing.assert_allclose(r, corr_of(x), rtol=1e-10, atol=1e-12)


# -- relative weights and dominance: sums to R², with negative controls ----------------------------

Weights = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def real_relative(corr: NDArray[np.float64]) -> NDArray[np.float64]:
    return driver_weights(corr).relative_weight


def real_dominance(corr: NDArray[np.float64]) -> NDArray[np.float64]:
    dominance = driver_weights(corr).dominance
    assert dominance is not None
    return dominance


def broken_squared_betas(corr: NDArray[np.float64]) -> NDArray[np.float64]:
    """Squared standardised coefficients: sum to R² only for uncorrelated predictors."""
    return driver_weights(corr).beta ** 2


def broken_flat_subset_average(corr: NDArray[np.float64]) -> NDArray[np.float64]:
    """Dominance averaged over all subsets alike, not first within each subset size."""
    p = corr.shape[0] - 1
    out = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        gains = [
            _r2(corr, [*subset, j]) - _r2(corr, list(subset))
            for size in range(p)
            for subset in itertools.combinations(others, size)
        ]
        out[j] = np.mean(gains)
    return out


def _r2(corr: NDArray[np.float64], subset: list[int]) -> float:
    if not subset:
        return 0.0
    idx = np.array(subset) + 1
    r = corr[idx, 0]
    return float(r @ np.linalg.solve(corr[np.ix_(idx, idx)], r))


def check_sums_to_r2(weights: Weights, *, shrink: bool = True) -> None:
    @(settings() if shrink else NO_SHRINK)
    @given(data)
    def prop(x: NDArray[np.int64]) -> None:
        corr = corr_of(x)
        total = float(np.sum(weights(corr)))
        assert total == pytest.approx(lstsq_r2(x[:, 0].astype(float), x[:, 1:]), abs=1e-9)

    prop()


def test_relative_weights_sum_to_r2() -> None:
    check_sums_to_r2(real_relative)


def test_dominance_sums_to_r2() -> None:
    check_sums_to_r2(real_dominance)


def test_sums_to_r2_negative_controls() -> None:
    with pytest.raises(AssertionError):
        check_sums_to_r2(broken_squared_betas, shrink=False)
    with pytest.raises(AssertionError):
        check_sums_to_r2(broken_flat_subset_average, shrink=False)


@given(data.filter(lambda x: x.shape[1] <= 4))
def test_dominance_equals_average_over_orderings(x: NDArray[np.int64]) -> None:
    """General dominance equals the R² increase of each predictor averaged over all p!
    orders of entry, each R² from lstsq on the raw rows (the definition, by brute force)."""
    y, preds = x[:, 0].astype(float), x[:, 1:].astype(float)
    p = preds.shape[1]
    r2 = {
        subset: lstsq_r2(y, preds[:, list(subset)])
        for size in range(p + 1)
        for subset in itertools.combinations(range(p), size)
    }
    expected = np.zeros(p)
    for order in itertools.permutations(range(p)):
        for position, j in enumerate(order):
            before = tuple(sorted(order[:position]))
            expected[j] += r2[tuple(sorted((*before, j)))] - r2[before]
    expected /= math.factorial(p)
    np.testing.assert_allclose(real_dominance(corr_of(x)), expected, atol=1e-9)


@given(data)
def test_relative_weights_follow_johnsons_steps(x: NDArray[np.int64]) -> None:
    """Johnson (2000) on the raw rows: orthogonal Z = X V Λ^-1/2 V^T of the standardised
    predictors; regress y on Z (β) and each X_j on Z (Λ*); ε_j = Σ_k Λ*_jk² β_k²."""
    z = standardise(x)
    y, xs = z[:, 0], z[:, 1:]
    n = len(xs)
    eigenvalues, vectors = np.linalg.eigh(xs.T @ xs / n)
    orthogonal = xs @ vectors @ np.diag(eigenvalues**-0.5) @ vectors.T
    beta = np.linalg.lstsq(orthogonal, y, rcond=None)[0]
    loadings = np.linalg.lstsq(orthogonal, xs, rcond=None)[0].T  # X_j on Z_k
    expected = (loadings**2) @ (beta**2)
    np.testing.assert_allclose(real_relative(corr_of(x)), expected, atol=1e-9)


def test_uncorrelated_predictors_hand_computed() -> None:
    """Uncorrelated predictors with r = 0.6 and 0.3: β* = (0.6, 0.3), R² = 0.36 + 0.09 = 0.45,
    relative weights = dominance = squared correlations (0.36, 0.09)."""
    corr = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.0], [0.3, 0.0, 1.0]])
    w = driver_weights(corr)
    assert float(w.r2) == pytest.approx(0.45)
    np.testing.assert_allclose(w.beta, [0.6, 0.3])
    np.testing.assert_allclose(w.relative_weight, [0.36, 0.09])
    np.testing.assert_allclose(real_dominance(corr), [0.36, 0.09])


def test_two_correlated_predictors_hand_computed() -> None:
    """r_y1 = 0.5, r_y2 = 0.4, r_12 = 0.3: R² = (0.25 + 0.16 - 2 x 0.5 x 0.4 x 0.3)/(1 - 0.09)
    = 0.29/0.91 = 0.318681; dominance_1 = (0.25 + (R² - 0.16))/2 = 0.204341, dominance_2 =
    (0.16 + (R² - 0.25))/2 = 0.114341; β1 = (0.5 - 0.4 x 0.3)/0.91 = 0.417582."""
    corr = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.3], [0.4, 0.3, 1.0]])
    w = driver_weights(corr)
    r2 = 0.29 / 0.91
    assert float(w.r2) == pytest.approx(r2)
    np.testing.assert_allclose(
        real_dominance(corr), [(0.25 + r2 - 0.16) / 2, (0.16 + r2 - 0.25) / 2]
    )
    assert w.beta[0] == pytest.approx(0.38 / 0.91)


def test_batched_equals_one_at_a_time() -> None:
    rng = np.random.default_rng(0)
    stack = np.stack([corr_of(rng.integers(0, 11, (30, 4)) + np.arange(4)) for _ in range(5)])
    batched = driver_weights(stack)
    for i in range(5):
        single = driver_weights(stack[i])
        for field in attrs.fields(DriverWeights):
            np.testing.assert_allclose(getattr(batched, field.name)[i], getattr(single, field.name))


def test_more_than_twelve_predictors_skip_dominance() -> None:
    p = MAX_DOMINANCE_PREDICTORS + 1
    items = tuple(f"q{j}" for j in range(p))
    rng = np.random.default_rng(2)
    x = rng.integers(0, 11, (200, p + 1))
    m = KeyDrivers(predictors=items, n_boot=0)
    r = run(m, frame_from(x, ("nps", *items)))
    assert f"general dominance skipped: {p} predictors > 12" in r.flags
    assert not any(k.startswith("dominance") for k in r.details)
    assert sum(r.details[f"relative_weight[{q}]"] for q in items) == pytest.approx(r.value)
    with pytest.raises(ValueError, match="at most 12 predictors"):
        KeyDrivers(predictors=items, importance="dominance")


# -- the metric on NPSgame -------------------------------------------------------------------------


def test_npsgame_against_lstsq() -> None:
    """NPSgame, likelihood to recommend on satisfaction and repurchase intention: the 13,521
    complete rows give R² = 0.704 by lstsq; weights sum to it; the bootstrap interval covers it."""
    cols = npsgame_columns()
    raw = np.column_stack([cols["nps"], cols["satisfaction"], cols["intention"]])
    complete = raw[~np.isnan(raw).any(axis=1)]
    r = compute(KeyDrivers(n_boot=50), load_npsgame())
    assert (r.n, r.n_missing) == (len(complete), len(raw) - len(complete)) == (13521, 433)
    assert r.value == pytest.approx(lstsq_r2(complete[:, 0], complete[:, 1:]), rel=1e-10)
    assert round(r.value, 3) == 0.704
    table = driver_table(r)
    assert table["item"] == ["satisfaction", "intention"]
    assert sum(table["relative_weight"]) == pytest.approx(r.value)
    assert sum(table["dominance"]) == pytest.approx(r.value)
    assert r.ci_low < r.value < r.ci_high  # type: ignore[operator]
    np.testing.assert_allclose(table["performance"], complete[:, 1:].mean(axis=0))
    assert table["quadrant"] == [3.0, 2.0]


# -- quadrants -------------------------------------------------------------------------------------


def test_quadrants_hand_computed() -> None:
    """Thresholds given as (importance 0.1, performance 5): an item at or above both is 2,
    high importance with low performance 1, low importance with low performance 3, low
    importance with high performance 4 (Martilla and James 1977)."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 11, 400)
    noise = rng.integers(-1, 2, (400, 4))
    x = np.column_stack(
        [
            base,
            np.clip(base + 2 + noise[:, 0], 0, 10),  # a: important, mean ~7
            np.clip(base // 3 + noise[:, 1], 0, 10),  # b: important, mean ~1.5
            np.clip(rng.integers(0, 3, 400) + noise[:, 2] + 1, 0, 10),  # c: unimportant, low
            np.clip(rng.integers(7, 11, 400) + noise[:, 3], 0, 10),  # d: unimportant, high
        ]
    )
    items = ("nps", "a", "b", "c", "d")
    m = KeyDrivers(predictors=items[1:], n_boot=0, thresholds=(0.1, 5.0))
    r = run(m, frame_from(x, items))
    perf = {i: r.details[f"performance[{i}]"] for i in items[1:]}
    weight = {i: r.details[f"relative_weight[{i}]"] for i in items[1:]}
    expected = {
        i: (1 if perf[i] < 5 else 2) if weight[i] >= 0.1 else (3 if perf[i] < 5 else 4)
        for i in items[1:]
    }
    assert {i: r.details[f"quadrant[{i}]"] for i in items[1:]} == expected
    assert expected == {"a": 2, "b": 1, "c": 3, "d": 4}
    means = run(attrs.evolve(m, thresholds=None), frame_from(x, items))
    assert means.details["importance_threshold"] == pytest.approx(np.mean(list(weight.values())))
    assert means.details["performance_threshold"] == pytest.approx(np.mean(list(perf.values())))


# -- the Poisson bootstrap -------------------------------------------------------------------------


def test_poisson_weights_depend_only_on_seed_id_replicate() -> None:
    ids = np.array([5, 17, 3, 5])
    w = poisson_weights(ids, 9, 6)
    assert np.array_equal(w[0], w[3])
    assert np.array_equal(poisson_weights(ids[::-1], 9, 6), w[::-1])
    assert np.array_equal(poisson_weights(ids[1:2], 9, 6), w[1:2])
    assert np.array_equal(poisson_weights(ids, 9, 10)[:, :6], w)
    assert not np.array_equal(poisson_weights(ids, 10, 6), w)
    text = np.array(["r1", "r22"])
    assert np.array_equal(poisson_weights(text, 1, 4), poisson_weights(text.astype("<U12"), 1, 4))
    assert hash_ids(np.array([1])).dtype == np.uint64


def test_poisson_weights_are_poisson_one() -> None:
    """Over 200,000 draws (fixed seed) the frequencies of 0, 1, 2, 3 are within 0.005 of
    e^-1/k! = 0.3679, 0.3679, 0.1839, 0.0613."""
    w = poisson_weights(np.arange(20_000), 0, 10).ravel()
    freq = np.bincount(w, minlength=4)[:4] / len(w)
    expected = [math.exp(-1) / math.factorial(k) for k in range(4)]
    np.testing.assert_allclose(freq, expected, atol=0.005)


@attrs.frozen
class PositionalBootstrap(KeyDrivers):
    """Broken: draws replicate weights from a generator by row position, not by id."""

    def _moments(self, frame: SurveyFrame) -> Any:
        state = super()._moments(frame)
        rng = np.random.default_rng(self.seed)
        x = np.stack([frame.answers[i] for i in self.variables], axis=1).astype(np.int64)
        w = rng.poisson(1.0, (len(frame), self.n_boot))
        return attrs.evolve(
            state,
            boot_n=w.sum(axis=0),
            boot_sums=w.T @ x,
            boot_cross=np.einsum("ir,ij,ik->rjk", w, x, x),
        )


def test_bootstrap_split_invariance_negative_control() -> None:
    """Weights drawn by row position change when the data are split: the laws catch it."""
    rng = np.random.default_rng(1)
    frame = frame_from(rng.integers(0, 11, (30, 4)), respondent_id=np.arange(30))
    metric = PositionalBootstrap(predictors=("a", "b", "c"), n_boot=5)
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(metric, frame, [12], list(range(30)))
    real = KeyDrivers(predictors=("a", "b", "c"), n_boot=5)
    check_laws(real, frame, [12], list(range(30)))
    states = [real.update(real.init(), c) for c in chunks_at(frame, [7, 7, 20])]
    merged = states[0]
    for s in states[1:]:
        merged = real.merge(merged, s)
    assert states_equal(merged, real.update(real.init(), frame), rtol=0, atol=0)


def test_bootstrap_needs_respondent_ids() -> None:
    x = np.random.default_rng(3).integers(0, 11, (20, 4))
    with pytest.raises(ValidationError, match="respondent ids"):
        run(KeyDrivers(predictors=("a", "b", "c")), frame_from(x))
    r = run(KeyDrivers(predictors=("a", "b", "c"), n_boot=0), frame_from(x))
    assert r.ci_low is None and r.method == "no interval (n_boot=0)"


def test_bootstrap_is_reproducible_and_seeded() -> None:
    frame = load_npsgame().slice(0, 2000)
    a = compute(KeyDrivers(n_boot=30, seed=1), frame)
    b = compute(KeyDrivers(n_boot=30, seed=1), frame, chunk_rows=333)
    c = compute(KeyDrivers(n_boot=30, seed=2), frame)
    assert a.details == b.details and (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert "30 replicates hashed from seed 1" in a.method


# -- laws ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        KeyDrivers(),
        KeyDrivers(outcome="intention", predictors=("a", "b", "c"), n_boot=0),
        KeyDrivers(predictors=("x",), item_scales={"x": (1, 5)}, n_boot=20, importance="beta"),
    ],
    ids=["default", "three-no-boot", "one-five-point"],
)
def test_laws(metric: KeyDrivers) -> None:
    check_metric(metric, max_examples=25)


def test_registered() -> None:
    metric = get_metric("key_drivers", predictors=["satisfaction"], n_boot=0)
    assert isinstance(metric, KeyDrivers) and metric.predictors == ("satisfaction",)
    assert KeyDrivers(item_scales={"satisfaction": (1, 5)}).scales == {
        "nps": (0, 10),
        "satisfaction": (1, 5),
        "intention": (0, 10),
    }


def test_state_size_is_bounded_by_replicates_and_items() -> None:
    m = KeyDrivers(n_boot=7)
    state = m.update(m.init(), load_npsgame())
    assert state.boot_cross.shape == (7, 3, 3) and state.boot_sums.shape == (7, 3)


def test_merge_refuses_other_parameters() -> None:
    a, b = KeyDrivers(), KeyDrivers(seed=1)
    with pytest.raises(StateMismatchError, match="fingerprint"):
        a.merge(a.init(), b.init())


# -- bad input -------------------------------------------------------------------------------------


def test_out_of_range_answers_raise_naming_row() -> None:
    x = np.array([[9, 8, 7, 6], [10, 11, 5, 5], [3, 2, 1, 0]])
    m = KeyDrivers(predictors=("a", "b", "c"), n_boot=0)
    with pytest.raises(ValidationError) as info:
        m.update(m.init(), frame_from(x))
    assert (info.value.field, info.value.row, info.value.value) == ("a", 1, 11)
    data = {
        "nps": [9, 10, 3, 4, 6, 7],
        "a": [8, 12, 2, 3, 5, 6],
        "b": [1, 2, 3, 5, 4, 4],
        "c": [4, 5, 1, 2, 2, 0],
    }
    r = compute(m, data, errors="quarantine")
    assert (r.n, r.details["n_rejected"]) == (5, 1.0)


def test_too_few_rows_no_variance_and_collinear() -> None:
    m = KeyDrivers(predictors=("a", "b", "c"), n_boot=0)
    with pytest.raises(InsufficientDataError, match="at least 5 rows"):
        run(m, frame_from(np.array([[1, 2, 3, 4]] * 4)))
    flat = np.array([[1, 2, 3, 4], [2, 2, 4, 5], [3, 2, 1, 1], [4, 2, 0, 9], [5, 2, 7, 7]])
    with pytest.raises(InsufficientDataError, match=r"no variance in \['a'\]"):
        run(m, frame_from(flat))
    collinear = flat.copy()
    collinear[:, 1] = collinear[:, 2]
    with pytest.raises(InsufficientDataError, match="collinear"):
        run(m, frame_from(collinear))


def test_missing_answers_listwise() -> None:
    x = np.array(
        [[9, 8, 7, 6], [10, 9, 5, 5], [3, 2, 1, 0], [4, 4, 4, 2], [6, 5, 3, 3], [1, 1, 2, 0]]
    )
    missing = np.zeros(6, bool)
    missing[2] = True
    m = KeyDrivers(predictors=("a", "b", "c"), n_boot=0)
    r = run(m, frame_from(x, answer_missing={"b": missing}))
    full = run(m, frame_from(np.delete(x, 2, axis=0)))
    assert (r.n, r.n_missing) == (5, 1) and r.value == full.value


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"predictors": ()}, "non-empty"),
        ({"predictors": ("a", "a")}, "distinct"),
        ({"predictors": ("nps", "a")}, "outcome"),
        ({"scale": (3, 3)}, "scale"),
        ({"item_scales": {"a": (0, 300)}}, "item_scales"),
        ({"importance": "shapley"}, "importance"),
        ({"thresholds": (0.1,)}, "thresholds"),
        ({"n_boot": -1}, "n_boot"),
        ({"seed": 2**64}, "seed"),
        ({"alpha": 2.0}, "alpha"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        KeyDrivers(**params)
