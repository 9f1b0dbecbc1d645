"""Typed, immutable records for one-at-a-time use: :class:`Event`, :class:`Customer`, :class:`Survey`.

Records are frozen, slotted attrs classes. Converters only normalise (strip text, convert aware
datetimes to UTC) and run before the validators; a naive datetime is refused unless the caller
names its zone through ``from_mapping(..., tz=...)``. Change a record with :func:`attrs.evolve`.
For bulk work use the columnar frames in :mod:`stickykit.frames`.

Examples
--------
>>> import datetime as dt
>>> e = Event(event_id="e1", customer_id=42, timestamp=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
...           amount=19.9)
>>> e.kind
'purchase'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from stickykit.core import _validators as v
from stickykit.core._time import as_utc, check_zone, localize
from stickykit.core.schema import column
from stickykit.errors import ValidationError

__all__ = ["Answers", "Customer", "Event", "Id", "Survey"]

#: A customer, event or respondent id, a non-empty string or an integer.
Id = int | str


class Answers(Mapping[str, int | None]):
    """An immutable, hashable mapping of survey item to answer (``None`` = not answered).

    Examples
    --------
    >>> a = Answers({"nps": 9, "csat": None})
    >>> a["nps"], len(a), hash(a) == hash(Answers({"csat": None, "nps": 9}))
    (9, 2, True)
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, int | None] = ()) -> None:  # type: ignore[assignment]
        self._items: dict[str, int | None] = dict(items)

    def __getitem__(self, key: str) -> int | None:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Answers({self._items!r})"


def _to_answers(value: object) -> object:
    if isinstance(value, Mapping):
        answers = Answers({k.strip() if isinstance(k, str) else k: a for k, a in value.items()})
        # names that differ only by white space would overwrite each other: keep them as given,
        # for the validator to refuse
        return answers if len(answers) == len(value) else Answers(value)
    return value


def _check_answers(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    record = type(instance).__name__
    if not isinstance(value, Answers):
        raise ValidationError(
            record=record,
            field=attribute.name,
            row=None,
            value=value,
            expected="a mapping of item name to integer answer or None",
        )
    if not value:
        raise ValidationError(
            record=record,
            field=attribute.name,
            row=None,
            value=dict(value),
            expected="at least one item",
        )
    for item, answer in value.items():
        if type(item) is not str or not item:
            raise ValidationError(
                record=record,
                field=attribute.name,
                row=None,
                value=item,
                expected="item names that are non-empty strings",
            )
        if item != item.strip():
            raise ValidationError(
                record=record,
                field=attribute.name,
                row=None,
                value=item,
                expected="item names that stay distinct once stripped",
            )
        if answer is not None and (isinstance(answer, bool) or not isinstance(answer, int)):
            raise ValidationError(
                record=record,
                field=f"{attribute.name}[{item!r}]",
                row=None,
                value=answer,
                expected="an integer answer or None",
            )
        if answer is not None and not -128 <= answer <= 127:
            raise ValidationError(
                record=record,
                field=f"{attribute.name}[{item!r}]",
                row=None,
                value=answer,
                expected="an integer in [-128, 127]",
            )


def _int_to_float(value: object) -> object:
    """Normalise an integer weight to float; leave anything else for the validator."""
    return float(value) if type(value) is int else value


def _from_mapping(cls: type[Any], row: Mapping[str, Any], tz: str | dt.tzinfo | None) -> Any:
    names = {field.name for field in attrs.fields(cls)}
    unknown = sorted(set(row) - names)
    if unknown:
        raise ValidationError(
            record=cls.__name__,
            field=unknown[0],
            row=None,
            value=row[unknown[0]],
            expected=f"one of the fields {sorted(names)}",
        )
    zone = check_zone(cls.__name__, tz)
    values = {
        key: localize(value, zone) if isinstance(value, dt.datetime) else value
        for key, value in row.items()
    }
    return cls(**values)


@attrs.frozen
class Event:
    """One thing a customer did: a purchase, a visit, a login, a return...

    Parameters
    ----------
    event_id : int or str
        Unique id of the event.
    customer_id : int or str
        The customer who did it.
    timestamp : datetime.datetime
        When, timezone-aware; stored in UTC.
    kind : str
        What happened (``"purchase"`` by default).
    amount : float
        Money value of the event in ``currency`` (0 for events without value).
    quantity : int
        Number of units.
    order_id : int, str or None
        The order the line belongs to, if any.
    currency : str or None
        ISO 4217 code of ``amount``.

    Examples
    --------
    >>> import datetime as dt
    >>> Event.from_mapping({"event_id": 1, "customer_id": "c7", "timestamp": dt.datetime(2024, 1, 1)},
    ...                    tz="Asia/Shanghai").timestamp
    datetime.datetime(2023, 12, 31, 16, 0, tzinfo=datetime.timezone.utc)
    """

    event_id: Id = attrs.field(
        converter=v.strip_text, validator=v.identifier, metadata=column("id", "int64|unicode")
    )
    customer_id: Id = attrs.field(
        converter=v.strip_text, validator=v.identifier, metadata=column("id", "int64|unicode")
    )
    timestamp: dt.datetime = attrs.field(
        converter=as_utc,
        validator=v.aware_datetime,
        metadata=column("time", "datetime64[us]", unit="UTC"),
    )
    kind: str = attrs.field(
        default="purchase",
        converter=v.strip_text,
        validator=v.non_empty_text,
        metadata=column("label", "unicode"),
    )
    amount: float = attrs.field(
        default=0.0, validator=v.finite_number, metadata=column("money", "float64", required=False)
    )
    quantity: int = attrs.field(
        default=1, validator=v.integer, metadata=column("count", "int64", required=False)
    )
    order_id: Id | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.identifier),
        metadata=column("id", "int64|unicode", required=False),
    )
    currency: str | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.non_empty_text),
        metadata=column("label", "unicode", required=False),
    )

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, tz: str | dt.tzinfo | None = None) -> Event:
        """Build an event from a mapping; naive datetimes are read in zone ``tz``."""
        event: Event = _from_mapping(cls, row, tz)
        return event


@attrs.frozen
class Customer:
    """A customer and what is known of them at acquisition.

    Parameters
    ----------
    customer_id : int or str
        Unique id.
    acquired_at : datetime.datetime or None
        When the customer was acquired, timezone-aware.
    segment : int, str or None
        A label for grouping (region, plan, channel...).

    Examples
    --------
    >>> Customer(customer_id="  c1 ").customer_id
    'c1'
    """

    customer_id: Id = attrs.field(
        converter=v.strip_text, validator=v.identifier, metadata=column("id", "int64|unicode")
    )
    acquired_at: dt.datetime | None = attrs.field(
        default=None,
        converter=as_utc,
        validator=v.optional(v.aware_datetime),
        metadata=column("time", "datetime64[us]", required=False, unit="UTC"),
    )
    segment: Id | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.label),
        metadata=column("label", "int64|unicode", required=False),
    )

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, tz: str | dt.tzinfo | None = None) -> Customer:
        """Build a customer from a mapping; naive datetimes are read in zone ``tz``."""
        customer: Customer = _from_mapping(cls, row, tz)
        return customer


@attrs.frozen
class Survey:
    """One respondent's answers to one questionnaire.

    Parameters
    ----------
    respondent_id : int or str
        Unique id of the response.
    answers : Mapping[str, int or None]
        Item name to integer answer; ``None`` means the item was not answered.
    customer_id : int, str or None
        The customer who answered, when known.
    instrument : str
        The questionnaire (``"nps"`` by default).
    answered_at : datetime.datetime or None
        When, timezone-aware.
    weight : float
        Respondent weight (>= 0), 1 by default.
    wave : int, str or None
        Survey wave or period label.
    segment : int, str or None
        A label for grouping.
    comment : str or None
        Free-text comment.

    Examples
    --------
    >>> s = Survey(respondent_id=1, answers={"nps": 10})
    >>> s.answers["nps"], s.weight
    (10, 1.0)
    """

    respondent_id: Id = attrs.field(
        converter=v.strip_text, validator=v.identifier, metadata=column("id", "int64|unicode")
    )
    answers: Answers = attrs.field(
        converter=_to_answers, validator=_check_answers, metadata=column("answers", "int8")
    )
    customer_id: Id | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.identifier),
        metadata=column("id", "int64|unicode", required=False),
    )
    instrument: str = attrs.field(
        default="nps",
        converter=v.strip_text,
        validator=v.non_empty_text,
        metadata=column("label", "unicode", required=False),
    )
    answered_at: dt.datetime | None = attrs.field(
        default=None,
        converter=as_utc,
        validator=v.optional(v.aware_datetime),
        metadata=column("time", "datetime64[us]", required=False, unit="UTC"),
    )
    weight: float = attrs.field(
        default=1.0,
        converter=_int_to_float,
        validator=v.non_negative_number,
        metadata=column("weight", "float64", required=False),
    )
    wave: Id | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.label),
        metadata=column("label", "int64|unicode", required=False),
    )
    segment: Id | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.label),
        metadata=column("label", "int64|unicode", required=False),
    )
    comment: str | None = attrs.field(
        default=None,
        converter=v.optional_text,
        validator=v.optional(v.non_empty_text),
        metadata=column("text", "unicode", required=False),
    )

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, tz: str | dt.tzinfo | None = None) -> Survey:
        """Build a survey response from a mapping; naive datetimes are read in zone ``tz``."""
        survey: Survey = _from_mapping(cls, row, tz)
        return survey
