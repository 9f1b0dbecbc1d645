r"""The satisfaction-loyalty curve: loyalty rate per satisfaction level, its shape and zones."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.io.validate import Violation
from stickykit.metrics._groups import align, empty_labels, group_codes, union_labels
from stickykit.metrics.base import (
    InputKind,
    MetricBase,
    MetricResult,
    check_fingerprints,
    package_version,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.bootstrap import (
    check_seed,
    generator,
    label_key,
    percentile_interval,
    resample_counts,
)
from stickykit.stats.intervals import check_alpha, wilson_interval, z_value
from stickykit.stats.isotonic import pava

__all__ = [
    "ZONES",
    "LoyaltyCurve",
    "LoyaltyCurveState",
    "SegmentFit",
    "bootstrap_breakpoints",
    "level_table",
    "risk_ratio",
    "three_segment_fit",
]

_NO_TIME = int(np.iinfo(np.int64).min)
GROUP_COLUMNS = ("wave", "segment", "instrument", "customer_id")
_MISSING_GROUP = "(missing)"
#: Columns of a state's per-level counts.
N, LOYAL, SUM_Y, SUM_Y2 = range(4)
#: Levels needed for a three-segment fit with knots at two interior levels.
MIN_LEVELS = 4
#: Bootstrap replicates fitted at once (bounds the temporary arrays).
_BOOT_BATCH = 64
#: Zone names by code (``details["zone[l]"]``): lowest segment first.
ZONES = ("defection", "indifference", "affection")
_LEVEL_KEY = re.compile(r"^(?P<column>[a-z_]+)\[(?P<level>-?\d+)\]$")


# -- shared checks ---------------------------------------------------------------------------


def check_scale(value: Any, name: str) -> tuple[int, int]:
    """Return ``value`` as ``(lo, hi)`` if it is two integers ``lo < hi`` in int8's range."""
    scale = tuple(value)
    if not (
        len(scale) == 2
        and all(type(v) is int for v in scale)
        and -128 <= scale[0] < scale[1] <= 127
    ):
        msg = f"{name} must be two integers lo < hi within [-128, 127], got {value!r}"
        raise ValueError(msg)
    return scale[0], scale[1]


def item_answers(
    frame: Any, item: str, metric: str
) -> tuple[NDArray[np.int8], NDArray[np.bool_] | None]:
    """The answers to ``item`` and the mask of rows that answered it (``None``: every row)."""
    if not isinstance(frame, SurveyFrame):
        raise ValidationError(
            record=metric,
            field="frame",
            row=None,
            value=type(frame).__name__,
            expected="a SurveyFrame",
        )
    if item not in frame.answers:
        raise ValidationError(
            record="SurveyFrame",
            field="answers",
            row=None,
            value=list(frame.items),
            expected=f"an item named {item!r}",
        )
    return frame.answers[item], frame.answered(item)


def scale_violations(
    frame: SurveyFrame, scales: Mapping[str, tuple[int, int]], metric: str
) -> list[Violation]:
    """Answered rows outside their item's scale, one :class:`Violation` per item."""
    found: list[Violation] = []
    for item, (lo, hi) in scales.items():
        values, answered = item_answers(frame, item, metric)
        bad = (values < lo) | (values > hi)
        if answered is not None:
            bad &= answered
        rows = np.flatnonzero(bad)
        if rows.size:
            found.append(
                Violation(
                    field=item,
                    rows=(rows + frame.first_row).astype(np.int64),
                    values=values[rows],
                    expected=f"an integer in [{lo}, {hi}]",
                )
            )
    return found


def raise_violations(violations: Sequence[Violation]) -> None:
    """Raise a ValidationError for the first violation, counting every failing row."""
    if not violations:
        return
    first = min(violations, key=lambda v: int(v.rows[0]))
    n_failing = len(np.unique(np.concatenate([v.rows for v in violations])))
    raise ValidationError(
        record="SurveyFrame",
        field=first.field,
        row=int(first.rows[0]),
        value=first.value(0),
        expected=first.expected,
        n_failing=n_failing,
    )


def latest_time(frame: SurveyFrame, latest: int) -> int:
    """The later of ``latest`` and the frame's latest ``answered_at`` (microseconds)."""
    if frame.answered_at is not None and len(frame):
        times = frame.answered_at.view(np.int64)
        present = times[times != _NO_TIME]
        if present.size:
            return max(latest, int(present.max()))
    return latest


def _check_alpha(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


def _check_seed(instance: Any, attribute: Any, value: int) -> None:
    del instance, attribute
    check_seed(value)


# -- kernels ---------------------------------------------------------------------------------


def risk_ratio(
    x1: int, n1: int, x2: int, n2: int, alpha: float
) -> tuple[float, float, float, float]:
    r"""Risk ratio of two proportions with the Katz log interval.

    Returns ``(rr, se_log, low, high)``: :math:`RR = (x_1/n_1)/(x_2/n_2)`, the standard error
    of :math:`\ln RR` and the interval. Undefined parts are NaN: everything when a group is
    empty or :math:`x_2 = 0`; the interval when :math:`x_1 = 0`.

    Notes
    -----
    .. math::

        \exp\left(\ln RR \pm z_{1-\alpha/2}
        \sqrt{\frac{1 - p_1}{x_1} + \frac{1 - p_2}{x_2}}\right)

    References
    ----------
    Katz, D., Baptista, J., Azen, S. P. and Pike, M. C. (1978). Obtaining confidence
    intervals for the risk ratio in cohort studies. *Biometrics* 34(3), 469-474.

    Examples
    --------
    10 of 75 against 12 of 225: RR = (10/75)/(12/225) = 2.5, as in scipy's
    ``relative_risk`` example.

    >>> rr, se, low, high = risk_ratio(10, 75, 12, 225, 0.05)
    >>> rr, round(low, 4), round(high, 4)
    (2.5, 1.1262, 5.5499)
    """
    nan = math.nan
    if n1 <= 0 or n2 <= 0 or x2 <= 0:
        return (nan, nan, nan, nan)
    p1, p2 = x1 / n1, x2 / n2
    rr = p1 / p2
    if x1 <= 0:
        return (rr, nan, nan, nan)
    se = math.sqrt((1 - p1) / x1 + (1 - p2) / x2)
    z = z_value(alpha)
    return (rr, se, rr * math.exp(-z * se), rr * math.exp(z * se))


@attrs.frozen
class SegmentFit:
    """A continuous three-segment (two-knot) piecewise-linear fit on levels.

    Parameters
    ----------
    breakpoints : (float, float)
        The two knots, both observed levels.
    slopes : (float, float, float)
        Slope of each segment (per level unit), lowest segment first.
    fitted : numpy.ndarray
        Fitted value at each level.
    sse : float
        Weighted sum of squared residuals.
    n_best : int
        Knot pairs that reach the smallest ``sse`` (1 when the knots are unique).
    """

    breakpoints: tuple[float, float]
    slopes: tuple[float, float, float]
    fitted: NDArray[np.float64]
    sse: float
    n_best: int


def _knot_pairs(n_levels: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs ``i < j`` of interior levels (neither the lowest nor the highest)."""
    first, second = np.triu_indices(n_levels - 2, k=1)
    return (first + 1).astype(np.intp), (second + 1).astype(np.intp)


def _designs(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Design matrices ``[1, x, (x - k1)+, (x - k2)+]`` of every knot pair, shape (P, L, 4)."""
    first, second = _knot_pairs(len(x))
    designs = np.empty((len(first), len(x), 4))
    designs[:, :, 0] = 1.0
    designs[:, :, 1] = x
    designs[:, :, 2] = np.maximum(x[None, :] - x[first][:, None], 0.0)
    designs[:, :, 3] = np.maximum(x[None, :] - x[second][:, None], 0.0)
    return designs


def _fit_all_pairs(
    designs: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted least squares of ``y`` (B, L) on every design: coefficients and SSE (B, P)."""
    gram = np.einsum("pli,bl,plj->bpij", designs, w, designs, optimize=True)
    rhs = np.einsum("pli,bl->bpi", designs, w * y, optimize=True)
    # a relative ridge of 1e-12 keeps the system solvable when a bootstrap replicate leaves
    # a segment without weight; it moves a well-posed fit by ~1e-12 relative
    ridge = 1e-12 * np.trace(gram, axis1=2, axis2=3) + 1e-300
    gram = gram + ridge[..., None, None] * np.eye(4)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    fitted = np.einsum("pli,bpi->bpl", designs, coef, optimize=True)
    sse = np.einsum("bl,bpl->bp", w, (y[:, None, :] - fitted) ** 2, optimize=True)
    return coef, sse


def three_segment_fit(
    levels: NDArray[Any], values: NDArray[np.float64], weights: NDArray[np.float64]
) -> SegmentFit:
    r"""The best continuous three-segment fit to ``values`` over ``levels``, by weighted LS.

    Parameters
    ----------
    levels : numpy.ndarray
        At least four increasing levels (observed satisfaction answers).
    values : numpy.ndarray
        The value at each level (a loyalty rate).
    weights : numpy.ndarray
        Non-negative weights (the respondents at each level).

    Notes
    -----
    For knots :math:`k_1 < k_2` the model is

    .. math::

        f(x) = \beta_0 + \beta_1 x + \beta_2 (x - k_1)_+ + \beta_3 (x - k_2)_+ ,

    linear on each of the three segments and continuous at the knots, fitted by minimising
    :math:`\sum_\ell n_\ell (y_\ell - f(\ell))^2`. The knots are searched over every pair of
    interior observed levels (:math:`\binom{L-2}{2}` pairs, so each segment holds at least
    two levels); the pair with the smallest weighted SSE wins, the lowest pair on a tie, and
    ``n_best`` counts the pairs within :math:`10^{-9}` of the total sum of squares of it.

    Examples
    --------
    A flat-ramp-flat curve is fitted exactly, with its knots where the slope changes:

    >>> import numpy as np
    >>> fit = three_segment_fit(np.arange(7), np.array([0, 0, 0, .3, .6, .6, .6]), np.ones(7))
    >>> fit.breakpoints, [round(s, 3) for s in fit.slopes]
    ((2.0, 4.0), [0.0, 0.3, 0.0])
    """
    x = np.asarray(levels, dtype=np.float64)
    if len(x) < MIN_LEVELS:
        msg = f"a three-segment fit needs at least {MIN_LEVELS} levels, got {len(x)}"
        raise InsufficientDataError(msg)
    y = np.asarray(values, dtype=np.float64)[None, :]
    w = np.asarray(weights, dtype=np.float64)[None, :]
    origin = x[0]
    designs = _designs(x - origin)
    _, sse = _fit_all_pairs(designs, y, w)
    best = int(np.argmin(sse[0]))
    mean = float((w * y).sum() / w.sum())
    total = float((w * (y - mean) ** 2).sum())
    n_best = int(np.count_nonzero(sse[0] <= sse[0, best] + 1e-9 * total + 1e-12 * w.sum()))
    first, second = _knot_pairs(len(x))
    # refit the chosen pair without the search's ridge, by least squares on sqrt(w) rows
    root = np.sqrt(w[0])
    b = np.linalg.lstsq(designs[best] * root[:, None], root * y[0], rcond=None)[0]
    fitted = designs[best] @ b
    return SegmentFit(
        breakpoints=(float(x[first[best]]), float(x[second[best]])),
        slopes=(float(b[1]), float(b[1] + b[2]), float(b[1] + b[2] + b[3])),
        fitted=fitted,
        sse=float(w[0] @ (y[0] - fitted) ** 2),
        n_best=n_best,
    )


def bootstrap_breakpoints(
    levels: NDArray[Any],
    n: NDArray[np.int64],
    loyal: NDArray[np.int64],
    n_boot: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    r"""Breakpoints of the three-segment fit in ``n_boot`` multinomial bootstrap replicates.

    The (level, loyal or not) cell counts are resampled as
    :math:`\text{Multinomial}(N; c/N)` (:func:`~stickykit.stats.bootstrap.resample_counts`);
    each replicate's loyalty rates are refitted with weights :math:`n_\ell^*`. A replicate
    with fewer than four levels left gives NaN.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(n_boot, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.stats.bootstrap import generator
    >>> n = np.full(6, 200)
    >>> loyal = np.array([20, 20, 20, 100, 180, 180])
    >>> draws = bootstrap_breakpoints(np.arange(6), n, loyal, 50, generator(0))
    >>> np.median(draws, axis=0).tolist()
    [2.0, 4.0]
    """
    x = np.asarray(levels, dtype=np.float64)
    out = np.full((n_boot, 2), np.nan)
    if len(x) < MIN_LEVELS or n_boot == 0:
        return out
    cells = np.stack([n - loyal, loyal], axis=1)
    draws = resample_counts(cells, n_boot, rng)
    designs = _designs(x - x[0])
    first, second = _knot_pairs(len(x))
    knots = np.stack([x[first], x[second]], axis=1)
    for start in range(0, n_boot, _BOOT_BATCH):
        batch = draws[start : start + _BOOT_BATCH]
        n_star = batch.sum(axis=2).astype(np.float64)
        rates = np.divide(batch[:, :, 1], n_star, out=np.zeros_like(n_star), where=n_star > 0)
        _, sse = _fit_all_pairs(designs, rates, n_star)
        best = np.argmin(sse, axis=1)
        usable = np.count_nonzero(n_star > 0, axis=1) >= MIN_LEVELS
        out[start : start + len(batch)][usable] = knots[best[usable]]
    return out


def level_table(result: MetricResult) -> dict[str, list[float]]:
    """The per-level figures of a :class:`LoyaltyCurve` result as columns, lowest level first.

    Keys: ``level`` and every per-level name in ``result.details`` (``n``, ``loyal``,
    ``rate``, ``rate_low``, ``rate_high``, ``isotonic``, ``mean``, ``mean_se``, ``fit``,
    ``zone``).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> m = LoyaltyCurve(n_boot=0)
    >>> frame = SurveyFrame(answers={"satisfaction": np.array([9, 10, 10], np.int8),
    ...                              "intention": np.array([6, 9, 10], np.int8)})
    >>> table = level_table(m.finalize(m.update(m.init(), frame)))
    >>> table["level"], table["rate"]
    ([9.0, 10.0], [0.0, 1.0])
    """
    columns: dict[str, dict[int, float]] = {}
    for key, value in result.details.items():
        match = _LEVEL_KEY.match(key)
        if match:
            columns.setdefault(match["column"], {})[int(match["level"])] = float(value)
    levels = sorted({level for column in columns.values() for level in column})
    table: dict[str, list[float]] = {"level": [float(level) for level in levels]}
    for name, column in columns.items():
        table[name] = [column.get(level, math.nan) for level in levels]
    return table


# -- the metric ------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class LoyaltyCurveState:
    r"""Mergeable state of the satisfaction-loyalty curve: sums per group and level.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen (empty when ungrouped).
    levels : numpy.ndarray
        int64, sorted unique satisfaction answers seen (the levels).
    counts : numpy.ndarray
        int64, shape ``(len(labels) + 1, len(levels), 4)``: per group and level the
        respondents :math:`n_\ell`, the loyal ones, :math:`\sum y` and :math:`\sum y^2` of
        the loyalty answers; the last group row holds rows without a group label (every row
        when ungrouped).
    n_missing : numpy.ndarray
        int64, shape ``(len(labels) + 1,)``: rows missing either answer.
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    labels: NDArray[Any]
    levels: NDArray[np.int64]
    counts: NDArray[np.int64]
    n_missing: NDArray[np.int64]
    latest_us: int = _NO_TIME


def _check_items(instance: LoyaltyCurve, attribute: Any, value: Any) -> None:
    del attribute, value
    if instance.satisfaction == instance.loyalty:
        msg = f"satisfaction and loyalty must be different items, got {instance.loyalty!r} twice"
        raise ValueError(msg)
    lo, hi = instance.loyalty_scale
    if type(instance.loyal_min) is not int or not lo < instance.loyal_min <= hi:
        msg = (
            f"loyal_min must be an integer with {lo} < loyal_min <= {hi} (the loyalty scale), "
            f"got {instance.loyal_min!r}"
        )
        raise ValueError(msg)
    top = instance.top_box
    s_lo, s_hi = instance.satisfaction_scale
    if top is not None and (type(top) is not int or not s_lo < top <= s_hi):
        msg = f"top_box must be an integer in ({s_lo}, {s_hi}], got {top!r}"
        raise ValueError(msg)


def _satisfaction_scale(value: Any) -> tuple[int, int]:
    return check_scale(value, "satisfaction_scale")


def _loyalty_scale(value: Any) -> tuple[int, int]:
    return check_scale(value, "loyalty_scale")


@attrs.frozen
class LoyaltyCurve(MetricBase):
    r"""Satisfaction-loyalty curve: loyalty rate per satisfaction level, zones, top-box ratio.

    From paired answers to a satisfaction item and a loyalty item (repurchase intention or
    likelihood to recommend), a respondent is *loyal* when the loyalty answer is at least
    ``loyal_min``. The result's ``value`` is the risk ratio of loyalty between the top
    satisfaction box and the next one (Jones and Sasser 1995: "totally satisfied" against
    "satisfied"); ``details`` hold the curve.

    Parameters
    ----------
    satisfaction, loyalty : str
        The two items (different).
    loyal_min : int
        Lowest loyalty answer counted as loyal (9: the top two boxes of 0-10).
    satisfaction_scale, loyalty_scale : (int, int)
        Answer ranges; an answer outside is an error (or quarantined).
    top_box : int or None
        The top satisfaction box of the risk ratio (default: the top of the scale); the next
        box is ``top_box - 1``.
    n_boot : int
        Bootstrap replicates for the breakpoint intervals (0: no intervals).
    seed : int
        Seed of the bootstrap's random stream (results are reproducible).
    alpha : float
        1 - confidence level.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Also give one curve per group of this column.
    min_n : int
        A curve (overall or of a group) from fewer paired answers is flagged as a small sample.

    Notes
    -----
    With :math:`n_\ell` respondents at satisfaction level :math:`\ell`, :math:`x_\ell` of them
    loyal and :math:`y` the loyalty answer, the state keeps per level
    :math:`(n_\ell, x_\ell, \sum y, \sum y^2)`. From it:

    - the loyalty rate :math:`p_\ell = x_\ell / n_\ell` with the Wilson interval, and the mean
      loyalty answer :math:`\bar y_\ell` with standard error
      :math:`\sqrt{s_\ell^2 / n_\ell}` where
      :math:`s_\ell^2 = (\sum y^2 - n_\ell \bar y_\ell^2)/(n_\ell - 1)`;
    - the isotonic fit: the non-decreasing sequence closest to :math:`p_\ell` in
      :math:`\sum_\ell n_\ell (p_\ell - f_\ell)^2` (PAV, :func:`~stickykit.stats.isotonic.pava`);
    - the zones of defection, indifference and affection (Heskett et al. 1994) as the three
      segments of the continuous piecewise-linear fit with two knots
      (:func:`three_segment_fit`): levels up to the first knot form the zone of defection,
      levels from the second knot up the zone of affection, those in between the zone of
      indifference. The knots are estimated from the data, never fixed in advance; their
      percentile intervals come from ``n_boot`` multinomial bootstrap replicates of the
      (level, loyal) counts (:func:`bootstrap_breakpoints`);
    - the risk ratio :math:`RR = p_{top} / p_{top-1}` with the Katz log interval
      (:func:`risk_ratio`), and its delta-method standard error
      :math:`\mathrm{SE}(RR) = RR \cdot \mathrm{SE}(\ln RR)`.

    A loyalty rate higher at the lowest satisfaction level than at the next one is flagged:
    it is the mark of respondents who read the scale backwards (seen in NPSgame).

    ``details`` holds for each level ``l`` the keys ``n[l]``, ``loyal[l]``, ``rate[l]``,
    ``rate_low[l]``, ``rate_high[l]``, ``isotonic[l]``, ``mean[l]``, ``mean_se[l]`` and, when
    there are at least four levels, ``fit[l]`` and ``zone[l]`` (0 defection, 1 indifference,
    2 affection: an index into :data:`ZONES`); overall ``top_rate``, ``next_rate``,
    ``log_rr_se`` and, with a fit, ``breakpoint_1``, ``breakpoint_2``, ``slope_defection``,
    ``slope_indifference``, ``slope_affection`` and, when ``n_boot > 0``,
    ``breakpoint_1_low``, ``breakpoint_1_high``, ``breakpoint_2_low``, ``breakpoint_2_high``
    and ``n_boot_failed``.
    :func:`level_table` turns the per-level keys into columns.

    References
    ----------
    Heskett, J. L., Jones, T. O., Loveman, G. W., Sasser, W. E. and Schlesinger, L. A. (1994).
    Putting the service-profit chain to work. *Harvard Business Review* 72(2), 164-174.
    Jones, T. O. and Sasser, W. E. (1995). Why satisfied customers defect. *Harvard Business
    Review* 73(6), 88-99.
    Katz, D., Baptista, J., Azen, S. P. and Pike, M. C. (1978). Obtaining confidence
    intervals for the risk ratio in cohort studies. *Biometrics* 34(3), 469-474.
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={
    ...     "satisfaction": np.array([10, 10, 10, 10, 9, 9, 9, 9, 8, 8], np.int8),
    ...     "intention":    np.array([10, 9, 10, 5, 9, 6, 7, 4, 3, 9], np.int8)})
    >>> m = LoyaltyCurve(n_boot=0)
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.n, r.details["rate[10]"], r.details["rate[9]"]
    (3.0, 10, 0.75, 0.25)
    """

    name: ClassVar[str] = "loyalty_curve"
    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = (
        "Heskett et al. (1994), HBR 72(2), 164-174; Jones & Sasser (1995), HBR 73(6), 88-99; "
        "interval: Katz et al. (1978), Biometrics 34(3), 469-474"
    )

    satisfaction: str = attrs.field(
        default="satisfaction", validator=attrs.validators.instance_of(str)
    )
    loyalty: str = attrs.field(default="intention", validator=attrs.validators.instance_of(str))
    satisfaction_scale: tuple[int, int] = attrs.field(
        default=(0, 10), converter=_satisfaction_scale
    )
    loyalty_scale: tuple[int, int] = attrs.field(default=(0, 10), converter=_loyalty_scale)
    top_box: int | None = None
    loyal_min: int = attrs.field(default=9, validator=_check_items)
    n_boot: int = attrs.field(
        default=200, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)]
    )
    seed: int = attrs.field(default=0, validator=_check_seed)
    alpha: float = attrs.field(default=0.05, validator=_check_alpha)
    by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return (self.satisfaction, self.loyalty)

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        return {self.satisfaction: self.satisfaction_scale, self.loyalty: self.loyalty_scale}

    # -- the four functions -------------------------------------------------------------

    def init(self) -> LoyaltyCurveState:
        """The empty state."""
        return LoyaltyCurveState(
            fingerprint=self.fingerprint,
            labels=empty_labels(),
            levels=np.empty(0, np.int64),
            counts=np.zeros((1, 0, 4), np.int64),
            n_missing=np.zeros(1, np.int64),
        )

    def update(self, state: LoyaltyCurveState, frame: SurveyFrame) -> LoyaltyCurveState:
        """Add the paired answers of ``frame``; an answer outside its scale raises."""
        raise_violations(self.check(frame))
        chunk = self._count(frame)
        return self.merge(state, attrs.evolve(chunk, latest_us=latest_time(frame, state.latest_us)))

    def merge(self, a: LoyaltyCurveState, b: LoyaltyCurveState) -> LoyaltyCurveState:
        """Add two states, aligning their group labels and satisfaction levels."""
        check_fingerprints(self.name, a, b)
        labels, pos_a, pos_b = union_labels(a.labels, b.labels)
        levels = np.union1d(a.levels, b.levels).astype(np.int64)
        slots = len(labels) + 1

        def place(state: LoyaltyCurveState, rows: NDArray[np.intp]) -> NDArray[np.int64]:
            out = np.zeros((slots, len(levels), 4), np.int64)
            columns = np.searchsorted(levels, state.levels)
            out[np.ix_(rows, columns)] = state.counts
            return out

        return LoyaltyCurveState(
            fingerprint=a.fingerprint,
            labels=labels,
            levels=levels,
            counts=place(a, pos_a) + place(b, pos_b),
            n_missing=align(a.n_missing, pos_a, slots) + align(b.n_missing, pos_b, slots),
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: LoyaltyCurveState, as_of: dt.datetime | None = None) -> MetricResult:
        """The overall curve and, when grouped, one curve per group."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        total = state.counts.sum(axis=0)
        if int(total[:, N].sum()) == 0:
            msg = (
                f"no rows answer both {self.satisfaction!r} and {self.loyalty!r} to compute "
                f"{self.name} from ({int(state.n_missing.sum()):,} rows miss one or both)"
            )
            raise InsufficientDataError(msg)
        version = package_version()
        groups: list[MetricResult] = []
        if self.by is not None:
            for slot in range(len(state.labels) + 1):
                if slot == len(state.labels):
                    if state.counts[slot, :, N].sum() + state.n_missing[slot] == 0:
                        continue
                    label: Any = _MISSING_GROUP
                    key: tuple[int, ...] = (2,)
                else:
                    label = state.labels[slot].item()
                    key = (1, label_key(label))
                groups.append(
                    self._result(
                        state.levels,
                        state.counts[slot],
                        int(state.n_missing[slot]),
                        key,
                        as_of,
                        version,
                        label,
                        (),
                    )
                )
        return self._result(
            state.levels,
            total,
            int(state.n_missing.sum()),
            (),
            as_of,
            version,
            None,
            tuple(groups),
        )

    # -- validation ---------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows whose satisfaction or loyalty answer lies outside its scale (for quarantine)."""
        return scale_violations(frame, self.scales, self.name)

    # -- kernels ------------------------------------------------------------------------

    def _count(self, frame: SurveyFrame) -> LoyaltyCurveState:
        s, s_answered = item_answers(frame, self.satisfaction, self.name)
        y, y_answered = item_answers(frame, self.loyalty, self.name)
        if self.by is None:
            labels, codes = empty_labels(), None
        else:
            column = getattr(frame, self.by)
            if column is None:
                raise ValidationError(
                    record="SurveyFrame",
                    field=self.by,
                    row=None,
                    value=None,
                    expected=f"a {self.by!r} column to group by",
                )
            labels, codes = group_codes(column, frame.label_missing.get(self.by))
        slots = len(labels) + 1
        if codes is None:
            codes = np.full(len(frame), slots - 1, dtype=np.intp)
        both = _both(s_answered, y_answered)
        lo, hi = self.satisfaction_scale
        width = hi - lo + 1
        if both is None:
            cell = codes * width + (s.astype(np.intp) - lo)
            y_used = y
            n_missing = np.zeros(slots, np.int64)
        else:
            cell = codes[both] * width + (s[both].astype(np.intp) - lo)
            y_used = y[both]
            n_missing = np.bincount(codes[~both], minlength=slots).astype(np.int64)
        size = slots * width
        y_float = y_used.astype(np.float64)
        table = (
            np.stack(
                [
                    np.bincount(cell, minlength=size),
                    np.bincount(cell[y_used >= self.loyal_min], minlength=size),
                    np.bincount(cell, weights=y_float, minlength=size).round(),
                    np.bincount(cell, weights=y_float * y_float, minlength=size).round(),
                ],
                axis=-1,
            )
            .astype(np.int64)
            .reshape(slots, width, 4)
        )
        present = np.flatnonzero(table[:, :, N].sum(axis=0) > 0)
        return LoyaltyCurveState(
            fingerprint=self.fingerprint,
            labels=labels,
            levels=(present + lo).astype(np.int64),
            counts=np.ascontiguousarray(table[:, present]),
            n_missing=n_missing,
        )

    def _result(
        self,
        levels: NDArray[np.int64],
        counts: NDArray[np.int64],
        n_missing: int,
        key: tuple[int, ...],
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
    ) -> MetricResult:
        seen = counts[:, N] > 0
        levels, counts = levels[seen], counts[seen]
        n, loyal = counts[:, N], counts[:, LOYAL]
        total = int(n.sum())
        flags: list[str] = []
        details: dict[str, float] = {}

        def result(value: float, se: float, low: float, high: float, method: str) -> MetricResult:
            return MetricResult(
                metric=self.name,
                value=value,
                n=total,
                n_missing=n_missing,
                se=None if math.isnan(se) else se,
                ci_low=None if math.isnan(low) else low,
                ci_high=None if math.isnan(high) else high,
                level=1 - self.alpha,
                method=method,
                reference=self.reference,
                params=self.params(),
                as_of=as_of,
                version=version,
                group=group,
                groups=groups,
                flags=tuple(flags),
                details=details,
            )

        if total == 0:
            flags.append("no valid answers")
            return result(math.nan, math.nan, math.nan, math.nan, "no valid answers")
        if total < self.min_n:
            flags.append(f"small sample: n = {total} < {self.min_n}")
        rates = loyal / n
        means = counts[:, SUM_Y] / n
        isotonic = pava(rates, n)
        for i, level in enumerate(levels.tolist()):
            low, high = wilson_interval(int(loyal[i]), int(n[i]), self.alpha)
            variance = (
                (counts[i, SUM_Y2] - counts[i, SUM_Y] * means[i]) / (n[i] - 1)
                if n[i] > 1
                else math.nan
            )
            details.update(
                {
                    f"n[{level}]": float(n[i]),
                    f"loyal[{level}]": float(loyal[i]),
                    f"rate[{level}]": float(rates[i]),
                    f"rate_low[{level}]": low,
                    f"rate_high[{level}]": high,
                    f"isotonic[{level}]": float(isotonic[i]),
                    f"mean[{level}]": float(means[i]),
                    f"mean_se[{level}]": math.sqrt(max(variance, 0.0) / n[i]),
                }
            )
        if len(levels) >= 2 and rates[0] > rates[1]:
            flags.append(
                f"loyalty rate higher at satisfaction {levels[0]} ({rates[0]:.3f}) than at "
                f"{levels[1]} ({rates[1]:.3f}): respondents who reversed the scale?"
            )
        zones = self._fit_zones(levels, n, loyal, rates, key, details, flags)
        top = self.satisfaction_scale[1] if self.top_box is None else self.top_box
        by_level = dict(zip(levels.tolist(), range(len(levels)), strict=True))
        x1 = n1 = x2 = n2 = 0
        if top in by_level:
            x1, n1 = int(loyal[by_level[top]]), int(n[by_level[top]])
        if top - 1 in by_level:
            x2, n2 = int(loyal[by_level[top - 1]]), int(n[by_level[top - 1]])
        rr, se_log, low, high = risk_ratio(x1, n1, x2, n2, self.alpha)
        details.update(
            top_rate=x1 / n1 if n1 else math.nan,
            next_rate=x2 / n2 if n2 else math.nan,
            log_rr_se=se_log,
        )
        if n1 == 0 or n2 == 0:
            flags.append(f"no answers at satisfaction {top} or {top - 1}: no risk ratio")
        elif x2 == 0:
            flags.append(f"no loyal answers at satisfaction {top - 1}: risk ratio undefined")
        elif x1 == 0:
            flags.append(f"no loyal answers at satisfaction {top}: no interval for the ratio")
        elif se_log == 0:
            flags.append(f"zero-width interval: every answer at {top} and {top - 1} is loyal")
        method = "Katz log interval" if not math.isnan(low) else "no interval"
        return result(rr, rr * se_log, low, high, f"{method}; {zones}")

    def _fit_zones(
        self,
        levels: NDArray[np.int64],
        n: NDArray[np.int64],
        loyal: NDArray[np.int64],
        rates: NDArray[np.float64],
        key: tuple[int, ...],
        details: dict[str, float],
        flags: list[str],
    ) -> str:
        """Add the three-segment fit and zones to ``details``; return the method's wording."""
        if len(levels) < MIN_LEVELS:
            flags.append(
                f"too few satisfaction levels for three segments ({len(levels)} seen, "
                f"{MIN_LEVELS} needed): no zones"
            )
            return "zones: none"
        fit = three_segment_fit(levels, rates, n.astype(np.float64))
        k1, k2 = fit.breakpoints
        zone = np.where(levels <= k1, 0, np.where(levels >= k2, 2, 1))
        for i, level in enumerate(levels.tolist()):
            details[f"fit[{level}]"] = float(fit.fitted[i])
            details[f"zone[{level}]"] = float(zone[i])
        details.update(
            breakpoint_1=k1,
            breakpoint_2=k2,
            slope_defection=fit.slopes[0],
            slope_indifference=fit.slopes[1],
            slope_affection=fit.slopes[2],
        )
        if fit.n_best > 1:
            flags.append(f"breakpoints not unique: {fit.n_best} knot pairs fit equally well")
        if self.n_boot == 0:
            return "breakpoints: no interval (n_boot=0)"
        draws = bootstrap_breakpoints(levels, n, loyal, self.n_boot, generator(self.seed, *key))
        low, high = percentile_interval(draws, self.alpha)
        failed = int(np.count_nonzero(np.isnan(draws[:, 0])))
        details.update(
            breakpoint_1_low=float(low[0]),
            breakpoint_1_high=float(high[0]),
            breakpoint_2_low=float(low[1]),
            breakpoint_2_high=float(high[1]),
            n_boot_failed=float(failed),
        )
        return (
            f"breakpoints: percentile bootstrap ({self.n_boot} multinomial resamples of the "
            f"counts, seed {self.seed})"
        )


def _both(a: NDArray[np.bool_] | None, b: NDArray[np.bool_] | None) -> NDArray[np.bool_] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the satisfaction-loyalty curve."""
    register(LoyaltyCurve)
