"""Loading with validation and quarantine (STYLE.md section 3)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.core import Event
from stickykit.errors import ValidationError
from stickykit.io import LoadResult, load_customers, load_events, load_survey

NPS = "an integer in [0, 10]"
INF = float("inf")
NAN = float("nan")


def nps_load(column, **kwargs):
    """Load one ``nps`` item on the 0-10 scale, quarantining bad rows."""
    kwargs.setdefault("scales", (0, 10))
    return load_survey({"nps": column}, items=["nps"], errors="quarantine", **kwargs)


def missing_rows(frame, item="nps") -> list[int]:
    mask = frame.answer_missing.get(item)
    return [] if mask is None else np.flatnonzero(mask).tolist()


# ---------------------------------------------------------------- survey answers, one value


VIOLATIONS = [11, -1, 7.5, "abc", INF, -INF, True, "7.5", " 12 ", "1e1", "--5", 300]
MISSING = [NAN, None, "", "NA", "  ", "nan", "<NA>", "NULL"]
GOOD = [(0, 0), (10, 10), (" 7 ", 7), ("+5", 5), ("3", 3)]


@pytest.mark.parametrize("bad", VIOLATIONS, ids=repr)
def test_bad_answer_is_a_violation_in_an_object_column(bad):
    res = nps_load(np.array([5, bad, 3], dtype=object))
    assert res.rejected.tolist() == [1]
    assert [str(r) for r in res.reasons] == [f"nps @ row 1: {bad!r} is invalid, expected {NPS}"]
    assert res.accepted.answers["nps"].tolist() == [5, 3]


@pytest.mark.parametrize(
    "column",
    [
        np.array([5, 11, 3]),
        np.array([5, -1, 3], dtype=np.int8),
        np.array([5.0, 7.5, 3.0]),
        np.array([5.0, INF, 3.0]),
        np.array(["5", "abc", "3"]),
    ],
    ids=["int64", "int8", "float", "inf", "text"],
)
def test_bad_answer_is_a_violation_in_a_typed_column(column):
    res = nps_load(column)
    assert res.rejected.tolist() == [1]
    assert res.reasons[0].row == 1
    assert res.reasons[0].expected == NPS


def test_bool_column_is_a_violation_on_every_row():
    res = nps_load(np.array([True, False]))
    assert res.rejected.tolist() == [0, 1]
    assert res.n_accepted == 0


@pytest.mark.parametrize("absent", MISSING, ids=repr)
def test_missing_answer_is_counted_not_rejected(absent):
    res = nps_load(np.array([5, absent, 3], dtype=object))
    assert res.n_rejected == 0
    assert res.reasons == []
    assert missing_rows(res.accepted) == [1]
    assert res.accepted.answers["nps"].tolist() == [5, 0, 3]


@pytest.mark.parametrize(("given_value", "stored"), GOOD, ids=repr)
def test_good_answers_are_read(given_value, stored):
    res = nps_load(np.array([given_value, 1], dtype=object))
    assert res.n_rejected == 0
    assert res.accepted.answers["nps"].tolist() == [stored, 1]
    assert res.accepted.answers["nps"].dtype == np.int8


def test_nan_in_float_column_is_missing():
    f = load_survey({"nps": [10.0, NAN, 3.0]}, items=["nps"], scales=(0, 10))
    assert missing_rows(f) == [1]
    assert f.answers["nps"].tolist() == [10, 0, 3]


# ---------------------------------------------------------------- missing codes


@pytest.mark.parametrize(
    "column",
    [
        np.array([-99, 5, 0, 10]),
        np.array([-99.0, 5.0, 0.0, 10.0]),
        np.array([-99, 5, 0, 10], np.int16),
    ],
    ids=["int64", "float64", "int16"],
)
def test_missing_codes_are_missing_not_violations(column):
    res = nps_load(column, missing_codes=(-99, 0))
    assert res.n_rejected == 0
    assert missing_rows(res.accepted) == [0, 2]
    assert res.accepted.answers["nps"].tolist() == [0, 5, 0, 10]


def test_missing_code_inside_the_scale_is_missing():
    """0 coded "not applicable" on a 0-10 scale never counts as a detractor score."""
    f = load_survey({"nps": [0, 9, 0]}, items=["nps"], scales=(0, 10), missing_codes=(0,))
    assert missing_rows(f) == [0, 2]


def test_missing_code_outside_the_scale_and_nan_together():
    res = nps_load(np.array([NAN, -99.0, 11.0, 4.0]), scales=(1, 5), missing_codes=(-99,))
    assert missing_rows(res.accepted) == [0, 1]
    assert res.rejected.tolist() == [2]


def test_missing_code_in_an_object_column_is_missing():
    res = nps_load(np.array([-99, 5, "abc"], dtype=object), missing_codes=(-99,))
    assert res.rejected.tolist() == [2]
    assert missing_rows(res.accepted) == [0]


def test_missing_code_in_a_text_column_is_missing():
    res = nps_load(np.array(["-99", "5"]), missing_codes=(-99,))
    assert res.n_rejected == 0


def test_whole_float_in_an_object_column_is_an_answer():
    res = nps_load(np.array([5.0, None, "abc"], dtype=object))
    assert res.rejected.tolist() == [2]
    assert res.accepted.answers["nps"].tolist() == [5, 0]


# ---------------------------------------------------------------- raise and quarantine


def twenty_rows() -> list[object]:
    answers: list[object] = [8] * 20
    answers[17] = 11
    return answers


def test_reason_format():
    res = nps_load(twenty_rows())
    assert [str(r) for r in res.reasons] == [
        "nps @ row 17: 11 is invalid, expected an integer in [0, 10]"
    ]
    reason = res.reasons[0]
    assert (reason.row, reason.field, reason.value, reason.expected) == (17, "nps", 11, NPS)


def test_raise_names_field_row_value_expected_and_count():
    answers = twenty_rows()
    answers[3] = "abc"
    answers[19] = -1
    csat = [4] * 20
    csat[3] = 9  # row 3 fails two rules: still one failing row
    csat[5] = 0
    with pytest.raises(ValidationError) as info:
        load_survey(
            {"nps": answers, "csat": csat},
            items=["nps", "csat"],
            scales={"nps": (0, 10), "csat": (1, 5)},
        )
    err = info.value
    assert (err.record, err.field, err.row, err.value, err.expected) == (
        "SurveyFrame",
        "nps",
        3,
        "abc",
        NPS,
    )
    assert err.n_failing == 4
    assert str(err).startswith("SurveyFrame.nps @ row 3: 'abc' is invalid, expected an integer")
    assert "4 rows fail in all" in str(err)
    assert "errors='quarantine'" in str(err)


def test_raise_is_the_default_and_one_bad_row_says_nothing_more():
    with pytest.raises(ValidationError) as info:
        load_survey({"nps": [1, 12]}, items=["nps"], scales=(0, 10))
    assert info.value.n_failing == 1
    assert "fail in all" not in str(info.value)


def test_quarantine_reasons_one_per_row_and_rule():
    res = load_survey(
        {"id": [10, 11, 12, 13], "nps": [1, 2, 11, 12], "csat": [1, 99, 3, 99]},
        items=["nps", "csat"],
        columns={"respondent_id": "id"},
        scales={"nps": (0, 10), "csat": (1, 5)},
        errors="quarantine",
    )
    assert isinstance(res, LoadResult)
    assert (res.n_input, res.n_accepted, res.n_rejected) == (4, 1, 3)
    assert res.rejected.tolist() == [1, 2, 3]
    assert [(r.row, r.field) for r in res.reasons] == [
        (1, "csat"),
        (2, "nps"),
        (3, "csat"),
        (3, "nps"),
    ]
    assert res.accepted.respondent_id.tolist() == [10]
    assert "4 rows read, 1 accepted, 3 rejected" in res.summary()


def test_quarantine_with_nothing_wrong_accepts_every_row():
    res = nps_load([0, 5, 10])
    assert (res.n_accepted, res.n_rejected, res.reasons) == (3, 0, [])


def test_unknown_errors_mode():
    with pytest.raises(ValueError, match="'raise' or 'quarantine'"):
        load_survey({"nps": [1]}, items=["nps"], errors="ignore")  # type: ignore[call-overload]


@pytest.mark.parametrize("errors", ["raise", "quarantine"])
@pytest.mark.parametrize(
    ("loader", "source"),
    [
        (lambda s, e: load_survey(s, items=["nps"], errors=e), {"nps": []}),
        (lambda s, e: load_events(s, errors=e, tz="UTC"), {"customer_id": [], "timestamp": []}),
        (lambda s, e: load_customers(s, errors=e), {"customer_id": []}),
    ],
    ids=["survey", "events", "customers"],
)
def test_empty_input_is_an_error(loader, source, errors):
    with pytest.raises(ValidationError) as info:
        loader(source, errors)
    assert info.value.value == "0 rows"


def test_missing_required_column_is_named():
    with pytest.raises(ValidationError) as info:
        load_survey({"nps": [1, 2]}, items=["csat"])
    assert info.value.field == "csat"
    with pytest.raises(ValidationError) as info:
        load_events({"cust": [1], "timestamp": ["2024-01-01"]}, tz="UTC")
    assert info.value.field == "customer_id"


@pytest.mark.parametrize(
    ("source", "field"),
    [({"nps": [1, 2], "csat": [1]}, "csat"), ({"nps": np.zeros((2, 2))}, "nps")],
    ids=["unequal-lengths", "2-D"],
)
def test_malformed_mapping_names_the_column(source, field):
    with pytest.raises(ValidationError) as info:
        load_survey(source, items=list(source))
    assert info.value.field == field


def test_survey_labels_weights_and_comments():
    res = load_survey(
        {
            "nps": [9, 7, 3, 10],
            "wave": [1.0, NAN, 2.0, 2.5],
            "segment": np.array(["a", None, "b", "c"], dtype=object),
            "weight": [1.0, -1.0, 0.0, 2.0],
            "comment": np.array(["ok", "", None, " fine "], dtype=object),
        },
        items=["nps"],
        errors="quarantine",
    )
    assert res.rejected.tolist() == [1, 3]
    assert {(r.row, r.field) for r in res.reasons} == {(1, "weight"), (3, "wave")}
    f = res.accepted
    assert f.wave.tolist() == [1, 2]
    assert f.segment.tolist() == ["a", "b"]
    assert f.weight.tolist() == [1.0, 0.0]
    assert f.comment.tolist() == ["ok", None]


def test_label_missing_rows_hold_no_stray_text():
    f = load_survey(
        {"nps": [1, 2, 3], "segment": np.array(["a", None, NAN], dtype=object)}, items=["nps"]
    )
    assert f.label_missing["segment"].tolist() == [False, True, True]
    assert f.segment.tolist() == ["a", "", ""]


def test_survey_from_csv_path(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("id,nps,csat\n1,10,5\n2,NA,4\n3,11,2\n", encoding="utf-8")
    res = load_survey(
        path,
        items=["nps", "csat"],
        columns={"respondent_id": "id"},
        scales={"nps": (0, 10), "csat": (1, 5)},
        errors="quarantine",
    )
    assert res.rejected.tolist() == [2]
    assert res.accepted.respondent_id.tolist() == [1, 2]
    assert missing_rows(res.accepted) == [1]


# ---------------------------------------------------------------- events and customers


def test_event_amount_and_quantity_rules():
    res = load_events(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "timestamp": ["2024-01-01"] * 5,
            "amount": np.array([9.5, NAN, INF, "x", -3], dtype=object),
            "quantity": [1, 2, 1.5, 1, None],
        },
        tz="UTC",
        errors="quarantine",
    )
    assert res.rejected.tolist() == [1, 2, 3, 4]
    assert {(r.row, r.field) for r in res.reasons} == {
        (1, "amount"),
        (2, "amount"),
        (2, "quantity"),
        (3, "amount"),
        (4, "quantity"),
    }
    assert res.accepted.amount.tolist() == [9.5]
    assert res.accepted.event_id.tolist() == [0]


def test_one_unreadable_timestamp_rejects_only_its_row():
    res = load_events(
        {
            "customer_id": [1, 2, 3, 4],
            "timestamp": ["2024-01-01", "nope", None, "2024-02-01 10:00"],
        },
        tz="UTC",
        errors="quarantine",
    )
    assert res.rejected.tolist() == [1, 2]
    assert [(r.row, r.expected) for r in res.reasons] == [
        (1, "an ISO 8601 date-time"),
        (2, "a date-time"),
    ]
    assert res.accepted.timestamp.tolist() == [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1, 10)]


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-01-01T10:00+02:00", "2024-01-01T08:00"),
        ("2024-01-01T10:00Z", "2024-01-01T10:00"),
        ("2024-01-01 10:00-05", "2024-01-01T15:00"),
        ("2024-01-01T10:00:00.5-0330", "2024-01-01T13:30:00.5"),
    ],
)
def test_text_with_an_offset_is_an_instant_not_shifted_twice(text, utc):
    """The offset is applied once; ``tz`` only places the naive rows (Paris: UTC+1 in winter)."""
    frame = load_events(
        {"customer_id": [1, 2], "timestamp": ["2024-01-01", text]}, tz="Europe/Paris"
    )
    assert frame.timestamp.tolist() == [
        dt.datetime(2023, 12, 31, 23),
        np.datetime64(utc, "us").astype(dt.datetime),
    ]


def test_offsets_need_no_zone_but_naive_rows_do():
    res = load_events(
        {"customer_id": [1, 2], "timestamp": ["2024-01-01T10:00+01:00", "2024-01-01T10:00"]},
        errors="quarantine",
    )
    assert res.rejected.tolist() == [1]
    assert "naive" in res.reasons[0].expected


@pytest.mark.parametrize(
    "text", ["2024-01-01T10:00+25:00", "2024-01-01T10:00+1", "2024-01-01T10:00+ab"]
)
def test_malformed_offsets_are_refused(text):
    res = load_events(
        {"customer_id": [1, 2], "timestamp": ["2024-01-01T09:00Z", text]}, errors="quarantine"
    )
    assert res.rejected.tolist() == [1]
    assert res.reasons[0].expected == "an ISO 8601 date-time"


def test_naive_times_without_a_zone_fail_and_say_to_name_it():
    with pytest.raises(ValidationError) as info:
        load_events({"customer_id": [1, 2], "timestamp": ["2024-01-01", "2024-01-02"]})
    err = info.value
    assert (err.field, err.row, err.n_failing) == ("timestamp", 0, 2)
    assert "naive" in err.expected
    assert "tz=" in err.expected


# Europe/Paris local -> UTC, by hand: +1 in winter, +2 in summer; DST 2024-03-31 02:00 -> 03:00,
# and 2024-10-27 03:00 -> 02:00 (the repeated hour takes its first, summer-time, occurrence).
PARIS_CASES = [
    ("2024-01-15T12:00", "2024-01-15T11:00"),
    ("2024-03-31T01:59", "2024-03-31T00:59"),
    ("2024-03-31T03:00", "2024-03-31T01:00"),
    ("2024-07-01T12:00", "2024-07-01T10:00"),
    ("2024-10-27T01:30", "2024-10-26T23:30"),
    ("2024-10-27T02:30", "2024-10-27T00:30"),
    ("2024-10-27T03:30", "2024-10-27T02:30"),
]


@pytest.mark.parametrize("as_text", [True, False], ids=["text", "datetime64"])
def test_naive_times_in_a_named_zone_across_dst(as_text):
    local = np.array([c[0] for c in PARIS_CASES], dtype="datetime64[m]")
    column = local.astype(str) if as_text else local
    f = load_events({"customer_id": np.arange(len(local)), "timestamp": column}, tz="Europe/Paris")
    expected = np.array([c[1] for c in PARIS_CASES], dtype="datetime64[us]")
    np.testing.assert_array_equal(f.timestamp, expected)


def test_half_hour_dst_shift():
    """Lord Howe Island moves its clocks by 30 minutes (+10:30 -> +11 on 2024-10-06 02:00)."""
    local = np.array(["2024-10-06T01:45", "2024-10-06T02:45", "2024-10-06T03:15"], "datetime64[us]")
    f = load_events({"customer_id": [1, 2, 3], "timestamp": local}, tz="Australia/Lord_Howe")
    expected = np.array(
        ["2024-10-05T15:15", "2024-10-05T15:45", "2024-10-05T16:15"], dtype="datetime64[us]"
    )
    np.testing.assert_array_equal(f.timestamp, expected)


def test_customers_ids_and_acquisition_times():
    res = load_customers(
        {
            "customer_id": np.array(["a", "", None, " d "], dtype=object),
            "acquired_at": ["2024-01-01", None, "2024-01-03", "2024-01-04"],
            "segment": ["x", "y", "z", "w"],
        },
        tz="UTC",
        errors="quarantine",
    )
    assert res.rejected.tolist() == [1, 2]
    assert all(r.field == "customer_id" and r.expected == "a non-empty id" for r in res.reasons)
    assert res.accepted.customer_id.tolist() == ["a", "d"]
    whole = load_customers(
        {"customer_id": [1.0, 2.0], "acquired_at": [None, "2024-05-01"]}, tz="UTC"
    )
    assert whole.customer_id.dtype == np.int64
    assert np.isnat(whole.acquired_at).tolist() == [True, False]


@pytest.mark.parametrize(
    "column",
    [
        np.array([1.0, 1.5]),
        np.array([1.0, INF]),
        np.array([False, True]),
        np.array(["c1", True], dtype=object),
        np.array([1, False], dtype=object),
    ],
    ids=["fraction", "inf", "bool-column", "bool-in-text", "bool-in-objects"],
)
def test_customer_ids_must_be_whole_or_text_never_bool(column):
    with pytest.raises(ValidationError) as info:
        load_customers({"customer_id": column})
    err = info.value
    assert (err.field, err.expected) == ("customer_id", "an integer or text id")
    assert err.row == (0 if column.dtype == bool else 1)


@given(
    local=st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2060, 1, 1)),
    tz=st.sampled_from(
        [
            "Europe/Paris",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "Asia/Kolkata",
        ]
    ),
)
def test_bulk_zone_conversion_agrees_with_records(local, tz):
    stamp = np.array([local], dtype="datetime64[us]")
    f = load_events({"customer_id": [1], "timestamp": stamp}, tz=tz)
    record = Event.from_mapping({"event_id": 0, "customer_id": 1, "timestamp": local}, tz=tz)
    assert f.timestamp[0] == np.datetime64(record.timestamp.replace(tzinfo=None), "us")


TRANSITION_DAYS = [
    ("Europe/Paris", ["2024-03-31", "2024-10-27"]),
    ("America/New_York", ["2024-03-10", "2024-11-03"]),
    ("America/St_Johns", ["2024-03-10", "2024-11-03"]),
    ("Australia/Lord_Howe", ["2024-04-07", "2024-10-06"]),
    ("Pacific/Chatham", ["2024-04-07", "2024-09-29"]),
]


@pytest.mark.parametrize(("tz", "days"), TRANSITION_DAYS, ids=[z for z, _ in TRANSITION_DAYS])
def test_bulk_zone_conversion_agrees_with_records_on_transition_days(tz, days):
    """Every 5 minutes of each 2024 DST change day, as the records' datetime arithmetic does it."""
    step = np.timedelta64(5, "m")
    local = np.concatenate(
        [np.arange(np.datetime64(d), np.datetime64(d) + np.timedelta64(1, "D"), step) for d in days]
    ).astype("datetime64[us]")
    f = load_events({"customer_id": np.zeros(len(local), np.int64), "timestamp": local}, tz=tz)
    by_record = [
        Event.from_mapping(
            {"event_id": 0, "customer_id": 0, "timestamp": t.astype(dt.datetime)}, tz=tz
        ).timestamp.replace(tzinfo=None)
        for t in local
    ]
    np.testing.assert_array_equal(f.timestamp, np.array(by_record, dtype="datetime64[us]"))


# ---------------------------------------------------------------- the quarantine property

_good = st.integers(0, 10).map(lambda v: ("good", v))
_bad = st.sampled_from([11, -1, 7.5, "abc", INF, True, 127, "x1"]).map(lambda v: ("bad", v))
_missing = st.sampled_from([NAN, None, "", "NA", " "]).map(lambda v: ("missing", v))
_cell = st.one_of(_good, _bad, _missing)
_rows = st.lists(st.tuples(_cell, _cell), min_size=1, max_size=40)


def check_quarantine(
    rows: list[tuple[tuple[str, object], tuple[str, object]]],
    *,
    n_accepted: int,
    n_rejected: int,
    n_input: int,
    answers: dict[str, list[int]],
    missing: dict[str, list[bool]],
    reason_rows: list[int],
    rejected: list[int],
) -> None:
    """The laws of a quarantine, stated on plain values so a broken result can be fed in."""
    assert n_accepted + n_rejected == n_input == len(rows)
    bad = [i for i, row in enumerate(rows) if any(kind == "bad" for kind, _ in row)]
    good = [i for i in range(len(rows)) if i not in bad]
    assert rejected == bad
    assert n_accepted == len(good)
    for k, item in enumerate(("nps", "csat")):
        cells = [rows[i][k] for i in good]
        assert answers[item] == [v if kind == "good" else 0 for kind, v in cells]
        assert missing[item] == [kind == "missing" for kind, _ in cells]
    assert set(rejected) <= set(reason_rows)
    assert set(reason_rows) <= set(rejected)


def observed(res: LoadResult) -> dict[str, object]:
    f = res.accepted
    return {
        "n_accepted": res.n_accepted,
        "n_rejected": res.n_rejected,
        "n_input": res.n_input,
        "answers": {k: f.answers[k].tolist() for k in ("nps", "csat")},
        "missing": {
            k: (f.answer_missing[k].tolist() if k in f.answer_missing else [False] * len(f))
            for k in ("nps", "csat")
        },
        "reason_rows": [r.row for r in res.reasons],
        "rejected": res.rejected.tolist(),
    }


def load_rows(rows) -> LoadResult:
    columns = {
        item: np.array([row[k][1] for row in rows], dtype=object)
        for k, item in enumerate(("nps", "csat"))
    }
    return load_survey(columns, items=["nps", "csat"], scales=(0, 10), errors="quarantine")


@given(rows=_rows)
def test_quarantine_keeps_exactly_the_good_rows_in_order(rows):
    check_quarantine(rows, **observed(load_rows(rows)))


FIXED_ROWS = [
    (("good", 9), ("good", 3)),
    (("bad", 11), ("good", 1)),
    (("missing", None), ("good", 10)),
    (("good", 0), ("bad", "abc")),
    (("good", 7), ("missing", NAN)),
]


def test_quarantine_check_passes_on_the_fixed_example():
    check_quarantine(FIXED_ROWS, **observed(load_rows(FIXED_ROWS)))


@pytest.mark.parametrize(
    "breakage",
    ["count", "order", "dropped-good-row", "lost-reason", "missing-as-score", "kept-bad-row"],
)
def test_negative_control_quarantine_check_catches_a_broken_result(breakage):
    """Each deliberate breakage of a correct result must make ``check_quarantine`` fail."""
    seen = observed(load_rows(FIXED_ROWS))
    if breakage == "count":
        seen["n_accepted"] -= 1
    elif breakage == "order":
        seen["answers"]["nps"].reverse()
    elif breakage == "dropped-good-row":
        seen["answers"] = {k: v[1:] for k, v in seen["answers"].items()}
        seen["missing"] = {k: v[1:] for k, v in seen["missing"].items()}
        seen["n_accepted"] -= 1
        seen["n_rejected"] += 1
        seen["rejected"] = [0, *seen["rejected"]]
        seen["reason_rows"] = [0, *seen["reason_rows"]]
    elif breakage == "lost-reason":
        seen["reason_rows"] = seen["reason_rows"][1:]
    elif breakage == "missing-as-score":
        seen["missing"]["nps"] = [False] * len(seen["missing"]["nps"])
    elif breakage == "kept-bad-row":
        seen["rejected"] = seen["rejected"][:-1]
        seen["n_rejected"] -= 1
        seen["n_accepted"] += 1
    with pytest.raises(AssertionError):
        check_quarantine(FIXED_ROWS, **seen)


def test_fixed_example_has_every_kind_of_cell():
    kinds = {kind for row in FIXED_ROWS for kind, _ in row}
    assert kinds == {"good", "bad", "missing"}
    assert any(isinstance(v, float) and math.isnan(v) for row in FIXED_ROWS for _, v in row)


def test_unknown_zone_is_a_validation_error() -> None:
    from stickykit import Event, load_events

    with pytest.raises(ValidationError, match="IANA time zone") as info:
        load_events({"customer_id": [1], "timestamp": ["2024-01-01"]}, tz="Mars/Olympus")
    assert info.value.field == "tz"
    with pytest.raises(ValidationError, match="IANA"):
        Event.from_mapping(
            {"event_id": 1, "customer_id": 1, "timestamp": dt.datetime(2024, 1, 1)},
            tz="Nowhere/City",
        )


def test_missing_order_ids_are_masked_not_zero() -> None:
    from stickykit import load_events

    f = load_events(
        {
            "customer_id": [1, 2, 3],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "order_id": [10.0, np.nan, 12.0],
            "currency": ["USD", None, "EUR"],
        },
        tz="UTC",
    )
    assert f.label_missing["order_id"].tolist() == [False, True, False]
    assert f.label_missing["currency"].tolist() == [False, True, False]
    assert f.order_id[[0, 2]].tolist() == [10, 12]


def test_event_records_keep_partial_order_ids() -> None:
    from stickykit import Event, EventFrame

    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    f = EventFrame.from_records(
        [
            Event(event_id=1, customer_id=1, timestamp=t, order_id="o1"),
            Event(event_id=2, customer_id=1, timestamp=t),
        ]
    )
    assert f.order_id is not None
    assert f.order_id[0] == "o1"
    assert f.label_missing["order_id"].tolist() == [False, True]
    assert f.currency is None


def test_quarantine_keeps_rejected_input_values() -> None:
    res = load_survey(
        {"respondent_id": ["a", "b", "c", "d"], "nps": np.array([9, "x", 12, None], dtype=object)},
        items=["nps"],
        scales=(0, 10),
        errors="quarantine",
    )
    assert res.rejected.tolist() == [1, 2]
    assert res.rejected_values["respondent_id"].tolist() == ["b", "c"]
    assert res.rejected_values["nps"].tolist() == ["x", 12]
