"""The columnar event table and customer table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetimes_to_array
from stickykit.core.records import Customer, Event
from stickykit.frames._columns import (
    check_id,
    check_label,
    check_length,
    check_mask,
    check_no_nat,
    check_typed,
    id_array,
)
from stickykit.frames._rows import RowOps

__all__ = ["CustomerFrame", "EventFrame"]

_OPTIONAL_LABELS = ("order_id", "currency", "kind")


def _as_dict(masks: Mapping[str, NDArray[np.bool_]]) -> dict[str, NDArray[np.bool_]]:
    return dict(masks)


Column = NDArray[Any]


@attrs.frozen(eq=False)
class EventFrame(RowOps):
    """Events as equal-length numpy columns (the bulk form of :class:`~stickykit.core.Event`).

    Parameters
    ----------
    event_id, customer_id : numpy.ndarray
        int64 or unicode ids.
    timestamp : numpy.ndarray
        ``datetime64[us]`` in UTC; NaT is not allowed.
    kind : numpy.ndarray or None
        Unicode event kinds (``None`` = every event a purchase).
    amount : numpy.ndarray or None
        float64 money values (``None`` = no money column).
    quantity : numpy.ndarray or None
        int64 units.
    order_id : numpy.ndarray or None
        int64 or unicode order ids.
    currency : numpy.ndarray or None
        Unicode ISO 4217 codes.
    label_missing : Mapping[str, numpy.ndarray]
        For ``order_id``, ``currency`` and ``kind``: a bool mask, ``True`` where the row has
        no value (the array holds a placeholder there).
    first_row : int
        Input row number of the first row.

    Examples
    --------
    >>> import numpy as np
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([7, 7]),
    ...                timestamp=np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[us]"))
    >>> len(f)
    2
    """

    event_id: Column
    customer_id: Column
    timestamp: NDArray[np.datetime64]
    kind: Column | None = None
    amount: NDArray[np.float64] | None = None
    quantity: NDArray[np.int64] | None = None
    order_id: Column | None = None
    currency: Column | None = None
    label_missing: Mapping[str, NDArray[np.bool_]] = attrs.field(factory=dict, converter=_as_dict)
    first_row: int = 0

    def __attrs_post_init__(self) -> None:
        name = type(self).__name__
        for label, mask in self.label_missing.items():
            if label not in _OPTIONAL_LABELS or getattr(self, label) is None:
                check_typed(name, f"label_missing[{label!r}]", None, "bool (for a present column)")
            check_mask(name, f"label_missing[{label!r}]", mask, len(self.event_id))
        check_id(name, "event_id", self.event_id)
        check_id(name, "customer_id", self.customer_id)
        check_typed(name, "timestamp", self.timestamp, "datetime64[us]")
        check_no_nat(name, "timestamp", self.timestamp, self.first_row)
        if self.kind is not None:
            check_label(name, "kind", self.kind)
        if self.amount is not None:
            check_typed(name, "amount", self.amount, "float64")
        if self.quantity is not None:
            check_typed(name, "quantity", self.quantity, "int64")
        if self.order_id is not None:
            check_id(name, "order_id", self.order_id)
        if self.currency is not None:
            check_label(name, "currency", self.currency)
        check_length(
            name,
            {
                f.name: getattr(self, f.name)
                for f in attrs.fields(EventFrame)
                if f.name not in ("first_row", "label_missing")
            },
        )

    def __len__(self) -> int:
        return len(self.event_id)

    @property
    def time(self) -> NDArray[np.datetime64]:
        """The time column the engine filters on with ``as_of``."""
        return self.timestamp

    def _map(self, fn: Callable[[Column], Column], first_row: int) -> EventFrame:
        values = {
            f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
            for f in attrs.fields(EventFrame)
            if f.name not in ("first_row", "label_missing")
        }
        masks = {k: fn(v) for k, v in self.label_missing.items()}
        return EventFrame(**values, label_missing=masks, first_row=first_row)  # type: ignore[arg-type]

    @classmethod
    def from_records(cls, records: Sequence[Event]) -> EventFrame:
        """Build a frame from :class:`~stickykit.core.records.Event` records.

        Examples
        --------
        >>> import datetime as dt
        >>> from stickykit.core import Event
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> EventFrame.from_records([Event(event_id=1, customer_id=2, timestamp=t, amount=3.5)]).amount
        array([3.5])
        """
        name = cls.__name__
        optional: dict[str, Column | None] = {}
        missing: dict[str, NDArray[np.bool_]] = {}
        for label in ("order_id", "currency"):
            raw = [getattr(r, label) for r in records]
            present = [value for value in raw if value is not None]
            if not present:
                optional[label] = None
                continue
            optional[label] = id_array([present[0] if v is None else v for v in raw], name, label)
            absent = np.array([v is None for v in raw], dtype=bool)
            if absent.any():
                missing[label] = absent
        return cls(
            event_id=id_array([r.event_id for r in records], name, "event_id"),
            customer_id=id_array([r.customer_id for r in records], name, "customer_id"),
            timestamp=datetimes_to_array([r.timestamp for r in records]),
            kind=np.array([r.kind for r in records], dtype=str),
            amount=np.array([r.amount for r in records], dtype=np.float64),
            quantity=np.array([r.quantity for r in records], dtype=np.int64),
            label_missing=missing,
            **optional,  # type: ignore[arg-type]
        )


@attrs.frozen(eq=False)
class CustomerFrame(RowOps):
    """Customers as equal-length numpy columns.

    Parameters
    ----------
    customer_id : numpy.ndarray
        int64 or unicode ids.
    acquired_at : numpy.ndarray or None
        ``datetime64[us]`` in UTC, NaT where unknown.
    segment : numpy.ndarray or None
        int64 or unicode labels.
    first_row : int
        Input row number of the first row.

    Examples
    --------
    >>> import numpy as np
    >>> len(CustomerFrame(customer_id=np.array(["a", "b"])))
    2
    """

    customer_id: Column
    acquired_at: NDArray[np.datetime64] | None = None
    segment: Column | None = None
    first_row: int = 0

    def __attrs_post_init__(self) -> None:
        name = type(self).__name__
        check_id(name, "customer_id", self.customer_id)
        if self.acquired_at is not None:
            check_typed(name, "acquired_at", self.acquired_at, "datetime64[us]")
        if self.segment is not None:
            check_label(name, "segment", self.segment)
        check_length(
            name,
            {
                "customer_id": self.customer_id,
                "acquired_at": self.acquired_at,
                "segment": self.segment,
            },
        )

    def __len__(self) -> int:
        return len(self.customer_id)

    def _map(self, fn: Callable[[Column], Column], first_row: int) -> CustomerFrame:
        return CustomerFrame(
            customer_id=fn(self.customer_id),
            acquired_at=None if self.acquired_at is None else fn(self.acquired_at),
            segment=None if self.segment is None else fn(self.segment),
            first_row=first_row,
        )

    @classmethod
    def from_records(cls, records: Sequence[Customer]) -> CustomerFrame:
        """Build a frame from :class:`~stickykit.core.records.Customer` records.

        Examples
        --------
        >>> from stickykit.core import Customer
        >>> CustomerFrame.from_records([Customer(customer_id=1)]).customer_id
        array([1])
        """
        name = cls.__name__
        times = [r.acquired_at for r in records]
        segments = [r.segment for r in records]
        return cls(
            customer_id=id_array([r.customer_id for r in records], name, "customer_id"),
            acquired_at=datetimes_to_array(times) if any(t is not None for t in times) else None,
            segment=id_array(segments, name, "segment")
            if segments and all(s is not None for s in segments)
            else None,
        )
