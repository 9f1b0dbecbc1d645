r"""Programme tiers: the distribution of members over tiers and the tier migration matrix.

A member's tier at an instant is the tier named by their latest ``tier_changed`` event before
it (the tier's name in ``order_id``, see :mod:`stickykit.metrics.programme`); a
member with no tier event yet is in the entry tier, ``tiers[0]``, when the tiers are given,
else in ``"(none)"``. Membership is as in :mod:`stickykit.metrics.programme.points`.

- ``"tier_distribution"`` (:class:`TierDistribution`): members per tier at ``as_of``;
- ``"tier_migration"`` (:class:`TierMigration`): customers by tier at ``start`` (rows) and
  at ``end`` (columns), with ``"(not a member)"`` as a row and a column, so joining and
  leaving the programme show beside upgrades and downgrades.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 2, 1]),
...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-01-02", "2024-05-01"],
...                                   dtype="datetime64[us]"),
...                kind=np.array(["enrolled", "tier_changed", "enrolled", "tier_changed"]),
...                order_id=np.array(["", "bronze", "", "gold"]))
>>> m = TierDistribution(tiers=("bronze", "silver", "gold"))
>>> r = m.finalize(m.update(m.init(), f))
>>> r.tables["tier"].tolist(), r.tables["members"].tolist()
(['bronze', 'silver', 'gold'], [1, 0, 1])
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetime_to_us, us_to_datetime
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation, violation
from stickykit.metrics.base import MetricResult
from stickykit.metrics.programme.ledger import (
    KIND_CODES,
    TIER,
    TIER_CODES,
    US_PER_DAY,
    Ledger,
    customer_index,
    instant,
    kind_codes,
    state_as_of,
)
from stickykit.metrics.programme.state import (
    ProgrammeMetricBase,
    ProgrammeState,
    membership_at,
    programme_result,
)
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "DEFAULT_MIGRATION_DAYS",
    "NOT_MEMBER",
    "NO_TIER",
    "TierDistribution",
    "TierMigration",
    "tiers_at",
]

#: The label of a member without any tier (when no ``tiers`` are given).
NO_TIER = "(none)"
#: The row and column of customers who are not members at that instant.
NOT_MEMBER = "(not a member)"
_TIER = KIND_CODES[TIER]
_REFERENCE = (
    "tier distribution and tier migration matrix of a loyalty programme; membership and "
    "tier from the programme's own enrolment and tier-change events"
)
#: Default span of :class:`TierMigration` when ``start`` is not given.
DEFAULT_MIGRATION_DAYS = 365


def _tiers(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(str(v) for v in value)
    if not names or len(set(names)) != len(names):
        msg = f"tiers must be distinct names, lowest first, got {value!r}"
        raise ValueError(msg)
    return names


def tiers_at(
    ledger: Ledger, instant_us: int, tiers: tuple[str, ...] | None
) -> tuple[NDArray[Any], NDArray[np.bool_], NDArray[np.str_]]:
    """Each ledger customer's membership and tier from the events before ``instant_us``.

    Returns ``(customer_id, member, tier)``; ``tier`` is the latest tier change's name, the
    entry tier ``tiers[0]`` (or :data:`NO_TIER`) for a member without one, and
    :data:`NOT_MEMBER` for a customer who is not a member.

    Examples
    --------
    >>> lg = Ledger(customer_id=np.array([1, 1, 2]), time_us=np.array([1, 2, 1]),
    ...             code=np.array([0, 6, 0], np.int8), label=np.array(["", "gold", ""]),
    ...             points=np.zeros(3, np.int64), events=np.ones(3, np.int64), row=np.arange(3))
    >>> tiers_at(lg, 5, ("basic", "gold"))[2].tolist()
    ['gold', 'basic']
    """
    ids, at = customer_index(ledger)
    who = membership_at(ledger, instant_us)
    latest = np.full(len(ids), -1, dtype=np.int64)
    hit = np.flatnonzero((ledger.code == _TIER) & (ledger.time_us < instant_us))
    np.maximum.at(latest, at[hit], hit)  # the ledger is sorted by time within a customer
    entry = tiers[0] if tiers else NO_TIER
    width = max(len(entry), len(NOT_MEMBER), ledger.label.dtype.itemsize // 4)
    tier = np.full(len(ids), entry, dtype=f"<U{width}")
    tier[latest >= 0] = ledger.label[latest[latest >= 0]]
    tier[~who.member] = NOT_MEMBER
    return ids, who.member, tier


def _tier_violations(frame: EventFrame, tiers: tuple[str, ...] | None) -> list[Violation]:
    if tiers is None or frame.order_id is None:
        return []
    rows = kind_codes(frame) == _TIER
    missing = frame.label_missing.get("order_id")
    if missing is not None:
        rows &= ~missing
    names = frame.order_id.astype(np.str_)
    found = violation(
        "order_id",
        rows & ~np.isin(names, np.array(tiers)),
        frame.order_id,
        f"one of the tiers {list(tiers)}",
        frame.first_row,
    )
    return [] if found is None else [found]


def _labels(tier: NDArray[np.str_], tiers: tuple[str, ...] | None) -> list[str]:
    if tiers is not None:
        return list(tiers)
    found: list[str] = np.unique(tier[(tier != NOT_MEMBER) & (tier != NO_TIER)]).tolist()
    return found + ([NO_TIER] if (tier == NO_TIER).any() else [])


@attrs.frozen
class _TierBase(ProgrammeMetricBase):
    """Shared ``update`` and ``check`` of the tier metrics: names outside ``tiers`` refused."""

    codes: ClassVar[frozenset[int]] = TIER_CODES

    tiers: tuple[str, ...] | None = attrs.field(default=None, converter=_tiers)

    def update(self, state: ProgrammeState, frame: EventFrame) -> ProgrammeState:
        """Fold ``frame`` in; a tier name outside ``tiers`` raises ValidationError."""
        raise_first("EventFrame", _tier_violations(frame, self.tiers))
        return super().update(state, frame)

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` or ``finalize`` would refuse."""
        return _tier_violations(frame, self.tiers) + super().check(frame)


@attrs.frozen
class TierDistribution(_TierBase):
    r"""Members per tier at ``as_of``.

    ``value`` is the number of members; ``tables`` holds ``tier`` (in the order of
    ``tiers``, else sorted, members without a tier last as ``"(none)"``), ``members`` and
    ``share`` (members in the tier / members). There is no interval: the distribution
    counts the programme's own members.

    Parameters
    ----------
    tiers : tuple of str or None
        The tier names, lowest first. A member with no tier event is in ``tiers[0]``; a tier
        event naming another tier is bad input. ``None``: the names found, in sorted order.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 2, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-02-01"],
    ...                                   dtype="datetime64[us]"),
    ...                kind=np.array(["enrolled", "enrolled", "tier_changed"]),
    ...                order_id=np.array(["", "", "silver"]))
    >>> r = TierDistribution().finalize(TierDistribution().update(TierDistribution().init(), f))
    >>> r.tables["tier"].tolist(), r.tables["share"].tolist()
    (['silver', '(none)'], [0.5, 0.5])
    """

    name: ClassVar[str] = "tier_distribution"
    reference: ClassVar[str] = _REFERENCE

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """Members per tier at ``as_of``."""
        ledger = self.validated(state)
        as_of_us = state_as_of(state.last_us, as_of)
        _, member, tier = tiers_at(ledger, as_of_us, self.tiers)
        n = int(member.sum())
        if n == 0:
            msg = "tier_distribution needs at least one member before as_of"
            raise InsufficientDataError(msg)
        labels = _labels(tier, self.tiers)
        counts = np.array([(tier == label).sum() for label in labels], dtype=np.int64)
        return programme_result(
            self,
            value=float(n),
            n=n,
            as_of_us=as_of_us,
            method="descriptive (no interval)",
            unit="members",
            details={"members": float(n)},
            tables={"tier": np.array(labels), "members": counts, "share": counts / n},
        )


@attrs.frozen
class TierMigration(_TierBase):
    r"""The tier migration matrix between two instants, joining and leaving included.

    Every customer with a programme event is counted once: row = tier at ``start``, column =
    tier at ``end``, with ``"(not a member)"`` last in both. So each row sums to the number
    of customers in that tier at ``start`` (:class:`TierDistribution` at ``start``), and
    each column to the number at ``end``. With ordered ``tiers``, ``details`` counts
    ``upgraded`` (a higher tier at ``end``), ``downgraded``, ``same``, ``left`` (members at
    ``start``, not at ``end``) and ``joined``; without them only ``changed``, ``same``,
    ``left`` and ``joined``. ``value`` is the number of members at ``start``.

    Parameters
    ----------
    start, end : date, datetime, str or None
        The two instants: a date (00:00 UTC), a timezone-aware datetime, or ISO 8601 text. ``end`` defaults to ``as_of``, ``start``
        to 365 days before ``end``. ``end`` may not be later than ``as_of``.
    tiers : tuple of str or None
        The tier names, lowest first (see :class:`TierDistribution`).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 2, 1, 3, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-03-01",
    ...                                    "2024-04-01", "2024-04-02"], dtype="datetime64[us]"),
    ...                kind=np.array(["enrolled", "enrolled", "tier_changed", "enrolled",
    ...                               "unenrolled"]),
    ...                order_id=np.array(["", "", "gold", "", ""]))
    >>> import datetime as dt
    >>> m = TierMigration(start="2024-02-01", end="2024-05-01", tiers=("basic", "gold"))
    >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    >>> r.tables["tier"].tolist()
    ['basic', 'gold', '(not a member)']
    >>> r.tables["matrix"].tolist()  # 1 moved up, 2 left, 3 joined
    [[0, 1, 1], [0, 0, 0], [1, 0, 0]]
    """

    name: ClassVar[str] = "tier_migration"
    reference: ClassVar[str] = _REFERENCE

    start: dt.datetime | None = attrs.field(default=None, converter=instant)
    end: dt.datetime | None = attrs.field(default=None, converter=instant)

    def __attrs_post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start >= self.end:
            msg = f"start must be before end, got {self.start} and {self.end}"
            raise ValueError(msg)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The migration matrix from ``start`` to ``end``."""
        ledger = self.validated(state)
        if len(ledger) == 0:
            msg = "tier_migration needs programme events"
            raise InsufficientDataError(msg)
        as_of_us = state_as_of(state.last_us, as_of)
        end_us = as_of_us if self.end is None else datetime_to_us(self.end)
        if end_us > as_of_us:
            msg = (
                f"end {us_to_datetime(end_us).isoformat()} is after as_of "
                f"{us_to_datetime(as_of_us).isoformat()}: tiers after as_of are unknown"
            )
            raise ValueError(msg)
        start_us = (
            end_us - DEFAULT_MIGRATION_DAYS * US_PER_DAY
            if self.start is None
            else datetime_to_us(self.start)
        )
        if start_us >= end_us:
            msg = "start must be before end"
            raise ValueError(msg)
        _, before_member, before = tiers_at(ledger, start_us, self.tiers)
        _, after_member, after = tiers_at(ledger, end_us, self.tiers)
        labels = [*_labels(np.concatenate([before, after]), self.tiers), NOT_MEMBER]
        names = np.array(labels)
        order = np.argsort(names)
        rows = order[np.searchsorted(names, before, sorter=order)]
        cols = order[np.searchsorted(names, after, sorter=order)]
        k = len(labels)
        matrix = np.bincount(rows * k + cols, minlength=k * k).reshape(k, k).astype(np.int64)
        stayed = before_member & after_member
        same = int((stayed & (rows == cols)).sum())
        details = {
            "members_start": float(before_member.sum()),
            "members_end": float(after_member.sum()),
            "same": float(same),
            "left": float((before_member & ~after_member).sum()),
            "joined": float((~before_member & after_member).sum()),
        }
        if self.tiers is not None:
            details["upgraded"] = float((stayed & (cols > rows)).sum())
            details["downgraded"] = float((stayed & (cols < rows)).sum())
        else:
            details["changed"] = float((stayed & (rows != cols)).sum())
        return programme_result(
            self,
            value=float(before_member.sum()),
            n=int(before_member.sum()),
            as_of_us=as_of_us,
            method="descriptive (no interval)",
            unit="members",
            details=details,
            tables={
                "tier": names,
                "matrix": matrix,
                "start": np.array([start_us], dtype="datetime64[us]"),
                "end": np.array([end_us], dtype="datetime64[us]"),
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"tier_distribution"`` and ``"tier_migration"``."""
    register(TierDistribution)
    register(TierMigration)
