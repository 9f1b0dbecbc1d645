r"""Shared scoring kernel for multi-item survey indices: item means, facets, types, overall.

A multi-item index scores each respondent in stages. Items are reverse-keyed where the
instrument says so; a facet score is the mean of the facet's answered items, given only when
enough of them were answered; higher scores are fixed linear combinations of lower ones (the
mean of the facets of a type, the mean of the types, a difference of two totals), or a mean
weighted by the respondent's own importance answers. Every score is missing when any of its
parts is. The metrics keep, per group and score, the count, sum and centred sum of squares of
the respondent scores, from which ``finalize`` gives means with Student *t* intervals.

The pieces:

- :class:`Component` and :class:`ScoringPlan` describe the scores (built by each metric from
  its instrument and parameters; :func:`item_mean`, :func:`linear` and
  :func:`importance_weighted` make components);
- :func:`score_rows` scores a block of respondents;
- :func:`group_moments` and :func:`combine_moments` build and merge the state;
- :class:`ItemIndexMetric` is the metric shell (init/update/merge/finalize, ``check``,
  ``requires``, ``scales``) the index metrics share;
- :func:`component_scores` reads every score of a result back as a table.

Examples
--------
Two facets of two items each on a 1-5 scale, the second item reverse-keyed, and their mean:

>>> import numpy as np
>>> plan = ScoringPlan(
...     items=("a1", "a2", "b1", "b2"), scales=((1, 5),) * 4,
...     reverse=(False, True, False, False), scale=(1, 5),
...     components=(item_mean("facet", "a", (0, 1), (1, 5), 2, 0.5),
...                 item_mean("facet", "b", (2, 3), (1, 5), 2, 0.5)))
>>> plan = plan.extend(linear("overall", "index", (0, 1), (0.5, 0.5), plan.components))
>>> answers = [np.array([5, 4], np.int8), np.array([1, 4], np.int8),
...            np.array([3, 2], np.int8), np.array([3, 2], np.int8)]
>>> scores, _ = score_rows(plan, answers, [None, None, None, np.array([True, False])])
>>> scores.tolist()
[[5.0, 3.0, 4.0], [3.0, 2.0, 2.5]]
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument
from stickykit.io.validate import Violation
from stickykit.metrics._groups import align, empty_labels, group_codes, union_labels
from stickykit.metrics.base import (
    STATE_FORMAT,
    InputKind,
    MetricBase,
    MetricResult,
    check_fingerprints,
    package_version,
)
from stickykit.stats.intervals import check_alpha

__all__ = [
    "GROUP_COLUMNS",
    "Component",
    "ComponentScore",
    "ItemIndexMetric",
    "ItemIndexState",
    "ScoringPlan",
    "combine_moments",
    "component_scores",
    "group_moments",
    "importance_weighted",
    "item_mean",
    "linear",
    "score_rows",
    "student_t_interval",
    "weights_converter",
]

#: Respondents scored per block: the block's score matrix (rows x scores, float64) stays small.
BLOCK_ROWS = 1 << 16
GROUP_COLUMNS = ("wave", "segment", "instrument", "customer_id")
_NO_TIME = int(np.iinfo(np.int64).min)
_MISSING_GROUP = "(missing)"
_STATS = ("se", "ci_low", "ci_high", "n", "n_missing")


# -- the scoring plan -----------------------------------------------------------------------


@attrs.frozen
class Component:
    r"""One score given to each respondent.

    Parameters
    ----------
    level : str
        What kind of score it is (``"facet"``, ``"type"``, ``"overall"``, ``"value"``...).
    name : str
        Its name, unique within its level.
    items : tuple of int
        For an item mean: positions of its items in the plan's ``items``.
    required : int
        For an item mean: how many of its items must be answered.
    parts : tuple of int
        For a combination: positions of earlier components in the plan's ``components``.
    coefficients : tuple of float
        For a fixed linear combination: one coefficient per part.
    weight_items : tuple of int
        For an importance-weighted mean: one item per part whose answer is that part's weight.
    offset : float
        The sum of the coefficients down to the items: 1 for a mean on the answer scale, 0 for a
        difference of two means. The 0-100 form is :math:`100\,(s - \mathrm{lo}\cdot
        \mathrm{offset})/(\mathrm{hi} - \mathrm{lo})`.
    low, high : float
        The smallest and largest possible score (intervals are clipped to them).
    """

    level: str
    name: str
    items: tuple[int, ...] = ()
    required: int = 0
    parts: tuple[int, ...] = ()
    coefficients: tuple[float, ...] = ()
    weight_items: tuple[int, ...] = ()
    offset: float = 1.0
    low: float = 0.0
    high: float = 0.0

    @property
    def key(self) -> str:
        """``"level.name"``: the prefix of this score's entries in ``details``."""
        return f"{self.level}.{self.name}"


def item_mean(
    level: str,
    name: str,
    items: Sequence[int],
    scale: tuple[int, int],
    n_items: int,
    min_answered: float,
) -> Component:
    """A component scored as the mean of its answered (keyed) items.

    At least ``ceil(min_answered * n_items)`` items must be answered, else the score is missing.

    Examples
    --------
    >>> item_mean("facet", "learning", (0, 1, 2), (1, 5), 3, 0.5).required
    2
    """
    required = max(1, math.ceil(min_answered * n_items - 1e-9))
    return Component(
        level=level,
        name=name,
        items=tuple(items),
        required=required,
        offset=1.0,
        low=float(scale[0]),
        high=float(scale[1]),
    )


def linear(
    level: str,
    name: str,
    parts: Sequence[int],
    coefficients: Sequence[float],
    components: Sequence[Component],
) -> Component:
    """A component scored as a fixed linear combination of earlier components.

    Examples
    --------
    >>> a = item_mean("total", "value", (0,), (1, 7), 1, 0.5)
    >>> b = item_mean("total", "cost", (1,), (1, 7), 1, 0.5)
    >>> diff = linear("overall", "cdv", (0, 1), (1.0, -1.0), [a, b])
    >>> diff.offset, diff.low, diff.high
    (0.0, -6.0, 6.0)
    """
    coefs = tuple(float(c) for c in coefficients)
    chosen = [components[p] for p in parts]
    offset = sum(c * part.offset for c, part in zip(coefs, chosen, strict=True))
    low = sum(min(c * part.low, c * part.high) for c, part in zip(coefs, chosen, strict=True))
    high = sum(max(c * part.low, c * part.high) for c, part in zip(coefs, chosen, strict=True))
    return Component(
        level=level,
        name=name,
        parts=tuple(parts),
        coefficients=coefs,
        offset=offset,
        low=low,
        high=high,
    )


def importance_weighted(
    level: str,
    name: str,
    parts: Sequence[int],
    weight_items: Sequence[int],
    components: Sequence[Component],
) -> Component:
    r"""A mean of earlier components weighted by the respondent's importance answers.

    :math:`\sum_b I_{rb} B_{rb} / \sum_b I_{rb}`, missing when any part or importance answer is
    missing or the importance answers sum to zero.

    Examples
    --------
    >>> f = [item_mean("facet", n, (i,), (1, 7), 1, 0.5) for i, n in enumerate("ab")]
    >>> importance_weighted("overall", "index", (0, 1), (2, 3), f).offset
    1.0
    """
    chosen = [components[p] for p in parts]
    return Component(
        level=level,
        name=name,
        parts=tuple(parts),
        weight_items=tuple(weight_items),
        offset=1.0,
        low=min(part.low for part in chosen),
        high=max(part.high for part in chosen),
    )


def _tuple(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(values)


def _pair(value: Sequence[int]) -> tuple[int, int]:
    lo, hi = value
    return (lo, hi)


@attrs.frozen
class ScoringPlan:
    """The items a multi-item index reads and the scores it gives each respondent.

    Parameters
    ----------
    items : tuple of str
        Item ids (answer columns), in reading order.
    scales : tuple of (int, int)
        Each item's allowed answer range.
    reverse : tuple of bool
        Reverse-keyed items, scored as ``lo + hi - x`` on ``scale``.
    scale : (int, int)
        The common answer scale of the scored items (the 0-100 form and reverse keying use it).
    components : tuple of Component
        The scores, each combining only earlier ones; the last is the headline score.
    """

    items: tuple[str, ...] = attrs.field(converter=_tuple)
    scales: tuple[tuple[int, int], ...] = attrs.field(converter=_tuple)
    reverse: tuple[bool, ...] = attrs.field(converter=_tuple)
    scale: tuple[int, int] = attrs.field(converter=_pair)
    components: tuple[Component, ...] = attrs.field(converter=_tuple)

    def extend(self, *components: Component) -> ScoringPlan:
        """The plan with more components appended."""
        return attrs.evolve(self, components=(*self.components, *components))

    @property
    def headline(self) -> Component:
        """The headline score (the last component), reported as the metric's value."""
        return self.components[-1]


def score_rows(
    plan: ScoringPlan,
    answers: Sequence[NDArray[np.int8]],
    answered: Sequence[NDArray[np.bool_] | None],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Score a block of respondents on every component of ``plan``.

    Parameters
    ----------
    plan : ScoringPlan
        What to score.
    answers : sequence of numpy.ndarray
        The int8 answers of each plan item (equal lengths), already checked to lie in scale.
    answered : sequence of numpy.ndarray or None
        Per item, ``True`` where the respondent answered (``None``: every row answered).

    Returns
    -------
    scores : numpy.ndarray
        float64, shape ``(rows, components)``; NaN where a score is missing.
    any_answered : numpy.ndarray
        bool, ``True`` for respondents who answered at least one plan item.

    Examples
    --------
    One facet of three items, the third reverse-keyed, that needs two answers: the first
    respondent scores (4 + 5 + (6 - 1))/3, the second answered one item only.

    >>> import numpy as np
    >>> plan = ScoringPlan(items=("a", "b", "c"), scales=((1, 5),) * 3,
    ...                    reverse=(False, False, True), scale=(1, 5),
    ...                    components=(item_mean("facet", "f", (0, 1, 2), (1, 5), 3, 0.5),))
    >>> answers = [np.array([4, 2], np.int8), np.array([5, 0], np.int8),
    ...            np.array([1, 0], np.int8)]
    >>> scores, any_answered = score_rows(plan, answers, [None, np.array([True, False]),
    ...                                                  np.array([True, False])])
    >>> scores.round(3).ravel().tolist(), any_answered.tolist()
    ([4.667, nan], [True, True])
    """
    n_rows = len(answers[0]) if answers else 0
    lo, hi = plan.scale
    scores = np.full((n_rows, len(plan.components)), np.nan)
    any_answered = np.zeros(n_rows, dtype=bool)
    for mask in answered:
        if mask is None:
            any_answered[:] = True
            break
        any_answered |= mask
    for position, component in enumerate(plan.components):
        if component.items:
            total = np.zeros(n_rows)
            count = np.zeros(n_rows, dtype=np.int64)
            for i in component.items:
                keyed = answers[i].astype(np.float64)
                if plan.reverse[i]:
                    keyed = (lo + hi) - keyed
                mask = answered[i]
                if mask is None:
                    total += keyed
                    count += 1
                else:
                    total += np.where(mask, keyed, 0.0)
                    count += mask
            enough = count >= component.required
            scores[:, position] = np.divide(total, count, out=np.full(n_rows, np.nan), where=enough)
        elif component.weight_items:
            numerator = np.zeros(n_rows)
            denominator = np.zeros(n_rows)
            for part, item in zip(component.parts, component.weight_items, strict=True):
                weight = answers[item].astype(np.float64)
                mask = answered[item]
                if mask is not None:
                    weight = np.where(mask, weight, np.nan)
                numerator += weight * scores[:, part]
                denominator += weight
            positive = denominator > 0  # NaN compares False: a missing weight, a missing score
            scores[:, position] = np.divide(
                numerator, denominator, out=np.full(n_rows, np.nan), where=positive
            )
        else:
            combined = np.zeros(n_rows)
            for part, coefficient in zip(component.parts, component.coefficients, strict=True):
                combined += coefficient * scores[:, part]
            scores[:, position] = combined
    return scores, any_answered


# -- mergeable moments ----------------------------------------------------------------------


def group_moments(
    scores: NDArray[np.float64], codes: NDArray[np.intp], slots: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Per group and score: count, sum and centred sum of squares of the present scores.

    Returns arrays of shape ``(slots, components)``; NaN scores are left out.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0], [3.0], [np.nan], [4.0]])
    >>> n, total, m2 = group_moments(s, np.array([0, 0, 0, 1]), 2)
    >>> n.ravel().tolist(), total.ravel().tolist(), m2.ravel().tolist()
    ([2, 1], [4.0, 4.0], [2.0, 0.0])
    """
    n_components = scores.shape[1]
    counts = np.zeros((slots, n_components), dtype=np.int64)
    sums = np.zeros((slots, n_components))
    m2 = np.zeros((slots, n_components))
    for c in range(n_components):
        column = scores[:, c]
        present = ~np.isnan(column)
        g = codes[present]
        x = column[present]
        counts[:, c] = np.bincount(g, minlength=slots)
        sums[:, c] = np.bincount(g, weights=x, minlength=slots)
        means = np.divide(sums[:, c], counts[:, c], out=np.zeros(slots), where=counts[:, c] > 0)
        deviation = x - means[g]
        m2[:, c] = np.bincount(g, weights=deviation * deviation, minlength=slots)
    return counts, sums, m2


def combine_moments(
    n_a: NDArray[np.int64],
    sum_a: NDArray[np.float64],
    m2_a: NDArray[np.float64],
    n_b: NDArray[np.int64],
    sum_b: NDArray[np.float64],
    m2_b: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Merge (count, sum, centred sum of squares) elementwise by the pairwise formula.

    .. math::

        n = n_a + n_b, \quad S = S_a + S_b, \quad
        M_2 = M_{2,a} + M_{2,b} + \left(\frac{S_a}{n_a} - \frac{S_b}{n_b}\right)^2
        \frac{n_a n_b}{n}

    Commutative exactly (the product :math:`n_a n_b` is taken in integers), associative up to
    rounding, with all-zero moments as the identity.

    References
    ----------
    Chan, T. F., Golub, G. H. & LeVeque, R. J. (1979). Updating formulae and a pairwise
    algorithm for computing sample variances. Stanford technical report STAN-CS-79-773.

    Examples
    --------
    >>> import numpy as np
    >>> n, s, m2 = combine_moments(np.array([2]), np.array([4.0]), np.array([2.0]),
    ...                            np.array([1]), np.array([4.0]), np.array([0.0]))
    >>> int(n[0]), float(s[0]), round(float(m2[0]), 12)
    (3, 8.0, 4.666666666667)
    """
    n = n_a + n_b
    both = (n_a > 0) & (n_b > 0)
    mean_a = np.divide(sum_a, n_a, out=np.zeros(sum_a.shape), where=both)
    mean_b = np.divide(sum_b, n_b, out=np.zeros(sum_b.shape), where=both)
    delta = mean_a - mean_b
    extra = np.divide(delta * delta * (n_a * n_b), n, out=np.zeros(sum_a.shape), where=both)
    return n, sum_a + sum_b, (m2_a + m2_b) + extra


def student_t_interval(
    n: NDArray[np.int64],
    total: NDArray[np.float64],
    m2: NDArray[np.float64],
    alpha: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Mean, standard error and Student *t* interval from count, sum and centred sum of squares.

    .. math::

        \bar x = S/n, \quad s^2 = M_2/(n - 1), \quad \bar x \pm t_{n-1,\,1-\alpha/2}\, s/\sqrt n

    NaN where :math:`n = 0` (mean) or :math:`n < 2` (standard error and interval). scipy is
    imported here, when a result is finalised.

    References
    ----------
    Student (1908). The probable error of a mean. *Biometrika* 6(1), 1-25.

    Examples
    --------
    >>> import numpy as np
    >>> mean, se, low, high = student_t_interval(np.array([4]), np.array([12.0]),
    ...                                          np.array([2.0]), 0.05)
    >>> float(mean[0]), round(float(se[0]), 4), round(float(low[0]), 3), round(float(high[0]), 3)
    (3.0, 0.4082, 1.701, 4.299)
    """
    n_f = n.astype(np.float64)
    mean = np.divide(total, n_f, out=np.full(total.shape, np.nan), where=n > 0)
    several = n > 1
    variance = np.divide(m2, n_f - 1, out=np.full(total.shape, np.nan), where=several)
    se = np.sqrt(np.divide(variance, n_f, out=np.full(total.shape, np.nan), where=several))
    t = np.full(total.shape, np.nan)
    for df in np.unique(n[several]) - 1:
        t[n == df + 1] = _t_quantile(alpha, int(df))
    return mean, se, mean - t * se, mean + t * se


@functools.lru_cache(maxsize=1024)
def _t_quantile(alpha: float, df: int) -> float:
    r""":math:`t_{df,\,1-\alpha/2}`, cached: a finalize needs few distinct degrees of freedom."""
    from scipy import stats  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    return float(stats.t.ppf(1 - alpha / 2, df))


# -- the state ------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class ItemIndexState:
    """Mergeable state of a multi-item index: moments of the respondent scores per group.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen.
    n : numpy.ndarray
        int64, shape ``(len(labels) + 1, components)``: respondents with each score; the last
        row holds respondents without a group label (every respondent when ungrouped).
    sums : numpy.ndarray
        float64, same shape: sums of the scores.
    m2 : numpy.ndarray
        float64, same shape: centred sums of squares of the scores.
    n_rows : numpy.ndarray
        int64, shape ``(len(labels) + 1,)``: respondents (rows) seen.
    n_empty : numpy.ndarray
        int64, same shape: respondents who answered none of the items read.
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    labels: NDArray[Any]
    n: NDArray[np.int64]
    sums: NDArray[np.float64]
    m2: NDArray[np.float64]
    n_rows: NDArray[np.int64]
    n_empty: NDArray[np.int64]
    latest_us: int = _NO_TIME


# -- reading results back -------------------------------------------------------------------


@attrs.frozen
class ComponentScore:
    """One score of a multi-item index result, as read by :func:`component_scores`."""

    level: str
    name: str
    value: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_missing: int


def _none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def component_scores(result: MetricResult) -> list[ComponentScore]:
    """Every score of a multi-item index result: the ``details`` entries, then the headline.

    ``details`` holds, for each score but the headline, ``"level.name"`` (the mean) and
    ``"level.name.se"``, ``".ci_low"``, ``".ci_high"``, ``".n"`` and ``".n_missing"``
    (NaN where undefined); the headline is the result itself (level ``"overall"``, named after
    the metric).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> from stickykit.metrics.survey.relationship_benefits import RelationshipBenefitIndex
    >>> m = RelationshipBenefitIndex()
    >>> frame = SurveyFrame(answers={item: np.array([7, 5, 3], np.int8) for item in m.requires})
    >>> [(s.level, s.name, s.value, s.n) for s in component_scores(m.finalize(m.update(m.init(), frame)))]
    [('facet', 'confidence', 5.0, 3), ('facet', 'social', 5.0, 3), ('facet', 'special_treatment', 5.0, 3), ('overall', 'relationship_benefit_index', 5.0, 3)]
    """
    out: list[ComponentScore] = []
    for key, value in result.details.items():
        parts = key.split(".")
        if len(parts) != 2:
            continue
        level, name = parts
        out.append(
            ComponentScore(
                level=level,
                name=name,
                value=float(value),
                se=_none(result.details[f"{key}.se"]),
                ci_low=_none(result.details[f"{key}.ci_low"]),
                ci_high=_none(result.details[f"{key}.ci_high"]),
                n=int(result.details[f"{key}.n"]),
                n_missing=int(result.details[f"{key}.n_missing"]),
            )
        )
    out.append(
        ComponentScore(
            level="overall",
            name=result.metric,
            value=result.value,
            se=result.se,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            n=result.n,
            n_missing=result.n_missing,
        )
    )
    return out


# -- the metric shell -----------------------------------------------------------------------


def _check_alpha(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


def _check_scale(instance: Any, attribute: Any, value: tuple[int, int] | None) -> None:
    del instance, attribute
    if value is None:
        return
    lo, hi = value
    if not (type(lo) is int and type(hi) is int and -128 <= lo < hi <= 127):
        msg = f"scale must be two integers lo < hi within [-128, 127], got {value!r}"
        raise ValueError(msg)


def _check_share(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    if type(value) not in (int, float) or not 0 < value <= 1:
        msg = f"min_answered must be a share in (0, 1], got {value!r}"
        raise ValueError(msg)


def _optional_scale(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    lo, hi = value
    return (lo, hi)


def _optional_items(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def weights_converter(value: Any) -> tuple[tuple[str, float], ...] | None:
    """Normalise a ``{name: weight}`` mapping to sorted ``(name, weight)`` pairs.

    Examples
    --------
    >>> weights_converter({"social": 2, "confidence": 1})
    (('confidence', 1.0), ('social', 2.0))
    """
    if value is None:
        return None
    pairs = value.items() if isinstance(value, Mapping) else value
    out = []
    for name, weight in pairs:
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            msg = f"weight of {name!r} must be a positive number, got {weight!r}"
            raise TypeError(msg)
        if not (math.isfinite(weight) and weight > 0):
            msg = f"weight of {name!r} must be a positive number, got {weight!r}"
            raise ValueError(msg)
        out.append((str(name), float(weight)))
    names = [name for name, _ in out]
    if len(set(names)) != len(names):
        msg = f"weights name each score once, got {names}"
        raise ValueError(msg)
    return tuple(sorted(out))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@attrs.frozen(kw_only=True)
class ItemIndexMetric(MetricBase):
    r"""Shared shell of the multi-item survey indices (not registered itself).

    Subclasses declare ``name``, ``reference``, ``default_instrument`` and ``headline`` (how
    flags name the headline score) and build their :class:`ScoringPlan` in
    :meth:`build_plan`; the shell does the rest: it checks answers against each item's scale,
    scores respondents in blocks with :func:`score_rows`, keeps per-group moments in an
    :class:`ItemIndexState`, and finalises Student *t* intervals for every score.

    Parameters
    ----------
    instrument : str or Instrument
        The registered name of the instrument whose items are scored (default: the subclass's
        built-in one), or an :class:`~stickykit.instruments.Instrument` object (a company's own
        version, say a translation); results report its name.
    items : tuple of str or None
        Score only these items of the instrument (a short form); ``None`` = all.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the index per group of this column as well as overall.
    scale : (int, int) or None
        Answer range of the scored items, overriding the instrument's (e.g. a 7-point version).
    min_answered : float
        Share of a facet's items that must be answered for a facet score (0.5: at least half).
    form : {"scale", "0-100"}
        Report means on the answer scale, or as :math:`100\,(s - lo)/(hi - lo)`.
    alpha : float
        1 - confidence level of the Student *t* intervals.
    min_n : int
        Groups with fewer scored respondents are flagged as small.

    Examples
    --------
    >>> from stickykit.metrics.survey.switching_costs import SwitchingCostIndex
    >>> m = SwitchingCostIndex(items=["sc_risk_1", "sc_eval_1", "sc_learn_1", "sc_setup_1",
    ...                               "sc_benefit_1", "sc_money_1", "sc_personal_1", "sc_brand_1"])
    >>> m.scales["sc_risk_1"], len(m.requires), m.plan.headline.parts
    ((1, 5), 8, (8, 9, 10))
    """

    input_kind: ClassVar[InputKind] = "survey"
    family: ClassVar[str] = "survey"
    default_instrument: ClassVar[str] = ""
    headline: ClassVar[str] = "index"

    instrument: str | Instrument = attrs.field(
        default=attrs.Factory(lambda self: type(self).default_instrument, takes_self=True),
        validator=attrs.validators.instance_of((str, Instrument)),
    )
    items: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_items)
    by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(GROUP_COLUMNS))
    )
    scale: tuple[int, int] | None = attrs.field(
        default=None, converter=_optional_scale, validator=_check_scale
    )
    min_answered: float = attrs.field(default=0.5, validator=_check_share)
    form: Literal["scale", "0-100"] = attrs.field(
        default="scale", validator=attrs.validators.in_(("scale", "0-100"))
    )
    alpha: float = attrs.field(default=0.05, validator=_check_alpha)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )
    _plan: ScoringPlan = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        from stickykit.plugins.registry import get_instrument  # noqa: PLC0415

        instrument = self.instrument
        if isinstance(instrument, str):
            instrument = get_instrument(instrument)
        object.__setattr__(self, "_plan", self.build_plan(instrument))

    @property
    def instrument_name(self) -> str:
        """The name of the scored instrument."""
        if isinstance(self.instrument, Instrument):
            return self.instrument.name
        return self.instrument

    # -- to be provided by each index -------------------------------------------------------

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        """The scoring plan for ``instrument`` and this metric's parameters."""
        raise NotImplementedError

    # -- helpers for build_plan -------------------------------------------------------------

    def _error(self, field: str, value: Any, expected: str) -> ValidationError:
        return ValidationError(
            record=self.name, field=field, row=None, value=value, expected=expected
        )

    def chosen_items(self, instrument: Instrument, battery: str = "main") -> list[Any]:
        """The instrument's items of ``battery`` kept by ``items`` (all when ``items`` is None)."""
        pool = instrument.select(battery=battery)
        if self.items is None:
            return list(pool)
        known = set(instrument.item_ids)
        for item in self.items:
            if item not in known:
                raise self._error("items", item, f"an item of instrument {instrument.name!r}")
        wanted = set(self.items)
        return [item for item in pool if item.id in wanted]

    def common_scale(self, items: Sequence[Any], instrument: Instrument) -> tuple[int, int]:
        """``scale`` if given, else the one answer scale every scored item shares."""
        if self.scale is not None:
            return self.scale
        scales = sorted({item.scale for item in items})
        if len(scales) != 1:
            raise self._error(
                "scale",
                scales,
                f"one answer scale for the scored items of {instrument.name!r} "
                "(pass scale= to score them on one)",
            )
        lo, hi = scales[0]
        return (lo, hi)

    def check_weight_names(self, allowed: Sequence[str]) -> dict[str, float]:
        """``weights`` as a dict, every name checked against ``allowed``."""
        weights = dict(getattr(self, "weights", None) or ())
        for name in weights:
            if name not in allowed:
                raise self._error("weights", name, f"one of {list(allowed)}")
        return weights

    # -- parameters and identity ------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """The metric's parameters as plain values (the scoring plan is derived, not a param).

        Examples
        --------
        >>> from stickykit.metrics.survey.switching_costs import SwitchingCostIndex
        >>> SwitchingCostIndex(form="0-100").params()["form"]
        '0-100'
        """
        out = {
            field.name: _plain(getattr(self, field.name))
            for field in attrs.fields(type(self))
            if field.init
        }
        out["instrument"] = self.instrument_name
        return out

    @property
    def fingerprint(self) -> str:
        """A stable hash of name, parameters, scoring plan and state format."""
        payload = json.dumps(
            {
                "metric": self.name,
                "params": self.params(),
                "plan": repr(self._plan),
                "format": STATE_FORMAT,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def plan(self) -> ScoringPlan:
        """The scoring plan built from the instrument and the parameters."""
        return self._plan

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return self._plan.items

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to check answers and generate test data)."""
        return dict(zip(self._plan.items, self._plan.scales, strict=True))

    # -- the four functions -----------------------------------------------------------------

    def init(self) -> ItemIndexState:
        """The empty state."""
        size = len(self._plan.components)
        return ItemIndexState(
            fingerprint=self.fingerprint,
            labels=empty_labels(),
            n=np.zeros((1, size), np.int64),
            sums=np.zeros((1, size)),
            m2=np.zeros((1, size)),
            n_rows=np.zeros(1, np.int64),
            n_empty=np.zeros(1, np.int64),
        )

    def update(self, state: ItemIndexState, frame: SurveyFrame) -> ItemIndexState:
        """Score the respondents of ``frame``; an answer outside its scale raises ValidationError."""
        answers, answered = self._columns(frame)
        problems = self._scale_problems(answers, answered, frame.first_row)
        if problems:
            first = min(problems, key=lambda v: int(v.rows[0]))
            raise ValidationError(
                record="SurveyFrame",
                field=first.field,
                row=int(first.rows[0]),
                value=first.value(0),
                expected=first.expected,
                n_failing=len(np.unique(np.concatenate([v.rows for v in problems]))),
            )
        labels, codes = self._groups(frame)
        chunk = self._chunk(answers, answered, labels, codes, len(frame))
        latest = state.latest_us
        if frame.answered_at is not None and len(frame):
            times = frame.answered_at.view(np.int64)
            present = times[times != _NO_TIME]
            if present.size:
                latest = max(latest, int(present.max()))
        return self.merge(state, attrs.evolve(chunk, latest_us=latest))

    def merge(self, a: ItemIndexState, b: ItemIndexState) -> ItemIndexState:
        """Add two states, aligning their group labels (moments by the pairwise formula)."""
        check_fingerprints(self.name, a, b)
        labels, pos_a, pos_b = union_labels(a.labels, b.labels)
        slots = len(labels) + 1

        def put(x: NDArray[Any], positions: NDArray[np.intp]) -> NDArray[Any]:
            if len(x) == slots and np.array_equal(positions, np.arange(slots)):
                return x
            placed: NDArray[Any] = align(x, positions, slots)
            return placed

        n, sums, m2 = combine_moments(
            put(a.n, pos_a),
            put(a.sums, pos_a),
            put(a.m2, pos_a),
            put(b.n, pos_b),
            put(b.sums, pos_b),
            put(b.m2, pos_b),
        )
        return ItemIndexState(
            fingerprint=a.fingerprint,
            labels=labels,
            n=n,
            sums=sums,
            m2=m2,
            n_rows=put(a.n_rows, pos_a) + put(b.n_rows, pos_b),
            n_empty=put(a.n_empty, pos_a) + put(b.n_empty, pos_b),
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: ItemIndexState, as_of: dt.datetime | None = None) -> MetricResult:
        """The headline index with every facet/type score in ``details``; groups when ``by``."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        if int(state.n.sum()) == 0:
            msg = (
                f"no respondent answered enough items of {self.instrument_name!r} to compute "
                f"{self.name} ({int(state.n_rows.sum()):,} rows, "
                f"{int(state.n_empty.sum()):,} of them without any answer)"
            )
            raise InsufficientDataError(msg)
        version = package_version()
        groups: list[MetricResult] = []
        if self.by is not None:
            for slot in range(len(state.labels) + 1):
                if slot == len(state.labels):
                    if state.n_rows[slot] == 0:
                        continue
                    label: Any = _MISSING_GROUP
                else:
                    label = state.labels[slot].item()
                groups.append(
                    self._result(
                        state.n[slot],
                        state.sums[slot],
                        state.m2[slot],
                        int(state.n_rows[slot]),
                        int(state.n_empty[slot]),
                        as_of,
                        version,
                        label,
                        (),
                    )
                )
        n, sums, m2 = _pool(state.n, state.sums, state.m2)
        return self._result(
            n,
            sums,
            m2,
            int(state.n_rows.sum()),
            int(state.n_empty.sum()),
            as_of,
            version,
            None,
            tuple(groups),
        )

    # -- validation -------------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows with an answer outside its item's scale (for quarantine)."""
        answers, answered = self._columns(frame)
        return self._scale_problems(answers, answered, frame.first_row)

    # -- kernels ----------------------------------------------------------------------------

    def _columns(
        self, frame: SurveyFrame
    ) -> tuple[list[NDArray[np.int8]], list[NDArray[np.bool_] | None]]:
        if not isinstance(frame, SurveyFrame):
            raise ValidationError(
                record=self.name,
                field="frame",
                row=None,
                value=type(frame).__name__,
                expected="a SurveyFrame",
            )
        absent = [item for item in self._plan.items if item not in frame.answers]
        if absent:
            raise ValidationError(
                record="SurveyFrame",
                field="answers",
                row=None,
                value=list(frame.items),
                expected=(
                    f"the items of {self.instrument_name!r} that {self.name} reads; missing "
                    f"{absent[:5]}{' ...' if len(absent) > 5 else ''}"
                ),
            )
        answers = [frame.answers[item] for item in self._plan.items]
        answered = [frame.answered(item) for item in self._plan.items]
        return answers, answered

    def _scale_problems(
        self,
        answers: Sequence[NDArray[np.int8]],
        answered: Sequence[NDArray[np.bool_] | None],
        first_row: int,
    ) -> list[Violation]:
        found: list[Violation] = []
        for item, (lo, hi), values, mask in zip(
            self._plan.items, self._plan.scales, answers, answered, strict=True
        ):
            if values.size == 0:
                continue
            used = values if mask is None else values[mask]
            if used.size == 0 or (int(used.min()) >= lo and int(used.max()) <= hi):
                continue
            bad = (values < lo) | (values > hi)
            if mask is not None:
                bad &= mask
            rows = np.flatnonzero(bad)
            found.append(
                Violation(
                    field=item,
                    rows=(rows + first_row).astype(np.int64),
                    values=values[rows],
                    expected=f"an integer in [{lo}, {hi}]",
                )
            )
        return found

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

    def _chunk(
        self,
        answers: Sequence[NDArray[np.int8]],
        answered: Sequence[NDArray[np.bool_] | None],
        labels: NDArray[Any],
        codes: NDArray[np.intp] | None,
        n_rows: int,
    ) -> ItemIndexState:
        slots = len(labels) + 1
        size = len(self._plan.components)
        if codes is None:
            codes = np.zeros(n_rows, dtype=np.intp)
        n = np.zeros((slots, size), np.int64)
        sums = np.zeros((slots, size))
        m2 = np.zeros((slots, size))
        empty = np.zeros(slots, np.int64)
        for start in range(0, n_rows, BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            scores, any_answered = score_rows(
                self._plan,
                [values[start:stop] for values in answers],
                [None if mask is None else mask[start:stop] for mask in answered],
            )
            block_codes = codes[start:stop]
            n, sums, m2 = combine_moments(n, sums, m2, *group_moments(scores, block_codes, slots))
            empty += np.bincount(block_codes[~any_answered], minlength=slots)
        return ItemIndexState(
            fingerprint=self.fingerprint,
            labels=labels,
            n=n,
            sums=sums,
            m2=m2,
            n_rows=np.bincount(codes, minlength=slots).astype(np.int64),
            n_empty=empty,
        )

    def _result(
        self,
        n: NDArray[np.int64],
        sums: NDArray[np.float64],
        m2: NDArray[np.float64],
        n_rows: int,
        n_empty: int,
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
    ) -> MetricResult:
        plan = self._plan
        mean, se, low, high = student_t_interval(n, sums, m2, self.alpha)
        lows = np.array([c.low for c in plan.components])
        highs = np.array([c.high for c in plan.components])
        with np.errstate(invalid="ignore"):
            low = np.where(np.isnan(low), low, np.maximum(low, lows))
            high = np.where(np.isnan(high), high, np.minimum(high, highs))
        if self.form == "0-100":
            lo, hi = plan.scale
            factor = 100.0 / (hi - lo)
            offsets = np.array([c.offset for c in plan.components]) * lo
            mean, low, high = (factor * (x - offsets) for x in (mean, low, high))
            se = factor * se
        details: dict[str, float] = {}
        for c, component in enumerate(plan.components[:-1]):
            key = component.key
            details[key] = float(mean[c])
            details[f"{key}.se"] = float(se[c])
            details[f"{key}.ci_low"] = float(low[c])
            details[f"{key}.ci_high"] = float(high[c])
            details[f"{key}.n"] = float(n[c])
            details[f"{key}.n_missing"] = float(n_rows - n[c])
        details["n_empty"] = float(n_empty)
        count = int(n[-1])
        flags: list[str] = []
        if count == 0:
            flags.append(
                f"no valid {self.headline} score: no respondent has every score it combines"
            )
        elif count == 1:
            flags.append("no interval: fewer than 2 respondents")
        if 0 < count < self.min_n:
            flags.append(f"small sample: n = {count} < {self.min_n}")
        if n_empty:
            flags.append(f"{n_empty:,} respondents answered no item")
        return MetricResult(
            metric=self.name,
            value=float(mean[-1]),
            n=count,
            n_missing=n_rows - count,
            se=_none(float(se[-1])),
            ci_low=_none(float(low[-1])),
            ci_high=_none(float(high[-1])),
            level=1 - self.alpha,
            method="Student t, clipped to the score range",
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=version,
            unit=self._unit(),
            group=group,
            groups=groups,
            flags=tuple(flags),
            details=details,
        )

    def _unit(self) -> str:
        lo, hi = self._plan.scale
        difference = self._plan.headline.offset == 0
        if self.form == "0-100":
            return "points (-100 to 100)" if difference else "points (0-100)"
        return f"scale points ({lo}-{hi} answers)" if difference else f"on the {lo}-{hi} scale"


def _pool(
    n: NDArray[np.int64], sums: NDArray[np.float64], m2: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Moments of all groups together: :math:`M_2 = \sum_g M_{2,g} + n_g(\bar x_g - \bar x)^2`."""
    total_n = n.sum(axis=0)
    total = sums.sum(axis=0)
    mean = np.divide(total, total_n, out=np.zeros(total.shape), where=total_n > 0)
    group_mean = np.divide(sums, n, out=np.zeros(sums.shape), where=n > 0)
    spread = np.where(n > 0, n * (group_mean - mean) ** 2, 0.0)
    return total_n, total, m2.sum(axis=0) + spread.sum(axis=0)
