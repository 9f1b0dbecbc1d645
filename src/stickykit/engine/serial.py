"""The serial fold and the tree merge: the only ways the engine combines states.

Examples
--------
>>> import numpy as np
>>> from stickykit.frames import SurveyFrame
>>> from stickykit.metrics.survey import NetPromoterScore
>>> m = NetPromoterScore()
>>> f = SurveyFrame(respondent_id=np.arange(3), answers={"nps": np.array([10, 9, 0], np.int8)})
>>> m.finalize(fold(m, [f.slice(0, 1), f.slice(1, 3)])).value
33.333...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from stickykit.metrics.base import Metric

__all__ = ["fold", "tree_merge"]


def fold(metric: Metric, chunks: Iterable[Any]) -> Any:
    """``update`` every chunk into the empty state, in order."""
    state = metric.init()
    for chunk in chunks:
        state = metric.update(state, chunk)
    return state


def tree_merge(metric: Metric, states: Sequence[Any], fan_in: int = 2) -> Any:
    """Merge states pairwise (in groups of ``fan_in``) level by level; empty gives ``init()``."""
    if fan_in < 2:
        msg = f"fan_in must be at least 2, got {fan_in}"
        raise ValueError(msg)
    level = list(states)
    if not level:
        return metric.init()
    while len(level) > 1:
        merged = []
        for start in range(0, len(level), fan_in):
            group = level[start : start + fan_in]
            state = group[0]
            for other in group[1:]:
                state = metric.merge(state, other)
            merged.append(state)
        level = merged
    return level[0]
