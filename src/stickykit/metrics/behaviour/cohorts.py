r"""The cohort retention matrix by acquisition period.

Customers are grouped into cohorts by the calendar period of their first qualifying event
(day, ISO week, month or quarter, in an IANA time zone). Column :math:`k` of cohort :math:`c`
counts the cohort's customers active in period :math:`c + k`, counted on the calendar: a
period in which nobody was active is a column of zeros, never a reason to shift the columns
after it (the defect of numbering periods by row count). A cell whose period has not ended by
``as_of`` is *not observable*: its rate is NaN and ``tables["observable"]`` is ``False``, so it
is never confused with a true zero.

Three named definitions of a cell (``mode``):

- ``"n_period"``: active in period :math:`c + k` exactly (N-day, N-week... retention);
- ``"unbounded"``: active in :math:`c + k` or any later period ("on or after");
- ``"bracket"``: active in any period :math:`c + lo \dots c + hi` of each of the given
  ``brackets``.

Examples
--------
>>> import datetime as dt
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 2, 1, 3, 2]),
...                timestamp=np.array(["2024-01-05", "2024-01-20", "2024-03-02", "2024-02-11",
...                                    "2024-02-12"], dtype="datetime64[us]"))
>>> m = CohortRetention(period="month")
>>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
>>> r.tables["size"].tolist(), r.tables["count"].tolist()
([2, 1, 0], [[2, 1, 1], [1, 0, 0], [0, 0, 0]])
>>> r.tables["rate"].tolist()
[[1.0, 0.5, 0.5], [1.0, 0.0, nan], [nan, nan, nan]]
>>> r.tables["observable"].tolist()
[[True, True, True], [True, True, False], [True, False, False]]
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone, us_to_datetime
from stickykit.core.periods import Period, period_index
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.behaviour.retention import (
    observed_periods,
    period_dates,
    wilson_bounds,
)
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    activity_rows,
    optional_kinds,
    period_field,
    resolve_as_of,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha

__all__ = [
    "MODES",
    "CohortMode",
    "CohortRetention",
    "bitmask_cohort_counts",
    "cohort_counts",
    "column_offsets",
    "period_members",
]

CohortMode = Literal["n_period", "unbounded", "bracket"]
#: The cell definitions of a cohort matrix.
MODES: tuple[str, ...] = ("n_period", "unbounded", "bracket")
_REFERENCE = (
    "cohort retention matrix on calendar offsets: cell = active in c + k / cohort size; "
    "'on or after' as in Amplitude and Mixpanel; unobservable cells masked, not zero"
)


def _brackets(value: Any) -> tuple[tuple[int, int], ...] | None:
    if value is None:
        return None
    return tuple((int(lo), int(hi)) for lo, hi in value)


def _check_brackets(instance: CohortRetention, attribute: Any, value: Any) -> None:
    del attribute
    if instance.mode != "bracket":
        if value is not None:
            msg = f"brackets are only used with mode='bracket', got mode={instance.mode!r}"
            raise ValueError(msg)
        return
    if not value:
        msg = "mode='bracket' needs brackets, e.g. ((0, 0), (1, 1), (2, 3), (4, 7))"
        raise ValueError(msg)
    for lo, hi in value:
        if lo < 0 or hi < lo:
            msg = f"each bracket must be (lo, hi) with 0 <= lo <= hi, got {(lo, hi)}"
            raise ValueError(msg)


def _check_zone(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_zone("period", value)


def _check_alpha(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_alpha(value)


def column_offsets(
    mode: str, brackets: tuple[tuple[int, int], ...] | None, n_periods: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First and last offset of each column: ``0..n-1`` twice, or the brackets' ends.

    Examples
    --------
    >>> column_offsets("n_period", None, 3)[0].tolist()
    [0, 1, 2]
    >>> [v.tolist() for v in column_offsets("bracket", ((0, 0), (1, 3)), 9)]
    [[0, 1], [0, 3]]
    """
    if mode == "bracket":
        assert brackets is not None  # checked by the metric
        return (
            np.array([lo for lo, _ in brackets], dtype=np.int64),
            np.array([hi for _, hi in brackets], dtype=np.int64),
        )
    offsets = np.arange(n_periods, dtype=np.int64)
    return offsets, offsets.copy()


def cohort_counts(
    cohort: NDArray[np.int64],
    last_active: NDArray[np.int64],
    rows: NDArray[np.intp],
    periods: NDArray[np.int64],
    n_periods: int,
    mode: str,
    brackets: tuple[tuple[int, int], ...] | None = None,
) -> NDArray[np.int64]:
    r"""Customers of each cohort counted in each column, all periods relative to the first.

    Parameters
    ----------
    cohort, last_active : numpy.ndarray
        Per customer: the period of the first and of the last activity.
    rows, periods : numpy.ndarray
        The active (customer, period) pairs.
    n_periods : int
        Periods from the first cohort to the last observed period (rows of the matrix).
    mode : {"n_period", "unbounded", "bracket"}
        The cell definition.
    brackets : tuple of (int, int), optional
        Offsets of each column, for ``mode="bracket"``.

    Notes
    -----
    With :math:`k_{ij} = p_{ij} - c_i` the offset of customer :math:`i`'s active period
    :math:`p_{ij}`: N-period counts are a histogram of :math:`(c_i, k_{ij})`; unbounded
    counts come from the last offset :math:`d_i = \ell_i - c_i` alone, as
    :math:`\#\{i : c_i = c, d_i \ge k\}` (a reversed cumulative sum); bracket counts mark
    each customer with any :math:`k_{ij}` in the bracket, one bracket at a time.

    Examples
    --------
    >>> cohort_counts(np.array([0, 0, 1]), np.array([2, 0, 1]), np.array([0, 0, 1, 2]),
    ...               np.array([0, 2, 0, 1]), 3, "unbounded").tolist()
    [[2, 1, 1], [1, 0, 0], [0, 0, 0]]
    """
    n = n_periods
    if mode == "unbounded":
        spread = np.bincount(cohort * n + (last_active - cohort), minlength=n * n).reshape(n, n)
        counts: NDArray[np.int64] = np.cumsum(spread[:, ::-1], axis=1)[:, ::-1].astype(np.int64)
        return counts
    offset = periods - cohort[rows]
    if mode == "n_period":
        flat = np.bincount(cohort[rows] * n + offset, minlength=n * n)
        return flat.reshape(n, n).astype(np.int64)
    assert brackets is not None
    out = np.zeros((n, len(brackets)), dtype=np.int64)
    for column, (lo, hi) in enumerate(brackets):
        hit = np.zeros(len(cohort), dtype=bool)
        hit[rows[(offset >= lo) & (offset <= hi)]] = True
        out[:, column] = np.bincount(cohort[hit], minlength=n)
    return out


def period_members(state: CustomerSummaryState, period: int) -> NDArray[np.bool_]:
    """Customers of ``state`` active in the absolute ``period``, read from the bitmask.

    Examples
    --------
    >>> m = CustomerSummary(period="day")
    >>> s = m.update(m.init(), EventFrame(
    ...     event_id=np.arange(2), customer_id=np.array([1, 2]),
    ...     timestamp=np.array(["1970-01-02", "1970-01-04"], dtype="datetime64[us]")))
    >>> period_members(s, 3).tolist(), period_members(s, 500).tolist()
    ([False, True], [False, False])
    """
    column = period // 64 - state.word_origin
    if not 0 <= column < state.active.shape[1]:
        return np.zeros(len(state), dtype=bool)
    bit = np.uint64(period % 64)
    members: NDArray[np.bool_] = ((state.active[:, column] >> bit) & np.uint64(1)).astype(bool)
    return members


def bitmask_cohort_counts(
    state: CustomerSummaryState,
    cohort: NDArray[np.int64],
    last_active: NDArray[np.int64],
    first: int,
    n_periods: int,
    mode: str,
    brackets: tuple[tuple[int, int], ...] | None = None,
) -> NDArray[np.int64]:
    """The counts of :func:`cohort_counts`, read period by period from the bitmask.

    The same cells without listing every active (customer, period) pair: one pass over the
    customers per period (and per bracket), so time and memory stay proportional to
    customers, whatever the number of events.

    Examples
    --------
    >>> m = CustomerSummary(period="month")
    >>> s = m.update(m.init(), EventFrame(
    ...     event_id=np.arange(4), customer_id=np.array([1, 1, 2, 2]),
    ...     timestamp=np.array(["1970-01-05", "1970-03-01", "1970-02-01", "1970-03-09"],
    ...                        dtype="datetime64[us]")))
    >>> bitmask_cohort_counts(s, np.array([0, 1]), np.array([2, 2]), 0, 3, "n_period").tolist()
    [[1, 0, 1], [1, 1, 0], [0, 0, 0]]
    """
    n = n_periods
    empty = np.zeros(0, dtype=np.int64)
    if mode == "unbounded":
        return cohort_counts(cohort, last_active, empty.astype(np.intp), empty, n, mode)
    if mode == "n_period":
        counts = np.zeros((n, n), dtype=np.int64)
        for p in range(n):
            per_cohort = np.bincount(cohort[period_members(state, first + p)], minlength=n)
            c = np.arange(p + 1)
            counts[c, p - c] = per_cohort[: p + 1]
        return counts
    assert brackets is not None
    out = np.zeros((n, len(brackets)), dtype=np.int64)
    for column, (lo, hi) in enumerate(brackets):
        hit = np.zeros(len(cohort), dtype=bool)
        for p in range(n):
            offset = p - cohort
            inside = (offset >= lo) & (offset <= hi)
            if inside.any():
                hit |= inside & period_members(state, first + p)
        out[:, column] = np.bincount(cohort[hit], minlength=n)
    return out


@attrs.frozen
class CohortRetention(CustomerSummary):
    r"""Cohort retention matrix: the share of each acquisition cohort active k periods later.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as activity and acquisition (default every event). Returns
        (negative amounts) never count.
    period : {"day", "week", "month", "quarter"}
        The calendar period of cohorts and offsets (default month).
    zone : str
        IANA time zone of the calendar (default UTC; ISO weeks start on Monday).
    mode : {"n_period", "unbounded", "bracket"}
        The cell definition (module docstring).
    brackets : tuple of (int, int), optional
        For ``mode="bracket"``: inclusive offset ranges, one column each, e.g.
        ``((0, 0), (1, 1), (2, 3), (4, 7))``.
    alpha : float
        1 - confidence level of the Wilson intervals.

    Notes
    -----
    Cohort :math:`c` holds the :math:`n_c` customers whose first qualifying event falls in
    period :math:`c`. For column :math:`k`:

    .. math::

        r_{c,k}^{N} = \frac{|\{i \in c : i \in A(c+k)\}|}{n_c}, \qquad
        r_{c,k}^{\ge} = \frac{|\{i \in c : i \in \textstyle\bigcup_{j \ge k} A(c+j)\}|}{n_c},
        \qquad
        r_{c,[a,b]} = \frac{|\{i \in c : i \in \textstyle\bigcup_{a \le j \le b}
        A(c+j)\}|}{n_c},

    with Wilson intervals per cell. Offsets are calendar distances, so empty periods are kept.
    Rows run over every period from the first cohort to the period containing ``as_of``; a
    period without new customers is a row of size 0 whose rates are NaN (no denominator) while
    its cells stay ``observable``.

    A cell is ``observable`` when the last period it needs, :math:`c + k` (or :math:`c + b`),
    ended before ``as_of``. The period containing ``as_of`` is partial: cells reaching into
    it are ``partial`` (their counts so far are shown) and, like cells entirely after
    ``as_of``, have NaN rates and ``observable = False``. Counts of unobservable cells are 0
    because nothing has been seen yet; read them with the mask.

    ``tables``: ``cohort_start`` (date each cohort period starts), ``size``, ``offset`` (first
    offset of each column) and ``offset_end`` (last; the same but for brackets; for
    ``"unbounded"`` a column runs on without end), ``count``, ``rate``, ``ci_low``,
    ``ci_high``, ``observable``, ``partial``, and the pooled curve over cohorts with an
    observable cell and at least one customer: ``pooled_count``, ``pooled_size``,
    ``pooled_rate``, ``pooled_low``, ``pooled_high`` (the size-weighted mean; empty cohorts
    never enter it). ``value`` is the pooled rate of the first column that starts after
    offset 0, with its Wilson interval (cohorts are pooled as one sample).

    The state is the per-customer summary (first event and active-period bitmask) built with
    this metric's own kinds, period and zone, merged by customer id. The tables are
    :math:`P \times P` for :math:`P` periods: daily cohorts over many years make large ones. Acquisition is the first
    qualifying event in the data; an acquisition date from a customer table is not used.

    References
    ----------
    Amplitude and Mixpanel retention reports: "on or after" (unbounded) retention. Reda, G.
    (2015), cohort analysis notebook, and pycohort 2.7 (``demirkeseny/pycohort``) number
    periods by row count, so an empty month shifts later columns: the defect avoided here.
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import datetime as dt
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> r = stickykit.compute(CohortRetention(), events,
    ...                       as_of=dt.datetime(1998, 7, 1, tzinfo=dt.UTC))
    >>> r.tables["size"][:3].tolist(), r.tables["count"][0, :4].tolist()
    ([781, 857, 719], [781, 124, 95, 70])
    >>> round(r.value, 3)
    0.146
    """

    name: ClassVar[str] = "cohort_retention"
    family: ClassVar[str] = "behaviour"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    period: Period = attrs.field(default="month", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=_check_zone)
    mode: CohortMode = attrs.field(default="n_period", validator=attrs.validators.in_(MODES))
    brackets: tuple[tuple[int, int], ...] | None = attrs.field(
        default=None, converter=_brackets, validator=_check_brackets
    )
    alpha: float = attrs.field(default=0.05, validator=_check_alpha)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the activity rows of ``frame`` (qualifying, not returns) into ``state``."""
        keep, _ = activity_rows(frame, self.kinds)
        if not keep.all():
            frame = frame.filter(keep)
        return self.merge(state, self._summarise(frame))

    def matrix(
        self, state: CustomerSummaryState, as_of_us: int
    ) -> tuple[dict[str, Any], int, bool]:
        """The tables of the matrix, the last observed period and whether it is partial."""
        last, partial = observed_periods(as_of_us, self.period, self.zone)
        stamps = np.stack([state.first_us, state.last_us]).astype("datetime64[us]")
        ends = period_index(stamps.ravel(), self.period, zone=self.zone).reshape(2, -1)
        first = int(ends[0].min())
        n = last - first + 1
        cohort = ends[0] - first
        counts = bitmask_cohort_counts(
            state, cohort, ends[1] - first, first, n, self.mode, self.brackets
        )
        sizes = np.bincount(cohort, minlength=n).astype(np.int64)
        low_offset, high_offset = column_offsets(self.mode, self.brackets, n)
        complete_until = n - 2 if partial else n - 1
        reach_end = np.arange(n)[:, None] + high_offset[None, :]
        reach_start = np.arange(n)[:, None] + low_offset[None, :]
        observable = reach_end <= complete_until
        seen = observable | (reach_start <= n - 1)
        partial_cells = seen & ~observable
        counts = np.where(seen, counts, 0)
        usable = observable & (sizes[:, None] > 0)
        denominators = np.broadcast_to(sizes[:, None], counts.shape)
        rate = np.where(usable, counts / np.where(usable, denominators, 1), np.nan)
        low, high = wilson_bounds(counts, np.where(usable, denominators, 0), self.alpha)
        pooled_count = np.where(usable, counts, 0).sum(axis=0)
        pooled_size = np.where(usable, denominators, 0).sum(axis=0)
        pooled_rate = np.where(
            pooled_size > 0, pooled_count / np.where(pooled_size > 0, pooled_size, 1), np.nan
        )
        pooled_low, pooled_high = wilson_bounds(pooled_count, pooled_size, self.alpha)
        table = {
            "cohort_start": period_dates(np.arange(first, last + 1), self.period),
            "size": sizes,
            "offset": low_offset,
            "offset_end": high_offset,
            "count": counts.astype(np.int64),
            "rate": rate,
            "ci_low": low,
            "ci_high": high,
            "observable": observable,
            "partial": partial_cells,
            "pooled_count": pooled_count.astype(np.int64),
            "pooled_size": pooled_size.astype(np.int64),
            "pooled_rate": pooled_rate,
            "pooled_low": pooled_low,
            "pooled_high": pooled_high,
        }
        return table, last, partial

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The matrix in ``tables``; ``value`` is the pooled first-return rate."""
        if len(state) == 0:
            msg = f"{self.name} needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us, as_of)
        table, last, partial = self.matrix(state, as_of_us)
        flags: list[str] = []
        if partial:
            start = period_dates(np.array([last]), self.period)[0]
            flags.append(
                f"the {self.period} starting {start} contains as_of: its cells are partial "
                "and masked"
            )
        after_start = np.flatnonzero(table["offset"] >= 1)
        column = int(after_start[0]) if len(after_start) else -1
        size = int(table["pooled_size"][column]) if column >= 0 else 0
        if size == 0:
            flags.append("no observable cell after offset 0")
            value = low = high = math.nan
        else:
            value = float(table["pooled_rate"][column])
            low = float(table["pooled_low"][column])
            high = float(table["pooled_high"][column])
        empty = int((table["size"] == 0).sum())
        when = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=value,
            n=size,
            n_missing=0,
            se=None,
            ci_low=None if math.isnan(low) else low,
            ci_high=None if math.isnan(high) else high,
            level=None if math.isnan(low) else 1 - self.alpha,
            method="Wilson score interval; cohorts pooled, weighted by size",
            reference=self.reference,
            params={**self.params(), "as_of": when},
            as_of=when,
            version=package_version(),
            unit="share",
            flags=tuple(flags),
            details={
                "customers": float(len(state)),
                "cohorts": float(len(table["size"])),
                "empty_cohorts": float(empty),
                "headline_column": float(column),
            },
            tables=table,
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"cohort_retention"``."""
    register(CohortRetention)
