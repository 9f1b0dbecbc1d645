r"""Comparing survey scores: two groups, a benchmark, a panel surveyed twice, a trend.

- :func:`compare_independent`: two independent samples (two segments, two surveys of different
  people): difference, interval, z test.
- :func:`compare_benchmark`: one score against a target value, one-sided by default.
- ``"net_score_paired"`` (:class:`PairedNetScore`): the **same respondents** in two waves. Each
  respondent's change :math:`\Delta s_i = s_{2i} - s_{1i}` carries the correlation between the
  waves; the independent formula on a panel gets the variance wrong.
- :func:`compare_groups`: every group of a grouped result against the overall or a reference
  group, with Holm or Benjamini-Hochberg adjusted p-values.
- :func:`trend`: a score per period with its interval, and the change between periods.

Comparisons take :class:`~stickykit.metrics.base.MetricResult` objects of the same metric and
variant; results of different metrics, CES variants, scales, cut-offs, interval methods or
weighting are refused.

Examples
--------
>>> import stickykit
>>> data = {"nps": [10] * 30 + [6] * 10 + [8] * 10 + [10] * 20 + [3] * 20 + [7] * 10,
...         "segment": ["a"] * 50 + ["b"] * 50}
>>> r = stickykit.compute(stickykit.get_metric("nps", by="segment", interval="wald"), data)
>>> c = compare_independent(r.groups[0], r.groups[1])
>>> round(c.difference, 1), round(c.ci_low, 1), round(c.ci_high, 1), round(c.p_value, 4)
(40.0, 6.7, 73.3, 0.0184)
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.io.validate import Violation
from stickykit.metrics._groups import empty_labels, union_labels
from stickykit.metrics.base import MetricResult, check_fingerprints, package_version
from stickykit.metrics.survey.netscore import (
    MISSING_GROUP,
    SurveyItemMetric,
    check_alpha_field,
    check_net_bands,
    t_quantile,
    t_sf,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha, z_value
from stickykit.stats.multiple import ADJUSTMENTS, adjust_pvalues

__all__ = [
    "Comparison",
    "PairedNetScore",
    "PairedState",
    "Trend",
    "compare_benchmark",
    "compare_groups",
    "compare_independent",
    "trend",
]

_NO_TIME = int(np.iinfo(np.int64).min)
_NOT_SEEN = -128
_NO_ANSWER = -127
#: Parameters that may differ between compared results (they do not change the definition).
_FREE_PARAMS = frozenset({"by", "min_n", "alpha", "item"})
_NORMAL = NormalDist()
_PERIODS_NOTE = (
    "periods compared as independent samples; for the same respondents in several periods "
    "use net_score_paired"
)

Alternative = Literal["two-sided", "greater", "less"]


# -- the comparison record ----------------------------------------------------------------------


@attrs.frozen
class Comparison:
    """A difference between two results (or a result and a benchmark) with its test.

    Parameters
    ----------
    metric : str
        The metric compared.
    label_a, label_b : str
        What was compared: group labels, ``"all"`` for an overall result, or the benchmark.
    difference : float
        ``value_a - value_b`` (or ``value - benchmark``), in the metric's unit.
    se : float or None
        Standard error of the difference.
    ci_low, ci_high : float or None
        Confidence interval of the difference (one side infinite for a one-sided test). For
        adjusted-Wald results it is centred on the difference of the adjusted centres,
        ``details["adjusted_difference"]``.
    level : float
        Confidence level.
    statistic : float
        The z statistic, or Welch's t when ``df`` is set.
    df : float or None
        Degrees of freedom of a t statistic.
    p_value : float
        The test's p-value (NaN when the standard error is 0).
    alternative : {"two-sided", "greater", "less"}
        The alternative hypothesis.
    method : str
        The test and variance used.
    n_a, n_b : int or None
        Observations on each side (``n_b`` is None for a benchmark).
    p_adjusted : float or None
        The p-value adjusted for multiple comparisons (:func:`compare_groups`, :func:`trend`).
    adjustment : str or None
        ``"holm"`` or ``"bh"``.
    unit : str
        The unit of ``difference``.
    flags : tuple of str
        Warnings (small samples, no test).
    details : Mapping[str, float]
        Further figures.

    Examples
    --------
    >>> c = Comparison(metric="nps", label_a="a", label_b="b", difference=5.0, se=2.5,
    ...                ci_low=0.1, ci_high=9.9, level=0.95, statistic=2.0, df=None,
    ...                p_value=0.0455, alternative="two-sided", method="z", n_a=400, n_b=420,
    ...                unit="points")
    >>> print(c)
    nps a - b = 5.0 points [95% CI 0.1 to 9.9]; z = 2.00, p = 0.0455 (two-sided, z); n = 400 vs 420
    """

    metric: str
    label_a: str
    label_b: str
    difference: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    statistic: float
    df: float | None
    p_value: float
    alternative: Alternative
    method: str
    n_a: int
    n_b: int | None
    p_adjusted: float | None = None
    adjustment: str | None = None
    unit: str = ""
    flags: tuple[str, ...] = ()
    details: Mapping[str, float] = attrs.field(factory=dict)

    def __str__(self) -> str:
        digits = 3 if self.unit == "share" else 1
        unit = f" {self.unit}" if self.unit and self.unit != "share" else ""

        def fmt(x: float | None) -> str:
            return "n/a" if x is None or math.isnan(x) else f"{x:,.{digits}f}"

        text = f"{self.metric} {self.label_a} - {self.label_b} = {fmt(self.difference)}{unit}"
        text += f" [{self.level:.0%} CI {fmt(self.ci_low)} to {fmt(self.ci_high)}]"
        name = "z" if self.df is None else f"t({self.df:.1f})"
        text += f"; {name} = {self.statistic:.2f}, p = {self.p_value:.4f}"
        if self.p_adjusted is not None:
            text += f", {self.adjustment} p = {self.p_adjusted:.4f}"
        text += f" ({self.alternative}, {self.method})"
        text += f"; n = {self.n_a:,}" + ("" if self.n_b is None else f" vs {self.n_b:,}")
        if self.flags:
            text += "  (" + "; ".join(self.flags) + ")"
        return text


# -- helpers ------------------------------------------------------------------------------------


def _label(result: MetricResult) -> str:
    return "all" if result.group is None else str(result.group)


def _centre(result: MetricResult) -> tuple[float, bool]:
    """The centre the result's interval and standard error belong to; True if adjusted."""
    for key, value in result.details.items():
        if key.startswith("adjusted_"):
            return float(value), True
    return float(result.value), False


def _se(result: MetricResult) -> float:
    if result.se is None or math.isnan(result.se):
        raise ValidationError(
            record="Comparison",
            field="se",
            row=None,
            value=f"{result.metric}[{_label(result)}]",
            expected="a result with a standard error (n >= 2 where the method needs it)",
        )
    return float(result.se)


def _identity(result: MetricResult) -> dict[str, Any]:
    return {k: v for k, v in result.params.items() if k not in _FREE_PARAMS}


def _check_comparable(a: MetricResult, b: MetricResult) -> None:
    if a.metric != b.metric:
        raise ValidationError(
            record="Comparison",
            field="metric",
            row=None,
            value=f"{a.metric} vs {b.metric}",
            expected="two results of the same metric",
        )
    pa, pb = _identity(a), _identity(b)
    differ = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
    if differ:
        raise ValidationError(
            record="Comparison",
            field="params",
            row=None,
            value={k: (pa.get(k), pb.get(k)) for k in differ},
            expected=(
                f"two {a.metric} results of the same variant (variant, scale, bands, interval "
                "method and weighting must match)"
            ),
        )


def _small(result: MetricResult) -> list[str]:
    return [f"{_label(result)}: {f}" for f in result.flags if f.startswith("small sample")]


def _p_two_sided(statistic: float, df: float | None) -> float:
    if math.isnan(statistic):
        return math.nan
    if df is None:
        return 2 * _NORMAL.cdf(-abs(statistic))
    return 2 * t_sf(abs(statistic), df)


def _p_one_sided(statistic: float, df: float | None, alternative: Alternative) -> float:
    if math.isnan(statistic):
        return math.nan
    x = statistic if alternative == "greater" else -statistic
    if df is None:
        return _NORMAL.cdf(-x)
    return t_sf(x, df)


def _critical(alpha: float, df: float | None, two_sided: bool) -> float:
    q = 1 - alpha / 2 if two_sided else 1 - alpha
    if df is None:
        return _NORMAL.inv_cdf(q)
    return t_quantile(q, df)


def _df(result: MetricResult) -> float | None:
    df = result.details.get("df")
    return None if df is None or not df > 0 else float(df)


# -- independent samples and benchmarks -----------------------------------------------------------


def compare_independent(a: MetricResult, b: MetricResult, *, alpha: float = 0.05) -> Comparison:
    r"""Difference between two results from independent samples, with interval and p-value.

    Parameters
    ----------
    a, b : MetricResult
        Results of the same metric and variant, from different respondents (two segments, two
        surveys of different people). For the same respondents in two waves use the paired
        metric ``"net_score_paired"`` (:class:`PairedNetScore`).
    alpha : float
        1 - confidence level; the test is two-sided.

    Returns
    -------
    Comparison
        ``difference = a.value - b.value``.

    Notes
    -----
    .. math::

        z = \frac{\hat\theta_a - \hat\theta_b}{\sqrt{SE_a^2 + SE_b^2}}, \qquad
        (\hat\theta_a - \hat\theta_b) \pm z_{1-\alpha/2}\sqrt{SE_a^2 + SE_b^2}

    For a net score with Wald standard errors this is
    :math:`(\mathrm{NPS}_1 - \mathrm{NPS}_2)/\sqrt{\mathrm{Var}_1/n_1 + \mathrm{Var}_2/n_2}`;
    for adjusted-Wald results the adjusted centres and their standard errors are used (the
    pseudo-counts added to each sample). When both results come from t intervals (they report
    ``details["df"]``), Welch's t with Satterthwaite's degrees of freedom replaces z.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372.
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34(1/2), 28-35.

    Examples
    --------
    >>> from stickykit import compute, get_metric
    >>> data = {"csat": [5, 4, 4, 2, 5, 5, 4, 1], "segment": list("aaaabbbb")}
    >>> r = compute(get_metric("csat", by="segment"), data)
    >>> c = compare_independent(r.groups[0], r.groups[1])
    >>> c.difference, c.n_a, c.n_b
    (0.0, 4, 4)
    """
    check_alpha(alpha)
    _check_comparable(a, b)
    se_a, se_b = _se(a), _se(b)
    (ca, adj_a), (cb, adj_b) = _centre(a), _centre(b)
    se = math.hypot(se_a, se_b)
    centre = ca - cb
    df_a, df_b = _df(a), _df(b)
    df: float | None = None
    if df_a is not None and df_b is not None and se > 0:
        df = se**4 / (se_a**4 / df_a + se_b**4 / df_b)
    flags = _small(a) + _small(b)
    if se > 0:
        statistic = centre / se
        crit = _critical(alpha, df, two_sided=True)
        low, high = centre - crit * se, centre + crit * se
    else:
        statistic, low, high = math.nan, math.nan, math.nan
        flags.append("no test: the standard error of the difference is 0")
    details: dict[str, float] = {}
    if adj_a or adj_b:
        details["adjusted_difference"] = centre
    what = "adjusted centres" if adj_a or adj_b else "estimates"
    test = "Welch t" if df is not None else "z"
    return Comparison(
        metric=a.metric,
        label_a=_label(a),
        label_b=_label(b),
        difference=float(a.value - b.value),
        se=se,
        ci_low=None if math.isnan(low) else low,
        ci_high=None if math.isnan(high) else high,
        level=1 - alpha,
        statistic=statistic,
        df=df,
        p_value=_p_two_sided(statistic, df),
        alternative="two-sided",
        method=f"independent samples, {test} on the difference of {what}",
        n_a=a.n,
        n_b=b.n,
        unit=a.unit,
        flags=tuple(flags),
        details=details,
    )


def compare_benchmark(
    result: MetricResult,
    benchmark: float,
    *,
    alternative: Alternative = "greater",
    alpha: float = 0.05,
) -> Comparison:
    r"""Test a result against a benchmark value (one-sided by default: is it above?).

    Parameters
    ----------
    result : MetricResult
        The score.
    benchmark : float
        The target, in the result's unit (points for a net score, a share for CSAT).
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: is the score above the benchmark? (for a lower-is-better score such as
        the CES 1.0 mean, ask ``"less"``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    Comparison
        ``difference = value - benchmark`` with a one-sided confidence bound (the other end
        infinite) or a two-sided interval.

    Notes
    -----
    .. math::

        z = \frac{\hat\theta - B}{SE}, \qquad
        p = 1 - \Phi(z) \text{ for "greater"}, \qquad
        \text{bound } \hat\theta - B - z_{1-\alpha}\,SE

    so the score is significantly above :math:`B` at level :math:`\alpha` when
    :math:`z > 1.645` (:math:`\alpha = 0.05`). Adjusted-Wald results use their adjusted centre;
    results of t intervals use Student's t.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372.

    Examples
    --------
    >>> from stickykit import compute, get_metric
    >>> r = compute(get_metric("nps", interval="wald"), {"nps": [10] * 60 + [8] * 25 + [3] * 15})
    >>> c = compare_benchmark(r, 30)
    >>> round(c.difference, 1), round(c.statistic, 3), round(c.p_value, 4), c.ci_high
    (15.0, 2.027, 0.0213, inf)
    """
    check_alpha(alpha)
    if alternative not in ("greater", "less", "two-sided"):
        msg = f"alternative must be 'greater', 'less' or 'two-sided', got {alternative!r}"
        raise ValueError(msg)
    se = _se(result)
    centre, adjusted = _centre(result)
    df = _df(result)
    gap = centre - benchmark
    flags = _small(result)
    if se > 0:
        statistic = gap / se
        crit = _critical(alpha, df, two_sided=alternative == "two-sided")
        low = gap - crit * se if alternative != "less" else -math.inf
        high = gap + crit * se if alternative != "greater" else math.inf
    else:
        statistic, low, high = math.nan, math.nan, math.nan
        flags.append("no test: the standard error is 0")
    p = (
        _p_two_sided(statistic, df)
        if alternative == "two-sided"
        else _p_one_sided(statistic, df, alternative)
    )
    test = "t" if df is not None else "z"
    return Comparison(
        metric=result.metric,
        label_a=_label(result),
        label_b=f"benchmark {benchmark:g}",
        difference=float(result.value - benchmark),
        se=se,
        ci_low=None if math.isnan(low) else low,
        ci_high=None if math.isnan(high) else high,
        level=1 - alpha,
        statistic=statistic,
        df=df,
        p_value=p,
        alternative=alternative,
        method=f"one-sample {test} against a benchmark"
        + (" (adjusted centre)" if adjusted else ""),
        n_a=result.n,
        n_b=None,
        unit=result.unit,
        flags=tuple(flags),
        details={"adjusted_difference": gap} if adjusted else {},
    )


def _versus_overall(group: MetricResult, overall: MetricResult, alpha: float) -> Comparison:
    """A group against the overall it is part of (not independent of it)."""
    se_g, se_o = _se(group), _se(overall)
    (cg, adj_g), (co, _) = _centre(group), _centre(overall)
    wg, wo = group.details.get("weight_sum"), overall.details.get("weight_sum")
    share = wg / wo if wg is not None and wo else group.n / overall.n
    variance = se_o**2 + (1 - 2 * share) * se_g**2
    flags = _small(group)
    gap = cg - co
    if variance > 1e-12 * max(se_o**2, se_g**2, 1e-300):
        se = math.sqrt(variance)
        statistic = gap / se
        crit = z_value(alpha)
        low, high = gap - crit * se, gap + crit * se
    else:
        se, statistic, low, high = 0.0, math.nan, math.nan, math.nan
        flags.append("no test: the group is (nearly) the whole sample")
    return Comparison(
        metric=group.metric,
        label_a=_label(group),
        label_b="all",
        difference=float(group.value - overall.value),
        se=se,
        ci_low=None if math.isnan(low) else low,
        ci_high=None if math.isnan(high) else high,
        level=1 - alpha,
        statistic=statistic,
        df=None,
        p_value=_p_two_sided(statistic, None),
        alternative="two-sided",
        method=(
            "group vs overall, z with Var = SE_all^2 + (1 - 2f) SE_group^2, f = the group's "
            "share of the overall"
        ),
        n_a=group.n,
        n_b=overall.n,
        unit=group.unit,
        flags=tuple(flags),
        details={"share_of_overall": share, **({"adjusted_difference": gap} if adj_g else {})},
    )


def compare_groups(
    result: MetricResult,
    *,
    reference: Any = None,
    adjust: Literal["holm", "bh"] | None = "holm",
    alpha: float = 0.05,
) -> tuple[Comparison, ...]:
    r"""Compare every group of a grouped result with the overall or with a reference group.

    Parameters
    ----------
    result : MetricResult
        A grouped result (computed with ``by=...``).
    reference : group label, optional
        Compare every other group with this one (independent samples); by default each group
        is compared with the overall.
    adjust : {"holm", "bh"} or None
        Adjust the p-values for the number of comparisons: Holm (family-wise error rate,
        default) or Benjamini-Hochberg (false discovery rate); see
        :func:`stickykit.stats.multiple.adjust_pvalues`.
    alpha : float
        1 - confidence level of each interval (the intervals are not adjusted).

    Returns
    -------
    tuple of Comparison
        One per group (but the reference), in the result's group order, each with
        ``p_adjusted``.

    Notes
    -----
    A group is part of the overall, so the two are not independent. For a score that is a mean
    of per-answer values, the overall is :math:`\hat\theta = f\hat\theta_g + (1 - f)\hat\theta_r`
    with :math:`f` the group's share (of answers, or of weight), and
    :math:`\mathrm{Cov}(\hat\theta_g, \hat\theta) = f\,\mathrm{Var}(\hat\theta_g)`, hence

    .. math::

        \mathrm{Var}(\hat\theta_g - \hat\theta) = SE^2 + (1 - 2f)\,SE_g^2.

    The difference :math:`\hat\theta_g - \hat\theta = (1 - f)(\hat\theta_g - \hat\theta_r)`
    tests the group against the rest of the sample; because the overall standard error also
    carries the spread between the groups, the test is conservative (never more significant
    than the group against the rest). Groups are treated as disjoint sets of respondents;
    waves of a panel are not (use ``"net_score_paired"``).

    Examples
    --------
    >>> from stickykit import compute, get_metric
    >>> data = {"nps": [10] * 40 + [3] * 10 + [10] * 25 + [3] * 25 + [10] * 30 + [3] * 20,
    ...         "segment": ["a"] * 50 + ["b"] * 50 + ["c"] * 50}
    >>> r = compute(get_metric("nps", by="segment", interval="wald"), data)
    >>> [(c.label_a, round(c.difference, 1), round(c.p_value, 4), round(c.p_adjusted, 4))
    ...  for c in compare_groups(r)]
    [('a', 33.3, 0.0011, 0.0034), ('b', -26.7, 0.0187, 0.0374), ('c', -6.7, 0.5525, 0.5525)]
    """
    check_alpha(alpha)
    if adjust is not None and adjust not in ADJUSTMENTS:
        msg = f"adjust must be one of {ADJUSTMENTS} or None, got {adjust!r}"
        raise ValueError(msg)
    if not result.groups:
        raise ValidationError(
            record="Comparison",
            field="groups",
            row=None,
            value=result.metric,
            expected="a grouped result (computed with by=...)",
        )
    comparisons: list[Comparison] = []
    if reference is None:
        comparisons = [_versus_overall(g, result, alpha) for g in result.groups if g.n]
    else:
        labels = [g.group for g in result.groups]
        if reference not in labels:
            raise ValidationError(
                record="Comparison",
                field="reference",
                row=None,
                value=reference,
                expected=f"one of the group labels {labels}",
            )
        ref = result.groups[labels.index(reference)]
        comparisons = [
            compare_independent(g, ref, alpha=alpha)
            for g in result.groups
            if g.group != reference and g.n
        ]
    wave_note = (
        "groups compared as independent samples; for the same respondents in several waves "
        "use net_score_paired"
    )
    if result.params.get("by") == "wave":
        comparisons = [attrs.evolve(c, flags=(*c.flags, wave_note)) for c in comparisons]
    if adjust is None or not comparisons:
        return tuple(comparisons)
    adjusted = adjust_pvalues([c.p_value for c in comparisons], method=adjust)
    return tuple(
        attrs.evolve(c, p_adjusted=float(p), adjustment=adjust)
        for c, p in zip(comparisons, adjusted, strict=True)
    )


@attrs.frozen
class Trend:
    """A score per period with its interval, and the change from each period to the next.

    Parameters
    ----------
    metric : str
        The metric.
    periods : tuple
        Period labels in order (rows without a period are left out).
    points : tuple of MetricResult
        The result of each period: value, interval, n, flags.
    changes : tuple of Comparison
        Period ``i + 1`` against period ``i`` (independent samples).
    flags : tuple of str
        Warnings.

    Examples
    --------
    >>> from stickykit import compute, get_metric
    >>> data = {"nps": [10, 9, 3, 10, 10, 8, 10, 10, 10], "wave": [1, 1, 1, 2, 2, 2, 3, 3, 3]}
    >>> t = trend(compute(get_metric("nps", by="wave"), data))
    >>> t.periods, [round(p.value, 1) for p in t.points]
    ((1, 2, 3), [33.3, 66.7, 100.0])
    """

    metric: str
    periods: tuple[Any, ...]
    points: tuple[MetricResult, ...]
    changes: tuple[Comparison, ...]
    flags: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.metric} by period:"]
        lines += ["  " + str(p).replace("\n", " ") for p in self.points]
        lines += ["  " + str(c) for c in self.changes]
        lines += [f"  ({f})" for f in self.flags]
        return "\n".join(lines)


def trend(
    result: MetricResult,
    *,
    adjust: Literal["holm", "bh"] | None = None,
    alpha: float = 0.05,
) -> Trend:
    """A grouped result as a trend over its periods, with the change between periods.

    Parameters
    ----------
    result : MetricResult
        A result grouped by period (``by="wave"`` usually); groups in label order.
    adjust : {"holm", "bh"} or None
        Adjust the p-values of the period-to-period changes.
    alpha : float
        1 - confidence level of each change's interval.

    Returns
    -------
    Trend
        Each period's result (with its own interval) and the successive changes, compared as
        independent samples (different respondents in each period). For the same respondents
        in two periods use ``"net_score_paired"``.

    Examples
    --------
    >>> from stickykit import compute, get_metric
    >>> data = {"csat": [5, 4, 2, 5, 5, 4, 3, 5], "wave": [1, 1, 1, 1, 2, 2, 2, 2]}
    >>> t = trend(compute(get_metric("csat", by="wave"), data))
    >>> [round(c.difference, 2) for c in t.changes]
    [0.0]
    """
    if not result.groups:
        raise ValidationError(
            record="Trend",
            field="groups",
            row=None,
            value=result.metric,
            expected="a result grouped by period (computed with by=...)",
        )
    points = tuple(g for g in result.groups if g.group != MISSING_GROUP and g.n)
    changes = [
        compare_independent(later, earlier, alpha=alpha)
        for earlier, later in itertools.pairwise(points)
    ]
    if adjust is not None and changes:
        adjusted = adjust_pvalues([c.p_value for c in changes], method=adjust)
        changes = [
            attrs.evolve(c, p_adjusted=float(p), adjustment=adjust)
            for c, p in zip(changes, adjusted, strict=True)
        ]
    return Trend(
        metric=result.metric,
        periods=tuple(p.group for p in points),
        points=points,
        changes=tuple(changes),
        flags=(_PERIODS_NOTE,),
    )


# -- the paired (panel) net score -----------------------------------------------------------------


@attrs.frozen(eq=False)
class PairedState:
    """Mergeable state of a paired net score: each respondent's score in the two waves.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    ids : numpy.ndarray
        Sorted unique respondent ids seen in either wave (int64 or unicode).
    before, after : numpy.ndarray
        int8 per id: the score -1, 0 or +1 in that wave, -127 for a response without an
        answer, -128 when the respondent was not seen in that wave.
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    ids: NDArray[Any]
    before: NDArray[np.int8]
    after: NDArray[np.int8]
    latest_us: int = _NO_TIME


def _check_wave_label(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if isinstance(value, bool) or not isinstance(value, int | str):
        msg = f"{attribute.name} must be a wave label (int or str), got {value!r}"
        raise TypeError(msg)


def _check_paired(instance: PairedNetScore, attribute: Any, value: Any) -> None:
    del attribute, value
    check_net_bands(instance.negative, instance.positive, instance.scale)
    if instance.before == instance.after:
        msg = f"before and after must be different waves, got {instance.before!r} twice"
        raise ValueError(msg)


def _to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


@attrs.frozen
class PairedNetScore(SurveyItemMetric):
    r"""Change in a net score for the same respondents surveyed twice (a panel), in points.

    Parameters
    ----------
    item : str
        The survey item (the NPS question by default).
    by : {"wave", "segment", "instrument"}
        The column holding the wave.
    before, after : int or str
        The two waves compared (labels of the ``by`` column).
    scale : (int, int)
        The answer range.
    negative, positive : (int, int)
        The net score's bands (NPS by default: 0-6 and 9-10; Net Easy on CES 2.0:
        ``scale=(1, 7), negative=(1, 3), positive=(5, 7)``).
    alpha : float
        1 - confidence level.
    min_n : int
        Fewer pairs are flagged as a small sample.

    Notes
    -----
    Each respondent :math:`i` answering both waves has the scores
    :math:`s_{1i}, s_{2i} \in \{-1, 0, 1\}` and the change
    :math:`\Delta s_i = s_{2i} - s_{1i}`. Over the :math:`n` pairs,

    .. math::

        \widehat{\Delta} = 100\,\overline{\Delta s}, \qquad
        \widehat{\mathrm{Var}} = \frac{\mathrm{var}(\Delta s)}{n}
        = \frac{\mathrm{var}(s_1) + \mathrm{var}(s_2) - 2\,\mathrm{cov}(s_1, s_2)}{n}

    (variances with divisor :math:`n`, as in the trinomial variance of one net score) and the
    Wald interval :math:`\widehat\Delta \pm 100\,z\sqrt{\widehat{\mathrm{Var}}}`. It equals
    the independent-samples variance, ``details["se_independent"]``, only when the two waves'
    scores are uncorrelated; a positively correlated panel (the usual case) gives a narrower
    interval. The variance is derived from the paired differences, not taken from a
    publication. Respondents seen in one wave only, or without an answer, count in
    ``n_missing``; a respondent answering the same wave twice is an error naming the
    respondent. Weights are not used.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (the variance of one net score).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(respondent_id=np.array([1, 2, 3, 1, 2, 3]),
    ...                     answers={"nps": np.array([6, 8, 9, 9, 9, 9], np.int8)},
    ...                     wave=np.array([1, 1, 1, 2, 2, 2]))
    >>> m = PairedNetScore()
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> round(r.value, 1), r.n, {k: round(v, 1) for k, v in r.details.items()}["before"]
    (100.0, 3, 0.0)
    """

    name: ClassVar[str] = "net_score_paired"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Paired change of a net score, Var = var(s2 - s1)/n (derived); single-sample variance: "
        "Rocks (2016), The American Statistician 70(4), 365-372"
    )

    item: str = "nps"
    by: str = attrs.field(
        default="wave", validator=attrs.validators.in_(("wave", "segment", "instrument"))
    )
    before: int | str = attrs.field(default=1, validator=_check_wave_label)
    after: int | str = attrs.field(default=2, validator=_check_wave_label)
    scale: tuple[int, int] = attrs.field(default=(0, 10), converter=_to_tuple)
    negative: tuple[int, int] = attrs.field(default=(0, 6), converter=_to_tuple)
    positive: tuple[int, int] = attrs.field(
        default=(9, 10), converter=_to_tuple, validator=_check_paired
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    # -- the four functions -------------------------------------------------------------

    def init(self) -> PairedState:
        """The empty state."""
        return PairedState(
            fingerprint=self.fingerprint,
            ids=empty_labels(),
            before=np.empty(0, np.int8),
            after=np.empty(0, np.int8),
        )

    def update(self, state: PairedState, frame: SurveyFrame) -> PairedState:
        """Add the responses of the two waves in ``frame``.

        Raises ValidationError for an answer outside ``scale``, a frame without respondent ids
        or wave labels, and a respondent answering the same wave twice.
        """
        values, answered = self._answers(frame)
        self._raise_scale(values, answered, frame.first_row)
        rid = self._column(frame, "respondent_id", "respondent ids to pair the waves")
        wave = self._column(frame, self.by, f"a {self.by!r} column holding the waves")
        scores = self._scores(values, answered)
        parts = []
        for label in (self.before, self.after):
            rows = np.flatnonzero(self._in_wave(wave, frame.label_missing.get(self.by), label))
            ids = rid[rows]
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            repeated = np.flatnonzero(ids[1:] == ids[:-1]) + 1
            if repeated.size:
                first = int(repeated[0])
                raise ValidationError(
                    record="SurveyFrame",
                    field="respondent_id",
                    row=frame.first_row + int(rows[order[first]]),
                    value=ids[first].item(),
                    expected=f"one response per respondent in {self.by} {label!r}",
                    n_failing=len(np.unique(ids[repeated])),
                )
            parts.append((ids, scores[rows[order]]))
        (ids_b, s_b), (ids_a, s_a) = parts
        union = np.union1d(ids_b, ids_a) if len(ids_b) or len(ids_a) else empty_labels()
        before = np.full(len(union), _NOT_SEEN, np.int8)
        after = np.full(len(union), _NOT_SEEN, np.int8)
        before[np.searchsorted(union, ids_b)] = s_b
        after[np.searchsorted(union, ids_a)] = s_a
        chunk = PairedState(
            fingerprint=self.fingerprint,
            ids=union,
            before=before,
            after=after,
            latest_us=self._latest(state.latest_us, frame),
        )
        return self.merge(state, chunk)

    def merge(self, a: PairedState, b: PairedState) -> PairedState:
        """Union of the respondents; the same respondent in the same wave twice is an error."""
        check_fingerprints(self.name, a, b)
        ids, pos_a, pos_b = union_labels(a.ids, b.ids)
        pos_a, pos_b = pos_a[:-1], pos_b[:-1]
        return PairedState(
            fingerprint=a.fingerprint,
            ids=ids,
            before=self._combine(ids, a.before, b.before, pos_a, pos_b, self.before),
            after=self._combine(ids, a.after, b.after, pos_a, pos_b, self.after),
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: PairedState, as_of: dt.datetime | None = None) -> MetricResult:
        """The change ``after - before`` over the respondents who answered both waves."""
        as_of = self._as_of(state.latest_us, as_of)
        valid_b, valid_a = state.before >= -1, state.after >= -1
        paired = valid_b & valid_a
        n = int(np.count_nonzero(paired))
        seen = int(np.count_nonzero((state.before != _NOT_SEEN) | (state.after != _NOT_SEEN)))
        if n == 0:
            msg = (
                f"no respondent answered '{self.item}' in both {self.by} {self.before!r} and "
                f"{self.after!r} ({seen:,} respondents seen in either)"
            )
            raise InsufficientDataError(msg)
        s1 = state.before[paired].astype(np.int64)
        s2 = state.after[paired].astype(np.int64)
        # exact integer moments; n^2 var = n sum(x^2) - sum(x)^2
        sum1, sum2 = int(s1.sum()), int(s2.sum())
        var1 = (n * int(s1 @ s1) - sum1 * sum1) / n**2
        var2 = (n * int(s2 @ s2) - sum2 * sum2) / n**2
        cov = (n * int(s1 @ s2) - sum1 * sum2) / n**2
        diff = s2 - s1
        sum_d = int(diff.sum())
        var_d = (n * int(diff @ diff) - sum_d * sum_d) / n**2
        mean = sum_d / n
        se = math.sqrt(var_d / n)
        z = z_value(self.alpha)
        flags: list[str] = []
        if n < self.min_n:
            flags.append(f"small sample: n = {n} pairs < {self.min_n}")
        if se == 0:
            flags.append("zero-width interval: every respondent changed by the same amount")
        correlation = cov / math.sqrt(var1 * var2) if var1 > 0 and var2 > 0 else math.nan
        details = {
            "before": 100 * sum1 / n,
            "after": 100 * sum2 / n,
            "correlation": correlation,
            "se_independent": 100 * math.sqrt((var1 + var2) / n),
            "n_before": float(np.count_nonzero(valid_b)),
            "n_after": float(np.count_nonzero(valid_a)),
        }
        return MetricResult(
            metric=self.name,
            value=100 * mean,
            n=n,
            n_missing=seen - n,
            se=100 * se,
            ci_low=100 * (mean - z * se),
            ci_high=100 * (mean + z * se),
            level=1 - self.alpha,
            method="paired Wald: Var = var(s_after - s_before)/n over respondents in both waves",
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=package_version(),
            unit="points",
            flags=tuple(flags),
            details=details,
        )

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Answers outside ``scale`` and repeated responses of a respondent in one wave.

        Of a respondent's responses to one wave, every one after the first is reported.
        """
        problems = super().check(frame)
        if frame.respondent_id is None or getattr(frame, self.by) is None:
            return problems
        wave = getattr(frame, self.by)
        for label in (self.before, self.after):
            rows = np.flatnonzero(self._in_wave(wave, frame.label_missing.get(self.by), label))
            ids = frame.respondent_id[rows]
            order = np.argsort(ids, kind="stable")
            repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1]) + 1
            if repeated.size:
                bad = np.sort(rows[order[repeated]])
                problems.append(
                    Violation(
                        field="respondent_id",
                        rows=(bad + frame.first_row).astype(np.int64),
                        values=frame.respondent_id[bad],
                        expected=f"one response per respondent in {self.by} {label!r}",
                    )
                )
        return problems

    # -- kernels --------------------------------------------------------------------------

    def _column(self, frame: SurveyFrame, name: str, expected: str) -> NDArray[Any]:
        column: NDArray[Any] | None = getattr(frame, name)
        if column is None:
            raise ValidationError(
                record="SurveyFrame", field=name, row=None, value=None, expected=expected
            )
        return column

    def _in_wave(
        self, wave: NDArray[Any], missing: NDArray[np.bool_] | None, label: int | str
    ) -> NDArray[np.bool_]:
        if (wave.dtype.kind == "U") != isinstance(label, str):
            kind = "text" if wave.dtype.kind == "U" else "integer"
            raise ValidationError(
                record="SurveyFrame",
                field=self.by,
                row=None,
                value=label,
                expected=f"a wave label of the column's type ({kind})",
            )
        mask: NDArray[np.bool_] = wave == label
        if missing is not None:
            mask &= ~missing
        return mask

    def _scores(
        self, values: NDArray[np.int8], answered: NDArray[np.bool_] | None
    ) -> NDArray[np.int8]:
        negative, positive = self.negative, self.positive
        up = positive[1] == self.scale[1]
        low_max, high_min = (negative[1], positive[0]) if up else (positive[1], negative[0])
        category = (values > low_max).astype(np.int8) + (values >= high_min) - 1
        scores: NDArray[np.int8] = category if up else -category
        if answered is not None:
            scores = np.where(answered, scores, np.int8(_NO_ANSWER)).astype(np.int8)
        return scores

    def _combine(
        self,
        ids: NDArray[Any],
        a: NDArray[np.int8],
        b: NDArray[np.int8],
        pos_a: NDArray[np.intp],
        pos_b: NDArray[np.intp],
        label: int | str,
    ) -> NDArray[np.int8]:
        out = np.full(len(ids), _NOT_SEEN, np.int8)
        out[pos_a] = a
        present = b != _NOT_SEEN
        clash = present & (out[pos_b] != _NOT_SEEN)
        if clash.any():
            raise ValidationError(
                record="SurveyFrame",
                field="respondent_id",
                row=None,
                value=ids[pos_b[np.flatnonzero(clash)[0]]].item(),
                expected=f"one response per respondent in {self.by} {label!r}",
                n_failing=int(np.count_nonzero(clash)),
            )
        out[pos_b[present]] = b[present]
        return out


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the paired comparison metric ``net_score_paired``."""
    register(PairedNetScore)
