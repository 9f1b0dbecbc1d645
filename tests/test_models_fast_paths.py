"""The machinery behind predictions and patterns on millions of customers.

- ``by_frequency``: per-frequency Chebyshev interpolation (Trefethen 2019, *Approximation
  Theory and Approximation Practice*, ch. 8), checked against the exact function, with a
  fallback to it; the BG/NBD expected purchases of FHL (2005) eq. 10 through it;
- ``lexicographic_order`` and ``compress`` against ``numpy.lexsort``;
- ``FrequencyGroups``; read-only ``Histories`` that keep what is derived from them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.models import _interpolate
from stickykit.models._grouped import FrequencyGroups
from stickykit.models._histories import Histories, compress, lexicographic_order
from stickykit.models._hypergeometric import expected_purchases_while_active
from stickykit.models._interpolate import by_frequency
from stickykit.models.bgnbd import BGNBD
from stickykit.models.mbgnbd import MBGNBD

Array = np.ndarray


def counted(function: Callable[[Array, Array], Array]) -> tuple[Callable[..., Array], list[int]]:
    """``function`` that records how many rows each call evaluates."""
    rows: list[int] = []

    def wrapper(x: Array, s: Array) -> Array:
        rows.append(len(x))
        return function(x, s)

    return wrapper, rows


# -- by_frequency -----------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_interpolation_matches_the_exact_function(shuffle: bool) -> None:
    """BG/NBD expected purchases while active (FHL 2005 eq. 10, 52 weeks) as a function of
    s = ln(alpha + T) per frequency: within 1e-11 relative of the exact values, with far
    fewer exact evaluations than customers; rows in any order."""
    rng = np.random.default_rng(7)
    n = 30_000
    x = np.sort(rng.geometric(0.4, n) - 1).astype(float)
    s = np.log(4.414 + rng.uniform(0.0, 78.0, n))
    if shuffle:
        order = rng.permutation(n)
        x, s = x[order], s[order]

    def exact(xv: Array, sv: Array) -> Array:
        return expected_purchases_while_active(0.243 + xv, np.exp(sv), 0.793, 2.426 + xv, 52.0)

    function, rows = counted(exact)
    got = by_frequency(function, x, s)
    want = exact(x, s)
    assert np.all(np.abs(got - want) <= 1e-11 * np.abs(want))
    assert sum(rows) < n / 5


def test_interpolation_falls_back_where_the_check_fails() -> None:
    """Negative control: a kink (|s - 1|) defeats the interpolant; the check sees it, and the
    group is evaluated exactly (so the answer is still exact)."""
    rng = np.random.default_rng(3)
    x = np.zeros(5_000)
    s = rng.uniform(0.0, 2.0, 5_000)

    def kink(xv: Array, sv: Array) -> Array:
        return np.abs(sv - 1.0) + xv + 1.0

    function, rows = counted(kink)
    got = by_frequency(function, x, s)
    assert np.array_equal(got, kink(x, s))
    assert rows[-1] == 5_000  # the exact evaluation of every row, after the check failed


def test_interpolation_check_detects_a_wrong_interpolant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control of the check itself: with the interpolant's coefficients corrupted by
    1e-9 the check rejects every group and all rows are evaluated exactly."""
    real = _interpolate._coefficients
    monkeypatch.setattr(_interpolate, "_coefficients", lambda v: real(v) * (1 + 1e-9))
    x = np.repeat([0.0, 1.0], 2_000)
    s = np.tile(np.linspace(0.0, 3.0, 2_000), 2)
    function, rows = counted(lambda xv, sv: np.log1p(np.exp(sv) * (xv + 1)))
    by_frequency(function, x, s)
    assert rows[-1] == 4_000


def test_conditional_expectations_match_per_customer_exact_values() -> None:
    """BG/NBD and MBG/NBD E[Y(t) | x, t_x, T] through the interpolation against the exact
    function customer by customer (FHL 2005 eq. 10)."""
    rng = np.random.default_rng(11)
    n = 20_000
    x = (rng.geometric(0.35, n) - 1).astype(float)
    big_t = rng.uniform(1.0, 78.0, n)
    t_x = np.where(x > 0, big_t * rng.uniform(0.01, 1.0, n), 0.0)
    for model in (BGNBD, MBGNBD):
        m = model.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        got = m._conditional_expected(m.params, 39.0, x, t_x, big_t)
        alive = m._p_alive(m.params, x, t_x, big_t)
        want = alive * expected_purchases_while_active(
            0.243 + x, 4.414 + big_t, 0.793, 2.426 + x + m._shift, 39.0
        )
        assert np.all(np.abs(got - want) <= 1e-11 * want)


# -- lexicographic order and compress -----------------------------------------------------------

column = st.one_of(
    st.lists(st.integers(0, 4).map(float), min_size=1, max_size=40),
    st.lists(st.integers(0, 70_000), min_size=1, max_size=40),
    st.lists(st.sampled_from([-1.5, 0.0, 0.0, 2.25, 1e9]), min_size=1, max_size=40),
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=40),
)


def sorted_rows(columns: list[Array], order: Array) -> list[tuple[float, ...]]:
    return [tuple(float(c[i]) for c in columns) for i in order]


@given(data=st.lists(column, min_size=1, max_size=3))
def test_lexicographic_order_sorts_as_lexsort(data: list[list[float]]) -> None:
    """Rows in the order of numpy.lexsort (first column primary); small whole numbers take the
    radix path, other floats the quicksort with ties put back in order."""
    n = min(len(c) for c in data)
    columns = [np.asarray(c[:n]) for c in data]
    got = sorted_rows(columns, lexicographic_order(columns))
    want = sorted_rows(columns, np.lexsort(tuple(reversed(columns))))
    assert got == want


def test_lexicographic_check_catches_an_unstable_pass() -> None:
    """Negative control: sorting by each column with a plain (unstable) argsort loses the
    order of an earlier pass."""
    first = np.array([1.0, 0.0, 1.0, 0.0])
    second = np.array([3.0, 9.0, 2.0, 8.0])
    assert sorted_rows([first, second], lexicographic_order([first, second])) == [
        (0.0, 8.0),
        (0.0, 9.0),
        (1.0, 2.0),
        (1.0, 3.0),
    ]
    order = np.argsort(second)
    order = order[np.argsort(first[order][::-1])[::-1]]  # a pass that does not keep ties
    assert sorted_rows([first, second], order) != sorted_rows(
        [first, second], lexicographic_order([first, second])
    )


@given(data=st.lists(column, min_size=1, max_size=3))
def test_compress_rebuilds_every_row(data: list[list[float]]) -> None:
    """Patterns are distinct and sorted; inverse rebuilds each row; weights add up."""
    n = min(len(c) for c in data)
    columns = [np.asarray(c[:n], dtype=float) for c in data]
    weight = np.arange(1.0, n + 1)
    p = compress(columns, weight)
    for pattern_column, row_column in zip(p.columns, columns, strict=True):
        assert np.array_equal(pattern_column[p.inverse], row_column)
    keys = sorted_rows(list(p.columns), np.arange(len(p)))
    assert keys == sorted(set(keys))
    assert np.array_equal(np.bincount(p.inverse, weights=weight), p.weight)


# -- frequency groups and histories ---------------------------------------------------------------


def test_frequency_groups_sum_and_spread_in_any_order() -> None:
    x = np.array([3.0, 0.0, 3.0, 1.0, 0.0])
    weight = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    g = FrequencyGroups.build(x, weight)
    assert g.values.tolist() == [0.0, 1.0, 3.0]
    assert g.weight.tolist() == [7.0, 4.0, 4.0]
    assert g.arrange(weight).tolist() == [2.0, 5.0, 4.0, 1.0, 3.0]
    assert g.sums(g.arrange(weight)).tolist() == [7.0, 4.0, 4.0]
    assert g.spread(np.array([1.0, 2.0, 3.0])).tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]


def test_histories_are_read_only_and_keep_their_patterns() -> None:
    """from_arrays copies: the caller's arrays stay writable and later changes to them do not
    reach the histories; the histories' own arrays refuse writes, so the patterns kept on
    them cannot go stale; a subset has its own."""
    age = np.array([5.0, 6.0, 6.0])
    h = Histories.from_arrays(frequency=[0, 2, 2], recency=[0.0, 3.0, 3.0], age=age)
    age[0] = 99.0
    assert h.age[0] == 5.0
    with pytest.raises(ValueError, match="read-only"):
        h.age[0] = 1.0
    model = BGNBD()
    first = model.patterns(h)
    assert model.patterns(h) is first
    assert first.weight.tolist() == [1.0, 2.0]
    part = h.take(np.array([0, 1]))
    assert model.patterns(part) is not first
    assert model.patterns(part).weight.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("collide", [False, True])
def test_grouped_compress_finds_the_same_patterns(
    collide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compress(..., lexicographic=False): the same patterns as the lexicographic one, sorted
    by the first column; also when every row's hash collides (the collision path)."""
    from stickykit.models import _histories

    if collide:
        monkeypatch.setattr(
            _histories, "_row_hash", lambda columns: np.zeros(len(columns[0]), dtype=np.uint64)
        )
    rng = np.random.default_rng(5)
    columns = [
        rng.integers(0, 4, 300).astype(float),
        rng.integers(0, 3, 300) * 0.5,
        rng.integers(0, 3, 300) - 0.0,
    ]
    weight = rng.uniform(0.5, 2.0, 300)
    grouped = compress(columns, weight, lexicographic=False)
    plain = compress(columns, weight)
    assert np.all(np.diff(grouped.columns[0]) >= 0)
    rows = sorted_rows(list(grouped.columns), np.arange(len(grouped)))
    assert sorted(rows) == sorted_rows(list(plain.columns), np.arange(len(plain)))
    assert len(set(rows)) == len(rows)
    for pattern_column, row_column in zip(grouped.columns, columns, strict=True):
        assert np.array_equal(pattern_column[grouped.inverse], row_column)
    assert np.allclose(np.bincount(grouped.inverse, weights=weight), grouped.weight)
