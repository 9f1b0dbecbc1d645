r"""Per-customer repeat-purchase histories, validated, and their compression into patterns.

A history is the triple of the buy-till-you-die literature: ``frequency`` :math:`x`, the number
of **repeat** purchase periods (the first purchase excluded, same-period purchases merged),
``recency`` :math:`t_x`, the time from the first to the last purchase, and ``age`` :math:`T`,
the time from the first purchase to the end of calibration, all on one time axis (weeks by
default). Fader, Hardie & Lee (2005), "'Counting your customers' the easy way", *Marketing
Science* 24(2), 275-284, section 2.

Models evaluate their log-likelihood once per distinct pattern, weighted by how many customers
share it: :func:`compress` finds the patterns with a sort, never a loop over customers.

Examples
--------
>>> import numpy as np
>>> h = Histories.from_arrays(frequency=[0, 2, 2], recency=[0.0, 30.4, 30.4], age=[38.9, 38.9, 38.9])
>>> len(h), h.time_unit
(3, 'week')
>>> p = compress([h.frequency, h.recency, h.age], h.weight)
>>> p.weight.tolist(), p.inverse.tolist()
([1.0, 2.0], [0, 1, 1])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import ValidationError

__all__ = [
    "Histories",
    "Patterns",
    "compress",
    "fail_at",
    "grouped_order",
    "lexicographic_order",
]

_RECORD = "Histories"


def fail_at(
    mask: NDArray[np.bool_],
    *,
    field: str,
    values: NDArray[Any],
    expected: str,
    customer_id: NDArray[Any] | None = None,
    record: str = _RECORD,
) -> None:
    """Raise :class:`~stickykit.errors.ValidationError` at the first row where ``mask`` holds.

    The message names the field, the row, the value and, when ids are given, the customer.

    Examples
    --------
    >>> fail_at(np.array([False, True]), field="age", values=np.array([1.0, -2.0]),
    ...         expected="a finite time >= 0", customer_id=np.array([10, 11]))
    Traceback (most recent call last):
    ...
    stickykit.errors.ValidationError: Histories.age @ row 1: ...expected a finite time >= 0 (customer 11)
    """
    if not mask.any():
        return
    row = int(np.flatnonzero(mask)[0])
    where = "" if customer_id is None else f" (customer {customer_id[row]!s})"
    value = values[row].item() if hasattr(values[row], "item") else values[row]
    raise ValidationError(
        record=record,
        field=field,
        row=row,
        value=value,
        expected=expected + where,
        n_failing=int(mask.sum()),
    )


def _float_column(name: str, values: ArrayLike, n: int | None) -> NDArray[np.float64]:
    try:
        array = np.array(values, dtype=np.float64)  # a copy: the histories own their arrays
    except (TypeError, ValueError):
        raise ValidationError(
            record=_RECORD, field=name, row=None, value=values, expected="numbers"
        ) from None
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValidationError(
            record=_RECORD,
            field=name,
            row=None,
            value=f"shape {array.shape}",
            expected=f"a 1-D array of length {n}" if n is not None else "a 1-D array",
        )
    return array


@attrs.frozen(eq=False)
class Histories:
    r"""Validated repeat-purchase histories, one row per customer (or per weighted pattern).

    Build with :meth:`from_arrays`, which checks every rule below, copies the arrays and
    makes them read-only; the constructor itself trusts its input. Being immutable, a
    ``Histories`` keeps what models derive from it (its distinct patterns, found by one
    sort) for the next fit or prediction on the same histories.

    Attributes
    ----------
    frequency : numpy.ndarray of int64
        Repeat purchase periods :math:`x \ge 0`.
    recency : numpy.ndarray of float64
        Time of the last purchase since the first, :math:`0 \le t_x \le T`; 0 when
        :math:`x = 0`, positive when :math:`x > 0`.
    age : numpy.ndarray of float64
        Time from the first purchase to the end of calibration, :math:`T \ge 0`.
    customer_id : numpy.ndarray
        Customer ids (row numbers when none are given).
    monetary : numpy.ndarray of float64
        Mean value of the repeat purchases; NaN where :math:`x = 0` or where unknown.
    weight : numpy.ndarray of float64
        How many customers each row stands for (1 for customer-level data).
    time_unit : str
        The unit of ``recency`` and ``age`` (``"week"``, ``"day"``, ``"period"``...).

    Examples
    --------
    >>> h = Histories.from_arrays(frequency=[1], recency=[2.0], age=[1.0])
    Traceback (most recent call last):
    ...
    stickykit.errors.ValidationError: Histories.recency @ row 0: 2.0 is invalid, expected at most age 1.0 ...
    """

    frequency: NDArray[np.int64]
    recency: NDArray[np.float64]
    age: NDArray[np.float64]
    customer_id: NDArray[Any]
    monetary: NDArray[np.float64]
    weight: NDArray[np.float64]
    time_unit: str = "week"
    _derived: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    @classmethod
    def from_arrays(
        cls,
        *,
        frequency: ArrayLike,
        recency: ArrayLike,
        age: ArrayLike,
        customer_id: ArrayLike | None = None,
        monetary: ArrayLike | None = None,
        weight: ArrayLike | None = None,
        time_unit: str = "week",
    ) -> Histories:
        """Validate and build histories.

        Raises
        ------
        ValidationError
            A negative, non-integer or non-finite frequency; a negative or non-finite age; a
            recency below 0 or above age; a repeat purchase with zero recency; a recency
            without repeat purchases; a non-finite mean spend where frequency > 0; a weight
            that is not finite and positive. The message names row, field, value and customer.

        Examples
        --------
        >>> Histories.from_arrays(frequency=[2], recency=[0.0], age=[5.0], customer_id=["c9"])
        Traceback (most recent call last):
        ...
        stickykit.errors.ValidationError: Histories.recency @ row 0: 0.0 is invalid, expected > 0 when frequency > 0 (customer c9)
        """
        x = _float_column("frequency", frequency, None)
        n = len(x)
        t_x = _float_column("recency", recency, n)
        big_t = _float_column("age", age, n)
        ids = np.arange(n) if customer_id is None else np.array(customer_id)
        if ids.ndim != 1 or len(ids) != n:
            raise ValidationError(
                record=_RECORD,
                field="customer_id",
                row=None,
                value=f"shape {ids.shape}",
                expected=f"a 1-D array of length {n}",
            )
        fail_at(
            ~np.isfinite(x) | (x < 0) | (x != np.round(x)),
            field="frequency",
            values=x,
            expected="a whole number of repeat purchases >= 0",
            customer_id=ids,
        )
        fail_at(
            ~np.isfinite(big_t) | (big_t < 0),
            field="age",
            values=big_t,
            expected="a finite time >= 0",
            customer_id=ids,
        )
        fail_at(
            ~np.isfinite(t_x) | (t_x < 0),
            field="recency",
            values=t_x,
            expected="a finite time >= 0",
            customer_id=ids,
        )
        over = t_x > big_t
        if over.any():
            row = int(np.flatnonzero(over)[0])
            fail_at(
                over,
                field="recency",
                values=t_x,
                expected=f"at most age {float(big_t[row])!r}",
                customer_id=ids,
            )
        fail_at(
            (x > 0) & (t_x == 0),
            field="recency",
            values=t_x,
            expected="> 0 when frequency > 0",
            customer_id=ids,
        )
        fail_at(
            (x == 0) & (t_x != 0),
            field="recency",
            values=t_x,
            expected="0 when frequency is 0 (no repeat purchase)",
            customer_id=ids,
        )
        if monetary is None:
            spend = np.full(n, np.nan)
        else:
            spend = _float_column("monetary", monetary, n)
            fail_at(
                (x > 0) & ~np.isfinite(spend),
                field="monetary",
                values=spend,
                expected="a finite mean repeat spend when frequency > 0",
                customer_id=ids,
            )
            spend = np.where(x > 0, spend, np.nan)
        if weight is None:
            w = np.ones(n)
        else:
            w = _float_column("weight", weight, n)
            fail_at(
                ~np.isfinite(w) | (w <= 0),
                field="weight",
                values=w,
                expected="a finite count > 0",
                customer_id=ids,
            )
        frequency = x.astype(np.int64)  # every array here is the histories' own copy
        for column in (frequency, t_x, big_t, ids, spend, w):
            column.flags.writeable = False
        return cls(
            frequency=frequency,
            recency=t_x,
            age=big_t,
            customer_id=ids,
            monetary=spend,
            weight=w,
            time_unit=time_unit,
        )

    def __len__(self) -> int:
        return len(self.frequency)

    @property
    def n_customers(self) -> float:
        """The number of customers the rows stand for (the sum of the weights)."""
        return float(self.weight.sum())

    def derived(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()``, computed on the first call with ``key`` and kept for the next ones.

        For what models derive from the histories alone (for example their distinct
        patterns); the arrays are read-only, so it cannot go stale.

        Examples
        --------
        >>> h = Histories.from_arrays(frequency=[0, 3], recency=[0.0, 4.0], age=[5.0, 6.0])
        >>> first = h.derived("total age", lambda: float(h.age.sum()))
        >>> first, h.derived("total age", lambda: 0.0)
        (11.0, 11.0)
        """
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def take(self, rows: NDArray[Any]) -> Histories:
        """The histories at ``rows`` (an index or a boolean mask).

        Examples
        --------
        >>> h = Histories.from_arrays(frequency=[0, 3], recency=[0.0, 4.0], age=[5.0, 6.0])
        >>> h.take(np.array([1])).frequency.tolist()
        [3]
        """
        return attrs.evolve(
            self,
            frequency=self.frequency[rows],
            recency=self.recency[rows],
            age=self.age[rows],
            customer_id=self.customer_id[rows],
            monetary=self.monetary[rows],
            weight=self.weight[rows],
        )


@attrs.frozen(eq=False)
class Patterns:
    """Distinct rows of some columns, with summed weights and the map back to the rows.

    Attributes
    ----------
    columns : tuple of numpy.ndarray
        The distinct values, one array per column, in lexicographic order (or, from
        ``compress(..., lexicographic=False)``, grouped by the first column).
    weight : numpy.ndarray of float64
        Summed weight of the rows sharing each pattern.
    inverse : numpy.ndarray of intp
        For every input row, the index of its pattern (``values[inverse]`` expands).
    """

    columns: tuple[NDArray[Any], ...]
    weight: NDArray[np.float64]
    inverse: NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.weight)


def _stable_order(key: NDArray[Any]) -> NDArray[np.intp]:
    """A stable ``argsort``, faster than numpy's for floats.

    Radix sort for whole numbers in [0, 65535], else quicksort with the rows of equal keys
    put back in their input order (one sort of the tied rows).
    """
    if key.dtype.kind in "iuf" and len(key):
        whole = key.dtype.kind in "iu" or bool(np.all(key == np.floor(key)))
        if whole and key.min() >= 0 and key.max() < 65536:
            return np.argsort(key.astype(np.uint16), kind="stable")
    order = np.argsort(key)
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return order
    tied = np.zeros(len(key), dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    positions = np.flatnonzero(tied)
    run = np.cumsum(np.concatenate([[0], ~same]))[positions].astype(np.int64)
    # runs occupy consecutive positions: sorting (run, row) puts each run in row order
    order[positions] = np.sort(run * len(key) + order[positions]) % len(key)
    return order


def lexicographic_order(columns: Sequence[NDArray[Any]]) -> NDArray[np.intp]:
    """Row order sorting ``columns`` lexicographically, the first column the primary key.

    The rows come as from ``numpy.lexsort`` (with the columns reversed), except that rows
    equal in every column may come in another order among themselves. Faster: sort by the
    last column with a quicksort, then stably by each column before it, least significant
    first; stable sorts are radix sorts for small whole numbers (such as frequencies).

    Examples
    --------
    >>> lexicographic_order([np.array([1.0, 0.0, 1.0, 0.0]), np.array([3.0, 9.0, 2.0, 9.0])]).tolist()
    [1, 3, 2, 0]
    """
    order = np.argsort(columns[-1])
    for column in reversed(columns[:-1]):
        order = order[_stable_order(column[order])]
    return order


#: Odd 64-bit constants of the row hash (splitmix64's multipliers).
_HASH = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
)


def _row_hash(columns: Sequence[NDArray[Any]]) -> NDArray[np.uint64]:
    """A 64-bit hash of each row's values (as float64; -0.0 counted as 0.0)."""
    hashed = np.zeros(len(columns[0]), dtype=np.uint64)
    for column in columns:
        bits = (np.asarray(column, dtype=np.float64) + 0.0).view(np.uint64)
        hashed += bits
        hashed *= _HASH[0]
        hashed ^= hashed >> np.uint64(31)
        hashed *= _HASH[1]
        hashed ^= hashed >> np.uint64(29)
    hashed *= _HASH[2]
    return hashed


def grouped_order(columns: Sequence[NDArray[Any]]) -> NDArray[np.intp]:
    """Row order putting equal rows next to each other, sorted by the first column.

    Cheaper than a lexicographic sort: a quicksort of a 64-bit hash of each row, then a
    stable radix sort by the first column when it holds small whole numbers (such as
    frequencies). Rows whose hashes collide without being equal (about one pair in
    :math:`2^{64}/n^2`) are sorted lexicographically among themselves.

    Examples
    --------
    >>> x = np.array([2.0, 0.0, 2.0, 0.0])
    >>> x[grouped_order([x, np.array([5.0, 1.0, 7.0, 1.0])])].tolist()
    [0.0, 0.0, 2.0, 2.0]
    """
    hashed = _row_hash(columns)
    order = np.argsort(hashed)
    ordered = hashed[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        # equal hashes: equal rows, unless a collision; sort any run that mixes rows
        differ = np.zeros(len(same), dtype=bool)
        for column in columns:
            values = column[order]
            differ |= values[1:] != values[:-1]
        clash = same & differ
        if clash.any():
            run = np.concatenate([[0], np.cumsum(~same)])
            mixed = np.isin(run, run[1:][clash])
            rows = order[mixed]
            keys = [np.asarray(run[mixed])] + [column[rows] for column in columns]
            order[mixed] = rows[lexicographic_order(keys)]
    return order[_stable_order(columns[0][order])]


def compress(
    columns: Sequence[NDArray[Any]], weight: NDArray[np.float64], *, lexicographic: bool = True
) -> Patterns:
    """Merge rows with identical values in every column into weighted patterns.

    One sort and a cumulative sum; the log-likelihood of a model summed over the patterns
    with these weights equals its sum over the rows. The patterns come in lexicographic
    order (``lexicographic_order``), or with ``lexicographic=False`` grouped by the first
    column only (``grouped_order``: the same patterns, found about twice as fast).

    Examples
    --------
    >>> p = compress([np.array([1, 0, 1]), np.array([2.0, 0.0, 2.0])], np.array([1.0, 1.0, 3.0]))
    >>> [c.tolist() for c in p.columns], p.weight.tolist(), p.inverse.tolist()
    ([[0, 1], [0.0, 2.0]], [1.0, 4.0], [1, 0, 1])
    """
    n = len(weight)
    if n == 0:
        empty = np.empty(0, dtype=np.intp)
        return Patterns(tuple(c[:0] for c in columns), np.empty(0), empty)
    order = lexicographic_order(columns) if lexicographic else grouped_order(columns)
    new = np.zeros(n, dtype=bool)
    new[0] = True
    ordered = [column[order] for column in columns]
    for column in ordered:
        new[1:] |= column[1:] != column[:-1]
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    summed = np.add.reduceat(weight[order], starts)
    distinct = tuple(c if len(starts) == n else c[starts] for c in ordered)
    return Patterns(distinct, summed, inverse)
