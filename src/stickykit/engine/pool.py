"""Updating chunks in worker processes, then merging the states as a tree."""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from stickykit.engine.serial import tree_merge
from stickykit.errors import UnpicklableMetricError
from stickykit.metrics.base import Metric

__all__ = ["check_picklable", "pool_states"]


def check_picklable(metrics: Sequence[Metric]) -> None:
    """Raise :class:`UnpicklableMetricError` naming the first metric that does not pickle."""
    for metric in metrics:
        try:
            pickle.dumps(metric)
        except Exception as exc:
            msg = (
                f"metric {metric.name!r} ({type(metric).__qualname__}) cannot be sent to worker "
                f"processes: {exc}. Define it at module level, or use workers=1."
            )
            raise UnpicklableMetricError(msg) from exc


def _update_chunk(metrics: Sequence[Metric], chunk: Any) -> list[Any]:
    return [metric.update(metric.init(), chunk) for metric in metrics]


def pool_states(metrics: Sequence[Metric], chunks: Iterable[Any], workers: int) -> list[Any]:
    """One merged state per metric, chunks updated in ``workers`` processes (``forkserver``)."""
    check_picklable(metrics)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        per_chunk = list(pool.map(_update_chunk, _repeat(metrics), chunks))
    return [
        tree_merge(metric, [states[i] for states in per_chunk]) for i, metric in enumerate(metrics)
    ]


def _repeat(metrics: Sequence[Metric]) -> Iterable[Sequence[Metric]]:
    while True:
        yield metrics
