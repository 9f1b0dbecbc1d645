"""Strict checks of frame columns: exact dtypes and equal lengths, checked once at build time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.errors import ValidationError

__all__ = [
    "TEXT_DTYPE",
    "check_id",
    "check_label",
    "check_length",
    "check_mask",
    "check_no_nat",
    "check_typed",
    "id_array",
]

#: Variable-width strings for free text (comments); ``None`` marks a missing text.
TEXT_DTYPE = np.dtypes.StringDType(na_object=None)


def _fail(record: str, field: str, value: Any, expected: str) -> None:
    raise ValidationError(record=record, field=field, row=None, value=value, expected=expected)


def _describe(array: object) -> str:
    if isinstance(array, np.ndarray):
        return f"array(dtype={array.dtype}, ndim={array.ndim})"
    return type(array).__name__


def check_typed(record: str, field: str, array: object, dtype: str | np.dtype[Any]) -> None:
    """Require a 1-D numpy array of exactly ``dtype``."""
    if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype != np.dtype(dtype):
        _fail(record, field, _describe(array), f"a 1-D numpy array of dtype {dtype}")


def check_id(record: str, field: str, array: object) -> None:
    """Require a 1-D int64 or fixed-width unicode array (an id column)."""
    if (
        not isinstance(array, np.ndarray)
        or array.ndim != 1
        or not (array.dtype == np.int64 or array.dtype.kind == "U")
    ):
        _fail(record, field, _describe(array), "a 1-D numpy array of dtype int64 or unicode (<U)")


check_label = check_id


def check_no_nat(record: str, field: str, array: NDArray[np.datetime64], first_row: int) -> None:
    """Require a datetime column without NaT; the error names the first row that has one."""
    where = np.flatnonzero(np.isnat(array))
    if where.size:
        raise ValidationError(
            record=record,
            field=field,
            row=first_row + int(where[0]),
            value=array[where[0]],
            expected="a date-time (NaT is not allowed)",
            n_failing=int(where.size),
        )


def check_mask(record: str, field: str, array: object, n: int) -> None:
    """Require a 1-D bool array of length ``n``."""
    check_typed(record, field, array, "bool")
    assert isinstance(array, np.ndarray)
    if len(array) != n:
        _fail(record, field, f"length {len(array)}", f"length {n}, as the other columns")


def check_length(record: str, columns: Mapping[str, NDArray[Any] | None]) -> int:
    """Require every present column to have the same length; return it."""
    lengths = {name: len(col) for name, col in columns.items() if col is not None}
    n = next(iter(lengths.values()), 0)
    for name, length in lengths.items():
        if length != n:
            first = next(iter(lengths))
            _fail(record, name, f"length {length}", f"length {n}, as column {first!r}")
    return n


def id_array(values: list[Any], record: str, field: str) -> NDArray[Any]:
    """Turn a list of int or str ids into an int64 or unicode array; mixed kinds are refused."""
    if not values:
        return np.empty(0, dtype=np.int64)
    kinds = {isinstance(value, str) for value in values}
    if len(kinds) > 1:
        _fail(record, field, "a mix of int and str", "ids that are all integers or all strings")
    if kinds == {True}:
        return np.array(values, dtype=str)
    return np.array(values, dtype=np.int64)
