r"""Before and after: the change of any metric between two periods or two groups.

A change has two readings that are easy to confuse. From 30 % to 60 % is an **absolute**
change of +30 percentage points and a **relative** change of +100 % (60/30 - 1); calling it
+300 % or +30 % is wrong. :class:`Change` reports both, each with an interval:

- **Independent samples** (two groups, or two periods with different customers):
  :func:`compare_results` takes the two results' standard errors. The absolute change is
  :func:`stickykit.metrics.survey.compare.compare_independent` (Wald or Welch, adjusted
  centres where the metric uses them); the relative change uses the delta method on the log
  ratio, :math:`\operatorname{Var}\log(\hat\theta_1/\hat\theta_0) \approx
  (SE_0/\hat\theta_0)^2 + (SE_1/\hat\theta_1)^2`, and is exponentiated back, so its interval
  is asymmetric and never below -100 %.
- **The same customers in both** (a panel, or a metric without a standard error):
  :func:`before_after` resamples customers, each with all their rows in both periods, so
  the correlation between a customer's two periods is kept (a seeded customer bootstrap,
  named in the method). Using the independent formula on a panel gets the variance wrong:
  usually too wide, as the two periods are positively correlated.

For survey net scores answered by the same respondents twice, the analytic paired interval is
``"net_score_paired"`` (:class:`~stickykit.metrics.survey.compare.PairedNetScore`).

Examples
--------
>>> from stickykit.metrics.base import MetricResult
>>> def share(value, se):
...     return MetricResult(metric="repeat_rate", value=value, n=400, n_missing=0, se=se,
...                         ci_low=None, ci_high=None, level=None, method="-", reference="-",
...                         params={}, as_of=None, version="0", unit="share")
>>> c = compare_results(share(0.30, 0.023), share(0.60, 0.024))
>>> round(c.points, 1), round(c.relative, 2)
(30.0, 1.0)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetime_to_us
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame
from stickykit.metrics.base import Metric, MetricResult
from stickykit.metrics.survey.compare import compare_independent
from stickykit.stats.bootstrap import check_seed, generator, percentile_interval
from stickykit.stats.intervals import check_alpha, z_value

__all__ = ["Change", "before_after", "compare_results"]

_RECORD = "before_after"
#: Result parameters that describe the period or group compared, not the metric's variant.
_PERIOD_PARAMS = frozenset({"as_of", "window", "start", "end", "by", "min_n", "alpha", "item"})
Paired = Literal["auto"] | bool


@attrs.frozen
class Change:
    r"""The change of a metric from one result to another, absolute and relative.

    Parameters
    ----------
    metric : str
        The metric compared.
    label_before, label_after : str
        What was compared (periods or groups).
    before, after : float
        The two values.
    unit : str
        The metric's unit.
    absolute : float
        ``after - before`` in the metric's unit (for a share, 0.30 means 30 points; see
        :attr:`points`).
    absolute_se : float or None
        Standard error of the absolute change.
    absolute_low, absolute_high : float or None
        Its interval.
    relative : float or None
        ``after / before - 1`` (1.0 = +100 %); None when ``before`` is not positive or
        ``after`` is negative (a ratio of such values has no meaning).
    relative_low, relative_high : float or None
        Its interval.
    level : float
        Confidence level.
    method : str
        How the intervals were obtained.
    paired : bool
        Whether the same customers were resampled together in both.
    n_before, n_after : int
        Observations behind each value.
    n_both : int
        Customers present in both (0 for independent groups).
    flags : tuple of str
        Warnings.

    Examples
    --------
    >>> c = Change(metric="retention", label_before="2023", label_after="2024", before=0.3,
    ...            after=0.6, unit="share", absolute=0.3, absolute_se=0.03, absolute_low=0.24,
    ...            absolute_high=0.36, relative=1.0, relative_low=0.7, relative_high=1.35,
    ...            level=0.95, method="Wald", paired=False, n_before=400, n_after=400,
    ...            n_both=0)
    >>> print(c)
    retention 2023 -> 2024: 0.300 -> 0.600; +30.0 points [95% CI +24.0 to +36.0], +100.0% [95% CI +70.0% to +135.0%] (Wald)
    """

    metric: str
    label_before: str
    label_after: str
    before: float
    after: float
    unit: str
    absolute: float
    absolute_se: float | None
    absolute_low: float | None
    absolute_high: float | None
    relative: float | None
    relative_low: float | None
    relative_high: float | None
    level: float
    method: str
    paired: bool
    n_before: int
    n_after: int
    n_both: int
    flags: tuple[str, ...] = ()

    @property
    def points(self) -> float:
        """The absolute change in percentage points for a share, else in the metric's unit.

        Examples
        --------
        >>> from stickykit.metrics.base import MetricResult
        >>> share = dict(metric="rate", n=100, n_missing=0, se=0.04, ci_low=None, ci_high=None,
        ...              level=None, method="-", reference="-", params={}, as_of=None,
        ...              version="0", unit="share")
        >>> compare_results(MetricResult(value=0.3, **share), MetricResult(value=0.6, **share)).points
        30.0
        """
        return 100.0 * self.absolute if self.unit == "share" else self.absolute

    def __str__(self) -> str:
        share = self.unit == "share"
        scale = 100.0 if share else 1.0
        unit = " points" if share or self.unit == "points" else (f" {self.unit}" * bool(self.unit))
        digits = 3 if share else 1

        def signed(x: float | None, suffix: str = "") -> str:
            return "n/a" if x is None or math.isnan(x) else f"{x:+,.1f}{suffix}"

        text = (
            f"{self.metric} {self.label_before} -> {self.label_after}: "
            f"{self.before:,.{digits}f} -> {self.after:,.{digits}f}; "
            f"{signed(scale * self.absolute)}{unit}"
        )
        if self.absolute_low is not None and self.absolute_high is not None:
            text += (
                f" [{self.level:.0%} CI {signed(scale * self.absolute_low)} to "
                f"{signed(scale * self.absolute_high)}]"
            )
        if self.relative is not None:
            text += f", {signed(100 * self.relative, '%')}"
            if self.relative_low is not None and self.relative_high is not None:
                text += (
                    f" [{self.level:.0%} CI {signed(100 * self.relative_low, '%')} to "
                    f"{signed(100 * self.relative_high, '%')}]"
                )
        text += f" ({self.method})"
        if self.flags:
            text += "  (" + "; ".join(self.flags) + ")"
        return text


def _label(result: MetricResult, default: str) -> str:
    if result.group is not None:
        return str(result.group)
    if result.as_of is not None:
        return f"to {result.as_of.date().isoformat()}"
    return default


def _relative(before: float, after: float) -> float | None:
    if not before > 0 or after < 0:
        return None
    return after / before - 1.0


def _relative_flags(before: float, after: float) -> list[str]:
    if _relative(before, after) is None:
        return ["no relative change: the values are not both positive (a ratio needs them)"]
    return []


def _check_variant(before: MetricResult, after: MetricResult) -> None:
    if before.metric != after.metric:
        raise ValidationError(
            record=_RECORD,
            field="metric",
            row=None,
            value=f"{before.metric} vs {after.metric}",
            expected="two results of the same metric",
        )
    pa = {k: v for k, v in before.params.items() if k not in _PERIOD_PARAMS}
    pb = {k: v for k, v in after.params.items() if k not in _PERIOD_PARAMS}
    differ = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
    if differ:
        raise ValidationError(
            record=_RECORD,
            field="params",
            row=None,
            value={k: (pa.get(k), pb.get(k)) for k in differ},
            expected=f"two {before.metric} results of the same variant (same parameters)",
        )


def compare_results(
    before: MetricResult,
    after: MetricResult,
    *,
    alpha: float = 0.05,
    labels: Sequence[str] | None = None,
    check_variant: bool = True,
) -> Change:
    r"""The change between two results from independent samples, from their standard errors.

    Parameters
    ----------
    before, after : MetricResult
        Two results of the same metric and variant, from different customers (two groups,
        or two periods without customers in common). For the same customers in both use
        :func:`before_after`.
    alpha : float
        1 - confidence level.
    labels : (str, str), optional
        Names of the two sides (default: their groups or ``as_of`` dates).
    check_variant : bool
        Refuse results whose parameters differ, other than those that describe the period or
        group (``as_of``, ``window``, ``start``, ``end``, ``by``, ``min_n``, ``alpha``,
        ``item``). :func:`before_after` turns it off: both results come from one metric.

    Returns
    -------
    Change

    Raises
    ------
    ValidationError
        Different metrics or variants, or a result without a standard error.

    Notes
    -----
    Absolute: :math:`\Delta = \hat\theta_1 - \hat\theta_0 \pm z\sqrt{SE_0^2 + SE_1^2}` (as
    :func:`~stickykit.metrics.survey.compare.compare_independent`). Relative:
    :math:`r = \hat\theta_1/\hat\theta_0 - 1` with
    :math:`\exp\bigl(\log(\hat\theta_1/\hat\theta_0) \pm z\sqrt{(SE_0/\hat\theta_0)^2 +
    (SE_1/\hat\theta_1)^2}\bigr) - 1`, the delta method on the log ratio (Katz et al. 1978
    for a ratio of two proportions).

    References
    ----------
    Katz, D., Baptista, J., Azen, S. P. and Pike, M. C. (1978). Obtaining confidence
    intervals for the risk ratio in cohort studies. *Biometrics* 34(3), 469-474.

    Examples
    --------
    A repeat rate of 30 % (120 of 400) and 60 % (240 of 400), Wald standard errors
    :math:`\sqrt{0.3 \cdot 0.7/400} = 0.0229` and :math:`\sqrt{0.6 \cdot 0.4/400} = 0.0245`.
    The log ratio is :math:`\log 2 = 0.693` with standard error
    :math:`\sqrt{(0.0229/0.3)^2 + (0.0245/0.6)^2} = 0.0866`, so the relative change runs from
    :math:`e^{0.693 - 1.96 \cdot 0.0866} - 1 = 68.8\,\%` to :math:`137.0\,\%`:

    >>> from stickykit.metrics.base import MetricResult
    >>> def share(value, se):
    ...     return MetricResult(metric="repeat_rate", value=value, n=400, n_missing=0, se=se,
    ...                         ci_low=None, ci_high=None, level=None, method="-",
    ...                         reference="-", params={}, as_of=None, version="0",
    ...                         unit="share")
    >>> c = compare_results(share(0.3, 0.0229), share(0.6, 0.0245), labels=("2023", "2024"))
    >>> print(c)
    repeat_rate 2023 -> 2024: 0.300 -> 0.600; +30.0 points [95% CI +23.4 to +36.6], +100.0% [95% CI +68.8% to +137.0%] (independent samples, z on the difference of estimates; relative change by the delta method on log(after/before))
    """
    alpha = check_alpha(alpha)
    for side, result in (("before", before), ("after", after)):
        if result.se is None or not math.isfinite(result.se):
            raise ValidationError(
                record=_RECORD,
                field=side,
                row=None,
                value=f"{result.metric} without a standard error",
                expected=(
                    "results with standard errors; for metrics without one, or the same "
                    "customers in both, use before_after (a customer bootstrap)"
                ),
            )
    if check_variant:
        _check_variant(before, after)
    # the variants agree: compare_independent need not see the period-specific parameters
    diff = compare_independent(
        attrs.evolve(after, params={}), attrs.evolve(before, params={}), alpha=alpha
    )
    flags = list(diff.flags) + _relative_flags(before.value, after.value)
    relative = _relative(before.value, after.value)
    low = high = None
    if relative is not None and after.value > 0:
        assert before.se is not None
        assert after.se is not None
        spread = math.hypot(before.se / before.value, after.se / after.value)
        centre = math.log(after.value / before.value)
        z = z_value(alpha)
        low, high = math.exp(centre - z * spread) - 1.0, math.exp(centre + z * spread) - 1.0
    names = (
        tuple(labels) if labels is not None else (_label(before, "before"), _label(after, "after"))
    )
    return Change(
        metric=before.metric,
        label_before=names[0],
        label_after=names[1],
        before=float(before.value),
        after=float(after.value),
        unit=after.unit,
        absolute=float(after.value - before.value),
        absolute_se=diff.se,
        absolute_low=diff.ci_low,
        absolute_high=diff.ci_high,
        relative=relative,
        relative_low=low,
        relative_high=high,
        level=1 - alpha,
        method=diff.method + "; relative change by the delta method on log(after/before)",
        paired=False,
        n_before=before.n,
        n_after=after.n,
        n_both=0,
        flags=tuple(flags),
    )


# -- data-level comparison with a customer bootstrap --------------------------------------------


Frame = EventFrame | SurveyFrame | CustomerFrame


def _unit_column(frame: Frame) -> str | None:
    if isinstance(frame, SurveyFrame):
        if frame.customer_id is not None:
            return "customer_id"
        return "respondent_id" if frame.respondent_id is not None else None
    return "customer_id"


def _units(frame: Frame) -> NDArray[Any] | None:
    column = _unit_column(frame)
    return None if column is None else np.asarray(getattr(frame, column))


def _before_as_of(frame: Frame, as_of: dt.datetime | None) -> Frame:
    if as_of is None:
        return frame
    if as_of.tzinfo is None:
        raise ValidationError(
            record=_RECORD, field="as_of", row=None, value=as_of, expected="an aware datetime"
        )
    times = frame.timestamp if isinstance(frame, EventFrame) else None
    if isinstance(frame, SurveyFrame):
        times = frame.answered_at
    if times is None:
        return frame
    cutoff = np.datetime64(datetime_to_us(as_of.astimezone(dt.UTC)), "us")
    return frame.filter(np.isnat(times) | (times < cutoff))


def _run(metric: Metric, frame: Frame, as_of: dt.datetime | None) -> MetricResult:
    return metric.finalize(metric.update(metric.init(), frame), as_of)


def _replicate(
    frame: Frame, codes: NDArray[np.intp], counts: NDArray[np.int64], starts: NDArray[np.int64]
) -> Frame:
    """The frame with each unit's rows repeated ``counts[unit]`` times, each copy a new unit."""
    reps = counts[codes]
    rows = np.repeat(np.arange(len(frame)), reps)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    copy = np.arange(len(rows)) - first
    new_ids = starts[codes[rows]] + copy
    taken = frame.take(rows)
    column = _unit_column(frame)
    assert column is not None
    changes: dict[str, Any] = {column: new_ids.astype(np.int64)}
    respondents = taken.respondent_id if isinstance(taken, SurveyFrame) else None
    if column == "customer_id" and respondents is not None:
        _, respondent = np.unique(respondents, return_inverse=True)
        width = int(respondent.max()) + 1 if len(respondent) else 1
        changes["respondent_id"] = new_ids.astype(np.int64) * width + respondent.reshape(-1)
    return attrs.evolve(taken, **changes)


def before_after(
    metric: Metric | str,
    before: Frame,
    after: Frame,
    *,
    as_of_before: dt.datetime | None = None,
    as_of_after: dt.datetime | None = None,
    paired: Paired = "auto",
    alpha: float = 0.05,
    n_boot: int = 999,
    seed: int = 0,
    labels: Sequence[str] = ("before", "after"),
) -> Change:
    r"""Compute a metric on two data sets and the change between them, with intervals.

    Parameters
    ----------
    metric : Metric or str
        Any metric (an instance, or the registered name of one with default parameters).
    before, after : frame
        The data of each period or group, as frames of the metric's input kind (load them
        first with :func:`stickykit.load_events` or :func:`stickykit.load_survey`).
    as_of_before, as_of_after : datetime, optional
        The (exclusive) end of each period: rows at or after it are left out, and the metric
        is finalised at it.
    paired : str or bool
        ``"auto"``: paired when a customer appears in both. Paired comparisons, and metrics
        without standard errors, use the customer bootstrap; otherwise the two results'
        standard errors (:func:`compare_results`).
    alpha : float
        1 - confidence level.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed of the bootstrap (the same seed gives the same interval).
    labels : (str, str)
        Names of the two sides.

    Returns
    -------
    Change

    Notes
    -----
    The customer bootstrap draws :math:`N` customers with replacement from the :math:`N`
    customers seen in either data set (customer ids, or respondent ids for a survey frame
    without customers); a drawn customer brings all of their rows of both periods, as a new
    customer for each time they are drawn. Each replicate recomputes the metric on both sides;
    the intervals are the percentile intervals of the replicated absolute change and ratio
    (Efron & Tibshirani 1993), and the standard error is the replicates' standard deviation.
    Replicates in which the metric cannot be computed are dropped and counted in ``flags``.

    References
    ----------
    Efron, B. and Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman &
    Hall, chapters 6 and 13.

    Examples
    --------
    The same 40 customers in two Junes: 12 of them bought twice in the first, 24 in the
    second (a repeat rate of 30 %, then 60 %):

    >>> import datetime as dt
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> from stickykit.metrics.behaviour.repurchase import RepeatCustomerRate
    >>> def june(year, n_repeat):
    ...     ids = np.concatenate([np.arange(40), np.arange(n_repeat)])
    ...     days = np.repeat([f"{year}-06-01", f"{year}-06-15"], [40, n_repeat])
    ...     return EventFrame(event_id=np.arange(len(ids)), customer_id=ids,
    ...                       timestamp=days.astype("datetime64[us]"))
    >>> c = before_after(RepeatCustomerRate(), june(2023, 12), june(2024, 24),
    ...                  as_of_before=dt.datetime(2023, 7, 1, tzinfo=dt.UTC),
    ...                  as_of_after=dt.datetime(2024, 7, 1, tzinfo=dt.UTC), n_boot=200, seed=1)
    >>> round(c.points, 1), round(c.relative, 2), c.paired, c.n_both
    (30.0, 1.0, True, 40)
    >>> c.method
    'paired customer bootstrap: 200 replicates of the 40 customers, each with all their rows in both periods (seed 1); percentile intervals'
    """
    alpha = check_alpha(alpha)
    check_seed(seed)
    if type(n_boot) is not int or n_boot < 2:
        msg = f"n_boot must be an integer >= 2, got {n_boot!r}"
        raise ValueError(msg)
    if isinstance(metric, str):
        from stickykit.plugins.registry import default_registry  # noqa: PLC0415

        metric = default_registry().get(metric)
    for side, frame in (("before", before), ("after", after)):
        if not isinstance(frame, EventFrame | SurveyFrame | CustomerFrame):
            raise ValidationError(
                record=_RECORD,
                field=side,
                row=None,
                value=type(frame).__name__,
                expected="a frame (load the data first with stickykit.load_events/load_survey)",
            )
    before = _before_as_of(before, as_of_before)
    after = _before_as_of(after, as_of_after)
    a = _run(metric, before, as_of_before)
    b = _run(metric, after, as_of_after)
    ids_a, ids_b = _units(before), _units(after)
    if (
        ids_a is not None
        and ids_b is not None
        and (ids_a.dtype.kind == "U") != (ids_b.dtype.kind == "U")
    ):
        raise ValidationError(
            record=_RECORD,
            field="customer_id",
            row=None,
            value=f"{ids_a.dtype} and {ids_b.dtype}",
            expected="customer ids of one type in both frames",
        )
    both = len(np.intersect1d(ids_a, ids_b)) if ids_a is not None and ids_b is not None else 0
    use_pairs = both > 0 if paired == "auto" else bool(paired)
    if use_pairs and both == 0:
        raise ValidationError(
            record=_RECORD,
            field="paired",
            row=None,
            value=paired,
            expected="customers present in both frames (none are)",
        )
    has_se = all(r.se is not None and math.isfinite(r.se) for r in (a, b))
    if not use_pairs and has_se:
        change = compare_results(a, b, alpha=alpha, labels=labels, check_variant=False)
        if both:
            change = attrs.evolve(
                change,
                n_both=both,
                flags=(
                    *change.flags,
                    (
                        f"{both:,} customers appear in both: the independent interval ignores "
                        "their correlation (paired='auto' would resample them together)"
                    ),
                ),
            )
        return change
    if ids_a is None or ids_b is None:
        raise ValidationError(
            record=_RECORD,
            field="customer_id",
            row=None,
            value=None,
            expected="customer or respondent ids to resample (the metric has no standard error)",
        )
    return _bootstrap(
        metric,
        before,
        after,
        a,
        b,
        (ids_a, ids_b),
        as_of_before,
        as_of_after,
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        labels=labels,
        paired=use_pairs,
        both=both,
    )


def _bootstrap(
    metric: Metric,
    before: Frame,
    after: Frame,
    a: MetricResult,
    b: MetricResult,
    ids: tuple[NDArray[Any], NDArray[Any]],
    as_of_before: dt.datetime | None,
    as_of_after: dt.datetime | None,
    *,
    alpha: float,
    n_boot: int,
    seed: int,
    labels: Sequence[str],
    paired: bool,
    both: int,
) -> Change:
    units = np.union1d(ids[0], ids[1])
    codes_a = np.searchsorted(units, ids[0]).astype(np.intp)
    codes_b = np.searchsorted(units, ids[1]).astype(np.intp)
    n_units = len(units)
    rng = generator(seed)
    absolute = np.full(n_boot, np.nan)
    ratio = np.full(n_boot, np.nan)
    failed = 0
    for r in range(n_boot):  # one pass per replicate, never per row or customer
        counts = np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)
        starts = (np.cumsum(counts) - counts).astype(np.int64)
        try:
            ra = _run(metric, _replicate(before, codes_a, counts, starts), as_of_before)
            rb = _run(metric, _replicate(after, codes_b, counts, starts), as_of_after)
        except InsufficientDataError:
            failed += 1
            continue
        absolute[r] = rb.value - ra.value
        if ra.value > 0 and rb.value >= 0:
            ratio[r] = rb.value / ra.value
    finite = np.isfinite(absolute)
    if finite.sum() < 2:
        msg = f"fewer than 2 of {n_boot} bootstrap replicates could be computed"
        raise InsufficientDataError(msg)
    (abs_low,), (abs_high,) = percentile_interval(absolute[:, None], alpha)
    relative = _relative(a.value, b.value)
    rel_low = rel_high = None
    if relative is not None and np.isfinite(ratio).sum() >= 2:
        (low,), (high,) = percentile_interval(ratio[:, None], alpha)
        rel_low, rel_high = float(low) - 1.0, float(high) - 1.0
    flags = _relative_flags(a.value, b.value)
    if failed:
        flags.append(f"{failed} of {n_boot} replicates could not be computed and were dropped")
    how = "paired " if paired else ""
    return Change(
        metric=a.metric,
        label_before=labels[0],
        label_after=labels[1],
        before=float(a.value),
        after=float(b.value),
        unit=b.unit,
        absolute=float(b.value - a.value),
        absolute_se=float(np.std(absolute[finite], ddof=1)),
        absolute_low=float(abs_low),
        absolute_high=float(abs_high),
        relative=relative,
        relative_low=rel_low,
        relative_high=rel_high,
        level=1 - alpha,
        method=(
            f"{how}customer bootstrap: {n_boot} replicates of the {n_units:,} customers, each "
            f"with all their rows in both periods (seed {seed}); percentile intervals"
        ),
        paired=paired,
        n_before=a.n,
        n_after=b.n,
        n_both=both,
        flags=tuple(flags),
    )
