"""The relationship-benefit index on the benefit types of Gwinner, Gremler & Bitner (1998)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from stickykit.instruments import Instrument
from stickykit.metrics.survey.multiitem import (
    Component,
    ItemIndexMetric,
    ScoringPlan,
    importance_weighted,
    item_mean,
    linear,
    weights_converter,
)
from stickykit.plugins.hookspecs import hookimpl

__all__ = ["RESPECT", "RelationshipBenefitIndex"]

#: The optional benefit scored only with ``respect=True``.
RESPECT = "respect"


@attrs.frozen(kw_only=True)
class RelationshipBenefitIndex(ItemIndexMetric):
    r"""Relationship-benefit index: confidence, social and special-treatment benefit scores.

    Gwinner, Gremler & Bitner (1998) name three benefits customers get from a long-term
    relationship with a service firm beyond the core service: confidence benefits (less
    anxiety, trust), social benefits (being known, personal contact) and special-treatment
    benefits (deals, faster or extra service). The built-in instrument
    ``"relationship-benefits-ggb1998"`` holds generic paraphrased items on a 1-7 agreement
    scale, an optional ``respect`` benefit, and one importance item per benefit.

    Parameters
    ----------
    instrument : str
        Registered instrument; each item's ``dimension`` is its benefit, importance items are
        in the ``"importance"`` battery.
    respect : bool
        Also score the optional ``respect`` facet (off by default). It is not part of the 1998
        typology; stickykit offers it as a user facet and cites no source for it.
    importance : bool
        Weight each respondent's benefits by his or her own importance answers (the
        ``"importance"`` battery, one item per benefit) instead of equally.
    weights : mapping of str to float, optional
        Fixed positive weights of the benefits, by name (unnamed ones weigh 1); not together
        with ``importance``.
    items, by, scale, min_answered, form, alpha, min_n
        As in :class:`~stickykit.metrics.survey.multiitem.ItemIndexMetric`; ``scale``
        overrides the benefit items' scale, not the importance items'.

    Notes
    -----
    With :math:`A_{rb}` the answered items of benefit :math:`b` (:math:`k_b` items) and
    :math:`m` = ``min_answered``:

    .. math::

        B_{rb} = \frac{1}{|A_{rb}|}\sum_{i \in A_{rb}} x_{ri}
        \ \text{ if } |A_{rb}| \ge \lceil m\,k_b \rceil, \qquad
        RB_r = \frac{\sum_b I_{rb} B_{rb}}{\sum_b I_{rb}}

    with :math:`I_{rb} = 1` (equal weights, the mean of the benefits), a fixed weight
    :math:`w_b`, or the respondent's importance answer for benefit :math:`b`. The index
    needs every benefit score (and, when importance-weighted, every importance answer, with a
    positive sum); a missing score is counted in ``n_missing``. ``value`` is the mean of
    :math:`RB_r` with a Student *t* interval; per-benefit means and intervals are in
    ``details`` (``"facet.confidence"``, ``"facet.confidence.ci_low"``...). Importance
    weighting uses the importance answers as weights as given, so their scale must start at 0
    or above. The 0-100 form is :math:`100\,(RB - lo)/(hi - lo)`. Check each benefit's
    reliability before combining them.

    References
    ----------
    Gwinner, K. P., Gremler, D. D. & Bitner, M. J. (1998). Relational benefits in services
    industries: The customer's perspective. *Journal of the Academy of Marketing Science*
    26(2), 101-114.
    Student (1908). The probable error of a mean. *Biometrika* 6(1), 1-25.

    Examples
    --------
    Benefit scores (confidence, social, special) of (6, 4, 2) and (7, 5, 3) give indices 4 and
    5; weighted by importance answers (7, 4, 1) and (1, 1, 1), (42 + 16 + 2)/12 = 5 and 5:

    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> m = RelationshipBenefitIndex(importance=True)
    >>> level = {"conf": [6, 7], "social": [4, 5], "special": [2, 3]}
    >>> answers = {i: np.array(level[i.split("_")[1]], np.int8) for i in m.requires
    ...            if not i.startswith("rb_imp")}
    >>> answers.update(rb_imp_confidence=np.array([7, 1], np.int8),
    ...                rb_imp_social=np.array([4, 1], np.int8),
    ...                rb_imp_special_treatment=np.array([1, 1], np.int8))
    >>> frame = SurveyFrame(answers=answers)
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> r.value, r.details["facet.confidence"], r.se
    (5.0, 6.5, 0.0)
    >>> plain = RelationshipBenefitIndex()
    >>> plain.finalize(plain.update(plain.init(), frame)).value
    4.5
    """

    name: ClassVar[str] = "relationship_benefit_index"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = (
        "Gwinner, Gremler & Bitner (1998), Journal of the Academy of Marketing Science 26(2), "
        "101-114; intervals: Student (1908), Biometrika 6(1), 1-25"
    )
    default_instrument: ClassVar[str] = "relationship-benefits-ggb1998"
    headline: ClassVar[str] = "relationship-benefit index"

    respect: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    importance: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    weights: tuple[tuple[str, float], ...] | None = attrs.field(
        default=None, converter=weights_converter
    )

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        """One item-mean facet per benefit and their (weighted) mean."""
        if self.importance and self.weights is not None:
            msg = "weights and importance=True are alternatives: pass one of them"
            raise ValueError(msg)
        benefits = [d for d in instrument.dimensions if d != RESPECT or self.respect]
        if self.respect and RESPECT not in instrument.dimensions:
            raise self._error(
                "respect", True, f"a {RESPECT!r} dimension in instrument {instrument.name!r}"
            )
        chosen = [item for item in self.chosen_items(instrument) if item.dimension in benefits]
        scale = self.common_scale(chosen, instrument)
        positions: dict[str, list[int]] = {b: [] for b in benefits}
        for position, item in enumerate(chosen):
            positions[item.dimension].append(position)
        for benefit, found in positions.items():
            if not found:
                raise self._error("items", benefit, f"at least one item of benefit {benefit!r}")
        weights = self.check_weight_names(benefits)
        item_ids = [item.id for item in chosen]
        scales = [scale] * len(chosen)
        reverse = [item.reverse for item in chosen]
        components: list[Component] = [
            item_mean("facet", b, positions[b], scale, len(positions[b]), self.min_answered)
            for b in benefits
        ]
        parts = list(range(len(benefits)))
        if self.importance:
            weight_items = []
            for benefit in benefits:
                twins = [
                    item
                    for item in instrument.select(battery="importance")
                    if item.dimension == benefit
                ]
                if len(twins) != 1:
                    raise self._error(
                        "importance",
                        [item.id for item in twins],
                        f"one importance item for benefit {benefit!r}",
                    )
                twin = twins[0]
                if twin.scale[0] < 0:
                    raise self._error(
                        "importance", twin.scale, f"an answer scale from 0 up for {twin.id!r}"
                    )
                weight_items.append(len(item_ids))
                item_ids.append(twin.id)
                scales.append(twin.scale)
                reverse.append(False)
            overall = importance_weighted("overall", "index", parts, weight_items, components)
        else:
            raw = [weights.get(b, 1.0) for b in benefits]
            coefficients = [w / sum(raw) for w in raw]
            overall = linear("overall", "index", parts, coefficients, components)
        return ScoringPlan(
            items=item_ids,
            scales=scales,
            reverse=reverse,
            scale=scale,
            components=[*components, overall],
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the relationship-benefit index."""
    register(RelationshipBenefitIndex)
