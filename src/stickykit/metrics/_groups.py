"""Group bookkeeping for grouped states.

A grouped state stores the sorted unique group labels it has seen (``labels``, int64 or
unicode) and arrays whose first axis has ``len(labels) + 1`` rows: one per label, and a last
row for rows without a label (or for every row when the metric is not grouped). Merging takes
the union of the labels and adds the rows, so no state depends on per-chunk codes.

Examples
--------
>>> import numpy as np
>>> labels, codes = group_codes(np.array(["b", "a", "b"]), None)
>>> labels.tolist(), codes.tolist()
(['a', 'b'], [1, 0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.core.arrays import unique_codes
from stickykit.errors import StateMismatchError

__all__ = ["align", "empty_labels", "group_codes", "union_labels"]


def empty_labels() -> NDArray[np.int64]:
    """Labels of a state that has seen no group yet."""
    return np.empty(0, dtype=np.int64)


def group_codes(
    labels: NDArray[Any] | None, missing: NDArray[np.bool_] | None
) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted unique labels and each row's slot (``len(unique)`` for rows without a label)."""
    if labels is None:
        return empty_labels(), np.zeros(0, dtype=np.intp)
    if missing is None or not missing.any():
        unique, codes = unique_codes(labels)
        return unique, codes.astype(np.intp, copy=False)
    unique, inner = unique_codes(labels[~missing])
    slots: NDArray[np.intp] = np.full(len(labels), len(unique), dtype=np.intp)
    slots[~missing] = inner
    return unique, slots


def union_labels(
    a: NDArray[Any], b: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[np.intp], NDArray[np.intp]]:
    """Union of two sorted label arrays and where each input's slots go in it.

    The returned positions have one more entry than the input labels: the no-label slot,
    which maps to the union's last slot.
    """
    if len(a) == 0 and len(b) == 0:
        union = a if a.dtype == b.dtype else empty_labels()
    elif len(a) == 0:
        union = b
    elif len(b) == 0:
        union = a
    else:
        if (a.dtype.kind == "U") != (b.dtype.kind == "U"):
            msg = f"cannot merge group labels of types {a.dtype} and {b.dtype}"
            raise StateMismatchError(msg)
        union = np.union1d(a, b)
    g = len(union)
    pos_a = np.append(np.searchsorted(union, a), g).astype(np.intp)
    pos_b = np.append(np.searchsorted(union, b), g).astype(np.intp)
    return union, pos_a, pos_b


def align(values: NDArray[Any], positions: NDArray[np.intp], n_slots: int) -> NDArray[Any]:
    """Scatter rows of ``values`` to ``positions`` in a zero array with ``n_slots`` rows."""
    out = np.zeros((n_slots, *values.shape[1:]), dtype=values.dtype)
    out[positions] = values
    return out
