"""Data-quality records: rows read, accepted and quarantined per source, with the reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

__all__ = ["MAX_EXAMPLES", "QualityRecord", "quality_record"]

#: Example rejected rows shown per source.
MAX_EXAMPLES: Final = 10
#: Example rows taken from each failing rule.
_PER_RULE: Final = 3


@attrs.frozen
class QualityRecord:
    """What happened to the rows of one source on the way into the report.

    Parameters
    ----------
    source : str
        The source's label (``"events"``, ``"survey"``, a file name).
    rows_read : int
    accepted : int
    quarantined : int
        Rows set aside (``rows_read == accepted + quarantined`` is checked).
    by_rule : tuple of (str, int, str)
        Per failing rule: field, rows failing it, what it expects (``""`` if unknown).
    examples : tuple of (int, str, object, str)
        The first rejected rows: row, field, value, what was expected.
    note : str
        A remark on the source (how it was checked).

    Examples
    --------
    >>> from stickykit.io import load_survey
    >>> res = load_survey({"nps": [10, 11, None]}, items=["nps"], scales={"nps": (0, 10)},
    ...                   errors="quarantine")
    >>> r = quality_record("survey", res)
    >>> r.rows_read, r.accepted, r.quarantined, r.by_rule
    (3, 2, 1, (('nps', 1, 'an integer in [0, 10]'),))
    >>> r.examples
    ((1, 'nps', 11, 'an integer in [0, 10]'),)
    """

    source: str
    rows_read: int
    accepted: int
    quarantined: int
    by_rule: tuple[tuple[str, int, str], ...] = ()
    examples: tuple[tuple[int, str, Any, str], ...] = ()
    note: str = ""

    def __attrs_post_init__(self) -> None:
        if min(self.rows_read, self.accepted, self.quarantined) < 0:
            raise ValueError("row counts must be >= 0")
        if self.accepted + self.quarantined != self.rows_read:
            msg = (
                f"{self.source}: {self.accepted} accepted + {self.quarantined} quarantined != "
                f"{self.rows_read} rows read"
            )
            raise ValueError(msg)


def _from_violations(violations: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    by_rule = tuple((v.field, len(v), v.expected) for v in violations if len(v))
    examples = [
        (int(v.rows[i]), v.field, v.value(i), v.expected)
        for v in violations
        for i in range(min(len(v), _PER_RULE))
    ]
    examples.sort(key=lambda e: (e[0], e[1]))
    return by_rule, tuple(examples[:MAX_EXAMPLES])


def quality_record(source: str, info: Any) -> QualityRecord:
    """A :class:`QualityRecord` from what loading returned.

    Parameters
    ----------
    source : str
        The source's label.
    info : LoadResult, ReadSummary, ExportReport, QualityRecord or mapping
        A :class:`~stickykit.io.LoadResult` (``errors="quarantine"``), a
        :class:`~stickykit.io.ReadSummary` (files read in batches), an
        :class:`~stickykit.io.ExportReport` (:func:`~stickykit.io.clean_transactions`), or
        a mapping with ``rows_read``, ``accepted``, ``quarantined`` and optionally
        ``reasons`` (a list of ``(field, rows, expected)``) and ``note``.

    Examples
    --------
    >>> quality_record("orders.csv", {"rows_read": 5, "accepted": 4, "quarantined": 1,
    ...                               "reasons": [("amount", 1, "a number >= 0")]}).by_rule
    (('amount', 1, 'a number >= 0'),)
    """
    from stickykit.io import ExportReport, LoadResult, ReadSummary  # noqa: PLC0415

    if isinstance(info, QualityRecord):
        return attrs.evolve(info, source=source)
    if isinstance(info, LoadResult):
        by_rule, examples = _from_violations(info.violations)
        return QualityRecord(
            source, info.n_input, info.n_accepted, info.n_rejected, by_rule, examples
        )
    if isinstance(info, ReadSummary):
        rules = tuple((field, count, "") for field, count in info.rejected_by_field.items())
        examples = tuple((r.row, r.field, r.value, r.expected) for r in info.reasons[:MAX_EXAMPLES])
        return QualityRecord(source, info.n_read, info.n_accepted, info.n_rejected, rules, examples)
    if isinstance(info, ExportReport):
        by_rule, examples = _from_violations(info.violations)
        policies = info.policies
        dropped = tuple(
            (name, count, f"policy {policies[name]!r}" if name in policies else "")
            for name, count in info.counts.items()
            if count and name != "invalid"
        )
        return QualityRecord(
            source,
            info.n_input,
            info.n_kept,
            info.n_input - info.n_kept,
            by_rule + dropped,
            examples,
        )
    if isinstance(info, Mapping):
        reasons = tuple((str(f), int(c), str(e)) for f, c, e in info.get("reasons", ()))
        return QualityRecord(
            source,
            int(info["rows_read"]),
            int(info["accepted"]),
            int(info["quarantined"]),
            reasons,
            note=str(info.get("note", "")),
        )
    msg = (
        f"quality[{source!r}] must be a LoadResult, ReadSummary, ExportReport, QualityRecord "
        f"or a mapping with rows_read, accepted and quarantined; got {type(info).__name__}"
    )
    raise TypeError(msg)
