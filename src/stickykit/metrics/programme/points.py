r"""Loyalty-programme points: enrolment, active members, redemption, breakage and liability.

Five registered metrics read the programme events of an
:class:`~stickykit.frames.EventFrame` (``enrolled``, ``unenrolled``, ``churned``,
``points_earned``, ``points_redeemed``, ``points_expired``; points in ``quantity``, see
:mod:`stickykit.metrics.programme`):

======================================  =====================================================
``"programme_enrollment"``              members / eligible customers
``"programme_active_members"``          members earning or redeeming in a window / members
``"points_redemption"``                 points redeemed / earned, or members who redeemed /
                                        members
``"points_breakage"``                   points expired / issued, per issue cohort
``"points_liability"``                  outstanding points x value per point x
                                        (1 - expected breakage), IFRS 15 B39-B47
======================================  =====================================================

A member, at ``as_of``, is a customer whose latest ``enrolled`` event is later than any
``unenrolled`` event and who has not churned. Points leave a balance only through
``points_redeemed`` and ``points_expired``; redemptions and expiries consume the oldest points
first (first in, first out), which gives each issue cohort its redeemed, expired and
outstanding points. Every customer's balance must stay >= 0: a redemption or expiry of more
points than the balance is bad input (:mod:`stickykit.metrics.programme`).

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 1, 1, 2, 3]),
...                timestamp=np.array(["2024-01-05", "2024-01-05", "2024-03-01", "2024-02-01",
...                                    "2024-02-02"], dtype="datetime64[us]"),
...                kind=np.array(["enrolled", "points_earned", "points_redeemed", "purchase",
...                               "enrolled"]),
...                quantity=np.array([0, 500, 200, 1, 0]))
>>> m = PointsLiability(value_per_point=0.01, expected_breakage=0.2)
>>> r = m.finalize(m.update(m.init(), f))
>>> r.value, r.details["outstanding_points"]  # 300 points x 0.01 x (1 - 0.2)
(2.4, 300.0)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone
from stickykit.core.periods import Period, period_index
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.behaviour.retention import period_dates
from stickykit.metrics.behaviour.summary import optional_kinds, period_field, qualifying
from stickykit.metrics.programme.ledger import (
    EARNED,
    ENROLLED,
    EXPIRED,
    KIND_CODES,
    MEMBERSHIP_CODES,
    NO_TIME,
    POINTS_CODES,
    REDEEMED,
    US_PER_DAY,
    Ledger,
    alpha_field,
    customer_index,
    positive_days,
    state_as_of,
)
from stickykit.metrics.programme.state import (
    ProgrammeMetricBase,
    ProgrammeState,
    membership_at,
    programme_result,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import wilson_interval, z_value

__all__ = [
    "ActiveMembers",
    "PointsBreakage",
    "PointsLiability",
    "PointsRedemption",
    "ProgrammeEnrollment",
    "cohort_points",
    "fifo_allocation",
]

_EARNED, _EXPIRED, _REDEEMED = KIND_CODES[EARNED], KIND_CODES[EXPIRED], KIND_CODES[REDEEMED]
_ENROLLED = KIND_CODES[ENROLLED]
_KPI = (
    "enrolment and active-member rates as in loyalty KPI guides (Smile.io, RewardOps); "
    "Wilson (1927), JASA 22(158), 209-212"
)
_REDEMPTION = (
    "redemption rate = points redeemed / points earned, or members who redeemed / members "
    "(Smile.io, RewardOps); ratio variance linearised by customer (Cochran 1977, Sampling "
    "Techniques, 3rd ed., ch. 6); Wilson (1927), JASA 22(158), 209-212"
)
_BREAKAGE = (
    "breakage = points never redeemed / points issued, expired points included (Smile.io, CX "
    "Loyalty); redemptions and expiries allocated first in, first out to issue cohorts"
)
_LIABILITY = (
    "IFRS 15 Revenue from Contracts with Customers, B39-B43 (material rights priced with the "
    "likelihood of exercise) and B44-B47 (breakage): outstanding points x value per point x "
    "(1 - expected breakage)"
)


def _wilson(successes: int, n: int, alpha: float) -> tuple[float, float]:
    return wilson_interval(successes, n, alpha)


def fifo_allocation(
    ledger: Ledger,
) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.int64]]:
    r"""The earning entries and the points of each later redeemed and expired, oldest first.

    Within each customer, point number :math:`k` earned (counting in time order) is the
    :math:`k`-th point to leave the balance: redemptions and expiries consume the oldest
    points first. Each earning entry :math:`e` covers the interval
    :math:`[E_{e-1}, E_e)` of the customer's cumulative points earned and each debit
    :math:`d` the interval :math:`[D_{d-1}, D_d)` of the cumulative points debited; the
    points of :math:`e` redeemed (expired) are the overlaps with redemption (expiry)
    intervals. The balance rule (:math:`D \le E` at every debit) keeps each debit inside
    points already earned. Computed for all customers at once on offset cumulative sums,
    with :func:`numpy.searchsorted`; no loop over customers.

    Parameters
    ----------
    ledger : Ledger
        A validated ledger (no balance below zero).

    Returns
    -------
    earn : numpy.ndarray
        Positions of the ``points_earned`` entries.
    redeemed, expired : numpy.ndarray
        Points of each of them redeemed and expired so far (int64).

    Examples
    --------
    Customer 1 earns 100 then 50, redeems 120, then 20 expire: the first 100 points are all
    redeemed; of the second 50, 20 are redeemed and 20 expire, 10 remain.

    >>> lg = Ledger(customer_id=np.ones(4, np.int64), time_us=np.array([1, 2, 3, 4]),
    ...             code=np.array([3, 3, 5, 4], np.int8), label=np.full(4, ""),
    ...             points=np.array([100, 50, 120, 20]), events=np.ones(4, np.int64),
    ...             row=np.arange(4))
    >>> earn, redeemed, expired = fifo_allocation(lg)
    >>> earn.tolist(), redeemed.tolist(), expired.tolist()
    ([0, 1], [100, 20], [0, 20])
    """
    _, at = customer_index(ledger)
    earn = np.flatnonzero(ledger.code == _EARNED)
    redeemed = np.zeros(len(earn), dtype=np.int64)
    expired = np.zeros(len(earn), dtype=np.int64)
    debit = np.flatnonzero(np.isin(ledger.code, (_EXPIRED, _REDEEMED)))
    if len(earn) == 0 or len(debit) == 0:
        return earn, redeemed, expired
    e_points = ledger.points[earn]
    e_end = np.cumsum(e_points)
    e_start = e_end - e_points
    offset = np.full(int(at.max()) + 1, -1, dtype=np.int64)
    e_customer = at[earn]
    first_earn = np.concatenate([[True], e_customer[1:] != e_customer[:-1]])
    offset[e_customer[first_earn]] = e_start[first_earn]
    d_points = ledger.points[debit]
    d_customer = at[debit]
    first_debit = np.concatenate([[True], d_customer[1:] != d_customer[:-1]])
    d_cum = np.cumsum(d_points)
    run = np.cumsum(first_debit) - 1
    d_end = offset[d_customer] + d_cum - (d_cum - d_points)[first_debit][run]
    d_start = d_end - d_points
    bounds = np.unique(np.concatenate([e_start, e_end, d_start, d_end]))
    low, length = bounds[:-1], np.diff(bounds)
    which_earn = np.searchsorted(e_end, low, side="right")
    which_debit = np.searchsorted(d_end, low, side="right")
    inside = which_debit < len(d_end)
    inside[inside] = d_start[which_debit[inside]] <= low[inside]
    kind = ledger.code[debit[which_debit[inside]]]
    owner, amount = which_earn[inside], length[inside]
    np.add.at(redeemed, owner[kind == _REDEEMED], amount[kind == _REDEEMED])
    np.add.at(expired, owner[kind == _EXPIRED], amount[kind == _EXPIRED])
    return earn, redeemed, expired


def cohort_points(ledger: Ledger, period: str, zone: str) -> dict[str, Any]:
    """Points issued, redeemed, expired and outstanding per issue cohort (calendar period).

    Returns a table: ``cohort_start`` (local start date of the issue period), ``issued``,
    ``redeemed``, ``expired``, ``outstanding`` (int64), ``redemption_rate`` (redeemed /
    issued), ``breakage_realised`` (expired / issued) and ``breakage_max`` ((expired +
    outstanding) / issued, the breakage if no outstanding point is ever redeemed).

    Examples
    --------
    >>> lg = Ledger(customer_id=np.ones(3, np.int64),
    ...             time_us=np.array(["2024-01-10", "2024-05-10", "2024-06-01"],
    ...                              dtype="datetime64[us]").view(np.int64),
    ...             code=np.array([3, 3, 5], np.int8), label=np.full(3, ""),
    ...             points=np.array([100, 50, 120]), events=np.ones(3, np.int64),
    ...             row=np.arange(3))
    >>> t = cohort_points(lg, "quarter", "UTC")
    >>> t["cohort_start"].astype(str).tolist(), t["redeemed"].tolist(), t["outstanding"].tolist()
    (['2024-01-01', '2024-04-01'], [100, 20], [0, 30])
    """
    earn, redeemed, expired = fifo_allocation(ledger)
    times = ledger.time_us[earn].astype("datetime64[us]")
    cohorts = period_index(times, period, zone=zone)
    labels, inverse = np.unique(cohorts, return_inverse=True)
    k = len(labels)

    def per_cohort(values: NDArray[np.int64]) -> NDArray[np.int64]:
        out = np.zeros(k, dtype=np.int64)
        np.add.at(out, inverse, values)
        return out

    issued = per_cohort(ledger.points[earn])
    used = per_cohort(redeemed)
    lapsed = per_cohort(expired)
    outstanding = issued - used - lapsed
    safe = np.where(issued > 0, issued, 1)
    return {
        "cohort_start": period_dates(labels.astype(np.int64), period),
        "issued": issued,
        "redeemed": used,
        "expired": lapsed,
        "outstanding": outstanding,
        "redemption_rate": used / safe,
        "breakage_realised": lapsed / safe,
        "breakage_max": (lapsed + outstanding) / safe,
    }


def _zone_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_zone("zone", value)


def _points_totals(ledger: Ledger) -> dict[str, int]:
    def total(code: int) -> int:
        return int(ledger.points[ledger.code == code].sum())

    earned, redeemed, expired = total(_EARNED), total(_REDEEMED), total(_EXPIRED)
    return {
        "earned": earned,
        "redeemed": redeemed,
        "expired": expired,
        "outstanding": earned - redeemed - expired,
    }


def _require_points(name: str, ledger: Ledger) -> None:
    if not (ledger.code == _EARNED).any():
        msg = f"{name} needs at least one points_earned event"
        raise InsufficientDataError(msg)


@attrs.frozen
class ProgrammeEnrollment(ProgrammeMetricBase):
    r"""Enrolment rate: the share of eligible customers who are programme members at ``as_of``.

    .. math::

        \text{enrolment rate} = \frac{|\text{members} \cap \text{eligible}|}{|\text{eligible}|}

    *Eligible* customers have an event of ``eligible_kinds`` (default: any event) before
    ``as_of`` (within ``eligible_days`` of it, if given) and have not churned. A member's
    latest ``enrolled`` event is later than any ``unenrolled`` event, with no ``churned``
    event. The interval is Wilson's.

    Parameters
    ----------
    eligible_kinds : tuple of str or None
        Event kinds that make a customer eligible (``None``: any event).
    eligible_days : float or None
        Only customers with such an event in the last ``eligible_days`` days count
        (``None``: any time).
    alpha : float
        1 - confidence level of the Wilson interval.

    Notes
    -----
    ``details`` gives ``eligible``, ``members`` (members among them), ``members_total``
    (all members, eligible or not), ``ever_enrolled``, ``unenrolled`` (enrolled once, not a
    member now) and ``churned_excluded`` (churned customers left out of the base).

    References
    ----------
    Loyalty KPI guides (Smile.io, RewardOps): enrolment rate = members / eligible customers.
    Wilson, E. B. (1927). *JASA* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 2, 3, 1]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-02", "2024-01-03",
    ...                                    "2024-01-04"], dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "purchase", "purchase", "enrolled"]))
    >>> m = ProgrammeEnrollment()
    >>> r = m.finalize(m.update(m.init(), f))
    >>> r.value, r.n  # one member among three customers
    (0.333..., 3)
    """

    name: ClassVar[str] = "programme_enrollment"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _KPI
    codes: ClassVar[frozenset[int]] = MEMBERSHIP_CODES

    eligible_kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    eligible_days: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive_days)
    )
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def eligible_rows(self, frame: EventFrame) -> NDArray[np.bool_] | None:
        """Rows of the eligible kinds."""
        return qualifying(frame, self.eligible_kinds)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The enrolment rate at ``as_of`` with a Wilson interval."""
        ledger = self.validated(state)
        if not (ledger.code == _ENROLLED).any():
            msg = "programme_enrollment needs at least one enrolled event"
            raise InsufficientDataError(msg)
        as_of_us = state_as_of(state.last_us, as_of)
        seen = state.customer_id
        if self.eligible_days is not None:
            seen = seen[state.last_seen_us >= as_of_us - self.eligible_days * US_PER_DAY]
        who = membership_at(ledger, as_of_us)
        churned = who.customer_id[who.churned]
        base = seen[~np.isin(seen, churned)]
        members = who.customer_id[who.member]
        inside = int(np.isin(base, members).sum())
        n = len(base)
        if n == 0:
            msg = "programme_enrollment has no eligible customer before as_of"
            raise InsufficientDataError(msg)
        return programme_result(
            self,
            value=inside / n,
            n=n,
            as_of_us=as_of_us,
            method="Wilson score interval",
            unit="share",
            interval=_wilson(inside, n, self.alpha),
            level=1 - self.alpha,
            details={
                "eligible": float(n),
                "members": float(inside),
                "members_total": float(len(members)),
                "ever_enrolled": float(who.enrolled.sum()),
                "unenrolled": float((who.enrolled & ~who.member & ~who.churned).sum()),
                "churned_excluded": float(np.isin(seen, churned).sum()),
            },
        )


@attrs.frozen
class ActiveMembers(ProgrammeMetricBase):
    r"""Active member rate: members who earned or redeemed points in a window, over members.

    .. math::

        \text{active member rate} = \frac{|\{m \in M : m \text{ earned or redeemed in }
        [\text{as\_of} - w, \text{as\_of})\}|}{|M|}

    with :math:`M` the members at ``as_of`` and :math:`w` = ``active_days`` (default 90, the
    window KPI guides often use). Expiries are not activity. Wilson interval.

    Parameters
    ----------
    active_days : float
        The window :math:`w` in days.
    alpha : float
        1 - confidence level of the Wilson interval.

    References
    ----------
    Loyalty KPI guides (mdsmedia, Smile.io, RewardOps): members earning or redeeming in a
    window (often 90 days) / members. Wilson, E. B. (1927). *JASA* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 2, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-01-05",
    ...                                    "2024-06-01"], dtype="datetime64[us]"),
    ...                kind=np.array(["enrolled", "enrolled", "points_earned", "points_earned"]),
    ...                quantity=np.array([0, 0, 10, 10]))
    >>> m = ActiveMembers(active_days=90)
    >>> m.finalize(m.update(m.init(), f)).value  # only member 2 earned in the last 90 days
    0.5
    """

    name: ClassVar[str] = "programme_active_members"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _KPI
    codes: ClassVar[frozenset[int]] = POINTS_CODES

    active_days: float = attrs.field(default=90.0, validator=positive_days)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The active member rate at ``as_of`` with a Wilson interval."""
        ledger = self.validated(state)
        as_of_us = state_as_of(state.last_us, as_of)
        who = membership_at(ledger, as_of_us)
        n = int(who.member.sum())
        if n == 0:
            msg = "programme_active_members needs at least one member before as_of"
            raise InsufficientDataError(msg)
        _, at = customer_index(ledger)
        last = np.full(len(who.customer_id), NO_TIME, dtype=np.int64)
        hit = np.isin(ledger.code, (_EARNED, _REDEEMED))
        np.maximum.at(last, at[hit], ledger.time_us[hit])
        active = who.member & (last >= as_of_us - self.active_days * US_PER_DAY)
        k = int(active.sum())
        return programme_result(
            self,
            value=k / n,
            n=n,
            as_of_us=as_of_us,
            method="Wilson score interval",
            unit="share",
            interval=_wilson(k, n, self.alpha),
            level=1 - self.alpha,
            details={"members": float(n), "active_members": float(k)},
        )


@attrs.frozen
class _CohortPoints(ProgrammeMetricBase):
    """Shared fields of the metrics with a per-issue-cohort table."""

    codes: ClassVar[frozenset[int]] = POINTS_CODES

    period: Period = attrs.field(default="quarter", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=_zone_field)


@attrs.frozen
class PointsRedemption(_CohortPoints):
    r"""Redemption rate: points redeemed over points earned, or members who redeemed over members.

    ``basis="points"`` (default):

    .. math::

        r = \frac{\sum_i R_i}{\sum_i E_i},

    with :math:`E_i` and :math:`R_i` customer :math:`i`'s points earned and redeemed before
    ``as_of``; in [0, 1] because no balance goes below zero. Its standard error is the
    linearised variance of a ratio of sums, clustered by customer (points of one customer
    are not independent):

    .. math::

        \widehat{\operatorname{Var}}(r) = \frac{n}{n - 1}
        \frac{\sum_i (R_i - r E_i)^2}{\left(\sum_i E_i\right)^2},

    over the :math:`n` customers who earned points; the normal interval is clipped to
    [0, 1]. ``basis="members"``: members at ``as_of`` who have ever redeemed, over members,
    with a Wilson interval. The two answer different questions and differ a lot: state which.

    ``tables`` holds the redemption rate per issue cohort (``period``), with redemptions
    allocated to the oldest points first (:func:`fifo_allocation`).

    Parameters
    ----------
    basis : {"points", "members"}
        What is counted.
    period : {"day", "week", "month", "quarter"}
        The calendar period of the issue cohorts (default quarter).
    zone : str
        IANA time zone of that calendar.
    alpha : float
        1 - confidence level.

    References
    ----------
    Smile.io and RewardOps loyalty KPI guides (both definitions). Cochran, W. G. (1977).
    *Sampling Techniques*, 3rd ed. Wiley, chapter 6 (variance of a ratio estimator).
    Wilson, E. B. (1927). *JASA* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 2, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-02-01", "2024-01-01",
    ...                                    "2024-03-01"], dtype="datetime64[us]"),
    ...                kind=np.array(["points_earned", "points_redeemed", "points_earned",
    ...                               "points_expired"]),
    ...                quantity=np.array([100, 60, 300, 100]))
    >>> m = PointsRedemption()
    >>> r = m.finalize(m.update(m.init(), f))
    >>> r.value  # 60 of the 400 points earned were redeemed
    0.15
    """

    name: ClassVar[str] = "points_redemption"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = _REDEMPTION

    basis: str = attrs.field(
        default="points", validator=attrs.validators.in_(("points", "members"))
    )
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The redemption rate with its interval; the per-cohort rates in ``tables``."""
        ledger = self.validated(state)
        _require_points(self.name, ledger)
        as_of_us = state_as_of(state.last_us, as_of)
        cohorts = cohort_points(ledger, self.period, self.zone)
        tables = {
            key: cohorts[key] for key in ("cohort_start", "issued", "redeemed", "redemption_rate")
        }
        totals = _points_totals(ledger)
        ids, at = customer_index(ledger)
        earned = np.zeros(len(ids), dtype=np.int64)
        redeemed = np.zeros(len(ids), dtype=np.int64)
        np.add.at(earned, at[ledger.code == _EARNED], ledger.points[ledger.code == _EARNED])
        np.add.at(redeemed, at[ledger.code == _REDEEMED], ledger.points[ledger.code == _REDEEMED])
        details = {key: float(value) for key, value in totals.items()}
        if self.basis == "members":
            who = membership_at(ledger, as_of_us)
            n = int(who.member.sum())
            if n == 0:
                msg = "points_redemption (basis='members') needs at least one member"
                raise InsufficientDataError(msg)
            k = int((who.member & (redeemed > 0)).sum())
            details.update(members=float(n), redeemers=float(k))
            return programme_result(
                self,
                value=k / n,
                n=n,
                as_of_us=as_of_us,
                method="members who redeemed / members; Wilson score interval",
                unit="share",
                interval=_wilson(k, n, self.alpha),
                level=1 - self.alpha,
                details=details,
                tables=tables,
            )
        holders = earned > 0
        e, r_i = earned[holders].astype(np.float64), redeemed[holders].astype(np.float64)
        n = int(holders.sum())
        ratio = float(r_i.sum() / e.sum())
        se: float | None = None
        interval: tuple[float, float] | None = None
        if n >= 2:
            se = math.sqrt(n / (n - 1) * float(((r_i - ratio * e) ** 2).sum())) / float(e.sum())
            z = z_value(self.alpha)
            interval = (max(0.0, ratio - z * se), min(1.0, ratio + z * se))
        return programme_result(
            self,
            value=ratio,
            n=n,
            as_of_us=as_of_us,
            method=(
                "points redeemed / points earned; linearised ratio variance clustered by "
                "customer, normal interval clipped to [0, 1]"
                if n >= 2
                else "points redeemed / points earned; no interval from one customer"
            ),
            unit="share",
            se=se,
            interval=interval,
            level=1 - self.alpha,
            details=details,
            tables=tables,
        )


@attrs.frozen
class PointsBreakage(_CohortPoints):
    r"""Realised breakage: points expired over points issued, overall and per issue cohort.

    .. math::

        b_{\text{realised}} = \frac{\text{expired}}{\text{issued}}, \qquad
        b_{\max} = \frac{\text{expired} + \text{outstanding}}{\text{issued}},

    per issue cohort (``period``) and overall, with expiries and redemptions allocated to the
    oldest points first (:func:`fifo_allocation`). Breakage, the points never redeemed, is
    known only once a cohort has no outstanding points; until then it lies between
    :math:`b_{\text{realised}}` and :math:`b_{\max}`. ``value`` is the overall realised
    breakage, a lower bound while points are outstanding (flagged). It is the realised
    figure reported beside the user's *expected* breakage in :class:`PointsLiability`.

    Parameters
    ----------
    period : {"day", "week", "month", "quarter"}
        The calendar period of the issue cohorts (default quarter).
    zone : str
        IANA time zone of that calendar.

    Notes
    -----
    ``tables``: ``cohort_start``, ``issued``, ``redeemed``, ``expired``, ``outstanding``,
    ``redemption_rate``, ``breakage_realised`` and ``breakage_max`` per cohort. There is no
    interval: the figures count the programme's own points.

    References
    ----------
    Smile.io and CX Loyalty guides: breakage = points never redeemed / points issued,
    expired points included.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 1]),
    ...                timestamp=np.array(["2024-01-01", "2024-02-01", "2025-01-01"],
    ...                                   dtype="datetime64[us]"),
    ...                kind=np.array(["points_earned", "points_redeemed", "points_expired"]),
    ...                quantity=np.array([100, 70, 30]))
    >>> m = PointsBreakage()
    >>> m.finalize(m.update(m.init(), f)).value
    0.3
    """

    name: ClassVar[str] = "points_breakage"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = _BREAKAGE

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """Overall realised breakage; the per-cohort table in ``tables``."""
        ledger = self.validated(state)
        _require_points(self.name, ledger)
        as_of_us = state_as_of(state.last_us, as_of)
        totals = _points_totals(ledger)
        issued = totals["earned"]
        flags: tuple[str, ...] = ()
        if totals["outstanding"] > 0:
            lower = (
                f"{totals['outstanding']:,} points still outstanding: realised breakage is a "
                "lower bound (see breakage_max)"
            )
            flags = (lower,)
        details = {key: float(value) for key, value in totals.items()}
        details["breakage_max"] = (totals["expired"] + totals["outstanding"]) / issued
        return programme_result(
            self,
            value=totals["expired"] / issued,
            n=issued,
            as_of_us=as_of_us,
            method="realised breakage (expired / issued); no interval (a count of all points)",
            unit="share",
            flags=flags,
            details=details,
            tables=cohort_points(ledger, self.period, self.zone),
        )


def _optional_rate(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        msg = f"{attribute.name} must be a share in [0, 1] or None, got {value!r}"
        raise ValueError(msg)


def _optional_money(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        msg = f"{attribute.name} must be a finite amount > 0 or None, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class PointsLiability(_CohortPoints):
    r"""Outstanding points liability valued as IFRS 15 values a material right.

    .. math::

        L = P_{\text{outstanding}} \times v \times (1 - b_{\text{expected}}),

    with :math:`P_{\text{outstanding}}` = points earned - redeemed - expired before
    ``as_of`` (never negative), :math:`v` the value per point and :math:`b_{\text{expected}}`
    the share of outstanding points expected never to be redeemed. IFRS 15 prices points
    that are a material right as a separate performance obligation using the likelihood of
    exercise (B39-B43) and recognises breakage in proportion to redemptions only when a
    significant reversal is not highly probable (B44-B47): both :math:`v` and
    :math:`b_{\text{expected}}` are accounting judgements, given by the user and never
    defaulted. Without them ``value`` is NaN, flagged, and the outstanding points are still
    reported.

    The realised breakage of past issue cohorts (:class:`PointsBreakage`) is reported beside
    the expected one in ``details`` and per cohort in ``tables`` (``outstanding``,
    ``liability``, ``breakage_realised``, ``breakage_max``), so the assumption can be
    compared with what happened.

    Parameters
    ----------
    value_per_point : float or None
        Value of one point (stand-alone selling price of the right), in ``currency``.
    expected_breakage : float or None
        Expected share of outstanding points never redeemed, in [0, 1].
    currency : str
        Label of the money unit (for reading the result only).
    period : {"day", "week", "month", "quarter"}
        The calendar period of the issue cohorts (default quarter).
    zone : str
        IANA time zone of that calendar.

    Notes
    -----
    Points leave a balance only through ``points_redeemed`` and ``points_expired``: when a
    member leaves or churns and forfeits points, record them as ``points_expired``.
    Outstanding points held by customers who are not members at ``as_of`` are counted in
    ``details["outstanding_non_members"]`` and flagged. There is no interval: the liability
    is an accounting measurement, not a sample estimate.

    References
    ----------
    IFRS Foundation (2014). IFRS 15 *Revenue from Contracts with Customers*, application
    guidance B39-B43 (customer options for additional goods or services) and B44-B47
    (customers' unexercised rights).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 1]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[us]"),
    ...                kind=np.array(["enrolled", "points_earned"]), quantity=np.array([0, 1000]))
    >>> m = PointsLiability()
    >>> r = m.finalize(m.update(m.init(), f))
    >>> r.value, r.details["outstanding_points"]
    (nan, 1000.0)
    """

    name: ClassVar[str] = "points_liability"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = _LIABILITY

    value_per_point: float | None = attrs.field(default=None, validator=_optional_money)
    expected_breakage: float | None = attrs.field(default=None, validator=_optional_rate)
    currency: str = attrs.field(default="", validator=attrs.validators.instance_of(str))

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The liability (NaN without the two user inputs); per-cohort figures in ``tables``."""
        ledger = self.validated(state)
        _require_points(self.name, ledger)
        as_of_us = state_as_of(state.last_us, as_of)
        totals = _points_totals(ledger)
        cohorts = cohort_points(ledger, self.period, self.zone)
        given = self.value_per_point is not None and self.expected_breakage is not None
        factor = (
            self.value_per_point * (1.0 - self.expected_breakage)  # type: ignore[operator]
            if given
            else math.nan
        )
        ids, at = customer_index(ledger)
        balance = np.zeros(len(ids), dtype=np.int64)
        sign = np.where(
            ledger.code == _EARNED, 1, np.where(np.isin(ledger.code, (_EXPIRED, _REDEEMED)), -1, 0)
        )
        np.add.at(balance, at, sign * ledger.points)
        who = membership_at(ledger, as_of_us)
        elsewhere = int(balance[~who.member].sum())
        flags: list[str] = []
        if not given:
            flags.append(
                "value_per_point and expected_breakage not given: liability not computed "
                "(IFRS 15 B39-B47 leaves both to the entity's judgement)"
            )
        if elsewhere > 0:
            flags.append(f"{elsewhere:,} outstanding points held by customers who are not members")
        issued = totals["earned"]
        unit = self.currency or "money"
        return programme_result(
            self,
            value=totals["outstanding"] * factor,
            n=totals["outstanding"],
            as_of_us=as_of_us,
            method="outstanding points x value per point x (1 - expected breakage); no interval",
            unit=unit,
            flags=tuple(flags),
            details={
                "outstanding_points": float(totals["outstanding"]),
                "outstanding_non_members": float(elsewhere),
                "issued": float(issued),
                "redeemed": float(totals["redeemed"]),
                "expired": float(totals["expired"]),
                "value_per_point": math.nan
                if self.value_per_point is None
                else self.value_per_point,
                "expected_breakage": (
                    math.nan if self.expected_breakage is None else self.expected_breakage
                ),
                "breakage_realised": totals["expired"] / issued,
                "breakage_max": (totals["expired"] + totals["outstanding"]) / issued,
            },
            tables={
                "cohort_start": cohorts["cohort_start"],
                "issued": cohorts["issued"],
                "outstanding": cohorts["outstanding"],
                "liability": cohorts["outstanding"] * factor,
                "breakage_realised": cohorts["breakage_realised"],
                "breakage_max": cohorts["breakage_max"],
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the five points metrics."""
    register(ProgrammeEnrollment)
    register(ActiveMembers)
    register(PointsRedemption)
    register(PointsBreakage)
    register(PointsLiability)
