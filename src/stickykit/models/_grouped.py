r"""Patterns arranged by frequency, so that terms of the frequency alone are computed once.

In the likelihoods of the buy-till-you-die models many terms depend on a customer's
frequency :math:`x` only (:math:`\ln\Gamma(r + x)`, :math:`B(a, b + x)`, the coefficients
of a hypergeometric series...). :class:`FrequencyGroups` orders the patterns by frequency
(they usually already are: :func:`~stickykit.models.compress` sorts lexicographically, the
frequency first) and records where each frequency starts, so that such a term is evaluated
once per distinct frequency (a few hundred values among millions of customers), spread
back with :func:`numpy.repeat`, and sums over a group are one :func:`numpy.add.reduceat`.

Examples
--------
>>> import numpy as np
>>> g = FrequencyGroups.build(np.array([0.0, 0.0, 2.0, 5.0, 5.0]), np.ones(5))
>>> g.values.tolist(), g.counts.tolist(), g.weight.tolist()
([0.0, 2.0, 5.0], [2, 1, 2], [2.0, 1.0, 2.0])
>>> g.spread(np.array([10.0, 20.0, 30.0])).tolist()
[10.0, 10.0, 20.0, 30.0, 30.0]
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

__all__ = ["FrequencyGroups", "dot"]

Array = NDArray[np.float64]


def dot(a: Array, b: Array) -> float:
    """``a @ b`` of two long vectors without BLAS.

    OpenBLAS splits a long dot product over threads, which on a busy machine makes it slower
    than a single-threaded loop; ``numpy.einsum`` does not.

    Examples
    --------
    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    """
    return float(np.einsum("i,i->", a, b))


@attrs.frozen(eq=False)
class FrequencyGroups:
    """Where each distinct frequency starts among patterns ordered by frequency.

    Attributes
    ----------
    order : numpy.ndarray of intp or None
        The permutation that orders the patterns by frequency (stable); ``None`` when they
        already are (then :meth:`arrange` returns its argument unchanged).
    values : numpy.ndarray
        The distinct frequencies, increasing.
    starts, counts : numpy.ndarray of intp
        First row and number of rows of each frequency, in the arranged order.
    weight : numpy.ndarray
        Summed weight of each frequency.

    Examples
    --------
    >>> g = FrequencyGroups.build(np.array([1.0, 1.0, 4.0]), np.array([0.5, 0.5, 2.0]))
    >>> g.values.tolist(), g.starts.tolist(), g.counts.tolist(), g.weight.tolist()
    ([1.0, 4.0], [0, 2], [2, 1], [1.0, 2.0])
    """

    order: NDArray[np.intp] | None
    values: Array
    starts: NDArray[np.intp]
    counts: NDArray[np.intp]
    weight: Array

    @classmethod
    def build(cls, x: Array, weight: Array | None = None) -> FrequencyGroups:
        """Group the rows by frequency ``x`` (one stable sort, skipped when ``x`` is sorted).

        ``weight``: the rows' weights (``None``: 1 each).

        Examples
        --------
        >>> g = FrequencyGroups.build(np.array([3.0, 1.0, 3.0]), np.array([1.0, 2.0, 4.0]))
        >>> g.order.tolist(), g.values.tolist(), g.weight.tolist()
        ([1, 0, 2], [1.0, 3.0], [2.0, 5.0])
        """
        x = np.asarray(x, dtype=np.float64)
        order: NDArray[np.intp] | None = None
        if np.any(x[1:] < x[:-1]):
            order = np.argsort(x, kind="stable")
            x = x[order]
            weight = None if weight is None else weight[order]
        n = len(x)
        new = np.ones(n, dtype=bool)
        new[1:] = x[1:] != x[:-1]
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, n))
        if weight is None:
            summed = counts.astype(np.float64)
        else:
            summed = np.add.reduceat(weight, starts) if n else np.empty(0)
        return cls(order, x[starts], starts, counts, np.asarray(summed, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.values)

    def arrange(self, column: Array) -> Array:
        """``column`` in the order of the groups.

        Examples
        --------
        >>> g = FrequencyGroups.build(np.array([3.0, 1.0]), np.ones(2))
        >>> g.arrange(np.array([30.0, 10.0])).tolist()
        [10.0, 30.0]
        """
        return column if self.order is None else column[self.order]

    def spread(self, per_group: Array, first: int = 0) -> Array:
        """One value per group, repeated over the group's rows (groups from ``first`` on).

        Examples
        --------
        >>> g = FrequencyGroups.build(np.array([0.0, 1.0, 1.0]), np.ones(3))
        >>> g.spread(np.array([7.0]), first=1).tolist()
        [7.0, 7.0]
        """
        return np.repeat(per_group, self.counts[first:])

    def sums(self, rows: Array, first: int = 0) -> Array:
        """Per-group sums of ``rows`` (the arranged rows of groups ``first`` on).

        Examples
        --------
        >>> g = FrequencyGroups.build(np.array([0.0, 1.0, 1.0]), np.ones(3))
        >>> g.sums(np.array([1.0, 2.0, 3.0])).tolist(), g.sums(np.array([2.0, 3.0]), 1).tolist()
        ([1.0, 5.0], [5.0])
        """
        if not len(rows):
            return np.zeros(len(self) - first)
        starts = self.starts[first:] - self.starts[first]
        return np.asarray(np.add.reduceat(rows, starts), dtype=np.float64)
