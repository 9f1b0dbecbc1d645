r"""Staggered difference in differences: group-time effects of Callaway & Sant'Anna (2021).

When units start a treatment at different times (customers join a loyalty programme in
different months), the group-time average treatment effect on the treated,
:math:`ATT(g, t)`, is the effect in period :math:`t` on the units first treated in period
:math:`g` (cohort :math:`g`). Without covariates it is a difference in differences against
units not (yet) treated:

.. math::

    \widehat{ATT}(g, t) = \frac{\sum_{i \in G_g} w_i (Y_{it} - Y_{ib})}{\sum_{i \in G_g} w_i}
    - \frac{\sum_{j \in C_{g,t}} w_j (Y_{jt} - Y_{jb})}{\sum_{j \in C_{g,t}} w_j}

with base period :math:`b = g - 1 - \delta` (:math:`\delta` periods of anticipation) for
:math:`t \ge g - \delta`; before that :math:`b = t - 1` (``base_period="varying"``, the
authors' default) or :math:`b = g - 1 - \delta` (``"universal"``, where the cell
:math:`t = g - 1 - \delta` is 0 by construction). Controls :math:`C_{g,t}` are the never
treated units (``control="never"``) or also the units first treated after
:math:`\max(t, b) + \delta` (``"not_yet"``). The weights :math:`w` are 1, or matching
weights (:mod:`stickykit.stats.matching`).

The cells are summarised (Section 3 of the paper) by event time :math:`e = t - g`,

.. math::

    \theta_{es}(e) = \sum_g \frac{P(G = g)\,1\{g + e \in \mathcal{T}\}}
    {\sum_{g'} P(G = g')\,1\{g' + e \in \mathcal{T}\}}\, ATT(g, g + e),

by cohort, :math:`\theta_{sel}(g)`, the mean of :math:`ATT(g, t)` over the cohort's
post-treatment periods, and overall by :math:`\theta^O_{sel} = \sum_g P(G = g \mid G \le T)\,
\theta_{sel}(g)`, the average effect of participating over every unit that participated.

Uncertainty comes from the influence function of every estimate, summed within clusters
(customers: a customer who appears as a control of several cohorts is one cluster):
:math:`\widehat{se} = \sqrt{\sum_c \psi_c^2}/N`. The aggregates' influence functions include the
estimation of the cohort shares :math:`P(G = g)`. ``inference="multiplier"`` replaces the
analytic standard errors by the seeded multiplier bootstrap of the paper (Rademacher weights
per cluster; standard errors from the interquartile range; a simultaneous band for the event
study).

- :func:`callaway_santanna`: a balanced panel (units x periods) with each unit's cohort;
- :func:`group_time_effects`: any :class:`StackedDesign` (matched controls per cohort);
- :func:`two_way_fixed_effects`: the two-way fixed-effects regression, for comparison: with
  effects that vary over cohorts and time it is a weighted average of 2x2 comparisons with
  some negative weights (Goodman-Bacon 2021) and can be far from every :math:`ATT(g, t)`;
- :func:`plot_event_study`: the event-study plot with the pre-trends.

References
----------
Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
periods. *Journal of Econometrics* 225(2), 200-230.
Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
*Journal of Econometrics* 225(2), 254-277.

Examples
--------
Four units over four periods: units 0-1 join in period 2, units 2-3 never; the effect is +5
from period 2 on:

>>> import numpy as np
>>> y = np.array([[1.0, 2, 8, 9], [2, 3, 9, 10], [1, 2, 3, 4], [2, 3, 4, 5]])
>>> r = callaway_santanna(y, [2, 2, np.inf, np.inf])
>>> r.overall.value, r.event_study["event_time"].tolist(), r.event_study["att"].tolist()
(5.0, [-1, 0, 1], [0.0, 5.0, 5.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import InsufficientDataError, MissingDependencyError, ValidationError
from stickykit.stats.bootstrap import check_seed, generator
from stickykit.stats.intervals import check_alpha, z_value

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CS_REFERENCE",
    "TWFE_REFERENCE",
    "BasePeriod",
    "Control",
    "Estimate",
    "Inference",
    "PretrendTest",
    "StackedDesign",
    "StaggeredResult",
    "TWFEResult",
    "callaway_santanna",
    "group_time_effects",
    "plot_event_study",
    "two_way_fixed_effects",
]

CS_REFERENCE = (
    "Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple "
    "time periods. Journal of Econometrics 225(2), 200-230"
)
TWFE_REFERENCE = (
    "two-way fixed effects (unit and period dummies) with customer-clustered standard errors; "
    "its bias under heterogeneous effects: Goodman-Bacon, A. (2021). Difference-in-"
    "differences with variation in treatment timing. Journal of Econometrics 225(2), 254-277"
)
BasePeriod = Literal["varying", "universal"]
Inference = Literal["influence", "multiplier"]
Control = Literal["never", "not_yet"]

_RECORD = "staggered"
#: ``control_from`` of a row never treated.
_NEVER = np.iinfo(np.int64).max // 4
_IQR_Z = NormalDist().inv_cdf(0.75) - NormalDist().inv_cdf(0.25)
#: The kind an event time takes from its cells: the first of these among them.
_KIND_ORDER = ("post", "anticipation", "matched", "pre", "reference")
_BLOCK = 64  # bootstrap replicates drawn at once (a block x clusters matrix of multipliers)


# -- records ---------------------------------------------------------------------------------


@attrs.frozen
class Estimate:
    """One estimate with its standard error and confidence interval.

    Examples
    --------
    >>> Estimate(value=2.0, se=0.5, ci_low=1.02, ci_high=2.98)
    Estimate(value=2.0, se=0.5, ci_low=1.02, ci_high=2.98)
    """

    value: float
    se: float
    ci_low: float
    ci_high: float


@attrs.frozen
class PretrendTest:
    r"""Joint Wald test that every pre-treatment :math:`ATT(g, t)` is zero.

    Parameters
    ----------
    statistic : float
        :math:`W = \hat\theta^\top \hat V^{+} \hat\theta` over the pre-treatment cells (NaN
        when there are none).
    df : int
        Rank of :math:`\hat V`, the degrees of freedom of the :math:`\chi^2` reference.
    p_value : float
        :math:`P(\chi^2_{df} > W)`.
    n_cells : int
        Pre-treatment cells tested.

    Examples
    --------
    >>> PretrendTest(statistic=1.2, df=2, p_value=0.5488, n_cells=2).df
    2
    """

    statistic: float
    df: int
    p_value: float
    n_cells: int


@attrs.frozen(eq=False)
class StackedDesign:
    """The rows of a staggered design: treated units and their (weighted) controls per cohort.

    Each row points at a row of the outcome matrix. A unit can appear in several rows: a
    never-treated customer matched as a control of three cohorts has three rows, one per
    cohort, each with its matching weight; all rows of a cluster share its influence.

    Parameters
    ----------
    unit : numpy.ndarray
        intp, the outcome row of each design row.
    cohort : numpy.ndarray
        int64 position (column of the outcome matrix) of the first treated period of the row's
        cohort: for a treated row its own, for a control row the cohort it is a control of.
    treated : numpy.ndarray
        bool, True for treated rows.
    weight : numpy.ndarray
        float64 non-negative weights (1 for treated rows; matching weights for controls).
    control_from : numpy.ndarray
        int64 position of the first period in which a control row is itself treated (a large
        number for never-treated units); a control is used in cell :math:`(g, t)` only while
        ``control_from > max(t, b) + anticipation``.
    cluster : numpy.ndarray
        intp cluster code of each row, in ``0 .. n_clusters - 1`` (the customer).
    n_clusters : int
        Number of clusters :math:`N` (customers in the analysis).

    Examples
    --------
    >>> d = StackedDesign(unit=np.array([0, 1]), cohort=np.array([1, 1]),
    ...                   treated=np.array([True, False]), weight=np.ones(2),
    ...                   control_from=np.array([9, 9]), cluster=np.array([0, 1]), n_clusters=2)
    >>> len(d)
    2
    """

    unit: NDArray[np.intp]
    cohort: NDArray[np.int64]
    treated: NDArray[np.bool_]
    weight: NDArray[np.float64]
    control_from: NDArray[np.int64]
    cluster: NDArray[np.intp]
    n_clusters: int

    def __attrs_post_init__(self) -> None:
        n = len(self.unit)
        for name in ("cohort", "treated", "weight", "control_from", "cluster"):
            if len(getattr(self, name)) != n:
                raise ValidationError(
                    record="StackedDesign",
                    field=name,
                    row=None,
                    value=f"length {len(getattr(self, name))}",
                    expected=f"length {n}, one per row",
                )
        bad = np.flatnonzero(~np.isfinite(self.weight) | (self.weight < 0))
        if bad.size:
            raise ValidationError(
                record="StackedDesign",
                field="weight",
                row=int(bad[0]),
                value=float(self.weight[bad[0]]),
                expected="a finite weight >= 0",
                n_failing=int(bad.size),
            )
        outside = np.flatnonzero((self.cluster < 0) | (self.cluster >= self.n_clusters))
        if outside.size:
            raise ValidationError(
                record="StackedDesign",
                field="cluster",
                row=int(outside[0]),
                value=int(self.cluster[outside[0]]),
                expected=f"a cluster code in [0, {self.n_clusters})",
                n_failing=int(outside.size),
            )

    def __len__(self) -> int:
        return len(self.unit)


@attrs.frozen(eq=False)
class StaggeredResult:
    r"""Group-time effects and their summaries, with standard errors and intervals.

    Parameters
    ----------
    cells : Mapping[str, numpy.ndarray]
        One entry per :math:`(g, t)` cell: ``cohort`` and ``period`` (labels), ``event_time``
        (:math:`t - g` in periods), ``kind`` (``"pre"``, ``"matched"`` (a pre-treatment cell
        using a matched-on period), ``"reference"``, ``"anticipation"`` or ``"post"``), ``att``, ``se``, ``ci_low``, ``ci_high``,
        ``n_treated``, ``n_control`` (rows with positive weight) and ``base`` (label of the
        base period).
    event_study : Mapping[str, numpy.ndarray]
        :math:`\theta_{es}(e)` per event time: ``event_time``, ``att``, ``se``, ``ci_low``,
        ``ci_high``, ``band_low``, ``band_high`` (simultaneous band, multiplier bootstrap
        only, else NaN), ``n_cohorts`` and ``kind`` (of its cells: ``"matched"`` when any
        cell uses a matched-on period).
    by_cohort : Mapping[str, numpy.ndarray]
        :math:`\theta_{sel}(g)`: ``cohort``, ``att``, ``se``, ``ci_low``, ``ci_high``,
        ``n_treated``.
    overall : Estimate
        :math:`\theta^O_{sel}`, the cohort-size weighted mean of the cohort effects.
    overall_event : Estimate
        The mean of :math:`\theta_{es}(e)` over :math:`e \ge 0`.
    pretrend : PretrendTest
        The joint test of the pre-treatment cells (kind ``"pre"``).
    alpha : float
        1 - confidence level of the intervals.
    inference : str
        ``"influence"`` or ``"multiplier"``.
    method : str
        Controls, base period, anticipation and how the standard errors were computed.
    n_clusters : int
        Clusters (customers) behind the standard errors.
    flags : tuple of str
        Warnings: cohorts dropped, cells without controls.
    reference : str
        The method's source.

    Examples
    --------
    >>> y = np.array([[0.0, 0, 3], [0, 1, 4], [0, 0, 0], [0, 1, 1]])
    >>> r = callaway_santanna(y, [2, 2, np.inf, np.inf])
    >>> r.by_cohort["att"].tolist(), r.pretrend.n_cells
    ([3.0], 1)
    """

    cells: Mapping[str, NDArray[Any]]
    event_study: Mapping[str, NDArray[Any]]
    by_cohort: Mapping[str, NDArray[Any]]
    overall: Estimate
    overall_event: Estimate
    pretrend: PretrendTest
    alpha: float
    inference: str
    method: str
    n_clusters: int
    flags: tuple[str, ...] = ()
    reference: str = CS_REFERENCE

    def __str__(self) -> str:
        o = self.overall
        return (
            f"ATT = {o.value:,.3f} [{1 - self.alpha:.0%} CI {o.ci_low:,.3f} to "
            f"{o.ci_high:,.3f}]; pre-trend chi2({self.pretrend.df}) = "
            f"{self.pretrend.statistic:.2f}, p = {self.pretrend.p_value:.4f}; "
            f"{self.n_clusters:,} clusters"
        )

    def plot(self, ax: Axes | None = None, *, xlabel: str = "Periods since treatment") -> Axes:
        """The event-study plot (see :func:`plot_event_study`).

        Examples
        --------
        >>> from matplotlib.figure import Figure
        >>> y = np.array([[0.0, 0, 3], [0, 1, 4], [0, 0, 0], [0, 1, 1]])
        >>> ax = callaway_santanna(y, [2, 2, np.inf, np.inf]).plot(Figure().subplots())
        >>> ax.get_xlabel()
        'Periods since treatment'
        """
        return plot_event_study(self.event_study, ax=ax, xlabel=xlabel, level=1 - self.alpha)


@attrs.frozen
class TWFEResult:
    r"""The two-way fixed-effects estimate of the effect of treatment on the treated.

    :math:`\hat\beta` of :math:`Y_{it} = \alpha_i + \lambda_t + \beta D_{it} + \varepsilon_{it}`.

    Parameters
    ----------
    value, se, ci_low, ci_high : float
        :math:`\hat\beta`, its cluster-robust standard error and Wald interval.
    n_units, n_periods : int
        The panel's size.
    alpha : float
    method, reference : str

    Examples
    --------
    >>> y = np.array([[0.0, 0, 3], [0, 1, 4], [0, 0, 0], [0, 1, 1]])
    >>> two_way_fixed_effects(y, [2, 2, np.inf, np.inf]).value
    3.0
    """

    value: float
    se: float
    ci_low: float
    ci_high: float
    n_units: int
    n_periods: int
    alpha: float
    method: str
    reference: str = TWFE_REFERENCE


# -- input ----------------------------------------------------------------------------------


def _outcome(values: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValidationError(
            record=_RECORD,
            field="outcome",
            row=None,
            value=f"an array of shape {array.shape}",
            expected="a units x periods matrix with at least two periods",
        )
    if array.dtype.kind not in "biuf":
        raise ValidationError(
            record=_RECORD,
            field="outcome",
            row=None,
            value=f"an array of dtype {array.dtype}",
            expected="numbers",
        )
    out = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        row, column = (int(v) for v in bad[0])
        raise ValidationError(
            record=_RECORD,
            field=f"outcome[:, {column}]",
            row=row,
            value=out[row, column].item(),
            expected="a finite number (a balanced panel without gaps)",
            n_failing=len(bad),
        )
    return out


def _periods(values: ArrayLike | None, n_periods: int) -> NDArray[np.int64]:
    if values is None:
        return np.arange(n_periods, dtype=np.int64)
    array = np.asarray(values)
    if array.shape != (n_periods,) or array.dtype.kind not in "iu":
        raise ValidationError(
            record=_RECORD,
            field="periods",
            row=None,
            value=f"an array of shape {array.shape} and dtype {array.dtype}",
            expected=f"{n_periods} integer period labels, one per outcome column",
        )
    out = array.astype(np.int64)
    step = np.flatnonzero(np.diff(out) <= 0)
    if step.size:
        raise ValidationError(
            record=_RECORD,
            field="periods",
            row=int(step[0]) + 1,
            value=int(out[step[0] + 1]),
            expected="strictly increasing period labels",
        )
    return out


def _cohorts(values: ArrayLike, periods: NDArray[np.int64], n_units: int) -> NDArray[np.int64]:
    """Column position of each unit's first treated period (``_NEVER`` for never treated)."""
    array = np.asarray(values)
    if array.shape != (n_units,) or array.dtype.kind not in "iuf":
        raise ValidationError(
            record=_RECORD,
            field="cohort",
            row=None,
            value=f"an array of shape {array.shape} and dtype {array.dtype}",
            expected=f"{n_units} numbers, one per outcome row (inf = never treated)",
        )
    as_float = array.astype(np.float64)
    never = np.isposinf(as_float)
    finite = np.isfinite(as_float)
    labels = np.where(finite, as_float, 0).astype(np.int64)
    position = np.searchsorted(periods, labels)
    inside = position < len(periods)
    known = finite & (as_float == labels) & inside
    known[known] = periods[position[known]] == labels[known]
    bad = np.flatnonzero(~(known | never))
    if bad.size:
        raise ValidationError(
            record=_RECORD,
            field="cohort",
            row=int(bad[0]),
            value=array[bad[0]].item(),
            expected="one of the period labels, or inf for a never-treated unit",
            n_failing=int(bad.size),
        )
    return np.where(never, _NEVER, position).astype(np.int64)


def _cluster_codes(values: ArrayLike | None, n_units: int) -> tuple[NDArray[np.intp], int]:
    if values is None:
        return np.arange(n_units, dtype=np.intp), n_units
    array = np.asarray(values)
    if array.shape != (n_units,):
        raise ValidationError(
            record=_RECORD,
            field="cluster",
            row=None,
            value=f"an array of shape {array.shape}",
            expected=f"{n_units} cluster labels, one per outcome row",
        )
    unique, codes = np.unique(array, return_inverse=True)
    return codes.reshape(-1).astype(np.intp), len(unique)


# -- the group-time cells --------------------------------------------------------------------


@attrs.frozen(eq=False)
class _Cells:
    cohort: NDArray[np.int64]  # positions
    period: NDArray[np.int64]
    base: NDArray[np.int64]
    kind: NDArray[np.str_]
    att: NDArray[np.float64]
    n_treated: NDArray[np.int64]
    n_control: NDArray[np.int64]
    influence: NDArray[np.float64]  # clusters x cells
    cohorts: NDArray[np.int64]  # cohort positions with cells
    share: NDArray[np.float64]  # P(G = g) per cohort
    member: NDArray[np.float64]  # clusters x cohorts: treated rows of the cluster in g
    flags: tuple[str, ...]


def _mean_influence(
    delta: NDArray[np.float64], weight: NDArray[np.float64], cluster: NDArray[np.intp], n: int
) -> tuple[float, NDArray[np.float64]]:
    total = float(weight.sum())
    mean = float(weight @ delta) / total
    psi = n * weight * (delta - mean) / total
    summed: NDArray[np.float64] = np.bincount(cluster, psi, minlength=n).astype(np.float64)
    return mean, summed


def _cells(
    outcome: NDArray[np.float64],
    design: StackedDesign,
    base_period: BasePeriod,
    anticipation: int,
    matched_periods: int,
) -> _Cells:
    n_periods = outcome.shape[1]
    n = design.n_clusters
    positive = design.weight > 0
    treated_rows = design.treated & positive
    cohorts = np.unique(design.cohort[treated_rows])
    flags: list[str] = []
    usable = cohorts - 1 - anticipation >= 0
    if not usable.all():
        flags.append(
            f"{int((~usable).sum())} cohort(s) treated in the first {anticipation + 1} "
            "period(s) have no base period and are left out"
        )
    cohorts = cohorts[usable & (cohorts < n_periods)]
    columns: list[NDArray[np.float64]] = []
    meta: dict[str, list[Any]] = {k: [] for k in ("g", "t", "b", "kind", "att", "nt", "nc")}
    empty_cells = 0
    for g in cohorts.tolist():
        first_base = g - 1 - anticipation
        in_stack = design.cohort == g
        t_rows = np.flatnonzero(in_stack & treated_rows)
        c_all = np.flatnonzero(in_stack & ~design.treated & positive)
        for t in range(n_periods):
            if t > first_base:
                base, kind = first_base, ("post" if t >= g else "anticipation")
            elif base_period == "varying":
                if t == 0:
                    continue
                base, kind = t - 1, "pre"
            else:
                base = first_base
                kind = "reference" if t == first_base else "pre"
            window = first_base - matched_periods
            if kind == "pre" and (window <= t < first_base or window <= base < first_base):
                kind = "matched"
            c_rows = c_all[design.control_from[c_all] > max(t, base) + anticipation]
            meta["g"].append(g)
            meta["t"].append(t)
            meta["b"].append(base)
            meta["kind"].append(kind)
            meta["nt"].append(len(t_rows))
            meta["nc"].append(len(c_rows))
            if kind == "reference":
                meta["att"].append(0.0)
                columns.append(np.zeros(n))
                continue
            if len(c_rows) == 0:
                empty_cells += 1
                meta["att"].append(math.nan)
                columns.append(np.zeros(n))
                continue
            units_t, units_c = design.unit[t_rows], design.unit[c_rows]
            m_t, psi_t = _mean_influence(
                outcome[units_t, t] - outcome[units_t, base],
                design.weight[t_rows],
                design.cluster[t_rows],
                n,
            )
            m_c, psi_c = _mean_influence(
                outcome[units_c, t] - outcome[units_c, base],
                design.weight[c_rows],
                design.cluster[c_rows],
                n,
            )
            meta["att"].append(m_t - m_c)
            columns.append(psi_t - psi_c)
    if not columns:
        msg = "no cohort has a base period and treated units; no group-time effect to estimate"
        raise InsufficientDataError(msg)
    if empty_cells:
        flags.append(f"{empty_cells} cell(s) without eligible controls: no estimate (NaN)")
    member = np.zeros((n, len(cohorts)))
    for j, g in enumerate(cohorts.tolist()):
        rows = np.flatnonzero(treated_rows & (design.cohort == g))
        member[:, j] = np.bincount(design.cluster[rows], minlength=n)
    return _Cells(
        cohort=np.asarray(meta["g"], dtype=np.int64),
        period=np.asarray(meta["t"], dtype=np.int64),
        base=np.asarray(meta["b"], dtype=np.int64),
        kind=np.asarray(meta["kind"], dtype=str),
        att=np.asarray(meta["att"], dtype=np.float64),
        n_treated=np.asarray(meta["nt"], dtype=np.int64),
        n_control=np.asarray(meta["nc"], dtype=np.int64),
        influence=np.column_stack(columns),
        cohorts=cohorts,
        share=member.sum(axis=0) / n,
        member=member,
        flags=tuple(flags),
    )


def _aggregate(
    att: NDArray[np.float64],
    influence: NDArray[np.float64],
    cohort_index: NDArray[np.intp],
    share: NDArray[np.float64],
    member: NDArray[np.float64],
) -> tuple[float, NDArray[np.float64]]:
    r""":math:`\sum_k w_k \theta_k` with :math:`w_k \propto P(G = g_k)`, and its influence.

    The weights are estimated, so the influence adds :math:`\sum_k \theta_k \psi^{w}_k` with
    :math:`\psi^{w}_k = \psi^p_k/S - (p_k/S^2)\sum_j \psi^p_j`, :math:`\psi^p_{ck} =
    1\{c \in g_k\} - p_k` and :math:`S = \sum_k p_k`.
    """
    p = share[cohort_index]
    total = float(p.sum())
    w = p / total
    value = float(w @ att)
    dp = member[:, cohort_index] - p
    weight_influence = dp / total - np.outer(dp.sum(axis=1), p / total**2)
    return value, influence @ w + weight_influence @ att


def _summaries(cells: _Cells) -> tuple[dict[str, Any], dict[str, Any], tuple[Any, ...]]:
    """Event-study and cohort estimates with their influence functions (clusters x k)."""
    finite = np.isfinite(cells.att)
    event = cells.period - cells.cohort
    cohort_pos = np.searchsorted(cells.cohorts, cells.cohort).astype(np.intp)
    es_times, es_att, es_inf, es_cohorts, es_kind = [], [], [], [], []
    for e in np.unique(event[finite]).tolist():
        k = np.flatnonzero(finite & (event == e))
        value, inf = _aggregate(
            cells.att[k], cells.influence[:, k], cohort_pos[k], cells.share, cells.member
        )
        es_times.append(e)
        es_att.append(value)
        es_inf.append(inf)
        es_cohorts.append(len(k))
        kinds = set(cells.kind[k].tolist())
        es_kind.append(next(x for x in _KIND_ORDER if x in kinds))
    n = cells.influence.shape[0]
    group_att, group_inf, group_n, group_keep = [], [], [], []
    for j in range(len(cells.cohorts)):
        k = np.flatnonzero(finite & (cohort_pos == j) & (cells.kind == "post"))
        if len(k) == 0:
            continue
        group_keep.append(j)
        group_att.append(float(cells.att[k].mean()))
        group_inf.append(cells.influence[:, k].mean(axis=1))
        group_n.append(int(cells.member[:, j].sum()))
    if not group_att:
        msg = "no post-treatment cell has an estimate (no eligible controls after treatment)"
        raise InsufficientDataError(msg)
    keep = np.asarray(group_keep, dtype=np.intp)
    overall, overall_inf = _aggregate(
        np.asarray(group_att),
        np.column_stack(group_inf),
        np.arange(len(keep), dtype=np.intp),
        cells.share[keep],
        cells.member[:, keep],
    )
    es_times_arr = np.asarray(es_times, dtype=np.int64)
    post = es_times_arr >= 0
    es_inf_mat = np.column_stack(es_inf) if es_inf else np.zeros((n, 0))
    event_overall = float(np.asarray(es_att)[post].mean())
    event_overall_inf = es_inf_mat[:, post].mean(axis=1)
    es = {
        "event_time": es_times_arr,
        "att": np.asarray(es_att),
        "n_cohorts": np.asarray(es_cohorts, dtype=np.int64),
        "kind": np.asarray(es_kind, dtype=str),
        "_influence": es_inf_mat,
    }
    by_cohort = {
        "cohort_position": cells.cohorts[keep],
        "att": np.asarray(group_att),
        "n_treated": np.asarray(group_n, dtype=np.int64),
        "_influence": np.column_stack(group_inf),
    }
    return es, by_cohort, (overall, overall_inf, event_overall, event_overall_inf)


def _analytic_se(influence: NDArray[np.float64]) -> NDArray[np.float64]:
    n = influence.shape[0]
    se: NDArray[np.float64] = np.sqrt((influence**2).sum(axis=0)) / n
    return se


def _multiplier(influence: NDArray[np.float64], n_boot: int, seed: int) -> NDArray[np.float64]:
    """Rademacher multiplier replicates of the estimates' deviations (n_boot x k)."""
    n, k = influence.shape
    rng = generator(seed)
    draws = np.empty((n_boot, k))
    for start in range(0, n_boot, _BLOCK):  # blocks of replicates, never a loop over clusters
        size = min(_BLOCK, n_boot - start)
        v = rng.integers(0, 2, size=(size, n)).astype(np.float64) * 2.0 - 1.0
        draws[start : start + size] = v @ influence / n
    return draws


def _interval(
    value: NDArray[np.float64], se: NDArray[np.float64], z: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return value - z * se, value + z * se


def _pretrend(cells: _Cells) -> PretrendTest:
    from scipy import stats  # noqa: PLC0415 - scipy loads only when used

    k = np.flatnonzero((cells.kind == "pre") & np.isfinite(cells.att))
    if len(k) == 0:
        return PretrendTest(statistic=math.nan, df=0, p_value=math.nan, n_cells=0)
    n = cells.influence.shape[0]
    psi = cells.influence[:, k]
    v = psi.T @ psi / n**2
    theta = cells.att[k]
    df = int(np.linalg.matrix_rank(v))
    if df == 0:
        return PretrendTest(statistic=math.nan, df=0, p_value=math.nan, n_cells=len(k))
    statistic = float(theta @ np.linalg.pinv(v) @ theta)
    return PretrendTest(
        statistic=statistic, df=df, p_value=float(stats.chi2.sf(statistic, df)), n_cells=len(k)
    )


def group_time_effects(
    outcome: ArrayLike,
    design: StackedDesign,
    *,
    periods: ArrayLike | None = None,
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
    alpha: float = 0.05,
    inference: Inference = "influence",
    n_boot: int = 999,
    seed: int = 0,
    control_label: str = "controls",
    matched_periods: int = 0,
) -> StaggeredResult:
    r"""Group-time effects :math:`ATT(g, t)` of a stacked design, with their summaries.

    Parameters
    ----------
    outcome : array_like
        Units x periods outcomes (a balanced panel; no missing values).
    design : StackedDesign
        The treated rows and the weighted control rows of each cohort.
    periods : array_like, optional
        Integer labels of the outcome columns (default ``0 .. T - 1``); event times count
        columns.
    base_period : {"varying", "universal"}
        Base period of the pre-treatment cells (see the module notes).
    anticipation : int
        Periods :math:`\delta \ge 0` before the first treated period in which units may
        already react.
    alpha : float
        1 - confidence level.
    inference : {"influence", "multiplier"}
        Analytic standard errors from the influence function, or the seeded multiplier
        bootstrap (with a simultaneous band for the event study).
    n_boot : int
        Bootstrap replicates (``inference="multiplier"``).
    seed : int
        Seed of the multiplier bootstrap.
    control_label : str
        How the method string names the controls.
    matched_periods : int
        The controls were matched on the outcomes of the ``matched_periods`` periods before
        each cohort's base period. Pre-treatment cells that use one of those periods are
        reported with kind ``"matched"`` and left out of the pre-trend test: matching makes
        the groups alike there by construction, and where the groups differ in their
        underlying level, the periods next to the window show regression to the mean, not a
        trend (Daw & Hatfield 2018).

    Returns
    -------
    StaggeredResult

    Notes
    -----
    Weights of control rows are treated as fixed (for CEM weights: conditional on the
    matching). Standard errors are clustered on ``design.cluster``.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.
    Daw, J. R. and Hatfield, L. A. (2018). Matching and regression to the mean in
    difference-in-differences analysis. *Health Services Research* 53(6), 4138-4156.

    Examples
    --------
    Units 0-1 join in period 1; unit 2 is a control of that cohort with weight 2:

    >>> y = np.array([[0.0, 4], [0, 6], [0, 1]])
    >>> d = StackedDesign(unit=np.arange(3), cohort=np.ones(3, np.int64),
    ...                   treated=np.array([True, True, False]), weight=np.array([1, 1, 2.0]),
    ...                   control_from=np.full(3, 99), cluster=np.arange(3), n_clusters=3)
    >>> r = group_time_effects(y, d)
    >>> r.cells["att"].tolist(), round(r.overall.se, 4)  # influences -1.5, 1.5, 0; N = 3
    ([4.0], 0.7071)
    """
    y = _outcome(outcome)
    labels = _periods(periods, y.shape[1])
    alpha = check_alpha(alpha)
    if base_period not in ("varying", "universal"):
        msg = f"base_period must be 'varying' or 'universal', got {base_period!r}"
        raise ValueError(msg)
    if inference not in ("influence", "multiplier"):
        msg = f"inference must be 'influence' or 'multiplier', got {inference!r}"
        raise ValueError(msg)
    if type(anticipation) is not int or anticipation < 0:
        msg = f"anticipation must be a non-negative integer, got {anticipation!r}"
        raise ValueError(msg)
    if type(n_boot) is not int or n_boot < 2:
        msg = f"n_boot must be an integer >= 2, got {n_boot!r}"
        raise ValueError(msg)
    if type(matched_periods) is not int or matched_periods < 0:
        msg = f"matched_periods must be a non-negative integer, got {matched_periods!r}"
        raise ValueError(msg)
    check_seed(seed)
    outside = np.flatnonzero((design.unit < 0) | (design.unit >= y.shape[0]))
    if outside.size:
        raise ValidationError(
            record="StackedDesign",
            field="unit",
            row=int(outside[0]),
            value=int(design.unit[outside[0]]),
            expected=f"an outcome row in [0, {y.shape[0]})",
            n_failing=int(outside.size),
        )
    cells = _cells(y, design, base_period, anticipation, matched_periods)
    es, by_cohort, overall_parts = _summaries(cells)
    overall, overall_inf, event_overall, event_overall_inf = overall_parts
    blocks = [
        cells.influence,
        es["_influence"],
        by_cohort["_influence"],
        overall_inf[:, None],
        event_overall_inf[:, None],
    ]
    stacked = np.column_stack(blocks)
    z = z_value(alpha)
    n_cells, n_es, n_groups = (
        cells.influence.shape[1],
        es["_influence"].shape[1],
        len(by_cohort["att"]),
    )
    band = np.full(n_es, math.nan)
    if inference == "influence":
        se = _analytic_se(stacked)
        how = "influence-function standard errors"
    else:
        draws = _multiplier(stacked, n_boot, seed)
        q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
        se = (q75 - q25) / _IQR_Z
        how = f"multiplier bootstrap (Rademacher weights, {n_boot} replicates, seed {seed})"
        es_se = se[n_cells : n_cells + n_es]
        usable = es_se > 0
        if usable.any():
            es_draws = draws[:, n_cells : n_cells + n_es][:, usable]
            crit = float(np.quantile(np.abs(es_draws / es_se[usable]).max(axis=1), 1 - alpha))
            band = np.where(usable, crit, math.nan)
    se = np.where(
        np.isfinite(np.concatenate([cells.att, es["att"], by_cohort["att"], [0, 0]])), se, math.nan
    )
    cell_se = se[:n_cells]
    es_se = se[n_cells : n_cells + n_es]
    group_se = se[n_cells + n_es : n_cells + n_es + n_groups]
    cell_low, cell_high = _interval(cells.att, cell_se, z)
    es_low, es_high = _interval(es["att"], es_se, z)
    group_low, group_high = _interval(by_cohort["att"], group_se, z)
    o_se, e_se = float(se[-2]), float(se[-1])
    method = (
        f"Callaway & Sant'Anna group-time DiD against {control_label}, {base_period} base "
        f"period, anticipation {anticipation}; {how}, clustered on {design.n_clusters:,} "
        "clusters"
    )
    return StaggeredResult(
        cells={
            "cohort": labels[cells.cohort],
            "period": labels[cells.period],
            "event_time": cells.period - cells.cohort,
            "kind": cells.kind,
            "att": cells.att,
            "se": cell_se,
            "ci_low": cell_low,
            "ci_high": cell_high,
            "n_treated": cells.n_treated,
            "n_control": cells.n_control,
            "base": labels[cells.base],
        },
        event_study={
            "event_time": es["event_time"],
            "att": es["att"],
            "se": es_se,
            "ci_low": es_low,
            "ci_high": es_high,
            "band_low": es["att"] - band * es_se,
            "band_high": es["att"] + band * es_se,
            "n_cohorts": es["n_cohorts"],
            "kind": es["kind"],
        },
        by_cohort={
            "cohort": labels[by_cohort["cohort_position"]],
            "att": by_cohort["att"],
            "se": group_se,
            "ci_low": group_low,
            "ci_high": group_high,
            "n_treated": by_cohort["n_treated"],
        },
        overall=Estimate(
            value=overall, se=o_se, ci_low=overall - z * o_se, ci_high=overall + z * o_se
        ),
        overall_event=Estimate(
            value=event_overall,
            se=e_se,
            ci_low=event_overall - z * e_se,
            ci_high=event_overall + z * e_se,
        ),
        pretrend=_pretrend(cells),
        alpha=alpha,
        inference=inference,
        method=method,
        n_clusters=design.n_clusters,
        flags=cells.flags,
    )


def callaway_santanna(
    outcome: ArrayLike,
    cohort: ArrayLike,
    *,
    periods: ArrayLike | None = None,
    control: Control = "never",
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
    cluster: ArrayLike | None = None,
    alpha: float = 0.05,
    inference: Inference = "influence",
    n_boot: int = 999,
    seed: int = 0,
) -> StaggeredResult:
    r"""Callaway & Sant'Anna group-time effects on a balanced panel.

    Parameters
    ----------
    outcome : array_like
        Units x periods outcomes, no missing values.
    cohort : array_like
        Each unit's first treated period, as a period label; ``inf`` for never treated.
    periods : array_like, optional
        Integer labels of the outcome columns, increasing (default ``0 .. T - 1``).
    control : {"never", "not_yet"}
        Compare with never-treated units only, or also with units not yet treated.
    base_period : {"varying", "universal"}
        Base period of the pre-treatment cells.
    anticipation : int
        Periods of anticipation :math:`\delta`.
    cluster : array_like, optional
        Cluster label per unit (default: each unit its own cluster).
    alpha, inference, n_boot, seed
        As in :func:`group_time_effects`.

    Returns
    -------
    StaggeredResult

    Raises
    ------
    ValidationError
        A missing outcome, or a cohort that is not a period label (naming the row).
    InsufficientDataError
        No usable cohort, or no control units.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.

    Examples
    --------
    Cohorts joining in periods 2 and 3 with effects 2 and 4 (period 2) and 3 (period 3),
    against two never-treated units; the overall effect weighs the cohorts by size:
    (2 x 3 + 1 x 3)/3 = 3:

    >>> y = np.array([[0.0, 0, 2, 4], [1, 1, 3, 5], [0, 0, 0, 3], [0, 0, 0, 0],
    ...               [1, 1, 1, 1]])
    >>> r = callaway_santanna(y, [2, 2, 3, np.inf, np.inf])
    >>> r.by_cohort["att"].tolist(), r.overall.value
    ([3.0, 3.0], 3.0)
    >>> r.event_study["event_time"].tolist(), r.event_study["att"].round(3).tolist()
    ([-2, -1, 0, 1], [0.0, 0.0, 2.333, 4.0])
    """
    y = _outcome(outcome)
    n_units, n_periods = y.shape
    labels = _periods(periods, n_periods)
    position = _cohorts(cohort, labels, n_units)
    if control not in ("never", "not_yet"):
        msg = f"control must be 'never' or 'not_yet', got {control!r}"
        raise ValueError(msg)
    clusters, n_clusters = _cluster_codes(cluster, n_units)
    treated_units = np.flatnonzero(position < _NEVER)
    never_units = np.flatnonzero(position == _NEVER)
    if control == "never" and len(never_units) == 0:
        msg = "control='never' needs never-treated units; there are none (try 'not_yet')"
        raise InsufficientDataError(msg)
    unit_parts = [treated_units]
    cohort_parts = [position[treated_units]]
    treated_parts = [np.ones(len(treated_units), dtype=bool)]
    for g in np.unique(position[treated_units]).tolist():
        candidates = never_units if control == "never" else np.flatnonzero(position != g)
        unit_parts.append(candidates)
        cohort_parts.append(np.full(len(candidates), g, dtype=np.int64))
        treated_parts.append(np.zeros(len(candidates), dtype=bool))
    unit = np.concatenate(unit_parts).astype(np.intp)
    design = StackedDesign(
        unit=unit,
        cohort=np.concatenate(cohort_parts).astype(np.int64),
        treated=np.concatenate(treated_parts),
        weight=np.ones(len(unit)),
        control_from=position[unit],
        cluster=clusters[unit],
        n_clusters=n_clusters,
    )
    label = "never-treated units" if control == "never" else "not-yet-treated units"
    return group_time_effects(
        y,
        design,
        periods=labels,
        base_period=base_period,
        anticipation=anticipation,
        alpha=alpha,
        inference=inference,
        n_boot=n_boot,
        seed=seed,
        control_label=label,
    )


def two_way_fixed_effects(
    outcome: ArrayLike,
    cohort: ArrayLike,
    *,
    periods: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    alpha: float = 0.05,
) -> TWFEResult:
    r"""The two-way fixed-effects DiD coefficient, for comparison with the group-time effects.

    Parameters
    ----------
    outcome, cohort, periods, cluster
        As in :func:`callaway_santanna`.
    alpha : float
        1 - confidence level.

    Returns
    -------
    TWFEResult

    Notes
    -----
    On a balanced panel the within transformation gives
    :math:`\hat\beta = \sum_{it} \ddot D_{it}\ddot Y_{it} / \sum_{it} \ddot D_{it}^2`, with
    :math:`\ddot x_{it} = x_{it} - \bar x_{i\cdot} - \bar x_{\cdot t} + \bar x` and
    :math:`D_{it} = 1\{t \ge g_i\}`. The cluster-robust variance is
    :math:`\frac{G}{G-1}\sum_c (\sum_{(i,t) \in c} \ddot D_{it} \hat u_{it})^2 /
    (\sum \ddot D^2)^2`. When effects change with time since treatment and cohorts start at
    different times, :math:`\hat\beta` compares later-treated units with already-treated
    ones, whose own trend includes their growing effect, and can even take the wrong sign
    (Goodman-Bacon 2021); use :func:`callaway_santanna`.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics* 225(2), 254-277.

    Examples
    --------
    >>> y = np.array([[0.0, 0, 2, 4], [1, 1, 3, 5], [0, 0, 0, 3], [0, 0, 0, 0],
    ...               [1, 1, 1, 1]])
    >>> round(two_way_fixed_effects(y, [2, 2, 3, np.inf, np.inf]).value, 3)
    2.714
    """
    y = _outcome(outcome)
    n_units, n_periods = y.shape
    labels = _periods(periods, n_periods)
    position = _cohorts(cohort, labels, n_units)
    alpha = check_alpha(alpha)
    clusters, n_clusters = _cluster_codes(cluster, n_units)
    d = (np.arange(n_periods)[None, :] >= position[:, None]).astype(np.float64)

    def within(x: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = (
            x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()
        )
        return out

    dd, yy = within(d), within(y)
    sxx = float((dd * dd).sum())
    if sxx <= 0:
        msg = "the treatment does not vary within units and periods: no TWFE estimate"
        raise InsufficientDataError(msg)
    beta = float((dd * yy).sum()) / sxx
    resid = yy - beta * dd
    score = np.bincount(clusters, (dd * resid).sum(axis=1), minlength=n_clusters)
    factor = n_clusters / (n_clusters - 1) if n_clusters > 1 else math.nan
    se = math.sqrt(factor * float(score @ score)) / sxx
    z = z_value(alpha)
    return TWFEResult(
        value=beta,
        se=se,
        ci_low=beta - z * se,
        ci_high=beta + z * se,
        n_units=n_units,
        n_periods=n_periods,
        alpha=alpha,
        method="two-way fixed effects (within estimator), cluster-robust CR1 standard errors",
    )


# -- the plot ---------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        msg = "plotting needs matplotlib: pip install 'stickykit[plot]'"
        raise MissingDependencyError(msg) from exc
    return plt


def plot_event_study(
    event_study: Mapping[str, NDArray[Any]],
    *,
    ax: Axes | None = None,
    xlabel: str = "Periods since treatment",
    ylabel: str = "Effect (ATT)",
    level: float = 0.95,
) -> Axes:
    """Event-study estimates with their intervals: pre-trends left of the line, effects right.

    Parameters
    ----------
    event_study : Mapping[str, numpy.ndarray]
        ``event_time``, ``att``, ``ci_low`` and ``ci_high``; optionally ``band_low`` and
        ``band_high`` (drawn as a shaded simultaneous band) and ``kind`` (matched-on periods
        are drawn hollow: matching makes them alike, they test nothing), as in
        ``StaggeredResult.event_study`` or a programme effect's ``tables``.
    ax : matplotlib.axes.Axes, optional
        Where to draw (a new pyplot figure's axes by default); returned.
    xlabel, ylabel : str
        Axis labels.
    level : float
        The intervals' confidence level, for the legend.

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
    >>> es = {"event_time": np.array([-2, -1, 0, 1]), "att": np.array([0.1, 0.0, 1.0, 2.0]),
    ...       "ci_low": np.array([-0.3, -0.4, 0.5, 1.4]),
    ...       "ci_high": np.array([0.5, 0.4, 1.5, 2.6])}
    >>> ax = plot_event_study(es, ax=Figure().subplots())
    >>> [c.get_label() for c in ax.containers]
    ['before treatment (pre-trends)', 'after treatment']
    """
    if ax is None:
        _, ax = _pyplot().subplots()
    assert ax is not None
    e = np.asarray(event_study["event_time"])
    att = np.asarray(event_study["att"], dtype=np.float64)
    low = np.asarray(event_study["ci_low"], dtype=np.float64)
    high = np.asarray(event_study["ci_high"], dtype=np.float64)
    band_low = event_study.get("band_low")
    band_high = event_study.get("band_high")
    if band_low is not None and band_high is not None and np.isfinite(band_low).any():
        ax.fill_between(e, band_low, band_high, color="0.85", label="simultaneous band")
    kind = event_study.get("kind")
    kinds = np.asarray(kind) if kind is not None else np.where(e < 0, "pre", "post")
    for chosen, colour, face, label in (
        (("pre", "reference"), "0.45", "0.45", "before treatment (pre-trends)"),
        (("matched",), "0.45", "white", "matched-on periods (not a trend test)"),
        (("anticipation",), "C1", "C1", "anticipation"),
        (("post",), "C0", "C0", "after treatment"),
    ):
        mask = np.isin(kinds, chosen)
        if mask.any():
            yerr = np.vstack([att[mask] - low[mask], high[mask] - att[mask]])
            ax.errorbar(
                e[mask],
                att[mask],
                yerr=yerr,
                fmt="o",
                color=colour,
                markerfacecolor=face,
                capsize=3,
                label=label,
            )
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.axvline(-0.5, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"Event study with {level:.0%} intervals")
    ax.legend()
    return ax
