"""The switching-cost index on the typology of Burnham, Frels & Mahajan (2003)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from stickykit.instruments import Instrument
from stickykit.metrics.survey.multiitem import (
    Component,
    ItemIndexMetric,
    ScoringPlan,
    item_mean,
    linear,
    weights_converter,
)
from stickykit.plugins.hookspecs import hookimpl

__all__ = ["SwitchingCostIndex"]


@attrs.frozen(kw_only=True)
class SwitchingCostIndex(ItemIndexMetric):
    r"""Switching-cost index: facet, type and overall scores on the Burnham et al. typology.

    Burnham, Frels & Mahajan (2003) describe eight facets of switching cost in three types:
    procedural (economic risk, evaluation, learning, set-up), financial (benefit loss,
    monetary loss) and relational (personal and brand relationship loss). The built-in
    instrument ``"switching-costs-bfm2003"`` holds generic paraphrased items for each facet on a
    1-5 agreement scale (its ``notes`` say what is stickykit's choice).

    Parameters
    ----------
    instrument : str
        Registered instrument; items carry the type as ``dimension`` and the facet as ``facet``.
    weights : mapping of str to float, optional
        Positive weights of facets (within their type) and of types (within the overall
        index), by name; unnamed ones weigh 1. Equal weights by default.
    items, by, scale, min_answered, form, alpha, min_n
        As in :class:`~stickykit.metrics.survey.multiitem.ItemIndexMetric`.

    Notes
    -----
    For respondent :math:`r`, on an answer scale :math:`[lo, hi]` (:math:`[1, K]`), with
    :math:`A_{rf}` the answered items of facet :math:`f` (:math:`k_f` items) and weights
    :math:`w`:

    .. math::

        x'_{ri} &= lo + hi - x_{ri} \ \text{(reverse-keyed items; } K + 1 - x \text{ on } 1..K),
        \qquad
        F_{rf} = \frac{1}{|A_{rf}|}\sum_{i \in A_{rf}} x'_{ri}
        \ \text{ if } |A_{rf}| \ge \lceil m\,k_f \rceil, \\
        T_{rt} &= \frac{\sum_{f \in t} w_f F_{rf}}{\sum_{f \in t} w_f}, \qquad
        SC_r = \frac{\sum_t w_t T_{rt}}{\sum_t w_t}, \qquad
        SC = \frac{1}{n}\sum_r SC_r \pm t_{n-1,\,1-\alpha/2}\,\frac{s}{\sqrt n}

    with :math:`m` = ``min_answered`` (0.5: at least half the facet's items). A facet score
    with too few answers is missing; a type score needs every facet of its type and the
    overall score every type (missing otherwise); missing scores are counted in ``n_missing``
    and never scored as low. The 0-100 form is :math:`100\,(SC - lo)/(hi - lo)`.

    ``value`` is the mean overall score; ``details`` holds, per facet (``"facet.learning"``)
    and type (``"type.procedural"``), the mean with ``.se``, ``.ci_low``, ``.ci_high``, ``.n``
    and ``.n_missing`` (read them as a table with
    :func:`~stickykit.metrics.survey.multiitem.component_scores`), and ``n_empty``, the
    respondents who answered no item. The paper treats the facets as latent constructs and
    publishes no index: this mean-score index is stickykit's mergeable summary of it. Check
    each facet's reliability (Cronbach's alpha of .70 or more) before combining facets.

    References
    ----------
    Burnham, T. A., Frels, J. K. & Mahajan, V. (2003). Consumer switching costs: A typology,
    antecedents, and consequences. *Journal of the Academy of Marketing Science* 31(2),
    109-126.
    Student (1908). The probable error of a mean. *Biometrika* 6(1), 1-25.

    Examples
    --------
    Two respondents answer every item 4, except 2 on the three reverse-keyed items (scored
    6 - 2 = 4); the second answers 5 on the monetary-loss items (financial type
    (4 + 5)/2 = 4.5, overall (4 + 4.5 + 4)/3 = 4.1667, mean of the two 4.0833):

    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> m = SwitchingCostIndex()
    >>> [item for item, r in zip(m.requires, m.plan.reverse) if r]
    ['sc_learn_3', 'sc_learn_4', 'sc_setup_4']
    >>> answers = {item: np.array([2, 2] if r else [4, 4], np.int8)
    ...            for item, r in zip(m.requires, m.plan.reverse)}
    >>> answers["sc_money_1"] = answers["sc_money_2"] = np.array([4, 5], np.int8)
    >>> r = m.finalize(m.update(m.init(), SurveyFrame(answers=answers)))
    >>> round(r.value, 4), r.n, r.details["type.financial"], r.details["facet.learning"]
    (4.0833, 2, 4.25, 4.0)
    >>> r.flags
    ('small sample: n = 2 < 30',)
    """

    name: ClassVar[str] = "switching_cost_index"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = (
        "Burnham, Frels & Mahajan (2003), Journal of the Academy of Marketing Science 31(2), "
        "109-126; intervals: Student (1908), Biometrika 6(1), 1-25"
    )
    default_instrument: ClassVar[str] = "switching-costs-bfm2003"
    headline: ClassVar[str] = "switching-cost index"

    weights: tuple[tuple[str, float], ...] | None = attrs.field(
        default=None, converter=weights_converter
    )

    def build_plan(self, instrument: Instrument) -> ScoringPlan:
        """Facets (item means), types (facet means) and the overall index (mean of types)."""
        chosen = self.chosen_items(instrument)
        scale = self.common_scale(chosen, instrument)
        structure: dict[str, dict[str, list[int]]] = {
            dimension: {} for dimension in instrument.dimensions
        }
        for position, item in enumerate(chosen):
            if item.facet is None:
                raise self._error(
                    "instrument", item.id, f"a facet for every item of {instrument.name!r}"
                )
            structure[item.dimension].setdefault(item.facet, []).append(position)
        every_facet: dict[str, str] = {}
        for item in instrument.select(battery="main"):
            every_facet.setdefault(str(item.facet), item.dimension)
        for facet, dimension in every_facet.items():
            if facet not in structure[dimension]:
                raise self._error(
                    "items", list(self.items or ()), f"at least one item of facet {facet!r}"
                )
        types = [t for t in instrument.dimensions if structure[t]]
        facets = [f for t in types for f in structure[t]]
        if len(set(facets)) != len(facets):
            raise self._error("instrument", facets, "facet names unique across types")
        weights = self.check_weight_names([*facets, *types])
        components: list[Component] = []
        for t in types:
            for facet, positions in structure[t].items():
                components.append(
                    item_mean(
                        "facet",
                        facet,
                        positions,
                        scale,
                        len(positions),
                        self.min_answered,
                    )
                )
        index = {c.name: i for i, c in enumerate(components)}
        for t in types:
            parts = [index[f] for f in structure[t]]
            components.append(
                linear("type", t, parts, _normalised(structure[t], weights), components)
            )
        type_parts = [len(facets) + i for i in range(len(types))]
        components.append(
            linear("overall", "index", type_parts, _normalised(types, weights), components)
        )
        return ScoringPlan(
            items=[item.id for item in chosen],
            scales=[scale] * len(chosen),
            reverse=[item.reverse for item in chosen],
            scale=scale,
            components=components,
        )


def _normalised(names: Any, weights: dict[str, float]) -> list[float]:
    raw = [weights.get(name, 1.0) for name in names]
    total = sum(raw)
    return [w / total for w in raw]


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the switching-cost index."""
    register(SwitchingCostIndex)
