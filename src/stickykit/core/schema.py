"""Column facts shared by records and frames.

Each field of :class:`~stickykit.core.records.Event`, :class:`~stickykit.core.records.Customer`
and :class:`~stickykit.core.records.Survey` carries a :class:`ColumnSpec` in its attrs
``metadata`` under :data:`COLUMN`. The columnar frames derive their schema from those fields,
so a record and its frame cannot drift apart.

Examples
--------
>>> from stickykit.core.records import Event
>>> columns(Event)["amount"].dtype
'float64'
"""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs

__all__ = ["COLUMN", "SOURCE_FIELDS", "ColumnKind", "ColumnSpec", "column", "columns"]

#: The attrs ``metadata`` key under which a field's :class:`ColumnSpec` is stored.
COLUMN: Final = "stickykit.column"

#: The fields a source of each input kind may name (the ``columns=`` fields of its loader:
#: the record's fields, a survey's items aside).
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "events": (
        "event_id",
        "customer_id",
        "timestamp",
        "kind",
        "amount",
        "quantity",
        "order_id",
        "currency",
    ),
    "survey": (
        "respondent_id",
        "customer_id",
        "instrument",
        "answered_at",
        "weight",
        "wave",
        "segment",
        "comment",
    ),
    "customers": ("customer_id", "acquired_at", "segment"),
}

ColumnKind = Literal["id", "time", "money", "count", "weight", "label", "text", "answers"]


@attrs.frozen
class ColumnSpec:
    """How one record field is stored in a columnar frame.

    Parameters
    ----------
    kind : str
        ``"id"`` (int64 or unicode), ``"time"`` (datetime64[us], UTC), ``"money"`` (float64),
        ``"count"`` (int64), ``"weight"`` (float64), ``"label"`` (int64 or unicode group label),
        ``"text"`` (unicode) or ``"answers"`` (int8 per item with a missing mask).
    dtype : str
        The numpy dtype of the column, or ``"int64|unicode"`` where either is accepted.
    required : bool
        Whether a frame must have the column.
    unit : str or None
        The unit, for money and time columns.

    Examples
    --------
    >>> ColumnSpec(kind="money", dtype="float64", required=False).required
    False
    """

    kind: ColumnKind
    dtype: str
    required: bool = True
    unit: str | None = None


def column(
    kind: ColumnKind, dtype: str, *, required: bool = True, unit: str | None = None
) -> dict[str, Any]:
    """Build the ``metadata`` mapping that marks an attrs field as a column.

    Examples
    --------
    >>> column("count", "int64")[COLUMN].kind
    'count'
    """
    return {COLUMN: ColumnSpec(kind=kind, dtype=dtype, required=required, unit=unit)}


def columns(record_type: type) -> dict[str, ColumnSpec]:
    """Return the column specs of a record type, in field order.

    Examples
    --------
    >>> from stickykit.core.records import Customer
    >>> list(columns(Customer))
    ['customer_id', 'acquired_at', 'segment']
    """
    return {
        field.name: field.metadata[COLUMN]
        for field in attrs.fields(record_type)
        if COLUMN in field.metadata
    }
