r"""Net scores: the share of answers at the good end of a scale minus the share at the bad end.

One engine serves every net score: the Net Promoter Score (:mod:`stickykit.metrics.survey.nps`),
Net Easy for the Customer Effort Score (:mod:`stickykit.metrics.survey.ces`) and net
satisfaction (:mod:`stickykit.metrics.survey.csat`). A net score is defined by a scale and two
bands of answers at its two ends: ``positive`` and ``negative``. The state counts the answers
in the negative band, in between and in the positive band, per group.

Intervals (all on the -1...1 scale, reported in points):

- ``"wald"`` and ``"adjusted-wald"`` (Rocks 2016), from
  :func:`stickykit.stats.intervals.net_score_interval`;
- ``"score"``: the iterative score interval of Tango (1998), :func:`tango_interval`, which
  always stays inside [-1, 1];
- ``"t"``: the trinomial t interval, :func:`trinomial_t_interval`, Wald's centre with a
  t critical value and the ``n - 1`` standard deviation; it can leave [-1, 1].

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> m = NetScore(item="q", scale=(1, 5), negative=(1, 2), positive=(4, 5), interval="score")
>>> frame = SurveyFrame(answers={"q": np.array([5, 5, 4, 3, 1], np.int8)})
>>> r = m.finalize(m.update(m.init(), frame))
>>> r.value, r.method
(40.0, 'iterative score (Tango 1998)')
>>> round(r.ci_low, 1), round(r.ci_high, 1)
(-34.9, 82.6)
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.core.threads import kernel_threads
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
from stickykit.stats.intervals import check_alpha, net_score_interval, z_value

__all__ = [
    "BLOCK_ROWS",
    "GROUP_COLUMNS",
    "INTERVALS",
    "THREAD_MIN_ROWS",
    "NetScore",
    "NetScoreState",
    "OutOfScaleError",
    "SurveyItemMetric",
    "by_field",
    "count_categories",
    "min_n_field",
    "net_interval",
    "t_quantile",
    "t_sf",
    "tango_interval",
    "trinomial_t_interval",
    "weight_problems",
    "weighted_field",
]

_NO_TIME = int(np.iinfo(np.int64).min)
#: Rows per block in the counting and range kernels. 1 MiB of int8 answers (and as much for a
#: comparison temporary) stays in cache, and few enough blocks keep the per-block Python
#: overhead small (1 << 20 measured fastest from 1 << 16 to 1 << 21; see benchmarks/).
BLOCK_ROWS = 1 << 20
#: Columns of at least this many answers are counted by several threads (see
#: ``stickykit.core.threads.kernel_threads``).
THREAD_MIN_ROWS = 1 << 24
#: The label columns a survey metric can group by.
GROUP_COLUMNS = ("wave", "segment", "instrument", "customer_id")
#: The interval methods of a net score.
INTERVALS = ("adjusted-wald", "wald", "score", "t")
MISSING_GROUP = "(missing)"

Band = tuple[int, int]
IntervalName = Literal["adjusted-wald", "wald", "score", "t"]


# -- state ------------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class NetScoreState:
    """Mergeable state of a net score: category counts per group.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen.
    counts : numpy.ndarray
        int64, shape ``(len(labels) + 1, 3)``: negative, middle, positive answers per group;
        the last row holds rows without a group label (every row when ungrouped).
    n_missing : numpy.ndarray
        int64, shape ``(len(labels) + 1,)``: rows without an answer.
    weight_sums, weight_sq_sums : numpy.ndarray
        float64, shape ``(len(labels) + 1, 3)``: sums of weights and of squared weights per
        category (zeros when the metric is unweighted).
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    labels: NDArray[Any]
    counts: NDArray[np.int64]
    n_missing: NDArray[np.int64]
    weight_sums: NDArray[np.float64]
    weight_sq_sums: NDArray[np.float64]
    latest_us: int = _NO_TIME


class OutOfScaleError(ValueError):
    """Raised by :func:`count_categories` when an answered value lies outside ``scale``."""


# -- kernels ------------------------------------------------------------------------------------


def count_categories(
    values: NDArray[np.int8],
    answered: NDArray[np.bool_] | None,
    negative_max: int,
    positive_min: int,
    *,
    scale: tuple[int, int] | None = None,
) -> tuple[int, int, int]:
    """Count answers ``<= negative_max``, in between, and ``>= positive_min``.

    Works through ``values`` in cache-sized blocks, so no copy of the input is made. With
    ``scale=(lo, hi)`` each block is also range-checked while it is in the cache (one ``max``
    of the uint8 view when ``lo`` is 0) and :class:`OutOfScaleError` is raised on the first
    block holding an answer outside; the caller finds the rows with a second, exact pass.

    Examples
    --------
    >>> import numpy as np
    >>> count_categories(np.array([0, 6, 7, 8, 9, 10], np.int8), None, 6, 9)
    (2, 2, 2)
    >>> count_categories(np.array([3, 11], np.int8), None, 6, 9, scale=(0, 10))
    Traceback (most recent call last):
    ...
    stickykit.metrics.survey.netscore.OutOfScaleError: answers outside [0, 10]
    """
    threads = kernel_threads(len(values), THREAD_MIN_ROWS)
    if threads > 1:
        edges = [len(values) * k // threads for k in range(threads + 1)]

        def count_part(bounds: tuple[int, int]) -> tuple[int, int, int]:
            a, b = bounds
            used = None if answered is None else answered[a:b]
            return _count_blocks(values[a:b], used, negative_max, positive_min, scale)

        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(count_part, itertools.pairwise(edges)))
        negative, middle, positive = (sum(part[k] for part in parts) for k in range(3))
        return negative, middle, positive
    return _count_blocks(values, answered, negative_max, positive_min, scale)


def _count_blocks(
    values: NDArray[np.int8],
    answered: NDArray[np.bool_] | None,
    negative_max: int,
    positive_min: int,
    scale: tuple[int, int] | None,
) -> tuple[int, int, int]:
    lo, hi = scale if scale is not None else (-128, 127)
    probe = values.view(np.uint8) if lo == 0 else values
    negative = positive = total = 0
    for start in range(0, len(values), BLOCK_ROWS):
        block = values[start : start + BLOCK_ROWS]
        checked = probe[start : start + BLOCK_ROWS]
        if answered is not None:
            used = answered[start : start + BLOCK_ROWS]
            block, checked = block[used], checked[used]
        if (
            scale is not None
            and checked.size
            and (int(checked.max()) > hi or (lo != 0 and int(checked.min()) < lo))
        ):
            msg = f"answers outside [{lo}, {hi}]"
            raise OutOfScaleError(msg)
        negative += int(np.count_nonzero(block <= negative_max))
        positive += int(np.count_nonzero(block >= positive_min))
        total += len(block)
    return negative, total - negative - positive, positive


def scale_problems(
    field: str,
    scale: tuple[int, int],
    values: NDArray[np.int8],
    answered: NDArray[np.bool_] | None,
    first_row: int,
) -> list[Violation]:
    """Answered rows outside ``scale``, checked in cache-sized blocks.

    A block's mask is built only when the block's minimum or maximum falls outside, so a
    clean column costs no full-length temporary. On a scale starting at 0 the answers are
    read as uint8, where a negative answer reads as 128 or more: one ``max()`` per block
    checks both ends.
    """
    lo, hi = scale
    probe = values.view(np.uint8) if lo == 0 else values
    found: list[NDArray[np.intp]] = []
    for start in range(0, len(values), BLOCK_ROWS):
        mask = None if answered is None else answered[start : start + BLOCK_ROWS]
        used = probe[start : start + BLOCK_ROWS]
        if mask is not None:
            used = used[mask]
        if used.size == 0 or ((lo == 0 or used.min() >= lo) and used.max() <= hi):
            continue
        block = values[start : start + BLOCK_ROWS]
        bad = (block < lo) | (block > hi)
        if mask is not None:
            bad &= mask
        found.append(start + np.flatnonzero(bad))
    if not found:
        return []
    rows = np.concatenate(found)
    expected = f"an integer in [{lo}, {hi}]"
    where = (rows + first_row).astype(np.int64)
    return [Violation(field=field, rows=where, values=values[rows], expected=expected)]


def weight_problems(weight: NDArray[np.float64] | None, first_row: int) -> list[Violation]:
    """Rows whose respondent weight is negative, NaN or infinite (``None`` = all 1: none).

    A frame built directly (not through :mod:`stickykit.io`, which checks the same rule) may
    carry such weights; a weighted score must refuse them rather than report a share outside
    [0, 1] or NaN.
    """
    if weight is None:
        return []
    bad = ~(np.isfinite(weight) & (weight >= 0))
    if not bad.any():
        return []
    rows = np.flatnonzero(bad)
    where = (rows + first_row).astype(np.int64)
    return [
        Violation(field="weight", rows=where, values=weight[rows], expected="a finite number >= 0")
    ]


# -- intervals ------------------------------------------------------------------------------------


def _tango_q(b: float, c: float, n: float, delta: float) -> float:
    """The constrained maximum-likelihood negative share under ``net score = delta``."""
    quad_b = -b - c + (2 * n + b - c) * delta
    quad_c = -b * delta * (1 - delta)
    disc = max(quad_b * quad_b - 8 * n * quad_c, 0.0)
    return (math.sqrt(disc) - quad_b) / (4 * n)


def _tango_variance(b: float, c: float, n: float, delta: float) -> float:
    q = _tango_q(b, c, n, delta)
    return max(n * (2 * q + delta * (1 - delta)), 0.0)


def tango_z(positive: float, negative: float, n: float, delta: float) -> float:
    r"""Tango's score statistic for the hypothesis ``net score = delta``.

    .. math::

        z(\Delta) = \frac{c - b - n\Delta}{\sqrt{n\,(2\tilde q + \Delta(1 - \Delta))}}

    with :math:`b` negative and :math:`c` positive answers and :math:`\tilde q` the
    constrained maximum-likelihood negative share (see :func:`tango_interval`). ``0`` at the
    estimate; infinite where the constrained variance vanishes.

    Examples
    --------
    >>> tango_z(3, 1, 6, 1 / 3)
    0.0
    """
    num = positive - negative - n * delta
    var = _tango_variance(negative, positive, n, delta)
    if var <= 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def tango_interval(positive: float, negative: float, n: float, alpha: float) -> tuple[float, float]:
    r"""The iterative score interval of Tango (1998) for a net score, on the -1...1 scale.

    The interval is every :math:`\Delta` the score test does not reject,
    :math:`\{\Delta : |z(\Delta)| < z_{1-\alpha/2}\}`, with

    .. math::

        z(\Delta) = \frac{c - b - n\Delta}{\sqrt{n\,(2q + \Delta(1 - \Delta))}}, \qquad
        2n\,q^2 + \bigl(-b - c + (2n + b - c)\Delta\bigr)\,q - b\,\Delta(1 - \Delta) = 0,

    :math:`b` the negative answers (detractors), :math:`c` the positive ones (promoters),
    :math:`n` all answers and :math:`q > 0` the larger root: the maximum-likelihood negative
    share under the constraint net score :math:`= \Delta` (the discordant cells of McNemar's
    table have the same structure). Each limit is found by :func:`scipy.optimize.brentq`
    between the estimate and -1 or 1, so the interval always stays inside [-1, 1] and
    contains the estimate. ``n`` may be a Kish effective sample size.

    Parameters
    ----------
    positive, negative : float
        Answers in the positive and the negative band.
    n : float
        All answers.
    alpha : float
        1 - confidence level.

    Returns
    -------
    (float, float)
        The lower and upper limits (NaN when ``n`` is 0).

    References
    ----------
    Tango, T. (1998). Equivalence test and confidence interval for the difference in
    proportions for the paired-sample design. *Statistics in Medicine* 17(8), 891-908.
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (the method applied to the NPS).

    Examples
    --------
    Three promoters, two passives and one detractor (NPS 33.3):

    >>> low, high = tango_interval(3, 1, 6, 0.05)
    >>> round(low, 4), round(high, 4)
    (-0.3111, 0.754)
    """
    check_alpha(alpha)
    if n <= 0:
        return (math.nan, math.nan)
    from scipy.optimize import brentq  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    z = z_value(alpha)
    estimate = (positive - negative) / n
    tiny = 1e-12

    def lower_gap(delta: float) -> float:
        var = _tango_variance(negative, positive, n, delta)
        return positive - negative - n * delta - z * math.sqrt(var)

    def upper_gap(delta: float) -> float:
        var = _tango_variance(negative, positive, n, delta)
        return positive - negative - n * delta + z * math.sqrt(var)

    def solve(gap: Callable[[float], float], outer: float, inner: float) -> float:
        if gap(outer) * gap(inner) > 0:
            return inner
        return float(brentq(gap, outer, inner, xtol=1e-14))

    if negative >= n:  # every answer negative: the estimate is -1
        low = -1.0
    else:
        inner = estimate if lower_gap(estimate) < 0 else estimate - tiny
        low = solve(lower_gap, -1.0, inner) if inner > -1 else -1.0
    if positive >= n:
        high = 1.0
    else:
        inner = estimate if upper_gap(estimate) > 0 else estimate + tiny
        high = solve(upper_gap, 1.0, inner) if inner < 1 else 1.0
    return (max(-1.0, min(low, estimate)), min(1.0, max(high, estimate)))


def trinomial_t_interval(
    positive: float, negative: float, n: float, alpha: float
) -> tuple[float, float, float]:
    r"""The trinomial t interval: mean of the scores :math:`s \in \{-1, 0, 1\}` with a t value.

    .. math::

        \bar s \pm t_{n-1,\,1-\alpha/2}\,\frac{\mathrm{sd}(s)}{\sqrt n}, \qquad
        \mathrm{sd}(s)^2 = \frac{b + c - n\bar s^2}{n - 1}

    Wald's centre, a little wider; it can leave [-1, 1]. Needs ``n >= 2``.

    Returns
    -------
    (float, float, float)
        Standard error, lower and upper limit (NaN when ``n < 2``).

    References
    ----------
    Sauro, J. and Lewis, J. R. (MeasuringU): NPS confidence intervals with the t distribution
    of the -1/0/1 scores.

    Examples
    --------
    Seven detractors, two passives, two promoters: the interval leaves [-1, 1].

    >>> se, low, high = trinomial_t_interval(2, 7, 11, 0.05)
    >>> round(low, 4), round(high, 4)
    (-1.0056, 0.0965)
    """
    check_alpha(alpha)
    if n < 2:
        return (math.nan, math.nan, math.nan)
    mean = (positive - negative) / n
    var = max(positive + negative - n * mean * mean, 0.0) / (n - 1)
    se = math.sqrt(var / n)
    half = t_quantile(1 - alpha / 2, n - 1) * se
    return (se, mean - half, mean + half)


def net_interval(
    positive: float, negative: float, n: float, alpha: float, method: str
) -> tuple[float, float, float, float]:
    r"""Centre, standard error and interval of a net score by any method, on the -1...1 scale.

    ``"wald"`` and ``"adjusted-wald"`` come from
    :func:`stickykit.stats.intervals.net_score_interval` (the adjusted centre for
    adjusted Wald); ``"score"`` is :func:`tango_interval` with the Wald standard error of the
    estimate; ``"t"`` is :func:`trinomial_t_interval` (its standard error uses ``n - 1``).

    Examples
    --------
    >>> [round(x, 4) for x in net_interval(3, 1, 6, 0.05, "wald")]
    [0.3333, 0.3043, -0.2631, 0.9297]
    """
    if method in ("wald", "adjusted-wald"):
        return net_score_interval(positive, negative, n, alpha, method=method)
    if n <= 0:
        return (math.nan, math.nan, math.nan, math.nan)
    estimate = (positive - negative) / n
    if method == "score":
        p, d = positive / n, negative / n
        se = math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        low, high = tango_interval(positive, negative, n, alpha)
        return (estimate, se, low, high)
    if method == "t":
        se, low, high = trinomial_t_interval(positive, negative, n, alpha)
        return (estimate, se, low, high)
    msg = f"interval method must be one of {INTERVALS}, got {method!r}"
    raise ValueError(msg)


# -- shared survey-item behaviour ------------------------------------------------------------


def by_field() -> Any:
    """An attrs field for ``by``: ``None`` or one of :data:`GROUP_COLUMNS`.

    Examples
    --------
    >>> @attrs.frozen
    ... class Demo:
    ...     by: str | None = by_field()
    ...     min_n: int = min_n_field()
    ...     weighted: bool = weighted_field()
    >>> Demo()
    Demo(by=None, min_n=30, weighted=False)
    >>> Demo(by="region")
    Traceback (most recent call last):
    ...
    ValueError: ("'by' must be in ('wave', 'segment', 'instrument', 'customer_id') (got 'region')", ...)
    """
    return attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )


def min_n_field() -> Any:
    """An attrs field for ``min_n``: an integer >= 1, default 30 (example: :func:`by_field`)."""
    return attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )


def weighted_field() -> Any:
    """An attrs field for ``weighted``: a bool, default ``False`` (example: :func:`by_field`)."""
    return attrs.field(default=False, validator=attrs.validators.instance_of(bool))


def check_alpha_field(instance: Any, attribute: Any, value: float) -> None:
    """Validate ``0 < alpha < 1`` (an attrs validator)."""
    del instance, attribute
    check_alpha(value)


def check_scale(scale: Any) -> None:
    """Raise ``ValueError`` unless ``scale`` is two integers ``lo < hi`` within int8."""
    if not (
        isinstance(scale, tuple)
        and len(scale) == 2
        and all(type(v) is int for v in scale)
        and -128 <= scale[0] < scale[1] <= 127
    ):
        msg = f"scale must be two integers lo < hi within [-128, 127], got {scale!r}"
        raise ValueError(msg)


def check_band(name: str, band: Any, scale: tuple[int, int]) -> None:
    """Raise ``ValueError`` unless ``band`` is two integers ``lo <= hi`` inside ``scale``."""
    lo, hi = scale
    if not (
        isinstance(band, tuple)
        and len(band) == 2
        and all(type(v) is int for v in band)
        and lo <= band[0] <= band[1] <= hi
    ):
        msg = f"{name} must be two integers lo <= hi within the scale [{lo}, {hi}], got {band!r}"
        raise ValueError(msg)


def check_net_bands(negative: Any, positive: Any, scale: tuple[int, int]) -> None:
    """Raise ``ValueError`` unless the two bands sit at opposite ends of ``scale`` apart."""
    check_scale(scale)
    check_band("negative", negative, scale)
    check_band("positive", positive, scale)
    lo, hi = scale
    up = positive[1] == hi and negative[0] == lo and negative[1] < positive[0]
    down = positive[0] == lo and negative[1] == hi and positive[1] < negative[0]
    if not (up or down):
        msg = (
            f"the positive band {positive} and the negative band {negative} must sit at "
            f"opposite ends of the scale [{lo}, {hi}] without overlapping"
        )
        raise ValueError(msg)


def _to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


class SurveyItemMetric(MetricBase):
    """Shared behaviour of the metrics that read one survey item on a fixed scale.

    Subclasses are attrs classes with the fields ``item``, ``by``, ``scale``, ``weighted``,
    ``alpha`` and ``min_n``.
    """

    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"

    item: str
    by: str | None
    scale: tuple[int, int]
    weighted: bool
    alpha: float
    min_n: int

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return (self.item,)

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        return {self.item: self.scale}

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows failing a rule, for quarantine.

        An answer outside ``scale``, or, when the metric is weighted, a weight that is negative
        or not finite.
        """
        values, answered = self._answers(frame)
        found = scale_problems(self.item, self.scale, values, answered, frame.first_row)
        if getattr(self, "weighted", False):  # the paired score has no weights
            found += weight_problems(frame.weight, frame.first_row)
        return found

    def _raise_weights(self, frame: SurveyFrame) -> None:
        """A weighted metric refuses a negative or non-finite weight, naming row and value."""
        if not getattr(self, "weighted", False):
            return
        problems = weight_problems(frame.weight, frame.first_row)
        if problems:
            v = problems[0]
            raise ValidationError(
                record="SurveyFrame",
                field=v.field,
                row=int(v.rows[0]),
                value=v.value(0),
                expected=v.expected,
                n_failing=len(v),
            )

    def _answers(self, frame: SurveyFrame) -> tuple[NDArray[np.int8], NDArray[np.bool_] | None]:
        if not isinstance(frame, SurveyFrame):
            raise ValidationError(
                record=self.name,
                field="frame",
                row=None,
                value=type(frame).__name__,
                expected="a SurveyFrame",
            )
        if self.item not in frame.answers:
            raise ValidationError(
                record="SurveyFrame",
                field="answers",
                row=None,
                value=list(frame.items),
                expected=f"an item named {self.item!r}",
            )
        return frame.answers[self.item], frame.answered(self.item)

    def _raise_scale(
        self, values: NDArray[np.int8], answered: NDArray[np.bool_] | None, first_row: int
    ) -> None:
        problems = scale_problems(self.item, self.scale, values, answered, first_row)
        if problems:
            v = problems[0]
            raise ValidationError(
                record="SurveyFrame",
                field=v.field,
                row=int(v.rows[0]),
                value=v.value(0),
                expected=v.expected,
                n_failing=len(v),
            )

    def _groups(self, frame: SurveyFrame) -> tuple[NDArray[Any], NDArray[np.intp] | None]:
        if self.by is None:
            return empty_labels(), None
        column = getattr(frame, self.by)
        if column is None:
            raise ValidationError(
                record="SurveyFrame",
                field=self.by,
                row=None,
                value=None,
                expected=f"a {self.by!r} column to group by",
            )
        return group_codes(column, frame.label_missing.get(self.by))

    @staticmethod
    def _latest(latest: int, frame: SurveyFrame) -> int:
        if frame.answered_at is not None and len(frame):
            times = frame.answered_at.view(np.int64)
            present = times[times != _NO_TIME]
            if present.size:
                latest = max(latest, int(present.max()))
        return latest

    def _no_data(self, n_missing: int) -> InsufficientDataError:
        msg = (
            f"no valid '{self.item}' answers to compute {self.name} from "
            f"({n_missing:,} rows without an answer)"
        )
        return InsufficientDataError(msg)

    @staticmethod
    def _as_of(latest_us: int, as_of: dt.datetime | None) -> dt.datetime | None:
        if as_of is None and latest_us != _NO_TIME:
            return us_to_datetime(latest_us + 1)
        return as_of

    @staticmethod
    def _slots(labels: NDArray[Any], present: NDArray[np.bool_]) -> list[tuple[int, Any]]:
        """(slot, label) of each group to report; the no-label slot only when it has rows."""
        out: list[tuple[int, Any]] = [(i, label.item()) for i, label in enumerate(labels)]
        if present[len(labels)]:
            out.append((len(labels), MISSING_GROUP))
        return out

    # -- the contract, shared by the one-item histogram states ---------------------------------
    # (NetScoreState and csat.ScaleState have the same fields: labels, counts, n_missing,
    # weight_sums, weight_sq_sums, latest_us; subclasses provide _count and _result.)

    def _count(
        self,
        values: NDArray[np.int8],
        answered: NDArray[np.bool_] | None,
        labels: NDArray[Any],
        codes: NDArray[np.intp] | None,
        weight: NDArray[np.float64] | None,
    ) -> Any:
        """The state of one chunk's answers (per subclass)."""
        raise NotImplementedError

    def _result(
        self,
        counts: NDArray[np.int64],
        n_missing: int,
        weight_sums: NDArray[np.float64],
        weight_sq_sums: NDArray[np.float64],
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
    ) -> MetricResult:
        """The result of one group's histogram (per subclass)."""
        raise NotImplementedError

    def update(self, state: Any, frame: SurveyFrame) -> Any:
        """Add the answers of ``frame``; an answer outside ``scale`` raises ValidationError."""
        values, answered = self._answers(frame)
        labels, codes = self._groups(frame)
        self._raise_weights(frame)
        try:
            chunk = self._count(values, answered, labels, codes, frame.weight)
        except OutOfScaleError:
            self._raise_scale(values, answered, frame.first_row)
            raise  # pragma: no cover - _raise_scale always raises here
        chunk = attrs.evolve(chunk, latest_us=self._latest(state.latest_us, frame))
        return self.merge(state, chunk)

    def merge(self, a: Any, b: Any) -> Any:
        """Add two states, aligning their group labels."""
        check_fingerprints(self.name, a, b)
        labels, add = merge_rows(a.labels, b.labels)
        return attrs.evolve(
            a,
            labels=labels,
            counts=add(a.counts, b.counts),
            n_missing=add(a.n_missing, b.n_missing),
            weight_sums=add(a.weight_sums, b.weight_sums),
            weight_sq_sums=add(a.weight_sq_sums, b.weight_sq_sums),
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: Any, as_of: dt.datetime | None = None) -> MetricResult:
        """The overall result and, when grouped, one result per group."""
        as_of = self._as_of(state.latest_us, as_of)
        if int(state.counts.sum()) == 0:
            raise self._no_data(int(state.n_missing.sum()))
        version = package_version()
        groups: list[MetricResult] = []
        if self.by is not None:
            present = state.counts.sum(axis=1) + state.n_missing > 0
            for slot, label in self._slots(state.labels, present):
                groups.append(
                    self._result(
                        state.counts[slot],
                        int(state.n_missing[slot]),
                        state.weight_sums[slot],
                        state.weight_sq_sums[slot],
                        as_of,
                        version,
                        label,
                        (),
                    )
                )
        return self._result(
            state.counts.sum(axis=0),
            int(state.n_missing.sum()),
            state.weight_sums.sum(axis=0),
            state.weight_sq_sums.sum(axis=0),
            as_of,
            version,
            None,
            tuple(groups),
        )


def merge_rows(
    a_labels: NDArray[Any], b_labels: NDArray[Any]
) -> tuple[NDArray[Any], Callable[[NDArray[Any], NDArray[Any]], NDArray[Any]]]:
    """Union of two states' labels and a function adding their per-slot arrays."""
    labels, pos_a, pos_b = union_labels(a_labels, b_labels)
    slots = len(labels) + 1

    def add(x: NDArray[Any], y: NDArray[Any]) -> NDArray[Any]:
        if len(x) == slots and len(y) == slots and np.array_equal(pos_a, pos_b):
            same: NDArray[Any] = x + y
            return same
        aligned: NDArray[Any] = align(x, pos_a, slots) + align(y, pos_b, slots)
        return aligned

    return labels, add


# -- the net score engine ---------------------------------------------------------------------


class NetScoreBase(SurveyItemMetric):
    """The four functions of a net score; subclasses declare fields and bands only.

    A subclass is an attrs class with the fields of :class:`SurveyItemMetric` plus
    ``interval``, and implements :meth:`bands`.
    """

    higher_is_better: ClassVar[bool | None] = True
    #: Detail names of the negative, middle and positive categories.
    category_names: ClassVar[tuple[str, str, str]] = ("negative", "middle", "positive")
    #: Detail name of the adjusted-Wald centre.
    adjusted_key: ClassVar[str] = "adjusted_score"

    interval: IntervalName

    def bands(self) -> tuple[Band, Band]:
        """The negative and positive answer bands, each ``(lo, hi)`` inclusive."""
        raise NotImplementedError  # pragma: no cover

    def _orientation(self) -> tuple[int, int, bool]:
        """``(low_max, high_min, reversed)``: thresholds, and whether positive is the low end."""
        negative, positive = self.bands()
        if positive[1] == self.scale[1] and negative[1] < positive[0]:
            return negative[1], positive[0], False
        return positive[1], negative[0], True

    # -- the four functions -------------------------------------------------------------

    def init(self) -> NetScoreState:
        """The empty state."""
        return NetScoreState(
            fingerprint=self.fingerprint,
            labels=empty_labels(),
            counts=np.zeros((1, 3), np.int64),
            n_missing=np.zeros(1, np.int64),
            weight_sums=np.zeros((1, 3)),
            weight_sq_sums=np.zeros((1, 3)),
        )

    # -- kernels --------------------------------------------------------------------------

    def _count(
        self,
        values: NDArray[np.int8],
        answered: NDArray[np.bool_] | None,
        labels: NDArray[Any],
        codes: NDArray[np.intp] | None,
        weight: NDArray[np.float64] | None,
    ) -> NetScoreState:
        slots = len(labels) + 1
        low_max, high_min, flipped = self._orientation()
        if codes is None and not self.weighted:
            low, middle, high = count_categories(
                values, answered, low_max, high_min, scale=self.scale
            )
            ordered = [high, middle, low] if flipped else [low, middle, high]
            missing = 0 if answered is None else len(values) - int(np.count_nonzero(answered))
            return NetScoreState(
                fingerprint=self.fingerprint,
                labels=labels,
                counts=np.array([ordered], dtype=np.int64),
                n_missing=np.array([missing], np.int64),
                weight_sums=np.zeros((1, 3)),
                weight_sq_sums=np.zeros((1, 3)),
            )
        if scale_problems(self.item, self.scale, values, answered, 0):
            msg = f"answers outside {self.scale}"
            raise OutOfScaleError(msg)
        if codes is None:
            codes = np.full(len(values), slots - 1, dtype=np.intp)
        category = (values > low_max).astype(np.intp) + (values >= high_min)
        if flipped:
            category = 2 - category
        cell = codes * 3 + category
        if answered is not None:
            cell_used = cell[answered]
            n_missing = np.bincount(codes[~answered], minlength=slots).astype(np.int64)
        else:
            cell_used = cell
            n_missing = np.zeros(slots, np.int64)
        counts = np.bincount(cell_used, minlength=slots * 3).reshape(slots, 3).astype(np.int64)
        sums = np.zeros((slots, 3))
        sq_sums = np.zeros((slots, 3))
        if self.weighted:
            w = np.ones(len(values)) if weight is None else weight
            w_used = w if answered is None else w[answered]
            sums = np.asarray(
                np.bincount(cell_used, weights=w_used, minlength=slots * 3), dtype=np.float64
            ).reshape(slots, 3)
            sq_sums = np.asarray(
                np.bincount(cell_used, weights=w_used * w_used, minlength=slots * 3),
                dtype=np.float64,
            ).reshape(slots, 3)
        return NetScoreState(
            fingerprint=self.fingerprint,
            labels=labels,
            counts=counts,
            n_missing=n_missing,
            weight_sums=sums,
            weight_sq_sums=sq_sums,
        )

    def _method(self) -> str:
        return {
            "adjusted-wald": "adjusted Wald (Rocks 2016)",
            "wald": "Wald",
            "score": "iterative score (Tango 1998)",
            "t": "trinomial t",
        }[self.interval]

    def _result(
        self,
        counts: NDArray[np.int64],
        n_missing: int,
        weight_sums: NDArray[np.float64],
        weight_sq_sums: NDArray[np.float64],
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
    ) -> MetricResult:
        negative, middle, positive = (int(c) for c in counts)
        n = negative + middle + positive
        flags: list[str] = []
        details: dict[str, float] = {}
        method = self._method()
        neg_name, mid_name, pos_name = self.category_names
        if n == 0:
            flags.append("no valid answers")
            value = se = low = high = math.nan
        elif self.weighted:
            total_w = float(weight_sums.sum())
            p, d = weight_sums[2] / total_w, weight_sums[0] / total_w
            n_eff = total_w**2 / float(weight_sq_sums.sum())
            score = p - d
            details.update(n_effective=n_eff)
            if self.interval in ("wald", "t"):
                # linearised variance, s in {-1, 0, +1}
                sum_sq = (
                    weight_sq_sums[2] * (1 - score) ** 2
                    + weight_sq_sums[1] * score**2
                    + weight_sq_sums[0] * (1 + score) ** 2
                )
                variance = n / (n - 1) * sum_sq / total_w**2 if n > 1 else math.nan
                se = math.sqrt(variance)
                if self.interval == "wald":
                    crit = z_value(self.alpha)
                    method = "Wald, linearised for weights"
                else:
                    crit = _t_value(self.alpha, n_eff - 1)
                    details.update(df=n_eff - 1)
                    method = "t on the linearised weighted variance, df = n_eff - 1 (Kish)"
                low, high = score - crit * se, score + crit * se
            else:
                centre, se, low, high = net_interval(
                    p * n_eff, d * n_eff, n_eff, self.alpha, self.interval
                )
                if self.interval == "adjusted-wald":
                    details.update({self.adjusted_key: 100 * centre})
                method = f"{method} on the Kish effective n"
            value = 100 * score
            details.update(
                {
                    pos_name: 100 * p,
                    mid_name: 100 * weight_sums[1] / total_w,
                    neg_name: 100 * d,
                    "weight_sum": total_w,
                }
            )
        else:
            centre, se, low, high = net_interval(positive, negative, n, self.alpha, self.interval)
            value = 100 * (positive - negative) / n
            if self.interval == "adjusted-wald":
                details.update({self.adjusted_key: 100 * centre})
            if self.interval == "t":
                details.update(df=n - 1)
            details.update(
                {
                    pos_name: 100 * positive / n,
                    mid_name: 100 * middle / n,
                    neg_name: 100 * negative / n,
                }
            )
        if n == 1 and self.weighted and self.interval == "wald":
            flags.append("no interval: the linearised variance needs n >= 2")
        if n == 1 and self.interval == "t":
            flags.append("no interval: the t interval needs n >= 2")
        if 0 < n < self.min_n:
            flags.append(f"small sample: n = {n} < {self.min_n}")
        if self.interval in ("wald", "t") and n and se == 0:
            flags.append(
                f"zero-width {'Wald' if self.interval == 'wald' else 't'} interval: every "
                "answer in one category"
            )
        if self.interval == "t" and n > 1 and not math.isnan(low) and (low < -1 or high > 1):
            flags.append("the t interval leaves [-100, 100]")
        return MetricResult(
            metric=self.name,
            value=float(value),
            n=n,
            n_missing=n_missing,
            se=None if math.isnan(se) else 100 * float(se),
            ci_low=None if math.isnan(low) else 100 * float(low),
            ci_high=None if math.isnan(high) else 100 * float(high),
            level=1 - self.alpha,
            method=method + self.method_note(),
            reference=self.result_reference(),
            params=self.params(),
            as_of=as_of,
            version=version,
            unit="points",
            group=group,
            groups=groups,
            flags=tuple(flags),
            details={k: float(v) for k, v in details.items()},
        )

    def result_reference(self) -> str:
        """The source cited in results (the class ``reference`` unless a variant has its own)."""
        return self.reference

    def method_note(self) -> str:
        """Text appended to the method (a variant's name), empty by default."""
        return ""


def _t_value(alpha: float, df: float) -> float:
    return t_quantile(1 - alpha / 2, df) if df > 0 else math.nan


def t_quantile(q: float, df: float) -> float:
    """Quantile ``q`` of Student's t with ``df`` degrees of freedom (scipy, imported lazily).

    Examples
    --------
    >>> round(t_quantile(0.975, 10), 4)
    2.2281
    """
    from scipy.stats import t as student_t  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    return float(student_t.ppf(q, df))


def t_sf(x: float, df: float) -> float:
    """Upper tail ``P(T > x)`` of Student's t with ``df`` degrees of freedom.

    Examples
    --------
    >>> round(t_sf(2.2281, 10), 4)
    0.025
    """
    from scipy.stats import t as student_t  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    return float(student_t.sf(x, df))


def _check_bands(instance: NetScore, attribute: Any, value: Any) -> None:
    del attribute, value
    check_net_bands(instance.negative, instance.positive, instance.scale)


@attrs.frozen
class NetScore(NetScoreBase):
    r"""A net score on any scale: the share of positive answers minus the share of negative ones.

    The general form behind the Net Promoter Score, Net Easy and net satisfaction, for an item
    with custom cut-offs (a 1-5 agreement item, a 0-10 scale with other breaks...). Use it
    directly (it is not registered under a name); the named variants are ``"nps"``,
    ``"net_easy"`` and ``"net_csat"``.

    Parameters
    ----------
    item : str
        The survey item.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the score per group of this column as well as overall.
    scale : (int, int)
        The answer range; an answer outside it is an error (or quarantined).
    negative, positive : (int, int)
        The negative and the positive answer bands, inclusive. They sit at opposite ends of
        the scale; the positive band may be the low end (when a low answer is the good one).
    weighted : bool
        Use the frame's respondent weights (Kish effective sample size for the interval).
    interval : {"adjusted-wald", "wald", "score", "t"}
        Interval method: adjusted Wald (Rocks 2016, default), Wald, the iterative score
        interval (Tango 1998) or the trinomial t interval.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    With :math:`s_i = +1` for a positive, :math:`-1` for a negative and 0 for any other answer,
    :math:`p` and :math:`d` the positive and negative shares of the :math:`n` answers,

    .. math::

        \mathrm{net} = 100\,(p - d) = 100\,\bar s, \qquad
        \widehat{\mathrm{Var}}(p - d) = \frac{p + d - (p - d)^2}{n}

    (trinomial: :math:`\mathrm{Cov}(\hat p, \hat d) = -pd/n`). Weighted: shares of weights,
    the Kish effective :math:`n_{eff} = (\sum w)^2/\sum w^2` for the adjusted-Wald and score
    intervals, the linearised variance
    :math:`\frac{n}{n-1}\sum w_i^2 (s_i - \mathrm{net}_w)^2/(\sum w)^2` for Wald and t (with
    :math:`n_{eff} - 1` degrees of freedom). Missing answers are counted in ``n_missing``.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372.
    Tango, T. (1998). Equivalence test and confidence interval for the difference in
    proportions for the paired-sample design. *Statistics in Medicine* 17(8), 891-908.
    Kish, L. (1965). *Survey Sampling*. Wiley (effective sample size).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> m = NetScore(item="q", scale=(1, 5), negative=(1, 2), positive=(4, 5), interval="wald")
    >>> frame = SurveyFrame(answers={"q": np.array([5, 4, 3, 2], np.int8)})
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.details
    (25.0, {'positive': 50.0, 'middle': 25.0, 'negative': 25.0})
    """

    name: ClassVar[str] = "net_score"
    reference: ClassVar[str] = (
        "Intervals: Rocks (2016), The American Statistician 70(4), 365-372; Tango (1998), "
        "Statistics in Medicine 17(8), 891-908"
    )

    item: str = "score"
    by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )
    scale: tuple[int, int] = attrs.field(default=(0, 10), converter=_to_tuple)
    negative: tuple[int, int] = attrs.field(default=(0, 6), converter=_to_tuple)
    positive: tuple[int, int] = attrs.field(
        default=(9, 10), converter=_to_tuple, validator=_check_bands
    )
    weighted: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    interval: IntervalName = attrs.field(
        default="adjusted-wald", validator=attrs.validators.in_(INTERVALS)
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    def bands(self) -> tuple[Band, Band]:
        """The negative and positive answer bands."""
        return self.negative, self.positive
