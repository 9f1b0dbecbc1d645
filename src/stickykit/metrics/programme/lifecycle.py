r"""Customer life-cycle stages and the stage-transition matrix between two dates.

On a calendar date :math:`D` (in ``zone``), each customer with activity (default: purchases;
returns never count) on an earlier day is in exactly one stage, from their first and last
active days :math:`f, l < D` and their latest *return*, a day :math:`r < D` of activity that
follows a gap of more than ``lapse_days`` days since the previous one:

===============  =========================================================================
stage            rule (the first that applies)
===============  =========================================================================
``new``          :math:`D - f \le` ``new_days`` (first activity recent)
``reactivated``  :math:`D - r \le` ``active_days`` (came back after a lapse, recently)
``active``       :math:`D - l \le` ``active_days``
``at_risk``      ``active_days`` :math:`< D - l \le` ``lapse_days``
``lapsed``       :math:`D - l >` ``lapse_days``
===============  =========================================================================

A customer with no activity before :math:`D` is a ``prospect`` there. Defaults: 90 days for
``new_days`` and ``active_days``, 180 for ``lapse_days`` (a quarter to stay active, two
quarters to lapse). They are conventions, not published constants: set them from your own
customers' time between purchases (for example a high quantile of the ``"interpurchase_time"``
metric), since a monthly subscription and a furniture shop lapse on very different clocks.

- ``"lifecycle_stages"`` (:class:`LifecycleStages`): customers per stage at ``as_of``, and
  each customer's stage;
- ``"lifecycle_transitions"`` (:class:`LifecycleTransitions`): customers by stage on
  ``start`` (rows, ``prospect`` first) and on ``end`` (columns); each row sums to the stage's
  count on ``start``.

Examples
--------
>>> import datetime as dt
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 2, 2, 3]),
...                timestamp=np.array(["2024-05-20", "2023-01-10", "2024-05-01", "2023-06-01"],
...                                   dtype="datetime64[us]"))
>>> m = LifecycleStages(kinds=None)
>>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
>>> r.tables["customer_id"].tolist(), r.tables["customer_stage"].tolist()
([1, 2, 3], ['new', 'reactivated', 'lapsed'])
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone
from stickykit.core.periods import Period, period_index
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation
from stickykit.metrics.base import MetricResult
from stickykit.metrics.behaviour.retention import active_pairs
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    activity_rows,
    optional_kinds,
)
from stickykit.metrics.programme.ledger import activity_violations, state_as_of
from stickykit.metrics.programme.state import programme_result
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "DEFAULT_TRANSITION_DAYS",
    "PROSPECT",
    "STAGES",
    "LifecycleBase",
    "LifecycleStages",
    "LifecycleTransitions",
    "stages_on",
]

#: The stages, in the order of every table.
STAGES: tuple[str, ...] = ("new", "active", "reactivated", "at_risk", "lapsed")
#: The label of a customer with no activity yet.
PROSPECT = "prospect"
#: Default days between ``start`` and ``end`` of :class:`LifecycleTransitions`.
DEFAULT_TRANSITION_DAYS = 90
_NEW, _ACTIVE, _REACTIVATED, _AT_RISK, _LAPSED = range(5)
_NONE = -1
_REFERENCE = (
    "life-cycle stages (new, active, reactivated, at risk, lapsed) from recency of first, "
    "last and returning activity, with stated thresholds; no published standard fixes them"
)
_LABELS = np.array([*STAGES, PROSPECT])


def _positive_int(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be a whole number of days >= 1, got {value!r}"
        raise ValueError(msg)


def _zone_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_zone("zone", value)


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        msg = f"give a date (the stage on that calendar day), not a datetime: {value!r}"
        raise TypeError(msg)
    if isinstance(value, dt.date):
        return value
    msg = f"expected a date or ISO date text, got {value!r}"
    raise TypeError(msg)


def _day_number(value: dt.date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def stages_on(
    rows: NDArray[np.intp],
    days: NDArray[np.int64],
    n: int,
    day: int,
    *,
    new_days: int,
    active_days: int,
    lapse_days: int,
) -> NDArray[np.int8]:
    """The stage code of each of ``n`` customers on day ``day`` (-1: prospect).

    ``rows`` and ``days`` are the (customer, active day) pairs, sorted by customer then
    day; codes index :data:`STAGES`.

    Examples
    --------
    Customer 0 active on days 0 and 300 (a return after a 300-day gap), customer 1 on day
    250, customer 2 on day 100, seen on day 320:

    >>> codes = stages_on(np.array([0, 0, 1, 2]), np.array([0, 300, 250, 100]), 3, 320,
    ...                   new_days=30, active_days=90, lapse_days=180)
    >>> [STAGES[c] for c in codes]
    ['reactivated', 'active', 'lapsed']
    """
    before = days < day
    r, d = rows[before], days[before]
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, r, d)
    np.maximum.at(last, r, d)
    back = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    returns = (r[1:] == r[:-1]) & (d[1:] - d[:-1] > lapse_days)
    np.maximum.at(back, r[1:][returns], d[1:][returns])
    seen = first <= day
    since_last = day - np.where(seen, last, day)
    code = np.full(n, _NONE, dtype=np.int8)
    code[seen] = _LAPSED
    code[seen & (since_last <= lapse_days)] = _AT_RISK
    code[seen & (since_last <= active_days)] = _ACTIVE
    returned = back > np.iinfo(np.int64).min
    code[seen & returned & (day - np.where(returned, back, day) <= active_days)] = _REACTIVATED
    code[seen & (day - np.where(seen, first, day) <= new_days)] = _NEW
    return code


@attrs.frozen
class LifecycleBase(CustomerSummary):
    """Shared parameters and state of the life-cycle metrics: a daily customer summary.

    The state is a :class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState` of the
    activity rows with daily periods, so ``merge`` is the summary's (a union of customers and
    an OR of their active-day bits).

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as activity (default ``("purchase",)``; ``None``: any).
    zone : str
        IANA time zone of the calendar days.
    new_days, active_days, lapse_days : int
        The thresholds of the stages (see the module docstring); ``active_days`` may not
        exceed ``lapse_days``.

    Examples
    --------
    >>> LifecycleStages(active_days=60, lapse_days=120).params()["period"]
    'day'
    """

    family: ClassVar[str] = "programme"
    reference: ClassVar[str] = _REFERENCE

    kinds: tuple[str, ...] | None = attrs.field(default=("purchase",), converter=optional_kinds)
    period: Period = attrs.field(default="day", init=False)
    zone: str = attrs.field(default="UTC", validator=_zone_field)
    new_days: int = attrs.field(default=90, validator=_positive_int)
    active_days: int = attrs.field(default=90, validator=_positive_int)
    lapse_days: int = attrs.field(default=180, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        if self.active_days > self.lapse_days:
            msg = f"active_days ({self.active_days}) may not exceed lapse_days ({self.lapse_days})"
            raise ValueError(msg)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the activity rows of ``frame`` (qualifying kinds, not returns) into ``state``."""
        keep, _ = activity_rows(frame, self.kinds)
        raise_first("EventFrame", activity_violations(frame, keep))
        if not keep.all():
            frame = frame.filter(keep)
        return self.merge(state, self._summarise(frame))

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` refuses: activity in a currency other than most activity rows'."""
        keep, _ = activity_rows(frame, self.kinds)
        return activity_violations(frame, keep)

    def pairs(self, state: CustomerSummaryState) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
        """The (customer row, active day) pairs, sorted by customer then day."""
        lo, hi = state.period_range()
        rows, days = active_pairs(state, lo, hi)
        order = np.lexsort((days, rows))
        return rows[order], days[order]

    def day_of(self, as_of_us: int) -> int:
        """The first day (local number) after the last day with data before ``as_of``."""
        instants = np.array([as_of_us - 1], dtype="datetime64[us]")
        return int(period_index(instants, "day", zone=self.zone)[0]) + 1

    def stages(self, state: CustomerSummaryState, day: int) -> NDArray[np.int8]:
        """Each customer's stage code on ``day``."""
        rows, days = self.pairs(state)
        return stages_on(
            rows,
            days,
            len(state),
            day,
            new_days=self.new_days,
            active_days=self.active_days,
            lapse_days=self.lapse_days,
        )

    def thresholds(self) -> dict[str, float]:
        """The three thresholds, for ``details``."""
        return {
            "new_days": float(self.new_days),
            "active_days": float(self.active_days),
            "lapse_days": float(self.lapse_days),
        }


@attrs.frozen
class LifecycleStages(LifecycleBase):
    r"""Customers per life-cycle stage at ``as_of``, and each customer's stage.

        Stages are taken on the day after the last day with data before ``as_of`` (see the
        module docstring for the rules). ``value`` is the number of customers; ``tables`` holds
        ``stage``, ``customers`` and ``share`` (in the order of :data:`STAGES`), and
        ``customer_id`` with ``customer_stage`` for every customer. There is no interval: the
        stages describe every customer.

    Parameters
    ----------
        kinds, zone, new_days, active_days, lapse_days
            See :class:`LifecycleBase`.

    Examples
    --------
        >>> import numpy as np
        >>> from stickykit.frames import EventFrame
        >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 2]),
        ...                timestamp=np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[us]"))
        >>> m = LifecycleStages(kinds=None)
        >>> r = m.finalize(m.update(m.init(), f))
        >>> dict(zip(r.tables["stage"].tolist(), r.tables["customers"].tolist()))
        {'new': 1, 'active': 0, 'reactivated': 0, 'at_risk': 0, 'lapsed': 1}
    """

    name: ClassVar[str] = "lifecycle_stages"
    input_kind: ClassVar[Literal["events"]] = "events"

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Customers per stage; each customer's stage in ``tables``."""
        if len(state) == 0 or not state.n_events.any():
            msg = "lifecycle_stages needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = state_as_of(int(state.last_us.max()), as_of)
        codes = self.stages(state, self.day_of(as_of_us))
        seen = codes >= 0
        counts = np.bincount(codes[seen], minlength=len(STAGES)).astype(np.int64)
        n = int(seen.sum())
        return programme_result(
            self,
            value=float(n),
            n=n,
            as_of_us=as_of_us,
            method="descriptive (no interval)",
            unit="customers",
            details={**{s: float(c) for s, c in zip(STAGES, counts, strict=True)},
                     **self.thresholds()},
            tables={
                "stage": np.array(STAGES),
                "customers": counts,
                "share": counts / n,
                "customer_id": state.customer_id[seen],
                "customer_stage": _LABELS[codes[seen]],
            },
        )  # fmt: skip


@attrs.frozen
class LifecycleTransitions(LifecycleBase):
    r"""The stage-transition matrix between two dates.

        Rows are the stage on ``start`` (``prospect`` first: customers whose first activity
        falls between the dates), columns the stage on ``end``; every customer with activity
        before ``end`` is counted once, so each row sums to that stage's count on ``start`` and
        each column to its count on ``end``. ``value`` is the number of customers with a stage on
        ``start``.

    Parameters
    ----------
        start, end : date, str or None
            The two days (dates or ISO 8601 date text); a stage on a day counts the activity of
            earlier days. ``end``
            defaults to the day after the data (as :class:`LifecycleStages`), ``start`` to
            :data:`DEFAULT_TRANSITION_DAYS` days before ``end``. ``end`` may not be later than
            that default.
        kinds, zone, new_days, active_days, lapse_days
            See :class:`LifecycleBase`.

    Notes
    -----
        ``tables``: ``from_stage`` (``prospect`` and :data:`STAGES`), ``to_stage``
        (:data:`STAGES`), ``matrix`` (rows x columns counts), ``start_counts`` (row sums),
        ``end_counts`` (column sums), and the two days, ``start`` and ``end``.

    Examples
    --------
        >>> import numpy as np
        >>> from stickykit.frames import EventFrame
        >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 2, 1]),
        ...                timestamp=np.array(["2024-01-01", "2024-03-01", "2024-04-01"],
        ...                                   dtype="datetime64[us]"))
        >>> import datetime as dt
        >>> m = LifecycleTransitions(start="2024-02-01", end="2024-04-15", kinds=None, new_days=30)
        >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 4, 15, tzinfo=dt.UTC))
        >>> r.tables["from_stage"][:3].tolist(), r.tables["to_stage"][:2].tolist()
        (['prospect', 'new', 'active'], ['new', 'active'])
        >>> r.tables["matrix"][:3].tolist()  # customer 2 arrived, customer 1 stayed active
        [[0, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]]
    """

    name: ClassVar[str] = "lifecycle_transitions"
    input_kind: ClassVar[Literal["events"]] = "events"

    start: dt.date | None = attrs.field(default=None, converter=_date)
    end: dt.date | None = attrs.field(default=None, converter=_date)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.start is not None and self.end is not None and self.start >= self.end:
            msg = f"start must be before end, got {self.start} and {self.end}"
            raise ValueError(msg)

    def params(self) -> dict[str, Any]:
        """The parameters as plain values (the dates as ISO text).

        Examples
        --------
        >>> LifecycleTransitions(start="2024-01-01").params()["start"]
        '2024-01-01'
        """
        out = super().params()
        for key in ("start", "end"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The transition matrix from ``start`` to ``end``."""
        if len(state) == 0 or not state.n_events.any():
            msg = "lifecycle_transitions needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = state_as_of(int(state.last_us.max()), as_of)
        latest = self.day_of(as_of_us)
        end = latest if self.end is None else _day_number(self.end)
        if end > latest:
            msg = (
                f"end {self.end} is after the data (the last stage day is "
                f"{np.datetime64(latest, 'D')}): stages after as_of are unknown"
            )
            raise ValueError(msg)
        start = end - DEFAULT_TRANSITION_DAYS if self.start is None else _day_number(self.start)
        if start >= end:
            msg = "start must be before end"
            raise ValueError(msg)
        rows, days = self.pairs(state)
        kw = {"new_days": self.new_days, "active_days": self.active_days}
        before = stages_on(rows, days, len(state), start, lapse_days=self.lapse_days, **kw)
        after = stages_on(rows, days, len(state), end, lapse_days=self.lapse_days, **kw)
        counted = after >= 0
        k = len(STAGES)
        origin = np.where(before[counted] < 0, 0, before[counted] + 1).astype(np.int64)
        matrix = np.bincount(origin * k + after[counted], minlength=(k + 1) * k).reshape(k + 1, k)
        n_start = int((before >= 0).sum())
        return programme_result(
            self,
            value=float(n_start),
            n=n_start,
            as_of_us=as_of_us,
            method="descriptive (no interval)",
            unit="customers",
            details={
                "customers_start": float(n_start),
                "customers_end": float(counted.sum()),
                **self.thresholds(),
            },
            tables={
                "from_stage": np.array([PROSPECT, *STAGES]),
                "to_stage": np.array(STAGES),
                "matrix": matrix.astype(np.int64),
                "start_counts": matrix.sum(axis=1).astype(np.int64),
                "end_counts": matrix.sum(axis=0).astype(np.int64),
                "start": np.array([start], dtype="datetime64[D]"),
                "end": np.array([end], dtype="datetime64[D]"),
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"lifecycle_stages"`` and ``"lifecycle_transitions"``."""
    register(LifecycleStages)
    register(LifecycleTransitions)
