"""pandas, polars and pyarrow tables in, through narwhals (STYLE.md section 8)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping

import attrs
import numpy as np
import pytest

from stickykit import load_customers, load_events, load_survey
from stickykit.core import Customer, Event, Survey
from stickykit.errors import ValidationError
from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

UTC = dt.UTC


# ---------------------------------------------------------------- building the same table three ways


def _stamps(values: list[str | None]) -> list[dt.datetime | None]:
    return [None if v is None else dt.datetime.fromisoformat(v) for v in values]


def from_pandas(data: dict[str, list], aware: Mapping[str, str]):
    df = pd.DataFrame(data)
    for name, zone in aware.items():
        df[name] = pd.to_datetime(df[name]).dt.tz_localize("UTC").dt.tz_convert(zone)
    return df


def from_polars(data: dict[str, list], aware: Mapping[str, str]):
    df = pl.DataFrame(data)
    return df.with_columns(
        pl.col(name)
        .str.to_datetime(time_unit="us")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(zone)
        for name, zone in aware.items()
    )


def from_arrow(data: dict[str, list], aware: Mapping[str, str]):
    columns = {
        name: pa.array(_stamps(values), type=pa.timestamp("us", tz=aware[name]))
        if name in aware
        else pa.array(values)
        for name, values in data.items()
    }
    return pa.table(columns)


CONSTRUCTORS = [
    pytest.param(from_pandas, id="pandas"),
    pytest.param(from_polars, id="polars"),
    pytest.param(from_arrow, id="pyarrow"),
]


def as_numpy(data: dict[str, list], aware: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The same table as plain numpy columns (times as naive UTC, to load with ``tz="UTC"``)."""
    out = {}
    for name, values in data.items():
        if name in aware:
            out[name] = np.array(["NaT" if v is None else v for v in values], "datetime64[us]")
        elif None in values and all(isinstance(v, int | float) for v in values if v is not None):
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            out[name] = np.array(values, dtype=object if None in values else None)
    return out


def assert_frames_equal(a, b) -> None:
    """Same type, same columns, same dtypes, same values (label values compared where present)."""
    assert type(a) is type(b)
    label_missing = dict(getattr(a, "label_missing", {}))
    assert label_missing.keys() == dict(getattr(b, "label_missing", {})).keys()
    for field in attrs.fields(type(a)):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if x is None or y is None or isinstance(x, int):
            assert x == y, field.name
            continue
        if isinstance(x, Mapping):
            assert list(x) == list(y), field.name
            columns = [(f"{field.name}[{k!r}]", x[k], y[k]) for k in x]
        else:
            columns = [(field.name, x, y)]
        for name, left, right in columns:
            if left.dtype.kind == "U":
                assert right.dtype.kind == "U", name
            else:
                assert left.dtype == right.dtype, name
            present = ~label_missing.get(name, np.zeros(len(left), bool))
            np.testing.assert_array_equal(left[present], right[present], err_msg=name)


# ---------------------------------------------------------------- the three frame kinds

SURVEY = {
    "rid": ["r1", "r2", "r3", "r4"],
    "nps": [10, None, 3, 7],
    "csat": [5, 4, 1, 2],
    "cust": [11, 12, 13, 14],
    "instrument": ["nps", "nps", "nps", "nps"],
    "when": ["2024-03-31T00:30", "2024-10-27T00:30", None, "2024-01-15T11:00"],
    "weight": [2.0, 1.0, 0.5, 1.5],
    "wave": [1, 2, None, 2],
    "segment": ["a", None, "b", "a"],
    "comment": ["great", None, "slow", "ok"],
}
SURVEY_FIELDS = {"respondent_id": "rid", "customer_id": "cust", "answered_at": "when"}


def survey_records() -> list[Survey]:
    rows = zip(*SURVEY.values(), strict=True)
    out = []
    for rid, nps, csat, cust, instrument, when, weight, wave, segment, comment in rows:
        at = None if when is None else dt.datetime.fromisoformat(when).replace(tzinfo=UTC)
        out.append(
            Survey(
                respondent_id=rid,
                answers={"nps": nps, "csat": csat},
                customer_id=cust,
                instrument=instrument,
                answered_at=at,
                weight=weight,
                wave=wave,
                segment=segment,
                comment=comment,
            )
        )
    return out


EVENTS = {
    "event_id": ["e1", "e2", "e3"],
    "customer_id": [7, 7, 9],
    "timestamp": ["2024-03-31T00:30", "2024-03-31T01:30", "2024-10-27T00:30"],
    "kind": ["purchase", "return", "purchase"],
    "amount": [10.5, -10.5, 3.25],
    "quantity": [2, 1, 3],
    "order_id": ["o1", "o1", "o2"],
    "currency": ["EUR", "EUR", "USD"],
}


def event_records() -> list[Event]:
    rows = zip(*EVENTS.values(), strict=True)
    return [
        Event(
            event_id=e,
            customer_id=c,
            timestamp=dt.datetime.fromisoformat(t).replace(tzinfo=UTC),
            kind=k,
            amount=a,
            quantity=q,
            order_id=o,
            currency=cur,
        )
        for e, c, t, k, a, q, o, cur in rows
    ]


CUSTOMERS = {
    "customer_id": ["c1", "c2", "c3"],
    "acquired_at": ["2023-05-01T00:00", None, "2023-11-05T06:30"],
    "segment": ["web", "shop", "web"],
}


def customer_records() -> list[Customer]:
    return [
        Customer(
            customer_id=c,
            segment=s,
            acquired_at=None if t is None else dt.datetime.fromisoformat(t).replace(tzinfo=UTC),
        )
        for c, t, s in zip(*CUSTOMERS.values(), strict=True)
    ]


KINDS = {
    "survey": (
        SURVEY,
        "when",
        lambda src, **kw: load_survey(src, items=["nps", "csat"], columns=SURVEY_FIELDS, **kw),
        lambda: SurveyFrame.from_records(survey_records()),
    ),
    "events": (EVENTS, "timestamp", load_events, lambda: EventFrame.from_records(event_records())),
    "customers": (
        CUSTOMERS,
        "acquired_at",
        load_customers,
        lambda: CustomerFrame.from_records(customer_records()),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_dataframe_numpy_and_records_give_identical_frames(make, kind):
    data, time_column, load, from_records = KINDS[kind]
    aware = {time_column: "Europe/Paris"}
    from_table = load(make(data, aware))
    from_numpy = load(as_numpy(data, aware), tz="UTC")
    assert_frames_equal(from_table, from_numpy)
    assert_frames_equal(from_table, from_records())


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_survey_from_a_dataframe_keeps_missing_answers_and_labels(make):
    f = KINDS["survey"][2](make(SURVEY, {"when": "UTC"}))
    assert f.answer_missing["nps"].tolist() == [False, True, False, False]
    assert "csat" not in f.answer_missing
    assert f.label_missing["wave"].tolist() == [False, False, True, False]
    assert f.label_missing["segment"].tolist() == [False, True, False, False]
    assert f.segment.tolist() == ["a", "", "b", "a"]
    assert f.comment.tolist() == ["great", None, "slow", "ok"]
    assert np.isnat(f.answered_at).tolist() == [False, False, True, False]


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_pandas_nullable_dtypes_give_the_same_frame(backend):
    plain = from_pandas(SURVEY, {"when": "UTC"})
    nullable = plain.convert_dtypes(dtype_backend=backend)
    load = KINDS["survey"][2]
    assert_frames_equal(load(nullable), load(plain))


# ---------------------------------------------------------------- time zones

UTC_INSTANTS = [
    "2024-01-15T11:00",
    "2024-03-31T00:59",
    "2024-03-31T01:00",
    "2024-10-27T00:30",
    "2024-10-27T01:30",
    "2024-07-01T10:00",
]


@pytest.mark.parametrize(
    "zone", ["Europe/Paris", "America/New_York", "Etc/GMT+5", "Asia/Kolkata", "UTC"]
)
@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_aware_column_becomes_the_same_utc_instant(make, zone):
    n = len(UTC_INSTANTS)
    table = make({"customer_id": list(range(n)), "timestamp": UTC_INSTANTS}, {"timestamp": zone})
    expected = np.array(UTC_INSTANTS, dtype="datetime64[us]")
    np.testing.assert_array_equal(load_events(table).timestamp, expected)
    # the column knows its zone: a tz= for naive columns changes nothing
    np.testing.assert_array_equal(load_events(table, tz="Asia/Tokyo").timestamp, expected)


def test_each_library_really_holds_a_non_utc_zone():
    """Guard for the test above: the tables carry Paris wall-clock times, not UTC ones."""
    table = from_pandas({"t": ["2024-07-01T10:00"]}, {"t": "Europe/Paris"})
    assert str(table["t"].dt.tz) == "Europe/Paris"
    assert table["t"].iloc[0].hour == 12
    polars_table = from_polars({"t": ["2024-07-01T10:00"]}, {"t": "Europe/Paris"})
    assert polars_table["t"].dtype.time_zone == "Europe/Paris"
    assert polars_table["t"].dt.hour().item() == 12
    arrow_table = from_arrow({"t": ["2024-07-01T10:00"]}, {"t": "Europe/Paris"})
    assert arrow_table.schema.field("t").type.tz == "Europe/Paris"


NAIVE_PARIS = [
    # Paris wall clock -> UTC by hand: +1 in winter, +2 in summer, DST from 2024-03-31 02:00 to
    # 2024-10-27 03:00; the repeated 02:xx hour takes its first (summer-time) occurrence.
    ("2024-01-15T12:00", "2024-01-15T11:00"),
    ("2024-03-31T01:59", "2024-03-31T00:59"),
    ("2024-03-31T03:00", "2024-03-31T01:00"),
    ("2024-07-01T12:00", "2024-07-01T10:00"),
    ("2024-10-27T02:30", "2024-10-27T00:30"),
    ("2024-10-27T03:30", "2024-10-27T02:30"),
]


def naive_table(make, column: str, others: dict[str, list]):
    local = [c[0] for c in NAIVE_PARIS]
    if make is from_pandas:
        return pd.DataFrame(others | {column: pd.to_datetime(local)})
    if make is from_polars:
        return pl.DataFrame(others).with_columns(
            pl.Series(column, local).str.to_datetime(time_unit="us")
        )
    return pa.table(others | {column: pa.array(_stamps(local), type=pa.timestamp("us"))})


LOADERS = [
    pytest.param(load_events, "timestamp", "customer_id", id="events"),
    pytest.param(load_customers, "acquired_at", "customer_id", id="customers"),
    pytest.param(
        lambda src, **kw: load_survey(src, items=["nps"], columns={"answered_at": "at"}, **kw),
        "at",
        "nps",
        id="survey",
    ),
]


@pytest.mark.parametrize(("load", "column", "other"), LOADERS)
@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_naive_column_without_tz_fails_and_says_to_name_the_zone(make, load, column, other):
    table = naive_table(make, column, {other: list(range(len(NAIVE_PARIS)))})
    with pytest.raises(ValidationError) as info:
        load(table)
    err = info.value
    field = "answered_at" if column == "at" else column
    assert (err.field, err.row, err.n_failing) == (field, 0, len(NAIVE_PARIS))
    assert "naive" in err.expected
    assert "tz=" in str(err)


@pytest.mark.parametrize(("load", "column", "other"), LOADERS)
@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_naive_column_in_a_named_zone_across_dst(make, load, column, other):
    table = naive_table(make, column, {other: list(range(len(NAIVE_PARIS)))})
    f = load(table, tz="Europe/Paris")
    times = getattr(f, "answered_at" if column == "at" else column)
    expected = np.array([c[1] for c in NAIVE_PARIS], dtype="datetime64[us]")
    np.testing.assert_array_equal(times, expected)
    again = load(table, tz=zoneinfo.ZoneInfo("Europe/Paris"))
    np.testing.assert_array_equal(
        getattr(again, "answered_at" if column == "at" else column), expected
    )


# ---------------------------------------------------------------- quarantine and empty tables


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_quarantine_rows_are_input_rows(make):
    table = make({"rid": [1, 2, 3, 4, 5], "nps": [10, 11, None, -1, 6]}, {})
    res = load_survey(
        table, items=["nps"], columns={"respondent_id": "rid"}, scales=(0, 10), errors="quarantine"
    )
    assert res.rejected.tolist() == [1, 3]
    # an integer column with a null arrives as floats: 11 may read 11.0 in the reason
    assert [(r.row, r.field, r.value, r.expected) for r in res.reasons] == [
        (1, "nps", 11, "an integer in [0, 10]"),
        (3, "nps", -1, "an integer in [0, 10]"),
    ]
    assert res.accepted.respondent_id.tolist() == [1, 3, 5]
    assert res.accepted.answer_missing["nps"].tolist() == [False, True, False]


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_raise_from_a_dataframe_counts_every_bad_row(make):
    table = make(
        {
            "customer_id": [1, 2, 3],
            "amount": [1.0, float("inf"), -float("inf")],
            "timestamp": ["2024-01-01T00:00"] * 3,
        },
        {"timestamp": "UTC"},
    )
    with pytest.raises(ValidationError) as info:
        load_events(table)
    err = info.value
    assert (err.record, err.field, err.row, err.value, err.n_failing) == (
        "EventFrame",
        "amount",
        1,
        float("inf"),
        2,
    )


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_empty_table_is_an_error(make):
    table = (
        make({"nps": [1]}, {})[:0]
        if make is not from_arrow
        else pa.table({"nps": pa.array([], type=pa.int64())})
    )
    assert len(table) == 0
    with pytest.raises(ValidationError) as info:
        load_survey(table, items=["nps"])
    assert info.value.value == "0 rows"
