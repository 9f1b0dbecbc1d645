"""Cleaning raw transaction-line exports into one event per order, with a count per policy.

A shop's export (the UCI "Online Retail" file is the classic example) has one row per line
item: invoice, stock code, quantity, unit price, invoice time, customer id, country. Such
files are messy in known ways, and :func:`clean_transactions` handles each by a named policy:

====================  ====================================================  ===========
condition             policy (option)                                       default
====================  ====================================================  ===========
unreadable line       error: raise or quarantine (``errors``)               ``"raise"``
exact duplicate line  ``duplicates``: ``"drop"`` later copies, ``"keep"``   ``"drop"``
no customer id        ``missing_customer``: ``"drop"``, ``"reject"``        ``"drop"``
cancellation line     ``cancellations``: ``"net"`` as a return, ``"drop"``  ``"net"``
zero unit price       ``zero_price``: ``"drop"``, ``"keep"``                ``"drop"``
====================  ====================================================  ===========

A line is unreadable when its invoice, quantity, unit price or time cannot be read, its
quantity is 0, its unit price is negative, or its invoice's lines name different customers.
A cancellation line has an invoice starting with ``cancel_prefix`` (``"C"``) or a negative
quantity. Each line is counted once, under the first category of the table it falls in, so

``n_input == n_kept + invalid + duplicate + missing_customer + cancellation + zero_price``

holds and is checked whenever a report is built; the ``flagged`` counts of :class:`ExportReport` also counts every
condition on its own (a line may have several).

The kept lines are rolled up to one event per invoice: ``amount = sum(quantity * price)``,
``quantity`` the sum of units, ``timestamp`` the earliest line's time, ``event_id`` and
``order_id`` the invoice. A kept cancellation line counts ``-|quantity| * price``; an invoice
whose amount is negative is a return (``kind="return"``, else ``"purchase"``), to be netted
or set aside by the shared returns policy of :func:`~stickykit.io.prepare_events`.

Examples
--------
>>> import numpy as np
>>> lines = {
...     "InvoiceNo": ["100", "100", "100", "C101", "102"],
...     "StockCode": ["A", "B", "B", "A", "A"],
...     "Quantity": [2, 1, 1, -1, 3],
...     "UnitPrice": [2.5, 4.0, 4.0, 2.5, 2.5],
...     "InvoiceDate": np.array(["2024-01-02T10:00"] * 3 + ["2024-01-09T09:00"] * 2,
...                             dtype="datetime64[us]"),
...     "CustomerID": [17.0, 17.0, 17.0, 17.0, np.nan],
...     "Country": ["UK"] * 5,
... }
>>> out = clean_transactions(lines, tz="UTC")
>>> out.events.event_id.tolist(), out.events.amount.tolist(), out.events.kind.tolist()
(['100', 'C101'], [9.0, -2.5], ['purchase', 'return'])
>>> out.report.counts
{'invalid': 0, 'duplicate': 1, 'missing_customer': 1, 'cancellation': 0, 'zero_price': 0}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone
from stickykit.errors import ValidationError
from stickykit.frames import EventFrame
from stickykit.io._convert import to_float, to_id, to_int, to_time
from stickykit.io._source import Columns, read_columns
from stickykit.io.quarantine import Errors, Reason, raise_first, rejected_rows
from stickykit.io.validate import Violation, violation

__all__ = [
    "CATEGORIES",
    "TRANSACTION_COLUMNS",
    "CancellationPolicy",
    "CleanedTransactions",
    "ExportReport",
    "LineDuplicatesPolicy",
    "MissingCustomerPolicy",
    "ZeroPricePolicy",
    "clean_transactions",
]

#: Policy for cancellation lines (kept as returns netted into their invoice's event, or dropped).
CancellationPolicy = Literal["net", "drop"]
#: Policy for lines without a customer id (dropped, or rejected as bad input as ``errors`` says).
MissingCustomerPolicy = Literal["drop", "reject"]
#: Policy for lines with a unit price of 0 (dropped, or kept with units but no money).
ZeroPricePolicy = Literal["drop", "keep"]
#: Policy for exact copies of an earlier line (dropped, keeping the first, or all kept).
LineDuplicatesPolicy = Literal["drop", "keep"]

#: Export field to column name, as in the UCI Online Retail file; pass ``columns`` to rename.
#: Default column names of a transaction-line export (those of the Online Retail data).
TRANSACTION_COLUMNS: Final[Mapping[str, str]] = {
    "invoice": "InvoiceNo",
    "stock_code": "StockCode",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "timestamp": "InvoiceDate",
    "customer_id": "CustomerID",
    "country": "Country",
}

#: Why a line is not kept, in the order of precedence (a line counts under the first).
CATEGORIES: Final = ("invalid", "duplicate", "missing_customer", "cancellation", "zero_price")

_RECORD = "TransactionLine"
_REQUIRED = ("invoice", "quantity", "unit_price", "timestamp", "customer_id")


def _empty_rows() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


@attrs.frozen(eq=False)
class ExportReport:
    """What :func:`clean_transactions` did with each input line.

    Parameters
    ----------
    n_input : int
        Lines read.
    kept_rows : numpy.ndarray
        Sorted input rows of the lines rolled up into events.
    dropped_rows : Mapping[str, numpy.ndarray]
        For each of :data:`CATEGORIES`, the sorted input rows not kept for that reason; each
        line appears under one category at most.
    flagged : Mapping[str, int]
        Readable lines showing each condition (``duplicate``, ``missing_customer``,
        ``cancellation``, ``zero_price``), whatever the policy did with them; a line may count
        under several.
    violations : tuple of Violation
        The rules broken by the ``invalid`` lines.
    n_orders : int
        Events made (one per invoice with a kept line).
    n_returns : int
        Of those, events with a negative amount.
    policies : Mapping[str, str]
        The policy chosen for each condition.

    Examples
    --------
    >>> import numpy as np
    >>> r = ExportReport(n_input=3, kept_rows=np.array([0, 2]),
    ...                  dropped_rows={"duplicate": np.array([1])}, n_orders=1)
    >>> r.n_kept, r.counts["duplicate"], r.counts["zero_price"]
    (2, 1, 0)
    """

    n_input: int
    kept_rows: NDArray[np.int64]
    dropped_rows: Mapping[str, NDArray[np.int64]] = attrs.field(factory=dict)
    flagged: Mapping[str, int] = attrs.field(factory=dict)
    violations: tuple[Violation, ...] = ()
    n_orders: int = 0
    n_returns: int = 0
    policies: Mapping[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        unknown = set(self.dropped_rows) - set(CATEGORIES)
        if unknown:
            msg = f"unknown categories {sorted(unknown)}; expected some of {CATEGORIES}"
            raise ValueError(msg)
        every = np.concatenate([self.kept_rows, *self.dropped_rows.values()])
        if len(every) != self.n_input or len(np.unique(every)) != self.n_input:
            msg = (
                f"internal error: {self.n_kept} kept + {sum(self.counts.values())} dropped lines "
                f"do not partition the {self.n_input} input lines"
            )
            raise AssertionError(msg)

    @property
    def n_kept(self) -> int:
        """Lines kept and rolled up into events."""
        return len(self.kept_rows)

    @property
    def counts(self) -> dict[str, int]:
        """Lines not kept, per category of :data:`CATEGORIES` (zero included)."""
        return {name: len(self.dropped_rows.get(name, _empty_rows())) for name in CATEGORIES}

    @property
    def reasons(self) -> list[Reason]:
        """One reason per (invalid line, broken rule), ordered by row then field."""
        out = [
            Reason(row=int(v.rows[i]), field=v.field, value=v.value(i), expected=v.expected)
            for v in self.violations
            for i in range(len(v))
        ]
        out.sort(key=lambda r: (r.row, r.field))
        return out

    def summary(self) -> str:
        """Lines read, kept and dropped per category with its policy, and events made.

        Examples
        --------
        >>> import numpy as np
        >>> r = ExportReport(n_input=3, kept_rows=np.array([0, 2]),
        ...                  dropped_rows={"duplicate": np.array([1])}, n_orders=1,
        ...                  policies={"duplicate": "drop"})
        >>> print(r.summary())
        3 lines read, 2 kept, rolled up into 1 orders (0 returns)
          invalid: 0
          duplicate: 1 (policy 'drop')
          missing_customer: 0
          cancellation: 0
          zero_price: 0
        """
        head = (
            f"{self.n_input:,} lines read, {self.n_kept:,} kept, rolled up into "
            f"{self.n_orders:,} orders ({self.n_returns:,} returns)"
        )
        lines = [head]
        for name, count in self.counts.items():
            policy = self.policies.get(name)
            suffix = f" (policy {policy!r})" if policy else ""
            lines.append(f"  {name}: {count:,}{suffix}")
        return "\n".join(lines)


@attrs.frozen(eq=False)
class CleanedTransactions:
    """The events made from an export, and the report of what happened to each line.

    Parameters
    ----------
    events : EventFrame
        One event per invoice with a kept line.
    report : ExportReport
        Counts and rows per policy.

    Examples
    --------
    >>> import numpy as np
    >>> out = clean_transactions({"InvoiceNo": ["1"], "Quantity": [2], "UnitPrice": [1.5],
    ...                           "InvoiceDate": ["2024-05-01T12:00"], "CustomerID": [4]},
    ...                          tz="Europe/London")
    >>> out.events.amount.tolist(), str(out.events.timestamp[0])
    ([3.0], '2024-05-01T11:00:00.000000')
    """

    events: EventFrame
    report: ExportReport


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        msg = f"{name} must be one of {listed}; got {value!r}"
        raise ValueError(msg)


def _column(cols: Columns, field: str, name: str) -> NDArray[Any]:
    column = cols.get(name)
    if column is None:
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=f"no column {name!r}",
            expected=f"a column among {sorted(cols.data)} (map it with columns=)",
        )
    return column


def _codes(values: NDArray[Any]) -> NDArray[np.intp]:
    """Dense integer codes of a column: equal values share a code."""
    codes: NDArray[np.intp] = np.unique(values, return_inverse=True)[1].reshape(-1)
    return codes


def _later_copies(keys: list[NDArray[Any]]) -> NDArray[np.bool_]:
    """Rows equal in every key column to an earlier row."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=bool)
    table = np.stack([_codes(k) for k in keys], axis=1)
    _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    later: NDArray[np.bool_] = first[inverse.reshape(-1)] != np.arange(n)
    return later


def _mixed_customers(
    invoice: NDArray[np.str_], customer: NDArray[Any], present: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Rows whose invoice names more than one customer (among lines that name one)."""
    inv = _codes(invoice)
    pairs = np.unique(np.stack([inv[present], _codes(customer)[present]], axis=1), axis=0)
    per_invoice = np.bincount(pairs[:, 0], minlength=int(inv.max(initial=-1)) + 1)
    mixed: NDArray[np.bool_] = present & (per_invoice[inv] > 1)
    return mixed


def _roll_up(
    invoice: NDArray[np.str_],
    customer: NDArray[Any],
    timestamp: NDArray[np.datetime64],
    quantity: NDArray[np.int64],
    amount: NDArray[np.float64],
    currency: str | None,
) -> EventFrame:
    """One event per invoice: summed amount and units, the earliest time."""
    keys, inverse = np.unique(invoice, return_inverse=True)
    order = np.argsort(inverse.reshape(-1), kind="stable")
    grouped = inverse.reshape(-1)[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if len(order) else order
    total = np.add.reduceat(amount[order], starts) if len(order) else np.zeros(0)
    units = np.add.reduceat(quantity[order], starts) if len(order) else np.zeros(0, np.int64)
    micros = timestamp.view(np.int64)[order]
    earliest = np.minimum.reduceat(micros, starts) if len(order) else micros
    n = len(keys)
    return EventFrame(
        event_id=keys,
        customer_id=customer[order][starts],
        timestamp=earliest.astype("datetime64[us]"),
        kind=np.where(total < 0, "return", "purchase"),
        amount=total.astype(np.float64),
        quantity=units.astype(np.int64),
        order_id=keys.copy(),
        currency=None if currency is None else np.full(n, currency),
    )


def clean_transactions(
    source: Any,
    *,
    columns: Mapping[str, str] | None = None,
    tz: str | dt.tzinfo | None = None,
    currency: str | None = None,
    cancellations: CancellationPolicy = "net",
    cancel_prefix: str = "C",
    missing_customer: MissingCustomerPolicy = "drop",
    zero_price: ZeroPricePolicy = "drop",
    duplicates: LineDuplicatesPolicy = "drop",
    errors: Errors = "raise",
) -> CleanedTransactions:
    """Clean a transaction-line export and roll its lines up into one event per invoice.

    Parameters
    ----------
    source : mapping, dataframe or path
        The export: a mapping of column name to array, a pandas, polars or pyarrow table, or
        a CSV path, as for :func:`~stickykit.io.load_events`.
    columns : mapping, optional
        Export field to column name, overriding :data:`TRANSACTION_COLUMNS` (the Online
        Retail names). Fields: invoice, quantity, unit_price, timestamp, customer_id
        (required), stock_code, country (used only to recognise exact duplicates).
    tz : str or tzinfo, optional
        Zone of naive invoice times (Online Retail's are UK local time: ``"Europe/London"``).
    currency : str, optional
        ISO 4217 code of the prices, stored on every event.
    cancellations : {"net", "drop"}
        ``"net"`` (default): cancellation lines stay, as negative amounts netted within their
        invoice; a cancellation invoice becomes a return event, which the shared returns
        policy then nets or sets aside, so revenue is net of cancellations. ``"drop"``: they
        are dropped and revenue is gross.
    cancel_prefix : str
        Invoice prefix marking a cancellation (a negative quantity marks one too).
    missing_customer : {"drop", "reject"}
        ``"drop"`` (default): lines without a customer id cannot be attributed to anyone
        and are dropped and counted. ``"reject"``: they are bad input (``errors`` decides).
    zero_price : {"drop", "keep"}
        ``"drop"`` (default): lines priced 0 (samples, write-offs, stock adjustments) are
        dropped. ``"keep"``: they add units but no money to their invoice.
    duplicates : {"drop", "keep"}
        ``"drop"`` (default): a line equal in every field read to an earlier line is a
        repeated export row and is dropped; the first copy stays. ``"keep"``: copies are
        genuine repeated lines.
    errors : {"raise", "quarantine"}
        For unreadable lines: raise :class:`~stickykit.errors.ValidationError` naming the
        row, field and value of the first, or count them as ``invalid`` with their reasons.

    Returns
    -------
    CleanedTransactions
        ``events`` (one per invoice with a kept line, ordered by invoice) and ``report``.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.datasets import messy_transactions
    >>> raw = messy_transactions(200, rng=np.random.default_rng(3))
    >>> out = clean_transactions(raw, tz="Europe/London", currency="GBP")
    >>> r = out.report
    >>> r.n_input == r.n_kept + sum(r.counts.values())
    True
    >>> len(out.events) == r.n_orders, bool((out.events.amount < 0).sum() == r.n_returns)
    (True, True)
    """
    _check_choice("cancellations", cancellations, get_args(CancellationPolicy))
    _check_choice("missing_customer", missing_customer, get_args(MissingCustomerPolicy))
    _check_choice("zero_price", zero_price, get_args(ZeroPricePolicy))
    _check_choice("duplicates", duplicates, get_args(LineDuplicatesPolicy))
    _check_choice("errors", errors, get_args(Errors))
    check_zone(_RECORD, tz)
    names = {**TRANSACTION_COLUMNS, **(columns or {})}
    cols = read_columns(source, set(names.values()))
    for field in _REQUIRED:
        _column(cols, field, names[field])
    policies = {
        "invalid": errors,
        "duplicate": duplicates,
        "missing_customer": missing_customer,
        "cancellation": cancellations,
        "zero_price": zero_price,
    }
    if cols.n == 0:
        return CleanedTransactions(
            events=_roll_up(
                np.empty(0, dtype=str),
                np.empty(0, dtype=np.int64),
                np.empty(0, dtype="datetime64[us]"),
                np.empty(0, dtype=np.int64),
                np.empty(0),
                currency,
            ),
            report=ExportReport(n_input=0, kept_rows=_empty_rows(), policies=policies),
        )
    found: list[Violation] = []
    invoice_raw, _, bad = to_id(_column(cols, "invoice", names["invoice"]), "invoice")
    found += bad
    invoice = np.strings.strip(invoice_raw.astype(str))
    quantity, _, bad = to_int(
        _column(cols, "quantity", names["quantity"]),
        "quantity",
        allow_missing=False,
        expected="a non-zero integer",
    )
    found += bad
    quantity_raw = _column(cols, "quantity", names["quantity"])
    read_ok = ~np.isin(np.arange(cols.n), rejected_rows(bad, cols.n))
    zero_units = violation(
        "quantity", read_ok & (quantity == 0), quantity_raw, "a non-zero integer"
    )
    found += [] if zero_units is None else [zero_units]
    price, _, bad = to_float(_column(cols, "unit_price", names["unit_price"]), "unit_price", lo=0.0)
    found += bad
    timestamp, _, bad = to_time(
        _column(cols, "timestamp", names["timestamp"]),
        "timestamp",
        tz=tz,
        aware=names["timestamp"] in cols.aware,
        allow_missing=False,
    )
    found += bad
    customer_raw = _column(cols, "customer_id", names["customer_id"])
    customer, customer_missing, bad = to_id(customer_raw, "customer_id", allow_missing=True)
    found += bad
    no_customer = np.zeros(cols.n, dtype=bool) if customer_missing is None else customer_missing
    mixed = violation(
        "customer_id",
        _mixed_customers(invoice, customer, ~no_customer),
        customer_raw,
        "the one customer id of all the lines of its invoice",
    )
    found += [] if mixed is None else [mixed]
    if missing_customer == "reject":
        absent = violation("customer_id", no_customer, customer_raw, "a customer id")
        found += [] if absent is None else [absent]
    found = [v for v in found if len(v)]
    if errors == "raise":
        raise_first(_RECORD, found)
    invalid = np.zeros(cols.n, dtype=bool)
    invalid[rejected_rows(found, cols.n)] = True

    extra = [
        np.asarray(cols.get(names[f])).astype(str)
        for f in ("stock_code", "country")
        if cols.get(names[f]) is not None
    ]
    copies = _later_copies([invoice, quantity, price, timestamp, customer, no_customer, *extra])
    cancel = np.strings.startswith(invoice, cancel_prefix) | (quantity < 0)
    if not cancel_prefix:
        cancel = quantity < 0
    zero = price == 0
    conditions = {
        "duplicate": (copies, duplicates == "drop"),
        "missing_customer": (no_customer, missing_customer == "drop"),
        "cancellation": (cancel, cancellations == "drop"),
        "zero_price": (zero, zero_price == "drop"),
    }
    taken = invalid.copy()
    dropped: dict[str, NDArray[np.int64]] = {"invalid": np.flatnonzero(invalid).astype(np.int64)}
    for name, (mask, drops) in conditions.items():
        hit = mask & ~taken if drops else np.zeros(cols.n, dtype=bool)
        dropped[name] = np.flatnonzero(hit).astype(np.int64)
        taken |= hit
    kept = ~taken
    units = np.where(cancel, -np.abs(quantity), quantity)
    events = _roll_up(
        invoice[kept],
        customer[kept],
        timestamp[kept],
        units[kept],
        units[kept] * price[kept],
        currency,
    )
    assert events.amount is not None
    report = ExportReport(
        n_input=cols.n,
        kept_rows=np.flatnonzero(kept).astype(np.int64),
        dropped_rows=dropped,
        flagged={name: int((mask & ~invalid).sum()) for name, (mask, _) in conditions.items()},
        violations=tuple(found),
        n_orders=len(events),
        n_returns=int((events.amount < 0).sum()),
        policies=policies,
    )
    return CleanedTransactions(events=events, report=report)
