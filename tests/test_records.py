"""Typed records: Event, Customer, Survey (STYLE.md section 1)."""

from __future__ import annotations

import datetime as dt
import pickle
import zoneinfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.core import Answers, Customer, Event, Survey
from stickykit.errors import StickykitError, ValidationError

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def make_event(**changes):
    values = {"event_id": "e1", "customer_id": 42, "timestamp": T0, "amount": 19.9}
    return Event(**(values | changes))


def make_customer(**changes):
    values = {"customer_id": "c1", "acquired_at": T0, "segment": "web"}
    return Customer(**(values | changes))


def make_survey(**changes):
    values = {"respondent_id": 1, "answers": {"nps": 9, "csat": None}, "answered_at": T0}
    return Survey(**(values | changes))


MAKERS = {"Event": make_event, "Customer": make_customer, "Survey": make_survey}
ID_FIELDS = [
    ("Event", "event_id"),
    ("Event", "customer_id"),
    ("Customer", "customer_id"),
    ("Survey", "respondent_id"),
]
TIME_FIELDS = [("Event", "timestamp"), ("Customer", "acquired_at"), ("Survey", "answered_at")]


def assert_names(err: ValidationError, record: str, field: str, value: object) -> None:
    """The error names the record type, the field, the value and what was expected."""
    assert err.record == record
    assert err.field == field
    assert err.row is None
    assert err.expected
    message = str(err)
    assert message.startswith(f"{record}.{field}: ")
    assert repr(value) in message
    assert err.expected in message


# ---------------------------------------------------------------- frozen, slotted, hashable


@pytest.mark.parametrize("record", sorted(MAKERS))
def test_record_is_frozen(record):
    r = MAKERS[record]()
    field = attrs.fields(type(r))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(r, field, "other")


@pytest.mark.parametrize("record", sorted(MAKERS))
def test_record_is_slotted(record):
    r = MAKERS[record]()
    assert "__slots__" in type(r).__dict__
    assert not hasattr(r, "__dict__")


@pytest.mark.parametrize("record", sorted(MAKERS))
def test_equal_records_hash_equal(record):
    a, b = MAKERS[record](), MAKERS[record]()
    assert a is not b
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    ("record", "field", "new"),
    [("Event", "amount", 5.0), ("Customer", "segment", "store"), ("Survey", "weight", 2.5)],
)
def test_evolve_returns_a_changed_copy(record, field, new):
    r = MAKERS[record]()
    changed = attrs.evolve(r, **{field: new})
    assert getattr(changed, field) == new
    assert getattr(r, field) != new
    assert changed != r


@pytest.mark.parametrize(
    ("record", "field", "bad"),
    [("Event", "amount", float("nan")), ("Customer", "customer_id", ""), ("Survey", "weight", -1)],
)
def test_evolve_validates_again(record, field, bad):
    with pytest.raises(ValidationError) as info:
        attrs.evolve(MAKERS[record](), **{field: bad})
    assert info.value.field == field


def test_records_pickle_round_trip():
    for make in MAKERS.values():
        r = make()
        assert pickle.loads(pickle.dumps(r)) == r


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize(("record", "field"), ID_FIELDS)
@pytest.mark.parametrize("good", [0, 7, -3, 2**62, "c1", "  c1  ", "é"])
def test_ids_accept_int_or_text(record, field, good):
    r = MAKERS[record](**{field: good})
    assert getattr(r, field) == (good.strip() if isinstance(good, str) else good)


@pytest.mark.parametrize(("record", "field"), ID_FIELDS)
@pytest.mark.parametrize("bad", ["", "  ", "\t\n", True, False, None, 1.0, b"c1", ("c", 1)])
def test_ids_reject_empty_bool_and_other_types(record, field, bad):
    with pytest.raises(ValidationError) as info:
        MAKERS[record](**{field: bad})
    shown = bad.strip() if isinstance(bad, str) else bad
    assert_names(info.value, record, field, shown)
    assert "non-empty string or an integer" in info.value.expected


def test_optional_ids_blank_means_absent():
    assert make_event(order_id="  ").order_id is None
    assert make_survey(customer_id="").customer_id is None
    assert make_survey(customer_id=" c9 ").customer_id == "c9"


def test_optional_id_still_rejects_bool():
    with pytest.raises(ValidationError) as info:
        make_event(order_id=True)
    assert_names(info.value, "Event", "order_id", True)


# ---------------------------------------------------------------- time zones


@pytest.mark.parametrize(("record", "field"), TIME_FIELDS)
def test_aware_datetime_converted_to_utc(record, field):
    tokyo = dt.datetime(2024, 1, 1, 9, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    stored = getattr(MAKERS[record](**{field: tokyo}), field)
    assert stored.tzinfo is UTC
    assert stored == dt.datetime(2024, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("record", "field"), TIME_FIELDS)
def test_naive_datetime_rejected_and_error_says_to_name_the_zone(record, field):
    naive = dt.datetime(2024, 1, 1, 9)
    with pytest.raises(ValidationError) as info:
        MAKERS[record](**{field: naive})
    assert_names(info.value, record, field, naive)
    assert "timezone-aware" in info.value.expected
    assert f"{record}.from_mapping(..., tz=" in info.value.expected


@pytest.mark.parametrize(("record", "field"), TIME_FIELDS)
@pytest.mark.parametrize("bad", ["2024-01-01T00:00:00+00:00", 1_700_000_000, dt.date(2024, 1, 1)])
def test_non_datetimes_rejected(record, field, bad):
    with pytest.raises(ValidationError) as info:
        MAKERS[record](**{field: bad})
    assert_names(info.value, record, field, bad)


def _row(record: str, field: str, when: dt.datetime) -> dict:
    base = {
        "Event": {"event_id": 1, "customer_id": 2},
        "Customer": {"customer_id": 2},
        "Survey": {"respondent_id": 3, "answers": {"nps": 8}},
    }[record]
    return base | {field: when}


@pytest.mark.parametrize(("record", "field"), TIME_FIELDS)
@pytest.mark.parametrize(
    ("local", "tz", "utc"),
    [
        # Europe/Paris: CET (+1) in winter, CEST (+2) in summer; DST starts 2024-03-31 02:00
        (dt.datetime(2024, 1, 15, 12), "Europe/Paris", dt.datetime(2024, 1, 15, 11)),
        (dt.datetime(2024, 7, 1, 12), "Europe/Paris", dt.datetime(2024, 7, 1, 10)),
        (dt.datetime(2024, 3, 31, 1, 30), "Europe/Paris", dt.datetime(2024, 3, 31, 0, 30)),
        (dt.datetime(2024, 3, 31, 3, 30), "Europe/Paris", dt.datetime(2024, 3, 31, 1, 30)),
        # the repeated hour on 2024-10-27: fold=0 is the first (summer-time) occurrence
        (dt.datetime(2024, 10, 27, 2, 30), "Europe/Paris", dt.datetime(2024, 10, 27, 0, 30)),
        (dt.datetime(2024, 10, 27, 2, 30, fold=1), PARIS, dt.datetime(2024, 10, 27, 1, 30)),
        (dt.datetime(2024, 1, 1), "Asia/Shanghai", dt.datetime(2023, 12, 31, 16)),
        (dt.datetime(2024, 1, 1), "UTC", dt.datetime(2024, 1, 1)),
    ],
)
def test_from_mapping_reads_naive_times_in_the_named_zone(record, field, local, tz, utc):
    cls = {"Event": Event, "Customer": Customer, "Survey": Survey}[record]
    stored = getattr(cls.from_mapping(_row(record, field, local), tz=tz), field)
    assert stored.tzinfo is UTC
    assert stored == utc.replace(tzinfo=UTC)


@pytest.mark.parametrize(("record", "field"), TIME_FIELDS)
def test_from_mapping_without_zone_rejects_naive_times(record, field):
    cls = {"Event": Event, "Customer": Customer, "Survey": Survey}[record]
    with pytest.raises(ValidationError) as info:
        cls.from_mapping(_row(record, field, dt.datetime(2024, 1, 1)))
    assert info.value.field == field
    assert "tz=" in str(info.value)


def test_from_mapping_keeps_aware_times_whatever_the_zone():
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    e = Event.from_mapping(_row("Event", "timestamp", aware), tz="Asia/Tokyo")
    assert e.timestamp == dt.datetime(2024, 1, 1, 17, tzinfo=UTC)


@pytest.mark.parametrize("cls", [Event, Customer, Survey])
def test_from_mapping_rejects_unknown_fields(cls):
    row = _row(cls.__name__, "comment_typo", "x")
    with pytest.raises(ValidationError) as info:
        cls.from_mapping(row)
    assert info.value.record == cls.__name__
    assert info.value.field == "comment_typo"
    assert "one of the fields" in info.value.expected


# ---------------------------------------------------------------- money and counts


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), True, "3.5", None])
def test_amount_must_be_finite_number(bad):
    with pytest.raises(ValidationError) as info:
        make_event(amount=bad)
    assert_names(info.value, "Event", "amount", bad)
    assert info.value.expected == "a finite number"


@pytest.mark.parametrize("good", [0, 0.0, -12.5, 1e12, 3])
def test_amount_accepts_finite_numbers(good):
    assert make_event(amount=good).amount == good


@pytest.mark.parametrize("bad", [1.0, True, "2", None])
def test_quantity_must_be_integer(bad):
    with pytest.raises(ValidationError) as info:
        make_event(quantity=bad)
    assert_names(info.value, "Event", "quantity", bad)


# ---------------------------------------------------------------- survey answers and weights


@pytest.mark.parametrize("bad", [7.5, 9.0, "9", True, False, [9]])
def test_answers_must_be_int_or_none(bad):
    with pytest.raises(ValidationError) as info:
        make_survey(answers={"nps": bad})
    assert_names(info.value, "Survey", "answers['nps']", bad)
    assert info.value.expected == "an integer answer or None"


def test_answers_none_means_unanswered():
    s = make_survey(answers={"nps": None, "csat": 4})
    assert s.answers["nps"] is None
    assert s.answers["csat"] == 4


@pytest.mark.parametrize("bad", [128, -129, 10**6])
def test_answers_must_fit_int8(bad):
    with pytest.raises(ValidationError) as info:
        make_survey(answers={"nps": bad})
    assert info.value.expected == "an integer in [-128, 127]"


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, "at least one item"),
        ([("nps", 9)], "a mapping of item name to integer answer or None"),
        ({"": 9}, "item names that are non-empty strings"),
        ({"  ": 9}, "item names that are non-empty strings"),
        ({1: 9}, "item names that are non-empty strings"),
        ({"nps": 9, " nps ": 3}, "item names that stay distinct once stripped"),
    ],
)
def test_answers_mapping_shape(answers, expected):
    with pytest.raises(ValidationError) as info:
        make_survey(answers=answers)
    assert info.value.record == "Survey"
    assert info.value.field == "answers"
    assert info.value.expected == expected


def test_answers_are_an_immutable_hashable_mapping():
    s = make_survey(answers={" nps ": 9, "csat": None})
    assert isinstance(s.answers, Answers)
    assert dict(s.answers) == {"nps": 9, "csat": None}
    assert s.answers == Answers({"csat": None, "nps": 9})
    assert hash(s.answers) == hash(Answers({"csat": None, "nps": 9}))
    with pytest.raises(TypeError):
        s.answers["nps"] = 3  # type: ignore[index]


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf"), True, "1"])
def test_weight_non_negative_and_finite(bad):
    with pytest.raises(ValidationError) as info:
        make_survey(weight=bad)
    shown = float(bad) if isinstance(bad, int) and not isinstance(bad, bool) else bad
    assert_names(info.value, "Survey", "weight", shown)


@pytest.mark.parametrize(("given_weight", "stored"), [(0, 0.0), (2, 2.0), (0.5, 0.5)])
def test_weight_accepts_non_negative_numbers_as_float(given_weight, stored):
    w = make_survey(weight=given_weight).weight
    assert w == stored
    assert isinstance(w, float)


def test_survey_defaults():
    s = Survey(respondent_id="r", answers={"nps": 10})
    assert (s.instrument, s.weight, s.answered_at, s.wave, s.comment) == (
        "nps",
        1.0,
        None,
        None,
        None,
    )


# ---------------------------------------------------------------- the error itself


def test_validation_error_is_a_value_error_and_pickles():
    with pytest.raises(ValidationError) as info:
        make_event(amount=float("inf"))
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, StickykitError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.record, again.field, again.row, again.expected, again.n_failing) == (
        "Event",
        "amount",
        None,
        "a finite number",
        1,
    )
    assert str(again) == str(err)


# ---------------------------------------------------------------- properties

# datetimes at least a day inside the representable range, so no zone pushes them out of it
_aware = st.datetimes(
    min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2200, 12, 30), timezones=st.timezones()
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def check_same_instant_in_utc(given: dt.datetime, stored: dt.datetime) -> None:
    """``stored`` is ``given``'s instant, expressed in UTC."""
    assert stored.tzinfo is UTC
    # subtraction of aware datetimes compares instants, whatever the zone or fold
    assert stored - _EPOCH == given - _EPOCH


@given(when=_aware)
def test_any_aware_datetime_round_trips_to_the_same_instant(when):
    for record, field in TIME_FIELDS:
        check_same_instant_in_utc(when, getattr(MAKERS[record](**{field: when}), field))


def test_negative_control_instant_check_catches_a_dropped_offset():
    """A converter that relabelled the wall clock as UTC (forgetting the offset) must fail."""
    when = dt.datetime(2024, 7, 1, 12, tzinfo=PARIS)
    with pytest.raises(AssertionError):
        check_same_instant_in_utc(when, when.replace(tzinfo=UTC))


@given(local=st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_from_mapping_tz_matches_attaching_the_zone(local):
    e = Event.from_mapping(_row("Event", "timestamp", local), tz="Europe/Paris")
    check_same_instant_in_utc(local.replace(tzinfo=PARIS), e.timestamp)


_padding = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003", max_size=3)
_word = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s != "")


@given(left=_padding, word=_word, right=_padding)
def test_text_converters_strip(left, word, right):
    padded = f"{left}{word}{right}"
    assert Customer(customer_id=padded).customer_id == word
    assert make_event(kind=padded, currency=padded, order_id=padded).kind == word
    s = make_survey(answers={padded: 5}, comment=padded, wave=padded, segment=padded)
    assert (s.comment, s.wave, s.segment) == (word, word, word)
    assert list(s.answers) == [word]


@given(blank=_padding)
def test_blank_text_is_rejected_or_absent(blank):
    with pytest.raises(ValidationError):
        Customer(customer_id=blank)
    assert make_survey(comment=blank).comment is None
