"""Cleaning transaction-line exports, and the synthetic messy-export generator (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit.datasets import messy_transactions
from stickykit.errors import ValidationError
from stickykit.io import ExportReport, clean_transactions
from stickykit.io.exports import CATEGORIES

T0 = "2024-03-01T10:00"


def lines(rows):
    """Columns in the Online Retail layout from (invoice, code, qty, price, time, customer)."""
    invoice, code, qty, price, time, customer = zip(*rows, strict=True)
    return {
        "InvoiceNo": np.array(invoice),
        "StockCode": np.array(code),
        "Quantity": np.array(qty, dtype=object),
        "UnitPrice": np.array(price, dtype=object),
        "InvoiceDate": np.array(time, dtype=object),
        "CustomerID": np.array([np.nan if c is None else c for c in customer], dtype=float),
        "Country": np.array(["United Kingdom"] * len(rows)),
    }


# One line of each kind; rows numbered as in the comments.
MESSY = lines(
    [
        ("500", "A", 2, 1.5, T0, 17),  # 0 kept
        ("500", "B", 1, 4.0, T0, 17),  # 1 kept
        ("500", "B", 1, 4.0, T0, 17),  # 2 exact duplicate of 1
        ("501", "A", 3, 1.5, "2024-03-02T09:00", None),  # 3 no customer
        ("C502", "A", -1, 1.5, "2024-03-05T12:00", 17),  # 4 cancellation
        ("503", "Z", 5, 0.0, "2024-03-06T08:00", 18),  # 5 zero price
        ("503", "A", 1, 1.5, "2024-03-06T08:01", 18),  # 6 kept (invoice 503 rolls up)
        ("504", "A", -2, 0.0, "2024-03-07T08:00", None),  # 7 adjustment: no customer first
        ("505", "A", 1, 1.5, "2024-03-08T08:00", 19),  # 8 kept
    ]
)


def clean(source=MESSY, **kwargs):
    kwargs.setdefault("tz", "UTC")
    return clean_transactions(source, **kwargs)


# ---------------------------------------------------------------- each policy, by hand


def test_default_policies_by_hand():
    out = clean()
    r = out.report
    assert r.counts == {
        "invalid": 0,
        "duplicate": 1,
        "missing_customer": 2,
        "cancellation": 0,
        "zero_price": 1,
    }
    assert r.kept_rows.tolist() == [0, 1, 4, 6, 8]
    assert {k: v.tolist() for k, v in r.dropped_rows.items() if len(v)} == {
        "duplicate": [2],
        "missing_customer": [3, 7],
        "zero_price": [5],
    }
    assert r.flagged == {"duplicate": 1, "missing_customer": 2, "cancellation": 2, "zero_price": 2}
    ev = out.events
    assert ev.event_id.tolist() == ["500", "503", "505", "C502"]
    assert ev.amount.tolist() == [7.0, 1.5, 1.5, -1.5]
    assert ev.quantity.tolist() == [3, 1, 1, -1]
    assert ev.kind.tolist() == ["purchase", "purchase", "purchase", "return"]
    assert ev.customer_id.tolist() == [17, 18, 19, 17]
    assert ev.order_id.tolist() == ev.event_id.tolist()
    assert str(ev.timestamp[1]) == "2024-03-06T08:01:00.000000"
    assert (r.n_orders, r.n_returns) == (4, 1)


def test_input_is_kept_plus_every_dropped_category():
    r = clean().report
    assert r.n_input == 9 == r.n_kept + sum(r.counts.values())


def test_cancellations_dropped():
    out = clean(cancellations="drop")
    assert out.report.dropped_rows["cancellation"].tolist() == [4]
    assert out.report.n_returns == 0
    assert float(out.events.amount.sum()) == 10.0


def test_cancellation_by_prefix_counts_negative_even_with_a_positive_quantity():
    out = clean(lines([("C9", "A", 2, 3.0, T0, 1), ("10", "A", -1, 3.0, T0, 1)]))
    assert out.events.amount.tolist() == [-3.0, -6.0]
    assert out.events.kind.tolist() == ["return", "return"]
    assert out.report.flagged["cancellation"] == 2


def test_other_cancel_prefix():
    out = clean(lines([("X9", "A", 2, 3.0, T0, 1), ("C10", "A", 1, 3.0, T0, 1)]), cancel_prefix="X")
    assert out.events.amount.tolist() == [3.0, -6.0]


def test_keep_zero_price_and_duplicates():
    out = clean(zero_price="keep", duplicates="keep")
    assert out.report.counts["zero_price"] == out.report.counts["duplicate"] == 0
    invoice_500 = out.events.event_id.tolist().index("500")
    assert out.events.amount[invoice_500] == 11.0
    assert out.events.quantity[out.events.event_id == "503"].tolist() == [6]


def test_missing_customer_reject_raises_naming_row_field_value():
    with pytest.raises(ValidationError) as info:
        clean(missing_customer="reject")
    err = info.value
    assert (err.record, err.field, err.row, err.n_failing) == (
        "TransactionLine",
        "customer_id",
        3,
        2,
    )
    assert np.isnan(err.value)
    r = clean(missing_customer="reject", errors="quarantine").report
    assert r.dropped_rows["invalid"].tolist() == [3, 7]
    assert r.counts["missing_customer"] == 0


UNREADABLE = lines(
    [
        ("1", "A", 1, 2.0, T0, 5),
        ("2", "A", "two", 2.0, T0, 5),
        ("3", "A", 0, 2.0, T0, 5),
        ("4", "A", 1, -2.0, T0, 5),
        ("5", "A", 1, 2.0, "yesterday", 5),
        ("6", "A", 1, None, T0, 5),
        ("", "A", 1, 2.0, T0, 5),
        ("8", "A", 1, 2.0, T0, 5),
        ("8", "B", 1, 2.0, T0, 6),
    ]
)


def test_unreadable_line_raises_with_row_field_and_value():
    with pytest.raises(ValidationError) as info:
        clean(UNREADABLE)
    err = info.value
    assert (err.field, err.row, err.value, err.n_failing) == ("quantity", 1, "two", 8)
    assert "8 rows fail in all" in str(err)


def test_unreadable_lines_quarantined_with_reasons():
    r = clean(UNREADABLE, errors="quarantine").report
    assert r.dropped_rows["invalid"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [(x.row, x.field) for x in r.reasons] == [
        (1, "quantity"),
        (2, "quantity"),
        (3, "unit_price"),
        (4, "timestamp"),
        (5, "unit_price"),
        (6, "invoice"),
        (7, "customer_id"),
        (8, "customer_id"),
    ]
    assert str(r.reasons[1]) == "quantity @ row 2: 0 is invalid, expected a non-zero integer"
    assert r.reasons[-1].expected == "the one customer id of all the lines of its invoice"
    assert r.n_kept == 1


def test_column_mapping_for_online_retail_ii():
    src = {
        "Invoice": ["1", "1"],
        "Quantity": [1, 2],
        "Price": [2.0, 3.0],
        "InvoiceDate": [T0, T0],
        "Customer ID": [12.0, 12.0],
    }
    out = clean(
        src,
        columns={"invoice": "Invoice", "unit_price": "Price", "customer_id": "Customer ID"},
        currency="GBP",
    )
    assert out.events.amount.tolist() == [8.0]
    assert out.events.currency.tolist() == ["GBP"]


def test_missing_column_is_named():
    with pytest.raises(ValidationError) as info:
        clean({"InvoiceNo": ["1"], "Quantity": [1]})
    assert info.value.field == "unit_price"
    assert "columns=" in info.value.expected


def test_naive_times_need_a_zone():
    with pytest.raises(ValidationError, match="naive"):
        clean_transactions(MESSY)


def test_empty_export():
    out = clean({k: v[:0] for k, v in MESSY.items()})
    assert (out.report.n_input, out.report.n_kept, len(out.events)) == (0, 0, 0)


@pytest.mark.parametrize(
    "option",
    [
        {"cancellations": "keep"},
        {"zero_price": "net"},
        {"duplicates": "first"},
        {"missing_customer": "keep"},
        {"errors": "ignore"},
    ],
)
def test_unknown_policy_names(option):
    with pytest.raises(ValueError, match="must be one of"):
        clean(**option)


def test_report_refuses_rows_that_do_not_partition_the_input():
    """Negative control: a report whose counts do not add up cannot be built."""
    with pytest.raises(AssertionError, match="do not partition"):
        ExportReport(
            n_input=3, kept_rows=np.array([0, 1]), dropped_rows={"duplicate": np.array([1])}
        )
    with pytest.raises(ValueError, match="unknown categories"):
        ExportReport(
            n_input=1, kept_rows=np.array([0]), dropped_rows={"returns": np.array([], int)}
        )


def test_from_pandas():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(messy_transactions(30, rng=np.random.default_rng(2)))
    df["InvoiceDate"] = df["InvoiceDate"].dt.tz_localize("Europe/London")
    from_pandas = clean_transactions(df)
    from_numpy = clean_transactions(
        messy_transactions(30, rng=np.random.default_rng(2)), tz="Europe/London"
    )
    assert from_pandas.report.counts == from_numpy.report.counts
    np.testing.assert_array_equal(from_pandas.events.timestamp, from_numpy.events.timestamp)


# ---------------------------------------------------------------- generator


def test_generator_is_seeded_and_documented_as_synthetic():
    a = messy_transactions(50, rng=np.random.default_rng(4))
    b = messy_transactions(50, rng=np.random.default_rng(4))
    c = messy_transactions(50, rng=np.random.default_rng(5))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["UnitPrice"], c["UnitPrice"])
    assert "synthetic" in (messy_transactions.__doc__ or "")


def test_generator_plants_every_fault():
    r = clean_transactions(messy_transactions(400, rng=np.random.default_rng(0)), tz="UTC").report
    assert all(count > 0 for count in r.flagged.values()), r.flagged
    assert r.n_returns > 0


def test_generator_without_faults_gives_a_clean_export():
    """Negative control for the property tests: all rates 0 means nothing is dropped."""
    raw = messy_transactions(
        80,
        rng=np.random.default_rng(1),
        cancellation_rate=0,
        missing_customer_rate=0,
        zero_price_rate=0,
        duplicate_rate=0,
        adjustment_rate=0,
    )
    r = clean_transactions(raw, tz="UTC").report
    assert r.n_kept == r.n_input
    assert r.n_orders == 80
    assert set(r.flagged.values()) == {0}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rng": 1}, TypeError),
        ({"rng": np.random.default_rng(), "duplicate_rate": 2.0}, ValueError),
        ({"rng": np.random.default_rng(), "lines_per_order": 0.5}, ValueError),
    ],
)
def test_generator_checks_arguments(kwargs, error):
    with pytest.raises(error):
        messy_transactions(5, **kwargs)


# ---------------------------------------------------------------- properties


RATE = st.floats(0, 0.5)
POLICIES = st.fixed_dictionaries(
    {
        "cancellations": st.sampled_from(["net", "drop"]),
        "zero_price": st.sampled_from(["drop", "keep"]),
        "duplicates": st.sampled_from(["drop", "keep"]),
    }
)


@st.composite
def exports(draw):
    return messy_transactions(
        draw(st.integers(0, 40)),
        rng=np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        n_customers=draw(st.integers(1, 8)),
        n_products=draw(st.integers(1, 6)),
        lines_per_order=draw(st.floats(1, 4)),
        cancellation_rate=draw(RATE),
        missing_customer_rate=draw(RATE),
        zero_price_rate=draw(RATE),
        duplicate_rate=draw(RATE),
        adjustment_rate=draw(RATE),
    )


@given(exports(), POLICIES)
def test_every_line_is_counted_once(raw, policies):
    r = clean_transactions(raw, tz="UTC", **policies).report
    assert r.n_input == len(raw["InvoiceNo"])
    assert r.n_input == r.n_kept + sum(r.counts.values())
    assert set(r.counts) == set(CATEGORIES)


@given(exports(), POLICIES)
def test_rolled_up_totals_equal_the_kept_lines(raw, policies):
    out = clean_transactions(raw, tz="UTC", **policies)
    kept = out.report.kept_rows
    cancel = np.char.startswith(raw["InvoiceNo"][kept], "C") | (raw["Quantity"][kept] < 0)
    units = np.where(cancel, -np.abs(raw["Quantity"][kept]), raw["Quantity"][kept])
    line_amount = units * raw["UnitPrice"][kept]
    np.testing.assert_allclose(out.events.amount.sum(), line_amount.sum(), rtol=1e-9, atol=1e-9)
    assert int(out.events.quantity.sum()) == int(units.sum())
    # per order, too
    keys, inverse = np.unique(raw["InvoiceNo"][kept], return_inverse=True)
    assert keys.tolist() == out.events.event_id.tolist()
    per_order = np.bincount(inverse, weights=line_amount, minlength=len(keys))
    np.testing.assert_allclose(out.events.amount, per_order, rtol=1e-9, atol=1e-9)


@given(exports(), POLICIES, st.randoms(use_true_random=False))
def test_row_order_does_not_change_counts_or_orders(raw, policies, random):
    n = len(raw["InvoiceNo"])
    order = np.array(random.sample(range(n), n), dtype=np.intp)
    a = clean_transactions(raw, tz="UTC", **policies)
    b = clean_transactions({k: v[order] for k, v in raw.items()}, tz="UTC", **policies)
    assert a.report.counts == b.report.counts
    assert a.report.flagged == b.report.flagged
    assert a.events.event_id.tolist() == b.events.event_id.tolist()
    np.testing.assert_allclose(a.events.amount, b.events.amount, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(a.events.timestamp, b.events.timestamp)


def test_rolled_up_totals_negative_control():
    """Summing raw quantity * price would miss the sign of a prefixed cancellation."""
    raw = lines([("C9", "A", 2, 3.0, T0, 1), ("10", "A", 1, 3.0, T0, 1)])
    out = clean(raw)
    naive = float((raw["Quantity"].astype(int) * raw["UnitPrice"].astype(float)).sum())
    assert float(out.events.amount.sum()) == -3.0 != naive
