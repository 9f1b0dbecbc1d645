"""Turning rule violations into an error or a quarantine.

``errors="raise"`` raises :class:`~stickykit.errors.ValidationError` for the first failing row
and says how many rows fail in all. ``errors="quarantine"`` returns a :class:`LoadResult`: the
accepted rows as a frame, the rejected row numbers, and one reason per failing (row, rule).
``n_accepted + n_rejected == n_input`` is checked whenever a result is built.

Examples
--------
>>> import numpy as np
>>> from stickykit.io.validate import violation
>>> v = violation("nps", np.array([False, True]), np.array([5, 12]), "an integer in [0, 10]")
>>> rejected_rows([v], 2).tolist()
[1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.errors import ValidationError
from stickykit.io.validate import Violation

__all__ = ["Errors", "LoadResult", "ReadSummary", "Reason", "raise_first", "rejected_rows"]

Errors = Literal["raise", "quarantine"]
F = TypeVar("F")


@attrs.frozen
class Reason:
    """Why one input row was rejected by one rule."""

    row: int
    field: str
    value: Any
    expected: str
    source: str = ""

    def __str__(self) -> str:
        text = f"{self.field} @ row {self.row}: {self.value!r} is invalid, expected {self.expected}"
        return f"{self.source}: {text}" if self.source else text


def _check_errors(errors: str) -> None:
    if errors not in ("raise", "quarantine"):
        msg = f"errors must be 'raise' or 'quarantine', got {errors!r}"
        raise ValueError(msg)


def rejected_rows(violations: Sequence[Violation], n_input: int) -> NDArray[np.int64]:
    """Sorted unique input rows that fail at least one rule."""
    del n_input
    if not violations:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate([v.rows for v in violations]))


def raise_first(record: str, violations: Sequence[Violation]) -> None:
    """Raise a :class:`ValidationError` for the lowest failing row, if any rule failed."""
    violations = [v for v in violations if len(v)]
    if not violations:
        return
    first = min(violations, key=lambda v: int(v.rows[0]))
    n_failing = len(rejected_rows(violations, 0))
    raise ValidationError(
        record=record,
        field=first.field,
        row=int(first.rows[0]),
        value=first.value(0),
        expected=first.expected,
        n_failing=n_failing,
    )


@attrs.frozen(eq=False)
class LoadResult(Generic[F]):
    """The outcome of loading with ``errors="quarantine"``.

    Parameters
    ----------
    accepted : frame
        The rows that passed every rule.
    rejected : numpy.ndarray
        Sorted 0-based input row numbers that failed at least one rule.
    violations : tuple of Violation
        Every failing rule, with its rows and values.
    n_input : int
        Rows that came in.
    rejected_values : Mapping[str, numpy.ndarray]
        The input columns at the rejected rows, as they came in (for export or repair).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.io import load_survey
    >>> res = load_survey({"respondent_id": [1, 2, 3], "nps": [9, 11, None]}, items=["nps"],
    ...                   scales={"nps": (0, 10)}, errors="quarantine")
    >>> res.n_accepted, res.n_rejected, res.n_input
    (2, 1, 3)
    >>> print(res.reasons[0])
    nps @ row 1: 11 is invalid, expected an integer in [0, 10]
    >>> res.rejected_values["nps"].tolist()
    [11]
    """

    accepted: F
    rejected: NDArray[np.int64]
    violations: tuple[Violation, ...]
    n_input: int
    rejected_values: Mapping[str, NDArray[Any]] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.n_accepted + self.n_rejected != self.n_input:
            msg = (
                f"internal error: {self.n_accepted} accepted + {self.n_rejected} rejected "
                f"!= {self.n_input} input rows"
            )
            raise AssertionError(msg)

    @property
    def n_accepted(self) -> int:
        """Rows accepted."""
        return len(self.accepted)  # type: ignore[arg-type]

    @property
    def n_rejected(self) -> int:
        """Rows rejected."""
        return len(self.rejected)

    @property
    def reasons(self) -> list[Reason]:
        """One reason per failing (row, rule), ordered by row then field."""
        out = [
            Reason(row=int(v.rows[i]), field=v.field, value=v.value(i), expected=v.expected)
            for v in self.violations
            for i in range(len(v))
        ]
        out.sort(key=lambda r: (r.row, r.field))
        return out

    def summary(self) -> str:
        """A short text: counts in, accepted, rejected, and rejected rows per rule."""
        lines = [
            f"{self.n_input:,} rows read, {self.n_accepted:,} accepted, {self.n_rejected:,} rejected"
        ]
        lines += [f"  {v.field}: {len(v):,} rows, expected {v.expected}" for v in self.violations]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"LoadResult(n_input={self.n_input}, n_accepted={self.n_accepted}, "
            f"n_rejected={self.n_rejected})"
        )


def resolve(
    record: str,
    violations: Sequence[Violation],
    n_input: int,
    errors: str,
    build: Any,
    source_columns: Mapping[str, NDArray[Any]] | None = None,
) -> Any:
    """Raise, or build the accepted frame and wrap it in a :class:`LoadResult`.

    ``build(keep)`` builds the frame from a boolean mask of rows to keep (``None`` = all);
    ``source_columns`` are the input columns, whose rejected rows the result keeps.
    """
    _check_errors(errors)
    violations = [v for v in violations if len(v)]
    if errors == "raise":
        raise_first(record, violations)
        return build(None)
    rejected = rejected_rows(violations, n_input)
    keep = None
    if rejected.size:
        keep = np.ones(n_input, dtype=bool)
        keep[rejected] = False
    rejected_values = {name: col[rejected] for name, col in (source_columns or {}).items()}
    return LoadResult(
        accepted=build(keep),
        rejected=rejected,
        violations=tuple(violations),
        n_input=n_input,
        rejected_values=rejected_values,
    )


#: Reasons a :class:`ReadSummary` keeps word for word; counts are always complete.
MAX_REASONS = 1_000


@attrs.define(eq=False)
class ReadSummary:
    """Rows read, accepted and rejected over every batch of a source, with reasons.

    ``n_accepted + n_rejected == n_read`` holds after every batch. Counts per rule are complete;
    the reasons themselves are kept for the first 1,000 failures (by batch order), so that a
    file with millions of bad rows does not fill memory.

    Parameters
    ----------
    n_read, n_accepted, n_rejected : int
        Rows.
    n_batches : int
        Batches read.
    rejected_by_field : dict of str to int
        Rows failing each rule's field (a row failing two rules counts under both).
    reasons : list of Reason
        The first failures, each naming source, batch, row, field and value.

    Examples
    --------
    >>> a = ReadSummary(n_read=3, n_accepted=2, n_rejected=1, n_batches=1,
    ...                 rejected_by_field={"amount": 1})
    >>> b = ReadSummary(n_read=2, n_accepted=2, n_batches=1)
    >>> print(a.merge(b).summary())
    5 rows read in 2 batches, 4 accepted, 1 rejected
      amount: 1 rows
    """

    n_read: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    n_batches: int = 0
    rejected_by_field: dict[str, int] = attrs.field(factory=dict)
    reasons: list[Reason] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        if self.n_accepted + self.n_rejected != self.n_read:
            msg = (
                f"internal error: {self.n_accepted} accepted + {self.n_rejected} rejected "
                f"!= {self.n_read} rows read"
            )
            raise AssertionError(msg)

    def merge(self, other: ReadSummary) -> ReadSummary:
        """The summary of this source's batches followed by ``other``'s."""
        by_field = dict(self.rejected_by_field)
        for field, count in other.rejected_by_field.items():
            by_field[field] = by_field.get(field, 0) + count
        return ReadSummary(
            n_read=self.n_read + other.n_read,
            n_accepted=self.n_accepted + other.n_accepted,
            n_rejected=self.n_rejected + other.n_rejected,
            n_batches=self.n_batches + other.n_batches,
            rejected_by_field=by_field,
            reasons=(self.reasons + other.reasons)[:MAX_REASONS],
        )

    def summary(self) -> str:
        """A short text: rows read, accepted, rejected, and rejected rows per rule."""
        head = (
            f"{self.n_read:,} rows read in {self.n_batches:,} batches, "
            f"{self.n_accepted:,} accepted, {self.n_rejected:,} rejected"
        )
        lines = [head]
        lines += [f"  {field}: {count:,} rows" for field, count in self.rejected_by_field.items()]
        return "\n".join(lines)
