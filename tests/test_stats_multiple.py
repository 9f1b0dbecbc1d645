"""Holm and Benjamini-Hochberg adjusted p-values: hand values, scipy as an oracle, properties.

Each property is a ``check_*`` function run on the real adjustment (must pass) and on a
deliberately broken one (must fail).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from stickykit.stats.multiple import adjust_pvalues

Adjust = Callable[[list[float]], NDArray[np.float64]]

pvalue_lists = st.lists(
    st.floats(0, 1, allow_nan=False) | st.sampled_from([0.01, 0.02, 0.05]), min_size=1, max_size=30
)

#: Properties stop at the first counterexample: no shrinking (negative controls fail fast).
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate))


def holm(p: list[float]) -> NDArray[np.float64]:
    return adjust_pvalues(p, method="holm")


def bh(p: list[float]) -> NDArray[np.float64]:
    return adjust_pvalues(p, method="bh")


# -- hand-computed values --------------------------------------------------------------------------


def test_holm_by_hand() -> None:
    """p = 0.01, 0.04, 0.03, 0.005 (m = 4). Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1:
    0.02, 0.03, 0.06, 0.04; running maximum 0.02, 0.03, 0.06, 0.06; back in input order
    0.03, 0.06, 0.06, 0.02."""
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])


def test_bh_by_hand() -> None:
    """Sorted 0.005, 0.01, 0.03, 0.04 times 4/1, 4/2, 4/3, 4/4: 0.02, 0.02, 0.04, 0.04; running
    minimum from the top leaves them; in input order 0.02, 0.04, 0.04, 0.02."""
    np.testing.assert_allclose(bh([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02])


def test_caps_at_one_and_single_test() -> None:
    """Holm on 0.6, 0.3, 0.9: sorted 0.3, 0.6, 0.9 times 3, 2, 1 = 0.9, 1.2, 0.9; running
    maximum and cap 0.9, 1, 1. BH on 0.6, 0.3: 0.3 * 2 = 0.6 and 0.6 * 1 = 0.6. A single
    p-value is left as it is."""
    np.testing.assert_allclose(holm([0.6, 0.3, 0.9]), [1.0, 0.9, 1.0])
    np.testing.assert_allclose(bh([0.6, 0.3]), [0.6, 0.6])
    assert holm([0.02]).tolist() == [0.02] == bh([0.02]).tolist()


def test_nan_is_skipped_and_not_counted() -> None:
    """NaN stays NaN and m counts the other two: Holm 0.01 * 2, max(0.02, 0.03)."""
    out = holm([0.01, float("nan"), 0.03])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.03])
    assert adjust_pvalues([], method="bh").size == 0
    assert np.isnan(adjust_pvalues([float("nan")])).all()


@pytest.mark.parametrize(
    ("pvalues", "method", "match"),
    [
        ([0.1, 1.2], "holm", r"\[0, 1\]"),
        ([-0.1], "bh", r"\[0, 1\]"),
        ([[0.1]], "holm", "one-dim"),
        ([0.1], "bonferroni", "method"),
    ],
)
def test_bad_input(pvalues: object, method: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        adjust_pvalues(pvalues, method=method)  # type: ignore[arg-type]


# -- broken adjustments (negative controls) -----------------------------------------------------------


def broken_holm_no_running_max(p: list[float]) -> NDArray[np.float64]:
    values = np.asarray(p)
    m = len(values)
    order = np.argsort(values, kind="stable")
    out = np.empty(m)
    out[order] = np.minimum((m - np.arange(m)) * values[order], 1)
    return out


def broken_holm_off_by_one(p: list[float]) -> NDArray[np.float64]:
    """Multiplies the i-th smallest by m - i instead of m - i + 1 (the largest by 0)."""
    values = np.asarray(p)
    m = len(values)
    order = np.argsort(values, kind="stable")
    out = np.empty(m)
    out[order] = np.minimum(np.maximum.accumulate((m - 1 - np.arange(m)) * values[order]), 1)
    return out


def broken_bh_sorted_order(p: list[float]) -> NDArray[np.float64]:
    """Returns the adjusted values in sorted order, forgetting to put them back."""
    return np.sort(bh(p))


# -- properties ---------------------------------------------------------------------------------------


def check_holm(adjust: Adjust) -> None:
    @NO_SHRINK
    @given(pvalue_lists)
    def prop(p: list[float]) -> None:
        raw = np.asarray(p)
        adjusted = adjust(p)
        assert np.all(adjusted >= raw - 1e-15) and np.all(adjusted <= 1)
        order = np.argsort(raw, kind="stable")
        assert np.all(np.diff(adjusted[order]) >= 0)  # monotone in the raw p-values

    prop()


def test_holm_monotone_and_at_least_raw() -> None:
    check_holm(holm)
    check_holm(bh)


@pytest.mark.parametrize("broken", [broken_holm_no_running_max, broken_holm_off_by_one])
def test_holm_negative_controls(broken: Adjust) -> None:
    with pytest.raises(AssertionError):
        check_holm(broken)


def check_bh_below_holm(adjust_bh: Adjust) -> None:
    @NO_SHRINK
    @given(pvalue_lists)
    def prop(p: list[float]) -> None:
        assert np.all(adjust_bh(p) <= holm(p) + 1e-15)

    prop()


def test_bh_never_above_holm() -> None:
    check_bh_below_holm(bh)


def test_bh_below_holm_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_bh_below_holm(broken_bh_sorted_order)


def check_bh_matches_scipy(adjust_bh: Adjust) -> None:
    from scipy.stats import false_discovery_control

    @NO_SHRINK
    @given(pvalue_lists)
    def prop(p: list[float]) -> None:
        np.testing.assert_allclose(
            adjust_bh(p), false_discovery_control(p, method="bh"), rtol=1e-12, atol=1e-15
        )

    prop()


def test_bh_matches_scipy() -> None:
    check_bh_matches_scipy(bh)


def test_bh_scipy_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_bh_matches_scipy(broken_bh_sorted_order)
