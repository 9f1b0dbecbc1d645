r"""Purchase summaries under the shared returns policy, and tie-aware ranking kernels.

RFM, historical lifetime value and value tiers keep the per-customer summary
(:class:`~stickykit.metrics.behaviour.summary.CustomerSummaryState`) of the qualifying events,
under their own fingerprint, with the returns policy of :mod:`stickykit.io.events`
(``returns="net"``): a row with a negative amount is a return; its amount nets against the
customer's purchases, but it is not a purchase, so it adds nothing to the event count, the
first and last purchase or the active periods. A customer seen only through returns gets a row
with no purchase (``n_events == 0``); the measures leave such customers out and count them.

Ranks over customers are taken once, in ``finalize``, over the merged summary. Money sums
computed in a different order can differ in the last bits, so :func:`tie_values` first maps
values that agree to within a relative :math:`10^{-9}` onto one representative: equal amounts
then share a rank whatever the order of rows or chunks.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
...                timestamp=np.array(["2024-01-01", "2024-01-05", "2024-01-09"],
...                                   dtype="datetime64[us]"),
...                amount=np.array([30.0, -10.0, -4.0]))
>>> s = summarise_purchases(purchase_summary("day", "UTC"), f)
>>> s.customer_id.tolist(), s.n_events.tolist(), s.monetary.tolist()
([1, 2], [1, 0], [20.0, -4.0])
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone
from stickykit.core.periods import Period
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricBase, check_fingerprints
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    activity_rows,
)
from stickykit.stats.intervals import check_alpha

__all__ = [
    "TIE_RTOL",
    "PurchaseSummaryMetric",
    "alpha_field",
    "grouped_quantiles",
    "merge_summaries",
    "purchase_summary",
    "qualifying_frame",
    "sorted_group_quantiles",
    "sorted_ties",
    "summarise_purchases",
    "tie_values",
    "zone_field",
]

#: Values closer than this, relative to the larger of the two, count as equal when ranking.
TIE_RTOL = 1e-9
_NO_FIRST = np.iinfo(np.int64).max
_NO_LAST = np.iinfo(np.int64).min


def zone_field(instance: Any, attribute: Any, value: Any) -> None:
    """Validator of a ``zone`` parameter: an IANA time zone name."""
    del instance, attribute
    check_zone("period", value)


def alpha_field(instance: Any, attribute: Any, value: Any) -> None:
    """Validator of an ``alpha`` parameter: ``0 < alpha < 1``."""
    del instance, attribute
    check_alpha(value)


def purchase_summary(period: Period, zone: str) -> CustomerSummary:
    """The customer summary whose ``update`` and ``merge`` the purchase measures reuse.

    Kinds are filtered before it (:func:`qualifying_frame`), so it counts every row it sees.

    Examples
    --------
    >>> purchase_summary("month", "UTC").period
    'month'
    """
    return CustomerSummary(kinds=None, period=period, zone=zone)


def qualifying_frame(frame: EventFrame, kinds: tuple[str, ...] | None) -> EventFrame:
    """The rows of ``frame`` whose kind is one of ``kinds`` (every row for ``None``), and returns.

    Returns (a negative amount, or kind ``"return"``) are kept whatever their kind, as the
    shared returns policy nets them against money (see
    :func:`~stickykit.metrics.behaviour.summary.activity_rows`).

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([1, 1]),
    ...                timestamp=np.zeros(2, dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "visit"]))
    >>> len(qualifying_frame(f, ("purchase",)))
    1
    """
    _, money = activity_rows(frame, kinds)
    return frame if money.all() else frame.filter(money)


def summarise_purchases(summary: CustomerSummary, frame: EventFrame) -> CustomerSummaryState:
    """The summary state of ``frame`` under the returns policy (fingerprint of ``summary``).

    The summary applies the shared returns policy: purchases (rows that are not returns) are
    activity, returns add their amount to the customer's money only.

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(2), customer_id=np.array([4, 4]),
    ...                timestamp=np.array(["2024-03-01", "2024-03-09"], dtype="datetime64[us]"),
    ...                amount=np.array([12.0, -2.0]))
    >>> s = summarise_purchases(purchase_summary("day", "UTC"), f)
    >>> s.n_events.tolist(), s.n_periods().tolist(), s.monetary.tolist()
    ([1], [1], [10.0])
    """
    return summary.update(summary.init(), frame)


def merge_summaries(
    summary: CustomerSummary,
    a: CustomerSummaryState,
    b: CustomerSummaryState,
    fingerprint: str,
    *,
    into: bool = False,
) -> CustomerSummaryState:
    """``summary.merge`` of two states that carry ``fingerprint`` (the outer metric's).

    ``into=True`` uses ``summary.merge_into``, which may update ``a``'s arrays in place.
    """
    inner = summary.fingerprint
    merge = summary.merge_into if into else summary.merge
    merged = merge(attrs.evolve(a, fingerprint=inner), attrs.evolve(b, fingerprint=inner))
    return attrs.evolve(merged, fingerprint=fingerprint)


class PurchaseSummaryMetric(MetricBase):
    """The four functions over a purchase summary, under the metric's own fingerprint.

    Subclasses are attrs classes with the fields ``kinds`` and ``zone``, may override
    :meth:`summary_period`, and implement ``finalize``.
    """

    family: ClassVar[str] = "behaviour"
    input_kind: ClassVar[Literal["events"]] = "events"
    kinds: tuple[str, ...] | None
    zone: str

    def summary_period(self) -> Period:
        """The calendar unit of the summary's active periods."""
        return "day"

    def summary(self) -> CustomerSummary:
        """The customer summary whose update and merge this metric reuses."""
        return purchase_summary(self.summary_period(), self.zone)

    def init(self) -> CustomerSummaryState:
        """The empty state."""
        return CustomerSummaryState(fingerprint=self.fingerprint)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the qualifying events of ``frame`` into ``state`` (returns net, not counted)."""
        chunk = summarise_purchases(self.summary(), qualifying_frame(frame, self.kinds))
        return self.merge(state, attrs.evolve(chunk, fingerprint=self.fingerprint))

    def merge(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        """Union of customers by id (the summary's merge)."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        return merge_summaries(self.summary(), a, b, self.fingerprint)

    def merge_into(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        """``merge(a, b)``, updating ``a`` in place when it can (see ``CustomerSummary``)."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        return merge_summaries(self.summary(), a, b, self.fingerprint, into=True)


def sorted_ties(
    values: NDArray[np.float64], rtol: float = TIE_RTOL
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    r"""The order that sorts ``values``, and the sorted values with near-equal ones tied.

    Sorted neighbours :math:`a \le b` join one class when
    :math:`b - a \le r\,\max(|a|, |b|) + 10^{-3} r \max_k |x_k|`; every member of a class
    takes the class's smallest value. ``values[order]`` is sorted, and the second array is that
    sorted array with each value replaced by its class's representative (still sorted).

    Examples
    --------
    >>> order, tied = sorted_ties(np.array([3.0, 0.1 + 0.2, 0.3]))
    >>> order.tolist()[0] in (1, 2), tied.tolist()
    (True, [0.3, 0.3, 3.0])
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return np.arange(values.size, dtype=np.intp), values.copy()
    # any order of equal values gives the same classes, so the sort need not be stable
    order = np.argsort(values)
    ordered = values[order]
    scale = float(np.abs(ordered).max())
    gaps = np.diff(ordered)
    near = rtol * np.maximum(np.abs(ordered[1:]), np.abs(ordered[:-1])) + 1e-3 * rtol * scale
    new_class = np.concatenate([[True], gaps > near])
    starts = np.flatnonzero(new_class)
    label = np.cumsum(new_class) - 1
    tied: NDArray[np.float64] = ordered[starts][label]
    return order.astype(np.intp, copy=False), tied


def tie_values(values: NDArray[np.float64], rtol: float = TIE_RTOL) -> NDArray[np.float64]:
    r"""``values`` with near-equal values replaced by one representative, for ranking.

    The classes of :func:`sorted_ties`, in the original order. Sums of the same amounts added
    in another order (which differ in the last bits) then compare equal, and ranks do not
    depend on row order.

    Examples
    --------
    >>> x = np.array([0.1 + 0.2, 0.3, 1.0, 0.3])
    >>> bool(x[0] == x[1]), bool(np.unique(tie_values(x)).size == 2)
    (False, True)
    """
    order, tied = sorted_ties(values, rtol)
    out = np.empty_like(tied)
    out[order] = tied
    return out


def sorted_group_quantiles(
    ordered: NDArray[np.float64], counts: NDArray[np.int64], probs: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Quantiles of groups laid out one after another, each sorted (see :func:`grouped_quantiles`).

    ``ordered`` holds group 0's values in ascending order, then group 1's, and so on;
    ``counts`` gives each group's size.

    Examples
    --------
    >>> sorted_group_quantiles(np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0]), np.array([4, 2, 0]),
    ...                        np.array([0.5])).ravel().tolist()
    [2.5, 15.0, nan]
    """
    probs = np.asarray(probs, dtype=np.float64)
    out = np.full((len(counts), len(probs)), np.nan)
    starts = np.cumsum(counts) - counts
    present = counts > 0
    n = counts[present][:, None].astype(np.float64)
    h = (n - 1) * probs[None, :]
    lo = np.floor(h).astype(np.intp)
    t = h - lo
    hi = np.minimum(lo + 1, counts[present][:, None] - 1)
    base = starts[present][:, None]
    a, b = ordered[base + lo], ordered[base + hi]
    diff = b - a
    # numpy's lerp: exact at both ends, monotone in t
    out[present] = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    return out


def grouped_quantiles(
    values: NDArray[np.float64], groups: NDArray[np.intp], n_groups: int, probs: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Quantiles of ``values`` within each group, numpy's default ("linear") method.

    For a group with sorted values :math:`v_0 \le \dots \le v_{n-1}` and probability
    :math:`p`: :math:`h = (n - 1)p`, :math:`Q(p) = v_{\lfloor h\rfloor} + (h - \lfloor h
    \rfloor)(v_{\lfloor h\rfloor + 1} - v_{\lfloor h\rfloor})` (R's type 7, the default of
    ``numpy.quantile`` and ``pandas.Series.quantile``). One vectorised pass for all groups.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_groups, len(probs))``; NaN rows for empty groups.

    Examples
    --------
    >>> v = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0])
    >>> g = np.array([0, 0, 0, 0, 1, 1])
    >>> grouped_quantiles(v, g, 3, np.array([0.5])).ravel().tolist()
    [2.5, 15.0, nan]
    """
    if len(values) == 0:
        return np.full((n_groups, len(probs)), np.nan)
    order = np.lexsort((values, groups))
    counts = np.bincount(groups, minlength=n_groups)
    return sorted_group_quantiles(values[order], counts, probs)
