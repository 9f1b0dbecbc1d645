"""Testing helpers: the metric law suite and hypothesis strategies (the ``testing`` extra).

Examples
--------
>>> from stickykit.metrics.survey import NetPromoterScore
>>> check_metric(NetPromoterScore(by="wave", weighted=True), max_examples=20)
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stickykit.metrics.base import Metric
from stickykit.testing._laws import check_laws, chunks_at, results_close
from stickykit.testing.strategies import (
    customer_frames,
    event_frames,
    split_points,
    survey_frames,
)

__all__ = [
    "check_laws",
    "check_metric",
    "chunks_at",
    "customer_frames",
    "event_frames",
    "frames_for",
    "results_close",
    "split_points",
    "survey_frames",
]


def frames_for(metric: Metric) -> st.SearchStrategy[Any]:
    """The data strategy a metric's declared ``input_kind`` calls for.

    Survey metrics get answers inside the scales they declare (``metric.scales``, else 0-10 for
    each item in ``metric.requires``).
    """
    if metric.input_kind == "survey":
        scales = getattr(metric, "scales", None)
        if scales is None:
            scales = dict.fromkeys(getattr(metric, "requires", ("nps",)), (0, 10))
        return survey_frames(scales)
    if metric.input_kind == "events":
        return event_frames()
    return customer_frames()


def check_metric(metric: Metric, data: Any = None, *, max_examples: int | None = None) -> None:
    """Check the laws of a metric on generated data (or on ``data``, split many ways).

    The laws: identity, associativity and commutativity of ``merge``; any split of the rows
    (empty chunks, one customer across chunks) gives the state and result of no split; row
    order does not matter; states and the metric pickle. Raises ``AssertionError`` (through
    hypothesis, with the smallest failing example) when a law fails.

    Parameters
    ----------
    metric : Metric
        The metric to check.
    data : frame, optional
        A frame to split and permute; by default frames are generated from the metric's input
        kind (:func:`frames_for`).
    max_examples : int, optional
        Hypothesis examples (default: the active profile's setting).
    """
    strategy = st.just(data) if data is not None else frames_for(metric)
    health = [HealthCheck.too_slow, HealthCheck.data_too_large]
    chosen = (
        settings(deadline=None, suppress_health_check=health)
        if max_examples is None
        else settings(deadline=None, suppress_health_check=health, max_examples=max_examples)
    )

    @chosen
    @given(frame=strategy, draw=st.data())
    def laws(frame: Any, draw: st.DataObject) -> None:
        cuts = draw.draw(split_points(len(frame)), label="cuts")
        order = draw.draw(st.permutations(range(len(frame))), label="order")
        check_laws(metric, frame, cuts, order)

    laws()
