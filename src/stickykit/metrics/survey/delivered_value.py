"""Kotler's customer delivered value: total customer value minus total customer cost.

Two forms, because they need different data:

- :class:`CustomerDeliveredValue`, the registered metric ``"customer_delivered_value"``, takes
  survey ratings of the value and cost components on one anchored scale (int8 answers in a
  :class:`~stickykit.frames.SurveyFrame`) and reports their difference. Ratings are ordinal or
  at best interval-scale, so a difference is meaningful and a ratio is not.
- :func:`value_cost_ratio` takes money amounts (float arrays of total value and total cost per
  customer, in one currency) and reports the value-price ratio. Survey frames hold int8
  answers only and cannot carry money, so the ratio is a plain function over numpy arrays; it
  refuses integer input, which is what survey answers are.

Examples
--------
>>> import numpy as np
>>> r = value_cost_ratio(np.array([120.0, 80.0]), np.array([100.0, 100.0]), currency="EUR")
>>> r.value, r.details["mean_difference"]
(1.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.instruments import Instrument
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.survey.multiitem import (
    Component,
    ItemIndexMetric,
    ScoringPlan,
    item_mean,
    linear,
    weights_converter,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha, z_value

__all__ = ["CustomerDeliveredValue", "value_cost_ratio"]

_SIDES = ("value", "cost")
_KOTLER = (
    "Kotler, Marketing Management, 9th ed. (1997) and 10th ed. (2000), Prentice Hall, ch. 2, "
    "figure 'Determinants of Customer Delivered Value' (page not verified)"
)


@attrs.frozen(kw_only=True)
class CustomerDeliveredValue(ItemIndexMetric):
    r"""Customer delivered value: total customer value minus total customer cost, from ratings.

    Kotler's total customer value is made of product, services, personnel and image value, and
    total customer cost of monetary, time, energy and psychic cost; the customer delivered
    value is their difference. The built-in instrument ``"delivered-value-kotler"`` rates each
    component with generic paraphrased items on one anchored 1-7 scale (1 = very low,
    7 = very high), so value and cost are on the same footing.

    Parameters
    ----------
    instrument : str
        Registered instrument; items carry ``dimension`` ``"value"`` or ``"cost"`` and the
        component as ``facet``.
    weights : mapping of str to float, optional
        Positive importance weights of the components, by name (unnamed ones weigh 1),
        normalised within value and within cost.
    items, by, scale, min_answered, form, alpha, min_n
        As in :class:`~stickykit.metrics.survey.multiitem.ItemIndexMetric`.

    Notes
    -----
    With :math:`V_{rk}` and :math:`C_{rl}` respondent :math:`r`'s component scores (means of
    the answered items, at least :math:`\lceil m\,k \rceil` of a component's :math:`k` items
    with :math:`m` = ``min_answered``) and weights :math:`a_k`, :math:`b_l`:

    .. math::

        TCV_r = \frac{\sum_k a_k V_{rk}}{\sum_k a_k}, \qquad
        TCC_r = \frac{\sum_l b_l C_{rl}}{\sum_l b_l}, \qquad
        CDV_r = TCV_r - TCC_r \in [lo - hi,\ hi - lo]

    Kotler sums the components; stickykit averages them (weights normalised to 1 on each
    side) so that both totals stay on the answer scale and the difference is comparable
    whatever the weights. Every component score is needed (else missing and counted).
    ``value`` is the mean :math:`CDV_r` with a Student *t* interval; positive means the
    customers rate what they get above what it costs them. ``details`` holds each component
    (``"value.product"``, ``"cost.time"``...) and the totals (``"total.value"``,
    ``"total.cost"``) with their intervals. The 0-100 form reports
    :math:`100\,CDV/(hi - lo)`, in [-100, 100], the difference of the totals' 0-100 forms. The
    value-price ratio :math:`TCV/TCC` needs money amounts: see :func:`value_cost_ratio`.

    References
    ----------
    Kotler, P. *Marketing Management: Analysis, Planning, Implementation, and Control*, 9th ed.
    (1997); *Marketing Management*, 10th ed. (2000). Prentice Hall. Chapter 2, the figure
    "Determinants of Customer Delivered Value" and the text around it. No page number is
    given: none could be checked against a printed copy of either edition.
    Student (1908). The probable error of a mean. *Biometrika* 6(1), 1-25.

    Examples
    --------
    One respondent rates every value item 6 and every cost item 3, another value 5 and cost 5
    except the time items (2, so cost (5 + 2 + 5 + 5)/4 = 4.25): CDVs 3 and 0.75.

    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> m = CustomerDeliveredValue()
    >>> answers = {i: np.array([6, 5] if m.plan.items.index(i) < 8 else [3, 5], np.int8)
    ...            for i in m.requires}
    >>> answers["cdv_time_1"] = answers["cdv_time_2"] = np.array([3, 2], np.int8)
    >>> r = m.finalize(m.update(m.init(), SurveyFrame(answers=answers)))
    >>> r.value, r.details["total.cost"], r.details["cost.time"]
    (1.875, 3.625, 2.5)
    >>> r.unit
    'scale points (1-7 answers)'
    """

    name: ClassVar[str] = "customer_delivered_value"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = f"{_KOTLER}; intervals: Student (1908), Biometrika 6(1), 1-25"
    default_instrument: ClassVar[str] = "delivered-value-kotler"
    headline: ClassVar[str] = "delivered value"

    weights: tuple[tuple[str, float], ...] | None = attrs.field(
        default=None, converter=weights_converter
    )

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        """Component means, the two weighted totals and their difference."""
        chosen = self.chosen_items(instrument)
        scale = self.common_scale(chosen, instrument)
        sides: dict[str, dict[str, list[int]]] = {side: {} for side in _SIDES}
        for position, item in enumerate(chosen):
            if item.dimension not in sides or item.facet is None:
                raise self._error(
                    "instrument",
                    item.id,
                    "items with dimension 'value' or 'cost' and a component as facet",
                )
            sides[item.dimension].setdefault(item.facet, []).append(position)
        every = {(item.dimension, item.facet) for item in instrument.select(battery="main")}
        for side, component in sorted(every, key=str):
            if component not in sides.get(side, {}):
                raise self._error(
                    "items", list(self.items or ()), f"at least one item of {component!r}"
                )
        names = [name for side in _SIDES for name in sides[side]]
        if not sides["value"] or not sides["cost"] or len(set(names)) != len(names):
            raise self._error("instrument", names, "value and cost components with distinct names")
        weights = self.check_weight_names(names)
        components: list[Component] = [
            item_mean(side, name, positions, scale, len(positions), self.min_answered)
            for side in _SIDES
            for name, positions in sides[side].items()
        ]
        totals: list[Component] = []
        start = 0
        for side in _SIDES:
            parts = list(range(start, start + len(sides[side])))
            raw = [weights.get(name, 1.0) for name in sides[side]]
            coefficients = [w / sum(raw) for w in raw]
            totals.append(linear("total", side, parts, coefficients, components))
            start += len(sides[side])
        components += totals
        n = len(components)
        difference = linear("overall", "delivered_value", (n - 2, n - 1), (1.0, -1.0), components)
        return ScoringPlan(
            items=[item.id for item in chosen],
            scales=[scale] * len(chosen),
            reverse=[item.reverse for item in chosen],
            scale=scale,
            components=[*components, difference],
        )


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _money(values: ArrayLike, field: str) -> NDArray[np.float64]:
    array = np.asarray(values)
    if array.dtype.kind != "f":
        raise ValidationError(
            record="value_cost_ratio",
            field=field,
            row=None,
            value=str(array.dtype),
            expected=(
                "money amounts as a float array (ratio scale); survey ratings such as int8 "
                "answers are not ratio-scale: use customer_delivered_value for their difference"
            ),
        )
    if array.ndim != 1:
        raise ValidationError(
            record="value_cost_ratio",
            field=field,
            row=None,
            value=array.shape,
            expected="a one-dimensional array",
        )
    return array.astype(np.float64, copy=False)


def value_cost_ratio(
    value: ArrayLike,
    cost: ArrayLike,
    *,
    currency: str,
    alpha: float = 0.05,
    min_n: int = 30,
) -> MetricResult:
    r"""Kotler's value-price ratio :math:`TCV/TCC` from money amounts, with its interval.

    Parameters
    ----------
    value : numpy.ndarray
        float, each customer's total customer value in money (e.g. what the product, services,
        staff and image are worth to the customer), at least 0; NaN = missing.
    cost : numpy.ndarray
        float, the same customers' total customer cost in money (price plus the money value of
        time, effort and worry), above 0; NaN = missing.
    currency : str
        The currency of both amounts (required: stating it confirms the inputs are money).
    alpha : float
        1 - confidence level.
    min_n : int
        Fewer complete pairs are flagged as a small sample.

    Returns
    -------
    MetricResult
        ``value`` is :math:`\sum_i V_i / \sum_i C_i` over complete pairs; ``details`` holds
        ``mean_value``, ``mean_cost``, ``mean_difference`` (the delivered value in money) and
        ``mean_of_ratios``; ``n_missing`` counts pairs with a NaN.

    Raises
    ------
    ValidationError
        For integer or boolean input (survey answers are not ratio-scale), arrays of different
        lengths, an infinite amount, a negative value or a cost of 0 or less (naming the first
        row and the number of failing rows).
    InsufficientDataError
        When no pair is complete.

    Notes
    -----
    A ratio is meaningful only on a ratio scale, with a true zero: money, not ratings. The
    ratio of the means is the classical ratio estimator; its large-sample variance is

    .. math::

        \widehat{\mathrm{Var}}(\hat R) = \frac{1}{n\,\bar C^2}\,
        \frac{\sum_i (V_i - \hat R C_i)^2}{n - 1}, \qquad
        \hat R \pm z_{1-\alpha/2}\sqrt{\widehat{\mathrm{Var}}(\hat R)}

    (delta method), with the lower limit clipped at 0. ``mean_of_ratios``, the mean of the
    per-customer ratios, weighs every customer equally and is generally larger.

    References
    ----------
    Kotler, P. *Marketing Management*, 9th ed. (1997) and 10th ed. (2000). Prentice Hall,
    chapter 2 (the value-price ratio beside the figure "Determinants of Customer Delivered
    Value"; page not verified).
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, chapter 6 (ratio estimators).

    Examples
    --------
    >>> import numpy as np
    >>> r = value_cost_ratio(np.array([150.0, 90.0, 60.0, np.nan]),
    ...                      np.array([100.0, 100.0, 50.0, 80.0]), currency="EUR")
    >>> round(r.value, 4), r.n, r.n_missing, r.details["mean_difference"]
    (1.2, 3, 1, 16.666...)
    >>> value_cost_ratio(np.array([6, 5], np.int8), np.array([3, 5], np.int8), currency="EUR")
    Traceback (most recent call last):
    ...
    stickykit.errors.ValidationError: value_cost_ratio.value: 'int8' is invalid, expected money amounts ...
    """
    check_alpha(alpha)
    if not _is_text(currency):
        raise ValidationError(
            record="value_cost_ratio",
            field="currency",
            row=None,
            value=currency,
            expected="the currency of the amounts, e.g. 'EUR'",
        )
    if type(min_n) is not int or min_n < 1:
        msg = f"min_n must be a positive integer, got {min_n!r}"
        raise ValueError(msg)
    v = _money(value, "value")
    c = _money(cost, "cost")
    if len(v) != len(c):
        raise ValidationError(
            record="value_cost_ratio",
            field="cost",
            row=None,
            value=len(c),
            expected=f"as many amounts as value ({len(v)})",
        )
    complete = ~(np.isnan(v) | np.isnan(c))
    for field, array, bad, expected in (
        ("value", v, np.isinf(v) | (complete & (v < 0)), "a finite amount >= 0"),
        ("cost", c, np.isinf(c) | (complete & (c <= 0)), "a finite amount > 0"),
    ):
        rows = np.flatnonzero(bad)
        if rows.size:
            raise ValidationError(
                record="value_cost_ratio",
                field=field,
                row=int(rows[0]),
                value=float(array[rows[0]]),
                expected=expected,
                n_failing=int(rows.size),
            )
    v, c = v[complete], c[complete]
    n = len(v)
    if n == 0:
        msg = "no customer has both a value and a cost amount"
        raise InsufficientDataError(msg)
    ratio = float(v.sum() / c.sum())
    mean_cost = float(c.mean())
    se = low = high = math.nan
    if n > 1:
        residual = v - ratio * c
        se = math.sqrt(float(residual @ residual) / (n - 1) / n) / mean_cost
        z = z_value(alpha)
        low, high = max(0.0, ratio - z * se), ratio + z * se
    flags: list[str] = []
    if n == 1:
        flags.append("no interval: fewer than 2 customers")
    if n < min_n:
        flags.append(f"small sample: n = {n} < {min_n}")
    return MetricResult(
        metric="value_cost_ratio",
        value=ratio,
        n=n,
        n_missing=int(np.count_nonzero(~complete)),
        se=None if math.isnan(se) else se,
        ci_low=None if math.isnan(low) else low,
        ci_high=None if math.isnan(high) else high,
        level=1 - alpha,
        method="delta method for the ratio of means, normal interval clipped at 0",
        reference=f"{_KOTLER}; variance: Cochran (1977), Sampling Techniques, 3rd ed., ch. 6",
        params={"currency": currency, "alpha": alpha, "min_n": min_n},
        as_of=None,
        version=package_version(),
        unit="ratio",
        flags=tuple(flags),
        details={
            "mean_value": float(v.mean()),
            "mean_cost": mean_cost,
            "mean_difference": float((v - c).mean()),
            "mean_of_ratios": float((v / c).mean()),
        },
    )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the customer delivered value."""
    register(CustomerDeliveredValue)
