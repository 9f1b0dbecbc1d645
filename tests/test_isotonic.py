"""Weighted PAV: hand-computed fits, properties with negative controls, independent oracles.

Each property is a ``check_*`` function taking an isotonic-fit implementation; it runs on
:func:`stickykit.stats.isotonic.pava` (must pass) and on deliberately broken variants of the
pooling step (must fail).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from stickykit.errors import ValidationError
from stickykit.stats.isotonic import pava

Fit = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


def real(y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    return pava(y, w)


# -- deliberately broken variants (negative controls) ------------------------------------------


def _stack_pav(y: NDArray[np.float64], w: NDArray[np.float64], *, repeat: bool, weighted: bool):
    blocks: list[list[float]] = []  # [weighted sum, weight, length]
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        blocks.append([wi * yi, wi, 1])
        while len(blocks) > 1 and blocks[-1][0] / blocks[-1][1] < blocks[-2][0] / blocks[-2][1]:
            last = blocks.pop()
            if weighted:
                blocks[-1] = [
                    blocks[-1][0] + last[0],
                    blocks[-1][1] + last[1],
                    blocks[-1][2] + last[2],
                ]
            else:  # pools the two means as if both blocks weighed the same
                mean = (blocks[-1][0] / blocks[-1][1] + last[0] / last[1]) / 2
                weight = blocks[-1][1] + last[1]
                blocks[-1] = [mean * weight, weight, blocks[-1][2] + last[2]]
            if not repeat:
                break
    return np.repeat([b[0] / b[1] for b in blocks], [int(b[2]) for b in blocks])


def broken_single_pool(y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pools the newest block once, never backwards through earlier blocks."""
    return _stack_pav(y, w, repeat=False, weighted=True)


def broken_unweighted_pool(y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pools two blocks by the plain mean of their means, ignoring their weights."""
    return _stack_pav(y, w, repeat=True, weighted=False)


def min_max_oracle(y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """The isotonic fit by the min-max formula, O(L^3): an independent brute force."""
    n = len(y)
    out = np.empty(n)
    for i in range(n):
        out[i] = max(
            min((w[j : k + 1] @ y[j : k + 1]) / w[j : k + 1].sum() for k in range(i, n))
            for j in range(i + 1)
        )
    return out


series = st.integers(1, 9).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 20), min_size=n, max_size=n),
        st.lists(st.integers(1, 30), min_size=n, max_size=n),
    )
)


def arrays(pair: tuple[list[int], list[int]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Values on a 0-1 grid of twentieths (a loyalty rate) and integer weights (counts)."""
    return np.array(pair[0], float) / 20, np.array(pair[1], float)


# -- properties --------------------------------------------------------------------------------


def check_monotone(fit: Fit) -> None:
    @given(series)
    def prop(pair: tuple[list[int], list[int]]) -> None:
        y, w = arrays(pair)
        assert np.all(np.diff(fit(y, w)) >= -1e-12)

    prop()


def check_weighted_mean(fit: Fit) -> None:
    @given(series)
    def prop(pair: tuple[list[int], list[int]]) -> None:
        y, w = arrays(pair)
        np.testing.assert_allclose(w @ fit(y, w), w @ y, rtol=1e-12, atol=1e-12)

    prop()


def check_idempotent(fit: Fit) -> None:
    @given(series)
    def prop(pair: tuple[list[int], list[int]]) -> None:
        y, w = arrays(pair)
        once = fit(y, w)
        np.testing.assert_allclose(fit(once, w), once, rtol=0, atol=1e-12)

    prop()


def check_optimal(fit: Fit) -> None:
    """The fit equals the min-max formula's, the unique weighted least-squares solution."""

    @given(series)
    def prop(pair: tuple[list[int], list[int]]) -> None:
        y, w = arrays(pair)
        np.testing.assert_allclose(fit(y, w), min_max_oracle(y, w), rtol=0, atol=1e-12)

    prop()


def test_monotone_holds() -> None:
    check_monotone(real)


def test_monotone_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_monotone(broken_single_pool)


def test_weighted_mean_holds() -> None:
    check_weighted_mean(real)


def test_weighted_mean_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_weighted_mean(broken_unweighted_pool)


def test_idempotent_holds() -> None:
    check_idempotent(real)


def test_idempotent_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_idempotent(broken_single_pool)


def test_optimal_holds() -> None:
    check_optimal(real)


def test_optimal_negative_controls() -> None:
    with pytest.raises(AssertionError):
        check_optimal(broken_unweighted_pool)
    with pytest.raises(AssertionError):
        check_optimal(broken_single_pool)


@given(series)
def test_no_monotone_sequence_is_closer(pair: tuple[list[int], list[int]]) -> None:
    """Optimality by brute force: no monotone sequence on a fine grid has a smaller weighted
    squared error than the fit (checked against every monotone sequence of length <= 3 on a
    grid of tenths, and on the fit's own values perturbed)."""
    y, w = arrays(pair)
    fitted = pava(y, w)
    best = w @ (y - fitted) ** 2
    if len(y) <= 3:
        grid = np.linspace(0, 1, 11)
        mesh = np.stack(np.meshgrid(*[grid] * len(y), indexing="ij"), -1).reshape(-1, len(y))
        monotone = mesh[np.all(np.diff(mesh, axis=1) >= 0, axis=1)]
        assert np.all(((monotone - y) ** 2) @ w >= best - 1e-12)
    rng = np.random.default_rng(len(y))
    for _ in range(20):
        candidate = np.maximum.accumulate(fitted + rng.normal(0, 0.05, len(y)))
        assert w @ (y - candidate) ** 2 >= best - 1e-12


def test_scipy_oracle() -> None:
    """scipy.optimize.isotonic_regression, an independent implementation, on 200 series."""
    from scipy.optimize import isotonic_regression

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 15))
        y, w = rng.random(n), rng.integers(1, 50, n).astype(float)
        expected = isotonic_regression(y, weights=w).x
        np.testing.assert_allclose(pava(y, w), expected, rtol=1e-12, atol=1e-12)


def test_sklearn_oracle_on_raw_rows() -> None:
    """PAV on level rates weighted by counts equals scikit-learn's fit on the raw 0/1 rows."""
    isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(3)
    level = rng.integers(0, 11, 2_000)
    loyal = (rng.random(2_000) < 0.3 + 0.05 * level - 0.2 * (level == 1)).astype(float)
    counts = np.bincount(level, minlength=11)
    rates = np.bincount(level, weights=loyal, minlength=11) / counts
    raw = isotonic.IsotonicRegression().fit(level, loyal).predict(np.arange(11))
    np.testing.assert_allclose(pava(rates, counts), raw, rtol=1e-10)


# -- hand-computed values ------------------------------------------------------------------------


def test_hand_computed() -> None:
    """Rates 0.2, 0.1, 0.5 with counts 10, 30, 20: the first two violate the order and pool to
    (10 x 0.2 + 30 x 0.1) / 40 = 5 / 40 = 0.125; 0.5 stays."""
    np.testing.assert_allclose(pava([0.2, 0.1, 0.5], [10, 30, 20]), [0.125, 0.125, 0.5])


def test_hand_computed_backward_pooling() -> None:
    """[3, 4, 1] with unit weights: 4 > 1 pools to 2.5, which is below 3, so all three pool
    to (3 + 4 + 1) / 3 = 8/3."""
    np.testing.assert_allclose(pava([3.0, 4.0, 1.0]), [8 / 3] * 3)


def test_decreasing() -> None:
    """Non-increasing fit of [1, 3, 2]: 1 < 3 pools to 2, then 2 = 2 stays: [2, 2, 2]."""
    np.testing.assert_allclose(pava([1.0, 3.0, 2.0], increasing=False), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(pava([3.0, 1.0, 2.0], increasing=False), [3.0, 1.5, 1.5])


def test_empty_and_single() -> None:
    assert pava([]).tolist() == []
    assert pava([0.4], [3]).tolist() == [0.4]


@pytest.mark.parametrize(
    ("values", "weights", "field"),
    [
        ([0.1, float("nan")], None, "values"),
        ([0.1, 0.2], [1.0, 0.0], "weights"),
        ([0.1, 0.2], [1.0, -2.0], "weights"),
        ([0.1, 0.2], [1.0, float("inf")], "weights"),
        ([0.1, 0.2], [1.0], "weights"),
        ([[0.1, 0.2]], None, "values"),
    ],
)
def test_bad_input(values: list[float], weights: list[float] | None, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        pava(values, weights)
    assert info.value.field == field
