"""Row-scale array helpers: the union of sorted ids and where each id went."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.core.arrays import sorted_union, union_positions

sorted_ids = st.sets(st.integers(-50, 50), max_size=30).map(
    lambda s: np.array(sorted(s), dtype=np.int64)
)

Union = Callable[[Any, Any], tuple[Any, Any, Any]]


def check_union(union: Union) -> None:
    @given(sorted_ids, sorted_ids)
    def prop(a: np.ndarray, b: np.ndarray) -> None:
        ids, ia, ib = union(a, b)
        assert ids.tolist() == np.union1d(a, b).tolist() == sorted_union(a, b).tolist()
        assert ids[ia].tolist() == a.tolist() and ids[ib].tolist() == b.tolist()
        b_in_a = set(b.tolist()) <= set(a.tolist())
        assert (len(ids) == len(a)) == b_in_a

    prop()


def test_union_positions_match_union1d() -> None:
    check_union(union_positions)


def no_dedup_union(a: Any, b: Any) -> tuple[Any, Any, Any]:
    """Broken: the merged runs without removing the ids that appear in both."""
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="stable")
    position = np.empty(len(both), dtype=np.intp)
    position[order] = np.arange(len(both))
    return both[order], position[: len(a)], position[len(a) :]


def test_union_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_union(no_dedup_union)


def test_string_ids() -> None:
    ids, ia, ib = union_positions(np.array(["a", "c"]), np.array(["b", "c"]))
    assert ids.tolist() == ["a", "b", "c"] and ia.tolist() == [0, 2] and ib.tolist() == [1, 2]
