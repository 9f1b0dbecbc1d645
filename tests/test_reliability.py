"""Cronbach's alpha: hand-computed values, independent oracles, properties and their controls.

Each property is a ``check_*`` function taking an implementation; it runs on the real metric
(must pass) and on a deliberately broken variant (must raise AssertionError), so no property
here is a test that cannot fail.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

import stickykit
from stickykit.errors import (
    InsufficientDataError,
    StateMismatchError,
    UnknownInstrumentError,
    ValidationError,
)
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument, Item
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.reliability import (
    AlphaState,
    CronbachAlpha,
    alpha_from_covariance,
    alpha_if_deleted,
    difference_score_reliability,
    feldt_interval,
    item_rest_correlations,
    standardized_alpha,
)
from stickykit.stats.moments import covariance, merge_comoments, pairwise_comoments
from stickykit.testing import check_laws, check_metric

Matrix = NDArray[np.int64]
Alpha = Callable[[Matrix], MetricResult]

HAND = np.array([[1, 2, 1], [2, 2, 3], [3, 3, 3], [4, 5, 4]])


def frame_of(x: Matrix, missing: NDArray[np.bool_] | None = None) -> SurveyFrame:
    answers = {f"q{j + 1}": x[:, j].astype(np.int8) for j in range(x.shape[1])}
    masks = {} if missing is None else {f"q{j + 1}": missing[:, j] for j in range(x.shape[1])}
    return SurveyFrame(answers=answers, answer_missing=masks)


def metric_for(k: int, **params: Any) -> CronbachAlpha:
    params.setdefault("scale", (-128, 127))
    return CronbachAlpha(items=tuple(f"q{j + 1}" for j in range(k)), **params)


def real(x: Matrix) -> MetricResult:
    """The metric, through two chunks and a merge."""
    m = metric_for(x.shape[1])
    f = frame_of(x)
    half = len(f) // 2
    state = m.merge(m.update(m.init(), f.slice(0, half)), m.update(m.init(), f.slice(half, len(f))))
    return m.finalize(state)


def np_alpha(x: NDArray[Any]) -> float:
    """Independent of the mergeable path: numpy's covariance of the raw matrix."""
    c = np.cov(np.asarray(x, dtype=float).T)
    k = c.shape[0]
    return float(k / (k - 1) * (1 - np.trace(c) / c.sum()))


# -- deliberately broken variants (negative controls) -------------------------------------


def broken_no_correction(x: Matrix) -> MetricResult:
    """Forgets the k/(k - 1) factor."""
    r = real(x)
    k = x.shape[1]
    return attrs.evolve(r, value=r.value * (k - 1) / k)


def broken_order_dependent(x: Matrix) -> MetricResult:
    """Leaves the last item's variance out of the sum of item variances."""
    c = np.cov(x.T.astype(float))
    k = c.shape[0]
    value = k / (k - 1) * (1 - np.trace(c[:-1, :-1]) / c.sum())
    return attrs.evolve(real(x), value=float(value))


def broken_uncentred(x: Matrix) -> MetricResult:
    """Uses raw second moments instead of covariances: not invariant to a shift."""
    xf = x.astype(float)
    m = xf.T @ xf / len(xf)
    k = m.shape[0]
    value = k / (k - 1) * (1 - np.trace(m) / m.sum())
    return attrs.evolve(real(x), value=float(value))


def broken_deleted_neighbour(x: Matrix) -> MetricResult:
    """Alpha-if-deleted of item i computed by deleting item i + 1."""
    r = real(x)
    k = x.shape[1]
    details = dict(r.details)
    for i in range(k):
        details[f"alpha_if_deleted:q{i + 1}"] = r.details[f"alpha_if_deleted:q{(i + 1) % k + 1}"]
    return attrs.evolve(r, details=details)


def broken_standardized(x: Matrix) -> MetricResult:
    """'Standardised' alpha from the mean covariance instead of the mean correlation."""
    r = real(x)
    c = np.cov(x.T.astype(float))
    k = c.shape[0]
    c_bar = (c.sum() - np.trace(c)) / (k * (k - 1))
    return attrs.evolve(
        r, details={**r.details, "standardized_alpha": k * c_bar / (1 + (k - 1) * c_bar)}
    )


def quick_or_full(quick: bool, **kwargs: Any) -> settings:
    """Settings of a property run; a negative control skips shrinking (it only must fail)."""
    if quick:
        kwargs.update(phases=[Phase.explicit, Phase.generate], database=None)
    return settings(**kwargs)


def must_fail(check: Callable[..., None], implementation: Any) -> None:
    with pytest.raises(AssertionError):
        check(implementation, quick=True)


# -- strategies ---------------------------------------------------------------------------


@st.composite
def answer_matrices(draw: Any, min_items: int = 2, max_items: int = 6) -> Matrix:
    """Answers 1-7 from one common factor plus noise, so alpha is mostly well defined."""
    n = draw(st.integers(4, 40))
    k = draw(st.integers(min_items, max_items))
    base = draw(hnp.arrays(np.int64, (n, 1), elements=st.integers(1, 7)))
    noise = draw(hnp.arrays(np.int64, (n, k), elements=st.integers(-2, 2)))
    x = np.clip(base + noise, 1, 7)
    variances = x.var(axis=0)
    if np.any(variances == 0) or x.sum(axis=1).var() == 0:
        x[0] = 1
        x[1] = 7
    return x


# -- properties ----------------------------------------------------------------------------


def check_total_variance_identity(alpha: Alpha, *, quick: bool = False) -> None:
    """alpha = k/(k-1) (1 - sum of item variances / variance of the total), from raw data."""

    @quick_or_full(quick)
    @given(answer_matrices())
    def prop(x: Matrix) -> None:
        k = x.shape[1]
        item_vars = x.var(axis=0, ddof=1).sum()
        total_var = x.sum(axis=1).var(ddof=1)
        expected = k / (k - 1) * (1 - item_vars / total_var)
        assert math.isclose(alpha(x).value, expected, rel_tol=1e-9, abs_tol=1e-9)

    prop()


def check_mean_covariance_identity(alpha: Alpha, *, quick: bool = False) -> None:
    """alpha = k c / (v + (k - 1) c): mean covariance c, mean variance v."""

    @quick_or_full(quick)
    @given(answer_matrices())
    def prop(x: Matrix) -> None:
        c = np.cov(x.T.astype(float))
        k = c.shape[0]
        v_bar = np.trace(c) / k
        c_bar = (c.sum() - np.trace(c)) / (k * (k - 1))
        expected = k * c_bar / (v_bar + (k - 1) * c_bar)
        assert math.isclose(alpha(x).value, expected, rel_tol=1e-9, abs_tol=1e-9)

    prop()


def check_item_order_invariance(alpha: Alpha, *, quick: bool = False) -> None:
    @quick_or_full(quick)
    @given(answer_matrices(min_items=3), st.data())
    def prop(x: Matrix, data: st.DataObject) -> None:
        order = data.draw(st.permutations(range(x.shape[1])))
        assert math.isclose(alpha(x).value, alpha(x[:, order]).value, rel_tol=1e-9, abs_tol=1e-9)

    prop()


def check_affine_invariance(alpha: Alpha, *, quick: bool = False) -> None:
    """alpha of a*x + b (a > 0, same a and b for every item) equals alpha of x."""

    @quick_or_full(quick)
    @given(answer_matrices(), st.integers(1, 8), st.integers(-60, 60))
    def prop(x: Matrix, a: int, b: int) -> None:
        assert math.isclose(alpha(x).value, alpha(a * x + b).value, rel_tol=1e-9, abs_tol=1e-9)

    prop()


def check_standardized_is_alpha_of_z_scores(alpha: Alpha, *, quick: bool = False) -> None:
    @quick_or_full(quick)
    @given(answer_matrices())
    def prop(x: Matrix) -> None:
        z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
        expected = np_alpha(z)
        got = alpha(x).details["standardized_alpha"]
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)

    prop()


def check_noise_item_raises_alpha_when_deleted(alpha: Alpha, *, quick: bool = False) -> None:
    """Deleting an item of pure noise from a scale of good items raises alpha."""

    @quick_or_full(quick, max_examples=15)
    @given(st.integers(0, 2**32 - 1))
    def prop(seed: int) -> None:
        rng = np.random.default_rng(seed)
        n, k = 300, 4
        factor = rng.standard_normal((n, 1))
        good = np.clip(np.rint(4 + 1.2 * factor + 0.6 * rng.standard_normal((n, k))), 1, 7)
        noise = rng.integers(1, 8, size=(n, 1))
        x = np.hstack([good, noise]).astype(np.int64)
        r = alpha(x)
        assert r.details[f"alpha_if_deleted:q{k + 1}"] > r.value

    prop()


Feldt = Callable[[float, float, int, float], tuple[float, float]]


def broken_feldt_fixed_df(alpha_hat: float, n: float, k: int, level: float) -> tuple[float, float]:
    """Degrees of freedom that ignore n."""
    from scipy.stats import f

    df1, df2 = k, k * (k - 1)
    return (
        1 - (1 - alpha_hat) * float(f.ppf(1 - level / 2, df1, df2)),
        1 - (1 - alpha_hat) * float(f.ppf(level / 2, df1, df2)),
    )


def broken_feldt_swapped(alpha_hat: float, n: float, k: int, level: float) -> tuple[float, float]:
    """Quantiles swapped: the 'interval' runs from high to low."""
    low, high = feldt_interval(alpha_hat, n, k, level)
    return high, low


def check_feldt_contains_and_narrows(feldt: Feldt, *, quick: bool = False) -> None:
    @quick_or_full(quick)
    @given(
        st.floats(-2.0, 0.99),
        st.integers(3, 2000),
        st.integers(2, 30),
        st.sampled_from([0.01, 0.05, 0.1, 0.2, 0.5]),
    )
    def prop(alpha_hat: float, n: int, k: int, level: float) -> None:
        low, high = feldt(alpha_hat, n, k, level)
        assert low <= alpha_hat <= high
        low2, high2 = feldt(alpha_hat, 2 * n, k, level)
        assert high2 - low2 < high - low

    prop()


def test_total_variance_identity() -> None:
    check_total_variance_identity(real)


def test_total_variance_identity_negative_control() -> None:
    must_fail(check_total_variance_identity, broken_no_correction)


def test_mean_covariance_identity() -> None:
    check_mean_covariance_identity(real)


def test_mean_covariance_identity_negative_control() -> None:
    must_fail(check_mean_covariance_identity, broken_no_correction)


def test_item_order_invariance() -> None:
    check_item_order_invariance(real)


def test_item_order_invariance_negative_control() -> None:
    must_fail(check_item_order_invariance, broken_order_dependent)


def test_affine_invariance() -> None:
    check_affine_invariance(real)


def test_affine_invariance_negative_control() -> None:
    must_fail(check_affine_invariance, broken_uncentred)


def test_standardized_alpha_is_alpha_of_z_scores() -> None:
    check_standardized_is_alpha_of_z_scores(real)


def test_standardized_alpha_negative_control() -> None:
    must_fail(check_standardized_is_alpha_of_z_scores, broken_standardized)


def test_noise_item_alpha_if_deleted() -> None:
    check_noise_item_raises_alpha_when_deleted(real)


def test_noise_item_negative_control() -> None:
    must_fail(check_noise_item_raises_alpha_when_deleted, broken_deleted_neighbour)


def test_feldt_contains_and_narrows() -> None:
    check_feldt_contains_and_narrows(feldt_interval)


def test_feldt_negative_controls() -> None:
    must_fail(check_feldt_contains_and_narrows, broken_feldt_fixed_df)
    must_fail(check_feldt_contains_and_narrows, broken_feldt_swapped)


def broken_drops_last_row(x: Matrix) -> MetricResult:
    """Loses the last row: the result depends on the row order."""
    return real(x[:-1]) if len(x) > 3 else real(x)


def check_row_permutation_invariance(alpha: Alpha, *, quick: bool = False) -> None:
    @quick_or_full(quick)
    @given(answer_matrices(), st.integers(0, 2**32 - 1))
    def prop(x: Matrix, seed: int) -> None:
        shuffled = np.random.default_rng(seed).permutation(x)
        assert math.isclose(alpha(x).value, alpha(shuffled).value, rel_tol=1e-9, abs_tol=1e-9)

    prop()


def test_row_permutation_invariance() -> None:
    check_row_permutation_invariance(real)


def test_row_permutation_negative_control() -> None:
    must_fail(check_row_permutation_invariance, broken_drops_last_row)


# -- hand-computed values ---------------------------------------------------------------------


def test_hand_computed_alpha() -> None:
    """Four respondents, three items (rows of HAND).

    Item means 2.5, 3, 2.75; centred sums of squares 5, 6, 4.75, so variances 5/3, 2, 4.75/3
    with sum 15.75/3 = 5.25. Totals 4, 7, 9, 13 (mean 8.25): squares of deviations
    18.0625 + 1.5625 + 0.5625 + 22.5625 = 42.75, variance 14.25.
    alpha = 3/2 * (1 - 5.25/14.25) = 3/2 * 12/19 = 18/19 = 0.947368.

    Feldt (n = 4, k = 3): F(3, 6) quantiles 6.5988 (0.975) and 0.067867 (0.025, = 1/F_0.975(6,
    3) = 1/14.735), so [1 - 6.5988/19, 1 - 0.067867/19] = [0.6527, 0.9964].

    Covariances: (q1, q2) 5/3, (q1, q3) 4.5/3 = 1.5, (q2, q3) 4/3; correlations 0.912871,
    0.923381, 0.749269, mean 0.861840; standardised alpha 3 * 0.861840 / (1 + 2 * 0.861840)
    = 0.949275.

    Without q3: variances 5/3 and 2, covariance 5/3, total variance 5/3 + 2 + 10/3 = 7, alpha
    2 * (1 - (11/3)/7) = 20/21. Item-rest r of q3: cov(q3, q1 + q2) = 1.5 + 4/3 = 17/6,
    17/6 / sqrt(4.75/3 * 7) = 2.833333 / 3.329164 = 0.851064.
    """
    r = real(HAND)
    assert r.value == pytest.approx(18 / 19, rel=1e-12)
    assert (r.n, r.n_missing) == (4, 0)
    assert r.ci_low == pytest.approx(1 - 6.5988 / 19, abs=1e-4)
    assert r.ci_high == pytest.approx(1 - 0.067867 / 19, abs=1e-5)
    assert r.details["standardized_alpha"] == pytest.approx(0.949275, abs=1e-6)
    assert r.details["mean_inter_item_r"] == pytest.approx(0.861840, abs=1e-6)
    assert r.details["alpha_if_deleted:q3"] == pytest.approx(20 / 21, rel=1e-12)
    assert r.details["item_rest_r:q3"] == pytest.approx(0.851064, abs=1e-6)
    assert r.se is None and "no standard error" in r.method and "listwise" in r.method
    assert r.flags == ("small sample: n = 4 < 30",)


def test_pingouin_value_recorded() -> None:
    """pingouin 0.7.0 gives (0.9473684, [0.653, 0.996]) on the same data (run once, recorded)."""
    r = real(HAND)
    assert round(r.value, 7) == 0.9473684
    assert (round(r.ci_low, 3), round(r.ci_high, 3)) == (0.653, 0.996)


def test_two_items_identity() -> None:
    """k = 2: alpha = 4 cov / var(X) (hand: 4 * 5/3 / 7 = 20/21 for q1, q2 of HAND)."""
    assert real(HAND[:, :2]).value == pytest.approx(20 / 21, rel=1e-12)


def test_kernels_by_hand() -> None:
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    # sum 4, trace 3: 3/2 * (1 - 3/4) = 0.375
    assert alpha_from_covariance(cov) == pytest.approx(0.375)
    # mean correlation (0.5 + 0 + 0)/3 = 1/6: 3 * (1/6) / (1 + 2/6) = 0.375
    assert standardized_alpha(cov) == pytest.approx(0.375)
    assert alpha_if_deleted(cov)[2] == pytest.approx(2 * (1 - 2 / 3))
    # item 3 with rest (items 1 + 2): covariance 0
    assert item_rest_correlations(cov)[2] == 0.0
    assert math.isnan(alpha_from_covariance(np.zeros((2, 2))))
    assert math.isnan(alpha_if_deleted(cov[:2, :2])[0])


def test_difference_score_reliability_by_hand() -> None:
    """Lord's formula: sd_p 1.2, sd_e 0.9, r_PP 0.85, r_EE 0.75, r_PE 0.4.

    numerator 1.44 * 0.85 + 0.81 * 0.75 - 2 * 0.4 * 1.2 * 0.9 = 1.224 + 0.6075 - 0.864
    = 0.9675; denominator 1.44 + 0.81 - 0.864 = 1.386; r_D = 0.698052.
    """
    r = difference_score_reliability(
        sd_p=1.2, sd_e=0.9, reliability_p=0.85, reliability_e=0.75, correlation=0.4
    )
    assert r == pytest.approx(0.9675 / 1.386)
    # uncorrelated components of equal variance: the mean of the two reliabilities
    assert difference_score_reliability(
        sd_p=2.0, sd_e=2.0, reliability_p=0.9, reliability_e=0.7, correlation=0.0
    ) == pytest.approx(0.8)
    # components correlating as much as they are reliable leave a gap of reliability 0
    assert difference_score_reliability(
        sd_p=1.0, sd_e=1.0, reliability_p=0.7, reliability_e=0.7, correlation=0.7
    ) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(
        difference_score_reliability(
            sd_p=1.0, sd_e=1.0, reliability_p=0.7, reliability_e=0.7, correlation=1.0
        )
    )


# -- independent oracles ----------------------------------------------------------------------


def check_matches_numpy_cov(factory: type[CronbachAlpha], *, quick: bool = False) -> None:
    """The mergeable path, in any chunks, agrees with numpy's covariance of the whole matrix."""

    @quick_or_full(quick, max_examples=30)
    @given(answer_matrices(max_items=8), st.lists(st.integers(0, 40), max_size=4))
    def prop(x: Matrix, cuts: list[int]) -> None:
        m = factory(items=tuple(f"q{j + 1}" for j in range(x.shape[1])), scale=(-128, 127))
        f = frame_of(x)
        edges = [0, *sorted(min(c, len(f)) for c in cuts), len(f)]
        state = m.init()
        for a, b in itertools.pairwise(edges):
            state = m.merge(state, m.update(m.init(), f.slice(a, b)))
        assert m.finalize(state).value == pytest.approx(np_alpha(x), rel=1e-9, abs=1e-9)

    prop()


def test_matches_numpy_cov() -> None:
    check_matches_numpy_cov(CronbachAlpha)


def test_matches_numpy_cov_negative_control() -> None:
    must_fail(check_matches_numpy_cov, NaiveMerge)


def stdlib_alpha(x: Matrix) -> float:
    """A second oracle sharing no code with numpy or stickykit: Cronbach's (1951) definition
    alpha = k/(k - 1) * (1 - sum of item variances / variance of the total score), with
    the standard library's ``statistics.variance`` (exact rational arithmetic on integers)."""
    rows = [[int(v) for v in row] for row in x.tolist()]
    k = len(rows[0])
    items = sum(statistics.variance([row[j] for row in rows]) for j in range(k))
    total = statistics.variance([sum(row) for row in rows])
    return k / (k - 1) * (1 - items / total)


def check_matches_stdlib(factory: type[CronbachAlpha], *, quick: bool = False) -> None:
    """The metric, fed in chunks of any size and merged, agrees with :func:`stdlib_alpha`."""

    @quick_or_full(quick, max_examples=30)
    @given(answer_matrices(max_items=8), st.lists(st.integers(0, 40), max_size=4))
    def prop(x: Matrix, cuts: list[int]) -> None:
        m = factory(items=tuple(f"q{j + 1}" for j in range(x.shape[1])), scale=(-128, 127))
        f = frame_of(x)
        state = m.init()
        for a, b in itertools.pairwise([0, *sorted(min(c, len(f)) for c in cuts), len(f)]):
            state = m.merge(state, m.update(m.init(), f.slice(a, b)))
        assert m.finalize(state).value == pytest.approx(stdlib_alpha(x), rel=1e-9, abs=1e-9)

    prop()


def test_matches_stdlib_definition() -> None:
    assert stdlib_alpha(HAND) == pytest.approx(18 / 19, rel=1e-12)  # the hand-computed case
    check_matches_stdlib(CronbachAlpha)


def test_matches_stdlib_definition_negative_control() -> None:
    must_fail(check_matches_stdlib, NaiveMerge)


def test_pairwise_matches_pandas_pairwise_covariance() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, size=(60, 4))
    x[:, 1] = np.clip(x[:, 0] + rng.integers(-1, 2, 60), 1, 5)
    missing = rng.random((60, 4)) < 0.2
    df = pd.DataFrame(np.where(missing, np.nan, x))
    c = df.cov().to_numpy()
    expected = 4 / 3 * (1 - np.trace(c) / c.sum())
    m = metric_for(4, missing="pairwise")
    r = m.finalize(m.update(m.init(), frame_of(x, missing)))
    assert r.value == pytest.approx(expected, rel=1e-9)
    assert r.details["n_pairwise_min"] == df.notna().astype(int).T.dot(df.notna()).min().min()
    assert "pairwise" in r.method


def test_pingouin_oracle() -> None:
    """pingouin (GPL, test-only, skipped when absent) agrees on alpha and the Feldt interval."""
    pg = pytest.importorskip("pingouin")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(11)
    factor = rng.standard_normal((120, 1))
    x = np.clip(np.rint(4 + factor + rng.standard_normal((120, 5))), 1, 7).astype(np.int64)
    value, ci = pg.cronbach_alpha(pd.DataFrame(x))
    r = real(x)
    assert r.value == pytest.approx(value, rel=1e-9)
    # pingouin rounds its interval to 3 decimals
    assert (round(r.ci_low, 3), round(r.ci_high, 3)) == tuple(ci)
    missing = rng.random(x.shape) < 0.15
    pw_value, _ = pg.cronbach_alpha(pd.DataFrame(np.where(missing, np.nan, x)))
    m = metric_for(5, missing="pairwise")
    assert m.finalize(m.update(m.init(), frame_of(x, missing))).value == pytest.approx(pw_value)


# -- missing answers, groups, instruments -------------------------------------------------------


def test_listwise_deletion() -> None:
    x = np.vstack([HAND, [[9, 9, 9], [9, 9, 9]]])
    missing = np.zeros(x.shape, dtype=bool)
    missing[4, 0] = missing[5, 2] = True
    m = metric_for(3)
    r = m.finalize(m.update(m.init(), frame_of(x, missing)))
    assert r.value == pytest.approx(18 / 19)
    assert (r.n, r.n_missing, r.details["n_complete"]) == (4, 2, 4.0)


def test_grouped_equals_each_group_alone() -> None:
    rng = np.random.default_rng(3)
    x = np.clip(rng.integers(1, 6, size=(90, 1)) + rng.integers(-1, 2, size=(90, 4)), 1, 5)
    wave = np.repeat(np.array([2, 0, 1]), 30)
    f = attrs.evolve(frame_of(x), wave=wave)
    m = metric_for(4, by="wave")
    r = m.finalize(m.update(m.init(), f))
    assert [g.group for g in r.groups] == [0, 1, 2]
    for g in r.groups:
        assert g.value == pytest.approx(np_alpha(x[wave == g.group]), rel=1e-9)
    assert r.value == pytest.approx(np_alpha(x), rel=1e-9)


def test_merge_handles_missing_groups() -> None:
    f = attrs.evolve(frame_of(HAND), wave=np.array([1, 1, 2, 2]))
    m = metric_for(3, by="wave")
    a = m.update(m.init(), f.slice(0, 2))
    b = m.update(m.init(), f.slice(2, 4))
    merged = m.merge(a, b)
    assert merged.labels.tolist() == [1, 2]
    assert m.finalize(merged).value == pytest.approx(18 / 19)


INSTRUMENT = Instrument(
    name="test-loyalty",
    version="1",
    title="Test loyalty scale",
    reference="stickykit tests",
    items=[
        Item(id="a1", text="I will buy again", dimension="loyalty", scale=(1, 7)),
        Item(id="a2", text="I recommend it", dimension="loyalty", scale=(1, 7)),
        Item(id="a3", text="I would switch", dimension="loyalty", scale=(1, 7), reverse=True),
        Item(id="b1", text="Staff are polite", dimension="staff", scale=(1, 5), battery="b"),
        Item(id="b2", text="Staff are helpful", dimension="staff", scale=(1, 5), battery="b"),
    ],
)


def test_instrument_reverse_keying() -> None:
    """a3 is reverse-keyed on 1-7: scored 8 - x, the same as giving the reversed column."""
    x = HAND.copy()
    x[:, 2] = 8 - x[:, 2]
    answers = {"a1": x[:, 0], "a2": x[:, 1], "a3": x[:, 2], "b1": x[:, 0], "b2": x[:, 0]}
    f = SurveyFrame(answers={k: v.astype(np.int8) for k, v in answers.items()})
    m = CronbachAlpha(instrument=INSTRUMENT, dimension="loyalty")
    assert m.requires == ("a1", "a2", "a3")
    assert m.scales == {"a1": (1, 7), "a2": (1, 7), "a3": (1, 7)}
    assert m.finalize(m.update(m.init(), f)).value == pytest.approx(18 / 19)
    unkeyed = CronbachAlpha(items=("a1", "a2", "a3"), scale=(1, 7))
    r = unkeyed.finalize(unkeyed.update(unkeyed.init(), f))
    assert r.value < 0
    assert any("check the keying" in flag for flag in r.flags)
    assert CronbachAlpha(instrument=INSTRUMENT, battery="b").requires == ("b1", "b2")
    both = CronbachAlpha(instrument=INSTRUMENT, battery=["main", "b"])
    assert both.battery == ("main", "b") and len(both.requires) == 5
    assert CronbachAlpha(instrument=INSTRUMENT, items=("a1", "b1")).scales == {
        "a1": (1, 7),
        "b1": (1, 5),
    }


def test_registered_instrument_by_name() -> None:
    try:
        inst = stickykit.get_instrument("servqual-1988")
    except UnknownInstrumentError:
        pytest.skip("servqual-1988 is not registered")
    m = stickykit.get_metric(
        "cronbach_alpha", instrument="servqual-1988", battery="perception", dimension="empathy"
    )
    assert m.requires == tuple(i.id for i in inst.select(battery="perception", dimension="empathy"))


@pytest.mark.parametrize(
    "metric",
    [
        CronbachAlpha(),
        CronbachAlpha(missing="pairwise"),
        CronbachAlpha(by="wave", reverse=("item2",)),
        CronbachAlpha(by="segment", missing="pairwise", scale=(0, 10)),
        CronbachAlpha(instrument=INSTRUMENT),
    ],
    ids=["default", "pairwise", "by-wave", "by-segment-pairwise", "instrument"],
)
def test_laws(metric: CronbachAlpha) -> None:
    check_metric(metric, max_examples=25)


@attrs.frozen
class NaiveMerge(CronbachAlpha):
    """Adds co-moments without the between-chunk term: split != no split."""

    def merge(self, a: AlphaState, b: AlphaState) -> AlphaState:
        merged = super().merge(a, b)
        if len(a.count) != len(b.count):
            return merged
        return attrs.evolve(merged, comoments=a.comoments + b.comoments)


def test_laws_negative_control() -> None:
    m = NaiveMerge(items=("q1", "q2", "q3"), scale=(-128, 127))
    f = frame_of(HAND)
    check_laws(metric_for(3), f, [2], [3, 2, 1, 0])
    with pytest.raises(AssertionError, match="split == no split"):
        check_laws(m, f, [2], [3, 2, 1, 0])


def test_comoments_are_chunk_independent_at_large_offsets() -> None:
    """Cancellation check: answers near the top of the int8 range merge as well as small ones."""
    x = HAND + 120
    one = pairwise_comoments(x.astype(float))
    two = merge_comoments(pairwise_comoments(x[:1].astype(float)), pairwise_comoments(x[1:]))
    np.testing.assert_allclose(two[2], one[2], rtol=1e-12)
    np.testing.assert_allclose(covariance(one[0], one[2]), np.cov(HAND.T), rtol=1e-12)


# -- errors, flags and edge cases ---------------------------------------------------------------


def test_out_of_scale_answer_names_row_item_value() -> None:
    x = HAND.copy()
    x[2, 1] = 9
    m = CronbachAlpha(items=("q1", "q2", "q3"), scale=(1, 5))
    f = frame_of(x)
    with pytest.raises(ValidationError) as err:
        m.update(m.init(), f)
    assert (err.value.row, err.value.field, err.value.value) == (2, "q2", 9)
    (v,) = m.check(f)
    assert (v.field, v.rows.tolist()) == ("q2", [2])
    r = stickykit.compute(m, f, errors="quarantine")
    assert r.n == 3 and r.details["n_rejected"] == 1.0


def test_missing_item_column() -> None:
    m = CronbachAlpha(items=("q1", "q9"))
    with pytest.raises(ValidationError, match="q9"):
        m.update(m.init(), frame_of(HAND))


def test_too_few_respondents() -> None:
    m = metric_for(3)
    with pytest.raises(InsufficientDataError):
        m.finalize(m.update(m.init(), frame_of(HAND[:1])))
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())


def test_zero_variance_flags() -> None:
    x = np.array([[1, 3, 2], [2, 3, 2], [3, 3, 5]])
    r = real(x)
    assert any("items without variance: ['q2']" in flag for flag in r.flags)
    assert math.isnan(r.details["item_rest_r:q2"])
    assert math.isnan(r.details["standardized_alpha"])
    constant = real(np.full((5, 3), 4))
    assert math.isnan(constant.value) and constant.ci_low is None


def test_states_of_different_metrics_refuse_to_merge() -> None:
    a, b = metric_for(3), metric_for(3, missing="pairwise")
    with pytest.raises(StateMismatchError):
        a.merge(a.init(), b.init())


def test_compute_by_name_and_print() -> None:
    data = {f"q{j + 1}": HAND[:, j].tolist() for j in range(3)}
    r = stickykit.compute(
        stickykit.get_metric("cronbach_alpha", items=("q1", "q2", "q3"), scale=(1, 5)), data
    )
    assert r.value == pytest.approx(18 / 19)
    assert str(r).startswith("cronbach_alpha = 0.9")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"items": ("q1",)}, "at least two items"),
        ({"items": ("q1", "q1")}, "distinct"),
        ({"instrument": INSTRUMENT, "scale": (1, 5)}, "scale and reverse"),
        ({"dimension": "loyalty"}, "give instrument"),
        ({"items": ("q1", "q2"), "reverse": ("q3",)}, "reverse"),
        ({"instrument": INSTRUMENT, "dimension": "nothing"}, "no items"),
        ({"instrument": INSTRUMENT, "items": ("zz", "a1")}, "no item"),
        ({"instrument": INSTRUMENT, "items": ("a1", "a2"), "battery": "b"}, "not both"),
        ({"instrument": "no-such-instrument"}, "no instrument"),
        ({"alpha": 1.5}, "alpha"),
        ({"missing": "mean"}, "missing"),
        ({"by": "colour"}, "by"),
        ({"min_n": 0}, "min_n"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        CronbachAlpha(**params)


def test_scipy_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, stickykit.metrics.survey.reliability, stickykit.stats.moments; "
        "print('scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
