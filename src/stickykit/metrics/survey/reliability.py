r"""Reliability of multi-item scales: Cronbach's alpha with the Feldt interval.

The metric ``"cronbach_alpha"`` (:class:`CronbachAlpha`) keeps, per group, the pairwise
co-moments of the item scores (:mod:`stickykit.stats.moments`), from which alpha,
standardised alpha, alpha-if-item-deleted and the corrected item-total (item-rest)
correlations all follow. The kernels below turn a covariance matrix into those figures;
:func:`difference_score_reliability` gives the reliability of a gap score such as
SERVQUAL's perception minus expectation.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> frame = SurveyFrame(answers={"q1": np.array([1, 2, 3, 4], np.int8),
...                              "q2": np.array([2, 2, 3, 5], np.int8),
...                              "q3": np.array([1, 3, 3, 4], np.int8)})
>>> m = CronbachAlpha(items=("q1", "q2", "q3"))
>>> round(m.finalize(m.update(m.init(), frame)).value, 4)
0.9474
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument, Item
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
from stickykit.stats.intervals import check_alpha
from stickykit.stats.moments import covariance, merge_comoments, pairwise_comoments

__all__ = [
    "DEFAULT_ITEMS",
    "AlphaState",
    "CronbachAlpha",
    "alpha_from_covariance",
    "alpha_if_deleted",
    "difference_score_reliability",
    "feldt_interval",
    "item_rest_correlations",
    "keyed_answers",
    "scale_violations",
    "select_items",
    "standardized_alpha",
]

#: Item ids used when a metric is built without ``items`` or ``instrument`` (placeholders,
#: so that every registered metric can be built with its defaults; name your own items).
DEFAULT_ITEMS: tuple[str, ...] = ("item1", "item2", "item3")
GROUP_COLUMNS = ("wave", "segment", "instrument", "customer_id")
_MISSING_GROUP = "(missing)"
_NO_TIME = int(np.iinfo(np.int64).min)
_DEFAULT_SCALE = (1, 5)
#: A variance at most this fraction of the largest one (of the sum of item variances, for
#: the total score) counts as zero: exact zeros come out of floating point as about 1e-16.
ZERO_VARIANCE = 1e-10


# -- item selection, shared with the response-quality metric --------------------------------


def select_items(
    *,
    items: Sequence[str] | None,
    instrument: str | Instrument | None,
    dimension: str | None = None,
    battery: str | tuple[str, ...] | None = None,
    facet: str | None = None,
    scale: tuple[int, int] | None = None,
    reverse: Sequence[str] = (),
    default: Sequence[str] = DEFAULT_ITEMS,
) -> tuple[Item, ...]:
    """The items a metric reads, as :class:`~stickykit.instruments.Item` records.

    Parameters
    ----------
    items : sequence of str or None
        Item ids. Without ``instrument`` they share ``scale`` and are reverse-keyed when named
        in ``reverse``; with ``instrument`` they are looked up in it.
    instrument : str, Instrument or None
        An instrument, or the name of a registered one (:func:`stickykit.get_instrument`).
        Without ``items``, its items of the chosen ``dimension``, ``battery`` and ``facet``.
    dimension, facet : str or None
        Selection inside ``instrument``.
    battery : str, tuple of str, or None
        Selection inside ``instrument``: one battery or several.
    scale : (int, int) or None
        Answer range of ``items`` without an instrument (default 1-5).
    reverse : sequence of str
        Reverse-keyed ``items`` without an instrument.
    default : sequence of str
        The item ids used when neither ``items`` nor ``instrument`` is given.

    Returns
    -------
    tuple of Item

    Examples
    --------
    >>> [(i.id, i.scale, i.reverse) for i in select_items(items=("a", "b"), instrument=None,
    ...                                                   scale=(1, 7), reverse=("b",))]
    [('a', (1, 7), False), ('b', (1, 7), True)]
    """
    if instrument is None:
        if dimension is not None or battery is not None or facet is not None:
            msg = "dimension, battery and facet select items of an instrument: give instrument"
            raise ValueError(msg)
        ids = tuple(default if items is None else items)
        unknown = sorted(set(reverse) - set(ids))
        if unknown:
            msg = f"reverse names items that are not among items: {unknown}"
            raise ValueError(msg)
        lo_hi = _DEFAULT_SCALE if scale is None else scale
        return tuple(
            Item(id=i, text=i, dimension="scale", scale=lo_hi, reverse=i in reverse)  # type: ignore[arg-type]
            for i in ids
        )
    if scale is not None or reverse:
        msg = "scale and reverse come from the instrument's items; do not give them as well"
        raise ValueError(msg)
    inst = _instrument(instrument)
    if items is not None:
        if dimension is not None or battery is not None or facet is not None:
            msg = "give either items or a dimension/battery/facet selection, not both"
            raise ValueError(msg)
        try:
            return tuple(inst.item(i) for i in items)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
    wanted = (battery,) if isinstance(battery, str) else battery
    chosen = tuple(
        item
        for item in inst.select(dimension=dimension, facet=facet)
        if wanted is None or item.battery in wanted
    )
    if not chosen:
        msg = (
            f"instrument {inst.name!r} has no items with dimension={dimension!r}, "
            f"battery={battery!r}, facet={facet!r}"
        )
        raise ValueError(msg)
    return chosen


def _instrument(instrument: str | Instrument) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    from stickykit.plugins.registry import get_instrument  # noqa: PLC0415

    return get_instrument(instrument)


def _check_frame(metric_name: str, frame: Any, items: Sequence[Item]) -> SurveyFrame:
    if not isinstance(frame, SurveyFrame):
        raise ValidationError(
            record=metric_name,
            field="frame",
            row=None,
            value=type(frame).__name__,
            expected="a SurveyFrame",
        )
    absent = [item.id for item in items if item.id not in frame.answers]
    if absent:
        raise ValidationError(
            record="SurveyFrame",
            field="answers",
            row=None,
            value=list(frame.items),
            expected=f"items named {absent}",
        )
    return frame


def scale_violations(frame: SurveyFrame, items: Sequence[Item]) -> list[Violation]:
    """Answered rows whose answer lies outside its item's scale, one violation per item.

    An answer equal to one of the item's ``missing_codes`` counts as not answered.

    Examples
    --------
    >>> import numpy as np
    >>> f = SurveyFrame(answers={"a": np.array([1, 9, 3], np.int8)})
    >>> [(v.field, v.rows.tolist()) for v in scale_violations(f, select_items(items=("a",),
    ...                                                                       instrument=None))]
    [('a', [1])]
    """
    found: list[Violation] = []
    for item in items:
        values = frame.answers[item.id]
        lo, hi = item.scale
        bad = (values < lo) | (values > hi)
        missing = _missing_mask(frame, item)
        if missing is not None:
            bad &= ~missing
        rows = np.flatnonzero(bad)
        if rows.size:
            found.append(
                Violation(
                    field=item.id,
                    rows=(rows + frame.first_row).astype(np.int64),
                    values=values[rows],
                    expected=f"an integer in [{lo}, {hi}]",
                )
            )
    return found


def _missing_mask(frame: SurveyFrame, item: Item) -> NDArray[np.bool_] | None:
    missing = frame.answer_missing.get(item.id)
    codes = [c for c in item.missing_codes if -128 <= c <= 127]
    if codes:
        coded = np.isin(frame.answers[item.id], np.array(codes, dtype=np.int8))
        missing = coded if missing is None else missing | coded
    return missing


def keyed_answers(
    frame: SurveyFrame, items: Sequence[Item]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Scored answers (reverse-keyed items as ``lo + hi - x``) and the presence mask.

    Returns a float64 ``(n, k)`` array (0 where not answered) and a bool ``(n, k)`` array,
    ``True`` where answered. Answers outside an item's scale raise
    :class:`~stickykit.errors.ValidationError` naming the row, item and value.

    Examples
    --------
    >>> import numpy as np
    >>> items = select_items(items=("a", "b"), instrument=None, reverse=("b",))
    >>> f = SurveyFrame(answers={"a": np.array([1, 5], np.int8), "b": np.array([1, 5], np.int8)},
    ...                 answer_missing={"b": np.array([False, True])})
    >>> x, present = keyed_answers(f, items)
    >>> x.tolist(), present.tolist()
    ([[1.0, 5.0], [5.0, 0.0]], [[True, True], [True, False]])
    """
    problems = scale_violations(frame, items)
    if problems:
        first = min(problems, key=lambda v: int(v.rows[0]))
        n_failing = len(np.unique(np.concatenate([v.rows for v in problems])))
        raise ValidationError(
            record="SurveyFrame",
            field=first.field,
            row=int(first.rows[0]),
            value=first.value(0),
            expected=first.expected,
            n_failing=n_failing,
        )
    n = len(frame)
    # column-major, so that each item is written as one contiguous column
    x = np.empty((n, len(items)), order="F")
    present = np.ones((n, len(items)), dtype=bool, order="F")
    for j, item in enumerate(items):
        lo, hi = item.scale
        column = frame.answers[item.id].astype(np.float64)
        x[:, j] = lo + hi - column if item.reverse else column
        missing = _missing_mask(frame, item)
        if missing is not None:
            present[:, j] = ~missing
    np.copyto(x, 0.0, where=~present)
    return x, present


def _latest(latest_us: int, frame: SurveyFrame) -> int:
    if frame.answered_at is None or not len(frame):
        return latest_us
    times = frame.answered_at.view(np.int64)
    present = times[times != _NO_TIME]
    return max(latest_us, int(present.max())) if present.size else latest_us


def _group_codes(
    frame: SurveyFrame, by: str | None
) -> tuple[NDArray[Any], NDArray[np.intp] | None]:
    if by is None:
        return empty_labels(), None
    column = getattr(frame, by)
    if column is None:
        raise ValidationError(
            record="SurveyFrame",
            field=by,
            row=None,
            value=None,
            expected=f"a {by!r} column to group by",
        )
    return group_codes(column, frame.label_missing.get(by))


def _group_slices(codes: NDArray[np.intp] | None, n: int, slots: int) -> list[tuple[int, Any]]:
    """(slot, row indices) for each slot with rows; one sort, no loop over rows."""
    if codes is None:
        return [(slots - 1, slice(0, n))] if n else []
    order = np.argsort(codes, kind="stable")
    edges = np.searchsorted(codes[order], np.arange(slots + 1))
    return [
        (slot, order[edges[slot] : edges[slot + 1]])
        for slot in range(slots)
        if edges[slot + 1] > edges[slot]
    ]


# -- kernels: covariance matrix -> reliability figures ---------------------------------------


def alpha_from_covariance(cov: NDArray[np.float64]) -> float:
    r"""Cronbach's alpha from the item covariance matrix.

    .. math::

        \alpha = \frac{k}{k - 1}\left(1 - \frac{\sum_j \sigma_j^2}{\sigma_X^2}\right),
        \qquad \sigma_X^2 = \sum_{i,j} \sigma_{ij}

    NaN with fewer than two items or when the total score has no (or a negative) variance.

    Examples
    --------
    >>> import numpy as np
    >>> alpha_from_covariance(np.array([[1.0, 0.5], [0.5, 1.0]]))
    0.666...
    """
    k = int(cov.shape[0])
    total = float(cov.sum())
    trace = float(np.trace(cov))
    if k < 2 or not math.isfinite(total) or total <= ZERO_VARIANCE * abs(trace):
        return math.nan
    return k / (k - 1) * (1 - trace / total)


def standardized_alpha(cov: NDArray[np.float64]) -> float:
    r"""Standardised alpha: alpha of the items rescaled to unit variance.

    .. math::

        \alpha_{std} = \frac{k \bar r}{1 + (k - 1)\bar r}

    with :math:`\bar r` the mean of the :math:`k(k-1)/2` inter-item correlations. NaN when an
    item has no variance.

    Examples
    --------
    >>> import numpy as np
    >>> standardized_alpha(np.array([[4.0, 1.0], [1.0, 1.0]]))
    0.666...
    """
    k = int(cov.shape[0])
    r_bar = _mean_correlation(cov)
    if k < 2 or not math.isfinite(r_bar) or abs(1 + (k - 1) * r_bar) <= ZERO_VARIANCE:
        return math.nan
    return k * r_bar / (1 + (k - 1) * r_bar)


def _mean_correlation(cov: NDArray[np.float64]) -> float:
    k = int(cov.shape[0])
    if k < 2 or not np.all(np.isfinite(cov)) or _without_variance(cov).any():
        return math.nan
    sd = np.sqrt(np.diagonal(cov))
    corr = cov / np.outer(sd, sd)
    return float((corr.sum() - np.trace(corr)) / (k * (k - 1)))


def alpha_if_deleted(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    """Alpha of the scale without each item in turn (NaN for each item when k < 3).

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> alpha_if_deleted(cov).round(4).tolist()
    [0.0, 0.0, 0.6667]
    """
    k = int(cov.shape[0])
    out = np.full(k, np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        out[i] = alpha_from_covariance(cov[np.ix_(keep, keep)])
    return out


def item_rest_correlations(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Corrected item-total correlations: each item with the sum of the other items.

    .. math::

        r_{i,X-i} = \frac{\sum_{j \ne i} \sigma_{ij}}
                         {\sqrt{\sigma_i^2 \sum_{j, l \ne i} \sigma_{jl}}}

    NaN for an item (or rest score) without variance.

    Examples
    --------
    >>> import numpy as np
    >>> item_rest_correlations(np.array([[1.0, 0.5], [0.5, 1.0]])).tolist()
    [0.5, 0.5]
    """
    k = int(cov.shape[0])
    out = np.full(k, np.nan)
    total = cov.sum()
    row = cov.sum(axis=1)
    diag = np.diagonal(cov)
    flat = _without_variance(cov)
    trace = float(np.trace(cov))
    for i in range(k):
        rest_cov = row[i] - diag[i]
        rest_var = total - 2 * row[i] + diag[i]
        if k >= 2 and not flat[i] and rest_var > ZERO_VARIANCE * abs(trace - diag[i]):
            out[i] = rest_cov / math.sqrt(diag[i] * rest_var)
    return out


def _without_variance(cov: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Items whose variance is zero up to rounding (relative to the largest variance)."""
    diag = np.diagonal(cov)
    largest = float(np.nanmax(np.abs(diag), initial=0.0))
    flat: NDArray[np.bool_] = ~(diag > ZERO_VARIANCE * largest)
    return flat


def feldt_interval(alpha_hat: float, n: float, k: int, level_alpha: float) -> tuple[float, float]:
    r"""Feldt's confidence interval for Cronbach's alpha.

    .. math::

        \left[\,1 - (1 - \hat\alpha) F_{1-\gamma/2},\;
                1 - (1 - \hat\alpha) F_{\gamma/2}\,\right],
        \qquad F_q = q\text{-quantile of } F\big(n - 1, (n - 1)(k - 1)\big)

    with :math:`n` respondents, :math:`k` items and :math:`\gamma` = ``level_alpha``. It
    assumes normally distributed, essentially tau-equivalent items with uncorrelated
    errors. ``(nan, nan)`` when ``n < 2``, ``k < 2`` or alpha is NaN.

    References
    ----------
    Feldt, L. S., Woodruff, D. J. and Salih, F. A. (1987). Statistical inference for
    coefficient alpha. *Applied Psychological Measurement* 11(1), 93-103.

    Examples
    --------
    >>> low, high = feldt_interval(0.8, 100, 5, 0.05)
    >>> round(low, 3), round(high, 3)
    (0.731, 0.856)
    """
    check_alpha(level_alpha)
    if n < 2 or k < 2 or not math.isfinite(alpha_hat):
        return (math.nan, math.nan)
    from scipy.stats import f  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    df1 = n - 1
    df2 = df1 * (k - 1)
    upper_q = float(f.ppf(1 - level_alpha / 2, df1, df2))
    lower_q = float(f.ppf(level_alpha / 2, df1, df2))
    return (1 - (1 - alpha_hat) * upper_q, 1 - (1 - alpha_hat) * lower_q)


def difference_score_reliability(
    *,
    sd_p: float,
    sd_e: float,
    reliability_p: float,
    reliability_e: float,
    correlation: float,
) -> float:
    r"""Lord's reliability of a difference score :math:`D = P - E` (a SERVQUAL gap).

    Parameters
    ----------
    sd_p, sd_e : float
        Standard deviations of the two component scores (perception, expectation).
    reliability_p, reliability_e : float
        Their reliabilities (e.g. Cronbach's alpha of each battery).
    correlation : float
        The correlation between the two component scores.

    Returns
    -------
    float
        The reliability of the difference; NaN when the difference has no variance.

    Notes
    -----
    .. math::

        r_D = \frac{\sigma_P^2 r_{PP} + \sigma_E^2 r_{EE} - 2 r_{PE}\sigma_P\sigma_E}
                   {\sigma_P^2 + \sigma_E^2 - 2 r_{PE}\sigma_P\sigma_E}

    The more the components correlate, the less reliable their difference: two scales
    with reliability 0.8 and equal variances that correlate 0.5 give a gap of reliability
    0.6.

    References
    ----------
    Lord's formula, as used for SERVQUAL gap scores by Peter, J. P., Churchill, G. A. and
    Brown, T. J. (1993). Caution in the use of difference scores in consumer research.
    *Journal of Consumer Research* 19(4).

    Examples
    --------
    >>> difference_score_reliability(sd_p=1.0, sd_e=1.0, reliability_p=0.8,
    ...                              reliability_e=0.8, correlation=0.5)
    0.6
    """
    var_p, var_e = sd_p * sd_p, sd_e * sd_e
    shared = 2 * correlation * sd_p * sd_e
    denominator = var_p + var_e - shared
    if denominator <= 0:
        return math.nan
    return float((var_p * reliability_p + var_e * reliability_e - shared) / denominator)


# -- the metric ----------------------------------------------------------------------------


@attrs.frozen(eq=False)
class AlphaState:
    """Mergeable state of Cronbach's alpha: pairwise co-moments of the item scores per group.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen.
    rows : numpy.ndarray
        int64, shape ``(len(labels) + 1,)``: rows seen per group (the last slot holds rows
        without a group label, or every row when ungrouped).
    complete : numpy.ndarray
        int64, same shape: rows that answered every item.
    answered_any : numpy.ndarray
        int64, same shape: rows that answered at least one item.
    count, sums, comoments : numpy.ndarray
        Shape ``(len(labels) + 1, k, k)``: the pairwise co-moments of
        :func:`~stickykit.stats.moments.pairwise_comoments` of the keyed item scores, over the
        complete rows (listwise deletion) or each pair's answered rows (pairwise deletion).
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    labels: NDArray[Any]
    rows: NDArray[np.int64]
    complete: NDArray[np.int64]
    answered_any: NDArray[np.int64]
    count: NDArray[np.int64]
    sums: NDArray[np.float64]
    comoments: NDArray[np.float64]
    latest_us: int = _NO_TIME


def _check_level(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


def _battery(value: Any) -> str | tuple[str, ...] | None:
    return value if value is None or isinstance(value, str) else tuple(value)


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _scale_or_none(value: Any) -> tuple[int, int] | None:
    return None if value is None else (value[0], value[1])


@attrs.frozen
class CronbachAlpha(MetricBase):
    r"""Cronbach's alpha of a multi-item scale, with the Feldt interval and item statistics.

    Parameters
    ----------
    items : tuple of str, optional
        Item ids. Without ``instrument`` they share ``scale`` and ``reverse`` names the
        reverse-keyed ones; with ``instrument`` they are looked up there. Without both, the
        placeholders :data:`DEFAULT_ITEMS`.
    instrument : str or Instrument, optional
        Score the items of this instrument (reverse-keyed items scored ``lo + hi - x`` on
        their own scale), restricted to ``dimension``, ``battery`` and ``facet``.
    dimension, facet : str, optional
        Selection inside ``instrument`` (SERVQUAL: ``dimension="reliability"``).
    battery : str or tuple of str, optional
        Battery (or batteries) inside ``instrument`` (SERVQUAL: ``battery="perception"``).
    scale : (int, int), optional
        Answer range of ``items`` without an instrument (default 1-5).
    reverse : tuple of str
        Reverse-keyed ``items`` without an instrument.
    missing : {"listwise", "pairwise"}
        Listwise (default): only respondents who answered every item count. Pairwise: each
        covariance uses the respondents who answered both items (as ``pingouin`` does by
        default); the Feldt interval then uses the smallest pairwise count.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report alpha per group of this column as well as overall.
    alpha : float
        1 - confidence level of the Feldt interval (this ``alpha`` is the error rate, not
        Cronbach's coefficient).
    min_n : int
        Groups with fewer respondents are flagged as small.

    Notes
    -----
    With :math:`\sigma_{ij}` the sample covariances of the :math:`k` keyed item scores and
    :math:`X = \sum_j x_j` the total score,

    .. math::

        \alpha = \frac{k}{k - 1}\left(1 - \frac{\sum_j \sigma_j^2}{\sigma_X^2}\right),
        \qquad \alpha_{std} = \frac{k \bar r}{1 + (k - 1)\bar r},

    and the Feldt interval :math:`1 - (1 - \alpha) F_q` with :math:`F_q` the quantiles of
    :math:`F(n - 1, (n - 1)(k - 1))` (:func:`feldt_interval`). There is no standard error.

    ``details`` holds ``standardized_alpha``, ``mean_inter_item_r``, ``n_items``,
    ``n_complete`` and, for each item id ``q``, ``alpha_if_deleted:q`` (alpha of the other
    items) and ``item_rest_r:q`` (correlation of ``q`` with the sum of the other items). The
    frame's weights are not used.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    *Psychometrika* 16(3).
    Feldt, L. S., Woodruff, D. J. and Salih, F. A. (1987). Statistical inference for
    coefficient alpha. *Applied Psychological Measurement* 11(1), 93-103.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"q1": np.array([1, 2, 3, 4, 5], np.int8),
    ...                              "q2": np.array([2, 2, 3, 5, 4], np.int8),
    ...                              "q3": np.array([5, 3, 3, 2, 1], np.int8)})
    >>> m = CronbachAlpha(items=("q1", "q2", "q3"), reverse=("q3",))
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> round(r.value, 3), round(r.details["alpha_if_deleted:q2"], 3), r.method
    (0.945, 0.978, 'Feldt, Woodruff & Salih (1987) F interval; no standard error; listwise deletion')
    """

    name: ClassVar[str] = "cronbach_alpha"
    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Cronbach (1951), Psychometrika 16(3); interval: Feldt, Woodruff & Salih (1987), "
        "Applied Psychological Measurement 11(1), 93-103"
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
    missing: Literal["listwise", "pairwise"] = attrs.field(
        default="listwise", validator=attrs.validators.in_(("listwise", "pairwise"))
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
        if len(chosen) < 2:
            msg = f"alpha needs at least two items, got {[i.id for i in chosen]}"
            raise ValueError(msg)
        ids = [i.id for i in chosen]
        if len(set(ids)) != len(ids):
            msg = f"items must be distinct, got {ids}"
            raise ValueError(msg)

    def selected_items(self) -> tuple[Item, ...]:
        """The items scored, with their scales and keying."""
        return select_items(
            items=self.items,
            instrument=self.instrument,
            dimension=self.dimension,
            battery=self.battery,
            facet=self.facet,
            scale=self.scale,
            reverse=self.reverse,
        )

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return tuple(i.id for i in self.selected_items())

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        return {i.id: i.scale for i in self.selected_items()}

    # -- the four functions -------------------------------------------------------------

    def init(self) -> AlphaState:
        """The empty state."""
        k = len(self.selected_items())
        return AlphaState(
            fingerprint=self.fingerprint,
            labels=empty_labels(),
            rows=np.zeros(1, np.int64),
            complete=np.zeros(1, np.int64),
            answered_any=np.zeros(1, np.int64),
            count=np.zeros((1, k, k), np.int64),
            sums=np.zeros((1, k, k)),
            comoments=np.zeros((1, k, k)),
        )

    def update(self, state: AlphaState, frame: SurveyFrame) -> AlphaState:
        """Add the keyed answers of ``frame``; an answer outside its scale raises."""
        items = self.selected_items()
        frame = _check_frame(self.name, frame, items)
        x, present = keyed_answers(frame, items)
        labels, codes = _group_codes(frame, self.by)
        slots = len(labels) + 1
        k = len(items)
        complete_rows = present.all(axis=1)
        any_rows = present.any(axis=1)
        slot_of = np.full(len(frame), slots - 1, dtype=np.intp) if codes is None else codes
        rows = np.bincount(slot_of, minlength=slots).astype(np.int64)
        complete = np.bincount(slot_of[complete_rows], minlength=slots).astype(np.int64)
        answered_any = np.bincount(slot_of[any_rows], minlength=slots).astype(np.int64)
        count = np.zeros((slots, k, k), np.int64)
        sums = np.zeros((slots, k, k))
        comoments = np.zeros((slots, k, k))
        for slot, where in _group_slices(codes, len(frame), slots):
            xs, ps = x[where], present[where]
            if self.missing == "listwise":
                keep = ps.all(axis=1)
                count[slot], sums[slot], comoments[slot] = pairwise_comoments(xs[keep])
            else:
                count[slot], sums[slot], comoments[slot] = pairwise_comoments(xs, ps)
        chunk = AlphaState(
            fingerprint=self.fingerprint,
            labels=labels,
            rows=rows,
            complete=complete,
            answered_any=answered_any,
            count=count,
            sums=sums,
            comoments=comoments,
            latest_us=_latest(_NO_TIME, frame),
        )
        return self.merge(state, chunk)

    def merge(self, a: AlphaState, b: AlphaState) -> AlphaState:
        """Combine two states: counts add, co-moments combine by the pairwise formula."""
        check_fingerprints(self.name, a, b)
        labels, pos_a, pos_b = union_labels(a.labels, b.labels)
        slots = len(labels) + 1

        def aligned(x: NDArray[Any], positions: NDArray[np.intp]) -> NDArray[Any]:
            if len(x) == slots and np.array_equal(positions, np.arange(slots)):
                return x
            return align(x, positions, slots)

        count, sums, comoments = merge_comoments(
            (aligned(a.count, pos_a), aligned(a.sums, pos_a), aligned(a.comoments, pos_a)),
            (aligned(b.count, pos_b), aligned(b.sums, pos_b), aligned(b.comoments, pos_b)),
        )
        return AlphaState(
            fingerprint=a.fingerprint,
            labels=labels,
            rows=aligned(a.rows, pos_a) + aligned(b.rows, pos_b),
            complete=aligned(a.complete, pos_a) + aligned(b.complete, pos_b),
            answered_any=aligned(a.answered_any, pos_a) + aligned(b.answered_any, pos_b),
            count=count,
            sums=sums,
            comoments=comoments,
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: AlphaState, as_of: dt.datetime | None = None) -> MetricResult:
        """Alpha overall and, when grouped, per group."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        total = (state.count[0], state.sums[0], state.comoments[0])
        for slot in range(1, len(state.count)):
            total = merge_comoments(
                total, (state.count[slot], state.sums[slot], state.comoments[slot])
            )
        n_used = self._n_used(total[0], int(state.complete.sum()))
        if n_used < 2:
            msg = (
                f"{self.name} needs at least 2 respondents with usable answers to "
                f"{list(self.requires)} ({self.missing} deletion), got {n_used}"
            )
            raise InsufficientDataError(msg)
        version = package_version()
        groups: list[MetricResult] = []
        if self.by is not None:
            for slot in range(len(state.labels) + 1):
                if slot == len(state.labels):
                    if state.rows[slot] == 0:
                        continue
                    label: Any = _MISSING_GROUP
                else:
                    label = state.labels[slot].item()
                groups.append(
                    self._result(
                        (state.count[slot], state.sums[slot], state.comoments[slot]),
                        int(state.rows[slot]),
                        int(state.complete[slot]),
                        int(state.answered_any[slot]),
                        as_of,
                        version,
                        label,
                        (),
                    )
                )
        return self._result(
            total,
            int(state.rows.sum()),
            int(state.complete.sum()),
            int(state.answered_any.sum()),
            as_of,
            version,
            None,
            tuple(groups),
        )

    # -- validation ---------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows with an answer outside its item's scale (for quarantine)."""
        items = self.selected_items()
        return scale_violations(_check_frame(self.name, frame, items), items)

    # -- results ------------------------------------------------------------------------

    def _n_used(self, count: NDArray[np.int64], complete: int) -> int:
        if self.missing == "listwise":
            return complete
        return int(count.min())

    def _result(
        self,
        moments: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
        rows: int,
        complete: int,
        answered_any: int,
        as_of: dt.datetime | None,
        version: str,
        group: Any,
        groups: tuple[MetricResult, ...],
    ) -> MetricResult:
        count, _, comoments = moments
        ids = self.requires
        k = len(ids)
        n_feldt = self._n_used(count, complete)
        if self.missing == "listwise":
            n, n_missing = complete, rows - complete
            method = "Feldt, Woodruff & Salih (1987) F interval; no standard error; "
            method += "listwise deletion"
        else:
            n, n_missing = answered_any, rows - answered_any
            method = "Feldt, Woodruff & Salih (1987) F interval on the smallest pairwise n; "
            method += "no standard error; pairwise deletion"
        flags: list[str] = []
        cov = covariance(count, comoments)
        if n_feldt < 2:
            flags.append(f"fewer than 2 usable respondents ({self.missing} deletion)")
            value = math.nan
            cov = np.full((k, k), np.nan)
        else:
            value = alpha_from_covariance(cov)
        low, high = feldt_interval(value, n_feldt, k, self.alpha)
        if n_feldt >= 2:
            diag = np.diagonal(cov)
            flat = _without_variance(cov)
            zero = [ids[i] for i in range(k) if flat[i]]
            if zero:
                flags.append(f"items without variance: {zero}")
            if math.isnan(value):
                flags.append("the total score has no variance: alpha is undefined")
            elif value < -ZERO_VARIANCE:
                flags.append("alpha < 0: items covary negatively on average (check the keying)")
            if self.missing == "pairwise" and np.linalg.eigvalsh(cov).min() < -1e-9 * max(
                1.0, float(np.abs(diag).max())
            ):
                flags.append("pairwise covariance matrix is not positive semidefinite")
        if 0 < n < self.min_n:
            flags.append(f"small sample: n = {n} < {self.min_n}")
        details: dict[str, float] = {
            "standardized_alpha": standardized_alpha(cov),
            "mean_inter_item_r": _mean_correlation(cov),
            "n_items": float(k),
            "n_complete": float(complete),
        }
        if self.missing == "pairwise":
            details["n_pairwise_min"] = float(n_feldt)
        for item_id, a_del in zip(ids, alpha_if_deleted(cov), strict=True):
            details[f"alpha_if_deleted:{item_id}"] = float(a_del)
        for item_id, r in zip(ids, item_rest_correlations(cov), strict=True):
            details[f"item_rest_r:{item_id}"] = float(r)
        return MetricResult(
            metric=self.name,
            value=float(value),
            n=n,
            n_missing=n_missing,
            se=None,
            ci_low=None if math.isnan(low) else float(low),
            ci_high=None if math.isnan(high) else float(high),
            level=1 - self.alpha,
            method=method,
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=version,
            unit="",
            group=group,
            groups=groups,
            flags=tuple(flags),
            details=details,
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the reliability metrics of this module."""
    register(CronbachAlpha)
