r"""Complaints: rate per 1,000 customers, resolution times, first-contact resolution.

Complaint events carry the complaint (case) id in ``order_id``: ``complaint_opened``,
``complaint_contact`` (a further contact about the same complaint) and
``complaint_resolved`` (see :mod:`stickykit.metrics.programme`). A complaint opens at
its first ``complaint_opened`` event and is resolved at its first ``complaint_resolved``
event; one without a resolution before ``as_of`` is *open*.

- ``"complaint_rate"`` (:class:`ComplaintRate`): complaints opened per 1,000 customers,
  with an exact Poisson interval;
- ``"complaint_resolution_time"`` (:class:`ComplaintResolutionTime`): the Kaplan-Meier
  curve of the time to resolution, open complaints censored at ``as_of``, and its median;
- ``"complaints_resolved_within"`` (:class:`ComplaintsResolvedWithin`): the share resolved
  within given times, among complaints old enough to tell;
- ``"first_contact_resolution"`` (:class:`FirstContactResolution`): the share of resolved
  complaints with no further contact.

Bad input, refused with the row, field and value (or set aside by ``check``): a resolution
or contact earlier than the complaint's opening, a complaint id with no opening, and one
complaint id used by two customers.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 1]),
...                timestamp=np.array(["2024-01-05", "2024-01-02"], dtype="datetime64[us]"),
...                kind=np.array(["complaint_opened", "complaint_resolved"]),
...                order_id=np.array(["C1", "C1"]))
>>> m = ComplaintResolutionTime()
>>> m.finalize(m.update(m.init(), f))
Traceback (most recent call last):
...
stickykit.errors.ValidationError: EventFrame.timestamp @ row 1: '2024-01-02T00:00:00+00:00' is invalid, expected a time no earlier than the opening of complaint 'C1' (2024-01-05T00:00:00+00:00)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.behaviour.retention import wilson_bounds
from stickykit.metrics.behaviour.summary import optional_kinds, qualifying
from stickykit.metrics.programme.ledger import (
    COMPLAINT_CODES,
    CONTACT,
    KIND_CODES,
    OPENED,
    RESOLVED,
    US_PER_DAY,
    Ledger,
    alpha_field,
    positive_days,
    state_as_of,
)
from stickykit.metrics.programme.state import (
    Problem,
    ProgrammeMetricBase,
    ProgrammeState,
    programme_result,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha, wilson_interval
from stickykit.stats.survival import kaplan_meier

__all__ = [
    "ComplaintBase",
    "ComplaintRate",
    "ComplaintResolutionTime",
    "Complaints",
    "ComplaintsResolvedWithin",
    "FirstContactResolution",
    "complaint_problems",
    "complaints_of",
    "garwood_interval",
    "repeat_contacts",
]

_OPENED, _CONTACT, _RESOLVED = KIND_CODES[OPENED], KIND_CODES[CONTACT], KIND_CODES[RESOLVED]
_MAX_TIME = int(np.iinfo(np.int64).max)
_RATE_REFERENCE = (
    "complaints per 1,000 customers, as the UK Financial Conduct Authority's complaints data "
    "report them per 1,000 accounts; exact Poisson interval of Garwood (1936), Biometrika "
    "28(3/4), 437-442"
)
_TIME_REFERENCE = (
    "Kaplan & Meier (1958), JASA 53(282), 457-481, open complaints censored; Greenwood "
    "(1926) variance, log(-log) interval; median interval after Brookmeyer & Crowley (1982), "
    "Biometrics 38(1), 29-41"
)
_WITHIN_REFERENCE = (
    "share of complaints resolved within given times (the FCA reports within 3 business days "
    "and within 8 weeks), among complaints opened at least that long before as_of; Wilson "
    "(1927), JASA 22(158), 209-212"
)
_FCR_REFERENCE = (
    "first contact resolution measured by the repeat-contact window (SQM Group; Call Centre "
    "Helper): resolved with no further contact up to the window after resolution; Wilson "
    "(1927), JASA 22(158), 209-212"
)


def _iso(us: int) -> str:
    return us_to_datetime(int(us)).isoformat()


def _by_complaint(ledger: Ledger) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.str_]]:
    """Ledger order by (complaint id, time, code), each entry's complaint, the sorted ids."""
    order = np.lexsort((ledger.code, ledger.time_us, ledger.label))
    labels = ledger.label[order]
    if len(order) == 0:
        return order, np.zeros(0, dtype=np.intp), labels
    new = np.concatenate([[True], labels[1:] != labels[:-1]])
    complaint = np.empty(len(order), dtype=np.intp)
    complaint[order] = np.cumsum(new) - 1
    return order, complaint, labels[new]


def _first_opening(ledger: Ledger, complaint: NDArray[np.intp], k: int) -> NDArray[np.int64]:
    """Position of each complaint's earliest opening entry (len(ledger) if none)."""
    first = np.full(k, len(ledger), dtype=np.int64)
    opening = np.flatnonzero(ledger.code == _OPENED)
    if len(opening) == 0:
        return first
    # entries of one complaint sorted by time: the smallest time, ties by ledger position
    key = np.lexsort((opening, ledger.time_us[opening], complaint[opening]))
    chosen = opening[key]
    head = np.concatenate([[True], complaint[chosen][1:] != complaint[chosen][:-1]])
    first[complaint[chosen][head]] = chosen[head]
    return first


def complaint_problems(ledger: Ledger) -> list[Problem]:
    """The complaint sequence rules a merged ledger breaks (see the module docstring).

    Examples
    --------
    >>> complaint_problems(Ledger())
    []
    """
    if len(ledger) == 0:
        return []
    _, complaint, ids = _by_complaint(ledger)
    first = _first_opening(ledger, complaint, len(ids))
    opened = first < len(ledger)
    safe = np.where(opened, first, 0)
    opened_us = np.where(opened, ledger.time_us[safe], _MAX_TIME)
    owner = ledger.customer_id[safe]
    problems: list[Problem] = []
    orphan = np.flatnonzero(~opened[complaint])
    if len(orphan):
        problems.append(
            Problem(
                field="order_id",
                entries=orphan,
                expected="the id of a complaint opened by a complaint_opened event",
                value=lambda e: str(ledger.label[e]),
                explain=lambda e: (
                    "the id of a complaint opened by a complaint_opened event (no opening of "
                    f"complaint {str(ledger.label[e])!r} in the data)"
                ),
            )
        )
    early = np.flatnonzero(
        opened[complaint] & (ledger.code != _OPENED) & (ledger.time_us < opened_us[complaint])
    )
    if len(early):
        problems.append(
            Problem(
                field="timestamp",
                entries=early,
                expected="a time no earlier than the complaint's opening",
                value=lambda e: _iso(ledger.time_us[e]),
                explain=lambda e: (
                    f"a time no earlier than the opening of complaint {str(ledger.label[e])!r} "
                    f"({_iso(opened_us[complaint[e]])})"
                ),
            )
        )
    stranger = np.flatnonzero(opened[complaint] & (ledger.customer_id != owner[complaint]))
    if len(stranger):
        problems.append(
            Problem(
                field="customer_id",
                entries=stranger,
                expected="the customer who opened the complaint",
                value=lambda e: ledger.customer_id[e].item(),
                explain=lambda e: (
                    f"the customer who opened complaint {str(ledger.label[e])!r} "
                    f"({owner[complaint[e]].item()!r})"
                ),
            )
        )
    return problems


@attrs.frozen(eq=False)
class Complaints:
    """One row per complaint of a validated ledger.

    Parameters
    ----------
    complaint_id : numpy.ndarray
        Sorted complaint ids (text).
    customer_id : numpy.ndarray
        The customer who opened it.
    opened_us : numpy.ndarray
        Time of its first opening (microseconds, int64).
    resolved_us : numpy.ndarray
        Time of its first resolution, int64 maximum while open.

    Examples
    --------
    >>> c = Complaints(complaint_id=np.array(["A"]), customer_id=np.array([3]),
    ...                opened_us=np.array([0]), resolved_us=np.array([_MAX_TIME]))
    >>> len(c), c.resolved.tolist()
    (1, [False])
    """

    complaint_id: NDArray[np.str_]
    customer_id: NDArray[Any]
    opened_us: NDArray[np.int64]
    resolved_us: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.complaint_id)

    @property
    def resolved(self) -> NDArray[np.bool_]:
        """Resolved (before ``as_of``)."""
        return self.resolved_us < _MAX_TIME


def complaints_of(ledger: Ledger) -> tuple[Complaints, NDArray[np.intp]]:
    """The complaints of a validated ledger, and each ledger entry's complaint.

    Examples
    --------
    >>> lg = Ledger(customer_id=np.array([1, 1, 2]), time_us=np.array([1, 4, 2]),
    ...             code=np.array([7, 9, 7], np.int8), label=np.array(["A", "A", "B"]),
    ...             points=np.zeros(3, np.int64), events=np.ones(3, np.int64), row=np.arange(3))
    >>> c, _ = complaints_of(lg)
    >>> c.complaint_id.tolist(), c.resolved.tolist(), (c.resolved_us - c.opened_us)[:1].tolist()
    (['A', 'B'], [True, False], [3])
    """
    _, complaint, ids = _by_complaint(ledger)
    first = _first_opening(ledger, complaint, len(ids))
    resolved = np.full(len(ids), _MAX_TIME, dtype=np.int64)
    hit = ledger.code == _RESOLVED
    np.minimum.at(resolved, complaint[hit], ledger.time_us[hit])
    table = Complaints(
        complaint_id=ids,
        customer_id=ledger.customer_id[first],
        opened_us=ledger.time_us[first],
        resolved_us=resolved,
    )
    return table, complaint


def repeat_contacts(
    ledger: Ledger, complaints: Complaints, complaint: NDArray[np.intp], window_us: int
) -> NDArray[np.int64]:
    """Further contacts per complaint after its opening, up to ``window_us`` after resolution.

    A further contact is a ``complaint_contact`` event, or another ``complaint_opened`` event
    of the same id (a reopening), strictly after the first opening and no later than the
    resolution plus the window (the end of time for an open complaint).

    Examples
    --------
    >>> lg = Ledger(customer_id=np.ones(3, np.int64), time_us=np.array([1, 4, 9]),
    ...             code=np.array([7, 9, 8], np.int8), label=np.array(["A", "A", "A"]),
    ...             points=np.zeros(3, np.int64), events=np.ones(3, np.int64), row=np.arange(3))
    >>> c, at = complaints_of(lg)
    >>> repeat_contacts(lg, c, at, 3).tolist(), repeat_contacts(lg, c, at, 5).tolist()
    ([0], [1])
    """
    again = np.isin(ledger.code, (_OPENED, _CONTACT))
    limit = np.where(
        complaints.resolved,
        complaints.resolved_us + np.minimum(window_us, _MAX_TIME - complaints.resolved_us),
        _MAX_TIME,
    )
    inside = (
        again
        & (ledger.time_us > complaints.opened_us[complaint])
        & (ledger.time_us <= limit[complaint])
    )
    counts: NDArray[np.int64] = np.bincount(
        complaint[inside], weights=ledger.events[inside], minlength=len(complaints)
    ).astype(np.int64)
    return counts


def garwood_interval(count: int, alpha: float) -> tuple[float, float]:
    r"""Exact (Garwood) interval of a Poisson mean from one count :math:`k`.

    .. math::

        \left[\tfrac12 \chi^2_{2k,\,\alpha/2},\; \tfrac12 \chi^2_{2k+2,\,1-\alpha/2}\right],

    with the lower limit 0 when :math:`k = 0`.

    References
    ----------
    Garwood, F. (1936). Fiducial limits for the Poisson distribution. *Biometrika*
    28(3/4), 437-442.

    Examples
    --------
    >>> [round(x, 4) for x in garwood_interval(0, 0.05)]
    [0.0, 3.6889]
    >>> [round(x, 4) for x in garwood_interval(10, 0.05)]
    [4.7954, 18.3904]
    """
    from scipy import stats  # noqa: PLC0415  (imported lazily: the registry stays light)

    check_alpha(alpha)
    low = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count)) / 2
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return low, high


@attrs.frozen
class ComplaintBase(ProgrammeMetricBase):
    """Base of the complaint metrics: the complaint ledger and its sequence rules.

    Examples
    --------
    >>> ComplaintRate().family
    'programme'
    """

    codes: ClassVar[frozenset[int]] = COMPLAINT_CODES

    def problems(self, ledger: Ledger) -> list[Problem]:
        """The complaint rules the ledger breaks (:func:`complaint_problems`)."""
        return complaint_problems(ledger)

    def complaints(self, state: ProgrammeState) -> tuple[Ledger, Complaints, NDArray[np.intp]]:
        """The validated ledger and its complaints (InsufficientDataError if none)."""
        ledger = self.validated(state)
        if len(ledger) == 0:
            msg = f"{self.name} needs at least one complaint_opened event"
            raise InsufficientDataError(msg)
        table, complaint = complaints_of(ledger)
        return ledger, table, complaint


def _nonnegative_number(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        msg = f"{attribute.name} must be a finite number >= 0 or None, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class ComplaintRate(ComplaintBase):
    r"""Complaints opened per 1,000 customers, with an exact Poisson interval.

    .. math::

        \text{rate} = 1000 \times \frac{K}{N},

    with :math:`K` the complaints opened in the window (default: all before ``as_of``) and
    :math:`N` the customers with an event of ``base_kinds`` in it (default: any event).
    Passing account ids as ``customer_id`` gives complaints per 1,000 accounts. The
    interval is Garwood's exact Poisson interval for :math:`K`, scaled by
    :math:`1000 / N` (:func:`garwood_interval`).

    Parameters
    ----------
    base_kinds : tuple of str or None
        Kinds whose customers form the base (``None``: any event, complaints included).
    window_days : float or None
        Count complaints and customers in the last ``window_days`` days before ``as_of``
        (``None``: all data).
    silent_per_complaint : float or None
        An assumed number of dissatisfied customers who did not complain, per complaint.
        When given, ``details["dissatisfied_estimate"]`` is :math:`K (1 + m)`, flagged as an
        assumption. There is no default: the often-quoted "1 in 26 complains" has no primary
        study behind it, and the 1979 TARP survey found 69 % of households complaining about
        their most serious problem; measure it for your own customers.
    alpha : float
        1 - confidence level.

    References
    ----------
    Financial Conduct Authority, complaints data (complaints per 1,000 accounts). Garwood,
    F. (1936). *Biometrika* 28(3/4), 437-442. Grainer, M. A., McEvoy, K. A. and King,
    D. W. (1979). *Advances in Consumer Research* 6, 494-500 (the TARP survey).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 2, 3, 4]),
    ...                timestamp=np.array(["2024-01-01"] * 4, dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "purchase", "purchase", "complaint_opened"]),
    ...                order_id=np.array(["", "", "", "C9"]))
    >>> m = ComplaintRate()
    >>> m.finalize(m.update(m.init(), f)).value  # 1 complaint among 4 customers
    250.0
    """

    name: ClassVar[str] = "complaint_rate"
    higher_is_better: ClassVar[bool | None] = False
    reference: ClassVar[str] = _RATE_REFERENCE

    base_kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    window_days: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive_days)
    )
    silent_per_complaint: float | None = attrs.field(default=None, validator=_nonnegative_number)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def eligible_rows(self, frame: EventFrame) -> NDArray[np.bool_] | None:
        """Rows of the base kinds."""
        return qualifying(frame, self.base_kinds)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """Complaints per 1,000 customers with Garwood's interval."""
        ledger = self.validated(state)
        if len(state.customer_id) == 0:
            msg = "complaint_rate needs at least one customer"
            raise InsufficientDataError(msg)
        as_of_us = state_as_of(state.last_us, as_of)
        start = (
            -_MAX_TIME
            if self.window_days is None
            else as_of_us - int(self.window_days * US_PER_DAY)
        )
        table, _ = complaints_of(ledger)
        counted = table.opened_us >= start
        k = int(counted.sum())
        n = int((state.last_seen_us >= start).sum())
        if n == 0:
            msg = "complaint_rate has no customer in the window"
            raise InsufficientDataError(msg)
        low, high = garwood_interval(k, self.alpha)
        details = {
            "complaints": float(k),
            "customers": float(n),
            "complainants": float(len(np.unique(table.customer_id[counted]))),
        }
        flags: tuple[str, ...] = ()
        if self.silent_per_complaint is not None:
            details["dissatisfied_estimate"] = k * (1.0 + self.silent_per_complaint)
            assumption = (
                f"dissatisfied_estimate assumes {self.silent_per_complaint:g} silent "
                "dissatisfied customers per complaint (a user input, not a measurement)"
            )
            flags = (assumption,)
        return programme_result(
            self,
            value=1000.0 * k / n,
            n=n,
            as_of_us=as_of_us,
            method="exact Poisson (Garwood) interval",
            unit="per 1,000 customers",
            interval=(1000.0 * low / n, 1000.0 * high / n),
            level=1 - self.alpha,
            flags=flags,
            details=details,
        )


@attrs.frozen
class ComplaintResolutionTime(ComplaintBase):
    r"""Time to resolution as a survival curve, open complaints censored; its median.

    Each complaint's duration runs from its opening to its first resolution (an event), or
    to ``as_of`` if it is still open (censored), in days. The durations go to
    :func:`~stickykit.stats.survival.kaplan_meier`: ``value`` is the median time to
    resolution with the Brookmeyer-Crowley type interval from the log(-log) Greenwood band
    (``inf`` when fewer than half are resolved at the last time); ``details["p90"]`` is the
    90th percentile. Dropping open complaints, or counting them as resolved at ``as_of``,
    would make resolution look faster than it is.

    Parameters
    ----------
    alpha : float
        1 - confidence level.

    Notes
    -----
    ``tables`` holds the curve: ``times`` (days), ``at_risk``, ``events`` (resolutions),
    ``censored``, ``survival`` (share still open), ``ci_low`` and ``ci_high``.

    References
    ----------
    Kaplan, E. L. and Meier, P. (1958). *JASA* 53(282), 457-481. Greenwood, M. (1926).
    *Reports on Public Health and Medical Subjects* 33. Brookmeyer, R. and Crowley, J.
    (1982). *Biometrics* 38(1), 29-41.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 1, 2, 2, 3]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-03", "2024-01-01",
    ...                                    "2024-01-05", "2024-01-09"], dtype="datetime64[us]"),
    ...                kind=np.array(["complaint_opened", "complaint_resolved",
    ...                               "complaint_opened", "complaint_resolved",
    ...                               "complaint_opened"]),
    ...                order_id=np.array(["A", "A", "B", "B", "C"]))
    >>> import datetime as dt
    >>> m = ComplaintResolutionTime()
    >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 1, 10, tzinfo=dt.UTC))
    >>> r.value, r.tables["times"].tolist()  # resolved after 2 and 4 days; C open 1 day
    (2.0, [1.0, 2.0, 4.0])
    """

    name: ClassVar[str] = "complaint_resolution_time"
    higher_is_better: ClassVar[bool | None] = False
    reference: ClassVar[str] = _TIME_REFERENCE

    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The median time to resolution (days) and the Kaplan-Meier curve."""
        _, table, _ = self.complaints(state)
        as_of_us = state_as_of(state.last_us, as_of)
        done = table.resolved
        end = np.where(done, table.resolved_us, as_of_us)
        days = (end - table.opened_us) / US_PER_DAY
        km = kaplan_meier(days, done, alpha=self.alpha)
        low, high = km.median_interval
        flags: tuple[str, ...] = ()
        if math.isinf(km.median):
            flags = ("fewer than half the complaints resolved: the median is not reached",)
        return programme_result(
            self,
            value=km.median,
            n=len(table),
            as_of_us=as_of_us,
            method=(
                "Kaplan-Meier median, open complaints censored; Brookmeyer-Crowley interval "
                "from the log(-log) Greenwood band; no standard error"
            ),
            unit="days",
            interval=(low, high),
            level=km.level,
            flags=flags,
            details={
                "complaints": float(len(table)),
                "resolved": float(done.sum()),
                "open": float((~done).sum()),
                "p90": km.quantile(0.9),
            },
            tables={
                "times": km.times,
                "at_risk": km.at_risk,
                "events": km.events,
                "censored": km.censored,
                "survival": km.survival,
                "ci_low": km.ci_low,
                "ci_high": km.ci_high,
            },
        )


def _days_tuple(value: Any) -> tuple[float, ...]:
    days = tuple(float(v) for v in value)
    if not days or not all(0 < d < math.inf for d in days):
        msg = f"days must be finite numbers of days > 0, got {value!r}"
        raise ValueError(msg)
    return days


@attrs.frozen
class ComplaintsResolvedWithin(ComplaintBase):
    r"""The share of complaints resolved within given times, with Wilson intervals.

    For each time :math:`t` in ``days``:

    .. math::

        s(t) = \frac{|\{c : \text{opened}_c \le \text{as\_of} - t,\ \text{resolved}_c -
        \text{opened}_c \le t\}|}{|\{c : \text{opened}_c \le \text{as\_of} - t\}|},

    among the complaints opened at least :math:`t` before ``as_of`` (younger ones cannot
    yet tell, and counting them would understate the share). ``value`` is :math:`s` at the
    first time listed; ``tables`` gives every time: ``days``, ``eligible``, ``resolved``,
    ``share``, ``low``, ``high``, and ``km_share``, :math:`1 - \hat S(t)` from the
    Kaplan-Meier curve of all complaints (open ones censored), which uses the young
    complaints too.

    Parameters
    ----------
    days : tuple of float
        The times, in days (default 3 and 56: the FCA's "within 3 business days" and
        "within 8 weeks", here in calendar days).
    alpha : float
        1 - confidence level.

    References
    ----------
    Financial Conduct Authority, complaints data (closed within 3 days, within 8 weeks).
    Wilson, E. B. (1927). *JASA* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np, datetime as dt
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-02", "2024-01-01"],
    ...                                   dtype="datetime64[us]"),
    ...                kind=np.array(["complaint_opened", "complaint_resolved",
    ...                               "complaint_opened"]),
    ...                order_id=np.array(["A", "A", "B"]))
    >>> m = ComplaintsResolvedWithin(days=(3,))
    >>> m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 2, 1, tzinfo=dt.UTC)).value
    0.5
    """

    name: ClassVar[str] = "complaints_resolved_within"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _WITHIN_REFERENCE

    days: tuple[float, ...] = attrs.field(default=(3.0, 56.0), converter=_days_tuple)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The share resolved within ``days[0]``; every time in ``tables``."""
        _, table, _ = self.complaints(state)
        as_of_us = state_as_of(state.last_us, as_of)
        limits = (np.array(self.days) * US_PER_DAY).astype(np.int64)
        took = table.resolved_us - table.opened_us  # huge for open complaints
        eligible = table.opened_us[None, :] <= as_of_us - limits[:, None]
        within = eligible & (took[None, :] <= limits[:, None])
        n = eligible.sum(axis=1).astype(np.int64)
        k = within.sum(axis=1).astype(np.int64)
        share = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
        low, high = wilson_bounds(k, n, self.alpha)
        done = table.resolved
        end = np.where(done, table.resolved_us, as_of_us)
        km = kaplan_meier((end - table.opened_us) / US_PER_DAY, done, alpha=self.alpha)
        flags: tuple[str, ...] = ()
        if n[0] == 0:
            flags = (f"no complaint opened at least {self.days[0]:g} days before as_of",)
        first = wilson_interval(int(k[0]), int(n[0]), self.alpha)
        return programme_result(
            self,
            value=float(share[0]),
            n=int(n[0]),
            as_of_us=as_of_us,
            method="Wilson score interval",
            unit="share",
            interval=first if n[0] > 0 else None,
            level=1 - self.alpha,
            flags=flags,
            details={"complaints": float(len(table)), "open": float((~done).sum())},
            tables={
                "days": np.array(self.days),
                "eligible": n,
                "resolved": k,
                "share": share,
                "low": low,
                "high": high,
                "km_share": 1.0 - km.survival_at(np.array(self.days)),
            },
        )


@attrs.frozen
class FirstContactResolution(ComplaintBase):
    r"""First-contact resolution: resolved complaints with no further contact, over resolved ones.

    A resolved complaint counts as resolved at first contact when no further contact about
    it (a ``complaint_contact`` event or a reopening with the same id) falls after its
    opening and up to ``repeat_days`` after its resolution: the repeat-contact method. Only
    complaints resolved at least ``repeat_days`` before ``as_of`` are counted, since a
    repeat contact could still come for the others (``details["pending"]``). Wilson
    interval.

    .. math::

        \text{FCR} = \frac{|\{c \text{ resolved},\ \text{no contact in }
        (\text{opened}_c, \text{resolved}_c + w]\}|}{|\{c : \text{resolved}_c + w \le
        \text{as\_of}\}|}

    Parameters
    ----------
    repeat_days : float
        The repeat-contact window :math:`w` in days (default 7).
    alpha : float
        1 - confidence level.

    Notes
    -----
    Repeat-contact windows, customer surveys and agent reports give different FCR figures;
    the method is stated in ``method``. A repeat contact filed as a new complaint id is not
    seen here.

    References
    ----------
    SQM Group and Call Centre Helper on measuring first contact resolution by repeat
    contacts within a window. Wilson, E. B. (1927). *JASA* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np, datetime as dt
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 1, 2, 2, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-02", "2024-01-01",
    ...                                    "2024-01-02", "2024-01-04"], dtype="datetime64[us]"),
    ...                kind=np.array(["complaint_opened", "complaint_resolved",
    ...                               "complaint_opened", "complaint_resolved",
    ...                               "complaint_contact"]),
    ...                order_id=np.array(["A", "A", "B", "B", "B"]))
    >>> m = FirstContactResolution()
    >>> m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 3, 1, tzinfo=dt.UTC)).value
    0.5
    """

    name: ClassVar[str] = "first_contact_resolution"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _FCR_REFERENCE

    repeat_days: float = attrs.field(default=7.0, validator=positive_days)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> MetricResult:
        """The FCR share with a Wilson interval."""
        ledger, table, complaint = self.complaints(state)
        as_of_us = state_as_of(state.last_us, as_of)
        window = int(self.repeat_days * US_PER_DAY)
        done = table.resolved
        closed = done & (table.resolved_us <= as_of_us - window)
        repeats = repeat_contacts(ledger, table, complaint, window)
        first = closed & (repeats == 0)
        n, k = int(closed.sum()), int(first.sum())
        flags: tuple[str, ...] = ()
        if n == 0:
            flags = (f"no complaint resolved at least {self.repeat_days:g} days before as_of",)
        return programme_result(
            self,
            value=k / n if n else math.nan,
            n=n,
            as_of_us=as_of_us,
            method=f"repeat-contact window of {self.repeat_days:g} days; Wilson score interval",
            unit="share",
            interval=wilson_interval(k, n, self.alpha) if n else None,
            level=1 - self.alpha,
            flags=flags,
            details={
                "complaints": float(len(table)),
                "resolved": float(done.sum()),
                "pending": float((done & ~closed).sum()),
                "first_contact": float(k),
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the four complaint metrics."""
    register(ComplaintRate)
    register(ComplaintResolutionTime)
    register(ComplaintsResolvedWithin)
    register(FirstContactResolution)
