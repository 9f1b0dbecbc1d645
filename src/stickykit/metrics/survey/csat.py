r"""Customer satisfaction (CSAT): the top-box share, the mean score and net satisfaction.

Three named variants of one 1-5 satisfaction item ("How satisfied were you with ...?"):

- ``"csat"``: the share answering 4 or 5 (top-2 box; the box is a parameter), with a Wilson
  (or Agresti-Coull) interval;
- ``"csat_mean"``: the mean answer with a t interval (a mean is not CSAT: it is reported under
  its own name);
- ``"net_csat"``: net satisfaction, the share satisfied (4-5) minus the share dissatisfied
  (1-2), in points, from the net score engine of :mod:`stickykit.metrics.survey.netscore`.

The box share and the mean share one state, the histogram of answers per group
(:class:`ScaleState`), from which every count, sum and sum of squares follows exactly.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> frame = SurveyFrame(answers={"csat": np.array([5, 4, 4, 3, 2], np.int8)})
>>> m = CustomerSatisfaction()
>>> r = m.finalize(m.update(m.init(), frame))
>>> r.value, r.unit
(0.6, 'share')
>>> [round(x, 3) for x in (r.ci_low, r.ci_high)]
[0.231, 0.882]
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.metrics._groups import empty_labels
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.netscore import (
    BLOCK_ROWS,
    INTERVALS,
    Band,
    IntervalName,
    NetScoreBase,
    OutOfScaleError,
    SurveyItemMetric,
    by_field,
    check_alpha_field,
    check_band,
    check_net_bands,
    check_scale,
    min_n_field,
    scale_problems,
    t_quantile,
    weighted_field,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import wilson_interval, z_value

__all__ = [
    "BOX_INTERVALS",
    "BoxShareBase",
    "CustomerSatisfaction",
    "MeanScoreBase",
    "NetSatisfaction",
    "SatisfactionMean",
    "ScaleHistogramBase",
    "ScaleState",
    "agresti_coull_interval",
    "count_levels",
    "mean_t_interval",
]

_NO_TIME = int(np.iinfo(np.int64).min)
#: Interval methods of a box share.
BOX_INTERVALS = ("wilson", "agresti-coull")
_CSAT_REFERENCE = (
    "Top-2-box share of a 1-5 satisfaction item; Wilson (1927), JASA 22(158), 209-212; "
    "Agresti & Coull (1998), The American Statistician 52(2), 119-126"
)


def _to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


# -- state and kernel -------------------------------------------------------------------------


@attrs.frozen(eq=False)
class ScaleState:
    """Mergeable state of a one-item score: the histogram of answers per group.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    labels : numpy.ndarray
        Sorted unique group labels seen.
    counts : numpy.ndarray
        int64, shape ``(len(labels) + 1, hi - lo + 1)``: answers at each scale level per group;
        the last row holds rows without a group label (every row when ungrouped).
    n_missing : numpy.ndarray
        int64, shape ``(len(labels) + 1,)``: rows without an answer.
    weight_sums, weight_sq_sums : numpy.ndarray
        float64, same shape as ``counts``: sums of weights and of squared weights per level
        (zeros when the metric is unweighted).
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


def count_levels(
    values: NDArray[np.int8], answered: NDArray[np.bool_] | None, scale: tuple[int, int]
) -> NDArray[np.int64]:
    """Answers at each level of ``scale`` (int64, ``hi - lo + 1`` entries), in blocks.

    Raises :class:`~stickykit.metrics.survey.netscore.OutOfScaleError` on the first block
    holding an answer outside ``scale``.

    Examples
    --------
    >>> import numpy as np
    >>> count_levels(np.array([1, 5, 5, 3], np.int8), None, (1, 5)).tolist()
    [1, 0, 1, 0, 2]
    """
    lo, hi = scale
    levels = hi - lo + 1
    out = np.zeros(levels, np.int64)
    for start in range(0, len(values), BLOCK_ROWS):
        block = values[start : start + BLOCK_ROWS]
        if answered is not None:
            block = block[answered[start : start + BLOCK_ROWS]]
        if not block.size:
            continue
        if int(block.min()) < lo or int(block.max()) > hi:
            msg = f"answers outside [{lo}, {hi}]"
            raise OutOfScaleError(msg)
        out += np.bincount(block.astype(np.intp) - lo, minlength=levels)
    return out


# -- intervals --------------------------------------------------------------------------------


def agresti_coull_interval(
    successes: float, n: float, alpha: float
) -> tuple[float, float, float, float]:
    r"""The Agresti-Coull interval for a proportion: Wald around the adjusted share.

    .. math::

        \tilde p = \frac{x + z^2/2}{n + z^2}, \qquad
        \tilde p \pm z\sqrt{\frac{\tilde p(1 - \tilde p)}{n + z^2}}

    clipped to [0, 1]. Returns ``(centre, se, low, high)``.

    References
    ----------
    Agresti, A. and Coull, B. A. (1998). Approximate is better than "exact" for interval
    estimation of binomial proportions. *The American Statistician* 52(2), 119-126.

    Examples
    --------
    >>> [round(v, 4) for v in agresti_coull_interval(8, 10, 0.05)]
    [0.7167, 0.1211, 0.4794, 0.9541]
    """
    if n <= 0:
        return (math.nan, math.nan, math.nan, math.nan)
    z = z_value(alpha)
    n_adj = n + z * z
    centre = (successes + z * z / 2) / n_adj
    se = math.sqrt(centre * (1 - centre) / n_adj)
    return (centre, se, max(0.0, centre - z * se), min(1.0, centre + z * se))


def mean_t_interval(mean: float, se: float, df: float, alpha: float) -> tuple[float, float]:
    r"""``mean ± t(df, 1 - alpha/2) · se`` (NaN when ``df <= 0``); scipy is imported lazily.

    Examples
    --------
    >>> [round(v, 3) for v in mean_t_interval(4.0, 0.5, 9, 0.05)]
    [2.869, 5.131]
    """
    if not df > 0 or math.isnan(se):
        return (math.nan, math.nan)
    half = t_quantile(1 - alpha / 2, df) * se
    return (mean - half, mean + half)


# -- the histogram engine -----------------------------------------------------------------------


class ScaleHistogramBase(SurveyItemMetric):
    """The four functions of a one-item score over the histogram of answers.

    Subclasses are attrs classes with the fields of
    :class:`~stickykit.metrics.survey.netscore.SurveyItemMetric` and implement
    :meth:`summarise`.
    """

    def init(self) -> ScaleState:
        """The empty state."""
        levels = self.scale[1] - self.scale[0] + 1
        return ScaleState(
            fingerprint=self.fingerprint,
            labels=empty_labels(),
            counts=np.zeros((1, levels), np.int64),
            n_missing=np.zeros(1, np.int64),
            weight_sums=np.zeros((1, levels)),
            weight_sq_sums=np.zeros((1, levels)),
        )

    def summarise(
        self,
        counts: NDArray[np.int64],
        weight_sums: NDArray[np.float64],
        weight_sq_sums: NDArray[np.float64],
    ) -> tuple[float, float, float, float, str, dict[str, float], list[str]]:
        """``(value, se, low, high, method, details, flags)`` of one group's histogram."""
        raise NotImplementedError  # pragma: no cover

    unit: ClassVar[str] = "share"

    def result_unit(self) -> str:
        """The unit of the value."""
        return self.unit

    def result_reference(self) -> str:
        """The source cited in results."""
        return self.reference

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
        n = int(counts.sum())
        if n == 0:
            value = se = low = high = math.nan
            method = self.summarise_method()
            details: dict[str, float] = {}
            flags = ["no valid answers"]
        else:
            value, se, low, high, method, details, flags = self.summarise(
                counts, weight_sums, weight_sq_sums
            )
        if 0 < n < self.min_n:
            flags.append(f"small sample: n = {n} < {self.min_n}")
        return MetricResult(
            metric=self.name,
            value=float(value),
            n=n,
            n_missing=n_missing,
            se=None if math.isnan(se) else float(se),
            ci_low=None if math.isnan(low) else float(low),
            ci_high=None if math.isnan(high) else float(high),
            level=1 - self.alpha,
            method=method,
            reference=self.result_reference(),
            params=self.params(),
            as_of=as_of,
            version=version,
            unit=self.result_unit(),
            group=group,
            groups=groups,
            flags=tuple(flags),
            details={k: float(v) for k, v in details.items()},
        )

    def summarise_method(self) -> str:
        """The method named in a result (also for a group without answers)."""
        raise NotImplementedError  # pragma: no cover

    def _count(
        self,
        values: NDArray[np.int8],
        answered: NDArray[np.bool_] | None,
        labels: NDArray[Any],
        codes: NDArray[np.intp] | None,
        weight: NDArray[np.float64] | None,
    ) -> ScaleState:
        lo, hi = self.scale
        levels = hi - lo + 1
        slots = len(labels) + 1
        if codes is None and not self.weighted:
            missing = 0 if answered is None else len(values) - int(np.count_nonzero(answered))
            return ScaleState(
                fingerprint=self.fingerprint,
                labels=labels,
                counts=count_levels(values, answered, self.scale)[None, :],
                n_missing=np.array([missing], np.int64),
                weight_sums=np.zeros((1, levels)),
                weight_sq_sums=np.zeros((1, levels)),
            )
        if scale_problems(self.item, self.scale, values, answered, 0):
            msg = f"answers outside {self.scale}"
            raise OutOfScaleError(msg)
        if codes is None:
            codes = np.full(len(values), slots - 1, dtype=np.intp)
        cell = codes * levels + (values.astype(np.intp) - lo)
        if answered is not None:
            cell_used = cell[answered]
            n_missing = np.bincount(codes[~answered], minlength=slots).astype(np.int64)
        else:
            cell_used = cell
            n_missing = np.zeros(slots, np.int64)
        size = slots * levels
        counts = np.bincount(cell_used, minlength=size).reshape(slots, levels).astype(np.int64)
        sums = np.zeros((slots, levels))
        sq_sums = np.zeros((slots, levels))
        if self.weighted:
            w = np.ones(len(values)) if weight is None else weight
            w_used = w if answered is None else w[answered]
            sums = np.asarray(
                np.bincount(cell_used, weights=w_used, minlength=size), dtype=np.float64
            ).reshape(slots, levels)
            sq_sums = np.asarray(
                np.bincount(cell_used, weights=w_used * w_used, minlength=size), dtype=np.float64
            ).reshape(slots, levels)
        return ScaleState(
            fingerprint=self.fingerprint,
            labels=labels,
            counts=counts,
            n_missing=n_missing,
            weight_sums=sums,
            weight_sq_sums=sq_sums,
        )


class BoxShareBase(ScaleHistogramBase):
    """The share of answers inside a box of scale levels, with a Wilson or Agresti-Coull interval.

    Subclasses add the field ``interval`` and implement :meth:`box_band`.
    """

    higher_is_better: ClassVar[bool | None] = True
    interval: Literal["wilson", "agresti-coull"]

    def box_band(self) -> Band:
        """The box, ``(lo, hi)`` inclusive."""
        raise NotImplementedError  # pragma: no cover

    def box_name(self) -> str:
        """What the box is called in the method text."""
        lo, hi = self.box_band()
        return f"share answering {lo}-{hi} of {self.scale[0]}-{self.scale[1]}"

    def summarise_method(self) -> str:
        """The interval method and the box."""
        name = "Wilson score" if self.interval == "wilson" else "Agresti-Coull"
        return f"{name} interval; {self.box_name()}"

    def summarise(
        self,
        counts: NDArray[np.int64],
        weight_sums: NDArray[np.float64],
        weight_sq_sums: NDArray[np.float64],
    ) -> tuple[float, float, float, float, str, dict[str, float], list[str]]:
        """Box share, Wald standard error and interval of one group."""
        lo, hi = self.box_band()
        inside = slice(lo - self.scale[0], hi - self.scale[0] + 1)
        details: dict[str, float] = {}
        method = self.summarise_method()
        n = float(counts.sum())
        if self.weighted:
            total_w = float(weight_sums.sum())
            share = float(weight_sums[inside].sum()) / total_w
            n_eff = total_w**2 / float(weight_sq_sums.sum())
            details.update(n_effective=n_eff, weight_sum=total_w)
            x, n = share * n_eff, n_eff
            method += " (Kish effective n)"
        else:
            x = float(counts[inside].sum())
            share = x / n
            details.update(n_box=x)
        se = math.sqrt(share * (1 - share) / n)
        if self.interval == "wilson":
            low, high = wilson_interval(x, n, self.alpha)
            # the Wilson interval contains the estimate; keep it so under rounding at 0 and 1
            low, high = min(low, share), max(high, share)
        else:
            centre, se, low, high = agresti_coull_interval(x, n, self.alpha)
            details.update(adjusted_share=centre)
        return share, se, low, high, method, details, []


class MeanScoreBase(ScaleHistogramBase):
    """The mean answer with a t interval."""

    unit: ClassVar[str] = ""

    def result_unit(self) -> str:
        """``"on lo-hi"``: the mean is on the answer scale."""
        return f"on {self.scale[0]}-{self.scale[1]}"

    def summarise_method(self) -> str:
        """The interval method."""
        return "t interval"

    def summarise(
        self,
        counts: NDArray[np.int64],
        weight_sums: NDArray[np.float64],
        weight_sq_sums: NDArray[np.float64],
    ) -> tuple[float, float, float, float, str, dict[str, float], list[str]]:
        """Mean, standard error and t interval of one group."""
        levels = np.arange(self.scale[0], self.scale[1] + 1, dtype=np.int64)
        n = int(counts.sum())
        flags: list[str] = []
        method = self.summarise_method()
        if self.weighted:
            total_w = float(weight_sums.sum())
            x = levels.astype(np.float64)
            answered = counts > 0
            # one distinct answer: the mean is that answer exactly, not a rounded weighted sum
            if np.count_nonzero(answered) == 1:
                mean = float(x[answered][0])
            else:
                mean = float(weight_sums @ x) / total_w
            n_eff = total_w**2 / float(weight_sq_sums.sum())
            spread = float(weight_sq_sums @ (x - mean) ** 2)
            se = math.sqrt(n / (n - 1) * spread / total_w**2) if n > 1 else math.nan
            sd = math.sqrt(float(weight_sums @ (x - mean) ** 2) / total_w)
            df = n_eff - 1
            method = "t interval on the linearised weighted variance, df = n_eff - 1 (Kish)"
            details = {"sd": sd, "df": df, "n_effective": n_eff, "weight_sum": total_w}
        else:
            # exact integer sums: n * sum(x^2) - sum(x)^2 = n * (n - 1) * var
            s1 = int(counts @ levels)
            s2 = int(counts @ (levels * levels))
            mean = s1 / n
            var = (n * s2 - s1 * s1) / (n * (n - 1)) if n > 1 else math.nan
            sd = math.sqrt(var) if n > 1 else math.nan
            se = sd / math.sqrt(n) if n > 1 else math.nan
            df = n - 1
            details = {"sd": sd, "df": float(df)}
        low, high = mean_t_interval(mean, se, df, self.alpha)
        if math.isnan(low):
            flags.append("no interval: the t interval needs n >= 2")
        elif se == 0:
            flags.append("zero-width t interval: every answer the same")
        return mean, se, low, high, method, details, flags


# -- CSAT metrics -----------------------------------------------------------------------------


def _check_box(instance: CustomerSatisfaction, attribute: Any, value: Any) -> None:
    del attribute, value
    check_scale(instance.scale)
    check_band("box", instance.box, instance.scale)


def _check_scale_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_scale(value)


@attrs.frozen
class CustomerSatisfaction(BoxShareBase):
    r"""CSAT: the share of satisfied answers (top-2 box, 4-5 of 1-5), with a Wilson interval.

    Parameters
    ----------
    item : str
        The satisfaction item ("How satisfied were you with ...?").
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the share per group of this column as well as overall.
    scale : (int, int)
        The answer range (1-5).
    box : (int, int)
        The answers counted as satisfied (4-5): top-2 box on 1-5; top 3 of 7 is ``(5, 7)``.
    weighted : bool
        Use the frame's respondent weights (Kish effective sample size for the interval).
    interval : {"wilson", "agresti-coull"}
        Interval method.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    With :math:`x` answers in the box out of :math:`n`, :math:`\hat p = x/n` (a share in
    [0, 1]) and the Wilson interval

    .. math::

        \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}.

    ``se`` is the Wald standard error :math:`\sqrt{\hat p(1-\hat p)/n}`. Agresti-Coull uses
    :math:`\tilde p = (x + z^2/2)/(n + z^2)` and reports it as ``details["adjusted_share"]``.
    Weighted: :math:`\hat p_w = \sum_{box} w/\sum w` with the Kish
    :math:`n_{eff} = (\sum w)^2/\sum w^2` in place of :math:`n`. A mean satisfaction score
    is not CSAT; it is the metric ``"csat_mean"``.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.
    Agresti, A. and Coull, B. A. (1998). Approximate is better than "exact" for interval
    estimation of binomial proportions. *The American Statistician* 52(2), 119-126.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"csat": np.array([5, 5, 4, 4, 4, 3, 2, 1], np.int8)})
    >>> r = CustomerSatisfaction().finalize(
    ...     CustomerSatisfaction().update(CustomerSatisfaction().init(), frame))
    >>> r.value, r.method
    (0.625, 'Wilson score interval; share answering 4-5 of 1-5')
    """

    name: ClassVar[str] = "csat"
    reference: ClassVar[str] = _CSAT_REFERENCE

    item: str = "csat"
    by: str | None = by_field()
    scale: tuple[int, int] = attrs.field(
        default=(1, 5), converter=_to_tuple, validator=_check_scale_field
    )
    box: tuple[int, int] = attrs.field(default=(4, 5), converter=_to_tuple, validator=_check_box)
    weighted: bool = weighted_field()
    interval: Literal["wilson", "agresti-coull"] = attrs.field(
        default="wilson", validator=attrs.validators.in_(BOX_INTERVALS)
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = min_n_field()

    def box_band(self) -> Band:
        """The satisfied answers."""
        return self.box


@attrs.frozen
class SatisfactionMean(MeanScoreBase):
    r"""Mean satisfaction score (not CSAT) on the answer scale, with a t interval.

    Parameters
    ----------
    item : str
        The satisfaction item.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the mean per group of this column as well as overall.
    scale : (int, int)
        The answer range (1-5).
    weighted : bool
        Use the frame's respondent weights.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    .. math::

        \bar x = \frac{\sum x_i}{n}, \qquad
        s^2 = \frac{n\sum x_i^2 - (\sum x_i)^2}{n(n-1)}, \qquad
        \bar x \pm t_{n-1,\,1-\alpha/2}\,\frac{s}{\sqrt n}

    computed exactly from the integer histogram. Weighted:
    :math:`\bar x_w = \sum w_i x_i/\sum w_i`, linearised variance
    :math:`\frac{n}{n-1}\sum w_i^2(x_i - \bar x_w)^2/(\sum w_i)^2` and :math:`n_{eff} - 1`
    degrees of freedom (Kish). ``details`` holds ``sd`` and ``df``.

    References
    ----------
    Student (1908). The probable error of a mean. *Biometrika* 6(1), 1-25.
    Kish, L. (1965). *Survey Sampling*. Wiley (effective sample size).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"csat": np.array([5, 4, 4, 3], np.int8)})
    >>> m = SatisfactionMean()
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> print(r)
    csat_mean = 4.0 on 1-5 [95% CI 2.7 to 5.3, t interval]; n = 4, missing = 0  (small sample: n = 4 < 30)
    """

    name: ClassVar[str] = "csat_mean"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = "Mean satisfaction; Student (1908), Biometrika 6(1), 1-25"

    item: str = "csat"
    by: str | None = by_field()
    scale: tuple[int, int] = attrs.field(
        default=(1, 5), converter=_to_tuple, validator=_check_scale_field
    )
    weighted: bool = weighted_field()
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = min_n_field()


def _check_net_csat(instance: NetSatisfaction, attribute: Any, value: Any) -> None:
    del attribute, value
    check_net_bands(instance.dissatisfied, instance.satisfied, instance.scale)


@attrs.frozen
class NetSatisfaction(NetScoreBase):
    r"""Net satisfaction: the share satisfied (4-5) minus the share dissatisfied (1-2), in points.

    The net score engine (:class:`~stickykit.metrics.survey.netscore.NetScore`) on a 1-5
    satisfaction item; intervals and weighting as for the NPS.

    Parameters
    ----------
    item : str
        The satisfaction item.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the score per group of this column as well as overall.
    scale : (int, int)
        The answer range (1-5).
    dissatisfied, satisfied : (int, int)
        The negative and positive bands (1-2 and 4-5), at opposite ends of the scale.
    weighted : bool
        Use the frame's respondent weights.
    interval : {"adjusted-wald", "wald", "score", "t"}
        Interval method (see :mod:`stickykit.metrics.survey.netscore`).
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    .. math::

        \mathrm{net\ CSAT} = 100\,(p_{satisfied} - p_{dissatisfied}), \qquad
        \widehat{\mathrm{Var}} = \frac{p + d - (p - d)^2}{n}

    The default bands (4-5 against 1-2, the middle answer neutral) are stickykit's choice;
    state them when reporting.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (the intervals of a net score).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"csat": np.array([5, 4, 4, 3, 1], np.int8)})
    >>> m = NetSatisfaction(interval="wald")
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.details
    (40.0, {'satisfied': 60.0, 'neutral': 20.0, 'dissatisfied': 20.0})
    """

    name: ClassVar[str] = "net_csat"
    category_names: ClassVar[tuple[str, str, str]] = ("dissatisfied", "neutral", "satisfied")
    reference: ClassVar[str] = (
        "Net satisfaction on a 1-5 item; intervals: Rocks (2016), The American Statistician "
        "70(4), 365-372; Tango (1998), Statistics in Medicine 17(8), 891-908"
    )

    item: str = "csat"
    by: str | None = by_field()
    scale: tuple[int, int] = attrs.field(default=(1, 5), converter=_to_tuple)
    dissatisfied: tuple[int, int] = attrs.field(default=(1, 2), converter=_to_tuple)
    satisfied: tuple[int, int] = attrs.field(
        default=(4, 5), converter=_to_tuple, validator=_check_net_csat
    )
    weighted: bool = weighted_field()
    interval: IntervalName = attrs.field(
        default="adjusted-wald", validator=attrs.validators.in_(INTERVALS)
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = min_n_field()

    def bands(self) -> tuple[Band, Band]:
        """Dissatisfied and satisfied bands."""
        return self.dissatisfied, self.satisfied


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the satisfaction metrics: ``csat``, ``csat_mean`` and ``net_csat``."""
    register(CustomerSatisfaction)
    register(SatisfactionMean)
    register(NetSatisfaction)
