"""Checks across event rows and the money policies of ``prepare_events`` (issue 5, bad input)."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit.errors import ValidationError
from stickykit.frames import CustomerFrame, EventFrame
from stickykit.io import PreparedEvents, check_returns_policy, is_return, prepare_events

AS_OF = np.datetime64("2024-12-31T00:00", "us")


def events(
    customer_id=(1, 1, 2),
    times=("2024-01-02", "2024-02-03", "2024-03-04"),
    amount=(10.0, 20.0, 30.0),
    event_id=None,
    currency=None,
    **kwargs,
) -> EventFrame:
    n = len(customer_id)
    return EventFrame(
        event_id=np.arange(n, dtype=np.int64) if event_id is None else np.array(event_id),
        customer_id=np.array(customer_id),
        timestamp=np.array(times, dtype="datetime64[us]"),
        amount=None if amount is None else np.array(amount, dtype=np.float64),
        currency=None if currency is None else np.array(currency),
        **kwargs,
    )


def customers(ids=(1, 2), acquired=("2024-01-01", "2024-01-01")) -> CustomerFrame:
    return CustomerFrame(
        customer_id=np.array(ids), acquired_at=np.array(acquired, dtype="datetime64[us]")
    )


# ---------------------------------------------------------------- clean input passes


def test_clean_events_pass_unchanged():
    ev = events()
    res = prepare_events(ev, customers=customers(), as_of=AS_OF)
    assert isinstance(res, PreparedEvents)
    assert (res.n_input, res.n_accepted, res.n_rejected) == (3, 3, 0)
    np.testing.assert_array_equal(res.accepted.amount, ev.amount)
    assert res.reasons == []
    assert res.margin is None
    assert res.currency is None


# ---------------------------------------------------------------- time


def test_future_event_raises_naming_row_field_and_value():
    ev = events(times=("2024-01-02", "2025-02-03", "2026-03-04"))
    with pytest.raises(ValidationError) as info:
        prepare_events(ev, as_of=AS_OF)
    err = info.value
    assert (err.record, err.field, err.row, err.n_failing) == ("EventFrame", "timestamp", 1, 2)
    assert err.value == "2025-02-03T00:00:00"
    assert "as_of" in err.expected
    assert "2 rows fail in all" in str(err)


def test_future_event_quarantined_with_its_reason():
    ev = events(times=("2024-01-02", "2025-02-03", "2024-03-04"))
    res = prepare_events(ev, as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [1]
    expected = (
        "timestamp @ row 1: '2025-02-03T00:00:00' is invalid, expected a time at or before "
        "as_of (2024-12-31T00:00:00.000000)"
    )
    assert [str(r) for r in res.reasons] == [expected]
    assert res.rejected_values["timestamp"].tolist() == [dt.datetime(2025, 2, 3)]


def test_event_at_as_of_is_not_in_the_future():
    ev = events(times=("2024-12-31", "2024-12-31", "2024-12-31"))
    assert prepare_events(ev, as_of=AS_OF).n_accepted == 3


def test_as_of_as_an_aware_datetime_is_converted_to_utc():
    """2024-03-04 01:00 in Paris is 2024-03-04 00:00 UTC: the third event is not after it."""
    paris = dt.timezone(dt.timedelta(hours=1))
    res = prepare_events(
        events(), as_of=dt.datetime(2024, 3, 4, 1, tzinfo=paris), errors="quarantine"
    )
    assert res.n_rejected == 0
    early = dt.datetime(2024, 3, 4, 0, 59, tzinfo=paris)
    assert prepare_events(events(), as_of=early, errors="quarantine").rejected.tolist() == [2]


@pytest.mark.parametrize("as_of", [dt.datetime(2024, 1, 1), "2024-01-01", np.datetime64("NaT")])
def test_naive_or_unreadable_as_of_is_refused(as_of):
    with pytest.raises(ValidationError) as info:
        prepare_events(events(), as_of=as_of)
    assert info.value.field == "as_of"


def test_default_as_of_is_now():
    far = events(times=("2024-01-02", "2999-01-01", "2024-03-04"))
    assert prepare_events(far, errors="quarantine").rejected.tolist() == [1]


def test_event_before_acquisition():
    people = customers(acquired=("2024-01-03", "2024-01-01"))
    with pytest.raises(ValidationError) as info:
        prepare_events(events(), customers=people, as_of=AS_OF)
    assert (info.value.field, info.value.row, info.value.value) == (
        "timestamp",
        0,
        "2024-01-02T00:00:00",
    )
    assert "acquisition" in info.value.expected


def test_customers_without_acquisition_time_are_not_checked():
    people = CustomerFrame(
        customer_id=np.array([1, 2]),
        acquired_at=np.array(["NaT", "2030-01-01"], dtype="datetime64[us]"),
    )
    res = prepare_events(events(), customers=people, as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [2]


# ---------------------------------------------------------------- ids


def test_unknown_customer_is_an_error():
    ev = events(customer_id=(1, 3, 2))
    with pytest.raises(ValidationError) as info:
        prepare_events(ev, customers=customers(), as_of=AS_OF)
    assert (info.value.field, info.value.row, info.value.value) == ("customer_id", 1, 3)
    assert info.value.expected == "a customer id listed in customers"


def test_text_customer_ids():
    ev = events(customer_id=("a", "b", "zz"))
    people = CustomerFrame(customer_id=np.array(["b", "a"]))
    res = prepare_events(ev, customers=people, as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [2]


def test_empty_customer_table_makes_every_customer_unknown():
    people = CustomerFrame(customer_id=np.empty(0, dtype=np.int64))
    res = prepare_events(events(), customers=people, as_of=AS_OF, errors="quarantine")
    assert res.n_accepted == 0


def test_customer_id_kinds_must_match():
    with pytest.raises(ValidationError, match="text ids, as in customers"):
        prepare_events(events(), customers=CustomerFrame(customer_id=np.array(["1"])))


def test_repeated_customer_in_the_customer_table_is_refused():
    people = CustomerFrame(customer_id=np.array([2, 1, 2]))
    with pytest.raises(ValidationError) as info:
        prepare_events(events(), customers=people, as_of=AS_OF)
    assert (info.value.record, info.value.row, info.value.value) == ("CustomerFrame", 2, 2)


def test_duplicate_event_ids_reject_every_copy():
    ev = events(
        customer_id=(1, 1, 2, 2), times=["2024-01-02"] * 4, amount=(1.0,) * 4, event_id=(7, 8, 7, 7)
    )
    with pytest.raises(ValidationError) as info:
        prepare_events(ev, as_of=AS_OF)
    assert (info.value.field, info.value.row, info.value.value, info.value.n_failing) == (
        "event_id",
        0,
        7,
        3,
    )
    res = prepare_events(ev, as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [0, 2, 3]
    assert res.counts["rejected_as_errors"] == 3


def test_duplicate_event_ids_keep_first_never_raises():
    ev = events(
        customer_id=(1, 1, 2, 2),
        times=["2024-01-02"] * 4,
        amount=(1.0, 2.0, 3.0, 4.0),
        event_id=(7, 8, 7, 7),
    )
    res = prepare_events(ev, as_of=AS_OF, duplicates="keep_first")
    assert res.accepted.amount.tolist() == [1.0, 2.0]
    assert res.rejected.tolist() == [2, 3]
    assert res.counts["duplicates_set_aside"] == 2
    assert "keep_first" in res.reasons[0].expected


def test_unknown_duplicates_policy():
    with pytest.raises(ValueError, match="duplicates must be"):
        prepare_events(events(), duplicates="first")  # type: ignore[arg-type]


# ---------------------------------------------------------------- returns


RETURNS = events(amount=(10.0, -4.0, 30.0))


def test_is_return_marks_negative_amounts():
    assert is_return(RETURNS).tolist() == [False, True, False]
    assert is_return(events(amount=None)).tolist() == [False, False, False]


def test_returns_net_by_default():
    res = prepare_events(RETURNS, as_of=AS_OF)
    assert res.n_accepted == 3
    assert float(res.accepted.amount.sum()) == 36.0
    assert res.counts["returns_kept"] == 1


def test_returns_quarantine_sets_them_aside_even_when_errors_raise():
    res = prepare_events(RETURNS, as_of=AS_OF, returns="quarantine")
    assert res.rejected.tolist() == [1]
    assert res.counts["returns_set_aside"] == 1
    assert res.counts["rejected_as_errors"] == 0
    assert str(res.reasons[0]).startswith("amount @ row 1: -4.0 is invalid")


def test_returns_reject_follows_errors():
    with pytest.raises(ValidationError) as info:
        prepare_events(RETURNS, as_of=AS_OF, returns="reject")
    assert (info.value.field, info.value.row, info.value.value) == ("amount", 1, -4.0)
    res = prepare_events(RETURNS, as_of=AS_OF, returns="reject", errors="quarantine")
    assert res.rejected.tolist() == [1]
    assert res.counts["rejected_as_errors"] == 1


def test_returns_policy_names_are_checked_once_for_every_measure():
    assert check_returns_policy("quarantine") == "quarantine"
    with pytest.raises(ValueError, match="'net', 'quarantine', 'reject'"):
        prepare_events(RETURNS, returns="gross")  # type: ignore[arg-type]


# ---------------------------------------------------------------- currency


def test_mixed_currencies_are_refused_naming_the_odd_row():
    ev = events(currency=("EUR", "USD", "EUR"))
    with pytest.raises(ValidationError) as info:
        prepare_events(ev, as_of=AS_OF)
    assert (info.value.field, info.value.row, info.value.value) == ("currency", 1, "USD")
    assert "exchange_rates" in info.value.expected


def test_currency_majority_and_ties_do_not_depend_on_row_order():
    tie = events(
        customer_id=(1, 2), times=["2024-01-02"] * 2, amount=(1.0, 2.0), currency=("USD", "EUR")
    )
    res = prepare_events(tie, as_of=AS_OF, errors="quarantine")
    assert res.currency == "EUR"
    assert res.rejected.tolist() == [0]
    flipped = prepare_events(tie.take(np.array([1, 0])), as_of=AS_OF, errors="quarantine")
    assert flipped.currency == "EUR"


def test_named_currency_without_rates_refuses_others():
    res = prepare_events(
        events(currency=("EUR",) * 3), as_of=AS_OF, currency="USD", errors="quarantine"
    )
    assert res.n_accepted == 0
    assert "the currency named by currency=" in res.reasons[0].expected


def test_exchange_rates_convert_to_one_currency():
    ev = events(amount=(10.0, 20.0, 30.0), currency=("EUR", "USD", "GBP"))
    res = prepare_events(
        ev,
        as_of=AS_OF,
        currency="EUR",
        exchange_rates={"USD": 0.5, "GBP": 1.2},
    )
    np.testing.assert_allclose(res.accepted.amount, [10.0, 10.0, 36.0], rtol=1e-12)
    assert res.accepted.currency.tolist() == ["EUR"] * 3
    assert res.counts["converted"] == 2
    assert res.currency == "EUR"


def test_currency_missing_from_the_rates_is_an_error():
    ev = events(currency=("EUR", "JPY", "EUR"))
    with pytest.raises(ValidationError) as info:
        prepare_events(ev, as_of=AS_OF, currency="EUR", exchange_rates={"USD": 0.9})
    assert (info.value.field, info.value.row, info.value.value) == ("currency", 1, "JPY")
    assert info.value.expected == "a currency in exchange_rates (EUR, USD)"


def test_missing_currency_matters_only_for_money():
    ev = events(
        amount=(10.0, 0.0, 5.0),
        currency=("EUR", "", ""),
        label_missing={"currency": np.array([False, True, True])},
    )
    res = prepare_events(ev, as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [2]
    assert res.reasons[0].expected == "a currency code for a non-zero amount"
    assert "currency" not in res.accepted.label_missing


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exchange_rates": {"USD": 1.1}}, "needs currency="),
        ({"currency": "EUR", "exchange_rates": {"USD": 0.0}}, "finite number > 0"),
        ({"currency": "EUR", "exchange_rates": {"EUR": 2.0}}, "must be 1"),
    ],
)
def test_bad_exchange_rates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        prepare_events(events(currency=("EUR",) * 3), as_of=AS_OF, **kwargs)


def test_rates_need_a_currency_column():
    with pytest.raises(ValueError, match="no currency"):
        prepare_events(events(), as_of=AS_OF, currency="EUR", exchange_rates={"USD": 1.0})


def test_currency_labels_events_that_carry_none():
    res = prepare_events(events(), as_of=AS_OF, currency="SEK")
    assert res.accepted.currency.tolist() == ["SEK"] * 3


# ---------------------------------------------------------------- margin


def test_margin_rate():
    res = prepare_events(RETURNS, as_of=AS_OF, margin_rate=0.25)
    assert res.margin.tolist() == [2.5, -1.0, 7.5]


def test_margin_from_cost_is_converted_with_the_amount():
    ev = events(amount=(10.0, -4.0, 30.0), currency=("EUR", "EUR", "USD"))
    res = prepare_events(
        ev,
        as_of=AS_OF,
        currency="EUR",
        exchange_rates={"USD": 0.5},
        cost=np.array([6.0, -3.0, 20.0]),
    )
    np.testing.assert_allclose(res.margin, [4.0, -1.0, 5.0], rtol=1e-12)


def test_cost_rules():
    res = prepare_events(
        RETURNS, as_of=AS_OF, cost=np.array([np.inf, 3.0, 1.0]), errors="quarantine"
    )
    assert [(r.row, r.field) for r in res.reasons] == [(0, "cost"), (1, "cost")]
    assert "sign of its amount" in res.reasons[1].expected
    assert res.margin.tolist() == [29.0]
    with pytest.raises(ValidationError, match="one cost per row"):
        prepare_events(RETURNS, as_of=AS_OF, cost=np.array([1.0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"margin_rate": 0.2, "cost": np.zeros(3)}, "not both"),
        ({"margin_rate": 1.5}, "<= 1"),
        ({"margin_rate": float("nan")}, "<= 1"),
        ({"errors": "ignore"}, "'raise' or 'quarantine'"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        prepare_events(RETURNS, as_of=AS_OF, **kwargs)


# ---------------------------------------------------------------- rows and reports


def test_rows_follow_the_frame_first_row():
    ev = events(customer_id=(1, 1, 2, 9), times=["2024-01-02"] * 4, amount=(1.0,) * 4)
    part = ev.slice(2, 4)
    res = prepare_events(part, customers=customers(), as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [3]
    assert res.reasons[0].row == 3
    assert res.accepted.customer_id.tolist() == [2]


def test_several_rules_on_one_row_each_give_a_reason():
    ev = events(customer_id=(1, 5, 2), times=("2024-01-02", "2025-06-01", "2024-01-03"))
    res = prepare_events(ev, customers=customers(), as_of=AS_OF, errors="quarantine")
    assert res.rejected.tolist() == [1]
    assert [r.field for r in res.reasons] == ["customer_id", "timestamp"]
    assert "timestamp: 1 rows" in res.summary()


def test_report_refuses_counts_that_do_not_add_up():
    """Negative control: the invariant is checked in code, so a wrong count cannot pass."""
    res = prepare_events(events(), as_of=AS_OF)
    with pytest.raises(AssertionError, match="!= 4 input rows"):
        attrs.evolve(res, n_input=4)


# ---------------------------------------------------------------- properties

START_US = int(np.datetime64("2024-01-01", "us").astype(np.int64))
DAY_US = 86_400_000_000


@st.composite
def messy_events(draw):
    n = draw(st.integers(0, 30))
    ints = lambda lo, hi: hnp.arrays(np.int64, n, elements=st.integers(lo, hi))
    return EventFrame(
        event_id=draw(ints(0, 12)),
        customer_id=draw(ints(0, 5)),
        timestamp=(START_US + draw(ints(0, 500)) * DAY_US).astype("datetime64[us]"),
        amount=draw(ints(-50, 200)) / 4.0,
        currency=np.array(["EUR", "USD", "GBP"])[draw(ints(0, 2))],
    )


PEOPLE = CustomerFrame(
    customer_id=np.arange(4, dtype=np.int64),
    acquired_at=(START_US + np.array([0, 30, 90, -1]) * DAY_US).astype("datetime64[us]"),
)
OPTIONS = st.fixed_dictionaries(
    {
        "returns": st.sampled_from(["net", "quarantine", "reject"]),
        "duplicates": st.sampled_from(["reject", "keep_first"]),
        "rates": st.booleans(),
    }
)


def run(ev, options):
    rates = {"USD": 0.9} if options["rates"] else None
    return prepare_events(
        ev,
        customers=PEOPLE,
        as_of=np.datetime64("2024-12-01"),
        currency="EUR" if rates else None,
        exchange_rates=rates,
        margin_rate=0.3,
        returns=options["returns"],
        duplicates=options["duplicates"],
        errors="quarantine",
    )


@given(messy_events(), OPTIONS)
def test_accepted_plus_rejected_is_input(ev, options):
    res = run(ev, options)
    assert res.n_accepted + res.n_rejected == res.n_input == len(ev)
    assert len(np.unique(res.rejected)) == res.n_rejected
    assert {r.row for r in res.reasons} == set(res.rejected.tolist())
    assert len(res.margin) == res.n_accepted


@given(messy_events(), OPTIONS, st.randoms(use_true_random=False))
def test_row_order_does_not_change_counts(ev, options, random):
    order = np.array(random.sample(range(len(ev)), len(ev)), dtype=np.intp)
    a, b = run(ev, options), run(ev.take(order), options)
    assert a.counts["duplicates_set_aside"] == b.counts["duplicates_set_aside"]
    assert a.currency == b.currency
    if options["duplicates"] == "keep_first":
        # which copy comes first is the row order itself; copies may differ in other fields
        return
    assert (a.n_accepted, a.n_rejected) == (b.n_accepted, b.n_rejected)
    assert dict(a.counts) == dict(b.counts)
    per_field = lambda res: sorted((v.field, v.expected, len(v)) for v in res.violations)
    assert per_field(a) == per_field(b)
    np.testing.assert_allclose(np.sort(a.accepted.amount), np.sort(b.accepted.amount), rtol=1e-12)


def test_keep_first_depends_on_row_order():
    """Negative control: with differing copies, keep_first keeps whichever comes first."""
    ev = events(customer_id=(0, 0), times=["2024-01-02"] * 2, amount=(1.0, -1.0), event_id=(5, 5))
    options = {"returns": "reject", "duplicates": "keep_first", "rates": False}
    assert run(ev, options).n_accepted == 1
    assert run(ev.take(np.array([1, 0])), options).n_accepted == 0


def test_property_data_do_break_every_rule():
    """Negative control: the generated frames are not all clean, so the properties bite."""
    ev = EventFrame(
        event_id=np.array([0, 0, 1, 2, 3]),
        customer_id=np.array([0, 1, 5, 3, 2]),
        timestamp=(START_US + np.array([1, 40, 2, 400, 10]) * DAY_US).astype("datetime64[us]"),
        amount=np.array([1.0, 2.0, -3.0, 4.0, 5.0]),
        currency=np.array(["EUR", "EUR", "EUR", "JPY", "EUR"]),
    )
    res = run(ev, {"returns": "reject", "duplicates": "reject", "rates": True})
    assert {v.field for v in res.violations} == {
        "event_id",
        "customer_id",
        "timestamp",
        "amount",
        "currency",
    }
    assert res.n_accepted == 0
