"""Columnar frames: the strict layer (STYLE.md section 2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs
import numpy as np
import pytest

from stickykit.core import Customer, Event, Survey
from stickykit.errors import ValidationError
from stickykit.frames import TEXT_DTYPE, CustomerFrame, EventFrame, SurveyFrame, iter_chunks

UTC = dt.UTC


def us(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[us]")


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


# ---------------------------------------------------------------- same frame, three ways


def event_records() -> list[Event]:
    paris = dt.timezone(dt.timedelta(hours=2))
    return [
        Event(
            event_id="e1",
            customer_id=7,
            timestamp=dt.datetime(2024, 1, 1, 9, tzinfo=UTC),
            amount=10.5,
            quantity=2,
            order_id="o1",
            currency="EUR",
        ),
        Event(
            event_id="e2",
            customer_id=7,
            timestamp=dt.datetime(2024, 6, 1, 14, tzinfo=paris),
            kind="return",
            amount=-10.5,
            quantity=1,
            order_id="o1",
            currency="EUR",
        ),
        Event(
            event_id="e3",
            customer_id=9,
            timestamp=dt.datetime(2024, 2, 29, tzinfo=UTC),
            amount=0.0,
            quantity=3,
            order_id="o2",
            currency="USD",
        ),
    ]


def event_arrays() -> dict[str, np.ndarray]:
    return {
        "event_id": np.array(["e1", "e2", "e3"]),
        "customer_id": np.array([7, 7, 9], dtype=np.int64),
        "timestamp": us("2024-01-01T09:00", "2024-06-01T12:00", "2024-02-29T00:00"),
        "kind": np.array(["purchase", "return", "purchase"]),
        "amount": np.array([10.5, -10.5, 0.0]),
        "quantity": np.array([2, 1, 3], dtype=np.int64),
        "order_id": np.array(["o1", "o1", "o2"]),
        "currency": np.array(["EUR", "EUR", "USD"]),
    }


def customer_records() -> list[Customer]:
    return [
        Customer(customer_id=1, acquired_at=dt.datetime(2023, 5, 1, tzinfo=UTC), segment="web"),
        Customer(customer_id=2, acquired_at=dt.datetime(2023, 5, 2, 6, tzinfo=UTC), segment="shop"),
    ]


def customer_arrays() -> dict[str, np.ndarray]:
    return {
        "customer_id": np.array([1, 2], dtype=np.int64),
        "acquired_at": us("2023-05-01", "2023-05-02T06:00"),
        "segment": np.array(["web", "shop"]),
    }


def survey_records() -> list[Survey]:
    t = dt.datetime(2024, 3, 1, 8, tzinfo=UTC)
    return [
        Survey(
            respondent_id="r1",
            answers={"nps": 10, "csat": 5},
            customer_id=1,
            answered_at=t,
            weight=2.0,
            wave=1,
            segment="a",
            comment="great",
        ),
        Survey(
            respondent_id="r2",
            answers={"nps": None, "csat": 3},
            customer_id=2,
            answered_at=t,
            weight=1.0,
            wave=2,
            segment=None,
            comment=None,
        ),
        Survey(
            respondent_id="r3",
            answers={"nps": 0, "csat": None},
            customer_id=3,
            answered_at=t,
            weight=0.5,
            wave=2,
            segment="b",
            comment="slow",
        ),
    ]


def survey_arrays() -> dict[str, object]:
    return {
        "respondent_id": np.array(["r1", "r2", "r3"]),
        "answers": {"nps": np.array([10, 0, 0], np.int8), "csat": np.array([5, 3, 0], np.int8)},
        "answer_missing": {
            "nps": np.array([False, True, False]),
            "csat": np.array([False, False, True]),
        },
        "customer_id": np.array([1, 2, 3], dtype=np.int64),
        "instrument": np.array(["nps", "nps", "nps"]),
        "answered_at": us("2024-03-01T08:00", "2024-03-01T08:00", "2024-03-01T08:00"),
        "weight": np.array([2.0, 1.0, 0.5]),
        "wave": np.array([1, 2, 2], dtype=np.int64),
        "segment": np.array(["a", "", "b"]),
        "comment": np.array(["great", None, "slow"], dtype=TEXT_DTYPE),
        "label_missing": {"segment": np.array([False, True, False])},
    }


def test_event_frame_from_records_equals_frame_from_arrays():
    assert_frames_equal(EventFrame.from_records(event_records()), EventFrame(**event_arrays()))


def test_customer_frame_from_records_equals_frame_from_arrays():
    assert_frames_equal(
        CustomerFrame.from_records(customer_records()), CustomerFrame(**customer_arrays())
    )


def test_survey_frame_from_records_equals_frame_from_arrays():
    assert_frames_equal(SurveyFrame.from_records(survey_records()), SurveyFrame(**survey_arrays()))


def test_frame_comparison_can_fail():
    """Negative control for ``assert_frames_equal``: one changed value is noticed."""
    arrays = event_arrays()
    arrays["amount"] = arrays["amount"] + np.array([0.0, 0.0, 0.01])
    with pytest.raises(AssertionError):
        assert_frames_equal(EventFrame.from_records(event_records()), EventFrame(**arrays))


def test_survey_from_records_items_are_the_union():
    f = SurveyFrame.from_records(
        [Survey(respondent_id=1, answers={"nps": 9}), Survey(respondent_id=2, answers={"csat": 4})]
    )
    assert f.items == ("nps", "csat")
    assert f.answers["nps"].tolist() == [9, 0]
    assert f.answer_missing["nps"].tolist() == [False, True]
    assert f.answered("csat").tolist() == [False, True]
    assert f.weight is None


def test_from_records_refuses_mixed_id_kinds():
    records = [Customer(customer_id=1), Customer(customer_id="c2")]
    with pytest.raises(ValidationError) as info:
        CustomerFrame.from_records(records)
    assert (info.value.record, info.value.field) == ("CustomerFrame", "customer_id")


def test_survey_frame_needs_an_item():
    with pytest.raises(ValidationError) as info:
        SurveyFrame.from_records([])
    assert info.value.field == "answers"


def test_empty_event_frame_from_no_records():
    f = EventFrame.from_records([])
    assert len(f) == 0
    assert f.timestamp.dtype == np.dtype("datetime64[us]")


# ---------------------------------------------------------------- the strict layer

GOOD = {
    "EventFrame": (EventFrame, event_arrays),
    "CustomerFrame": (CustomerFrame, customer_arrays),
    "SurveyFrame": (SurveyFrame, survey_arrays),
}
NAIVE_OBJECTS = np.array([dt.datetime(2024, 1, 1)] * 3, dtype=object)

STRICT_CASES = [
    # (frame, field reported, column to replace, bad value)
    ("EventFrame", "event_id", "event_id", np.arange(3, dtype=np.int32)),
    ("EventFrame", "customer_id", "customer_id", np.array([7.0, 7.0, 9.0])),
    ("EventFrame", "customer_id", "customer_id", np.array([7, 7, 9], dtype=object)),
    ("EventFrame", "customer_id", "customer_id", [7, 7, 9]),
    ("EventFrame", "customer_id", "customer_id", np.array([[7, 7, 9]], dtype=np.int64)),
    ("EventFrame", "customer_id", "customer_id", np.array([7, 7], dtype=np.int64)),
    ("EventFrame", "timestamp", "timestamp", NAIVE_OBJECTS),
    (
        "EventFrame",
        "timestamp",
        "timestamp",
        us("2024-01-01", "2024-01-02", "2024-01-03").astype("datetime64[ns]"),
    ),
    ("EventFrame", "timestamp", "timestamp", np.array(["2024-01-01"] * 3, dtype="datetime64[D]")),
    ("EventFrame", "timestamp", "timestamp", np.array(["2024-01-01", "2024-01-02", "2024-01-03"])),
    ("EventFrame", "timestamp", "timestamp", us("2024-01-01", "NaT", "2024-01-03")),
    ("EventFrame", "amount", "amount", np.array([1, 2, 3], dtype=np.int64)),
    ("EventFrame", "amount", "amount", np.ones(3, dtype=np.float32)),
    ("EventFrame", "amount", "amount", np.ones(4)),
    ("EventFrame", "quantity", "quantity", np.ones(3)),
    ("EventFrame", "kind", "kind", np.array(["a", "b", "c"], dtype=object)),
    ("CustomerFrame", "customer_id", "customer_id", np.array([1, 2], dtype=np.int32)),
    ("CustomerFrame", "customer_id", "customer_id", np.array([1, 2], dtype=np.uint64)),
    ("CustomerFrame", "acquired_at", "acquired_at", NAIVE_OBJECTS[:2]),
    ("CustomerFrame", "acquired_at", "acquired_at", us("2024-01-01")),
    ("CustomerFrame", "segment", "segment", np.array([1.0, 2.0])),
    ("CustomerFrame", "segment", "segment", np.zeros((2, 1), dtype=np.int64)),
    ("SurveyFrame", "respondent_id", "respondent_id", np.array([1, 2, 3], dtype=np.int32)),
    (
        "SurveyFrame",
        "answers['nps']",
        "answers",
        {"nps": np.array([10.0, 0.0, 0.0]), "csat": np.array([5, 3, 0], np.int8)},
    ),
    (
        "SurveyFrame",
        "answers['nps']",
        "answers",
        {"nps": np.array([10, 0, 0]), "csat": np.array([5, 3, 0], np.int8)},
    ),
    (
        "SurveyFrame",
        "csat",
        "answers",
        {"nps": np.array([10, 0, 0], np.int8), "csat": np.array([5, 3], np.int8)},
    ),
    ("SurveyFrame", "answers", "answers", {}),
    (
        "SurveyFrame",
        "answer_missing['nps']",
        "answer_missing",
        {"nps": np.array([0, 1, 0]), "csat": np.array([False, False, True])},
    ),
    (
        "SurveyFrame",
        "answer_missing['nps']",
        "answer_missing",
        {"nps": np.array([False, True]), "csat": np.array([False, False, True])},
    ),
    (
        "SurveyFrame",
        "answer_missing['other']",
        "answer_missing",
        {"other": np.array([False, True, False])},
    ),
    ("SurveyFrame", "answered_at", "answered_at", NAIVE_OBJECTS),
    ("SurveyFrame", "weight", "weight", np.array([1, 2, 3], dtype=np.int64)),
    ("SurveyFrame", "wave", "wave", np.array([1.0, 2.0, 2.0])),
    ("SurveyFrame", "comment", "comment", np.array(["a", "b", "c"])),
    ("SurveyFrame", "label_missing['wave']", "label_missing", {"wave": np.array([1, 0, 0])}),
    ("SurveyFrame", "label_missing['customer']", "label_missing", {"customer": np.zeros(3, bool)}),
]


@pytest.mark.parametrize(
    ("frame", "field", "column", "bad"),
    STRICT_CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(STRICT_CASES)],
)
def test_strict_layer_rejects_and_names_the_field(frame, field, column, bad):
    cls, arrays = GOOD[frame]
    kwargs = arrays() | {column: bad}
    with pytest.raises(ValidationError) as info:
        cls(**kwargs)
    assert info.value.record == frame
    assert info.value.field == field
    assert str(info.value).startswith(f"{frame}.{field}")


def test_nat_timestamp_error_names_the_row():
    arrays = event_arrays() | {"timestamp": us("2024-01-01", "2024-01-02", "NaT")}
    with pytest.raises(ValidationError) as info:
        EventFrame(**arrays, first_row=100)
    assert info.value.row == 102


@pytest.mark.parametrize("frame", sorted(GOOD))
def test_good_arrays_build(frame):
    cls, arrays = GOOD[frame]
    built = cls(**arrays())
    assert len(built) == (2 if frame == "CustomerFrame" else 3)
    assert built.first_row == 0


def test_optional_columns_may_be_absent():
    f = EventFrame(
        event_id=np.arange(2),
        customer_id=np.array(["a", "b"]),
        timestamp=us("2024-01-01", "2024-01-02"),
    )
    assert (f.kind, f.amount, f.quantity, f.order_id, f.currency) == (None,) * 5
    s = SurveyFrame(answers={"q": np.array([1, 2], np.int8)})
    assert s.respondent_id is None
    assert s.answered("q") is None


# ---------------------------------------------------------------- slicing, take, filter


def _arrays_of(frame) -> dict[str, np.ndarray]:
    out = {}
    for field in attrs.fields(type(frame)):
        value = getattr(frame, field.name)
        if isinstance(value, np.ndarray):
            out[field.name] = value
        elif isinstance(value, Mapping):
            out.update({f"{field.name}[{k}]": v for k, v in value.items()})
    return out


def _long(frame_name: str, n: int = 10):
    """A frame of ``n`` rows with every column present."""
    cls, arrays = GOOD[frame_name]
    base = cls(**arrays())
    rows = np.arange(n) % len(base)
    return base.take(rows)


@pytest.mark.parametrize("frame_name", sorted(GOOD))
def test_slice_returns_views_and_follows_input_rows(frame_name):
    f = _long(frame_name)
    part = f.slice(2, 7)
    assert len(part) == 5
    assert part.first_row == 2
    whole, sliced = _arrays_of(f), _arrays_of(part)
    assert sliced.keys() == whole.keys()
    assert len(sliced) >= 3
    for name, column in sliced.items():
        assert np.shares_memory(column, whole[name]), name
        np.testing.assert_array_equal(column, whole[name][2:7], err_msg=name)
    inner = part.slice(1, 3)
    assert inner.first_row == 3
    assert all(np.shares_memory(c, whole[k]) for k, c in _arrays_of(inner).items())


@pytest.mark.parametrize("frame_name", sorted(GOOD))
def test_slice_with_negative_or_large_bounds(frame_name):
    f = _long(frame_name)
    tail = f.slice(-3, 100)
    assert len(tail) == 3
    assert tail.first_row == 7
    assert f.slice(4, 100).first_row == 4


@pytest.mark.parametrize("frame_name", sorted(GOOD))
def test_iter_chunks_cover_the_rows_in_order(frame_name):
    f = _long(frame_name)
    chunks = list(iter_chunks(f, 4))
    assert [c.first_row for c in chunks] == [0, 4, 8]
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert list(iter_chunks(f, None)) == [f]
    with pytest.raises(ValueError, match="chunk_rows"):
        list(iter_chunks(f, 0))


@pytest.mark.parametrize("frame_name", sorted(GOOD))
def test_take_and_filter_copy_the_chosen_rows(frame_name):
    f = _long(frame_name)
    rows = np.array([5, 0, 3])
    keep = np.zeros(len(f), bool)
    keep[[0, 3, 5]] = True
    taken, kept = f.take(rows), f.filter(keep)
    whole = _arrays_of(f)
    for name, column in _arrays_of(taken).items():
        np.testing.assert_array_equal(column, whole[name][rows], err_msg=name)
        assert not np.shares_memory(column, whole[name])
    for name, column in _arrays_of(kept).items():
        np.testing.assert_array_equal(column, whole[name][[0, 3, 5]], err_msg=name)
    assert len(f.filter(np.zeros(len(f), bool))) == 0


def test_frames_are_frozen():
    f = EventFrame(**event_arrays())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        f.amount = None
