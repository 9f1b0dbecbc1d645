"""Value tiers: Gini, Lorenz, ABC and deciles; properties with negative controls; pandas; CDNOW."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour.tiers import (
    ValueTiers,
    abc_classes,
    bootstrap_gini,
    deciles,
    gini,
    lorenz_curve,
    top_share,
)
from stickykit.testing import check_laws, check_metric, event_frames, split_points

FAST = settings(max_examples=30, deadline=None)
NO_SHRINK = settings(max_examples=60, deadline=None, phases=[Phase.generate])
CUTS = np.array([0.8, 0.95])

spend = hnp.arrays(
    np.float64, st.integers(1, 30), elements=st.floats(0, 1000, allow_subnormal=False)
)
positive_spend = hnp.arrays(
    np.float64, st.integers(1, 30), elements=st.floats(0.01, 1000, allow_subnormal=False)
)


def frame(ids: list[int], amounts: list[float]) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids),
        timestamp=np.full(len(ids), np.datetime64("2024-01-01", "us")),
        amount=np.array(amounts),
    )


@st.composite
def frames_with_returns(draw: Any) -> EventFrame:
    f = draw(event_frames(max_rows=40))
    returned = draw(hnp.arrays(np.bool_, len(f)))
    assert f.amount is not None
    return attrs.evolve(f, amount=np.where(returned, -f.amount / 2, f.amount))


# -- laws ---------------------------------------------------------------------------------------

VARIANTS = [
    ValueTiers(n_boot=20),
    ValueTiers(revenue_policy="drop", n_boot=0, abc_shares=(0.5, 0.3, 0.15, 0.05)),
]


@pytest.mark.parametrize("metric", VARIANTS, ids=["clip", "drop"])
def test_laws(metric: ValueTiers) -> None:
    check_metric(metric, max_examples=8)


@settings(max_examples=10, deadline=None)
@given(f=frames_with_returns(), data=st.data())
def test_laws_with_returns(f: EventFrame, data: st.DataObject) -> None:
    cuts = data.draw(split_points(len(f)))
    order = data.draw(st.permutations(range(len(f))))
    check_laws(ValueTiers(n_boot=10), f, cuts, order)


# -- hand-computed -----------------------------------------------------------------------------


def test_hand_computed() -> None:
    """Revenue 0, 10, 20, 70 (total 100).

    Gini: weights 2i - n - 1 = -3, -1, 1, 3 -> (0 - 10 + 20 + 210) / (4 * 100) = 0.55.
    Lorenz: 0, 0, 0.1, 0.3, 1 at customer shares 0, 1/4, 1/2, 3/4, 1.
    ABC (80/15/5): share ahead of 70 is 0 (A), of 20 is 0.7 (A), of 10 is 0.9 (B), of 0 is 1 (C).
    Top 25 %: 1 - L(0.75) = 0.7; top 10 %: 1 - L(0.9) = 1 - (0.3 + 0.6 * 0.7) = 0.28.
    Deciles: 1 + floor(10 * customers ahead / 4) = 1, 3, 6, 8.
    """
    f = frame([1, 2, 3, 4], [70.0, 20.0, 10.0, 0.0])
    m = ValueTiers(n_boot=0, top_shares=(0.1, 0.25))
    r = m.finalize(m.update(m.init(), f))
    assert r.value == pytest.approx(0.55)
    np.testing.assert_allclose(r.tables["lorenz_revenue"], [0, 0, 0.1, 0.3, 1])
    assert r.tables["abc"].tolist() == ["A", "A", "B", "C"]
    assert r.details["A_revenue_share"] == pytest.approx(0.9)
    assert r.details["C_customers"] == 1 and r.details["zero_revenue_customers"] == 1
    assert r.details["top_share:0.25"] == pytest.approx(0.7)
    assert r.details["top_share:0.1"] == pytest.approx(0.28)
    assert r.tables["decile"].tolist() == [1, 3, 6, 8]
    assert r.method == "no interval (n_boot=0)" and r.ci_low is None


def test_ties_share_decile_and_class() -> None:
    x = np.array([5.0, 5.0, 5.0, 5.0, 1.0])
    assert deciles(x).tolist() == [1, 1, 1, 1, 9]
    assert abc_classes(x, CUTS).tolist() == [0, 0, 0, 0, 2]
    assert deciles(np.array([0.1 + 0.2, 0.3])).tolist() == [1, 1]


def test_revenue_policies() -> None:
    """Customer 1 nets to -5 (a return larger than the purchase), 2 to 0, 3 to 10."""
    f = frame([1, 1, 2, 3], [5.0, -10.0, 0.0, 10.0])
    clip = ValueTiers(n_boot=0)
    r = clip.finalize(clip.update(clip.init(), f))
    assert r.tables["revenue"].tolist() == [0.0, 0.0, 10.0]
    assert r.details["clipped_customers"] == 1 and r.value == pytest.approx(2 / 3)
    drop = ValueTiers(revenue_policy="drop", n_boot=0)
    r = drop.finalize(drop.update(drop.init(), f))
    assert r.tables["customer_id"].tolist() == [3] and r.details["dropped_customers"] == 2
    assert r.n_missing == 2 and r.value == 0.0
    strict = ValueTiers(revenue_policy="raise")
    with pytest.raises(ValueError, match=r"customer 1 has negative net revenue -5\.0"):
        strict.finalize(strict.update(strict.init(), f))
    with pytest.raises(InsufficientDataError, match="positive total"):
        clip.finalize(clip.update(clip.init(), frame([1], [0.0])))


def test_parameter_checks() -> None:
    with pytest.raises(ValueError, match="abc_shares"):
        ValueTiers(abc_shares=(0.8, 0.1))
    with pytest.raises(ValueError, match="top_shares"):
        ValueTiers(top_shares=(0.0,))
    with pytest.raises(ValueError, match="n_boot"):
        ValueTiers(n_boot=-1)


# -- Gini: bounds, equal spend, adding to the top -------------------------------------------------


def gini_descending(x: np.ndarray) -> float:
    """Broken: sorts the wrong way round (gives -G)."""
    s = np.sort(x)[::-1]
    n = len(s)
    return float((2 * np.arange(1, n + 1) - n - 1) @ s / (n * s.sum()))


def gini_off_by_one(x: np.ndarray) -> float:
    """Broken: weights 2i - n instead of 2i - n - 1 (adds 1/n)."""
    s = np.sort(x)
    n = len(s)
    return float((2 * np.arange(1, n + 1) - n) @ s / (n * s.sum()))


def check_gini_bounds(g: Any, config: settings = FAST) -> None:
    @config
    @given(x=positive_spend)
    def prop(x: np.ndarray) -> None:
        value = g(x)
        assert -1e-12 <= value <= 1 - 1 / len(x) + 1e-12

    prop()


def check_equal_spend_is_zero(g: Any, config: settings = FAST) -> None:
    @config
    @given(n=st.integers(1, 50), amount=st.floats(0.01, 1e6))
    def prop(n: int, amount: float) -> None:
        assert abs(g(np.full(n, amount))) < 1e-12

    prop()


def check_adding_to_top_never_lowers(g: Any, config: settings = FAST) -> None:
    @config
    @given(x=positive_spend, extra=st.floats(0.01, 1e4))
    def prop(x: np.ndarray, extra: float) -> None:
        richer = x.copy()
        richer[np.argmax(x)] += extra
        assert g(richer) >= g(x) - 1e-12

    prop()


def test_gini_in_unit_interval() -> None:
    check_gini_bounds(gini)


def test_gini_bounds_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_gini_bounds(gini_descending, NO_SHRINK)


def test_gini_zero_for_equal_spend() -> None:
    check_equal_spend_is_zero(gini)


def test_equal_spend_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_equal_spend_is_zero(gini_off_by_one, NO_SHRINK)


def test_adding_to_top_never_lowers_gini() -> None:
    check_adding_to_top_never_lowers(gini)


def test_adding_to_top_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_adding_to_top_never_lowers(gini_descending, NO_SHRINK)


@FAST
@given(x=spend)
def test_gini_is_half_the_relative_mean_difference(x: np.ndarray) -> None:
    if x.sum() == 0:
        assert np.isnan(gini(x))
        return
    expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(expected, rel=1e-9, abs=1e-12)


# -- Lorenz curve ---------------------------------------------------------------------------------


def lorenz_descending(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broken: accumulates the biggest customers first (a concave curve)."""
    s = np.sort(x)[::-1]
    return np.arange(len(s) + 1) / len(s), np.concatenate([[0], np.cumsum(s)]) / s.sum()


def lorenz_per_customer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broken: divides by the number of customers instead of the total."""
    s = np.sort(x)
    return np.arange(len(s) + 1) / len(s), np.concatenate([[0], np.cumsum(s)]) / len(s)


def check_lorenz(curve: Any, config: settings = FAST) -> None:
    @config
    @given(x=positive_spend)
    def prop(x: np.ndarray) -> None:
        u, share = curve(x)
        assert (u[0], share[0]) == (0.0, 0.0)
        assert u[-1] == 1.0 and share[-1] == pytest.approx(1.0, rel=1e-12)
        slopes = np.diff(share) / np.diff(u)
        assert (np.diff(slopes) >= -1e-9 * slopes.max()).all()  # convex
        assert (share <= u + 1e-12).all()

    prop()


def test_lorenz_convex_and_ends_at_one() -> None:
    check_lorenz(lorenz_curve)


def test_lorenz_negative_controls() -> None:
    with pytest.raises(AssertionError):
        check_lorenz(lorenz_descending, NO_SHRINK)
    with pytest.raises(AssertionError):
        check_lorenz(lorenz_per_customer, NO_SHRINK)


@FAST
@given(x=positive_spend)
def test_gini_is_one_minus_twice_the_area_under_lorenz(x: np.ndarray) -> None:
    u, share = lorenz_curve(x)
    area = np.sum(np.diff(u) * (share[1:] + share[:-1]) / 2)
    assert gini(x) == pytest.approx(1 - 2 * area, abs=1e-9)


# -- ABC shares sum to 1 ---------------------------------------------------------------------------


def abc_members(x: np.ndarray) -> np.ndarray:
    classes = abc_classes(x, CUTS)
    return classes[None, :] == np.arange(3)[:, None]


def abc_members_overlapping(x: np.ndarray) -> np.ndarray:
    """Broken: the customer who crosses a cut line is put in both classes around it."""
    order = np.argsort(-x, kind="stable")
    s = x[order] / x.sum()
    before = np.cumsum(s) - s
    after = np.cumsum(s)
    bounds = [(0.0, 0.8), (0.8, 0.95), (0.95, 1.0 + 1e-9)]
    members = np.zeros((3, len(x)), dtype=bool)
    for k, (lo, hi) in enumerate(bounds):
        members[k, order] = (after > lo) & (before < hi)
    return members


def check_abc_shares_sum_to_one(members_of: Any, config: settings = FAST) -> None:
    @config
    @given(x=positive_spend)
    def prop(x: np.ndarray) -> None:
        members = members_of(x)
        shares = (members * x).sum(axis=1) / x.sum()
        assert shares.sum() == pytest.approx(1.0, rel=1e-9)

    prop()


def test_abc_shares_sum_to_one() -> None:
    check_abc_shares_sum_to_one(abc_members)


def test_abc_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_abc_shares_sum_to_one(abc_members_overlapping, NO_SHRINK)


@FAST
@given(f=event_frames(min_rows=1, max_rows=60))
def test_metric_class_shares_sum_to_one(f: EventFrame) -> None:
    m = ValueTiers(n_boot=0, kinds=None)
    try:
        r = m.finalize(m.update(m.init(), f))
    except InsufficientDataError:
        return
    shares = [r.details[f"{c}_revenue_share"] for c in "ABC"]
    assert sum(shares) == pytest.approx(1.0, rel=1e-9)
    assert r.tables["decile_revenue_share"].sum() == pytest.approx(1.0, rel=1e-9)
    assert r.tables["decile_customers"].sum() == r.n
    assert 0 <= r.value <= 1 - 1 / r.n + 1e-12


# -- bootstrap, pandas and CDNOW -------------------------------------------------------------------


def test_bootstrap_reproducible_and_brackets_the_estimate() -> None:
    events = load_cdnow(sample=True)
    a = ValueTiers(n_boot=200, seed=7)
    r1 = a.finalize(a.update(a.init(), events))
    r2 = a.finalize(a.update(a.init(), events))
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    assert r1.ci_low < r1.value < r1.ci_high
    assert r1.method == "percentile bootstrap over customers (200 replicates, seed 7)"
    g = bootstrap_gini(np.full(5, 3.0), 20, np.random.default_rng(1))
    np.testing.assert_allclose(g, 0.0, atol=1e-12)


def test_matches_pandas_on_cdnow_sample() -> None:
    """Gini and the top-20 % share from a pandas groupby, sort and cumsum."""
    events = load_cdnow(sample=True)
    m = ValueTiers(n_boot=0)
    r = m.finalize(m.update(m.init(), events))
    df = pd.DataFrame({"customer": events.customer_id, "amount": events.amount})
    revenue = df.groupby("customer")["amount"].sum().clip(lower=0).sort_values()
    n = len(revenue)
    weights = 2 * np.arange(1, n + 1) - n - 1
    expected = float((weights * revenue.to_numpy()).sum() / (n * revenue.sum()))
    assert r.value == pytest.approx(expected, rel=1e-12)
    top = revenue.iloc[::-1].head(int(0.2 * n)).sum() / revenue.sum()
    assert r.details["top_share:0.2"] == pytest.approx(top, abs=1 / n)
    assert r.n == n == 2357


def test_cdnow_sample_run() -> None:
    events = load_cdnow(sample=True)
    m = ValueTiers(n_boot=100)
    r = m.finalize(m.update(m.init(), events))
    assert 0 < r.ci_low < r.value < r.ci_high < 1
    assert sum(r.details[f"{c}_customers"] for c in "ABC") == 2357
    # revenue is concentrated: A (80 % of revenue) holds well under half of the customers
    assert r.details["A_customers"] < 0.5 * 2357 and r.details["A_revenue_share"] >= 0.8
    assert r.tables["decile_customers"].sum() == 2357
    assert r.tables["lorenz_revenue"][-1] == 1.0
    assert top_share(r.tables["revenue"], np.array([1.0]))[0] == pytest.approx(1.0)
