r"""The loyalty-programme effect: matched, staggered difference in differences.

Members choose to join, and the customers who join are rarely like those who do not: they
already bought more. The raw gap between members and non-members mixes the programme's effect
with that selection; Leenheer, van Heerde, Bijmolt & Smidts (2007) found the effect corrected
for selection about seven times smaller than the raw gap. :class:`ProgrammeEffect`
(``"programme_effect"``) estimates the effect in four steps:

1. **Panel.** Each customer's outcome per calendar period (spend, orders, or being active)
   from the events; the enrollment period of each member from its first ``"enrolled"`` event.
2. **Matching on pre-enrollment behaviour.** For every enrollment cohort (members who joined
   in period :math:`g`), the members active by the base period :math:`b = g - 1` are matched
   by coarsened exact matching (:func:`~stickykit.stats.matching.cem`) to never-enrolled
   customers on their behaviour in the ``lookback`` periods before :math:`b`. A matched
   non-member **takes its member's enrollment period** :math:`g` as its own reference date,
   so both are compared on the same calendar. The matching window ends before the base
   period on purpose: members join because they buy more, and matched on noisy past
   outcomes they stay heavier than their matches; a base period inside the window would
   let that regression to the mean pass for an effect (Daw & Hatfield 2018).
3. **Group-time effects.** :math:`ATT(g, t)` of Callaway & Sant'Anna (2021) for each cohort
   and period against its CEM-weighted controls
   (:func:`~stickykit.stats.staggered.group_time_effects`), summarised by event time (periods
   since enrollment), by cohort and overall; standard errors are clustered by customer (a
   non-member matched in several cohorts is one cluster).
4. **Pre-trends and the naive gap.** Pre-enrollment cells before the matching window test
   the parallel-trends assumption (a joint Wald test, and
   :meth:`ProgrammeEffect.plot_pretrends`); cells that use a matched-on period are shown
   but not tested (matching makes them alike by construction). The naive member minus
   non-member gap is reported beside the estimate, labelled as such.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> m = ProgrammeEffect(lookback=2)
>>> m.name, m.params()["outcome"], m.params()["match_on"]
('programme_effect', 'spend', ['active_periods', 'spend', 'tenure'])
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import check_zone, us_to_datetime
from stickykit.core.arrays import unique_codes
from stickykit.core.periods import Period, period_index
from stickykit.errors import InsufficientDataError, StateMismatchError
from stickykit.frames import EventFrame
from stickykit.io.events import currency_violations
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints, package_version
from stickykit.metrics.behaviour.retention import observed_periods, period_dates
from stickykit.metrics.behaviour.summary import (
    activity_rows,
    optional_kinds,
    period_field,
    resolve_as_of,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.bootstrap import check_seed
from stickykit.stats.intervals import check_alpha
from stickykit.stats.matching import Cuts, cem
from stickykit.stats.staggered import (
    BasePeriod,
    Inference,
    StackedDesign,
    group_time_effects,
    plot_event_study,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MATCH_COVARIATES", "Outcome", "ProgrammeEffect", "ProgrammeEffectState"]

Outcome = Literal["spend", "orders", "active"]
#: Pre-enrollment covariates the matching can use.
MATCH_COVARIATES = ("active_periods", "orders", "spend", "tenure")
_NO_TIME = int(np.iinfo(np.int64).min)
_NEVER = np.iinfo(np.int64).max // 4
_REFERENCE = (
    "coarsened exact matching on pre-enrollment behaviour (Iacus, King & Porro 2012, Political "
    "Analysis 20(1), 1-24) with matched non-members taking their member's enrollment period; "
    "group-time effects (Callaway & Sant'Anna 2021, Journal of Econometrics 225(2), 200-230); "
    "self-selection into loyalty programmes: Leenheer, van Heerde, Bijmolt & Smidts (2007), "
    "International Journal of Research in Marketing 24(1), 31-47"
)


def _empty_ids() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


@attrs.frozen(eq=False)
class ProgrammeEffectState:
    """Per customer and period: spend and orders; per member: the enrollment time.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    cell_id : numpy.ndarray
        Customer id of each (customer, period) cell; cells sorted by id, then period, unique.
    cell_period : numpy.ndarray
        int64 calendar period of each cell.
    spend : numpy.ndarray
        float64 net amount of the cell's qualifying events and returns.
    orders : numpy.ndarray
        int64 qualifying events (returns excluded) in the cell.
    member_id : numpy.ndarray
        Sorted unique ids of customers with an enrollment event.
    enrolled_us : numpy.ndarray
        int64 earliest enrollment time of each member (microseconds since the epoch, UTC).
    last_us : int
        Latest time of any counted row (the default ``as_of`` is just after it).
    currency : str
        The one currency of the amounts (``""`` without amounts).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([5, 5, 5]),
    ...                timestamp=np.array(["2024-01-02", "2024-01-09", "2024-02-01"],
    ...                                   dtype="datetime64[us]"),
    ...                kind=np.array(["purchase", "purchase", "enrolled"]),
    ...                amount=np.array([10.0, 5.0, 0.0]))
    >>> m = ProgrammeEffect()
    >>> s = m.update(m.init(), f)
    >>> s.cell_period.tolist(), s.spend.tolist(), s.orders.tolist(), s.member_id.tolist()
    ([648], [15.0], [2], [5])
    """

    fingerprint: str
    cell_id: NDArray[Any] = attrs.field(factory=_empty_ids)
    cell_period: NDArray[np.int64] = attrs.field(factory=_empty_ids)
    spend: NDArray[np.float64] = attrs.field(factory=lambda: np.empty(0, np.float64))
    orders: NDArray[np.int64] = attrs.field(factory=_empty_ids)
    member_id: NDArray[Any] = attrs.field(factory=_empty_ids)
    enrolled_us: NDArray[np.int64] = attrs.field(factory=_empty_ids)
    last_us: int = _NO_TIME
    currency: str = ""


def _check_ids(a: NDArray[Any], b: NDArray[Any]) -> None:
    if len(a) and len(b) and (a.dtype.kind == "U") != (b.dtype.kind == "U"):
        msg = f"cannot merge customer ids of types {a.dtype} and {b.dtype}"
        raise StateMismatchError(msg)


def _concat_ids(a: NDArray[Any], b: NDArray[Any]) -> NDArray[Any]:
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    return np.concatenate([a, b])


def _group_cells(
    ids: NDArray[Any], periods: NDArray[np.int64], spend: NDArray[np.float64], orders: Any
) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Sum spend and orders per (id, period), sorted by id then period."""
    if len(ids) == 0:
        return ids, periods, spend, np.asarray(orders, dtype=np.int64)
    order = np.lexsort((periods, ids))
    ids, periods = ids[order], periods[order]
    new = np.ones(len(ids), dtype=bool)
    new[1:] = (ids[1:] != ids[:-1]) | (periods[1:] != periods[:-1])
    starts = np.flatnonzero(new)
    return (
        ids[starts],
        periods[starts],
        np.add.reduceat(spend[order], starts),
        np.add.reduceat(np.asarray(orders, dtype=np.int64)[order], starts),
    )


def _first_enrollment(
    ids: NDArray[Any], times: NDArray[np.int64]
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    if len(ids) == 0:
        return ids, times
    unique, codes = unique_codes(ids)
    first = np.full(len(unique), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, times)
    return unique, first


def _quantile_cuts(values: NDArray[np.float64], bins: int) -> NDArray[np.float64]:
    if bins <= 1 or len(values) == 0:
        return np.zeros(0)
    cuts = np.quantile(values, np.arange(1, bins) / bins)
    return np.unique(np.round(cuts, 6))


def _match_on(value: Any) -> tuple[str, ...]:
    names = tuple(value)
    unknown = [v for v in names if v not in MATCH_COVARIATES]
    if unknown or not names or len(set(names)) != len(names):
        msg = f"match_on must name distinct covariates among {MATCH_COVARIATES}, got {names!r}"
        raise ValueError(msg)
    return names


def _positive_int(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if type(value) is not int or value < 1:
        msg = f"{attribute.name} must be a positive integer, got {value!r}"
        raise ValueError(msg)


def _non_negative_int(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if type(value) is not int or value < 0:
        msg = f"{attribute.name} must be a non-negative integer, got {value!r}"
        raise ValueError(msg)


def _alpha(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_alpha(value)


def _seed(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_seed(value)


def _zone(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_zone("period", value)


@attrs.frozen
class ProgrammeEffect(MetricBase):
    r"""Effect of joining a loyalty programme on behaviour, by matched staggered DiD.

    Parameters
    ----------
    outcome : {"spend", "orders", "active"}
        Per customer and period: net spend, qualifying events (returns excluded), or 1 when
        the customer had one (so the effect is in percentage points of activity).
    enrolled_kind : str
        The event kind of an enrollment; a member's first such event dates the enrollment.
    kinds : tuple of str or None
        Event kinds that count as behaviour (default ``("purchase",)``; ``None``: every kind
        but ``enrolled_kind``).
    period : {"day", "week", "month", "quarter"}
        The calendar period of the panel (default month), in ``zone``.
    zone : str
        IANA time zone of the calendar.
    lookback : int
        Periods before the base period (the period before enrollment) whose behaviour is
        matched on.
    match_on : tuple of str
        Pre-enrollment covariates, among ``"active_periods"`` (periods with activity in the
        lookback, matched exactly), ``"orders"`` and ``"spend"`` (in the lookback, coarsened
        into ``bins`` quantile bins of the cohort's members), and ``"tenure"`` (periods from
        the first activity to the base period, exact up to ``lookback``, longer pooled).
        Default: all but ``"orders"``. Tenure matters when customers join early in their
        life (at sign-up): a new customer's first months differ from a settled one's.
    bins : int
        Quantile bins of ``orders`` and ``spend``.
    base_period : {"varying", "universal"}
        Base period of the pre-enrollment cells (Callaway & Sant'Anna).
    anticipation : int
        Periods before enrollment in which members may already react (sign-up offers).
    alpha : float
        1 - confidence level.
    inference : {"influence", "multiplier"}
        Influence-function standard errors, or the seeded multiplier bootstrap (which also
        gives a simultaneous band for the event study).
    n_boot : int
        Multiplier-bootstrap replicates.
    seed : int
        Seed of the multiplier bootstrap.

    Notes
    -----
    For cohort :math:`g` and period :math:`t`, with matched members :math:`M_g` (weight 1)
    and matched never-enrolled customers :math:`C_g` with CEM weights :math:`w_j`, each taking
    :math:`g` as its reference period, matched on their behaviour in periods
    :math:`b - L, \dots, b - 1` (:math:`L` = ``lookback``), with base period
    :math:`b = g - 1 - \delta`:

    .. math::

        ATT(g, t) = \frac{1}{|M_g|}\sum_{i \in M_g} (Y_{it} - Y_{ib})
        - \frac{\sum_{j \in C_g} w_j (Y_{jt} - Y_{jb})}{\sum_{j \in C_g} w_j} .

    ``value`` is :math:`\theta^O_{sel}`, the average over matched members of their mean
    effect after enrollment (cohorts weighted by size). Members who were not active before
    enrolling (nothing to match on) and members without a matching non-member are left out,
    counted and flagged: the estimate is the effect on the matched members. The CEM weights
    are treated as fixed in the standard errors. Members and matches must have been active
    by the base period. A member who later leaves the programme stays in the member group
    (intention to treat: the effect of joining, not of staying). ``finalize`` builds dense
    customers x periods arrays (about 50 bytes
    per cell: a million customers over 36 months need about 2 GB).

    The naive gap (``details["naive_gap"]``) is what a dashboard shows: per period, the mean
    outcome of customers enrolled by then minus that of never-enrolled customers active by
    then, averaged over periods weighted by members; it has no interval and no causal
    reading.

    ``tables`` hold the event study (``event_time``, ``event_att``, ``event_se``,
    ``event_low``, ``event_high``, ``event_band_low``, ``event_band_high``, ``event_kind``),
    the cohorts (``cohort_start``, ``cohort_att``, ``cohort_se``, ``cohort_low``,
    ``cohort_high``, ``cohort_members``), the matching per cohort (``match_start``, ``match_members``,
    ``match_no_history``, ``match_matched``, ``match_pool``, ``match_controls``,
    ``match_l1_before``, ``match_l1_after``), the group-time cells (``cell_cohort_start``,
    ``cell_period_start``, ``cell_event_time``, ``cell_kind``, ``cell_att``, ``cell_se``) and
    the naive comparison per period (``naive_period_start``, ``naive_members``,
    ``naive_member_mean``, ``naive_nonmember_mean``).

    References
    ----------
    Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance checking:
    coarsened exact matching. *Political Analysis* 20(1), 1-24.
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.
    Daw, J. R. and Hatfield, L. A. (2018). Matching and regression to the mean in
    difference-in-differences analysis. *Health Services Research* 53(6), 4138-4156.
    Leenheer, J., van Heerde, H. J., Bijmolt, T. H. A. and Smidts, A. (2007). Do loyalty
    programs really enhance behavioral loyalty? An empirical analysis accounting for
    self-selecting members. *International Journal of Research in Marketing* 24(1), 31-47.

    Examples
    --------
    Two members join in March; before, they spent 10 a month, as did customer 3, while
    customer 4 spent 1. Matching on pre-enrollment spend keeps customer 3 as the control and
    prunes customer 4. The members' spend rises by 10 after joining and customer 3's does not:
    the effect is 10, while the naive gap, 20 against the non-members' (10 + 1)/2, is 14.5:

    >>> import datetime as dt
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> months = np.array(["2024-01-15", "2024-02-15", "2024-03-15", "2024-04-15"],
    ...                   dtype="datetime64[us]")
    >>> spend = {1: [10, 10, 20, 20], 2: [10, 10, 20, 20], 3: [10, 10, 10, 10], 4: [1, 1, 1, 1]}
    >>> ids = np.repeat([1, 2, 3, 4], 4)
    >>> f = EventFrame(
    ...     event_id=np.arange(18), customer_id=np.concatenate([ids, [1, 2]]),
    ...     timestamp=np.concatenate([np.tile(months, 4),
    ...                               np.array(["2024-03-01", "2024-03-02"], "datetime64[us]")]),
    ...     kind=np.array(["purchase"] * 16 + ["enrolled"] * 2),
    ...     amount=np.array([float(x) for c in (1, 2, 3, 4) for x in spend[c]] + [0.0, 0.0]))
    >>> m = ProgrammeEffect(lookback=2, match_on=("spend",), bins=2)
    >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    >>> r.value, r.details["naive_gap"], r.tables["event_time"].tolist()
    (10.0, 14.5, [-1, 0, 1])
    >>> r.tables["match_matched"].tolist(), r.tables["match_controls"].tolist()
    ([2], [1])
    """

    name: ClassVar[str] = "programme_effect"
    family: ClassVar[str] = "programme"
    input_kind: ClassVar[Literal["events"]] = "events"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    outcome: Outcome = attrs.field(
        default="spend", validator=attrs.validators.in_(("spend", "orders", "active"))
    )
    enrolled_kind: str = attrs.field(
        default="enrolled", validator=attrs.validators.instance_of(str)
    )
    kinds: tuple[str, ...] | None = attrs.field(default=("purchase",), converter=optional_kinds)
    period: Period = attrs.field(default="month", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=_zone)
    lookback: int = attrs.field(default=6, validator=_positive_int)
    match_on: tuple[str, ...] = attrs.field(
        default=("active_periods", "spend", "tenure"), converter=_match_on
    )
    bins: int = attrs.field(default=4, validator=_positive_int)
    base_period: BasePeriod = attrs.field(
        default="varying", validator=attrs.validators.in_(("varying", "universal"))
    )
    anticipation: int = attrs.field(default=0, validator=_non_negative_int)
    alpha: float = attrs.field(default=0.05, validator=_alpha)
    inference: Inference = attrs.field(
        default="influence", validator=attrs.validators.in_(("influence", "multiplier"))
    )
    n_boot: int = attrs.field(default=999, validator=_positive_int)
    seed: int = attrs.field(default=0, validator=_seed)

    # -- the four functions -----------------------------------------------------------------

    def init(self) -> ProgrammeEffectState:
        """The empty state."""
        return ProgrammeEffectState(fingerprint=self.fingerprint)

    def check(self, frame: EventFrame) -> list[Violation]:
        """Rows ``update`` refuses: amounts in a currency other than most rows'."""
        return currency_violations(frame)[1]

    def update(self, state: ProgrammeEffectState, frame: EventFrame) -> ProgrammeEffectState:
        """Fold the behaviour and enrollment events of ``frame`` into ``state``."""
        return self.merge(state, self._summarise(frame))

    def merge(self, a: ProgrammeEffectState, b: ProgrammeEffectState) -> ProgrammeEffectState:
        """Union of cells (sums added) and of members (earliest enrollment kept)."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        if a.currency and b.currency and a.currency != b.currency:
            msg = f"cannot merge amounts in {a.currency} and {b.currency}: convert them first"
            raise StateMismatchError(msg)
        if len(b.cell_id) == 0 and len(b.member_id) == 0 and b.last_us == _NO_TIME:
            return a
        if len(a.cell_id) == 0 and len(a.member_id) == 0 and a.last_us == _NO_TIME:
            return b
        _check_ids(a.cell_id, b.cell_id)
        _check_ids(a.member_id, b.member_id)
        cells = _group_cells(
            _concat_ids(a.cell_id, b.cell_id),
            np.concatenate([a.cell_period, b.cell_period]),
            np.concatenate([a.spend, b.spend]),
            np.concatenate([a.orders, b.orders]),
        )
        members = _first_enrollment(
            _concat_ids(a.member_id, b.member_id),
            np.concatenate([a.enrolled_us, b.enrolled_us]),
        )
        return ProgrammeEffectState(
            fingerprint=a.fingerprint,
            cell_id=cells[0],
            cell_period=cells[1],
            spend=cells[2],
            orders=cells[3],
            member_id=members[0],
            enrolled_us=members[1],
            last_us=max(a.last_us, b.last_us),
            currency=a.currency or b.currency,
        )

    def finalize(
        self, state: ProgrammeEffectState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Match, estimate the group-time effects and summarise them (see the class notes)."""
        if len(state.member_id) == 0:
            msg = (
                f"programme_effect needs enrolled members: no event of kind {self.enrolled_kind!r}"
            )
            raise InsufficientDataError(msg)
        if len(state.cell_id) == 0:
            msg = f"programme_effect needs behaviour events (of kinds {self.kinds})"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(np.array([state.last_us]), as_of)
        last, partial = observed_periods(as_of_us, self.period, self.zone)
        last_complete = last - 1 if partial else last
        origin = int(state.cell_period.min())
        n_periods = last_complete - origin + 1
        if n_periods < 2:
            msg = (
                f"programme_effect needs at least two complete {self.period}s of behaviour, "
                f"got {max(n_periods, 0)}"
            )
            raise InsufficientDataError(msg)
        panel = _Panel.build(self, state, origin, n_periods)
        matching = self._match(panel)
        if not matching.rows:
            msg = (
                "no member could be matched: no cohort has members active before enrolling "
                "and never-enrolled customers with the same pre-enrollment behaviour"
            )
            raise InsufficientDataError(msg)
        design = matching.design()
        effects = group_time_effects(
            panel.outcome[matching.used_units],
            design,
            periods=origin + np.arange(n_periods, dtype=np.int64),
            base_period=self.base_period,
            anticipation=self.anticipation,
            alpha=self.alpha,
            inference=self.inference,
            n_boot=self.n_boot,
            seed=self.seed,
            control_label=(
                "CEM-matched never-enrolled customers taking their member's enrollment period"
            ),
            matched_periods=self.lookback,
        )
        return self._result(state, panel, matching, effects, as_of_us)

    # -- plot -------------------------------------------------------------------------------

    def plot_pretrends(self, result: MetricResult, ax: Axes | None = None) -> Axes:
        """The event-study plot of a result: pre-enrollment estimates (pre-trends) and effects.

        Parameters
        ----------
        result : MetricResult
            A ``programme_effect`` result.
        ax : matplotlib.axes.Axes, optional
            Where to draw (a new figure's axes by default); it is returned.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (the ``plot`` extra).

        Examples
        --------
        >>> from matplotlib.figure import Figure
        >>> from stickykit.metrics.base import MetricResult
        >>> r = MetricResult(metric="programme_effect", value=1.0, n=2, n_missing=0, se=0.1,
        ...     ci_low=0.8, ci_high=1.2, level=0.95, method="-", reference="-", params={},
        ...     as_of=None, version="0", tables={
        ...         "event_time": np.array([-1, 0]), "event_att": np.array([0.0, 1.0]),
        ...         "event_low": np.array([-0.2, 0.8]), "event_high": np.array([0.2, 1.2])})
        >>> ProgrammeEffect().plot_pretrends(r, ax=Figure().subplots()).get_xlabel()
        'months since enrollment'
        """
        if result.metric != self.name:
            msg = f"plot_pretrends needs a {self.name} result, got {result.metric!r}"
            raise ValueError(msg)
        t = result.tables
        table = {
            "event_time": t["event_time"],
            "att": t["event_att"],
            "ci_low": t["event_low"],
            "ci_high": t["event_high"],
        }
        if "event_band_low" in t:
            table["band_low"] = t["event_band_low"]
            table["band_high"] = t["event_band_high"]
        if "event_kind" in t:
            table["kind"] = t["event_kind"]
        level = result.level if result.level is not None else 1 - self.alpha
        return plot_event_study(
            table,
            ax=ax,
            xlabel=f"{self.period}s since enrollment",
            ylabel=f"effect on {self.outcome} ({result.unit})" if result.unit else "effect",
            level=level,
        )

    # -- kernels ----------------------------------------------------------------------------

    def _summarise(self, frame: EventFrame) -> ProgrammeEffectState:
        currency, mixed = currency_violations(frame)
        raise_first("EventFrame", mixed)
        if len(frame) == 0:
            return self.init()
        enrol = np.zeros(len(frame), dtype=bool)
        if frame.kind is not None:
            enrol = frame.kind == self.enrolled_kind
            missing = frame.label_missing.get("kind")
            if missing is not None:
                enrol &= ~missing
        active, money = activity_rows(frame, self.kinds)
        active &= ~enrol
        money &= ~enrol
        keep = active | money
        times = frame.timestamp.view(np.int64)
        periods = period_index(frame.timestamp[keep], self.period, zone=self.zone)
        amount = (
            np.zeros(int(keep.sum()))
            if frame.amount is None
            else np.where(money[keep], frame.amount[keep], 0.0)
        )
        cells = _group_cells(frame.customer_id[keep], periods, amount, active[keep])
        members = _first_enrollment(frame.customer_id[enrol], times[enrol])
        counted = keep | enrol
        return ProgrammeEffectState(
            fingerprint=self.fingerprint,
            cell_id=cells[0],
            cell_period=cells[1],
            spend=cells[2].astype(np.float64),
            orders=cells[3],
            member_id=members[0],
            enrolled_us=members[1].astype(np.int64),
            last_us=int(times[counted].max()) if counted.any() else _NO_TIME,
            currency=(currency or "") if frame.amount is not None and keep.any() else "",
        )

    def _match(self, panel: _Panel) -> _Matching:
        matching = _Matching(n_customers=len(panel.ids))
        lookback = self.lookback
        never = ~panel.is_member
        observable = panel.is_member & (panel.cohort < panel.n_periods)
        for g in np.unique(panel.cohort[observable]).tolist():
            cohort_members = panel.is_member & (panel.cohort == g)
            base = g - 1 - self.anticipation
            history = panel.first_active <= base
            treated_units = np.flatnonzero(cohort_members & history)
            pool_units = np.flatnonzero(never & history)
            row = {
                "g": g,
                "members": int(cohort_members.sum()),
                "no_history": int((cohort_members & ~history).sum()),
                "pool": len(pool_units),
                "matched": 0,
                "controls": 0,
                "l1_before": math.nan,
                "l1_after": math.nan,
            }
            matching.cohorts.append(row)
            if base < 0 or len(treated_units) == 0 or len(pool_units) == 0:
                continue
            units = np.concatenate([treated_units, pool_units])
            treated = np.zeros(len(units), dtype=bool)
            treated[: len(treated_units)] = True
            covariates, cuts, l1_bins = self._covariates(panel, units, base, treated, lookback)
            result = cem(covariates, treated, cuts=cuts, l1_bins=l1_bins)
            keep = result.weights > 0
            row.update(
                matched=result.n_treated_matched,
                controls=result.n_control_matched,
                l1_before=result.l1_before,
                l1_after=result.l1_after,
            )
            if result.n_treated_matched:
                matching.rows.append((units[keep], treated[keep], result.weights[keep], g))
        return matching

    def _covariates(
        self,
        panel: _Panel,
        units: NDArray[np.intp],
        base: int,
        treated: NDArray[np.bool_],
        lookback: int,
    ) -> tuple[dict[str, NDArray[np.float64]], dict[str, Cuts], dict[str, Cuts]]:
        """Behaviour in the ``lookback`` periods before the base period (excluded)."""
        start = max(0, base - lookback)
        covariates: dict[str, NDArray[np.float64]] = {}
        cuts: dict[str, Cuts] = {}
        l1_bins: dict[str, Cuts] = {}
        for name in self.match_on:
            if name == "tenure":
                values = np.minimum(base - panel.first_active[units], lookback + 1).astype(float)
                cuts[name] = l1_bins[name] = None
            elif name == "active_periods":
                values = (panel.cum_active[units, base] - panel.cum_active[units, start]).astype(
                    float
                )
                cuts[name] = l1_bins[name] = None
            else:
                cum = panel.cum_orders if name == "orders" else panel.cum_spend
                values = np.round(cum[units, base] - cum[units, start], 6)
                cuts[name] = _quantile_cuts(values[treated], self.bins)
                l1_bins[name] = _quantile_cuts(values, 10)
            covariates[name] = values
        return covariates, cuts, l1_bins

    def _result(
        self,
        state: ProgrammeEffectState,
        panel: _Panel,
        matching: _Matching,
        effects: Any,
        as_of_us: int,
    ) -> MetricResult:
        cohorts = matching.cohorts
        members = int(panel.is_member.sum())
        not_observable = int((panel.is_member & (panel.cohort >= panel.n_periods)).sum())
        no_history = sum(int(c["no_history"]) for c in cohorts)
        matched = sum(int(c["matched"]) for c in cohorts)
        controls = len(np.unique(np.concatenate([r[0][~r[1]] for r in matching.rows])))
        unmatched = members - not_observable - no_history - matched
        weights = np.array([float(c["matched"]) for c in cohorts])
        l1_before = np.array([float(c["l1_before"]) for c in cohorts])
        l1_after = np.array([float(c["l1_after"]) for c in cohorts])
        use = (weights > 0) & np.isfinite(l1_before) & np.isfinite(l1_after)
        naive = panel.naive()
        flags = list(effects.flags)
        if no_history:
            flags.append(
                f"{no_history:,} member(s) not active before enrolling: nothing to match on, "
                "left out"
            )
        if unmatched:
            flags.append(
                f"{unmatched:,} member(s) without a never-enrolled match: left out (the effect "
                "is for the matched members)"
            )
        if not_observable:
            flags.append(
                f"{not_observable:,} member(s) enrolled in the partial {self.period} "
                "containing as_of: left out"
            )
        pre = effects.pretrend
        if pre.df == 0:
            flags.append(
                "no pre-enrollment period before the matching window: parallel trends are "
                "untested (shorten lookback or add earlier data)"
            )
        elif pre.p_value < self.alpha:
            flags.append(
                f"pre-trends: the pre-enrollment effects differ from 0 (chi2({pre.df}) = "
                f"{pre.statistic:.2f}, p = {pre.p_value:.4f}): parallel trends are doubtful"
            )
        es, bc, cells = effects.event_study, effects.by_cohort, effects.cells
        overall = effects.overall
        unit = {
            "spend": f"{state.currency or 'money'} per customer per {self.period}",
            "orders": f"orders per customer per {self.period}",
            "active": "share",
        }[self.outcome]
        when = us_to_datetime(as_of_us)
        match_start = period_dates(
            panel.origin + np.array([int(c["g"]) for c in cohorts], dtype=np.int64), self.period
        )
        tables: dict[str, Any] = {
            "event_time": es["event_time"],
            "event_att": es["att"],
            "event_se": es["se"],
            "event_low": es["ci_low"],
            "event_high": es["ci_high"],
            "event_band_low": es["band_low"],
            "event_band_high": es["band_high"],
            "event_kind": es["kind"],
            "cohort_start": period_dates(bc["cohort"], self.period),
            "cohort_att": bc["att"],
            "cohort_se": bc["se"],
            "cohort_low": bc["ci_low"],
            "cohort_high": bc["ci_high"],
            "cohort_members": bc["n_treated"],
            "match_start": match_start,
            **{
                f"match_{key}": np.array([c[key] for c in cohorts], dtype=np.int64)
                for key in ("members", "no_history", "matched", "pool", "controls")
            },
            "match_l1_before": l1_before,
            "match_l1_after": l1_after,
            "cell_cohort_start": period_dates(cells["cohort"], self.period),
            "cell_period_start": period_dates(cells["period"], self.period),
            "cell_event_time": cells["event_time"],
            "cell_kind": cells["kind"],
            "cell_att": cells["att"],
            "cell_se": cells["se"],
            "naive_period_start": period_dates(
                panel.origin + np.arange(panel.n_periods, dtype=np.int64), self.period
            ),
            "naive_members": naive["members"],
            "naive_member_mean": naive["member_mean"],
            "naive_nonmember_mean": naive["nonmember_mean"],
        }
        details = {
            "naive_gap": naive["gap"],
            "att_event_average": effects.overall_event.value,
            "att_event_average_se": effects.overall_event.se,
            "members": float(members),
            "members_matched": float(matched),
            "members_unmatched": float(unmatched),
            "members_no_history": float(no_history),
            "members_not_observable": float(not_observable),
            "controls_matched": float(controls),
            "l1_before": float(np.average(l1_before[use], weights=weights[use]))
            if use.any()
            else math.nan,
            "l1_after": float(np.average(l1_after[use], weights=weights[use]))
            if use.any()
            else math.nan,
            "pretrend_statistic": pre.statistic,
            "pretrend_df": float(pre.df),
            "pretrend_p_value": pre.p_value,
            "clusters": float(effects.n_clusters),
            "periods": float(panel.n_periods),
        }
        return MetricResult(
            metric=self.name,
            value=overall.value,
            n=matched,
            n_missing=members - matched,
            se=overall.se,
            ci_low=overall.ci_low,
            ci_high=overall.ci_high,
            level=1 - self.alpha,
            method=(
                f"CEM on {', '.join(self.match_on)} over {self.lookback} {self.period}s "
                f"before enrollment; {effects.method}; CEM weights treated as fixed. Naive "
                "member minus non-member gap in details['naive_gap'] (no adjustment, no "
                "interval)"
            ),
            reference=self.reference,
            params={**self.params(), "as_of": when},
            as_of=when,
            version=package_version(),
            unit=unit,
            flags=tuple(flags),
            details=details,
            tables=tables,
        )


@attrs.frozen(eq=False)
class _Panel:
    """Dense customers x periods arrays of one state, for periods ``origin ..``."""

    ids: NDArray[Any]
    origin: int
    n_periods: int
    outcome: NDArray[np.float64]
    active: NDArray[np.bool_]
    cum_active: NDArray[np.int64]
    cum_orders: NDArray[np.int64]
    cum_spend: NDArray[np.float64]
    first_active: NDArray[np.int64]
    is_member: NDArray[np.bool_]
    cohort: NDArray[np.int64]

    @classmethod
    def build(
        cls, metric: ProgrammeEffect, state: ProgrammeEffectState, origin: int, n_periods: int
    ) -> _Panel:
        if len(state.member_id) and (state.member_id.dtype.kind == "U") != (
            state.cell_id.dtype.kind == "U"
        ):
            msg = "enrollment and behaviour events use customer ids of different types"
            raise StateMismatchError(msg)
        ids = np.union1d(state.cell_id, state.member_id)
        n = len(ids)
        inside = state.cell_period - origin < n_periods
        rows = np.searchsorted(ids, state.cell_id[inside])
        columns = state.cell_period[inside] - origin
        spend = np.zeros((n, n_periods))
        orders = np.zeros((n, n_periods), dtype=np.int64)
        spend[rows, columns] = state.spend[inside]
        orders[rows, columns] = state.orders[inside]
        active = orders > 0
        outcome = {
            "spend": spend,
            "orders": orders.astype(np.float64),
            "active": active.astype(np.float64),
        }[metric.outcome]

        def cumulative(x: NDArray[Any]) -> NDArray[Any]:
            out = np.zeros((n, n_periods + 1), dtype=x.dtype)
            np.cumsum(x, axis=1, out=out[:, 1:])
            return out

        any_active = active.any(axis=1)
        first_active = np.where(any_active, active.argmax(axis=1), _NEVER).astype(np.int64)
        is_member = np.isin(ids, state.member_id)
        cohort = np.full(n, _NEVER, dtype=np.int64)
        member_rows = np.searchsorted(ids, state.member_id)
        enrolled = period_index(
            state.enrolled_us.astype("datetime64[us]"), metric.period, zone=metric.zone
        )
        cohort[member_rows] = enrolled - origin
        return cls(
            ids=ids,
            origin=origin,
            n_periods=n_periods,
            outcome=outcome,
            active=active,
            cum_active=cumulative(active.astype(np.int64)),
            cum_orders=cumulative(orders),
            cum_spend=cumulative(spend),
            first_active=first_active,
            is_member=is_member,
            cohort=cohort,
        )

    def naive(self) -> dict[str, Any]:
        """Member and non-member mean outcomes per period, and their member-weighted gap."""
        t = np.arange(self.n_periods)[None, :]
        enrolled = self.is_member[:, None] & (self.cohort[:, None] <= t)
        outsiders = ~self.is_member[:, None] & (self.first_active[:, None] <= t)
        n_members = enrolled.sum(axis=0)
        n_outsiders = outsiders.sum(axis=0)
        member_sum = (self.outcome * enrolled).sum(axis=0)
        outsider_sum = (self.outcome * outsiders).sum(axis=0)
        member_mean = np.where(n_members > 0, member_sum / np.maximum(n_members, 1), np.nan)
        outsider_mean = np.where(n_outsiders > 0, outsider_sum / np.maximum(n_outsiders, 1), np.nan)
        both = (n_members > 0) & (n_outsiders > 0)
        gap = (
            float(np.average((member_mean - outsider_mean)[both], weights=n_members[both]))
            if both.any()
            else math.nan
        )
        return {
            "members": n_members.astype(np.int64),
            "member_mean": member_mean,
            "nonmember_mean": outsider_mean,
            "gap": gap,
        }


@attrs.define
class _Matching:
    """Matched rows per cohort (units, treated, weights, cohort) and per-cohort counts."""

    n_customers: int
    rows: list[tuple[NDArray[np.intp], NDArray[np.bool_], NDArray[np.float64], int]] = attrs.field(
        factory=list
    )
    cohorts: list[dict[str, Any]] = attrs.field(factory=list)

    @property
    def used_units(self) -> NDArray[np.intp]:
        """Customer rows of the panel that appear in the design, sorted."""
        return np.unique(np.concatenate([units for units, _, _, _ in self.rows]))

    def design(self) -> StackedDesign:
        """The stacked design over the used customers (clusters = customers)."""
        used = self.used_units
        unit = np.searchsorted(used, np.concatenate([u for u, _, _, _ in self.rows]))
        return StackedDesign(
            unit=unit.astype(np.intp),
            cohort=np.concatenate([np.full(len(u), g, dtype=np.int64) for u, _, _, g in self.rows]),
            treated=np.concatenate([t for _, t, _, _ in self.rows]),
            weight=np.concatenate([w for _, _, w, _ in self.rows]),
            control_from=np.full(len(unit), _NEVER, dtype=np.int64),
            cluster=unit.astype(np.intp),
            n_clusters=len(used),
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"programme_effect"``."""
    register(ProgrammeEffect)
