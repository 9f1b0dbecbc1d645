r"""Service recovery, measured: repurchase and retention after a complaint versus matched customers.

Does handling complaints keep customers? The metric ``"complaint_recovery"``
(:class:`ComplaintRecovery`) compares customers after their first complaint with customers who
never complained, matched on their behaviour before it, instead of assuming the "recovery
paradox" (complainers whose problem was solved becoming more loyal than before).

For each calendar month :math:`M` (in ``zone``) with a first complaint, and with
:math:`s_M` and :math:`e_M` the first days of :math:`M` and of the next month:

- *treated*: customers whose first complaint falls in :math:`M` and who bought before
  :math:`s_M`;
- *controls*: customers who never complained and bought before :math:`s_M`; they take the
  same index month;
- both are described at :math:`s_M` by the number of days with a purchase in the
  :math:`h` days before it (coarsened into ``frequency_edges``), by their tenure, days
  since the first purchase (coarsened into ``tenure_edges``), and by the days with a
  purchase in :math:`M` or the week before it (0, 1, 2 or more: a complaint follows a
  purchase, so complainers are compared with customers who were buying then too):
  coarsened exact matching (Iacus, King & Porro 2012) on (month, frequency bin, tenure bin,
  purchases around :math:`M`);
- outcomes, measured after the complaint month so that no one is credited with the
  purchase the complaint was about: *repurchase*, a purchase in :math:`[e_M, e_M + h)`,
  and *retention*, a purchase in the last :math:`h` days of the ``retention_days`` after
  :math:`e_M`, :math:`[e_M + R - h, e_M + R)`. A month whose window has not ended by
  ``as_of`` is left out.

Examples
--------
On the synthetic events, complainers look like better customers than the rest (the naive
gap), but against customers who bought as much, as long and as recently, fewer of them buy
again:

>>> from stickykit.datasets import programme_events
>>> m = ComplaintRecovery()
>>> r = m.finalize(m.update(m.init(), programme_events(n_customers=3000, seed=2)))
>>> round(r.details["naive_difference"], 1), round(r.value, 1), r.n
(35.8, -4.2, 323)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone
from stickykit.core.arrays import unique_codes
from stickykit.core.periods import period_index
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints
from stickykit.metrics.behaviour.retention import active_pairs
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    activity_rows,
    optional_kinds,
)
from stickykit.metrics.programme.ledger import (
    KIND_CODES,
    NO_TIME,
    OPENED,
    activity_violations,
    alpha_field,
    kind_codes,
    state_as_of,
)
from stickykit.metrics.programme.state import programme_result
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import z_value

__all__ = ["ComplaintRecovery", "RecoveryState", "matched_difference"]

_OPENED = KIND_CODES[OPENED]
#: Differences of shares are reported in percentage points.
_PP = 100.0
#: Days before the index month in which a purchase still counts as "bought around it".
_LEAD_DAYS = 7
_NEVER = int(np.iinfo(np.int64).max)
_REFERENCE = (
    "coarsened exact matching: Iacus, King & Porro (2012), Political Analysis 20(1), 1-24; "
    "the service recovery paradox as tested by de Matos, Henrique & Rossi (2007), Journal of "
    "Service Research 10(1), 60-77"
)
Outcome = Literal["repurchase", "retention"]


def _empty_ids() -> NDArray[Any]:
    return np.empty(0, dtype=np.int64)


@attrs.frozen(eq=False)
class RecoveryState:
    """The mergeable state of :class:`ComplaintRecovery`.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    purchases : CustomerSummaryState
        Daily activity of every customer (a customer summary with ``period="day"``).
    complainer_id : numpy.ndarray
        Sorted customers with a ``complaint_opened`` event.
    first_complaint_us : numpy.ndarray
        Each one's first complaint (microseconds, int64).
    last_us : int
        The latest event time of any kind.

    Examples
    --------
    >>> state = ComplaintRecovery().init()
    >>> len(state.purchases), len(state.complainer_id)
    (0, 0)
    """

    fingerprint: str
    purchases: CustomerSummaryState
    complainer_id: NDArray[Any] = attrs.field(factory=_empty_ids)
    first_complaint_us: NDArray[np.int64] = attrs.field(factory=lambda: np.empty(0, dtype=np.int64))
    last_us: int = NO_TIME


def _merge_first(
    a_ids: NDArray[Any], a_first: NDArray[np.int64], b_ids: NDArray[Any], b_first: NDArray[np.int64]
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    if len(b_ids) == 0:
        return a_ids, a_first
    if len(a_ids) == 0:
        return b_ids, b_first
    ids = np.union1d(a_ids, b_ids)
    first = np.full(len(ids), _NEVER, dtype=np.int64)
    first[np.searchsorted(ids, a_ids)] = a_first
    where = np.searchsorted(ids, b_ids)
    first[where] = np.minimum(first[where], b_first)
    return ids, first


def matched_difference(
    n_t: NDArray[np.int64], y_t: NDArray[np.int64], n_c: NDArray[np.int64], y_c: NDArray[np.int64]
) -> tuple[float, float, float, float, int]:
    r"""The matched difference of two shares over strata, and its standard error.

    Over the strata with treated and control units, weighted by treated units (the average
    effect on the treated, as coarsened exact matching weights them):

    .. math::

        \hat\Delta = \sum_s w_s (\hat p_{ts} - \hat p_{cs}), \quad w_s = \frac{n_{ts}}{\sum_s
        n_{ts}}, \qquad
        \widehat{\operatorname{Var}} = \sum_s w_s^2 \left(\frac{\hat p_{ts}(1-\hat
        p_{ts})}{n_{ts}} + \frac{\hat p_{cs}(1-\hat p_{cs})}{n_{cs}}\right).

    Returns ``(difference, se, treated share, matched control share, matched treated)``.

    References
    ----------
    Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance checking:
    coarsened exact matching. *Political Analysis* 20(1), 1-24.

    Examples
    --------
    Two strata: 10 treated (4 buy) against 20 controls (10 buy), and 10 treated (8 buy)
    against 10 controls (9 buy): :math:`0.5 (0.4 - 0.5) + 0.5 (0.8 - 0.9) = -0.1`.

    >>> d, se, pt, pc, n = matched_difference(np.array([10, 10]), np.array([4, 8]),
    ...                                       np.array([20, 10]), np.array([10, 9]))
    >>> round(d, 4), round(pt, 4), round(pc, 4), n
    (-0.1, 0.6, 0.7, 20)
    """
    ok = (n_t > 0) & (n_c > 0)
    matched = int(n_t[ok].sum())
    if matched == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    w = n_t[ok] / matched
    p_t = y_t[ok] / n_t[ok]
    p_c = y_c[ok] / n_c[ok]
    variance = float((w**2 * (p_t * (1 - p_t) / n_t[ok] + p_c * (1 - p_c) / n_c[ok])).sum())
    treated, control = float((w * p_t).sum()), float((w * p_c).sum())
    return treated - control, math.sqrt(variance), treated, control, matched


def _edges(value: Any) -> tuple[int, ...]:
    edges = tuple(int(v) for v in value)
    if list(edges) != sorted(set(edges)) or not all(e > 0 for e in edges):
        msg = f"bin edges must be increasing integers > 0, got {value!r}"
        raise ValueError(msg)
    return edges


def _positive_int(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be a whole number of days >= 1, got {value!r}"
        raise ValueError(msg)


def _zone_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_zone("zone", value)


def _month_first_days(months: NDArray[np.int64]) -> NDArray[np.int64]:
    """Local day number (days since 1970-01-01) of the first day of each month index."""
    days: NDArray[np.int64] = (
        months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    )
    return days


@attrs.frozen
class ComplaintRecovery(MetricBase):
    r"""Repurchase and retention after a first complaint, against matched non-complainers.

    ``value`` is the matched difference (complainers minus matched controls) in the share
    with the chosen ``outcome``, averaged over complainers (:func:`matched_difference`), in
    percentage points, with a normal interval; ``details`` give both outcomes (differences
    and standard errors in percentage points, rates as shares). The unmatched ("naive") difference, complainers against all
    non-complainers, is given beside it in ``details`` and labelled as such: complainers
    are not a random sample of customers (they bought, and buy more, to have something to
    complain about), so the naive gap mixes who complains with what complaining does.

    Parameters
    ----------
    outcome : {"repurchase", "retention"}
        The headline outcome (both are in ``details``).
    horizon_days : int
        :math:`h`: the pre-period for matching and the repurchase window (default 90).
    retention_days : int
        :math:`R`: retention means a purchase in the last :math:`h` days of the
        :math:`R` days after the complaint month (default 365).
    frequency_edges : tuple of int
        Bins of purchase days in the pre-period (default ``(1, 2, 4)``: 0, 1, 2-3, 4+).
    tenure_edges : tuple of int
        Bins of tenure in days (default ``(180, 730)``).
    activity_kinds : tuple of str or None
        Kinds that count as purchases (default ``("purchase",)``; returns never count).
    zone : str
        IANA time zone of the calendar days and months.
    alpha : float
        1 - confidence level.

    Notes
    -----
    The standard error treats the (month, stratum) cells as independent binomial samples; a
    never-complaining customer can be a control in several months, which this ignores, and
    the matching only removes differences in the matched behaviour. Controls are customers
    who never complained in the data (they may complain after ``as_of``). ``tables`` lists
    every cell: ``month_start``, ``stratum``, ``treated``, ``treated_repurchase``,
    ``controls``, ``control_repurchase`` (and the retention counts where observable).

    References
    ----------
    Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance checking:
    coarsened exact matching. *Political Analysis* 20(1), 1-24. de Matos, C. A., Henrique,
    J. L. and Rossi, C. A. V. (2007). Service recovery paradox: a meta-analysis. *Journal of
    Service Research* 10(1), 60-77.

    Examples
    --------
    >>> ComplaintRecovery(outcome="retention").params()["retention_days"]
    365
    """

    name: ClassVar[str] = "complaint_recovery"
    family: ClassVar[str] = "programme"
    input_kind: ClassVar[Literal["events"]] = "events"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    outcome: Outcome = attrs.field(
        default="repurchase", validator=attrs.validators.in_(("repurchase", "retention"))
    )
    horizon_days: int = attrs.field(default=90, validator=_positive_int)
    retention_days: int = attrs.field(default=365, validator=_positive_int)
    frequency_edges: tuple[int, ...] = attrs.field(default=(1, 2, 4), converter=_edges)
    tenure_edges: tuple[int, ...] = attrs.field(default=(180, 730), converter=_edges)
    activity_kinds: tuple[str, ...] | None = attrs.field(
        default=("purchase",), converter=optional_kinds
    )
    zone: str = attrs.field(default="UTC", validator=_zone_field)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def __attrs_post_init__(self) -> None:
        if self.retention_days < self.horizon_days:
            msg = (
                f"retention_days ({self.retention_days}) must be at least horizon_days "
                f"({self.horizon_days})"
            )
            raise ValueError(msg)

    def _summary(self) -> CustomerSummary:
        return CustomerSummary(kinds=self.activity_kinds, period="day", zone=self.zone)

    def init(self) -> RecoveryState:
        """The empty state."""
        return RecoveryState(fingerprint=self.fingerprint, purchases=self._summary().init())

    def update(self, state: RecoveryState, frame: EventFrame) -> RecoveryState:
        """Fold the purchases and first complaints of ``frame`` into ``state``."""
        summary = self._summary()
        active, _ = activity_rows(frame, self.activity_kinds)
        raise_first("EventFrame", activity_violations(frame, active))
        purchases = summary.update(summary.init(), frame.filter(active))
        opened = kind_codes(frame) == _OPENED
        ids, codes = unique_codes(frame.customer_id[opened])
        first = np.full(len(ids), _NEVER, dtype=np.int64)
        np.minimum.at(first, codes, frame.timestamp.view(np.int64)[opened])
        chunk = RecoveryState(
            fingerprint=self.fingerprint,
            purchases=purchases,
            complainer_id=ids,
            first_complaint_us=first,
            last_us=int(frame.timestamp.view(np.int64).max()) if len(frame) else NO_TIME,
        )
        return self.merge(state, chunk)

    def merge(self, a: RecoveryState, b: RecoveryState) -> RecoveryState:
        """Merged purchase summaries, union of complainers keeping the first complaint."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        ids, first = _merge_first(
            a.complainer_id, a.first_complaint_us, b.complainer_id, b.first_complaint_us
        )
        return RecoveryState(
            fingerprint=self.fingerprint,
            purchases=self._summary().merge(a.purchases, b.purchases),
            complainer_id=ids,
            first_complaint_us=first,
            last_us=max(a.last_us, b.last_us),
        )

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` refuses: purchases in a currency other than most purchases'."""
        active, _ = activity_rows(frame, self.activity_kinds)
        return activity_violations(frame, active)

    def finalize(self, state: RecoveryState, as_of: dt.datetime | None = None) -> MetricResult:
        """The matched difference in the chosen outcome; the naive gap beside it."""
        if len(state.complainer_id) == 0 or len(state.purchases) == 0:
            msg = "complaint_recovery needs complaints and purchases"
            raise InsufficientDataError(msg)
        as_of_us = state_as_of(state.last_us, as_of)
        observed = int(
            period_index(np.array([as_of_us], dtype="datetime64[us]"), "day", zone=self.zone)[0]
        )  # days before this one are complete
        purchases = state.purchases
        lo, hi = purchases.period_range()
        rows, days = active_pairs(purchases, lo, hi)
        n = len(purchases)
        buyer = purchases.n_events > 0
        first_day = np.full(n, _NEVER, dtype=np.int64)
        np.minimum.at(first_day, rows, days)
        where = np.searchsorted(purchases.customer_id, state.complainer_id)
        where = np.minimum(where, n - 1)
        known = purchases.customer_id[where] == state.complainer_id
        treated_row = np.full(n, -1, dtype=np.int64)  # index month of each complainer's row
        months = period_index(
            state.first_complaint_us.astype("datetime64[us]"), "month", zone=self.zone
        )
        treated_row[where[known]] = months[known]
        complained = np.zeros(n, dtype=bool)
        complained[where[known]] = True
        h, big_r = self.horizon_days, self.retention_days
        n_freq = len(self.frequency_edges) + 1
        n_ten = len(self.tenure_edges) + 1
        cells: dict[str, list[NDArray[Any]]] = {
            key: []
            for key in (
                "month", "stratum", "n_t", "rep_t", "n_c", "rep_c", "ret_ok", "ret_t", "ret_c"
            )
        }  # fmt: skip
        skipped = 0
        for month in np.unique(months[known]):  # a loop over index months, not customers
            start = int(_month_first_days(np.array([month]))[0])
            end = int(_month_first_days(np.array([month + 1]))[0])
            in_month = treated_row == month
            if end + h > observed:
                skipped += int((in_month & buyer & (first_day < start)).sum())
                continue
            pre = (days >= start - h) & (days < start)
            count = np.bincount(rows[pre], minlength=n)
            existing = buyer & (first_day < start)
            repurchase = np.zeros(n, dtype=bool)
            repurchase[rows[(days >= end) & (days < end + h)]] = True
            retained = np.zeros(n, dtype=bool)
            retained[rows[(days >= end + big_r - h) & (days < end + big_r)]] = True
            freq = np.searchsorted(np.array(self.frequency_edges), count, side="right")
            tenure = np.searchsorted(
                np.array(self.tenure_edges), start - np.where(existing, first_day, start), "right"
            )
            around = (days >= start - _LEAD_DAYS) & (days < end)
            recent = np.minimum(np.bincount(rows[around], minlength=n), 2)
            stratum = (freq * n_ten + tenure) * 3 + recent
            size = n_freq * n_ten * 3
            treat = in_month & existing
            control = ~complained & existing

            def tally(mask: NDArray[np.bool_], size: int = size, s: Any = stratum) -> Any:
                return np.bincount(s[mask], minlength=size).astype(np.int64)

            cells["month"].append(np.full(size, month, dtype=np.int64))
            cells["stratum"].append(np.arange(size, dtype=np.int64))
            cells["n_t"].append(tally(treat))
            cells["rep_t"].append(tally(treat & repurchase))
            cells["n_c"].append(tally(control))
            cells["rep_c"].append(tally(control & repurchase))
            cells["ret_ok"].append(np.full(size, end + big_r <= observed))
            cells["ret_t"].append(tally(treat & retained))
            cells["ret_c"].append(tally(control & retained))
        if not cells["month"]:
            msg = (
                "complaint_recovery: no complaint month whose repurchase window of "
                f"{h} days has ended before as_of"
            )
            raise InsufficientDataError(msg)
        c = {key: np.concatenate(values) for key, values in cells.items()}
        ok = c["ret_ok"]
        rep = matched_difference(c["n_t"], c["rep_t"], c["n_c"], c["rep_c"])
        ret = matched_difference(
            np.where(ok, c["n_t"], 0), c["ret_t"], np.where(ok, c["n_c"], 0), c["ret_c"]
        )

        def naive(y_t: NDArray[np.int64], y_c: NDArray[np.int64], use: Any) -> tuple[float, float]:
            n_t, n_c = int(c["n_t"][use].sum()), int(c["n_c"][use].sum())
            p_t = y_t[use].sum() / n_t if n_t else math.nan
            p_c = y_c[use].sum() / n_c if n_c else math.nan
            return float(p_t), float(p_c)

        all_cells = np.ones(len(ok), dtype=bool)
        naive_rep = naive(c["rep_t"], c["rep_c"], all_cells)
        naive_ret = naive(c["ret_t"], c["ret_c"], ok)
        chosen = rep if self.outcome == "repurchase" else ret
        chosen_naive = naive_rep if self.outcome == "repurchase" else naive_ret
        difference, se, _, _, matched = chosen
        z = z_value(self.alpha)
        naive_note = (
            "naive_difference (complainers against all non-complainers) is unmatched and "
            "shown for comparison only"
        )
        flags = [naive_note]
        if skipped:
            flags.append(f"{skipped:,} complainers left out: their repurchase window had not ended")
        treated_total = int(c["n_t"].sum())
        unmatched = treated_total - rep[4]
        if unmatched:
            flags.append(f"complainers without a matching control: {unmatched:,}")
        if self.outcome == "retention" and not ok.any():
            flags.append(f"no complaint month with a {big_r}-day retention window before as_of")
        details = {
            "complainers": float(len(state.complainer_id)),
            "complainers_compared": float(treated_total),
            "matched": float(matched),
            "treated_rate": chosen[2],
            "matched_control_rate": chosen[3],
            "naive_treated_rate": chosen_naive[0],
            "naive_control_rate": chosen_naive[1],
            "naive_difference": _PP * (chosen_naive[0] - chosen_naive[1]),
            "repurchase_difference": _PP * rep[0],
            "repurchase_se": _PP * rep[1],
            "retention_difference": _PP * ret[0],
            "retention_se": _PP * ret[1],
            "naive_repurchase_difference": _PP * (naive_rep[0] - naive_rep[1]),
            "naive_retention_difference": _PP * (naive_ret[0] - naive_ret[1]),
        }
        has_interval = not math.isnan(se)
        low, high = _PP * (difference - z * se), _PP * (difference + z * se)
        return programme_result(
            self,
            value=_PP * difference,
            n=matched,
            as_of_us=as_of_us,
            method=(
                "coarsened exact matching on index month, prior purchase days, tenure and "
                "purchases around the index month; difference of shares weighted by "
                "complainers, normal interval"
            ),
            unit="percentage points",
            se=_PP * se if has_interval else None,
            interval=(low, high) if has_interval else None,
            level=1 - self.alpha,
            flags=tuple(flags),
            details=details,
            tables={
                "month_start": c["month"].astype("datetime64[M]").astype("datetime64[D]"),
                "stratum": c["stratum"],
                "treated": c["n_t"],
                "treated_repurchase": c["rep_t"],
                "controls": c["n_c"],
                "control_repurchase": c["rep_c"],
                "retention_observed": c["ret_ok"],
                "treated_retention": c["ret_t"],
                "control_retention": c["ret_c"],
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"complaint_recovery"``."""
    register(ComplaintRecovery)
