r"""SERVQUAL gap scores and SERVPERF perception scores, read from a registered instrument.

Both metrics read their items from an :class:`~stickykit.instruments.Instrument` looked up by
name (``"servqual-1988"`` by default, shipped with stickykit): the perception battery, the
expectation battery (SERVQUAL) and, for importance weighting, the 100-point importance items.
The instrument itself never enters a state; its name and version are in the metric's
parameters, so states of different item versions refuse to merge.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> layout = instrument_layout(stickykit.get_instrument("servqual-1988"))
>>> layout.dimensions
('tangibles', 'reliability', 'responsiveness', 'assurance', 'empathy')
>>> reverse_key(np.array([1, 2, 7], np.int8), 1, 7).tolist()
[7, 6, 1]
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

import stickykit
from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.io.quarantine import raise_first
from stickykit.io.validate import Violation, violation
from stickykit.metrics._groups import align, empty_labels, group_codes, union_labels
from stickykit.metrics.base import (
    InputKind,
    MetricBase,
    MetricResult,
    check_fingerprints,
    package_version,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha

__all__ = [
    "POINTS_TOTAL",
    "Layout",
    "ServiceQualityState",
    "Servperf",
    "Servqual",
    "instrument_layout",
    "reverse_key",
    "t_interval",
]

#: The importance points a respondent allocates over the dimensions (Parasuraman, Berry &
#: Zeithaml 1991); each dimension's weight is its points divided by this total.
POINTS_TOTAL = 100
GROUP_COLUMNS = ("wave", "segment", "instrument", "customer_id")
_MISSING_GROUP = "(missing)"
_NO_TIME = int(np.iinfo(np.int64).min)


def reverse_key(values: NDArray[Any], lo: int, hi: int) -> NDArray[np.int16]:
    """Reverse-key answers on the scale ``[lo, hi]``: :math:`x' = lo + hi - x`.

    On the 1-7 SERVQUAL scale this is :math:`x' = 8 - x`. Applied twice it returns the answers.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(1, 8, dtype=np.int8)
    >>> reverse_key(x, 1, 7).tolist()
    [7, 6, 5, 4, 3, 2, 1]
    >>> reverse_key(reverse_key(x, 1, 7), 1, 7).tolist()
    [1, 2, 3, 4, 5, 6, 7]
    """
    out: NDArray[np.int16] = np.int16(lo + hi) - values.astype(np.int16)
    return out


def _lcm(values: range | tuple[int, ...]) -> int:
    return math.lcm(*values) if len(values) else 1


@attrs.frozen
class Layout:
    r"""How an instrument's items feed the scores; derived from the instrument, never stored.

    Parameters
    ----------
    instrument, version : str
        Name and version of the instrument.
    dimensions : tuple of str
        Dimension names in reporting order.
    perception, expectation : tuple of tuple of str
        Per dimension, the perception and the expectation item ids; the k-th expectation item
        of a dimension is paired with its k-th perception item (instrument order).
        ``expectation`` is empty when the instrument has no expectation battery.
    reverse : tuple of tuple of bool
        Per dimension, whether each (pair of) item(s) is reverse-keyed.
    scale : (int, int)
        The answer range shared by the perception and expectation items.
    importance : tuple of str
        One importance-points item per dimension, or empty when the instrument has none.
    missing_codes : tuple of (str, tuple of int)
        Items with answer codes that mean "not answered".
    min_items : tuple of int
        Per dimension, the fewest answered items (pairs) a dimension score needs: half of
        the dimension's items, rounded up.
    units : tuple of int
        Per dimension, :math:`c_d = \operatorname{lcm}(m_d, \dots, k_d)`: a respondent's
        dimension score times :math:`c_d` is a whole number.
    unit : int
        :math:`c = \operatorname{lcm}_d c_d`.

    Examples
    --------
    >>> layout = instrument_layout(stickykit.get_instrument("servqual-1988"))
    >>> [len(p) for p in layout.perception], layout.min_items, layout.units, layout.unit
    ([4, 5, 4, 4, 5], (2, 3, 2, 2, 3), (12, 60, 12, 12, 60), 60)
    """

    instrument: str
    version: str
    dimensions: tuple[str, ...]
    perception: tuple[tuple[str, ...], ...]
    expectation: tuple[tuple[str, ...], ...]
    reverse: tuple[tuple[bool, ...], ...]
    scale: tuple[int, int]
    importance: tuple[str, ...]
    missing_codes: tuple[tuple[str, tuple[int, ...]], ...]
    min_items: tuple[int, ...]
    units: tuple[int, ...]
    unit: int

    @property
    def sizes(self) -> tuple[int, ...]:
        """Items (pairs) per dimension."""
        return tuple(len(p) for p in self.perception)


def instrument_layout(instrument: Instrument) -> Layout:
    """Check that ``instrument`` can be scored as SERVQUAL/SERVPERF and describe its layout.

    The instrument needs a ``"perception"`` battery covering every dimension, all on one
    answer scale; an ``"expectation"`` battery, if present, must pair item for item with it
    (same count per dimension, same reverse keying, same scale); ``"importance"`` items, if
    present, must be one per dimension with a scale starting at 0 or above.

    Raises
    ------
    stickykit.errors.ValidationError
        Naming the instrument and what does not fit.

    Examples
    --------
    >>> from stickykit.instruments import Instrument, Item
    >>> inst = Instrument(name="tiny", version="1", title="", reference="-", items=[
    ...     Item(id="P1", text="", dimension="d", battery="perception", scale=(1, 7))])
    >>> instrument_layout(inst).perception
    (('P1',),)
    """
    record = f"Instrument {instrument.name!r}"

    def fail(field: str, value: Any, expected: str) -> ValidationError:
        return ValidationError(record=record, field=field, row=None, value=value, expected=expected)

    dims = instrument.dimensions
    perception: list[tuple[str, ...]] = []
    expectation: list[tuple[str, ...]] = []
    reverse: list[tuple[bool, ...]] = []
    scales: set[tuple[int, int]] = set()
    has_expectation = bool(instrument.select(battery="expectation"))
    for dim in dims:
        p_items = instrument.select(battery="perception", dimension=dim)
        if not p_items:
            raise fail("items", dim, f"perception items for dimension {dim!r}")
        perception.append(tuple(i.id for i in p_items))
        reverse.append(tuple(i.reverse for i in p_items))
        scales.update(i.scale for i in p_items)
        if has_expectation:
            e_items = instrument.select(battery="expectation", dimension=dim)
            if len(e_items) != len(p_items):
                raise fail(
                    "items",
                    [i.id for i in e_items],
                    f"{len(p_items)} expectation items for dimension {dim!r}, one per "
                    "perception item",
                )
            for e, p in zip(e_items, p_items, strict=True):
                if e.reverse != p.reverse:
                    raise fail(
                        f"{e.id}.reverse", e.reverse, f"the reverse keying of its pair {p.id}"
                    )
            expectation.append(tuple(i.id for i in e_items))
            scales.update(i.scale for i in e_items)
    if len(scales) != 1:
        raise fail("scale", sorted(scales), "one answer scale for perception and expectation")
    importance: list[str] = []
    imp_items = instrument.select(battery="importance")
    if imp_items:
        for dim in dims:
            found = instrument.select(battery="importance", dimension=dim)
            if len(found) != 1:
                raise fail(
                    "items", [i.id for i in found], f"one importance item for dimension {dim!r}"
                )
            if found[0].scale[0] < 0:
                raise fail(f"{found[0].id}.scale", found[0].scale, "points of 0 or more")
            importance.append(found[0].id)
    used = [i for i in instrument.items if i.battery in ("perception", "expectation", "importance")]
    codes = tuple((i.id, i.missing_codes) for i in used if i.missing_codes)
    min_items = tuple((len(p) + 1) // 2 for p in perception)
    units = tuple(_lcm(range(m, len(p) + 1)) for m, p in zip(min_items, perception, strict=True))
    return Layout(
        instrument=instrument.name,
        version=instrument.version,
        dimensions=dims,
        perception=tuple(perception),
        expectation=tuple(expectation),
        reverse=tuple(reverse),
        scale=scales.pop(),
        importance=tuple(importance),
        missing_codes=codes,
        min_items=min_items,
        units=units,
        unit=_lcm(units),
    )


def t_interval(
    n: float, total: float, total_sq: float, alpha: float, unit: float = 1.0
) -> tuple[float, float, float, float]:
    r"""Mean, standard error and Student-t interval from :math:`(n, \sum x, \sum x^2)`.

    ``total`` and ``total_sq`` may be kept in units of :math:`1/u` (``unit`` = :math:`u`) so
    that they are whole numbers; the results are on the original scale. Returns
    ``(mean, se, low, high)``; the standard error and interval are NaN for :math:`n < 2`.

    Notes
    -----
    .. math::

        \bar x = \frac{\sum x}{n}, \qquad
        s^2 = \frac{\sum x^2 - (\sum x)^2/n}{n - 1}, \qquad
        \bar x \pm t_{1-\alpha/2,\,n-1}\,\frac{s}{\sqrt n}

    Examples
    --------
    Scores 1, 2, 3: mean 2, :math:`s = 1`, SE :math:`1/\sqrt 3`, :math:`t_{0.975, 2} = 4.303`:

    >>> mean, se, low, high = t_interval(3, 6.0, 14.0, 0.05)
    >>> mean, round(se, 4), round(low, 3), round(high, 3)
    (2.0, 0.5774, -0.484, 4.484)
    """
    if n <= 0:
        return (math.nan, math.nan, math.nan, math.nan)
    mean = total / n / unit
    if n < 2:
        return (mean, math.nan, math.nan, math.nan)
    variance = max(total_sq - total * total / n, 0.0) / (n - 1) / (unit * unit)
    se = math.sqrt(variance / n)
    half = _t_value(alpha, n - 1) * se
    return (mean, se, mean - half, mean + half)


@functools.lru_cache(maxsize=4096)
def _t_value(alpha: float, df: float) -> float:
    r"""Two-sided Student-t critical value :math:`t_{1-\alpha/2,\,df}`."""
    from scipy.special import stdtrit  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    return float(stdtrit(df, 1 - check_alpha(alpha) / 2))


@attrs.frozen(eq=False)
class ServiceQualityState:
    r"""Mergeable state of SERVQUAL or SERVPERF: respondent-score sums per group.

    Arrays have ``len(labels) + 1`` rows (one per group label, the last for rows without a
    label, or every row when ungrouped) and, where shown, one column per dimension. Sums of
    scores are kept in units that make each respondent's score a whole number (dimension
    :math:`d`: :math:`1/c_d`; overall: see :class:`Servqual` and :class:`Servperf`), so they
    add exactly.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen.
    rows : numpy.ndarray
        int64 ``(G,)``: respondents (rows) read.
    empty : numpy.ndarray
        int64 ``(G,)``: respondents who answered none of the items the metric reads.
    dim_n : numpy.ndarray
        int64 ``(G, D)``: respondents with a score on each dimension.
    dim_sum, dim_sum_sq : numpy.ndarray
        float64 ``(G, D)``: sum and sum of squares of the dimension scores.
    dim_parts : numpy.ndarray
        float64 ``(G, D, 2)`` (SERVQUAL) or ``(G, D, 0)``: sums of the perception and the
        expectation means the dimension gaps are made of.
    n : numpy.ndarray
        int64 ``(G,)``: respondents with an overall score.
    total, total_sq : numpy.ndarray
        float64 ``(G,)``: sum and sum of squares of the overall scores.
    unweighted_total : numpy.ndarray
        float64 ``(G,)``: importance-weighted metrics only, the sum of the unweighted overall
        scores of the same respondents.
    weight_sums : numpy.ndarray
        float64 ``(G, D)``: importance-weighted metrics only, the sums of the points (out of
        100) given to each dimension by the respondents counted in ``n``.
    no_points : numpy.ndarray
        int64 ``(G,)``: respondents who gave no importance points.
    normalised : numpy.ndarray
        int64 ``(G,)``: respondents whose points were rescaled to total 100.
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    labels: NDArray[Any]
    rows: NDArray[np.int64]
    empty: NDArray[np.int64]
    dim_n: NDArray[np.int64]
    dim_sum: NDArray[np.float64]
    dim_sum_sq: NDArray[np.float64]
    dim_parts: NDArray[np.float64]
    n: NDArray[np.int64]
    total: NDArray[np.float64]
    total_sq: NDArray[np.float64]
    unweighted_total: NDArray[np.float64]
    weight_sums: NDArray[np.float64]
    no_points: NDArray[np.int64]
    normalised: NDArray[np.int64]
    latest_us: int = _NO_TIME


_GROUPED_FIELDS = tuple(
    f.name
    for f in attrs.fields(ServiceQualityState)
    if f.name not in ("fingerprint", "labels", "latest_us")
)


def _check_alpha(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


@attrs.frozen
class _ServiceQuality(MetricBase):
    """Parameters, state handling and results shared by SERVQUAL and SERVPERF."""

    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"
    higher_is_better: ClassVar[bool | None] = True
    _gaps: ClassVar[bool]

    instrument: str = attrs.field(default="servqual-1988", validator=attrs.validators.min_len(1))
    weighted: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    normalise_points: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )
    by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )
    alpha: float = attrs.field(default=0.05, validator=_check_alpha)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    def __attrs_post_init__(self) -> None:
        if self.normalise_points and not self.weighted:
            msg = "normalise_points=True needs weighted=True (it rescales importance points)"
            raise ValueError(msg)
        layout = self.layout
        if self._gaps and not layout.expectation:
            raise ValidationError(
                record=f"Instrument {layout.instrument!r}",
                field="items",
                row=None,
                value="no expectation battery",
                expected=f"expectation items, paired with the perception items, for {self.name}",
            )
        if self.weighted and not layout.importance:
            raise ValidationError(
                record=f"Instrument {layout.instrument!r}",
                field="items",
                row=None,
                value="no importance battery",
                expected="one importance-points item per dimension for weighted=True",
            )

    # -- instrument and parameters --------------------------------------------------------

    @property
    def layout(self) -> Layout:
        """The layout of the registered instrument (looked up, never stored)."""
        return _cached_layout(stickykit.get_instrument(self.instrument))

    def params(self) -> dict[str, Any]:
        """The parameters, plus ``instrument_version``: the version of the item file used.

        The fingerprint hashes these, so states from different item versions never merge.
        """
        out = super().params()
        out["instrument_version"] = self.layout.version
        return out

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads (perception, expectation, importance)."""
        layout = self.layout
        ids = [i for dim in layout.perception for i in dim]
        if self._gaps:
            ids += [i for dim in layout.expectation for i in dim]
        if self.weighted:
            ids += list(layout.importance)
        return tuple(ids)

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        instrument = stickykit.get_instrument(self.instrument)
        return {i: instrument.item(i).scale for i in self.requires}

    # -- the four functions ---------------------------------------------------------------

    def init(self) -> ServiceQualityState:
        """The empty state."""
        return self._empty(empty_labels())

    def update(self, state: ServiceQualityState, frame: SurveyFrame) -> ServiceQualityState:
        """Add the respondents of ``frame``.

        Raises :class:`~stickykit.errors.ValidationError` for an answer outside its item's
        scale or importance points that do not total 100 (naming the row), and for a frame
        lacking items the metric reads (naming them).
        """
        layout = self.layout
        self._check_frame(frame)
        problems = self._problems(frame, layout)
        if problems:
            raise_first("SurveyFrame", problems)
        labels, codes = self._groups(frame)
        chunk = self._accumulate(frame, layout, labels, codes)
        latest = state.latest_us
        if frame.answered_at is not None and len(frame):
            times = frame.answered_at.view(np.int64)
            present = times[times != _NO_TIME]
            if present.size:
                latest = max(latest, int(present.max()))
        return self.merge(state, attrs.evolve(chunk, latest_us=latest))

    def merge(self, a: ServiceQualityState, b: ServiceQualityState) -> ServiceQualityState:
        """Add two states, aligning their group labels."""
        check_fingerprints(self.name, a, b)
        labels, pos_a, pos_b = union_labels(a.labels, b.labels)
        slots = len(labels) + 1
        merged = {
            name: align(getattr(a, name), pos_a, slots) + align(getattr(b, name), pos_b, slots)
            for name in _GROUPED_FIELDS
        }
        return ServiceQualityState(
            fingerprint=a.fingerprint,
            labels=labels,
            latest_us=max(a.latest_us, b.latest_us),
            **merged,
        )

    def finalize(
        self, state: ServiceQualityState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The overall score with per-dimension details and, when grouped, one result per group."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        if int(state.n.sum()) == 0:
            per_dim = ", ".join(
                f"{d} {int(k):,}"
                for d, k in zip(self.layout.dimensions, state.dim_n.sum(axis=0), strict=True)
            )
            msg = (
                f"no respondent has a {self.name} score on every dimension "
                f"({int(state.rows.sum()):,} rows read; dimension scores: {per_dim or 'none'})"
            )
            raise InsufficientDataError(msg)
        version = package_version()
        layout = self.layout
        groups: list[MetricResult] = []
        if self.by is not None:
            for slot in range(len(state.labels) + 1):
                if slot == len(state.labels):
                    if state.rows[slot] == 0:
                        continue
                    label: Any = _MISSING_GROUP
                else:
                    label = state.labels[slot].item()
                part = {name: getattr(state, name)[slot] for name in _GROUPED_FIELDS}
                groups.append(self._result(layout, part, as_of, version, label, ()))
        whole = {name: getattr(state, name).sum(axis=0) for name in _GROUPED_FIELDS}
        return self._result(layout, whole, as_of, version, None, tuple(groups))

    # -- validation -------------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows ``update`` would refuse, as violations (for quarantine).

        Answers outside their item's scale (one violation per item), and, when weighted,
        respondents whose importance points are partly answered or do not total 100.
        """
        self._check_frame(frame)
        return self._problems(frame, self.layout)

    def _check_frame(self, frame: SurveyFrame) -> None:
        if not isinstance(frame, SurveyFrame):
            raise ValidationError(
                record=self.name,
                field="frame",
                row=None,
                value=type(frame).__name__,
                expected="a SurveyFrame",
            )
        missing = [item for item in self.requires if item not in frame.answers]
        if missing:
            raise ValidationError(
                record="SurveyFrame",
                field="answers",
                row=None,
                value=missing,
                expected=(
                    f"every item of instrument {self.instrument!r} that {self.name} reads "
                    f"({len(missing)} of {len(self.requires)} missing)"
                ),
            )

    @staticmethod
    def _answered(frame: SurveyFrame, item: str, layout: Layout) -> NDArray[np.bool_]:
        """Rows that answered ``item`` (not masked, not a missing code)."""
        mask = frame.answered(item)
        answered = np.ones(len(frame), bool) if mask is None else mask.copy()
        codes = dict(layout.missing_codes).get(item)
        if codes:
            answered &= ~np.isin(frame.answers[item], codes)
        return answered

    def _problems(self, frame: SurveyFrame, layout: Layout) -> list[Violation]:
        instrument = stickykit.get_instrument(self.instrument)
        found: list[Violation] = []
        for item in self.requires:
            lo, hi = instrument.item(item).scale
            values = frame.answers[item]
            bad = ((values < lo) | (values > hi)) & self._answered(frame, item, layout)
            v = violation(item, bad, values, f"an integer in [{lo}, {hi}]", frame.first_row)
            if v is not None:
                found.append(v)
        if self.weighted:
            points, answered = self._points(frame, layout)
            count = answered.sum(axis=1)
            total = points.sum(axis=1)
            names = " + ".join(layout.importance)
            k = len(layout.importance)
            partial = (count > 0) & (count < k)
            v = violation(
                "importance",
                partial,
                total,
                f"all {k} importance points ({names}) answered, or none",
                frame.first_row,
            )
            if v is not None:
                found.append(v)
            complete = count == k
            if self.normalise_points:
                bad = complete & (total <= 0)
                expected = f"importance points ({names}) with a positive total"
            else:
                bad = complete & (total != POINTS_TOTAL)
                expected = (
                    f"importance points ({names}) totalling {POINTS_TOTAL} (or pass "
                    "normalise_points=True to rescale them, flagged)"
                )
            v = violation("importance", bad, total, expected, frame.first_row)
            if v is not None:
                found.append(v)
        return found

    # -- kernels ----------------------------------------------------------------------------

    def _points(
        self, frame: SurveyFrame, layout: Layout
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Importance points ``(n, D)`` (0 where unanswered) and the answered mask."""
        n = len(frame)
        points = np.zeros((n, len(layout.importance)), np.int64)
        answered = np.zeros((n, len(layout.importance)), bool)
        for d, item in enumerate(layout.importance):
            answered[:, d] = self._answered(frame, item, layout)
            points[:, d] = np.where(answered[:, d], frame.answers[item], 0)
        return points, answered

    def _keyed(
        self, frame: SurveyFrame, layout: Layout, d: int, battery: Literal["P", "E"]
    ) -> tuple[NDArray[np.int16], NDArray[np.bool_]]:
        """Dimension ``d``'s answers as an ``(n, k)`` block, reverse-keyed, and answered mask."""
        ids = layout.perception[d] if battery == "P" else layout.expectation[d]
        reverse = layout.reverse[d]
        lo, hi = layout.scale
        n = len(frame)
        # column-major: each item is one contiguous column, and the per-row sums over the
        # dimension's few items (axis=1) run as whole-column additions
        values = np.zeros((n, len(ids)), np.int16, order="F")
        answered = np.zeros((n, len(ids)), bool, order="F")
        for j, (item, rev) in enumerate(zip(ids, reverse, strict=True)):
            raw = frame.answers[item]
            values[:, j] = reverse_key(raw, lo, hi) if rev else raw
            answered[:, j] = self._answered(frame, item, layout)
        return values, answered

    def _scores(self, frame: SurveyFrame, layout: Layout) -> dict[str, NDArray[Any]]:
        """Respondent-level scores, as whole-number numerators, and their masks."""
        n, n_dims = len(frame), len(layout.dimensions)
        dim_score = np.zeros((n, n_dims))
        dim_has = np.zeros((n, n_dims), bool)
        n_parts = 2 if self._gaps else 0
        parts = np.zeros((n, n_dims, n_parts))
        any_answer = np.zeros(n, bool)
        for d in range(n_dims):
            p, p_ok = self._keyed(frame, layout, d, "P")
            any_answer |= p_ok.any(axis=1)
            if self._gaps:
                e, e_ok = self._keyed(frame, layout, d, "E")
                any_answer |= e_ok.any(axis=1)
                used = p_ok & e_ok
                raw = np.where(used, p - e, 0).sum(axis=1)
            else:
                used = p_ok
                raw = np.where(used, p, 0).sum(axis=1)
            count = used.sum(axis=1)
            has = count >= layout.min_items[d]
            # score * c_d = raw sum * (c_d / answered count), a whole number
            factor = np.where(has, layout.units[d] // np.maximum(count, 1), 0)
            dim_score[:, d] = raw * factor
            dim_has[:, d] = has
            if self._gaps:
                parts[:, d, 0] = np.where(used, p, 0).sum(axis=1) * factor
                parts[:, d, 1] = np.where(used, e, 0).sum(axis=1) * factor
        # dimension scores on the common unit c (whole numbers)
        common = dim_score * np.array([layout.unit // u for u in layout.units], np.float64)
        if self._gaps:
            unweighted = common.sum(axis=1)  # units 1 / (D c)
        else:
            unweighted = common @ np.array(layout.sizes, np.float64)  # units 1 / (K c)
        has_all = np.asarray(dim_has.all(axis=1), dtype=bool)
        out: dict[str, NDArray[Any]] = {
            "dim_score": dim_score,
            "dim_has": dim_has,
            "parts": parts,
            "unweighted": unweighted,
            "has_all": has_all,
        }
        if self.weighted:
            points, answered = self._points(frame, layout)
            any_answer |= answered.any(axis=1)
            complete = np.asarray(answered.all(axis=1), dtype=bool)
            total = points.sum(axis=1)
            rescale = complete & (total != POINTS_TOTAL)
            weights = points.astype(np.float64)
            if self.normalise_points:
                safe = np.where(rescale, total, POINTS_TOTAL)
                weights = weights * (POINTS_TOTAL / safe)[:, None]
            out["weighted"] = (common * weights).sum(axis=1)  # units 1 / (100 c)
            out["has_weighted"] = has_all & complete
            out["points"] = weights
            out["no_points"] = ~np.asarray(answered.any(axis=1), dtype=bool)
            out["normalised"] = rescale
        out["any_answer"] = any_answer
        return out

    def _accumulate(
        self, frame: SurveyFrame, layout: Layout, labels: NDArray[Any], codes: NDArray[np.intp]
    ) -> ServiceQualityState:
        s = self._scores(frame, layout)
        slots = len(labels) + 1
        n_dims = len(layout.dimensions)

        def count(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
            return np.bincount(codes[mask], minlength=slots).astype(np.int64)

        def add(values: NDArray[Any], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
            # rows outside the mask add an exact 0.0: no masked copies of codes and values
            out: NDArray[np.float64] = np.bincount(
                codes, weights=np.where(mask, values, 0.0), minlength=slots
            ).astype(np.float64)
            return out

        dim_n = np.zeros((slots, n_dims), np.int64)
        dim_sum = np.zeros((slots, n_dims))
        dim_sum_sq = np.zeros((slots, n_dims))
        n_parts = s["parts"].shape[2]
        dim_parts = np.zeros((slots, n_dims, n_parts))
        for d in range(n_dims):
            has, score = s["dim_has"][:, d], s["dim_score"][:, d]
            dim_n[:, d] = count(has)
            dim_sum[:, d] = add(score, has)
            dim_sum_sq[:, d] = add(score * score, has)
            for k in range(n_parts):
                dim_parts[:, d, k] = add(s["parts"][:, d, k], has)
        zeros = np.zeros(slots)
        no_points = np.zeros(slots, np.int64)
        normalised = np.zeros(slots, np.int64)
        weight_sums = np.zeros((slots, n_dims))
        if self.weighted:
            used = s["has_weighted"]
            overall = s["weighted"]
            unweighted_total = add(s["unweighted"], used)
            for d in range(n_dims):
                weight_sums[:, d] = add(s["points"][:, d], used)
            no_points = count(s["no_points"])
            normalised = count(s["normalised"])
        else:
            used = s["has_all"]
            overall = s["unweighted"]
            unweighted_total = zeros
        return ServiceQualityState(
            fingerprint=self.fingerprint,
            labels=labels,
            rows=np.bincount(codes, minlength=slots).astype(np.int64),
            empty=count(~s["any_answer"]),
            dim_n=dim_n,
            dim_sum=dim_sum,
            dim_sum_sq=dim_sum_sq,
            dim_parts=dim_parts,
            n=count(used),
            total=add(overall, used),
            total_sq=add(overall * overall, used),
            unweighted_total=unweighted_total,
            weight_sums=weight_sums,
            no_points=no_points,
            normalised=normalised,
        )

    def _groups(self, frame: SurveyFrame) -> tuple[NDArray[Any], NDArray[np.intp]]:
        if self.by is None:
            return empty_labels(), np.zeros(len(frame), np.intp)
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

    def _empty(self, labels: NDArray[Any]) -> ServiceQualityState:
        slots, n_dims = len(labels) + 1, len(self.layout.dimensions)
        ints = np.zeros(slots, np.int64)
        return ServiceQualityState(
            fingerprint=self.fingerprint,
            labels=labels,
            rows=ints,
            empty=ints,
            dim_n=np.zeros((slots, n_dims), np.int64),
            dim_sum=np.zeros((slots, n_dims)),
            dim_sum_sq=np.zeros((slots, n_dims)),
            dim_parts=np.zeros((slots, n_dims, 2 if self._gaps else 0)),
            n=ints,
            total=np.zeros(slots),
            total_sq=np.zeros(slots),
            unweighted_total=np.zeros(slots),
            weight_sums=np.zeros((slots, n_dims)),
            no_points=ints,
            normalised=ints,
        )

    # -- results ----------------------------------------------------------------------------

    def _overall_unit(self, layout: Layout, weighted: bool) -> float:
        if weighted:
            return float(POINTS_TOTAL * layout.unit)
        if self._gaps:
            return float(len(layout.dimensions) * layout.unit)
        return float(sum(layout.sizes) * layout.unit)

    def _result(
        self,
        layout: Layout,
        part: dict[str, NDArray[Any]],
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
    ) -> MetricResult:
        n = int(part["n"])
        value, se, low, high = t_interval(
            n,
            float(part["total"]),
            float(part["total_sq"]),
            self.alpha,
            self._overall_unit(layout, self.weighted),
        )
        rows = int(part["rows"])
        details: dict[str, float] = {}
        for d, dim in enumerate(layout.dimensions):
            k = int(part["dim_n"][d])
            details[f"{dim}_n"] = float(k)
            details[f"{dim}_n_missing"] = float(rows - k)
            if k == 0:
                continue
            unit = float(layout.units[d])
            m, s, lo, hi = t_interval(
                k, float(part["dim_sum"][d]), float(part["dim_sum_sq"][d]), self.alpha, unit
            )
            details[dim] = m
            if k >= 2:
                details.update({f"{dim}_se": s, f"{dim}_ci_low": lo, f"{dim}_ci_high": hi})
            if self._gaps:
                details[f"{dim}_perception"] = float(part["dim_parts"][d, 0]) / k / unit
                details[f"{dim}_expectation"] = float(part["dim_parts"][d, 1]) / k / unit
        details["n_no_answers"] = float(part["empty"])
        flags: list[str] = []
        if self.weighted:
            details["n_no_points"] = float(part["no_points"])
            details["n_points_normalised"] = float(part["normalised"])
            if n:
                details["unweighted"] = float(part["unweighted_total"]) / (
                    n * self._overall_unit(layout, weighted=False)
                )
                for d, dim in enumerate(layout.dimensions):
                    details[f"{dim}_weight"] = float(part["weight_sums"][d]) / (n * POINTS_TOTAL)
        method = "Student t interval on respondent scores (n - 1 df)"
        if n == 0:
            flags.append("no respondent with a score on every dimension")
        elif n == 1:
            flags.append("no interval: n = 1")
        if 0 < n < self.min_n:
            flags.append(f"small sample: n = {n} < {self.min_n}")
        if n >= 2 and se == 0:
            flags.append("zero-width interval: every respondent has the same score")
        if int(part["empty"]):
            flags.append(f"{int(part['empty']):,} respondents answered no item")
        if self.weighted and int(part["no_points"]):
            flags.append(f"{int(part['no_points']):,} respondents gave no importance points")
        if int(part["normalised"]):
            flags.append(
                f"importance points rescaled to total {POINTS_TOTAL} for "
                f"{int(part['normalised']):,} respondents"
            )
        return MetricResult(
            metric=self.name,
            value=float(value),
            n=n,
            n_missing=rows - n,
            se=None if math.isnan(se) else float(se),
            ci_low=None if math.isnan(low) else float(low),
            ci_high=None if math.isnan(high) else float(high),
            level=1 - self.alpha,
            method=method,
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=version,
            unit="scale points",
            group=group,
            groups=groups,
            flags=tuple(flags),
            details=details,
        )


_LAYOUTS: dict[int, tuple[Instrument, Layout]] = {}


def _cached_layout(instrument: Instrument) -> Layout:
    """The layout of ``instrument``, computed once per instrument object."""
    cached = _LAYOUTS.get(id(instrument))
    if cached is None or cached[0] is not instrument:
        if len(_LAYOUTS) >= 64:  # registries rebuilt many times (tests): keep it bounded
            _LAYOUTS.clear()
        cached = _LAYOUTS[id(instrument)] = (instrument, instrument_layout(instrument))
    return cached[1]


@attrs.frozen
class Servqual(_ServiceQuality):
    r"""SERVQUAL service-quality gap: perception minus expectation, by dimension and overall.

    Each item is asked twice on a 1-7 disagree-agree scale: what excellent firms of the kind
    should do (expectation, E) and what this firm does (perception, P). A negative gap is a
    shortfall of the firm against the expectation.

    Parameters
    ----------
    instrument : str
        Name of the registered instrument to read items from (``"servqual-1988"``: the 1988
        items, responsiveness and empathy negatively worded). Its version is reported in
        ``params["instrument_version"]``.
    weighted : bool
        Weight the dimension scores by the importance points each respondent allocated over
        the five dimensions (items of the ``"importance"`` battery): weight = points / 100.
    normalise_points : bool
        With ``weighted=True``, rescale points that do not total 100 to total 100 (and flag
        it) instead of refusing them.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the score per group of this column as well as overall.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer respondents are flagged as small.

    Notes
    -----
    Reverse-keyed items are scored :math:`x' = lo + hi - x` (:math:`8 - x` on 1-7), in both
    batteries. For respondent :math:`r`, item :math:`j` and dimension :math:`d` with items
    :math:`J_d`,

    .. math::

        G_{rj} = P_{rj} - E_{rj}, \qquad
        Q_{rd} = \frac{1}{|A_{rd}|}\sum_{j \in A_{rd}} G_{rj}, \qquad
        SQ_r = \frac{1}{5}\sum_{d} Q_{rd}, \qquad
        SQ^w_r = \sum_d \frac{\mathrm{pts}_{rd}}{100}\, Q_{rd}

    where :math:`A_{rd} \subseteq J_d` are the items with both E and P answered. A dimension
    score needs :math:`|A_{rd}| \ge \lceil |J_d|/2 \rceil`, otherwise it is missing for that
    respondent (counted in ``details["<dimension>_n_missing"]``); the overall score needs
    all five dimensions (and, weighted, five answered points totalling 100), otherwise the
    respondent counts in ``n_missing``. ``value`` is the mean of :math:`SQ_r` (or
    :math:`SQ^w_r`) over respondents, with the Student-t interval
    :math:`\bar x \pm t_{1-\alpha/2, n-1}\, s/\sqrt n`; each dimension gets the same from its
    :math:`Q_{rd}`. Gaps lie in [-6, 6] on a 1-7 scale.

    ``details`` holds, per dimension ``<d>``: ``<d>`` (mean gap), ``<d>_se``, ``<d>_ci_low``,
    ``<d>_ci_high`` (for at least 2 respondents), ``<d>_n``, ``<d>_n_missing``,
    ``<d>_perception`` and ``<d>_expectation`` (mean keyed P and E over the same items, so
    ``<d> = <d>_perception - <d>_expectation``); ``n_no_answers`` (respondents who answered
    no item); weighted: ``unweighted`` (the unweighted score of the same respondents),
    ``<d>_weight`` (mean points / 100), ``n_no_points`` and ``n_points_normalised``.
    The frame's respondent weights are not used.

    The weight is points / 100, never the raw points: with the points spread evenly (20
    each) raw points give :math:`\sum_d 20\,Q_{rd} = 100\,SQ_r`, a hundred times the score.

    References
    ----------
    Parasuraman, A., Zeithaml, V. A. & Berry, L. L. (1988). SERVQUAL: A multiple-item scale for
    measuring consumer perceptions of service quality. *Journal of Retailing* 64(1), 12-40.
    Parasuraman, A., Berry, L. L. & Zeithaml, V. A. (1991). *Journal of Retailing* 67(4),
    420-450 (importance points over the five dimensions).

    Examples
    --------
    Two respondents answer every expectation item 6 and 5 and every perception item 5. The
    reverse-keyed responsiveness and empathy items score :math:`8 - x`, so their gap is
    :math:`(8 - 5) - (8 - 6) = +1` for the first respondent, while the other dimensions have
    :math:`5 - 6 = -1`: :math:`SQ_1 = (-1 - 1 + 1 - 1 + 1)/5 = -0.2` and :math:`SQ_2 = 0`.

    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> answers = {f"E{j}": np.array([6, 5], np.int8) for j in range(1, 23)}
    >>> answers.update({f"P{j}": np.array([5, 5], np.int8) for j in range(1, 23)})
    >>> m = Servqual()
    >>> r = m.finalize(m.update(m.init(), SurveyFrame(answers=answers)))
    >>> r.value, r.n, r.details["tangibles"], r.details["empathy"]
    (-0.1, 2, -0.5, 0.5)
    >>> r.params["instrument"], r.params["instrument_version"]
    ('servqual-1988', '1988.1')
    """

    name: ClassVar[str] = "servqual"
    reference: ClassVar[str] = (
        "Parasuraman, Zeithaml & Berry (1988), J. Retailing 64(1), 12-40; importance "
        "weights: Parasuraman, Berry & Zeithaml (1991), J. Retailing 67(4), 420-450"
    )
    _gaps: ClassVar[bool] = True


@attrs.frozen
class Servperf(_ServiceQuality):
    r"""SERVPERF: service quality as the mean perception score, by dimension and overall.

    Cronin & Taylor (1992) measure service quality by the perception battery of SERVQUAL
    alone (P items, 1-7 disagree-agree), without expectations.

    Parameters
    ----------
    instrument : str
        Name of the registered instrument (``"servqual-1988"``); only its perception items
        (and, weighted, its importance items) are read.
    weighted : bool
        Weight the dimension means by the importance points allocated over the dimensions
        (weight = points / 100), as for the weighted SERVQUAL.
    normalise_points : bool
        With ``weighted=True``, rescale points that do not total 100 (flagged).
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the score per group of this column as well as overall.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer respondents are flagged as small.

    Notes
    -----
    With reverse-keyed items scored :math:`x' = lo + hi - x`, :math:`A_{rd}` the answered
    perception items of dimension :math:`d` (at least half of them, rounded up, else the
    dimension is missing for respondent :math:`r`) and :math:`k_d` the dimension's item count,

    .. math::

        \bar P_{rd} = \frac{1}{|A_{rd}|}\sum_{j \in A_{rd}} P_{rj}, \qquad
        SP_r = \frac{\sum_d k_d \bar P_{rd}}{\sum_d k_d}, \qquad
        SP^w_r = \sum_d \frac{\mathrm{pts}_{rd}}{100}\, \bar P_{rd}

    With every item answered :math:`SP_r` is the mean of the 22 perception items; a missing
    item is replaced by the respondent's mean of its dimension. The importance weighting puts
    the 100 points on the dimensions; Cronin & Taylor's own weighted variant multiplies each
    item by an item importance, which this instrument does not ask. Values lie in [1, 7] on a
    1-7 scale. ``value`` is the mean of :math:`SP_r` with a Student-t interval; ``details`` is
    as for :class:`Servqual`, without the perception/expectation split.

    References
    ----------
    Cronin, J. J. & Taylor, S. A. (1992). Measuring service quality: A reexamination and
    extension. *Journal of Marketing* 56(3), 55-68.
    Parasuraman, A., Zeithaml, V. A. & Berry, L. L. (1988). *Journal of Retailing* 64(1),
    12-40 (the items).

    Examples
    --------
    Perception items answered 6, except the empathy items answered 2 (negatively worded:
    scored 8 - 2 = 6), so every keyed answer is 6:

    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> answers = {f"P{j}": np.array([6, 6, 6], np.int8) for j in range(1, 18)}
    >>> answers.update({f"P{j}": np.array([2, 2, 2], np.int8) for j in range(18, 23)})
    >>> answers.update({f"P{j}": np.array([2, 2, 2], np.int8) for j in range(10, 14)})
    >>> m = Servperf()
    >>> r = m.finalize(m.update(m.init(), SurveyFrame(answers=answers)))
    >>> r.value, r.se, r.details["empathy"]
    (6.0, 0.0, 6.0)
    """

    name: ClassVar[str] = "servperf"
    reference: ClassVar[str] = (
        "Cronin & Taylor (1992), J. Marketing 56(3), 55-68; items: Parasuraman, Zeithaml & "
        "Berry (1988), J. Retailing 64(1), 12-40"
    )
    _gaps: ClassVar[bool] = False


@hookimpl
def register_metrics(register: Any) -> None:
    """Register SERVQUAL and SERVPERF."""
    register(Servqual)
    register(Servperf)
