"""The Net Promoter Score.

The metric ``"nps"``: the net score engine of :mod:`stickykit.metrics.survey.netscore` with the
cut-offs of Reichheld (2003). The engine's state and counting kernel are re-exported here.

Examples
--------
>>> import numpy as np
>>> count_categories(np.array([0, 6, 7, 8, 9, 10], np.int8), None, 6, 9)
(2, 2, 2)
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from stickykit.metrics.survey.netscore import (
    GROUP_COLUMNS,
    INTERVALS,
    Band,
    IntervalName,
    NetScoreBase,
    NetScoreState,
    OutOfScaleError,
    check_alpha_field,
    count_categories,
)
from stickykit.plugins.hookspecs import hookimpl

__all__ = ["NetPromoterScore", "NetScoreState", "OutOfScaleError", "count_categories"]


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


@attrs.frozen
class NetPromoterScore(NetScoreBase):
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
    interval : {"adjusted-wald", "wald", "score", "t"}
        Interval method: adjusted Wald (Rocks 2016) by default, Wald, the iterative score
        interval of Tango (1998), which always stays inside [-100, 100], or the trinomial t
        interval (see :mod:`stickykit.metrics.survey.netscore`).
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
    :math:`n_{eff}` scale. The score interval (Tango 1998) puts the Kish effective counts in
    the same place; the t interval uses the linearised variance with :math:`n_{eff} - 1`
    degrees of freedom. Weighted results report ``details["weight_sum"]``. Missing answers are
    counted in ``n_missing``, never as detractors.

    "Net Promoter" and "NPS" are registered trademarks of Bain & Company, Inc., Satmetrix
    Systems, Inc. and Fred Reichheld.

    References
    ----------
    Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review* 81(12),
    46-54.
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (Wald and adjusted-Wald intervals).
    Tango, T. (1998). Equivalence test and confidence interval for the difference in
    proportions for the paired-sample design. *Statistics in Medicine* 17(8), 891-908.
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
    category_names: ClassVar[tuple[str, str, str]] = ("detractors", "passives", "promoters")
    adjusted_key: ClassVar[str] = "adjusted_nps"
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
    interval: IntervalName = attrs.field(
        default="adjusted-wald", validator=attrs.validators.in_(INTERVALS)
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    def bands(self) -> tuple[Band, Band]:
        """Detractors ``(scale[0], detractor_max)`` and promoters ``(promoter_min, scale[1])``."""
        return (self.scale[0], self.detractor_max), (self.promoter_min, self.scale[1])


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the net score metrics of this module."""
    register(NetPromoterScore)
