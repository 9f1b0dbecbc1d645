"""Validation rules as vectorised boolean masks.

A rule looks at a whole column at once and returns the rows that break it. Every failing rule
is collected for every row (nothing stops at the first error); :mod:`stickykit.io.quarantine`
turns the collected :class:`Violation` records into an error or a quarantine.

Examples
--------
>>> import numpy as np
>>> v = violation("nps", np.array([3, 11, -1]) > 10, np.array([3, 11, -1]),
...               "an integer in [0, 10]")
>>> v.rows.tolist(), v.describe(0)
([1], 'nps @ row 1: 11 is invalid, expected an integer in [0, 10]')
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

__all__ = ["Violation", "violation"]


@attrs.frozen(eq=False)
class Violation:
    """Rows that break one rule on one field.

    Parameters
    ----------
    field : str
        The field or column.
    rows : numpy.ndarray
        0-based input row numbers (int64), ascending.
    values : numpy.ndarray
        The offending value of each row.
    expected : str
        What the field accepts.
    """

    field: str
    rows: NDArray[np.int64]
    values: NDArray[Any]
    expected: str

    def __len__(self) -> int:
        return len(self.rows)

    def value(self, i: int) -> Any:
        """The ``i``-th offending value as a plain Python object."""
        value = self.values[i]
        return value.item() if isinstance(value, np.generic) else value

    def describe(self, i: int) -> str:
        """One line for the ``i``-th failing row: ``field @ row R: value is invalid, expected ...``."""
        return (
            f"{self.field} @ row {int(self.rows[i])}: {self.value(i)!r} is invalid, "
            f"expected {self.expected}"
        )


def violation(
    field: str,
    bad: NDArray[np.bool_],
    values: NDArray[Any],
    expected: str,
    first_row: int = 0,
) -> Violation | None:
    """Build a :class:`Violation` from a mask of failing rows, or ``None`` if none fail."""
    where = np.flatnonzero(bad)
    if where.size == 0:
        return None
    return Violation(
        field=field,
        rows=(where + first_row).astype(np.int64),
        values=np.asarray(values)[where],
        expected=expected,
    )
