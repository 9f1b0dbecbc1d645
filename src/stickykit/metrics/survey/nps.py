"""The Net Promoter Score."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

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
from stickykit.stats.intervals import check_alpha, net_score_interval

__all__ = ["NetPromoterScore", "NetScoreState", "OutOfScaleError", "count_categories"]

_NO_TIME = int(np.iinfo(np.int64).min)
#: Rows per block in the counting and range kernels: 1 MiB of int8 answers (and as much for a
#: comparison temporary) stays in cache, and few enough blocks keep the per-block Python
#: overhead small (1 << 20 measured fastest from 1 << 16 to 1 << 21; see benchmarks/).
BLOCK_ROWS = 1 << 20
GROUP_COLUMNS = ("wave", "segment", "instrument", "customer_id")
_MISSING_GROUP = "(missing)"


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
    stickykit.metrics.survey.nps.OutOfScaleError: answers outside [0, 10]
    """
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


def _check_cutoffs(instance: NetPromoterScore, attribute: Any, value: Any) -> None:
    del attribute, value
    lo, hi = instance.scale
    if not (all(type(v) is int for v in instance.scale) and -128 <= lo < hi <= 127):
        msg = f"scale must be two integers lo < hi within [-128, 127], got {instance.scale!r}"
        raise ValueError(msg)
    if not lo <= instance.detractor_max < instance.promoter_min <= hi:
        msg = (
            f"cut-offs must satisfy {lo} <= detractor_max < promoter_min <= {hi}, got "
            f"detractor_max={instance.detractor_max}, promoter_min={instance.promoter_min}"
        )
        raise ValueError(msg)


def _check_alpha(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


@attrs.frozen
class NetPromoterScore(MetricBase):
    r"""Net Promoter Score: the share of promoters minus the share of detractors, in points.

    On the 0-10 "how likely are you to recommend us to a friend or colleague?" question,
    promoters answer 9-10, passives 7-8 and detractors 0-6 (cut-offs are parameters).

    Parameters
    ----------
    item : str
        The survey item holding the 0-10 answer.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the score per group of this column as well as overall.
    detractor_max, promoter_min : int
        Highest detractor answer and lowest promoter answer.
    scale : (int, int)
        The answer range; an answer outside it is an error (or quarantined).
    weighted : bool
        Use the frame's respondent weights (Kish effective sample size for the interval).
    interval : {"adjusted-wald", "wald"}
        Interval method; adjusted Wald (Rocks 2016) by default.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    With :math:`p` and :math:`d` the promoter and detractor shares of the :math:`n` answers,

    .. math::

        \mathrm{NPS} = 100\,(p - d), \qquad
        \widehat{\mathrm{Var}}(p - d) = \frac{p + d - (p - d)^2}{n}

    since :math:`\mathrm{Cov}(\hat p, \hat d) = -pd/n` (trinomial). The Wald interval is
    :math:`\mathrm{NPS} \pm 100\,z\sqrt{\mathrm{Var}}`. The adjusted-Wald interval adds 3/4 of
    a promoter, 3/4 of a detractor and 3/2 of a passive (so :math:`n + 3`) and applies the Wald
    formula to the adjusted shares, clipped to [-100, 100]; ``details["adjusted_nps"]`` is its
    centre, while ``value`` stays the raw score. Weighted: :math:`p_w = \sum_{pro} w / \sum w`,
    Kish :math:`n_{eff} = (\sum w)^2/\sum w^2`; the Wald variance is the linearised
    :math:`\frac{n}{n-1}\sum w_i^2 (s_i - \mathrm{NPS}_w)^2 / (\sum w)^2` with
    :math:`s_i \in \{-1, 0, 1\}`, and the adjusted Wald puts its pseudo-counts on the
    :math:`n_{eff}` scale. Missing answers are counted in ``n_missing``, never as detractors.

    "Net Promoter" and "NPS" are registered trademarks of Bain & Company, Inc., Satmetrix
    Systems, Inc. and Fred Reichheld.

    References
    ----------
    Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review* 81(12),
    46-54.
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (Wald and adjusted-Wald intervals).
    Kish, L. (1965). *Survey Sampling*. Wiley (effective sample size).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(respondent_id=np.arange(6),
    ...                     answers={"nps": np.array([10, 9, 9, 8, 6, 0], np.int8)})
    >>> result = NetPromoterScore(interval="wald").finalize(
    ...     NetPromoterScore(interval="wald").update(NetPromoterScore(interval="wald").init(), frame))
    >>> result.value, result.n
    (16.666..., 6)
    >>> round(result.ci_low, 1), round(result.ci_high, 1)
    (-55.1, 88.4)
    """

    name: ClassVar[str] = "nps"
    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Reichheld (2003), HBR 81(12), 46-54; intervals: Rocks (2016), The American "
        "Statistician 70(4), 365-372"
    )

    item: str = "nps"
    by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )
    detractor_max: int = attrs.field(default=6, validator=attrs.validators.instance_of(int))
    promoter_min: int = attrs.field(
        default=9, validator=[attrs.validators.instance_of(int), _check_cutoffs]
    )
    scale: tuple[int, int] = attrs.field(default=(0, 10), converter=tuple)
    weighted: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    interval: Literal["adjusted-wald", "wald"] = attrs.field(
        default="adjusted-wald", validator=attrs.validators.in_(("adjusted-wald", "wald"))
    )
    alpha: float = attrs.field(default=0.05, validator=_check_alpha)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return (self.item,)

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        return {self.item: self.scale}

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

    def update(self, state: NetScoreState, frame: SurveyFrame) -> NetScoreState:
        """Add the answers of ``frame``; an answer outside ``scale`` raises ValidationError."""
        values, answered = self._answers(frame)
        labels, codes = self._groups(frame)
        try:
            chunk = self._count(values, answered, labels, codes, frame.weight)
        except OutOfScaleError:
            v = self._scale_problems(values, answered, frame.first_row)[0]
            raise ValidationError(
                record="SurveyFrame",
                field=v.field,
                row=int(v.rows[0]),
                value=v.value(0),
                expected=v.expected,
                n_failing=len(v),
            ) from None
        latest = state.latest_us
        if frame.answered_at is not None and len(frame):
            times = frame.answered_at.view(np.int64)
            present = times[times != _NO_TIME]
            if present.size:
                latest = max(latest, int(present.max()))
        chunk = attrs.evolve(chunk, latest_us=latest)
        return self.merge(state, chunk)

    def merge(self, a: NetScoreState, b: NetScoreState) -> NetScoreState:
        """Add two states, aligning their group labels."""
        check_fingerprints(self.name, a, b)
        labels, pos_a, pos_b = union_labels(a.labels, b.labels)
        slots = len(labels) + 1

        def add(x: NDArray[Any], y: NDArray[Any]) -> NDArray[Any]:
            if len(x) == slots and len(y) == slots and np.array_equal(pos_a, pos_b):
                same: NDArray[Any] = x + y
                return same
            aligned: NDArray[Any] = align(x, pos_a, slots) + align(y, pos_b, slots)
            return aligned

        return NetScoreState(
            fingerprint=a.fingerprint,
            labels=labels,
            counts=add(a.counts, b.counts),
            n_missing=add(a.n_missing, b.n_missing),
            weight_sums=add(a.weight_sums, b.weight_sums),
            weight_sq_sums=add(a.weight_sq_sums, b.weight_sq_sums),
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: NetScoreState, as_of: dt.datetime | None = None) -> MetricResult:
        """The overall score and, when grouped, one result per group."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        total = int(state.counts.sum())
        if total == 0:
            msg = (
                f"no valid '{self.item}' answers to compute {self.name} from "
                f"({int(state.n_missing.sum()):,} rows without an answer)"
            )
            raise InsufficientDataError(msg)
        version = package_version()
        groups: list[MetricResult] = []
        if self.by is not None:
            for slot in range(len(state.labels) + 1):
                if slot == len(state.labels):
                    if state.counts[slot].sum() + state.n_missing[slot] == 0:
                        continue
                    label: Any = _MISSING_GROUP
                else:
                    label = state.labels[slot].item()
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

    # -- validation ---------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows whose answer lies outside ``scale`` (for quarantine)."""
        values, answered = self._answers(frame)
        return self._scale_problems(values, answered, frame.first_row)

    # -- kernels ------------------------------------------------------------------------

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

    def _scale_problems(
        self,
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
        lo, hi = self.scale
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
        return [Violation(field=self.item, rows=where, values=values[rows], expected=expected)]

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

    def _count(
        self,
        values: NDArray[np.int8],
        answered: NDArray[np.bool_] | None,
        labels: NDArray[Any],
        codes: NDArray[np.intp] | None,
        weight: NDArray[np.float64] | None,
    ) -> NetScoreState:
        slots = len(labels) + 1
        weights_used = self.weighted
        if codes is None and not weights_used:
            counts = np.array(
                [
                    count_categories(
                        values, answered, self.detractor_max, self.promoter_min, scale=self.scale
                    )
                ],
                dtype=np.int64,
            )
            missing = 0 if answered is None else len(values) - int(np.count_nonzero(answered))
            return NetScoreState(
                fingerprint=self.fingerprint,
                labels=labels,
                counts=counts,
                n_missing=np.array([missing], np.int64),
                weight_sums=np.zeros((1, 3)),
                weight_sq_sums=np.zeros((1, 3)),
            )
        if self._scale_problems(values, answered, 0):
            msg = f"answers outside {self.scale}"
            raise OutOfScaleError(msg)
        if codes is None:
            codes = np.full(len(values), slots - 1, dtype=np.intp)
        category = (values > self.detractor_max).astype(np.intp) + (values >= self.promoter_min)
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
        if weights_used:
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
        method = "adjusted Wald (Rocks 2016)" if self.interval == "adjusted-wald" else "Wald"
        if n == 0:
            flags.append("no valid answers")
            value = se = low = high = math.nan
        elif self.weighted:
            total_w = float(weight_sums.sum())
            p, d = weight_sums[2] / total_w, weight_sums[0] / total_w
            n_eff = total_w**2 / float(weight_sq_sums.sum())
            score = p - d
            details.update(n_effective=n_eff)
            if self.interval == "wald":
                # linearised variance, s in {-1, 0, +1}
                sum_sq = (
                    weight_sq_sums[2] * (1 - score) ** 2
                    + weight_sq_sums[1] * score**2
                    + weight_sq_sums[0] * (1 + score) ** 2
                )
                variance = n / (n - 1) * sum_sq / total_w**2 if n > 1 else math.nan
                centre, se = score, math.sqrt(variance)
                z = _z(self.alpha)
                low, high = centre - z * se, centre + z * se
                method = "Wald, linearised for weights"
            else:
                centre, se, low, high = net_score_interval(
                    p * n_eff, d * n_eff, n_eff, self.alpha, method=self.interval
                )
                details.update(adjusted_nps=100 * centre)
                method = "adjusted Wald (Rocks 2016) on the Kish effective n"
            value = 100 * score
            details.update(
                promoters=100 * p, passives=100 * weight_sums[1] / total_w, detractors=100 * d
            )
        else:
            centre, se, low, high = net_score_interval(
                positive, negative, n, self.alpha, method=self.interval
            )
            value = 100 * (positive - negative) / n
            if self.interval == "adjusted-wald":
                details.update(adjusted_nps=100 * centre)
            details.update(
                promoters=100 * positive / n,
                passives=100 * middle / n,
                detractors=100 * negative / n,
            )
        if n == 1 and self.weighted and self.interval == "wald":
            flags.append("no interval: the linearised variance needs n >= 2")
        if 0 < n < self.min_n:
            flags.append(f"small sample: n = {n} < {self.min_n}")
        if self.interval == "wald" and n and se == 0:
            flags.append("zero-width Wald interval: every answer in one category")
        return MetricResult(
            metric=self.name,
            value=float(value),
            n=n,
            n_missing=n_missing,
            se=None if math.isnan(se) else 100 * float(se),
            ci_low=None if math.isnan(low) else 100 * float(low),
            ci_high=None if math.isnan(high) else 100 * float(high),
            level=1 - self.alpha,
            method=method,
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=version,
            unit="points",
            group=group,
            groups=groups,
            flags=tuple(flags),
            details={k: float(v) for k, v in details.items()},
        )


def _z(alpha: float) -> float:
    from stickykit.stats.intervals import z_value  # noqa: PLC0415

    return z_value(alpha)


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the net score metrics of this module."""
    register(NetPromoterScore)
