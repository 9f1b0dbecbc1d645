"""The columnar survey table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetimes_to_array
from stickykit.core.records import Survey
from stickykit.frames._columns import (
    TEXT_DTYPE,
    check_id,
    check_label,
    check_length,
    check_mask,
    check_typed,
    id_array,
)
from stickykit.frames._rows import RowOps

__all__ = ["SurveyFrame"]

_LABELS = ("customer_id", "wave", "segment", "instrument")


def _freeze(mapping: Mapping[str, NDArray[Any]]) -> Mapping[str, NDArray[Any]]:
    return dict(mapping)


@attrs.frozen(eq=False)
class SurveyFrame(RowOps):
    """Survey responses as equal-length numpy columns.

    Answers are ``int8`` per item (a 0-10 or 1-7 scale fits; no float copy is ever made), with a
    boolean mask per item that has unanswered rows (``True`` = missing). The frame is the strict
    layer: it accepts exactly typed arrays; :func:`stickykit.io.load_survey` converts anything else.

    Parameters
    ----------
    answers : Mapping[str, numpy.ndarray]
        Item name to int8 answers.
    respondent_id : numpy.ndarray or None
        int64 or unicode ids, one per row; ``None`` for anonymous responses.
    answer_missing : Mapping[str, numpy.ndarray]
        Item name to bool mask, ``True`` where the item was not answered; items absent here
        were answered by every row.
    customer_id, wave, segment, instrument : numpy.ndarray or None
        Optional int64 or unicode label columns.
    answered_at : numpy.ndarray or None
        ``datetime64[us]`` in UTC, NaT where unknown.
    weight : numpy.ndarray or None
        float64 respondent weights (``None`` = all 1).
    comment : numpy.ndarray or None
        Free text (numpy ``StringDType``, ``None`` = no comment).
    label_missing : Mapping[str, numpy.ndarray]
        Column name to bool mask for label columns with missing values.
    first_row : int
        Input row number of this frame's first row (set when a frame is sliced into chunks).

    Examples
    --------
    >>> import numpy as np
    >>> f = SurveyFrame(respondent_id=np.arange(3), answers={"nps": np.array([10, 6, 8], np.int8)})
    >>> len(f), f.items
    (3, ('nps',))
    """

    answers: Mapping[str, NDArray[np.int8]] = attrs.field(converter=_freeze)
    respondent_id: NDArray[Any] | None = None
    answer_missing: Mapping[str, NDArray[np.bool_]] = attrs.field(factory=dict, converter=_freeze)
    customer_id: NDArray[Any] | None = None
    instrument: NDArray[Any] | None = None
    answered_at: NDArray[np.datetime64] | None = None
    weight: NDArray[np.float64] | None = None
    wave: NDArray[Any] | None = None
    segment: NDArray[Any] | None = None
    comment: NDArray[Any] | None = None
    label_missing: Mapping[str, NDArray[np.bool_]] = attrs.field(factory=dict, converter=_freeze)
    first_row: int = 0

    def __attrs_post_init__(self) -> None:
        name = type(self).__name__
        if not self.answers:
            check_typed(name, "answers", None, "int8 (at least one item)")
        if self.respondent_id is not None:
            check_id(name, "respondent_id", self.respondent_id)
        for item, values in self.answers.items():
            check_typed(name, f"answers[{item!r}]", values, "int8")
        for label in _LABELS:
            column = getattr(self, label)
            if column is not None:
                check_label(name, label, column)
        if self.answered_at is not None:
            check_typed(name, "answered_at", self.answered_at, "datetime64[us]")
        if self.weight is not None:
            check_typed(name, "weight", self.weight, "float64")
        if self.comment is not None:
            check_typed(name, "comment", self.comment, TEXT_DTYPE)
        columns = {"respondent_id": self.respondent_id, **self.answers}
        columns.update({label: getattr(self, label) for label in _LABELS})
        columns.update(answered_at=self.answered_at, weight=self.weight, comment=self.comment)
        n = check_length(name, columns)
        for item, mask in self.answer_missing.items():
            if item not in self.answers:
                check_typed(name, f"answer_missing[{item!r}]", None, "bool (for a known item)")
            check_mask(name, f"answer_missing[{item!r}]", mask, n)
        for label, mask in self.label_missing.items():
            if label not in _LABELS or getattr(self, label) is None:
                check_typed(name, f"label_missing[{label!r}]", None, "bool (for a present label)")
            check_mask(name, f"label_missing[{label!r}]", mask, n)

    def __len__(self) -> int:
        return len(next(iter(self.answers.values())))

    @property
    def items(self) -> tuple[str, ...]:
        """The answered item names, in column order."""
        return tuple(self.answers)

    def answered(self, item: str) -> NDArray[np.bool_] | None:
        """Mask of rows that answered ``item``, or ``None`` when every row did."""
        missing = self.answer_missing.get(item)
        return None if missing is None else ~missing

    def _map(self, fn: Any, first_row: int) -> SurveyFrame:
        def apply(col: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if col is None else fn(col)

        return SurveyFrame(
            respondent_id=apply(self.respondent_id),
            answers={k: fn(col) for k, col in self.answers.items()},
            answer_missing={k: fn(col) for k, col in self.answer_missing.items()},
            customer_id=apply(self.customer_id),
            instrument=apply(self.instrument),
            answered_at=apply(self.answered_at),
            weight=apply(self.weight),
            wave=apply(self.wave),
            segment=apply(self.segment),
            comment=apply(self.comment),
            label_missing={k: fn(col) for k, col in self.label_missing.items()},
            first_row=first_row,
        )

    @classmethod
    def from_records(cls, records: Sequence[Survey]) -> SurveyFrame:
        """Build a frame from :class:`~stickykit.core.records.Survey` records.

        The items are the union of every record's answer keys; an item a record lacks is
        missing for that row.

        Examples
        --------
        >>> from stickykit.core import Survey
        >>> f = SurveyFrame.from_records([Survey(respondent_id=1, answers={"nps": 9}),
        ...                               Survey(respondent_id=2, answers={"csat": 4})])
        >>> f.answers["nps"].tolist(), f.answer_missing["nps"].tolist()
        ([9, 0], [False, True])
        """
        name = cls.__name__
        items: dict[str, None] = {}
        for record in records:
            items.update(dict.fromkeys(record.answers))
        answers: dict[str, NDArray[np.int8]] = {}
        missing: dict[str, NDArray[np.bool_]] = {}
        for item in items:
            raw = [record.answers.get(item) for record in records]
            absent = np.array([value is None for value in raw], dtype=bool)
            answers[item] = np.array([0 if v is None else v for v in raw], dtype=np.int8)
            if absent.any():
                missing[item] = absent
        label_columns: dict[str, NDArray[Any] | None] = {}
        label_missing: dict[str, NDArray[np.bool_]] = {}
        for label in ("customer_id", "wave", "segment"):
            raw_labels = [getattr(record, label) for record in records]
            present = [value for value in raw_labels if value is not None]
            if not present:
                label_columns[label] = None
                continue
            filler = present[0]
            label_columns[label] = id_array(
                [filler if value is None else value for value in raw_labels], name, label
            )
            absent = np.array([value is None for value in raw_labels], dtype=bool)
            if absent.any():
                label_missing[label] = absent
        times = [record.answered_at for record in records]
        comments = [record.comment for record in records]
        weights = np.array([record.weight for record in records], dtype=np.float64)
        return cls(
            respondent_id=id_array([r.respondent_id for r in records], name, "respondent_id"),
            answers=answers,
            answer_missing=missing,
            instrument=np.array([r.instrument for r in records], dtype=str),
            answered_at=datetimes_to_array(times) if any(t is not None for t in times) else None,
            weight=weights if np.any(weights != 1.0) else None,
            comment=np.array(comments, dtype=TEXT_DTYPE) if any(comments) else None,
            label_missing=label_missing,
            **label_columns,  # type: ignore[arg-type]
        )
