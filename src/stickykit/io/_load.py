"""Loading sources into frames, with validation and optional quarantine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone
from stickykit.errors import ValidationError
from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame
from stickykit.io._convert import to_answers, to_float, to_id, to_int, to_text, to_time
from stickykit.io._source import Columns, read_columns
from stickykit.io.quarantine import Errors, LoadResult, resolve
from stickykit.io.validate import Violation

__all__ = ["load_customers", "load_events", "load_survey"]

Scale = tuple[int, int]


def _name(columns: Mapping[str, str] | None, field: str) -> str:
    return (columns or {}).get(field, field)


def _subset(values: NDArray[Any] | None, keep: NDArray[np.bool_] | None) -> Any:
    if values is None or keep is None:
        return values
    return values[keep]


def _require(cols: Columns, record: str, field: str, source_name: str) -> NDArray[Any]:
    column = cols.get(source_name)
    if column is None:
        raise ValidationError(
            record=record,
            field=field,
            row=None,
            value=f"no column {source_name!r}",
            expected=f"a column among {sorted(cols.data)}",
        )
    return column


def _empty_check(record: str, cols: Columns) -> None:
    # without any wanted column there is no row count yet: _require names the missing column
    if cols.n == 0 and cols.data:
        raise ValidationError(
            record=record, field="(rows)", row=None, value="0 rows", expected="at least one row"
        )


@overload
def load_survey(
    source: Any,
    *,
    items: Sequence[str],
    errors: Literal["raise"] = ...,
    columns: Mapping[str, str] | None = ...,
    scales: Mapping[str, Scale] | Scale | None = ...,
    missing_codes: Sequence[int] = ...,
    tz: str | dt.tzinfo | None = ...,
) -> SurveyFrame: ...
@overload
def load_survey(
    source: Any,
    *,
    items: Sequence[str],
    errors: Literal["quarantine"],
    columns: Mapping[str, str] | None = ...,
    scales: Mapping[str, Scale] | Scale | None = ...,
    missing_codes: Sequence[int] = ...,
    tz: str | dt.tzinfo | None = ...,
) -> LoadResult[SurveyFrame]: ...
def load_survey(
    source: Any,
    *,
    items: Sequence[str],
    errors: Errors = "raise",
    columns: Mapping[str, str] | None = None,
    scales: Mapping[str, Scale] | Scale | None = None,
    missing_codes: Sequence[int] = (),
    tz: str | dt.tzinfo | None = None,
) -> SurveyFrame | LoadResult[SurveyFrame]:
    """Load survey responses into a :class:`~stickykit.frames.SurveyFrame`.

    Parameters
    ----------
    source : mapping, dataframe or path
        Columns by name (numpy arrays or lists), a pandas, polars or pyarrow table, or a CSV path.
    items : sequence of str
        The answer columns to load.
    errors : {"raise", "quarantine"}
        ``"raise"`` stops at the first bad row (naming field, row, value and the count of bad
        rows); ``"quarantine"`` returns a :class:`~stickykit.io.LoadResult`.
    columns : mapping, optional
        Record field to source column name, e.g. ``{"respondent_id": "id", "wave": "t"}``.
        Fields: respondent_id, customer_id, instrument, answered_at, weight, wave, segment,
        comment. Without a ``respondent_id`` column the responses are anonymous.
    scales : mapping or (int, int), optional
        Allowed answer range per item, or one range for all items.
    missing_codes : sequence of int
        Answer codes meaning "not answered" (e.g. ``-99``, or ``0`` for "not applicable").
    tz : str or tzinfo, optional
        Zone of naive ``answered_at`` values.

    Returns
    -------
    SurveyFrame or LoadResult
        Missing answers (NaN, ``None``, empty text, a missing code) are kept as missing, never
        as a score.

    Examples
    --------
    >>> f = load_survey({"id": [1, 2, 3], "nps": [10, None, 3]}, items=["nps"],
    ...                 columns={"respondent_id": "id"}, scales=(0, 10))
    >>> f.answers["nps"].tolist(), f.answer_missing["nps"].tolist()
    ([10, 0, 3], [False, True, False])
    """
    record = "SurveyFrame"
    fields = (
        "respondent_id",
        "customer_id",
        "instrument",
        "answered_at",
        "weight",
        "wave",
        "segment",
        "comment",
    )
    names = {field: _name(columns, field) for field in fields}
    check_zone(record, tz)
    cols = read_columns(source, set(names.values()) | set(items))
    _empty_check(record, cols)
    if not items:
        raise ValidationError(
            record=record,
            field="items",
            row=None,
            value=list(items),
            expected="at least one answer column",
        )
    found: list[Violation] = []
    answers: dict[str, NDArray[np.int8]] = {}
    answer_missing: dict[str, NDArray[np.bool_]] = {}
    for item in items:
        scale = scales.get(item) if isinstance(scales, Mapping) else scales
        coded, unanswered, bad = to_answers(
            _require(cols, record, item, item), item, scale, tuple(missing_codes)
        )
        answers[item] = coded
        if unanswered is not None:
            answer_missing[item] = unanswered
        found += bad
    rid_raw = cols.get(names["respondent_id"])
    respondent_id: NDArray[Any] | None = None
    if rid_raw is not None:
        respondent_id, _, bad = to_id(rid_raw, "respondent_id")
        found += bad
    labels: dict[str, NDArray[Any] | None] = {}
    label_missing: dict[str, NDArray[np.bool_]] = {}
    for label in ("customer_id", "instrument", "wave", "segment"):
        raw = cols.get(names[label])
        if raw is None:
            labels[label] = None
            continue
        values, missing, bad = to_id(raw, label, allow_missing=True)
        labels[label] = values
        if missing is not None:
            label_missing[label] = missing
        found += bad
    answered_at = None
    raw = cols.get(names["answered_at"])
    if raw is not None:
        answered_at, _, bad = to_time(
            raw, "answered_at", tz=tz, aware=names["answered_at"] in cols.aware, allow_missing=True
        )
        found += bad
    weight = None
    raw = cols.get(names["weight"])
    if raw is not None:
        weight, _, bad = to_float(raw, "weight", lo=0.0)
        found += bad
    raw = cols.get(names["comment"])
    comment = None if raw is None else to_text(raw)

    def build(keep: NDArray[np.bool_] | None) -> SurveyFrame:
        return SurveyFrame(
            respondent_id=_subset(respondent_id, keep),
            answers={k: _subset(v, keep) for k, v in answers.items()},
            answer_missing={k: _subset(v, keep) for k, v in answer_missing.items()},
            answered_at=_subset(answered_at, keep),
            weight=_subset(weight, keep),
            comment=_subset(comment, keep),
            label_missing={k: _subset(v, keep) for k, v in label_missing.items()},
            **{k: _subset(v, keep) for k, v in labels.items()},
        )

    result: SurveyFrame | LoadResult[SurveyFrame] = resolve(
        record, found, cols.n, errors, build, cols.data
    )
    return result


@overload
def load_events(
    source: Any,
    *,
    errors: Literal["raise"] = ...,
    columns: Mapping[str, str] | None = ...,
    tz: str | dt.tzinfo | None = ...,
) -> EventFrame: ...
@overload
def load_events(
    source: Any,
    *,
    errors: Literal["quarantine"],
    columns: Mapping[str, str] | None = ...,
    tz: str | dt.tzinfo | None = ...,
) -> LoadResult[EventFrame]: ...
def load_events(
    source: Any,
    *,
    errors: Errors = "raise",
    columns: Mapping[str, str] | None = None,
    tz: str | dt.tzinfo | None = None,
) -> EventFrame | LoadResult[EventFrame]:
    """Load events into an :class:`~stickykit.frames.EventFrame`.

    Parameters
    ----------
    source : mapping, dataframe or path
        As for :func:`load_survey`.
    errors : {"raise", "quarantine"}
        What to do with bad rows.
    columns : mapping, optional
        Record field to source column name. Fields: event_id (row numbers when absent),
        customer_id, timestamp (required), kind, amount, quantity, order_id, currency.
    tz : str or tzinfo, optional
        Zone of naive timestamps.

    Examples
    --------
    >>> import numpy as np
    >>> f = load_events({"customer_id": [1, 1], "timestamp": ["2024-01-01", "2024-01-05"],
    ...                  "amount": [9.5, 3.0]}, tz="UTC")
    >>> f.amount.tolist(), f.event_id.tolist()
    ([9.5, 3.0], [0, 1])
    """
    record = "EventFrame"
    fields = (
        "event_id",
        "customer_id",
        "timestamp",
        "kind",
        "amount",
        "quantity",
        "order_id",
        "currency",
    )
    names = {field: _name(columns, field) for field in fields}
    check_zone(record, tz)
    cols = read_columns(source, set(names.values()))
    _empty_check(record, cols)
    found: list[Violation] = []
    raw_event = cols.get(names["event_id"])
    if raw_event is None:
        event_id: NDArray[Any] = np.arange(cols.n, dtype=np.int64)
    else:
        event_id, _, bad = to_id(raw_event, "event_id")
        found += bad
    customer_id, _, bad = to_id(
        _require(cols, record, "customer_id", names["customer_id"]), "customer_id"
    )
    found += bad
    timestamp, _, bad = to_time(
        _require(cols, record, "timestamp", names["timestamp"]),
        "timestamp",
        tz=tz,
        aware=names["timestamp"] in cols.aware,
        allow_missing=False,
    )
    found += bad
    optional: dict[str, NDArray[Any] | None] = {}
    event_missing: dict[str, NDArray[np.bool_]] = {}
    for label in ("kind", "order_id", "currency"):
        raw = cols.get(names[label])
        if raw is None:
            optional[label] = None
            continue
        values, missing, bad = to_id(raw, label, allow_missing=label != "kind")
        optional[label] = values.astype(str) if label in ("kind", "currency") else values
        if missing is not None:
            event_missing[label] = missing
        found += bad
    raw = cols.get(names["amount"])
    amount = None
    if raw is not None:
        amount, _, bad = to_float(raw, "amount")
        found += bad
    raw = cols.get(names["quantity"])
    quantity = None
    if raw is not None:
        quantity, _, bad = to_int(raw, "quantity", allow_missing=False, expected="an integer")
        found += bad

    def build(keep: NDArray[np.bool_] | None) -> EventFrame:
        return EventFrame(
            event_id=_subset(event_id, keep),
            customer_id=_subset(customer_id, keep),
            timestamp=_subset(timestamp, keep),
            amount=_subset(amount, keep),
            quantity=_subset(quantity, keep),
            label_missing={k: _subset(v, keep) for k, v in event_missing.items()},
            **{k: _subset(v, keep) for k, v in optional.items()},
        )

    result: EventFrame | LoadResult[EventFrame] = resolve(
        record, found, cols.n, errors, build, cols.data
    )
    return result


@overload
def load_customers(
    source: Any,
    *,
    errors: Literal["raise"] = ...,
    columns: Mapping[str, str] | None = ...,
    tz: str | dt.tzinfo | None = ...,
) -> CustomerFrame: ...
@overload
def load_customers(
    source: Any,
    *,
    errors: Literal["quarantine"],
    columns: Mapping[str, str] | None = ...,
    tz: str | dt.tzinfo | None = ...,
) -> LoadResult[CustomerFrame]: ...
def load_customers(
    source: Any,
    *,
    errors: Errors = "raise",
    columns: Mapping[str, str] | None = None,
    tz: str | dt.tzinfo | None = None,
) -> CustomerFrame | LoadResult[CustomerFrame]:
    """Load customers into a :class:`~stickykit.frames.CustomerFrame`.

    Examples
    --------
    >>> f = load_customers({"customer_id": ["a", "b"], "segment": ["web", "store"]})
    >>> f.segment.tolist()
    ['web', 'store']
    """
    record = "CustomerFrame"
    names = {field: _name(columns, field) for field in ("customer_id", "acquired_at", "segment")}
    check_zone(record, tz)
    cols = read_columns(source, set(names.values()))
    _empty_check(record, cols)
    found: list[Violation] = []
    customer_id, _, bad = to_id(
        _require(cols, record, "customer_id", names["customer_id"]), "customer_id"
    )
    found += bad
    acquired_at = None
    raw = cols.get(names["acquired_at"])
    if raw is not None:
        acquired_at, _, bad = to_time(
            raw, "acquired_at", tz=tz, aware=names["acquired_at"] in cols.aware, allow_missing=True
        )
        found += bad
    segment = None
    raw = cols.get(names["segment"])
    if raw is not None:
        segment, _, bad = to_id(raw, "segment")
        found += bad

    def build(keep: NDArray[np.bool_] | None) -> CustomerFrame:
        return CustomerFrame(
            customer_id=_subset(customer_id, keep),
            acquired_at=_subset(acquired_at, keep),
            segment=_subset(segment, keep),
        )

    result: CustomerFrame | LoadResult[CustomerFrame] = resolve(
        record, found, cols.n, errors, build, cols.data
    )
    return result
