r"""Response-quality flags: straight-lining and contradictory answers to reverse-keyed items.

The metric ``"response_quality"`` (:class:`ResponseQuality`) counts the responses that look
careless, with Wilson intervals for their shares. It flags them and never drops them: the
other metrics still count every response, and the flagged respondent ids are kept in the
state (:meth:`ResponseQuality.flagged_ids`) so they can be inspected or excluded on purpose.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> answers = {f"q{j}": np.array([3, 4, 2, 5], np.int8) for j in range(1, 6)}
>>> answers["q5"] = np.array([3, 4, 1, 2], np.int8)
>>> frame = SurveyFrame(respondent_id=np.array([11, 12, 13, 14]), answers=answers)
>>> m = ResponseQuality(items=tuple(answers))
>>> state = m.update(m.init(), frame)
>>> r = m.finalize(state)
>>> r.value, r.details["straightlining_count"], m.flagged_ids(state)["straightlining"].tolist()
(0.5, 2.0, [11, 12])
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument, Item
from stickykit.io.validate import Violation
from stickykit.metrics._groups import align, empty_labels, union_labels
from stickykit.metrics.base import (
    InputKind,
    MetricBase,
    MetricResult,
    check_fingerprints,
    package_version,
)
from stickykit.metrics.survey.reliability import (
    GROUP_COLUMNS,
    _battery,
    _check_frame,
    _group_codes,
    _latest,
    keyed_answers,
    scale_violations,
    select_items,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha, wilson_interval

__all__ = ["QUALITY_DEFAULT_ITEMS", "QualityState", "ResponseQuality", "quality_flags"]

#: Placeholder item ids used when neither ``items`` nor ``instrument`` is given.
QUALITY_DEFAULT_ITEMS: tuple[str, ...] = ("item1", "item2", "item3", "item4", "item5")
_MISSING_GROUP = "(missing)"
_NO_TIME = int(np.iinfo(np.int64).min)


def quality_flags(
    raw: NDArray[np.float64],
    present: NDArray[np.bool_],
    items: tuple[Item, ...],
    *,
    min_items: int,
    extreme_margin: int,
) -> dict[str, NDArray[np.bool_]]:
    """Per-row eligibility and flags of both rules, per battery and per mixed dimension.

    Parameters
    ----------
    raw : numpy.ndarray
        float64 ``(n, k)`` raw answers as ticked (not reverse-scored).
    present : numpy.ndarray
        bool ``(n, k)``, ``True`` where answered.
    items : tuple of Item
        The ``k`` items, in column order.
    min_items, extreme_margin : int
        As in :class:`ResponseQuality`.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"straight_eligible"``, ``"straight"`` (shape ``(n, B)``, one column per checked
        battery), ``"reversed_eligible"``, ``"reversed"`` (shape ``(n, D)``, one column per
        mixed battery-dimension pair).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.instruments import Item
    >>> items = (Item(id="a", text="", dimension="d", scale=(1, 5)),
    ...          Item(id="b", text="", dimension="d", scale=(1, 5), reverse=True))
    >>> flags = quality_flags(np.array([[5.0, 5.0], [5.0, 1.0]]), np.ones((2, 2), bool), items,
    ...                       min_items=2, extreme_margin=0)
    >>> flags["straight"][:, 0].tolist(), flags["reversed"][:, 0].tolist()
    ([True, False], [True, False])
    """
    n = raw.shape[0]
    batteries, mixed = _rule_groups(items, min_items)
    straight_eligible = np.zeros((n, len(batteries)), dtype=bool)
    straight = np.zeros((n, len(batteries)), dtype=bool)
    for b, (_, columns) in enumerate(batteries):
        answers, answered = raw[:, columns], present[:, columns]
        lowest = np.where(answered, answers, np.inf).min(axis=1)
        highest = np.where(answered, answers, -np.inf).max(axis=1)
        straight_eligible[:, b] = answered.sum(axis=1) >= min_items
        straight[:, b] = straight_eligible[:, b] & (lowest == highest)
    lo = np.array([item.scale[0] for item in items], dtype=np.float64)
    hi = np.array([item.scale[1] for item in items], dtype=np.float64)
    top = raw >= hi - extreme_margin
    bottom = raw <= lo + extreme_margin
    reversed_eligible = np.zeros((n, len(mixed)), dtype=bool)
    reversed_ = np.zeros((n, len(mixed)), dtype=bool)
    for d, (_, direct, reverse) in enumerate(mixed):
        columns = direct + reverse
        answered = present[:, columns]
        eligible = present[:, direct].any(axis=1) & present[:, reverse].any(axis=1)
        all_top = np.where(answered, top[:, columns], True).all(axis=1)
        all_bottom = np.where(answered, bottom[:, columns], True).all(axis=1)
        reversed_eligible[:, d] = eligible
        reversed_[:, d] = eligible & (all_top | all_bottom)
    return {
        "straight_eligible": straight_eligible,
        "straight": straight,
        "reversed_eligible": reversed_eligible,
        "reversed": reversed_,
    }


def _rule_groups(
    items: tuple[Item, ...], min_items: int
) -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int], list[int]]]]:
    """Batteries checked for straight-lining and battery:dimension pairs mixing keyings."""
    batteries: dict[str, list[int]] = {}
    pairs: dict[str, tuple[list[int], list[int]]] = {}
    for j, item in enumerate(items):
        batteries.setdefault(item.battery, []).append(j)
        direct, reverse = pairs.setdefault(f"{item.battery}:{item.dimension}", ([], []))
        (reverse if item.reverse else direct).append(j)
    checked = [(name, cols) for name, cols in batteries.items() if len(cols) >= min_items]
    mixed = [(name, d, r) for name, (d, r) in pairs.items() if d and r]
    return checked, mixed


@attrs.frozen(eq=False)
class QualityState:
    """Mergeable state of the response-quality flags: counts per group, flagged ids.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen.
    counts : numpy.ndarray
        int64, shape ``(len(labels) + 1, 7)``: per group (last slot: rows without a label, or
        every row when ungrouped) the rows seen, rows eligible for any rule and flagged by
        any, rows eligible for and flagged by straight-lining, rows eligible for and flagged
        by contradictory extremes.
    by_battery : numpy.ndarray
        int64, shape ``(len(labels) + 1, B)``: straight-liners per checked battery.
    by_dimension : numpy.ndarray
        int64, shape ``(len(labels) + 1, D)``: contradictory respondents per mixed
        battery-dimension pair.
    straight_ids, reversed_ids : numpy.ndarray
        Sorted unique respondent ids of the flagged responses (empty when the frames carry no
        ``respondent_id``); their size is bounded by the flagged respondents.
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    labels: NDArray[Any]
    counts: NDArray[np.int64]
    by_battery: NDArray[np.int64]
    by_dimension: NDArray[np.int64]
    straight_ids: NDArray[Any]
    reversed_ids: NDArray[Any]
    latest_us: int = _NO_TIME


_ROWS, _ELIGIBLE, _FLAGGED, _S_ELIGIBLE, _S_FLAGGED, _R_ELIGIBLE, _R_FLAGGED = range(7)


def _check_level(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _scale_or_none(value: Any) -> tuple[int, int] | None:
    return None if value is None else (value[0], value[1])


@attrs.frozen
class ResponseQuality(MetricBase):
    r"""Share of responses flagged as straight-lining or contradicting reverse-keyed items.

    Two rules, applied to the raw answers as ticked (before reverse scoring):

    **Straight-lining.** A battery with at least ``min_items`` of the selected items is
    checked. A response is eligible when it answered at least ``min_items`` items of the
    battery, and straight-lines when all its answered items of that battery carry the same
    answer. A response is a straight-liner if it straight-lines any checked battery.

    **Contradictory extremes** (for reverse-keyed items). Within each battery, the items of one
    dimension that include both directly keyed and reverse-keyed items form a checked group.
    A response is eligible when it answered at least one item of each keying in the group,
    and is flagged when every answered item of the group is at the top of its scale
    (``>= hi - extreme_margin``) or every one at the bottom (``<= lo + extreme_margin``):
    agreeing (or disagreeing) as strongly as possible with a statement and its opposite.

    Parameters
    ----------
    items : tuple of str, optional
        Item ids (one battery, one dimension, shared ``scale``; ``reverse`` names the
        reverse-keyed ones), or ids looked up in ``instrument``. Without both, the placeholders
        :data:`QUALITY_DEFAULT_ITEMS`.
    instrument : str or Instrument, optional
        Read batteries, dimensions, scales and keying from this instrument, restricted to
        ``dimension``, ``battery`` and ``facet``.
    dimension, facet : str, optional
        Selection inside ``instrument``.
    battery : str or tuple of str, optional
        Battery (or batteries) inside ``instrument``. Leave out constant-sum questions
        (SERVQUAL's importance points), where equal answers are legitimate.
    scale : (int, int), optional
        Answer range of ``items`` without an instrument (default 1-5).
    reverse : tuple of str
        Reverse-keyed ``items`` without an instrument.
    min_items : int
        Smallest battery (and smallest number of answers in it) checked for straight-lining.
    extreme_margin : int
        How far from a scale end an answer still counts as extreme (0: the end itself).
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report per group of this column as well as overall.
    alpha : float
        1 - confidence level of the Wilson intervals.
    min_n : int
        Groups with fewer eligible responses are flagged as small.

    Notes
    -----
    ``value`` is the share of eligible responses flagged by either rule,
    :math:`\hat p = x / n`, with the Wilson (1927) interval; ``n`` counts responses eligible
    for at least one rule and ``n_missing`` the others (too few answers). ``details`` holds,
    for each rule (``straightlining``, ``reversed``), ``<rule>_count``, ``<rule>_eligible``,
    ``<rule>_share``, ``<rule>_ci_low`` and ``<rule>_ci_high`` (NaN where no response was
    eligible), the counts ``straightlining:<battery>`` and
    ``reversed:<battery>:<dimension>``, and, overall, ``n_flagged_ids``. Counts are of
    responses; the ids in :meth:`flagged_ids` are distinct respondents.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"good": np.array([7, 6, 7], np.int8),
    ...                              "bad": np.array([7, 2, 1], np.int8)})
    >>> m = ResponseQuality(items=("good", "bad"), reverse=("bad",), scale=(1, 7), min_items=3)
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.details["reversed_count"], r.details["reversed_eligible"], round(r.value, 3)
    (1.0, 3.0, 0.333)
    """

    name: ClassVar[str] = "response_quality"
    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"
    higher_is_better: ClassVar[bool | None] = False
    reference: ClassVar[str] = (
        "stickykit rules (straight-lining, contradictory extremes on reverse-keyed items); "
        "intervals: Wilson (1927), JASA 22(158), 209-212"
    )

    items: tuple[str, ...] | None = attrs.field(default=None, converter=_tuple_or_none)
    instrument: str | Instrument | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of((str, Instrument))),
    )
    dimension: str | None = None
    battery: str | tuple[str, ...] | None = attrs.field(default=None, converter=_battery)
    facet: str | None = None
    scale: tuple[int, int] | None = attrs.field(default=None, converter=_scale_or_none)
    reverse: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    min_items: int = attrs.field(
        default=5, validator=[attrs.validators.instance_of(int), attrs.validators.ge(2)]
    )
    extreme_margin: int = attrs.field(
        default=0, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)]
    )
    by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )
    alpha: float = attrs.field(default=0.05, validator=_check_level)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    def __attrs_post_init__(self) -> None:
        chosen = self.selected_items()
        ids = [i.id for i in chosen]
        if len(set(ids)) != len(ids):
            msg = f"items must be distinct, got {ids}"
            raise ValueError(msg)
        batteries, mixed = _rule_groups(chosen, self.min_items)
        if not batteries and not mixed:
            msg = (
                f"no rule applies to {ids}: no battery has min_items={self.min_items} items "
                "and no dimension mixes directly and reverse-keyed items"
            )
            raise ValueError(msg)
        for _, direct, reverse in mixed:
            for j in direct + reverse:
                lo, hi = chosen[j].scale
                if lo + self.extreme_margin >= hi - self.extreme_margin:
                    msg = (
                        f"extreme_margin={self.extreme_margin} makes every answer of item "
                        f"{chosen[j].id!r} (scale {lo}-{hi}) extreme"
                    )
                    raise ValueError(msg)

    def selected_items(self) -> tuple[Item, ...]:
        """The items read, with their batteries, dimensions, scales and keying."""
        return select_items(
            items=self.items,
            instrument=self.instrument,
            dimension=self.dimension,
            battery=self.battery,
            facet=self.facet,
            scale=self.scale,
            reverse=self.reverse,
            default=QUALITY_DEFAULT_ITEMS,
        )

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return tuple(i.id for i in self.selected_items())

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        return {i.id: i.scale for i in self.selected_items()}

    def _group_names(self) -> tuple[list[str], list[str]]:
        batteries, mixed = _rule_groups(self.selected_items(), self.min_items)
        return [name for name, _ in batteries], [name for name, _, _ in mixed]

    # -- the four functions -------------------------------------------------------------

    def init(self) -> QualityState:
        """The empty state."""
        batteries, mixed = self._group_names()
        return QualityState(
            fingerprint=self.fingerprint,
            labels=empty_labels(),
            counts=np.zeros((1, 7), np.int64),
            by_battery=np.zeros((1, len(batteries)), np.int64),
            by_dimension=np.zeros((1, len(mixed)), np.int64),
            straight_ids=empty_labels(),
            reversed_ids=empty_labels(),
        )

    def update(self, state: QualityState, frame: SurveyFrame) -> QualityState:
        """Flag the responses of ``frame``; an answer outside its scale raises."""
        items = self.selected_items()
        frame = _check_frame(self.name, frame, items)
        keyed, present = keyed_answers(frame, items)
        lo = np.array([i.scale[0] for i in items], dtype=np.float64)
        hi = np.array([i.scale[1] for i in items], dtype=np.float64)
        flipped = np.array([i.reverse for i in items])
        raw = np.where(flipped, lo + hi - keyed, keyed)
        flags = quality_flags(
            raw, present, items, min_items=self.min_items, extreme_margin=self.extreme_margin
        )
        s_eligible = flags["straight_eligible"].any(axis=1)
        s_flagged = flags["straight"].any(axis=1)
        r_eligible = flags["reversed_eligible"].any(axis=1)
        r_flagged = flags["reversed"].any(axis=1)
        columns = np.column_stack(
            [
                np.ones(len(frame), dtype=bool),
                s_eligible | r_eligible,
                s_flagged | r_flagged,
                s_eligible,
                s_flagged,
                r_eligible,
                r_flagged,
            ]
        )
        labels, codes = _group_codes(frame, self.by)
        slots = len(labels) + 1
        slot_of = np.full(len(frame), slots - 1, dtype=np.intp) if codes is None else codes

        def per_slot(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
            table = np.zeros((slots, mask.shape[1]), np.int64)
            np.add.at(table, slot_of, mask.astype(np.int64))
            return table

        ids = frame.respondent_id
        chunk = QualityState(
            fingerprint=self.fingerprint,
            labels=labels,
            counts=per_slot(columns),
            by_battery=per_slot(flags["straight"]),
            by_dimension=per_slot(flags["reversed"]),
            straight_ids=empty_labels() if ids is None else np.unique(ids[s_flagged]),
            reversed_ids=empty_labels() if ids is None else np.unique(ids[r_flagged]),
            latest_us=_latest(_NO_TIME, frame),
        )
        return self.merge(state, chunk)

    def merge(self, a: QualityState, b: QualityState) -> QualityState:
        """Add the counts (aligning group labels) and unite the flagged ids."""
        check_fingerprints(self.name, a, b)
        labels, pos_a, pos_b = union_labels(a.labels, b.labels)
        slots = len(labels) + 1

        def add(x: NDArray[np.int64], y: NDArray[np.int64]) -> NDArray[np.int64]:
            out: NDArray[np.int64] = align(x, pos_a, slots) + align(y, pos_b, slots)
            return out

        return QualityState(
            fingerprint=a.fingerprint,
            labels=labels,
            counts=add(a.counts, b.counts),
            by_battery=add(a.by_battery, b.by_battery),
            by_dimension=add(a.by_dimension, b.by_dimension),
            straight_ids=union_labels(a.straight_ids, b.straight_ids)[0],
            reversed_ids=union_labels(a.reversed_ids, b.reversed_ids)[0],
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: QualityState, as_of: dt.datetime | None = None) -> MetricResult:
        """The flagged shares overall and, when grouped, per group."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        totals = state.counts.sum(axis=0)
        if totals[_ELIGIBLE] == 0:
            msg = (
                f"no response to {list(self.requires)} is eligible for a {self.name} rule "
                f"({int(totals[_ROWS]):,} rows, too few answers in each)"
            )
            raise InsufficientDataError(msg)
        version = package_version()
        groups: list[MetricResult] = []
        if self.by is not None:
            for slot in range(len(state.labels) + 1):
                if slot == len(state.labels):
                    if state.counts[slot, _ROWS] == 0:
                        continue
                    label: Any = _MISSING_GROUP
                else:
                    label = state.labels[slot].item()
                groups.append(
                    self._result(
                        state.counts[slot],
                        state.by_battery[slot],
                        state.by_dimension[slot],
                        as_of,
                        version,
                        label,
                        (),
                        {},
                    )
                )
        n_ids = len(union_labels(state.straight_ids, state.reversed_ids)[0])
        return self._result(
            totals,
            state.by_battery.sum(axis=0),
            state.by_dimension.sum(axis=0),
            as_of,
            version,
            None,
            tuple(groups),
            {"n_flagged_ids": float(n_ids)},
        )

    def flagged_ids(self, state: QualityState) -> dict[str, NDArray[Any]]:
        """The distinct respondent ids flagged by each rule, sorted.

        Returns ``{"straightlining": ids, "reversed": ids}``; both are empty when the frames
        carried no ``respondent_id``.
        """
        return {"straightlining": state.straight_ids, "reversed": state.reversed_ids}

    # -- validation ---------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows with an answer outside its item's scale (for quarantine)."""
        items = self.selected_items()
        return scale_violations(_check_frame(self.name, frame, items), items)

    # -- results ------------------------------------------------------------------------

    def _result(
        self,
        counts: NDArray[np.int64],
        by_battery: NDArray[np.int64],
        by_dimension: NDArray[np.int64],
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
        extra: dict[str, float],
    ) -> MetricResult:
        rows, eligible, flagged = (int(c) for c in counts[:3])
        batteries, mixed = self._group_names()
        flags: list[str] = []
        details: dict[str, float] = {}
        rules = [("straightlining", _S_ELIGIBLE, _S_FLAGGED, bool(batteries))]
        rules.append(("reversed", _R_ELIGIBLE, _R_FLAGGED, bool(mixed)))
        for rule, e_col, f_col, applies in rules:
            if not applies:
                continue
            e, x = int(counts[e_col]), int(counts[f_col])
            low, high = wilson_interval(x, e, self.alpha)
            details.update(
                {
                    f"{rule}_count": float(x),
                    f"{rule}_eligible": float(e),
                    f"{rule}_share": x / e if e else math.nan,
                    f"{rule}_ci_low": low,
                    f"{rule}_ci_high": high,
                }
            )
        for name, x in zip(batteries, by_battery, strict=True):
            details[f"straightlining:{name}"] = float(x)
        for name, x in zip(mixed, by_dimension, strict=True):
            details[f"reversed:{name}"] = float(x)
        details.update(extra)
        if not mixed:
            flags.append("reversed rule not applied: no dimension mixes keyings")
        if not batteries:
            flags.append(f"straight-lining not checked: no battery has {self.min_items} items")
        if eligible == 0:
            flags.append("no eligible responses")
        elif eligible < self.min_n:
            flags.append(f"small sample: n = {eligible} < {self.min_n}")
        value = flagged / eligible if eligible else math.nan
        low, high = wilson_interval(flagged, eligible, self.alpha)
        return MetricResult(
            metric=self.name,
            value=value,
            n=eligible,
            n_missing=rows - eligible,
            se=math.sqrt(value * (1 - value) / eligible) if eligible else None,
            ci_low=None if math.isnan(low) else low,
            ci_high=None if math.isnan(high) else high,
            level=1 - self.alpha,
            method="Wilson score interval",
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=version,
            unit="share",
            group=group,
            groups=groups,
            flags=tuple(flags),
            details=details,
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the response-quality metric of this module."""
    register(ResponseQuality)
