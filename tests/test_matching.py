"""Coarsened exact matching: hand-computed weights, the balance properties, negative controls.

Reference: Iacus, King & Porro (2012), Political Analysis 20(1): treated units weigh 1,
controls in stratum s weigh (m_C / m_T)(m_T^s / m_C^s), unmatched units 0; the L1 imbalance
of Iacus, King & Porro (2011), JASA 106(493), is half the sum of absolute differences of the
relative frequencies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.stats.matching import cem, coarsen, l1_imbalance

FAST = settings(max_examples=20, deadline=None)


# -- hand-computed -----------------------------------------------------------------------------


def test_weights_by_hand() -> None:
    """Three strata on visits, cut at 4.5 and 10.

    Stratum 0 (1-4): treated 1, 3; controls 2, 4 -> m_T^0 = 2, m_C^0 = 2.
    Stratum 1 (5-8): treated 6; controls 5, 7, 8 -> m_T^1 = 1, m_C^1 = 3.
    Stratum 2 (12-13): controls only -> pruned.
    m_T = 3, m_C = 5: stratum-0 controls weigh (5/3)(2/2) = 5/3, stratum-1 controls
    (5/3)(1/3) = 5/9.
    """
    r = cem(
        {"visits": [1, 2, 3, 4, 5, 6, 7, 8, 12, 13]},
        [1, 0, 1, 0, 0, 1, 0, 0, 0, 0],
        cuts={"visits": [4.5, 10]},
        l1_bins={"visits": [2.5, 4.5, 6.5, 10]},
    )
    assert_allclose(r.weights, [1, 5 / 3, 1, 5 / 3, 5 / 9, 1, 5 / 9, 5 / 9, 0, 0], rtol=1e-12)
    assert r.stratum.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert r.matched.tolist() == [True] * 8 + [False] * 2
    assert (r.n_treated, r.n_control, r.n_treated_matched, r.n_control_matched) == (3, 7, 3, 5)
    assert (r.n_strata, r.n_strata_matched) == (3, 2)
    # L1 cells 1-2, 3-4, 5-6, 7-8, 12-13: treated 1/3, 1/3, 1/3, 0, 0;
    # controls before 1/7, 1/7, 1/7, 2/7, 2/7 -> L1 = (3 * (1/3 - 1/7) + 4/7) / 2 = 4/7;
    # after (5/3)/5, (5/3)/5, (5/9)/5, (10/9)/5, 0 = 1/3, 1/3, 1/9, 2/9, 0 -> L1 = 2/9
    assert r.l1_before == pytest.approx(4 / 7, rel=1e-12)
    assert r.l1_after == pytest.approx(2 / 9, rel=1e-12)


def test_two_covariates_by_hand() -> None:
    """Strata are the cross of both coarsened covariates.

    (spend bin, active) of the units: T (0, 1), T (1, 1), C (0, 1), C (0, 1), C (1, 1),
    C (1, 0). Strata (0,1): 1 T, 2 C; (1,1): 1 T, 1 C; (1,0): 1 C, pruned. m_T = 2, m_C = 3:
    weights (3/2)(1/2) = 0.75 and (3/2)(1/1) = 1.5.
    """
    r = cem(
        {"spend": [10.0, 90.0, 20.0, 30.0, 80.0, 70.0], "active": [1, 1, 1, 1, 1, 0]},
        [1, 1, 0, 0, 0, 0],
        cuts={"spend": [50.0], "active": None},
    )
    assert_allclose(r.weights, [1, 1, 0.75, 0.75, 1.5, 0], rtol=1e-12)
    assert r.weights[2:].sum() == pytest.approx(3.0)


def test_coarsen_bins() -> None:
    # cut points: bin j holds c_j <= x < c_{j+1}
    assert coarsen([0.0, 1.0, 4.9, 5.0, 10.0], [1.0, 5.0]).tolist() == [0, 1, 1, 2, 2]
    # equal width over [0, 9] in 3 bins: edges 3 and 6
    assert coarsen([0, 2.9, 3, 6, 9], 3).tolist() == [0, 0, 1, 2, 2]
    assert coarsen([7, 7, 2]).tolist() == [1, 1, 0]
    assert coarsen([4.0, 4.0], 5).tolist() == [0, 0]


def test_default_coarsening_is_sturges() -> None:
    # n = 8 units: ceil(log2(8) + 1) = 4 equal-width bins over [0, 8]: edges 2, 4, 6
    r = cem({"x": [0, 1, 2, 3, 4, 5, 6, 8]}, [1, 0, 1, 0, 1, 0, 1, 0])
    assert_allclose(r.cuts["x"], [2.0, 4.0, 6.0])
    assert r.stratum.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_l1_extremes() -> None:
    assert l1_imbalance({"x": [0, 0, 1, 1]}, [1, 1, 0, 0]) == 1.0
    assert l1_imbalance({"x": [0, 1, 0, 1]}, [1, 1, 0, 0]) == 0.0
    # weights can restore balance: controls 0, 0, 1 reweighted to half at 0 and half at 1
    assert l1_imbalance({"x": [0, 1, 0, 0, 1]}, [1, 1, 0, 0, 0], [1, 1, 0.5, 0.5, 1]) == 0.0


# -- properties ---------------------------------------------------------------------------------


@st.composite
def designs(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(4, 40))
    x = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 5)))
    z = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2)))
    treated = draw(hnp.arrays(np.bool_, n))
    treated[0], treated[1] = True, False
    return x, z, treated


def strata_balanced(
    stratum: np.ndarray, treated: np.ndarray, weights: np.ndarray, n_control_matched: int
) -> bool:
    """The defining properties of ATT weights: the weighted controls have the treated units'
    distribution over the strata and sum to the matched controls; treated weigh 1 or 0."""
    n = int(stratum.max()) + 1
    t = np.bincount(stratum[treated], weights[treated], minlength=n)
    c = np.bincount(stratum[~treated], weights[~treated], minlength=n)
    if t.sum() == 0:
        return bool(c.sum() == 0)
    same_shape = np.allclose(t / t.sum(), c / c.sum(), atol=1e-12)
    return bool(
        same_shape
        and np.isclose(c.sum(), n_control_matched)
        and np.isin(weights[treated], (0.0, 1.0)).all()
    )


@FAST
@given(designs())
def test_weights_balance_the_strata(design: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, z, treated = design
    r = cem({"x": x, "z": z}, treated, cuts={"x": [2.5], "z": None})
    assert strata_balanced(r.stratum, treated, r.weights, r.n_control_matched)
    assert (r.weights >= 0).all()
    assert ((r.weights > 0) == r.matched).all()
    # on a histogram that is the strata themselves, the imbalance after matching is 0
    assert r.n_treated_matched == 0 or l1_imbalance(
        {"s": r.stratum}, treated, r.weights, bins={"s": None}
    ) == pytest.approx(0.0, abs=1e-12)


@FAST
@given(designs())
def test_broken_weights_fail_the_balance_check(
    design: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Negative control: without the m_C/m_T factor, or with the stratum ratio inverted, the
    balance check above fails whenever the strata differ in their treated/control ratio."""
    x, z, treated = design
    r = cem({"x": x, "z": z}, treated, cuts={"x": [2.5], "z": None})
    n = int(r.stratum.max()) + 1
    m_t = np.bincount(r.stratum[treated], minlength=n)
    m_c = np.bincount(r.stratum[~treated], minlength=n)
    both = (m_t > 0) & (m_c > 0)
    ratios = m_t[both] / m_c[both]
    if len(ratios) < 2 or np.allclose(ratios, ratios[0]):
        return  # every stratum has the same mix: the broken formulas coincide with CEM's
    control = ~treated & r.matched
    inverted = r.weights.copy()
    inverted[control] = (m_c[r.stratum[control]] / m_t[r.stratum[control]]).astype(float)
    assert not strata_balanced(r.stratum, treated, inverted, r.n_control_matched)


@FAST
@given(designs(), st.randoms(use_true_random=False))
def test_permutation_invariance(
    design: tuple[np.ndarray, np.ndarray, np.ndarray], rnd: Any
) -> None:
    x, z, treated = design
    order = np.array(rnd.sample(range(len(x)), len(x)))
    a = cem({"x": x, "z": z}, treated, cuts={"x": [2.5], "z": None})
    b = cem({"x": x[order], "z": z[order]}, treated[order], cuts={"x": [2.5], "z": None})
    assert_allclose(b.weights, a.weights[order], rtol=1e-12)
    assert (a.l1_before, a.l1_after) == pytest.approx((b.l1_before, b.l1_after), nan_ok=True)


@FAST
@given(designs())
def test_l1_bounds_and_symmetry(design: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, z, treated = design
    if treated.all():
        return
    value = l1_imbalance({"x": x, "z": z}, treated)
    assert 0.0 <= value <= 1.0 + 1e-12
    assert l1_imbalance({"x": x, "z": z}, ~treated) == pytest.approx(value)
    # a covariate identical for everyone adds no imbalance
    assert l1_imbalance({"x": x, "z": z, "c": np.ones(len(x))}, treated) == pytest.approx(value)


@FAST
@given(designs())
def test_l1_never_grows_by_coarsening(design: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Merging histogram cells can only shrink the sum of |f - g| (triangle inequality)."""
    x, _, treated = design
    if treated.all():
        return
    fine = l1_imbalance({"x": x}, treated, bins={"x": None})
    coarse = l1_imbalance({"x": x}, treated, bins={"x": [2.5]})
    assert coarse <= fine + 1e-12


def test_l1_bound_rejects_a_broken_measure() -> None:
    """Negative control for the [0, 1] bound: without the 1/2, disjoint groups score 2."""
    x, treated = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0], dtype=bool)
    f = np.bincount(x[treated], minlength=2) / treated.sum()
    g = np.bincount(x[~treated], minlength=2) / (~treated).sum()
    broken = float(np.abs(f - g).sum())
    assert not broken <= 1.0
    assert l1_imbalance({"x": x}, treated) <= 1.0


def test_balance_check_rejects_broken_weights_by_hand() -> None:
    """Negative control on the hand example: CEM's weights pass; dropping the global factor
    m_C/m_T (controls weigh m_T^s/m_C^s: 1 and 1/3, summing to 3, not 5) or inverting the
    stratum ratio fails."""
    treated = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
    r = cem({"visits": [1, 2, 3, 4, 5, 6, 7, 8, 12, 13]}, treated, cuts={"visits": [4.5, 10]})
    assert strata_balanced(r.stratum, treated, r.weights, r.n_control_matched)
    no_global = np.where(treated | ~r.matched, r.weights, r.weights * 3 / 5)
    assert not strata_balanced(r.stratum, treated, no_global, r.n_control_matched)
    inverted = r.weights.copy()
    inverted[[1, 3]], inverted[[4, 6, 7]] = 1.0, 3.0
    assert not strata_balanced(r.stratum, treated, inverted, r.n_control_matched)


# -- errors ---------------------------------------------------------------------------------------


def test_errors_name_row_and_value() -> None:
    with pytest.raises(ValidationError, match=r"covariates\['x'\] @ row 2: nan"):
        cem({"x": [1.0, 2.0, np.nan]}, [1, 0, 0])
    with pytest.raises(ValidationError, match=r"treated @ row 1: 2"):
        cem({"x": [1, 2, 3]}, [1, 2, 0])
    with pytest.raises(ValidationError, match="length 3"):
        cem({"x": [1, 2]}, [1, 0, 0])
    with pytest.raises(ValidationError, match="strictly increasing"):
        cem({"x": [1, 2, 3]}, [1, 0, 0], cuts={"x": [2, 1]})
    with pytest.raises(ValidationError, match="names of covariates"):
        cem({"x": [1, 2, 3]}, [1, 0, 0], cuts={"y": [2]})
    with pytest.raises(InsufficientDataError, match="0 control"):
        cem({"x": [1, 2]}, [1, 1])
    with pytest.raises(ValidationError, match=r"weights @ row 0: -1.0"):
        l1_imbalance({"x": [1, 2]}, [1, 0], [-1.0, 1.0])


def test_no_common_support_prunes_everyone() -> None:
    r = cem({"x": [0, 0, 5, 5]}, [1, 1, 0, 0], cuts={"x": [2.5]})
    assert r.n_treated_matched == 0 and r.weights.sum() == 0.0
    assert np.isnan(r.l1_after)
    assert "0 of 2 treated" in str(r)
