"""The event convention of the programme measures and the mergeable ledger they share.

Programme and complaint events arrive in an ordinary :class:`~stickykit.frames.EventFrame`:
the ``kind`` says what happened, ``quantity`` carries points and ``order_id`` a tier name or a
complaint id (the table is in :mod:`stickykit.metrics.programme`). :data:`KIND_CODES` numbers
the programme kinds; rows of other kinds are not programme events. An integer ``order_id``
column works too: its values are read as text (tier ``1``, complaint ``17``).

The :class:`Ledger` holds the programme events of the chosen kinds aggregated by
(customer, time, kind, label): summed points, the number of input events and the lowest input
row, sorted by that key. Merging two ledgers concatenates and aggregates again, so any split
of the rows gives the same ledger; sequences (a points balance, a complaint's opening and
resolution) are read from the merged, sorted ledger in ``finalize``. At one instant the
kinds apply in the order of :data:`KIND_CODES`: enrolment before churn, points earned before
points expired or redeemed, a complaint opened before it is resolved.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([7, 7, 7]),
...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-02-01"],
...                                   dtype="datetime64[us]"),
...                kind=np.array(["points_earned", "points_earned", "points_redeemed"]),
...                quantity=np.array([100, 50, 120]))
>>> ledger, entry = build_ledger(f, POINTS_CODES)
>>> ledger.points.tolist(), ledger.events.tolist(), entry.tolist()
([150, 120], [2, 1], [0, 0, 1])
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetime_to_us, us_to_datetime
from stickykit.core.arrays import unique_codes
from stickykit.frames import EventFrame
from stickykit.io.events import currency_violations
from stickykit.io.validate import Violation, violation
from stickykit.metrics.base import DIAGNOSTIC
from stickykit.stats.intervals import check_alpha

__all__ = [
    "CHURNED",
    "COMPLAINT_CODES",
    "CONTACT",
    "EARNED",
    "ENROLLED",
    "EXPIRED",
    "KIND_CODES",
    "LABEL_CODES",
    "MEMBERSHIP_CODES",
    "NO_TIME",
    "OPENED",
    "POINTS_CODES",
    "REDEEMED",
    "RESOLVED",
    "TIER",
    "TIER_CODES",
    "UNENROLLED",
    "US_PER_DAY",
    "Ledger",
    "activity_violations",
    "alpha_field",
    "build_ledger",
    "customer_index",
    "instant",
    "kind_codes",
    "merge_ledgers",
    "merge_seen",
    "nonnegative_days",
    "positive_days",
    "row_violations",
    "seen_customers",
    "state_as_of",
]

ENROLLED = "enrolled"
UNENROLLED = "unenrolled"
CHURNED = "churned"
EARNED = "points_earned"
EXPIRED = "points_expired"
REDEEMED = "points_redeemed"
TIER = "tier_changed"
OPENED = "complaint_opened"
CONTACT = "complaint_contact"
RESOLVED = "complaint_resolved"

#: Programme kinds and their codes; at one instant events apply in this order.
KIND_CODES: dict[str, int] = {
    ENROLLED: 0,
    UNENROLLED: 1,
    CHURNED: 2,
    EARNED: 3,
    EXPIRED: 4,
    REDEEMED: 5,
    TIER: 6,
    OPENED: 7,
    CONTACT: 8,
    RESOLVED: 9,
}
#: Membership codes (enrolled, unenrolled, churned).
MEMBERSHIP_CODES = frozenset({0, 1, 2})
#: The codes the points measures keep (membership and the three points kinds).
POINTS_CODES = frozenset({0, 1, 2, 3, 4, 5})
#: The codes the tier measures keep (membership and tier changes).
TIER_CODES = frozenset({0, 1, 2, 6})
#: The codes the complaint measures keep.
COMPLAINT_CODES = frozenset({7, 8, 9})
#: Codes whose label (``order_id``) is required.
LABEL_CODES = frozenset({6, 7, 8, 9})
_QUANTITY_CODES = frozenset({3, 4, 5})

#: Microseconds in a day.
US_PER_DAY = 86_400_000_000
#: "No time", the identity of ``max`` over int64 microseconds.
NO_TIME = int(np.iinfo(np.int64).min)


def _empty_ids() -> NDArray[Any]:
    return np.empty(0, dtype=np.int64)


def _empty_int() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


def _empty_labels() -> NDArray[np.str_]:
    return np.empty(0, dtype=np.str_)


@attrs.frozen(eq=False)
class Ledger:
    """Programme events aggregated by (customer, time, kind code, label), sorted by that key.

    Parameters
    ----------
    customer_id : numpy.ndarray
        The customer of each entry (int64 or unicode).
    time_us : numpy.ndarray
        Event time, microseconds since the epoch (UTC), int64.
    code : numpy.ndarray
        The kind's code in :data:`KIND_CODES` (int8).
    label : numpy.ndarray
        The tier name or complaint id (``order_id`` as text); empty for other kinds.
    points : numpy.ndarray
        Summed points (``quantity``) of the points kinds, 0 for the others (int64).
    events : numpy.ndarray
        Input events aggregated into the entry (int64).
    row : numpy.ndarray
        The lowest input row of those events (int64), for error messages only: it depends on
        how the rows were read (a dask partition numbers its own rows), so state equality
        leaves it out (:data:`stickykit.metrics.base.DIAGNOSTIC`).

    Examples
    --------
    >>> len(Ledger())
    0
    """

    customer_id: NDArray[Any] = attrs.field(factory=_empty_ids)
    time_us: NDArray[np.int64] = attrs.field(factory=_empty_int)
    code: NDArray[np.int8] = attrs.field(factory=lambda: np.empty(0, dtype=np.int8))
    label: NDArray[np.str_] = attrs.field(factory=_empty_labels)
    points: NDArray[np.int64] = attrs.field(factory=_empty_int)
    events: NDArray[np.int64] = attrs.field(factory=_empty_int)
    row: NDArray[np.int64] = attrs.field(factory=_empty_int, metadata={DIAGNOSTIC: True})

    def __len__(self) -> int:
        return len(self.time_us)

    def take(self, keep: NDArray[np.bool_]) -> Ledger:
        """The entries where ``keep`` is true (still sorted).

        Examples
        --------
        >>> len(Ledger().take(np.zeros(0, dtype=bool)))
        0
        """
        return Ledger(
            customer_id=self.customer_id[keep],
            time_us=self.time_us[keep],
            code=self.code[keep],
            label=self.label[keep],
            points=self.points[keep],
            events=self.events[keep],
            row=self.row[keep],
        )


def kind_codes(frame: EventFrame) -> NDArray[np.int8]:
    """The :data:`KIND_CODES` code of each row, -1 for other kinds and rows without a kind.

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.zeros(3, dtype=np.int64),
    ...                timestamp=np.zeros(3, dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "enrolled", "complaint_resolved"]))
    >>> kind_codes(f).tolist()
    [-1, 0, 9]
    """
    out = np.full(len(frame), -1, dtype=np.int8)
    if frame.kind is None:
        return out
    for kind, code in KIND_CODES.items():  # a loop over the ten kinds, not over rows
        out[frame.kind == kind] = code
    missing = frame.label_missing.get("kind")
    if missing is not None:
        out[missing] = -1
    return out


def row_violations(frame: EventFrame, codes: Collection[int]) -> list[Violation]:
    """Rows of the chosen programme kinds that no sequence could make valid.

    A points event needs a whole number of points >= 1 in ``quantity`` (no column, or a
    negative or zero value, is refused); a tier change or complaint event needs its label in
    ``order_id`` (missing, or empty text, is refused).

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.zeros(2, dtype=np.int64),
    ...                timestamp=np.zeros(2, dtype="datetime64[us]"),
    ...                kind=np.array(["points_earned", "points_redeemed"]),
    ...                quantity=np.array([10, -5]))
    >>> [v.describe(0) for v in row_violations(f, POINTS_CODES)]
    ['quantity @ row 1: -5 is invalid, expected points as a whole number >= 1 for a points_redeemed event']
    """
    code = kind_codes(frame)
    out: list[Violation] = []
    for kind, value in KIND_CODES.items():
        if value not in codes:
            continue
        rows = code == value
        if not rows.any():
            continue
        if value in _QUANTITY_CODES:
            expected = f"points as a whole number >= 1 for a {kind} event"
            if frame.quantity is None:
                found = violation(
                    "quantity", rows, np.full(len(frame), None), expected, frame.first_row
                )
            else:
                found = violation(
                    "quantity", rows & (frame.quantity < 1), frame.quantity, expected,
                    frame.first_row,
                )  # fmt: skip
            if found is not None:
                out.append(found)
        if value in LABEL_CODES:
            what = "the tier's name" if kind == TIER else "the complaint id"
            expected = f"{what} in order_id for a {kind} event"
            if frame.order_id is None:
                absent = rows
                values: NDArray[Any] = np.full(len(frame), None)
            else:
                missing = frame.label_missing.get("order_id")
                absent = rows & missing if missing is not None else np.zeros_like(rows)
                if frame.order_id.dtype.kind == "U":  # an empty label is no label
                    absent |= rows & (np.char.strip(frame.order_id) == "")
                values = frame.order_id.astype(object)
                values[absent] = None
            found = violation("order_id", absent, values, expected, frame.first_row)
            if found is not None:
                out.append(found)
    return out


def _aggregate(
    customer: NDArray[Any],
    time_us: NDArray[np.int64],
    code: NDArray[np.int8],
    label: NDArray[np.str_],
    points: NDArray[np.int64],
    events: NDArray[np.int64],
    row: NDArray[np.int64],
) -> tuple[Ledger, NDArray[np.intp]]:
    """Sort by (customer, time, code, label), sum equal keys; also each input's entry."""
    if len(time_us) == 0:
        ledger = Ledger(
            customer_id=customer,
            time_us=time_us,
            code=code,
            label=label,
            points=points,
            events=events,
            row=row,
        )
        return ledger, np.zeros(0, dtype=np.intp)
    order = np.lexsort((label, code, time_us, customer))
    c, t, k, lab = customer[order], time_us[order], code[order], label[order]
    new = np.empty(len(order), dtype=bool)
    new[0] = True
    new[1:] = (c[1:] != c[:-1]) | (t[1:] != t[:-1]) | (k[1:] != k[:-1]) | (lab[1:] != lab[:-1])
    starts = np.flatnonzero(new)
    entry = np.empty(len(order), dtype=np.intp)
    entry[order] = np.cumsum(new) - 1
    ledger = Ledger(
        customer_id=c[starts],
        time_us=t[starts],
        code=k[starts],
        label=lab[starts],
        points=np.add.reduceat(points[order], starts).astype(np.int64),
        events=np.add.reduceat(events[order], starts).astype(np.int64),
        row=np.minimum.reduceat(row[order], starts).astype(np.int64),
    )
    return ledger, entry


def build_ledger(
    frame: EventFrame, codes: Collection[int], keep: NDArray[np.bool_] | None = None
) -> tuple[Ledger, NDArray[np.intp]]:
    """The ledger of the rows whose kind code is in ``codes``, and each row's entry (-1: none).

    Call :func:`row_violations` first: rows it refuses are not checked again here. ``keep``
    leaves rows out (they get entry -1).

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([2, 1, 2]),
    ...                timestamp=np.zeros(3, dtype="datetime64[us]"),
    ...                kind=np.array(["enrolled", "purchase", "points_earned"]),
    ...                quantity=np.array([0, 1, 40]))
    >>> ledger, entry = build_ledger(f, POINTS_CODES)
    >>> ledger.code.tolist(), ledger.points.tolist(), entry.tolist()
    ([0, 3], [0, 40], [0, -1, 1])
    """
    code = kind_codes(frame)
    use = np.isin(code, np.fromiter(codes, dtype=np.int8))
    if keep is not None:
        use &= keep
    positions = np.flatnonzero(use)
    kept = code[positions]
    label = np.full(len(positions), "", dtype=np.str_)
    needs_label = np.isin(kept, np.fromiter(LABEL_CODES, dtype=np.int8))
    if frame.order_id is not None and needs_label.any():
        label = np.where(needs_label, frame.order_id[positions].astype(np.str_), "")
    points = np.zeros(len(positions), dtype=np.int64)
    counted = np.isin(kept, np.fromiter(_QUANTITY_CODES, dtype=np.int8))
    if frame.quantity is not None and counted.any():
        points = np.where(counted, frame.quantity[positions], 0).astype(np.int64)
    ledger, entry = _aggregate(
        frame.customer_id[positions],
        frame.timestamp.view(np.int64)[positions],
        kept,
        label,
        points,
        np.ones(len(positions), dtype=np.int64),
        (positions + frame.first_row).astype(np.int64),
    )
    entry_of_row = np.full(len(frame), -1, dtype=np.intp)
    entry_of_row[positions] = entry
    return ledger, entry_of_row


def merge_ledgers(a: Ledger, b: Ledger) -> Ledger:
    """The ledger of the union of two ledgers' events (equal keys summed).

    Examples
    --------
    >>> a = Ledger(customer_id=np.array([1]), time_us=np.array([5]), code=np.array([3], np.int8),
    ...            label=np.array([""]), points=np.array([10]), events=np.array([1]),
    ...            row=np.array([4]))
    >>> merge_ledgers(a, a).points.tolist(), merge_ledgers(a, a).row.tolist()
    ([20], [4])
    """
    if len(b) == 0:
        return a
    if len(a) == 0:
        return b
    ledger, _ = _aggregate(
        np.concatenate([a.customer_id, b.customer_id]),
        np.concatenate([a.time_us, b.time_us]),
        np.concatenate([a.code, b.code]),
        np.concatenate([a.label, b.label]),
        np.concatenate([a.points, b.points]),
        np.concatenate([a.events, b.events]),
        np.concatenate([a.row, b.row]),
    )
    return ledger


def customer_index(ledger: Ledger) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """The ledger's distinct customers and each entry's position among them.

    The ledger is sorted by customer, so the positions never decrease.

    Examples
    --------
    >>> ids, at = customer_index(Ledger(customer_id=np.array([3, 3, 9]),
    ...                                 time_us=np.zeros(3, np.int64)))
    >>> ids.tolist(), at.tolist()
    ([3, 9], [0, 0, 1])
    """
    c = ledger.customer_id
    if len(c) == 0:
        return c, np.zeros(0, dtype=np.intp)
    new = np.empty(len(c), dtype=bool)
    new[0] = True
    new[1:] = c[1:] != c[:-1]
    return c[new], (np.cumsum(new) - 1).astype(np.intp)


def seen_customers(
    frame: EventFrame, keep: NDArray[np.bool_] | None
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Sorted distinct customers of the kept rows and each one's latest event time (us).

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([4, 2, 4]),
    ...                timestamp=np.array([5, 1, 9], dtype="datetime64[us]"))
    >>> ids, last = seen_customers(f, None)
    >>> ids.tolist(), last.tolist()
    ([2, 4], [1, 9])
    """
    ids_in = frame.customer_id if keep is None else frame.customer_id[keep]
    times = frame.timestamp.view(np.int64)
    times = times if keep is None else times[keep]
    ids, codes = unique_codes(ids_in)
    last = np.full(len(ids), NO_TIME, dtype=np.int64)
    np.maximum.at(last, codes, times)
    return ids, last


def merge_seen(
    a_ids: NDArray[Any], a_last: NDArray[np.int64], b_ids: NDArray[Any], b_last: NDArray[np.int64]
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Union of two sorted id sets, keeping each id's latest time.

    Examples
    --------
    >>> ids, last = merge_seen(np.array([1, 3]), np.array([5, 6]), np.array([3]), np.array([9]))
    >>> ids.tolist(), last.tolist()
    ([1, 3], [5, 9])
    """
    if len(b_ids) == 0:
        return a_ids, a_last
    if len(a_ids) == 0:
        return b_ids, b_last
    ids = np.union1d(a_ids, b_ids)
    last = np.full(len(ids), NO_TIME, dtype=np.int64)
    last[np.searchsorted(ids, a_ids)] = a_last
    where = np.searchsorted(ids, b_ids)
    last[where] = np.maximum(last[where], b_last)
    return ids, last


def state_as_of(last_us: int, as_of: dt.datetime | None) -> int:
    """``as_of`` in microseconds: by default just after the latest event; never before it.

    Examples
    --------
    >>> state_as_of(10, None)
    11
    """
    if as_of is None:
        return last_us + 1
    if as_of.tzinfo is None:
        msg = f"as_of must be timezone-aware, got naive {as_of!r}"
        raise ValueError(msg)
    value = datetime_to_us(as_of)
    if value <= last_us:
        msg = (
            f"as_of {as_of.isoformat()} is not after the latest event "
            f"({us_to_datetime(last_us).isoformat()}); filter the events to before as_of first"
        )
        raise ValueError(msg)
    return value


def instant(value: Any) -> dt.datetime | None:
    """Convert an instant parameter: ``None``, a date (00:00 UTC), an aware datetime, ISO text.

    Examples
    --------
    >>> instant("2024-03-01")
    datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> instant(dt.date(2024, 3, 1)) == instant("2024-03-01T00:00:00+00:00")
    True
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            msg = f"a datetime parameter must be timezone-aware, got naive {value!r}"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    msg = f"expected a date, an aware datetime or ISO text, got {value!r}"
    raise TypeError(msg)


def positive_days(instance: Any, attribute: Any, value: Any) -> None:
    """Validator: a finite number of days > 0.

    Examples
    --------
    >>> @attrs.frozen
    ... class Window:
    ...     days: float = attrs.field(validator=positive_days)
    >>> Window(0)
    Traceback (most recent call last):
    ...
    ValueError: days must be a finite number of days > 0, got 0
    """
    del instance
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        msg = f"{attribute.name} must be a finite number of days > 0, got {value!r}"
        raise ValueError(msg)


def nonnegative_days(instance: Any, attribute: Any, value: Any) -> None:
    """Validator: a finite number of days >= 0.

    Examples
    --------
    >>> @attrs.frozen
    ... class Delay:
    ...     days: float = attrs.field(validator=nonnegative_days)
    >>> Delay(-1)
    Traceback (most recent call last):
    ...
    ValueError: days must be a finite number of days >= 0, got -1
    """
    del instance
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        msg = f"{attribute.name} must be a finite number of days >= 0, got {value!r}"
        raise ValueError(msg)


def alpha_field(instance: Any, attribute: Any, value: Any) -> None:
    """Validator of ``alpha`` (see :func:`~stickykit.stats.intervals.check_alpha`).

    Examples
    --------
    >>> alpha_field(None, None, 0.1)
    """
    del instance, attribute
    check_alpha(value)


def activity_violations(frame: EventFrame, active: NDArray[np.bool_]) -> list[Violation]:
    """Currency violations among the ``active`` rows, numbered as rows of ``frame``.

    A measure that sums the activity rows only refuses a currency mix among them; the rows
    are found on the selected rows and mapped back to the input's row numbers.

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.zeros(3, dtype=np.int64),
    ...                timestamp=np.zeros(3, dtype="datetime64[us]"),
    ...                kind=np.array(["visit", "purchase", "purchase"]),
    ...                amount=np.array([1.0, 2.0, 3.0]),
    ...                currency=np.array(["USD", "EUR", "EUR"]))
    >>> activity_violations(f, f.kind == "purchase")
    []
    >>> [v.rows.tolist() for v in activity_violations(f, np.ones(3, bool))]
    [[0]]
    """
    positions = np.flatnonzero(active)
    chosen = frame.take(positions)
    _, found = currency_violations(chosen)
    return [
        Violation(
            field=v.field,
            rows=(positions[v.rows - chosen.first_row] + frame.first_row).astype(np.int64),
            values=v.values,
            expected=v.expected,
        )
        for v in found
    ]
