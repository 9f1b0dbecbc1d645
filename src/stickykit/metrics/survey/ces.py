r"""The Customer Effort Score in its two published forms, CES 1.0 and CES 2.0.

- **CES 1.0** (Dixon, Freeman & Toman 2010): "How much effort did you personally have to put
  forth to handle your request?", 1 (very low effort) to 5 (very high effort): **lower is
  better**.
- **CES 2.0** (Dixon, Toman & DeLisi 2013): agreement with "[The company] made it easy for me
  to handle my issue", 1 (strongly disagree) to 7 (strongly agree): **higher is better**.

The variant fixes the scale and the direction; both are part of each metric's parameters,
fingerprint and results, so states and results of the two variants never mix. Three scores:

- ``"ces"``: the mean answer with a t interval (direction as the variant's);
- ``"ces_easy"``: the share of easy answers (CES 2.0: 5-7; CES 1.0: 1-2), Wilson interval;
- ``"net_easy"``: Net Easy, the share easy minus the share difficult (CES 2.0: 1-3; CES 1.0:
  4-5), in points, from the net score engine.

Share easy and Net Easy are higher-is-better on both variants.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> frame = SurveyFrame(answers={"ces": np.array([1, 2, 2, 4, 5], np.int8)})
>>> m = CustomerEffortScore(variant="1.0")
>>> r = m.finalize(m.update(m.init(), frame))
>>> r.value, r.params["direction"], r.method
(2.8, 'lower is better', 't interval; CES 1.0 (1-5 effort, lower is better)')
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs

from stickykit.metrics.survey.csat import BOX_INTERVALS, BoxShareBase, MeanScoreBase
from stickykit.metrics.survey.netscore import (
    INTERVALS,
    Band,
    IntervalName,
    NetScoreBase,
    by_field,
    check_alpha_field,
    check_band,
    check_net_bands,
    min_n_field,
    weighted_field,
)
from stickykit.plugins.hookspecs import hookimpl

__all__ = [
    "CES_VARIANTS",
    "CESEasyShare",
    "CESVariant",
    "CustomerEffortScore",
    "NetEasyScore",
]

Variant = Literal["1.0", "2.0"]


@attrs.frozen
class CESVariant:
    """One published form of the Customer Effort Score.

    Parameters
    ----------
    label : str
        ``"CES 1.0"`` or ``"CES 2.0"``.
    scale : (int, int)
        The answer range.
    direction : {"lower is better", "higher is better"}
        Which answers are good.
    easy, difficult : (int, int)
        Default bands of easy and difficult answers.
    question : str
        The question's wording, paraphrased.
    reference : str
        The source.
    """

    label: str
    scale: tuple[int, int]
    direction: Literal["lower is better", "higher is better"]
    easy: tuple[int, int]
    difficult: tuple[int, int]
    question: str
    reference: str

    def describe(self) -> str:
        """``"CES 1.0 (1-5 effort, lower is better)"``."""
        kind = "effort" if self.direction == "lower is better" else "agreement"
        return f"{self.label} ({self.scale[0]}-{self.scale[1]} {kind}, {self.direction})"


#: The two published forms, by ``variant`` parameter value.
CES_VARIANTS: dict[str, CESVariant] = {
    "1.0": CESVariant(
        label="CES 1.0",
        scale=(1, 5),
        direction="lower is better",
        easy=(1, 2),
        difficult=(4, 5),
        question="How much effort did you personally have to put forth to handle your request?",
        reference=(
            "CES 1.0: Dixon, Freeman & Toman (2010), Stop trying to delight your customers, "
            "Harvard Business Review 88(7/8), 116-122"
        ),
    ),
    "2.0": CESVariant(
        label="CES 2.0",
        scale=(1, 7),
        direction="higher is better",
        easy=(5, 7),
        difficult=(1, 3),
        question="[The company] made it easy for me to handle my issue.",
        reference=(
            "CES 2.0: Dixon, Toman & DeLisi (2013), The Effortless Experience, Portfolio/Penguin"
        ),
    ),
}


def _variant(instance: Any) -> CESVariant:
    try:
        return CES_VARIANTS[instance.variant]
    except (KeyError, TypeError):
        msg = f"variant must be one of {tuple(CES_VARIANTS)}, got {instance.variant!r}"
        raise ValueError(msg) from None


_VARIANTS = tuple(CES_VARIANTS)


def _scale_field() -> Any:
    return attrs.field(
        init=False, default=attrs.Factory(lambda self: _variant(self).scale, takes_self=True)
    )


def _direction_field() -> Any:
    return attrs.field(
        init=False, default=attrs.Factory(lambda self: _variant(self).direction, takes_self=True)
    )


def _band_field(which: str, validator: Any = None) -> Any:
    return attrs.field(
        default=attrs.Factory(lambda self: getattr(_variant(self), which), takes_self=True),
        converter=lambda v: tuple(v) if isinstance(v, list | tuple) else v,
        validator=validator,
    )


def _check_easy_end(variant: CESVariant, easy: tuple[int, int]) -> None:
    lo, hi = variant.scale
    good_end = lo if variant.direction == "lower is better" else hi
    if good_end not in easy:
        msg = (
            f"the easy band of {variant.label} must include its easy end {good_end} "
            f"({variant.direction}), got {easy!r}"
        )
        raise ValueError(msg)


def _check_easy(instance: Any, attribute: Any, value: Any) -> None:
    del attribute
    variant = _variant(instance)
    check_band("easy", value, variant.scale)
    _check_easy_end(variant, value)


def _check_net_easy(instance: NetEasyScore, attribute: Any, value: Any) -> None:
    del attribute, value
    variant = _variant(instance)
    check_net_bands(instance.difficult, instance.easy, variant.scale)
    _check_easy_end(variant, instance.easy)


class _VariantMixin:
    """Reference and method text of a CES variant."""

    variant: str

    def ces_variant(self) -> CESVariant:
        """The published form this metric scores."""
        return CES_VARIANTS[self.variant]

    def result_reference(self) -> str:
        """The variant's source."""
        return self.ces_variant().reference


@attrs.frozen
class CustomerEffortScore(_VariantMixin, MeanScoreBase):
    r"""Customer Effort Score: the mean answer of CES 1.0 (lower is better) or CES 2.0 (higher).

    Parameters
    ----------
    item : str
        The effort item.
    variant : {"2.0", "1.0"}
        CES 2.0 (1-7 agreement that the company made it easy, higher is better; default) or
        CES 1.0 (1-5 effort, lower is better). Fixes ``scale`` and ``direction``, which are
        reported in the parameters.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the mean per group of this column as well as overall.
    weighted : bool
        Use the frame's respondent weights.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    .. math::

        \mathrm{CES} = \bar x = \frac{\sum x_i}{n}, \qquad
        \bar x \pm t_{n-1,\,1-\alpha/2}\,\frac{s}{\sqrt n}

    as for :class:`~stickykit.metrics.survey.csat.SatisfactionMean`. The class attribute
    ``higher_is_better`` is ``None`` because the direction depends on the variant: read
    ``params["direction"]``.

    References
    ----------
    Dixon, M., Freeman, K. and Toman, N. (2010). Stop trying to delight your customers.
    *Harvard Business Review* 88(7/8), 116-122 (CES 1.0).
    Dixon, M., Toman, N. and DeLisi, R. (2013). *The Effortless Experience*. Portfolio/Penguin
    (CES 2.0).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"ces": np.array([7, 6, 6, 5, 2], np.int8)})
    >>> m = CustomerEffortScore()
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.params["variant"], r.params["scale"], r.params["direction"]
    (5.2, '2.0', [1, 7], 'higher is better')
    """

    name: ClassVar[str] = "ces"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = (
        "Dixon, Freeman & Toman (2010), HBR 88(7/8), 116-122 (CES 1.0); Dixon, Toman & "
        "DeLisi (2013), The Effortless Experience (CES 2.0)"
    )

    item: str = "ces"
    variant: Variant = attrs.field(default="2.0", validator=attrs.validators.in_(_VARIANTS))
    by: str | None = by_field()
    weighted: bool = weighted_field()
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = min_n_field()
    scale: tuple[int, int] = _scale_field()
    direction: Literal["lower is better", "higher is better"] = _direction_field()

    def summarise_method(self) -> str:
        """The interval method and the variant."""
        return f"t interval; {self.ces_variant().describe()}"


@attrs.frozen
class CESEasyShare(_VariantMixin, BoxShareBase):
    r"""CES share easy: answers at the easy end of CES 1.0 (1-2) or CES 2.0 (5-7).

    Parameters
    ----------
    item : str
        The effort item.
    variant : {"2.0", "1.0"}
        The published form (see :class:`CustomerEffortScore`).
    easy : (int, int)
        The easy answers; by default 5-7 on CES 2.0 and 1-2 on CES 1.0. It must include the
        easy end of the scale.
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the share per group of this column as well as overall.
    weighted : bool
        Use the frame's respondent weights (Kish effective n for the interval).
    interval : {"wilson", "agresti-coull"}
        Interval method.
    alpha : float
        1 - confidence level.
    min_n : int
        Groups with fewer answers are flagged as small.

    Notes
    -----
    :math:`\hat p = x_{easy}/n` with the Wilson interval, as for
    :class:`~stickykit.metrics.survey.csat.CustomerSatisfaction`. Higher is better on both
    variants. The CES 1.0 default (1-2 of 1-5, the two low-effort answers) is stickykit's
    choice; state the band when reporting.

    References
    ----------
    Dixon, M., Toman, N. and DeLisi, R. (2013). *The Effortless Experience*. Portfolio/Penguin.
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"ces": np.array([7, 6, 6, 5, 2], np.int8)})
    >>> m = CESEasyShare()
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.method
    (0.8, 'Wilson score interval; share answering 5-7 of 1-7 (easy), CES 2.0 (1-7 agreement, higher is better)')
    """

    name: ClassVar[str] = "ces_easy"
    reference: ClassVar[str] = CustomerEffortScore.reference

    item: str = "ces"
    variant: Variant = attrs.field(default="2.0", validator=attrs.validators.in_(_VARIANTS))
    easy: tuple[int, int] = _band_field("easy", _check_easy)
    by: str | None = by_field()
    weighted: bool = weighted_field()
    interval: Literal["wilson", "agresti-coull"] = attrs.field(
        default="wilson", validator=attrs.validators.in_(BOX_INTERVALS)
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = min_n_field()
    scale: tuple[int, int] = _scale_field()
    direction: Literal["lower is better", "higher is better"] = _direction_field()

    def box_band(self) -> Band:
        """The easy answers."""
        return self.easy

    def box_name(self) -> str:
        """The easy band and the variant."""
        lo, hi = self.easy
        return (
            f"share answering {lo}-{hi} of {self.scale[0]}-{self.scale[1]} (easy), "
            f"{self.ces_variant().describe()}"
        )


@attrs.frozen
class NetEasyScore(_VariantMixin, NetScoreBase):
    r"""Net Easy: the share of easy minus the share of difficult CES answers, in points.

    Parameters
    ----------
    item : str
        The effort item.
    variant : {"2.0", "1.0"}
        The published form (see :class:`CustomerEffortScore`).
    easy, difficult : (int, int)
        The positive and negative bands; by default 5-7 and 1-3 on CES 2.0, 1-2 and 4-5 on
        CES 1.0 (where low answers are easy).
    by : {"wave", "segment", "instrument", "customer_id"} or None
        Report the score per group of this column as well as overall.
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

        \mathrm{Net\ Easy} = 100\,(p_{easy} - p_{difficult}), \qquad
        \widehat{\mathrm{Var}} = \frac{p + d - (p - d)^2}{n}

    with the intervals of the net score engine. Higher is better on both variants.

    References
    ----------
    Dixon, M., Toman, N. and DeLisi, R. (2013). *The Effortless Experience*. Portfolio/Penguin.
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician* 70(4), 365-372 (the intervals of a net score).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"ces": np.array([1, 1, 2, 3, 5], np.int8)})
    >>> m = NetEasyScore(variant="1.0", interval="wald")
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.details
    (40.0, {'easy': 60.0, 'neutral': 20.0, 'difficult': 20.0})
    """

    name: ClassVar[str] = "net_easy"
    category_names: ClassVar[tuple[str, str, str]] = ("difficult", "neutral", "easy")
    reference: ClassVar[str] = CustomerEffortScore.reference

    item: str = "ces"
    variant: Variant = attrs.field(default="2.0", validator=attrs.validators.in_(_VARIANTS))
    easy: tuple[int, int] = _band_field("easy")
    difficult: tuple[int, int] = _band_field("difficult", _check_net_easy)
    by: str | None = by_field()
    weighted: bool = weighted_field()
    interval: IntervalName = attrs.field(
        default="adjusted-wald", validator=attrs.validators.in_(INTERVALS)
    )
    alpha: float = attrs.field(default=0.05, validator=check_alpha_field)
    min_n: int = min_n_field()
    scale: tuple[int, int] = _scale_field()
    direction: Literal["lower is better", "higher is better"] = _direction_field()

    def bands(self) -> tuple[Band, Band]:
        """Difficult and easy bands."""
        return self.difficult, self.easy

    def method_note(self) -> str:
        """The variant, appended to the interval method."""
        return f"; {self.ces_variant().describe()}"


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the effort metrics: ``ces``, ``ces_easy`` and ``net_easy``."""
    register(CustomerEffortScore)
    register(CESEasyShare)
    register(NetEasyScore)
