"""The state and the sequence rules shared by the points and tier measures.

Every points and tier metric keeps a :class:`ProgrammeState`: the :class:`~stickykit.metrics.programme.ledger.Ledger`
of its programme events plus the customers seen and each one's latest event. Rules that need a
customer's whole history are checked on the merged ledger, in ``finalize``, and by ``check``
on a whole frame (for quarantine):

- *enrolment after churn*: an ``enrolled`` event later than the customer's ``churned`` event;
- *a balance that goes negative*: a ``points_redeemed`` or ``points_expired`` event taking
  more points than the customer holds at that instant (points earned at the same instant
  count first);
- *two tiers at once*: two ``tier_changed`` events of one customer at the same instant naming
  different tiers.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> from stickykit.metrics.programme.points import ProgrammeEnrollment
>>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 1]),
...                timestamp=np.array(["2024-01-01", "2024-02-01", "2024-03-01"],
...                                   dtype="datetime64[us]"),
...                kind=np.array(["enrolled", "churned", "enrolled"]))
>>> m = ProgrammeEnrollment()
>>> m.finalize(m.update(m.init(), f))
Traceback (most recent call last):
...
stickykit.errors.ValidationError: EventFrame.timestamp @ row 2: '2024-03-01T00:00:00+00:00' is invalid, expected an enrolment no later than the customer's churn (customer 1 churned at 2024-02-01T00:00:00+00:00)
>>> [v.rows.tolist() for v in m.check(f)]
[[2]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import ValidationError
from stickykit.frames import EventFrame
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints, package_version
from stickykit.metrics.programme.ledger import (
    CHURNED,
    EARNED,
    ENROLLED,
    EXPIRED,
    KIND_CODES,
    NO_TIME,
    REDEEMED,
    TIER,
    UNENROLLED,
    Ledger,
    build_ledger,
    customer_index,
    merge_ledgers,
    merge_seen,
    row_violations,
    seen_customers,
)

__all__ = [
    "Membership",
    "Problem",
    "ProgrammeMetricBase",
    "ProgrammeState",
    "balance_after",
    "membership_at",
    "programme_problems",
    "programme_result",
    "raise_problems",
    "violations_of",
]

_MAX_TIME = int(np.iinfo(np.int64).max)
_ENROLLED, _UNENROLLED, _CHURNED = KIND_CODES[ENROLLED], KIND_CODES[UNENROLLED], KIND_CODES[CHURNED]
_EARNED, _EXPIRED, _REDEEMED = KIND_CODES[EARNED], KIND_CODES[EXPIRED], KIND_CODES[REDEEMED]
_TIER = KIND_CODES[TIER]


def _iso(us: int) -> str:
    return us_to_datetime(int(us)).isoformat()


def _empty_ids() -> NDArray[Any]:
    return np.empty(0, dtype=np.int64)


@attrs.frozen(eq=False)
class ProgrammeState:
    """The mergeable state of the points and tier measures.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    ledger : Ledger
        The programme events the metric reads, aggregated and sorted.
    customer_id : numpy.ndarray
        Sorted distinct customers with an event of the metric's eligible kinds.
    last_seen_us : numpy.ndarray
        Each such customer's latest eligible event (microseconds, int64).
    last_us : int
        The latest event time of any kind (the default ``as_of`` is just after it).

    Examples
    --------
    >>> from stickykit.metrics.programme.points import PointsBreakage
    >>> state = PointsBreakage().init()
    >>> len(state.ledger), len(state.customer_id)
    (0, 0)
    """

    fingerprint: str
    ledger: Ledger = attrs.field(factory=Ledger)
    customer_id: NDArray[Any] = attrs.field(factory=_empty_ids)
    last_seen_us: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, dtype=np.int64))
    last_us: int = NO_TIME


@attrs.frozen(eq=False)
class Problem:
    """Ledger entries that break one sequence rule.

    Parameters
    ----------
    field : str
        The frame column to blame.
    entries : numpy.ndarray
        Positions of the failing ledger entries.
    expected : str
        What the rule accepts, in general words (for quarantine reasons).
    value : Callable
        The offending value of an entry (for the error).
    explain : Callable
        What the rule accepts, with the entry's context (for the error).

    Examples
    --------
    >>> p = Problem(field="quantity", entries=np.array([0]), expected="at most the balance",
    ...             value=lambda e: 5, explain=lambda e: "at most the balance, 3 points")
    >>> p.explain(0)
    'at most the balance, 3 points'
    """

    field: str
    entries: NDArray[np.intp]
    expected: str
    value: Callable[[int], Any]
    explain: Callable[[int], str]


def balance_after(ledger: Ledger) -> NDArray[np.int64]:
    """Each customer's points balance just after each ledger entry.

    Earned points add, redeemed and expired points subtract; at one instant earned points
    count first (the ledger's order).

    Examples
    --------
    >>> lg = Ledger(customer_id=np.array([1, 1, 2]), time_us=np.array([1, 2, 1]),
    ...             code=np.array([3, 5, 5], np.int8), label=np.array(["", "", ""]),
    ...             points=np.array([10, 4, 3]), events=np.ones(3, np.int64),
    ...             row=np.arange(3))
    >>> balance_after(lg).tolist()
    [10, 6, -3]
    """
    delta = np.where(ledger.code == _EARNED, ledger.points, 0)
    delta = delta - np.where(np.isin(ledger.code, (_EXPIRED, _REDEEMED)), ledger.points, 0)
    total = np.cumsum(delta)
    if len(total) == 0:
        return total.astype(np.int64)
    _, at = customer_index(ledger)
    first = np.flatnonzero(np.concatenate([[True], at[1:] != at[:-1]]))
    before = (total - delta)[first]  # the running total before each customer's first entry
    out: NDArray[np.int64] = (total - before[at]).astype(np.int64)
    return out


def _churn_times(ledger: Ledger, at: NDArray[np.intp], n: int) -> NDArray[np.int64]:
    churn = np.full(n, _MAX_TIME, dtype=np.int64)
    hit = ledger.code == _CHURNED
    np.minimum.at(churn, at[hit], ledger.time_us[hit])
    return churn


def programme_problems(ledger: Ledger) -> list[Problem]:
    """The sequence rules broken in a merged ledger (see the module docstring).

    Examples
    --------
    >>> programme_problems(Ledger())
    []
    """
    if len(ledger) == 0:
        return []
    ids, at = customer_index(ledger)
    problems: list[Problem] = []
    churn = _churn_times(ledger, at, len(ids))
    late = np.flatnonzero((ledger.code == _ENROLLED) & (ledger.time_us > churn[at]))
    if len(late):
        problems.append(
            Problem(
                field="timestamp",
                entries=late,
                expected="an enrolment no later than the customer's churn",
                value=lambda e: _iso(ledger.time_us[e]),
                explain=lambda e: (
                    "an enrolment no later than the customer's churn (customer "
                    f"{ids[at[e]].item()!r} churned at {_iso(churn[at[e]])})"
                ),
            )
        )
    debits = np.isin(ledger.code, (_EXPIRED, _REDEEMED))
    if debits.any():
        balance = balance_after(ledger)
        short = np.flatnonzero(debits & (balance < 0))
        if len(short):
            problems.append(
                Problem(
                    field="quantity",
                    entries=short,
                    expected="at most the customer's points balance at that time",
                    value=lambda e: int(ledger.points[e]),
                    explain=lambda e: (
                        "at most the points balance of customer "
                        f"{ids[at[e]].item()!r} at {_iso(ledger.time_us[e])}, "
                        f"{int(balance[e] + ledger.points[e])} points"
                    ),
                )
            )
    tiers = np.flatnonzero(ledger.code == _TIER)
    if len(tiers) > 1:
        same = (at[tiers[1:]] == at[tiers[:-1]]) & (
            ledger.time_us[tiers[1:]] == ledger.time_us[tiers[:-1]]
        )
        clash = tiers[1:][same]
        if len(clash):
            problems.append(
                Problem(
                    field="order_id",
                    entries=clash,
                    expected="one tier per customer at one instant",
                    value=lambda e: str(ledger.label[e]),
                    explain=lambda e: (
                        f"one tier per customer at one instant (customer {ids[at[e]].item()!r} also "
                        f"changed tier at {_iso(ledger.time_us[e])})"
                    ),
                )
            )
    return problems


def raise_problems(ledger: Ledger, problems: list[Problem]) -> None:
    """Raise a ValidationError for the failing entry with the lowest input row, if any.

    Examples
    --------
    >>> lg = Ledger(customer_id=np.array([1]), time_us=np.array([0]),
    ...             code=np.array([5], np.int8), label=np.array([""]), points=np.array([9]),
    ...             events=np.array([1]), row=np.array([4]))
    >>> raise_problems(lg, programme_problems(lg))
    Traceback (most recent call last):
    ...
    stickykit.errors.ValidationError: EventFrame.quantity @ row 4: 9 is invalid, expected at most the points balance of customer 1 at 1970-01-01T00:00:00+00:00, 0 points
    """
    if not problems:
        return
    rows = [(int(ledger.row[p.entries].min()), i) for i, p in enumerate(problems)]
    row, which = min(rows)
    problem = problems[which]
    entry = int(problem.entries[np.argmin(ledger.row[problem.entries])])
    entries = np.unique(np.concatenate([p.entries for p in problems]))
    failing = int(ledger.events[entries].sum())
    raise ValidationError(
        record="EventFrame",
        field=problem.field,
        row=row,
        value=problem.value(entry),
        expected=problem.explain(entry),
        n_failing=failing,
    )


def violations_of(
    frame: EventFrame, entry_of_row: NDArray[np.intp], problems: list[Problem]
) -> list[Violation]:
    """The frame rows behind each problem's ledger entries, as violations.

    Examples
    --------
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 1]),
    ...                timestamp=np.array([1, 2], dtype="datetime64[us]"),
    ...                kind=np.array(["points_earned", "points_redeemed"]),
    ...                quantity=np.array([5, 8]))
    >>> ledger, entry = build_ledger(f, frozenset({3, 5}))
    >>> [v.describe(0) for v in violations_of(f, entry, programme_problems(ledger))]
    ["quantity @ row 1: 8 is invalid, expected at most the customer's points balance at that time"]
    """
    out: list[Violation] = []
    for problem in problems:
        bad = np.isin(entry_of_row, problem.entries)
        where = np.flatnonzero(bad)
        if problem.field == "quantity":
            assert frame.quantity is not None  # points entries come from a quantity column
            values: NDArray[Any] = frame.quantity[where]
        elif problem.field == "order_id":
            assert frame.order_id is not None
            values = frame.order_id[where]
        elif problem.field == "customer_id":
            values = frame.customer_id[where]
        else:
            values = frame.timestamp[where].astype(str)
        out.append(
            Violation(
                field=problem.field,
                rows=(where + frame.first_row).astype(np.int64),
                values=values,
                expected=problem.expected,
            )
        )
    return out


@attrs.frozen(eq=False)
class Membership:
    """Who is a programme member at one instant (customers of the ledger).

    Parameters
    ----------
    customer_id : numpy.ndarray
        The ledger's distinct customers, sorted.
    member : numpy.ndarray
        Enrolled (latest enrolment later than any unenrolment) and not churned (bool).
    enrolled : numpy.ndarray
        Enrolled at least once (bool).
    churned : numpy.ndarray
        Churned (bool).

    Examples
    --------
    >>> membership_at(Ledger(), 0).member.tolist()
    []
    """

    customer_id: NDArray[Any]
    member: NDArray[np.bool_]
    enrolled: NDArray[np.bool_]
    churned: NDArray[np.bool_]


def membership_at(ledger: Ledger, instant_us: int) -> Membership:
    """Membership of each ledger customer from the events before ``instant_us``.

    Examples
    --------
    >>> lg = Ledger(customer_id=np.array([1, 1, 2]), time_us=np.array([1, 5, 2]),
    ...             code=np.array([0, 1, 0], np.int8), label=np.array(["", "", ""]),
    ...             points=np.zeros(3, np.int64), events=np.ones(3, np.int64),
    ...             row=np.arange(3))
    >>> membership_at(lg, 3).member.tolist(), membership_at(lg, 9).member.tolist()
    ([True, True], [False, True])
    """
    ids, at = customer_index(ledger)
    n = len(ids)
    before = ledger.time_us < instant_us
    joined = np.full(n, NO_TIME, dtype=np.int64)
    left = np.full(n, NO_TIME, dtype=np.int64)
    hit = before & (ledger.code == _ENROLLED)
    np.maximum.at(joined, at[hit], ledger.time_us[hit])
    hit = before & (ledger.code == _UNENROLLED)
    np.maximum.at(left, at[hit], ledger.time_us[hit])
    churned = np.zeros(n, dtype=bool)
    churned[at[before & (ledger.code == _CHURNED)]] = True
    enrolled = joined > NO_TIME
    return Membership(
        customer_id=ids,
        member=enrolled & (joined > left) & ~churned,
        enrolled=enrolled,
        churned=churned,
    )


@attrs.frozen
class ProgrammeMetricBase(MetricBase):
    """Base of the points and tier metrics: ``init``, ``update``, ``merge`` and ``check``.

    Subclasses choose the programme kinds they read (``codes``) and the kinds that make a
    customer *seen* (:meth:`eligible_rows`), and implement ``finalize``, which calls
    :meth:`validated` first.

    Examples
    --------
    >>> from stickykit.metrics.programme.points import PointsBreakage
    >>> PointsBreakage().family
    'programme'
    """

    family: ClassVar[str] = "programme"
    input_kind: ClassVar[Literal["events"]] = "events"
    codes: ClassVar[frozenset[int]] = frozenset()

    def init(self) -> ProgrammeState:
        """The empty state."""
        return ProgrammeState(fingerprint=self.fingerprint)

    def eligible_rows(self, frame: EventFrame) -> NDArray[np.bool_] | None:
        """Rows that make a customer *seen* (``None``: every row)."""
        del frame
        return None

    def update(self, state: ProgrammeState, frame: EventFrame) -> ProgrammeState:
        """Fold ``frame`` in; raises ValidationError on a row no sequence could make valid."""
        raise_first("EventFrame", row_violations(frame, self.codes))
        ledger, _ = build_ledger(frame, self.codes)
        ids, last = seen_customers(frame, self.eligible_rows(frame))
        latest = int(frame.timestamp.view(np.int64).max()) if len(frame) else NO_TIME
        chunk = ProgrammeState(
            fingerprint=self.fingerprint,
            ledger=ledger,
            customer_id=ids,
            last_seen_us=last,
            last_us=latest,
        )
        return self.merge(state, chunk)

    def merge(self, a: ProgrammeState, b: ProgrammeState) -> ProgrammeState:
        """Merged ledgers, union of seen customers (latest time kept), latest event time."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        ids, last = merge_seen(a.customer_id, a.last_seen_us, b.customer_id, b.last_seen_us)
        return ProgrammeState(
            fingerprint=self.fingerprint,
            ledger=merge_ledgers(a.ledger, b.ledger),
            customer_id=ids,
            last_seen_us=last,
            last_us=max(a.last_us, b.last_us),
        )

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` or ``finalize`` would refuse: bad points or labels, broken sequences."""
        local = row_violations(frame, self.codes)
        keep = np.ones(len(frame), dtype=bool)
        for v in local:
            keep[v.rows - frame.first_row] = False
        ledger, entry_of_row = build_ledger(frame, self.codes, keep)
        return local + violations_of(frame, entry_of_row, self.problems(ledger))

    def problems(self, ledger: Ledger) -> list[Problem]:
        """The sequence rules the ledger breaks (:func:`programme_problems`)."""
        return programme_problems(ledger)

    def validated(self, state: ProgrammeState) -> Ledger:
        """The state's ledger, after raising on any broken sequence rule."""
        raise_problems(state.ledger, self.problems(state.ledger))
        return state.ledger


def programme_result(
    metric: MetricBase,
    *,
    value: float,
    n: int,
    as_of_us: int,
    method: str,
    unit: str,
    se: float | None = None,
    interval: tuple[float, float] | None = None,
    level: float | None = None,
    flags: tuple[str, ...] = (),
    details: dict[str, float] | None = None,
    tables: dict[str, Any] | None = None,
) -> MetricResult:
    """A :class:`~stickykit.metrics.base.MetricResult` with the metric's name, source and params.

    Examples
    --------
    >>> from stickykit.metrics.programme.points import PointsBreakage
    >>> r = programme_result(PointsBreakage(), value=0.25, n=8, as_of_us=0,
    ...                      method="demo", unit="share")
    >>> r.metric, r.as_of.year
    ('points_breakage', 1970)
    """
    when = us_to_datetime(as_of_us)
    return MetricResult(
        metric=metric.name,
        value=float(value),
        n=int(n),
        n_missing=0,
        se=se,
        ci_low=None if interval is None else float(interval[0]),
        ci_high=None if interval is None else float(interval[1]),
        level=level if interval is not None else None,
        method=method,
        reference=metric.reference,
        params={**metric.params(), "as_of": when},
        as_of=when,
        version=package_version(),
        unit=unit,
        flags=flags,
        details=details or {},
        tables=tables or {},
    )
