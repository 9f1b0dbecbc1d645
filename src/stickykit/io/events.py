"""Checks of an event frame that need context beyond one row, and the shared returns policy.

:func:`~stickykit.io.load_events` judges each row on its own (readable ids, a date-time with a
known zone, a finite amount). :func:`prepare_events` then judges rows against each other and
against outside facts: the customer table (unknown customers, events before acquisition), the
reference time ``as_of`` (events in the future), other rows (duplicate event ids, mixed
currencies) and the caller's money policy (exchange rates, margin, returns).

Every rule is a vectorised mask. A rule is either an *error* (``errors="raise"`` raises
:class:`~stickykit.errors.ValidationError` naming row, field and value; ``errors="quarantine"``
sets the row aside with its reason) or a *policy* the caller chose, such as
``returns="quarantine"``, whose rows are always set aside with their reason and never raise.
In every case ``n_accepted + n_rejected == n_input``.

The returns policy (:data:`ReturnsPolicy`) is one option shared by every measure:

``"net"`` (the default)
    A return is a row with a negative amount. It stays: money sums net it against purchases
    (revenue, margin, monetary value are net of returns), while counts of activity
    (frequency, active periods, retention) skip it, as :func:`is_return` tells them to.
``"quarantine"``
    Returns are set aside, each with its reason; measures see gross purchases only.
``"reject"``
    A negative amount is bad input: with ``errors="raise"`` it raises, with
    ``errors="quarantine"`` it is set aside like any other bad row.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> ev = EventFrame(event_id=np.array([1, 2, 3]), customer_id=np.array([7, 7, 8]),
...                 timestamp=np.array(["2024-01-02", "2024-01-05", "2024-02-01"],
...                                    dtype="datetime64[us]"),
...                 amount=np.array([20.0, -5.0, 12.0]))
>>> res = prepare_events(ev, as_of=np.datetime64("2024-06-30"), returns="quarantine")
>>> res.n_accepted, [str(r) for r in res.reasons]
(2, ["amount @ row 1: -5.0 is invalid, expected a non-negative amount (returns='quarantine' sets returns aside)"])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import ValidationError
from stickykit.frames import CustomerFrame, EventFrame
from stickykit.io.quarantine import Errors, LoadResult, raise_first, rejected_rows
from stickykit.io.validate import Violation, violation

__all__ = [
    "DEFAULT_RETURNS",
    "DuplicatesPolicy",
    "PreparedEvents",
    "ReturnsPolicy",
    "check_returns_policy",
    "currency_violations",
    "is_return",
    "prepare_events",
]

#: What to do with returns (rows with a negative amount); see the module docstring.
ReturnsPolicy = Literal["net", "quarantine", "reject"]
#: What to do with rows that share an event id.
DuplicatesPolicy = Literal["reject", "keep_first"]
#: The returns policy of every measure unless the caller names another.
DEFAULT_RETURNS: Final[ReturnsPolicy] = "net"

_RECORD = "EventFrame"


def check_returns_policy(returns: object) -> ReturnsPolicy:
    """Return ``returns`` if it names a returns policy, else raise ``ValueError``.

    Measures that take a ``returns=`` option call this once, so every measure accepts the
    same names and refuses a misspelt one with the same message.

    Examples
    --------
    >>> check_returns_policy("net")
    'net'
    >>> check_returns_policy("netted")
    Traceback (most recent call last):
    ...
    ValueError: returns must be one of 'net', 'quarantine', 'reject'; got 'netted'
    """
    choices: tuple[str, ...] = get_args(ReturnsPolicy)
    if returns not in choices:
        listed = ", ".join(repr(c) for c in choices)
        msg = f"returns must be one of {listed}; got {returns!r}"
        raise ValueError(msg)
    policy: ReturnsPolicy = returns  # type: ignore[assignment]
    return policy


def is_return(events: EventFrame) -> NDArray[np.bool_]:
    """Rows that are returns: a negative amount (all ``False`` without an amount column).

    Under ``returns="net"`` a measure sums the signed amounts of all rows for money and uses
    ``~is_return(events)`` to select the rows that count as activity.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> ev = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
    ...                 timestamp=np.zeros(3, dtype="datetime64[us]"),
    ...                 amount=np.array([10.0, -4.0, 0.0]))
    >>> is_return(ev).tolist()
    [False, True, False]
    """
    if events.amount is None:
        return np.zeros(len(events), dtype=bool)
    mask: NDArray[np.bool_] = events.amount < 0
    return mask


def currency_violations(events: EventFrame) -> tuple[str | None, list[Violation]]:
    """The currency of most rows, and the rows in another currency or with none.

    Every money measure sums amounts, which is only meaningful in one currency: it refuses a
    frame that mixes them (convert first with :func:`prepare_events` and ``exchange_rates``).
    A frame without a currency or amount column has no currency (``None``) and no violation;
    a row without a currency code is a violation only when its amount is not zero.

    Examples
    --------
    >>> ev = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
    ...                 timestamp=np.zeros(3, dtype="datetime64[us]"),
    ...                 amount=np.array([10.0, 4.0, 2.0]),
    ...                 currency=np.array(["EUR", "USD", "EUR"]))
    >>> target, found = currency_violations(ev)
    >>> target, found[0].rows.tolist()
    ('EUR', [1])
    """
    codes = events.currency
    if codes is None or events.amount is None or len(events) == 0:
        return None, []
    missing = events.label_missing.get("currency")
    if missing is None or not missing.any():
        first = codes[0]
        if (codes == first).all():  # the common case, without sorting the codes
            return str(first), []
    found: list[Violation] = []
    target, _, _ = _currency_rules(events, None, None, found)
    return target, found


@attrs.frozen(eq=False, repr=False)
class PreparedEvents(LoadResult[EventFrame]):
    """Events that passed :func:`prepare_events`, with what was set aside and why.

    A :class:`~stickykit.io.LoadResult` (``accepted``, ``rejected``, ``violations``,
    ``reasons``, ``n_input``...) with the outcome of the money policies.

    Parameters
    ----------
    currency : str or None
        The one currency of ``accepted.amount`` (``None`` when the events carry none).
    margin : numpy.ndarray or None
        Margin of each accepted row in ``currency`` (``None`` unless a margin rate or a cost
        was given).
    counts : Mapping[str, int]
        Rows per policy outcome: ``returns_kept`` (netted), ``returns_set_aside``,
        ``duplicates_set_aside`` (later copies under ``duplicates="keep_first"``),
        ``converted`` (accepted rows converted from another currency) and ``rejected_as_errors``.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> ev = EventFrame(event_id=np.array([1, 1, 2]), customer_id=np.array([5, 5, 6]),
    ...                 timestamp=np.array(["2024-03-01"] * 3, dtype="datetime64[us]"),
    ...                 amount=np.array([8.0, 8.0, 3.0]))
    >>> res = prepare_events(ev, as_of=np.datetime64("2024-12-31"), duplicates="keep_first")
    >>> res.accepted.event_id.tolist(), res.counts["duplicates_set_aside"]
    ([1, 2], 1)
    """

    currency: str | None = None
    margin: NDArray[np.float64] | None = None
    counts: Mapping[str, int] = attrs.field(factory=dict)

    def summary(self) -> str:
        """Counts in, accepted and rejected, rows per rule, then the policy counts.

        Examples
        --------
        >>> import numpy as np
        >>> from stickykit.frames import EventFrame
        >>> ev = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 2]),
        ...                 timestamp=np.array(["2024-01-01", "2030-01-01"], "datetime64[us]"))
        >>> res = prepare_events(ev, as_of=np.datetime64("2025-01-01"), errors="quarantine")
        >>> print(res.summary())
        2 rows read, 1 accepted, 1 rejected
          timestamp: 1 rows, expected a time at or before as_of (2025-01-01T00:00:00.000000)
          returns_kept: 0
          returns_set_aside: 0
          duplicates_set_aside: 0
          converted: 0
          rejected_as_errors: 1
        """
        lines = [super().summary()]
        lines += [f"  {name}: {count:,}" for name, count in self.counts.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"PreparedEvents(n_input={self.n_input}, n_accepted={self.n_accepted}, "
            f"n_rejected={self.n_rejected}, currency={self.currency!r})"
        )


def _as_of_us(as_of: object) -> np.datetime64:
    if as_of is None:
        return np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None), "us")
    if isinstance(as_of, dt.datetime):
        if as_of.tzinfo is None:
            raise ValidationError(
                record=_RECORD,
                field="as_of",
                row=None,
                value=as_of,
                expected="a timezone-aware datetime (or a numpy datetime64 in UTC)",
            )
        return np.datetime64(as_of.astimezone(dt.UTC).replace(tzinfo=None), "us")
    if isinstance(as_of, np.datetime64) and not np.isnat(as_of):
        stamp: np.datetime64 = np.array([as_of]).astype("datetime64[us]")[0]
        return stamp
    raise ValidationError(
        record=_RECORD,
        field="as_of",
        row=None,
        value=as_of,
        expected="a timezone-aware datetime or a numpy datetime64 in UTC",
    )


def _iso(stamps: NDArray[np.datetime64]) -> NDArray[np.str_]:
    """UTC times as ISO text, for reasons a reader can check against the input."""
    return np.datetime_as_string(stamps, unit="s")


def _add(found: list[Violation], v: Violation | None) -> None:
    if v is not None:
        found.append(v)


def _customer_rules(events: EventFrame, customers: CustomerFrame, found: list[Violation]) -> None:
    """Unknown customer ids, and events before their customer's acquisition."""
    ids = customers.customer_id
    if len(ids) and ids.dtype.kind != events.customer_id.dtype.kind:
        kinds = {"i": "integer", "U": "text"}
        raise ValidationError(
            record=_RECORD,
            field="customer_id",
            row=None,
            value=f"{kinds[events.customer_id.dtype.kind]} ids",
            expected=f"{kinds[ids.dtype.kind]} ids, as in customers.customer_id",
        )
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    repeated = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if repeated.size:
        row = int(order[repeated + 1].min())
        raise ValidationError(
            record="CustomerFrame",
            field="customer_id",
            row=customers.first_row + row,
            value=ids[row].item(),
            expected="a customer id no other row has",
            n_failing=int(repeated.size),
        )
    first = events.first_row
    if len(sorted_ids) == 0:
        known = np.zeros(len(events), dtype=bool)
        at = np.zeros(len(events), dtype=np.intp)
    else:
        at = np.minimum(np.searchsorted(sorted_ids, events.customer_id), len(sorted_ids) - 1)
        known = sorted_ids[at] == events.customer_id
    _add(
        found,
        violation(
            "customer_id",
            ~known,
            events.customer_id,
            "a customer id listed in customers",
            first,
        ),
    )
    if customers.acquired_at is None or len(sorted_ids) == 0:
        return
    acquired = customers.acquired_at[order][at]
    early = known & ~np.isnat(acquired) & (events.timestamp < acquired)
    _add(
        found,
        violation(
            "timestamp",
            early,
            _iso(events.timestamp),
            "a time at or after the customer's acquisition (customers.acquired_at)",
            first,
        ),
    )


def _duplicate_rules(
    events: EventFrame,
    duplicates: DuplicatesPolicy,
    errors_found: list[Violation],
    set_aside: list[Violation],
) -> int:
    """Rows sharing an event id; returns the number set aside by policy."""
    ids = events.event_id
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    same = sorted_ids[1:] == sorted_ids[:-1]
    later = np.zeros(len(ids), dtype=bool)
    later[order[1:][same]] = True  # a stable sort keeps input order within one id
    if duplicates == "keep_first":
        v = violation(
            "event_id",
            later,
            ids,
            "an event id not seen on an earlier row (duplicates='keep_first' keeps the first)",
            events.first_row,
        )
        _add(set_aside, v)
        return 0 if v is None else len(v)
    shared = later.copy()
    shared[order[:-1][same]] = True
    _add(
        errors_found,
        violation("event_id", shared, ids, "an event id no other row has", events.first_row),
    )
    return 0


def _check_rates(
    currency: str | None, exchange_rates: Mapping[str, float]
) -> tuple[str, dict[str, float]]:
    if currency is None:
        msg = "exchange_rates needs currency=, the code the rates convert to"
        raise ValueError(msg)
    rates = {str(code): float(rate) for code, rate in exchange_rates.items()}
    for code, rate in rates.items():
        if not (np.isfinite(rate) and rate > 0):
            msg = f"exchange_rates[{code!r}] must be a finite number > 0, got {rate!r}"
            raise ValueError(msg)
    if rates.get(currency, 1.0) != 1.0:
        msg = f"exchange_rates[{currency!r}] converts the target currency to itself: it must be 1"
        raise ValueError(msg)
    rates[currency] = 1.0
    return currency, rates


def _currency_rules(
    events: EventFrame,
    currency: str | None,
    exchange_rates: Mapping[str, float] | None,
    found: list[Violation],
) -> tuple[str | None, NDArray[np.float64], NDArray[np.bool_]]:
    """The target currency, the factor converting each row to it, and the rows converted."""
    n = len(events)
    factor = np.ones(n)
    converted = np.zeros(n, dtype=bool)
    codes = events.currency
    if codes is None or events.amount is None:
        if exchange_rates is not None:
            msg = "exchange_rates given, but the events have no currency (or no amount) column"
            raise ValueError(msg)
        return currency, factor, converted
    first = events.first_row
    present = ~events.label_missing.get("currency", np.zeros(n, dtype=bool))
    no_code = ~present & (events.amount != 0)
    _add(
        found, violation("currency", no_code, codes, "a currency code for a non-zero amount", first)
    )
    if exchange_rates is None:
        target = currency
        expected = f"{currency!r}, the currency named by currency="
        if target is None:
            names, counts = np.unique(codes[present], return_counts=True)
            if names.size == 0:
                return None, factor, converted
            target = str(names[np.argmax(counts)])  # most rows; a tie goes to the first name
            expected = f"{target!r}, the currency of most rows"
        other = present & (codes != target)
        _add(
            found,
            violation(
                "currency",
                other,
                codes,
                f"{expected} (mixed currencies: pass currency= and exchange_rates= to convert)",
                first,
            ),
        )
        return target, factor, converted
    target, rates = _check_rates(currency, exchange_rates)
    names = np.array(sorted(rates))
    at = np.minimum(np.searchsorted(names, codes), len(names) - 1)
    known = names[at] == codes
    listed = ", ".join(names.tolist())
    _add(
        found,
        violation(
            "currency", present & ~known, codes, f"a currency in exchange_rates ({listed})", first
        ),
    )
    usable = present & known
    factor[usable] = np.array([rates[name] for name in names.tolist()])[at[usable]]
    converted = usable & (codes != target)
    return target, factor, converted


def _cost_rules(events: EventFrame, cost: ArrayLike, found: list[Violation]) -> NDArray[np.float64]:
    values = np.asarray(cost)
    if values.ndim != 1 or len(values) != len(events) or values.dtype.kind not in "iuf":
        raise ValidationError(
            record=_RECORD,
            field="cost",
            row=None,
            value=f"array(dtype={values.dtype}, shape={values.shape})",
            expected=f"a 1-D numeric array of length {len(events)}, one cost per row",
        )
    numbers = values.astype(np.float64)
    amount = events.amount if events.amount is not None else np.zeros(len(events))
    first = events.first_row
    finite = np.isfinite(numbers)
    _add(found, violation("cost", ~finite, values, "a finite cost", first))
    against = finite & (np.sign(numbers) * np.sign(amount) < 0)
    _add(
        found,
        violation(
            "cost",
            against,
            values,
            "a cost with the sign of its amount (a return's cost is negative)",
            first,
        ),
    )
    return np.where(finite, numbers, 0.0)


def prepare_events(
    events: EventFrame,
    *,
    customers: CustomerFrame | None = None,
    as_of: dt.datetime | np.datetime64 | None = None,
    currency: str | None = None,
    exchange_rates: Mapping[str, float] | None = None,
    margin_rate: float | None = None,
    cost: ArrayLike | None = None,
    returns: ReturnsPolicy = DEFAULT_RETURNS,
    duplicates: DuplicatesPolicy = "reject",
    errors: Errors = "raise",
) -> PreparedEvents:
    """Check events against each other and the outside facts, and apply the money policies.

    Parameters
    ----------
    events : EventFrame
        Events as :func:`~stickykit.io.load_events` returns them (UTC timestamps).
    customers : CustomerFrame, optional
        The customer table. When given, an event of a customer it does not list is an error,
        and so is an event before its customer's ``acquired_at`` (customers without an
        acquisition time are not checked). Its ids must be unique.
    as_of : datetime.datetime or numpy.datetime64, optional
        The time of the analysis: later events are in the future and are errors. A
        ``datetime`` must be timezone-aware; a ``datetime64`` is read as UTC. Default: the
        current time, so pass it for results that do not depend on when they were run.
    currency : str, optional
        The currency every accepted amount is in. Without ``exchange_rates``, rows in any
        other currency are errors; without either, the currency of most rows is taken and
        the others are errors (mixed currencies are refused, never summed).
    exchange_rates : mapping of str to float, optional
        Units of ``currency`` per unit of each other currency, one rate per currency (for
        example the rate on the reporting date). Rows in a listed currency are converted;
        rows in an unlisted one are errors.
    margin_rate : float, optional
        Margin as a share of the amount, at most 1: ``margin = amount * margin_rate``.
    cost : array-like, optional
        Cost of each row in the row's own currency (negative for a return, whose goods come
        back): ``margin = amount - cost``. Give ``margin_rate`` or ``cost``, not both.
    returns : {"net", "quarantine", "reject"}
        The returns policy, shared by every measure (see :mod:`stickykit.io.events`).
    duplicates : {"reject", "keep_first"}
        ``"reject"``: every row of an event id that several rows share is an error (none of
        them can be trusted over the others). ``"keep_first"``: the first row in input order
        is kept and the later copies are set aside; choose it when copies are re-deliveries
        of the same event.
    errors : {"raise", "quarantine"}
        For rows that break a rule: raise :class:`~stickykit.errors.ValidationError` for the
        first one (naming row, field, value and how many rows fail), or set them aside.
        Rows a policy sets aside never raise.

    Returns
    -------
    PreparedEvents
        ``accepted`` holds the surviving rows with amounts in one currency (the ``currency``
        column set to it); ``rejected``, ``violations`` and ``reasons`` say which rows were
        set aside and why; ``counts`` gives the policy outcomes. Row numbers are positions in
        ``events`` (plus its ``first_row``).

    Notes
    -----
    Timestamps are already UTC instants: :func:`~stickykit.io.load_events` refuses naive
    times unless their zone is named and text carrying an offset, so naive and mixed time
    zones never reach this function. Every rule is checked on every row, so one row may have
    several reasons; a row is accepted only when it has none.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import CustomerFrame, EventFrame
    >>> ev = EventFrame(
    ...     event_id=np.array([1, 2, 3, 4]), customer_id=np.array([7, 7, 8, 9]),
    ...     timestamp=np.array(["2024-01-02", "2024-01-05", "2023-12-01", "2024-02-01"],
    ...                        dtype="datetime64[us]"),
    ...     amount=np.array([20.0, 10.0, 5.0, 12.0]),
    ...     currency=np.array(["EUR", "USD", "EUR", "EUR"]))
    >>> people = CustomerFrame(customer_id=np.array([7, 8]),
    ...     acquired_at=np.array(["2024-01-01", "2024-01-01"], dtype="datetime64[us]"))
    >>> res = prepare_events(ev, customers=people, as_of=np.datetime64("2024-06-30"),
    ...                      currency="EUR", exchange_rates={"USD": 0.9}, margin_rate=0.25,
    ...                      errors="quarantine")
    >>> res.accepted.amount.tolist(), res.margin.tolist(), res.counts["converted"]
    ([20.0, 9.0], [5.0, 2.25], 1)
    >>> for reason in res.reasons:
    ...     print(reason)
    timestamp @ row 2: '2023-12-01T00:00:00' is invalid, expected a time at or after the customer's acquisition (customers.acquired_at)
    customer_id @ row 3: 9 is invalid, expected a customer id listed in customers

    With ``errors="raise"`` (the default) the first bad row stops the load:

    >>> prepare_events(ev, as_of=np.datetime64("2024-06-30"))
    Traceback (most recent call last):
    ...
    stickykit.errors.ValidationError: EventFrame.currency @ row 1: 'USD' is invalid, expected 'EUR', the currency of most rows (mixed currencies: pass currency= and exchange_rates= to convert)
    """
    returns = check_returns_policy(returns)
    if duplicates not in get_args(DuplicatesPolicy):
        msg = f"duplicates must be 'reject' or 'keep_first'; got {duplicates!r}"
        raise ValueError(msg)
    if errors not in ("raise", "quarantine"):
        msg = f"errors must be 'raise' or 'quarantine', got {errors!r}"
        raise ValueError(msg)
    if margin_rate is not None and cost is not None:
        msg = "give margin_rate or cost, not both"
        raise ValueError(msg)
    if margin_rate is not None and not (np.isfinite(margin_rate) and margin_rate <= 1):
        msg = f"margin_rate must be a finite share <= 1, got {margin_rate!r}"
        raise ValueError(msg)
    n = len(events)
    first = events.first_row
    found: list[Violation] = []
    set_aside: list[Violation] = []
    limit = _as_of_us(as_of)
    _add(
        found,
        violation(
            "timestamp",
            events.timestamp > limit,
            _iso(events.timestamp),
            f"a time at or before as_of ({limit})",
            first,
        ),
    )
    if customers is not None:
        _customer_rules(events, customers, found)
    n_duplicates = _duplicate_rules(events, duplicates, found, set_aside)
    target, factor, converted = _currency_rules(events, currency, exchange_rates, found)
    returned = is_return(events)
    if events.amount is not None and returns != "net":
        rule = violation(
            "amount",
            returned,
            events.amount,
            f"a non-negative amount (returns={returns!r}"
            + (" sets returns aside)" if returns == "quarantine" else ")"),
            first,
        )
        _add(set_aside if returns == "quarantine" else found, rule)
    cost_values = None if cost is None else _cost_rules(events, cost, found)
    if errors == "raise":
        raise_first(_RECORD, found)
    rejected = rejected_rows([*found, *set_aside], n)
    keep = np.ones(n, dtype=bool)
    keep[rejected - first] = False
    amount = None if events.amount is None else events.amount * factor
    masks = dict(events.label_missing)
    codes = events.currency
    if target is not None:
        codes = np.full(n, target)
        masks.pop("currency", None)
    prepared = attrs.evolve(events, amount=amount, currency=codes, label_missing=masks)
    margin = None
    if amount is not None and margin_rate is not None:
        margin = (amount * margin_rate)[keep]
    elif amount is not None and cost_values is not None:
        margin = (amount - cost_values * factor)[keep]
    error_rows = rejected_rows(found, n)
    counts = {
        "returns_kept": int((returned & keep).sum()) if returns == "net" else 0,
        "returns_set_aside": int(returned.sum()) if returns == "quarantine" else 0,
        "duplicates_set_aside": n_duplicates,
        "converted": int((converted & keep).sum()),
        "rejected_as_errors": int(error_rows.size),
    }
    rejected_values: dict[str, NDArray[Any]] = {
        name: getattr(events, name)[rejected - first]
        for name in ("event_id", "customer_id", "timestamp", "amount", "currency")
        if getattr(events, name) is not None
    }
    return PreparedEvents(
        accepted=prepared.filter(keep),
        rejected=rejected,
        violations=tuple(sorted([*found, *set_aside], key=lambda v: int(v.rows[0]))),
        n_input=n,
        rejected_values=rejected_values,
        currency=target,
        margin=margin,
        counts=counts,
    )
