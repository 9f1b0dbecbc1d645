"""AUC with DeLong's variance, the paired comparison, lift and top-decile lift.

Reference values: hand-computed small cases (fractions in the docstrings), Hanley & McNeil
(1982) Table 1, a brute-force pairwise oracle, and scikit-learn when installed. Each property
is a ``check_*`` function taking an estimator; it runs on the real one (must pass) and on a
deliberately broken one (must fail).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import rankdata

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.stats.classification import (
    auc,
    compare_auc,
    lift_curve,
    top_decile_lift,
)

Scores = NDArray[np.float64]
Labels = NDArray[np.bool_]
AucFn = Callable[[Scores, Labels], float]
LiftFn = Callable[[Scores, Labels, float], float]


def real_auc(s: Scores, y: Labels) -> float:
    return auc(s, y).value


def real_lift(s: Scores, y: Labels, q: float) -> float:
    return float(lift_curve(s, y, [q]).lift[0])


# -- oracle: the pairwise definition ----------------------------------------------------------


def pairwise(s: Scores, y: Labels) -> tuple[float, float, NDArray, NDArray]:
    """AUC and DeLong variance straight from the n1 x n0 kernel matrix psi (DeLong 1988)."""
    x, z = s[y], s[~y]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    value = float(psi.mean())
    if min(len(x), len(z)) < 2:
        return value, math.nan, v10, v01
    variance = float(v10.var(ddof=1) / len(x) + v01.var(ddof=1) / len(z))
    return value, variance, v10, v01


# -- deliberately broken estimators (negative controls) ---------------------------------------


def broken_bounds(s: Scores, y: Labels) -> float:
    """Midrank formula with n1(n1-1)/2 subtracted instead of n1(n1+1)/2 (exceeds 1)."""
    r = rankdata(s)
    n1 = int(y.sum())
    return float((r[y].sum() - n1 * (n1 - 1) / 2) / (n1 * (len(y) - n1)))


def broken_row_order(s: Scores, y: Labels) -> float:
    """Ordinal ranks (ties broken by position) instead of midranks."""
    r = rankdata(s, method="ordinal")
    n1 = int(y.sum())
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def broken_ties_zero(s: Scores, y: Labels) -> float:
    """P(s1 > s0) only: ties count 0 instead of 1/2."""
    x, z = s[y], s[~y]
    return float((x[:, None] > z[None, :]).mean())


def broken_binormal(s: Scores, y: Labels) -> float:
    """Binormal AUC from means and variances: not invariant to monotone transforms."""
    x, z = s[y], s[~y]
    spread = math.sqrt(x.var() + z.var()) or 1.0
    return NormalDist().cdf((x.mean() - z.mean()) / spread)


def broken_lift_smoothed(s: Scores, y: Labels, q: float) -> float:
    """Lift against a Laplace-smoothed base rate (n1 + 1)/(n + 2)."""
    c = lift_curve(s, y, [q])
    return float(c.rate[0] / ((c.n1 + 1) / (c.n + 2)))


def broken_lift_sorted(s: Scores, y: Labels, q: float) -> float:
    """Top ceil(q n) rows after a stable sort: ties at the cut are broken by row order."""
    k = math.ceil(q * len(s))
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean() / y.mean())


# -- property checks --------------------------------------------------------------------------


def check_bounds(fn: AucFn, s: Scores, y: Labels) -> bool:
    return 0.0 <= fn(s, y) <= 1.0


def check_permutation(fn: AucFn, s: Scores, y: Labels, perm: NDArray[np.intp]) -> bool:
    return math.isclose(fn(s, y), fn(s[perm], y[perm]), rel_tol=1e-12, abs_tol=1e-12)


def check_negation(fn: AucFn, s: Scores, y: Labels) -> bool:
    return math.isclose(fn(-s, y), 1.0 - fn(s, y), rel_tol=1e-12, abs_tol=1e-12)


def check_monotone(fn: AucFn, s: Scores, y: Labels) -> bool:
    transformed = np.exp(s / 4.0) + s**3
    return math.isclose(fn(s, y), fn(transformed, y), rel_tol=1e-12, abs_tol=1e-12)


def check_whole_population(fn: LiftFn, s: Scores, y: Labels) -> bool:
    return math.isclose(fn(s, y, 1.0), 1.0, rel_tol=1e-12)


def check_lift_permutation(fn: LiftFn, s: Scores, y: Labels, perm: NDArray[np.intp]) -> bool:
    return all(
        math.isclose(fn(s, y, q), fn(s[perm], y[perm], q), rel_tol=1e-12, abs_tol=1e-12)
        for q in (0.1, 0.25, 0.5, 0.8)
    )


# -- data with ties ---------------------------------------------------------------------------


@st.composite
def scored(draw: st.DrawFn, min_size: int = 2) -> tuple[Scores, Labels, NDArray[np.intp]]:
    """Scores on a coarse grid (many ties), labels with both classes, and a permutation."""
    n = draw(st.integers(min_size, 40))
    s = np.array(draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n)), dtype=float)
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    i, j = draw(st.permutations(range(n)))[:2]
    y[i], y[j] = True, False
    perm = np.array(draw(st.permutations(range(n))), dtype=np.intp)
    return s, y, perm


# fixed examples for the negative controls
TIED_S = np.array([1.0, 1.0, 0.0, 2.0, 1.0, 0.0])
TIED_Y = np.array([True, False, False, True, False, False])
REVERSED = np.arange(len(TIED_S))[::-1].copy()


# -- hand-computed and published values -------------------------------------------------------


def test_hand_example_without_ties():
    """Positives 0.8, 0.6, 0.4; negatives 0.5, 0.3.

    psi rows: (1, 1), (1, 1), (0, 1), so V10 = (1, 1, 1/2), V01 = (2/3, 1), AUC = 5/6,
    S10 = 1/12, S01 = 1/18, Var = (1/12)/3 + (1/18)/2 = 1/18.
    """
    r = auc([0.8, 0.6, 0.4, 0.5, 0.3], [1, 1, 1, 0, 0])
    assert r.value == pytest.approx(5 / 6, rel=1e-15)
    assert r.se**2 == pytest.approx(1 / 18, rel=1e-12)
    assert (r.n, r.n1, r.n0) == (5, 3, 2)
    z = NormalDist().inv_cdf(0.975)
    assert r.ci_low == pytest.approx(5 / 6 - z * math.sqrt(1 / 18), rel=1e-12)
    assert r.ci_high == 1.0  # clipped
    assert "DeLong" in r.method and "clipped" in r.method


def test_hand_example_with_ties():
    """Positives 2, 1, 1; negatives 1, 0: V10 = (1, 3/4, 3/4), V01 = (2/3, 1).

    AUC = 5/6, S10 = 1/48, S01 = 1/18, Var = 1/144 + 1/36 = 5/144.
    """
    r = auc([2, 1, 1, 1, 0], [True, True, True, False, False])
    assert r.value == pytest.approx(5 / 6, rel=1e-15)
    assert r.se**2 == pytest.approx(5 / 144, rel=1e-12)
    assert r.gini == pytest.approx(2 / 3, rel=1e-12)


def test_hanley_mcneil_1982_table_1():
    """Hanley & McNeil (1982), Radiology 143(1), 29-36, Table 1: 109 CT images rated 1-5.

    Normal 33, 6, 6, 11, 2; abnormal 3, 2, 2, 11, 33. Published area 0.893 and, by their
    exponential approximation, SE 0.032; DeLong's nonparametric SE is a different estimator
    and must land near it (within 0.003).
    """
    ratings = np.arange(1, 6)
    s = np.concatenate(
        [np.repeat(ratings, [3, 2, 2, 11, 33]), np.repeat(ratings, [33, 6, 6, 11, 2])]
    )
    y = np.arange(len(s)) < 51
    r = auc(s, y)
    assert round(r.value, 3) == 0.893
    assert (r.n1, r.n0) == (51, 58)
    assert abs(r.se - 0.032) < 0.003
    value, variance, _, _ = pairwise(s.astype(float), y)
    assert r.value == pytest.approx(value, rel=1e-13)
    assert r.se**2 == pytest.approx(variance, rel=1e-12)


def test_compare_auc_hand_example():
    """Scores a = (4, 3, 2, 1), b = (1, 3, 2, 4); positives the first two.

    a: V10 = (1, 1), V01 = (1, 1), AUC 1; b: V10 = (0, 1/2), V01 = (1/2, 0), AUC 1/4.
    Differences: V10 (1, 1/2) -> S = 1/8; V01 (1/2, 1) -> S = 1/8; Var = 1/16 + 1/16 = 1/8.
    """
    c = compare_auc([4, 3, 2, 1], [1, 3, 2, 4], [1, 1, 0, 0])
    assert (c.auc_a, c.auc_b, c.difference) == (1.0, 0.25, 0.75)
    assert c.se**2 == pytest.approx(1 / 8, rel=1e-12)
    assert c.z == pytest.approx(0.75 / math.sqrt(1 / 8), rel=1e-12)
    assert c.p_value == pytest.approx(math.erfc(c.z / math.sqrt(2)), rel=1e-12)
    assert c.ci_high == pytest.approx(min(1.0, 0.75 + 1.959963984540054 * math.sqrt(1 / 8)))


def test_compare_auc_same_score_and_degenerate():
    s = np.array([3.0, 1.0, 2.0, 0.0, 2.0])
    y = np.array([1, 1, 0, 0, 1])
    same = compare_auc(s, s, y)
    assert (same.difference, same.se, same.z, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    # constant components with different areas: zero variance, non-zero difference
    perfect = compare_auc([3, 3, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0])
    assert perfect.difference == 0.5 and perfect.se == 0.0
    assert perfect.z == math.inf and perfect.p_value == 0.0


@given(scored(min_size=4))
def test_compare_auc_matches_pairwise_covariance(data):
    s, y, perm = data
    if min(y.sum(), (~y).sum()) < 2:
        return
    other = s[perm] + 0.5 * (np.arange(len(s)) % 3)
    c = compare_auc(s, other, y)
    _, _, a10, a01 = pairwise(s, y)
    _, _, b10, b01 = pairwise(other, y)
    variance = np.var(a10 - b10, ddof=1) / y.sum() + np.var(a01 - b01, ddof=1) / (~y).sum()
    assert c.se**2 == pytest.approx(variance, rel=1e-9, abs=1e-15)
    assert c.difference == pytest.approx(auc(s, y).value - auc(other, y).value, abs=1e-15)


@given(scored())
def test_auc_matches_pairwise_oracle(data):
    s, y, _ = data
    r = auc(s, y)
    value, variance, _, _ = pairwise(s, y)
    assert r.value == pytest.approx(value, rel=1e-12, abs=1e-15)
    if min(r.n1, r.n0) >= 2:
        assert r.se**2 == pytest.approx(variance, rel=1e-9, abs=1e-15)
    else:
        assert math.isnan(r.se) and math.isnan(r.ci_low) and "at least 2" in r.method


def test_auc_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    s = np.round(rng.normal(size=300), 1)  # ties
    y = rng.random(300) < 0.3 + 0.2 * (s > 0)
    assert auc(s, y).value == pytest.approx(sklearn_metrics.roc_auc_score(y, s), rel=1e-12)


def test_perfect_separation_has_zero_se():
    r = auc([5, 4, 3, 2, 1], [1, 1, 1, 0, 0])
    assert (r.value, r.se, r.ci_low, r.ci_high) == (1.0, 0.0, 1.0, 1.0)


# -- properties with negative controls --------------------------------------------------------


@given(scored())
def test_auc_bounded(data):
    s, y, _ = data
    assert check_bounds(real_auc, s, y)


def test_auc_bounded_negative_control():
    assert not check_bounds(broken_bounds, np.array([3.0, 2.0, 1.0]), np.array([1, 1, 0], bool))


@given(scored())
def test_auc_permutation_invariant(data):
    s, y, perm = data
    assert check_permutation(real_auc, s, y, perm)


def test_auc_permutation_negative_control():
    assert not check_permutation(broken_row_order, TIED_S, TIED_Y, REVERSED)


@given(scored())
def test_auc_of_negated_scores(data):
    s, y, _ = data
    assert check_negation(real_auc, s, y)


def test_auc_negation_negative_control():
    assert not check_negation(broken_ties_zero, TIED_S, TIED_Y)


@given(scored())
def test_auc_invariant_to_increasing_transforms(data):
    s, y, _ = data
    assert check_monotone(real_auc, s, y)


def test_auc_monotone_negative_control():
    assert not check_monotone(broken_binormal, TIED_S, TIED_Y)


@given(scored())
def test_lift_of_whole_population_is_one(data):
    s, y, _ = data
    assert check_whole_population(real_lift, s, y)
    assert top_decile_lift(s, y, fraction=1.0).value == 1.0


def test_lift_whole_population_negative_control():
    assert not check_whole_population(broken_lift_smoothed, TIED_S, TIED_Y)


@given(scored())
def test_lift_permutation_invariant(data):
    s, y, perm = data
    assert check_lift_permutation(real_lift, s, y, perm)


def test_lift_permutation_negative_control():
    s = np.array([1.0] * 10 + [0.0] * 10)
    y = np.arange(20) < 3  # the tied top block holds 3 positives in its first rows
    assert not check_lift_permutation(broken_lift_sorted, s, y, np.arange(20)[::-1].copy())


@given(scored())
def test_gains_rise_and_lift_is_gains_over_fraction(data):
    s, y, _ = data
    q = np.linspace(0.05, 1.0, 20)
    c = lift_curve(s, y, q)
    assert np.all(np.diff(c.gains) >= -1e-12)
    assert np.all((c.gains >= 0) & (c.gains <= 1 + 1e-12))
    np.testing.assert_allclose(c.lift, c.gains / q, rtol=1e-12)
    np.testing.assert_allclose(c.rate, c.lift * c.base_rate, rtol=1e-12)


# -- lift values ------------------------------------------------------------------------------


def test_lift_splits_a_tied_block_at_the_cut():
    """Ten units, scores 9, 8, then eight tied at 0 holding two positives, and one on top.

    Top 30% = 3 units: both untied units (one positive) and 1 of the 8 tied (2/8 positive),
    so 1.25 expected positives; base rate 3/10; lift = (1.25/3)/(3/10) = 25/18.
    """
    s = np.array([9.0, 8.0] + [0.0] * 8)
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0, 0, 0])
    c = lift_curve(s, y, [0.3])
    assert c.captured[0] == pytest.approx(1.25)
    assert c.lift[0] == pytest.approx(25 / 18)
    shuffled = lift_curve(s[::-1], y[::-1], [0.3])
    assert shuffled.lift[0] == c.lift[0]


def test_top_decile_lift_fractional_cut():
    """25 units, top decile = 2.5 units: two untied positives and half of a tied pair (one
    positive of two), so 2 + 0.5 * 1/2 = 2.25 expected positives of 5 in all:
    lift (2.25/2.5)/(5/25) = 4.5.
    """
    s = np.array([10.0, 9.0, 8.0, 8.0] + [0.0] * 21)
    y = np.array([1, 1, 1, 0, 1] + [0] * 19 + [1])
    r = top_decile_lift(s, y)
    assert (r.fraction, r.captured, r.value, r.n, r.n1) == (0.1, 2.25, 4.5, 25, 5)
    assert r.base_rate == 0.2
    assert "Neslin" in r.reference and "proportion" in r.method


def test_lift_curve_defaults_to_deciles():
    c = lift_curve(np.arange(10.0), np.arange(10) >= 5)
    np.testing.assert_allclose(c.fractions, np.arange(1, 11) / 10)
    np.testing.assert_allclose(c.lift[:5], 2.0)
    assert c.lift[-1] == 1.0


# -- refusals ---------------------------------------------------------------------------------


def test_one_class_is_refused():
    with pytest.raises(InsufficientDataError, match=r"both classes.*0 negative"):
        auc([1, 2, 3], [1, 1, 1])
    with pytest.raises(InsufficientDataError, match=r"both classes.*0 positive"):
        auc([1, 2, 3], [False, False, False])
    with pytest.raises(InsufficientDataError, match="at least one positive"):
        lift_curve([1, 2, 3], [0, 0, 0])
    with pytest.raises(InsufficientDataError, match="at least 2 units"):
        compare_auc([1, 2, 3], [3, 2, 1], [1, 0, 0])


def test_single_unit_class_has_no_interval():
    r = auc([1.0, 2.0, 3.0], [0, 0, 1])
    assert r.value == 1.0 and math.isnan(r.se) and "no DeLong interval" in r.method


def test_invalid_input_is_refused():
    with pytest.raises(ValidationError, match=r"scores @ row 1: nan"):
        auc([1.0, float("nan")], [1, 0])
    with pytest.raises(ValidationError, match="labels @ row 0: 2"):
        auc([1.0, 2.0], [2, 0])
    with pytest.raises(ValidationError, match="one per label"):
        auc([1.0, 2.0, 3.0], [1, 0])
    with pytest.raises(ValidationError, match="1-D"):
        auc([[1.0, 2.0]], [1, 0])
    with pytest.raises(ValidationError, match="numbers"):
        auc(["a", "b"], [1, 0])
    with pytest.raises(ValidationError, match=r"fractions @ row 0: 0.0"):
        lift_curve([1.0, 2.0], [1, 0], [0.0, 0.5])
    with pytest.raises(ValueError, match="alpha"):
        auc([1.0, 2.0], [1, 0], alpha=1.5)


def test_alpha_sets_the_level():
    s, y = np.arange(12.0), np.arange(12) % 3 == 0
    narrow, wide = auc(s, y, alpha=0.2), auc(s, y, alpha=0.01)
    assert narrow.level == pytest.approx(0.8)
    assert wide.ci_low < narrow.ci_low < narrow.value < narrow.ci_high < wide.ci_high
