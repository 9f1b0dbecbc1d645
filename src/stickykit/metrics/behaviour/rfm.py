r"""RFM: recency, frequency and monetary scores by quantiles, and a segment map.

Every customer with at least one purchase gets three scores from 1 to ``bins`` (default 5,
quintiles): R from the days since the last purchase (recent customers score high), F from the
number of purchases and M from the money spent. The cut points are quantiles of the values
themselves, so a score is a function of the value alone: equal values always share a score,
whatever the order of the rows, and shuffling rows or renaming customers never changes one.
When many customers share a value (most CDNOW customers bought once), some bins stay empty;
the result reports the cut points and the customers in every bin rather than hiding that.

The ``(R, F, M)`` cell maps to a named segment through a segment map; the default is the
widely copied R x F grid (champions, loyal, ..., hibernating), a complete partition of the
125 cells.

Examples
--------
>>> from stickykit.datasets import load_cdnow
>>> m = RFM()
>>> r = m.finalize(m.update(m.init(), load_cdnow(sample=True)))
>>> r.value, r.tables["r_counts"].tolist()
(2357.0, [459, 478, 475, 471, 474])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.core.periods import Period
from stickykit.errors import InsufficientDataError
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.behaviour._purchases import (
    PurchaseSummaryMetric,
    grouped_quantiles,
    sorted_group_quantiles,
    sorted_ties,
    tie_values,
    zone_field,
)
from stickykit.metrics.behaviour.summary import (
    CustomerSummaryState,
    optional_kinds,
    period_field,
    resolve_as_of,
)
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "DEFAULT_SEGMENTS",
    "RFM",
    "SegmentMap",
    "quantile_scores",
    "rfm_scores",
    "segment_cells",
]

_US_PER_DAY = 86_400_000_000
_REFERENCE = (
    "RFM quintile scores (5 best), Hughes, Strategic Database Marketing (1994); independent "
    "and nested binning as in IBM SPSS Statistics RFM analysis; default segments: the widely "
    "copied R x F grid"
)

#: A segment map, as ``(segment name, cell codes)`` pairs; a code is ``"RF"`` (every M) or
#: ``"RFM"``.
SegmentMap = tuple[tuple[str, tuple[str, ...]], ...]

#: The R x F grid, monetary score ignored, a complete partition of the 25 RF cells and so of
#: the 125 RFM cells of quintile scores.
DEFAULT_SEGMENTS: SegmentMap = (
    ("champions", ("54", "55")),
    ("loyal", ("34", "35", "44", "45")),
    ("potential loyalists", ("42", "43", "52", "53")),
    ("new", ("51",)),
    ("promising", ("41",)),
    ("need attention", ("33",)),
    ("about to sleep", ("31", "32")),
    ("at risk", ("13", "14", "23", "24")),
    ("can't lose", ("15", "25")),
    ("hibernating", ("11", "12", "21", "22")),
)


def _segment_map(value: Any) -> SegmentMap | None:
    """Converter: a mapping or pairs of name -> codes, as a tuple of tuples."""
    if value is None:
        return None
    pairs: Iterable[tuple[Any, Any]] = value.items() if isinstance(value, Mapping) else value
    out = []
    for name, codes in pairs:
        listed = (codes,) if isinstance(codes, str | int) else tuple(codes)
        out.append((str(name), tuple(str(c) for c in listed)))
    return tuple(out)


def segment_cells(segments: SegmentMap, bins: int) -> tuple[tuple[str, ...], NDArray[np.intp]]:
    """The segment names and, for every RFM cell, the index of its segment.

    Cell ``(r, f, m)`` (scores from 1) is entry ``(r - 1) * bins**2 + (f - 1) * bins + m - 1``.
    Raises ``ValueError`` unless every cell has exactly one segment, naming the cells that
    have none or two.

    Examples
    --------
    >>> names, cell = segment_cells(DEFAULT_SEGMENTS, 5)
    >>> len(cell), names[cell[(5 - 1) * 25 + (5 - 1) * 5 + 0]]
    (125, 'champions')
    >>> segment_cells((("top", ("55",)),), 5)
    Traceback (most recent call last):
    ...
    ValueError: segment map leaves 120 of 125 RFM cells without a segment (first: 111, 112, 113, 114, 115); every cell needs exactly one
    """
    n_cells = bins**3
    owner = np.full(n_cells, -1, dtype=np.intp)
    names = tuple(name for name, _ in segments)
    if len(set(names)) != len(names):
        msg = f"segment names must be unique, got {list(names)}"
        raise ValueError(msg)
    scores = np.arange(1, bins + 1)
    for k, (name, codes) in enumerate(segments):  # one pass per segment, never per customer
        for code in codes:
            digits = [int(c) for c in code if c.isdigit()]
            if (
                len(code) not in (2, 3)
                or len(digits) != len(code)
                or not all(1 <= d <= bins for d in digits)
            ):
                msg = (
                    f"segment {name!r}: cell code {code!r} must be 2 (RF) or 3 (RFM) digits "
                    f"from 1 to {bins}"
                )
                raise ValueError(msg)
            ms = scores if len(digits) == 2 else np.array([digits[2]])
            cells = (digits[0] - 1) * bins**2 + (digits[1] - 1) * bins + (ms - 1)
            taken = owner[cells] >= 0
            if taken.any():
                cell = int(cells[taken][0])
                msg = (
                    f"RFM cell {_code(cell, bins)} is in two segments, "
                    f"{names[owner[cell]]!r} and {name!r}; every cell needs exactly one"
                )
                raise ValueError(msg)
            owner[cells] = k
    missing = np.flatnonzero(owner < 0)
    if missing.size:
        first = ", ".join(_code(int(c), bins) for c in missing[:5])
        msg = (
            f"segment map leaves {missing.size} of {n_cells} RFM cells without a segment "
            f"(first: {first}); every cell needs exactly one"
        )
        raise ValueError(msg)
    return names, owner


def _code(cell: int, bins: int) -> str:
    return f"{cell // bins**2 + 1}{cell // bins % bins + 1}{cell % bins + 1}"


def _check_segments(instance: RFM, attribute: Any, value: SegmentMap | None) -> None:
    del attribute
    if value is not None:
        segment_cells(value, instance.bins)


def quantile_scores(
    values: NDArray[np.float64],
    bins: int,
    groups: NDArray[np.intp] | None = None,
    n_groups: int = 1,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    r"""Scores 1..``bins`` by quantile cut points of the values (within each group).

    The cut points of a group are its quantiles :math:`e_k = Q(k/B)`, :math:`k = 1..B-1`
    (numpy's default "linear" method, R's type 7), and bins are closed on the right:

    .. math::

        s(x) = 1 + \#\{k : x > e_k\}, \qquad s(x) = k \iff e_{k-1} < x \le e_k.

    A score depends on the value alone, never on row order or ids: equal values share a score
    (values within a relative :math:`10^{-9}` count as equal, so that sums of the same amounts
    added in another order tie), and a run of ties can leave bins empty.

    Parameters
    ----------
    values : numpy.ndarray
        One value per customer.
    bins : int
        Number of scores.
    groups : numpy.ndarray, optional
        Group of each value (0..``n_groups`` - 1); cut points are computed per group.
    n_groups : int
        Number of groups.

    Returns
    -------
    scores : numpy.ndarray
        int64 scores, 1 (lowest values) to ``bins``.
    edges : numpy.ndarray
        Cut points, shape ``(n_groups, bins - 1)`` (NaN for an empty group).

    Examples
    --------
    >>> import numpy as np
    >>> s, e = quantile_scores(np.array([1.0, 1.0, 1.0, 2.0, 9.0]), 5)
    >>> s.tolist(), e.ravel().tolist()
    ([1, 1, 1, 4, 5], [1.0, 1.0, 1.4, 3.4])
    """
    probs = np.arange(1, bins) / bins
    if groups is None:
        # one sort gives the ties, the cut points and the scores
        order, ordered = sorted_ties(np.asarray(values, dtype=np.float64))
        edges = sorted_group_quantiles(ordered, np.array([len(ordered)]), probs)
        scores = np.empty(len(ordered), dtype=np.int64)
        # side="left": the number of cut points strictly below each value
        scores[order] = 1 + np.searchsorted(edges[0], ordered, side="left")
        return scores, edges
    tied = tie_values(np.asarray(values, dtype=np.float64))
    edges = grouped_quantiles(tied, groups, n_groups, probs)
    scores = 1 + (tied[:, None] > edges[groups]).sum(axis=1, dtype=np.int64)
    return scores, edges


def rfm_scores(
    recency: NDArray[np.float64],
    frequency: NDArray[np.float64],
    monetary: NDArray[np.float64],
    bins: int = 5,
    binning: Literal["independent", "nested"] = "independent",
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], dict[str, NDArray[Any]]]:
    r"""R, F and M scores of customers, independent or nested, with their cut points.

    R is scored on recency reversed (:math:`R = B + 1 - s(\text{recency})`: the most recent
    customers score ``bins``), F and M on their values. Independent binning cuts each of the
    three over all customers. Nested binning cuts R over all customers, F within each R score
    and M within each (R, F) cell (as in IBM SPSS Statistics).

    Returns
    -------
    r, f, m : numpy.ndarray
        int64 scores.
    edges : dict
        ``r_edges`` (``bins - 1`` cut points in days), ``f_edges`` and ``m_edges``
        (``bins - 1`` cut points; nested: one row per R score, or per (R, F) cell at row
        ``(R - 1) * bins + F - 1``).

    Examples
    --------
    >>> import numpy as np
    >>> r, f, m, e = rfm_scores(np.array([1.0, 50.0, 9.0]), np.array([3.0, 1.0, 1.0]),
    ...                         np.array([90.0, 10.0, 20.0]), bins=3)
    >>> r.tolist(), f.tolist(), m.tolist()
    ([3, 1, 2], [3, 1, 1], [3, 1, 2])
    """
    bin_r, r_edges = quantile_scores(recency, bins)
    r = bins + 1 - bin_r
    if binning == "independent":
        f, f_edges = quantile_scores(frequency, bins)
        m, m_edges = quantile_scores(monetary, bins)
        return r, f, m, {"r_edges": r_edges[0], "f_edges": f_edges[0], "m_edges": m_edges[0]}
    f, f_edges = quantile_scores(frequency, bins, (r - 1).astype(np.intp), bins)
    m, m_edges = quantile_scores(
        monetary, bins, ((r - 1) * bins + (f - 1)).astype(np.intp), bins * bins
    )
    return r, f, m, {"r_edges": r_edges[0], "f_edges": f_edges, "m_edges": m_edges}


def _bins_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    if type(value) is not int or not 2 <= value <= 9:
        msg = f"bins must be an integer from 2 to 9, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class RFM(PurchaseSummaryMetric):
    r"""Recency, frequency and monetary quantile scores per customer, and segments.

    Parameters
    ----------
    bins : int
        Scores per dimension, 2 to 9 (default 5: quintiles; 4: quartiles).
    binning : {"independent", "nested"}
        ``"independent"``: R, F and M each cut over all customers. ``"nested"``: F cut within
        each R score and M within each (R, F) cell.
    frequency : {"periods", "events"}
        F counts distinct calendar periods with a purchase (default: days, so several orders
        on one day count once, as in the buy-till-you-die tradition) or purchase events.
    monetary : {"total", "mean"}
        M is the customer's net spend (returns netted), or that divided by F (mean per
        order, where an order is what F counts).
    period : {"day", "week", "month", "quarter"}
        The period of ``frequency="periods"``.
    zone : str
        IANA time zone of the calendar periods.
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``; a frame without a kind
        column holds purchases only).
    segments : mapping of str to codes, or None
        Segment name -> cell codes, each ``"RF"`` (all M scores) or ``"RFM"``; every cell must
        belong to exactly one segment. ``None``: :data:`DEFAULT_SEGMENTS` for 5 bins, else the
        cell code (``"321"``) as the segment.

    Notes
    -----
    For customer :math:`i` with last purchase :math:`t_i`, purchases (or purchase periods)
    :math:`n_i` and net spend :math:`v_i` at ``as_of`` :math:`T`:

    .. math::

        \text{recency}_i = (T - t_i)\ \text{in days}, \qquad F_i = n_i, \qquad
        M_i = v_i \ \ \text{or} \ \ v_i / n_i,

    and each is scored by :func:`quantile_scores`; recency is reversed so that 5 is the most
    recent fifth. Cut points depend on the customers in the data: scores compare customers
    within one analysis, not across analyses (reuse ``tables["r_edges"]`` etc. for that).

    ``value`` is the number of customers scored. ``tables`` holds, per customer,
    ``customer_id``, ``recency_days``, ``frequency``, ``monetary``, ``r``, ``f``, ``m``,
    ``code`` (``100 R + 10 F + M``) and ``segment``; the cut points ``r_edges``,
    ``f_edges``, ``m_edges``; the customers per score ``r_counts``, ``f_counts``,
    ``m_counts`` and per cell ``cell_counts`` (``bins`` x ``bins`` x ``bins``, indexed by
    ``R - 1, F - 1, M - 1``). ``details`` has ``segment:<name>`` counts for every segment.
    Customers with returns but no purchase are not scored; they are ``n_missing``. Scores
    describe; there is no interval.

    References
    ----------
    Hughes, A. M. *Strategic Database Marketing* (1st ed. 1994): quintile scores, 5 best,
    cell codes 111-555.
    IBM SPSS Statistics, RFM analysis: independent and nested binning, 1-9 bins (default 5).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 2, 2, 3]),
    ...                timestamp=np.array(["2024-01-01", "2024-02-01", "2024-03-01",
    ...                                    "2024-03-10"], dtype="datetime64[us]"),
    ...                amount=np.array([10.0, 20.0, 30.0, 5.0]))
    >>> import datetime as dt
    >>> m = RFM(bins=3)
    >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 3, 11, tzinfo=dt.UTC))
    >>> r.tables["recency_days"].tolist(), r.tables["code"].tolist()
    ([70.0, 10.0, 1.0], [112, 233, 311])
    >>> r.tables["segment"].tolist()
    ['112', '233', '311']
    """

    name: ClassVar[str] = "rfm"
    reference: ClassVar[str] = _REFERENCE

    bins: int = attrs.field(default=5, validator=_bins_field)
    binning: Literal["independent", "nested"] = attrs.field(
        default="independent", validator=attrs.validators.in_(("independent", "nested"))
    )
    frequency: Literal["periods", "events"] = attrs.field(
        default="periods", validator=attrs.validators.in_(("periods", "events"))
    )
    monetary: Literal["total", "mean"] = attrs.field(
        default="total", validator=attrs.validators.in_(("total", "mean"))
    )
    period: Period = attrs.field(default="day", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=zone_field)
    kinds: tuple[str, ...] | None = attrs.field(default=("purchase",), converter=optional_kinds)
    segments: SegmentMap | None = attrs.field(
        default=None, converter=_segment_map, validator=_check_segments
    )

    def summary_period(self) -> Period:
        """The period counted by ``frequency="periods"``."""
        return self.period

    def segment_map(self) -> SegmentMap | None:
        """The segment map in use (``None``: the cell code is the segment).

        Examples
        --------
        >>> RFM().segment_map()[0]
        ('champions', ('54', '55'))
        >>> RFM(bins=4).segment_map() is None
        True
        """
        if self.segments is not None:
            return self.segments
        return DEFAULT_SEGMENTS if self.bins == 5 else None

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Scores, segments, cut points and bin counts of the merged customers."""
        buyers = state.n_events > 0
        if not buyers.any():
            msg = "rfm needs at least one customer with a purchase"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us[buyers], as_of)
        b = self.bins
        recency = (as_of_us - state.last_us[buyers]) / _US_PER_DAY
        counted = state.n_periods() if self.frequency == "periods" else state.n_events
        freq = counted[buyers]
        money = state.monetary[buyers]
        if self.monetary == "mean":
            money = money / freq
        r, f, m, edges = rfm_scores(recency, freq.astype(np.float64), money, b, self.binning)
        cell = (r - 1) * b * b + (f - 1) * b + (m - 1)
        segments = self.segment_map()
        if segments is None:
            names = tuple(_code(c, b) for c in range(b**3))
            owner = np.arange(b**3, dtype=np.intp)
        else:
            names, owner = segment_cells(segments, b)
        label = np.asarray(names)[owner[cell]]
        per_segment = np.bincount(owner[cell], minlength=len(names))
        n = int(buyers.sum())
        n_returns_only = len(state) - n
        flags: tuple[str, ...] = ()
        if n_returns_only:
            flags = (f"{n_returns_only} customers with returns but no purchase not scored",)
        as_of_dt = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=float(n),
            n=n,
            n_missing=n_returns_only,
            se=None,
            ci_low=None,
            ci_high=None,
            level=None,
            method="descriptive (no interval): quantile scores, bins closed on the right",
            reference=self.reference,
            params={**self.params(), "as_of": as_of_dt},
            as_of=as_of_dt,
            version=package_version(),
            unit="customers",
            flags=flags,
            details={
                "customers": float(n),
                "returns_only_customers": float(n_returns_only),
                **{f"segment:{k}": float(c) for k, c in zip(names, per_segment, strict=True)},
            },
            tables={
                "customer_id": state.customer_id[buyers],
                "recency_days": recency,
                "frequency": freq,
                "monetary": money,
                "r": r,
                "f": f,
                "m": m,
                "code": 100 * r + 10 * f + m,
                "segment": label,
                **edges,
                "r_counts": np.bincount(r - 1, minlength=b).astype(np.int64),
                "f_counts": np.bincount(f - 1, minlength=b).astype(np.int64),
                "m_counts": np.bincount(m - 1, minlength=b).astype(np.int64),
                "cell_counts": np.bincount(cell, minlength=b**3).astype(np.int64).reshape(b, b, b),
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"rfm"``."""
    register(RFM)
