"""Any registered metric over a dask DataFrame, on the dask scheduler in effect.

Each partition becomes one task that turns the partition's columns into numpy arrays (one
conversion per column, never row tuples), validates them with the loader of the metrics' input
kind and updates fresh states with the metrics' own ``update``. The ``(states, read summary)``
pairs are then merged as a tree of delayed tasks, ``split_every`` at a time and always left
before right, the shape of dask's own chunk/combine/aggregate reductions. Nothing here knows
any particular metric: every registered metric runs through its ``init``, ``update`` and
``merge``, so the result equals the single-process one.

Examples
--------
>>> import dask
>>> import dask.dataframe as dd
>>> import pandas as pd
>>> from stickykit.plugins.registry import get_metric
>>> answers = dd.from_pandas(pd.DataFrame({"nps": [10, 9, 3, 7, 0, 10]}), npartitions=3)
>>> nps = get_metric("nps")
>>> with dask.config.set(scheduler="synchronous"):
...     run = dask_run([nps], answers)
>>> nps.finalize(run.states[0]).value, run.summary.n_read, run.summary.n_batches
(16.666..., 6, 3)
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from stickykit.core._time import datetime_to_us
from stickykit.engine._compute import _wanted
from stickykit.engine.stream import BatchRun, _Options, _update
from stickykit.errors import (
    DaskRunError,
    MissingDependencyError,
    UnpicklableMetricError,
    ValidationError,
)
from stickykit.errors import _where as partitions_text
from stickykit.io._source import read_columns
from stickykit.io.batches import Batch
from stickykit.io.quarantine import ReadSummary
from stickykit.metrics.base import Metric

__all__ = ["DEFAULT_SPLIT_EVERY", "DaskRunError", "dask_run"]

#: Partial results merged by one task of the merge tree unless ``split_every`` says otherwise.
DEFAULT_SPLIT_EVERY = 8

_Part = tuple[list[Any], ReadSummary]


@attrs.frozen(eq=False)
class _PartitionBatch(Batch):
    """A whole partition as one batch; messages name the partition alone."""

    @property
    def where(self) -> str:
        """``"dask partition <i> of <n>"``, the prefix of every message about this partition."""
        return self.source


def _update_partition(
    metrics: Sequence[Metric], partition: Any, index: int, n_partitions: int, options: _Options
) -> _Part:
    """Fresh states updated with one partition (rows numbered within the partition).

    An empty partition (a filter or a repartition leaves them) contributes fresh states and
    no rows; the loaders, which refuse an empty source, do not see it.
    """
    columns = read_columns(partition)
    if columns.n == 0:
        return [m.init() for m in metrics], ReadSummary(n_batches=1)
    batch = _PartitionBatch(
        columns,
        np.arange(columns.n, dtype=np.int64),
        index,
        partitions_text((index,), n_partitions),
        n_read=columns.n,
    )
    return _update(metrics, None, batch, options)


def _merge_parts(metrics: Sequence[Metric], parts: Sequence[_Part]) -> _Part:
    """Merge partial results left to right (states and read summaries alike)."""
    states, summary = parts[0]
    for other, other_summary in parts[1:]:
        states = [m.merge(a, b) for m, a, b in zip(metrics, states, other, strict=True)]
        summary = summary.merge(other_summary)
    return states, summary


def _dask() -> Any:
    try:
        import dask  # noqa: PLC0415
    except ImportError as exc:
        msg = "running on a dask DataFrame needs dask: pip install 'stickykit[dask]'"
        raise MissingDependencyError(msg) from exc
    return dask


def _killed_worker() -> tuple[type[BaseException], ...]:
    """``distributed.KilledWorker``, or nothing when distributed is not installed."""
    try:
        from distributed import KilledWorker  # noqa: PLC0415
    except ImportError:  # the local schedulers lose no workers
        return ()
    return (KilledWorker,)


def _check_picklable(metrics: Sequence[Metric]) -> None:
    """Raise :class:`UnpicklableMetricError` naming the first metric cloudpickle cannot send."""
    import cloudpickle  # type: ignore[import-untyped]  # noqa: PLC0415 - comes with dask

    for metric in metrics:
        try:
            cloudpickle.dumps(metric)
        except Exception as exc:
            msg = (
                f"metric {metric.name!r} ({type(metric).__qualname__}) cannot be sent to dask "
                f"workers: {exc}"
            )
            raise UnpicklableMetricError(msg) from exc


def _options(
    metrics: Sequence[Metric],
    errors: str,
    load_kwargs: Mapping[str, Any] | None,
    as_of: dt.datetime | None,
) -> _Options:
    if errors not in ("raise", "quarantine"):
        msg = f"errors must be 'raise' or 'quarantine', got {errors!r}"
        raise ValueError(msg)
    if not metrics:
        msg = "dask_run needs at least one metric"
        raise ValueError(msg)
    kinds = {m.input_kind for m in metrics}
    if len(kinds) != 1:
        msg = f"metrics run together must read one input kind, got {sorted(kinds)}"
        raise ValueError(msg)
    kind = kinds.pop()
    kwargs = dict(load_kwargs or {})
    if kind == "survey" and not kwargs.get("items"):
        kwargs["items"] = list(
            dict.fromkeys(item for m in metrics for item in getattr(m, "requires", ()))
        )
    cutoff = None
    if as_of is not None:
        if getattr(as_of, "tzinfo", None) is None:
            raise ValidationError(
                record="compute",
                field="as_of",
                row=None,
                value=as_of,
                expected="a timezone-aware datetime",
            )
        cutoff = np.datetime64(datetime_to_us(as_of.astimezone(dt.UTC)), "us")
    return _Options(kind, errors, kwargs, cutoff)


def _select(frame: Any, wanted: set[str]) -> Any:
    """The columns the loader reads (an index named like one of them becomes a column)."""
    if getattr(frame, "ndim", None) != 2 or not hasattr(frame, "to_delayed"):
        msg = (
            f"dask_run needs a dask DataFrame, got {type(frame).__module__}.{type(frame).__name__}"
        )
        raise TypeError(msg)
    index_name = getattr(frame.index, "name", None)
    if isinstance(index_name, str) and index_name in wanted and index_name not in frame.columns:
        frame = frame.reset_index()
    keep = [name for name in frame.columns if name in wanted]
    return frame if keep == list(frame.columns) else frame[keep]


def _graph(
    dask: Any, metrics: list[Metric], parts: Sequence[Any], options: _Options, every: int
) -> tuple[Any, dict[Any, range]]:
    """The delayed root of the update and merge tasks, and the partitions behind each key.

    Level 0 updates each partition; each further level merges runs of ``every`` consecutive
    results, left before right, until one is left (a run of one passes up unchanged).
    """
    token = uuid.uuid4().hex[:16]
    n_parts = len(parts)
    spans: dict[Any, range] = {part.key: range(i, i + 1) for i, part in enumerate(parts)}
    level: list[tuple[Any, range]] = []
    for i, part in enumerate(parts):
        key: tuple[Any, ...] = (f"stickykit-update-{token}", i)
        task = dask.delayed(_update_partition)(
            metrics, part, i, n_parts, options, dask_key_name=key
        )
        level.append((task, range(i, i + 1)))
        spans[key] = range(i, i + 1)
    depth = 0
    while len(level) > 1:
        depth += 1
        merged: list[tuple[Any, range]] = []
        for j, start in enumerate(range(0, len(level), every)):
            group = level[start : start + every]
            if len(group) == 1:
                merged.append(group[0])
                continue
            key = (f"stickykit-merge-{token}", depth, j)
            task = dask.delayed(_merge_parts)(
                metrics, [node for node, _ in group], dask_key_name=key
            )
            span = range(group[0][1].start, group[-1][1].stop)
            merged.append((task, span))
            spans[key] = span
        level = merged
    return level[0][0], spans


def dask_run(
    metrics: Sequence[Metric],
    frame: Any,
    *,
    errors: str = "raise",
    load_kwargs: Mapping[str, Any] | None = None,
    as_of: dt.datetime | None = None,
    split_every: int | None = None,
    columns: set[str] | None = None,
) -> BatchRun:
    """Update the metrics' states over every partition of a dask DataFrame and merge them.

    One task per partition converts its columns to numpy, validates them and updates fresh
    states; a tree of tasks merges the partial results, at most ``split_every`` at a time and
    left before right, so the result does not depend on when workers finish. The graph runs on
    the scheduler in effect: the ``distributed.Client`` created last (or set with
    ``dask.config.set(scheduler=...)``), else dask's default threads. Each worker task holds one
    partition plus the states; the merge tasks hold ``split_every`` states.

    Parameters
    ----------
    metrics : sequence of Metric
        Metrics reading the same input kind; every one is updated in the same pass.
    frame : dask dataframe
        The data, one row per event, answer or customer. Only the columns the loader reads are
        taken from it; an index named like one of them (after ``set_index("customer_id")``)
        is read as that column.
    errors : {"raise", "quarantine"}
        Stop at the first bad row, naming the partition and the row within it, or leave bad
        rows out and count them in the summary.
    load_kwargs : mapping, optional
        Passed to the loader (``columns``, ``tz``, ``items``...).
    as_of : datetime, optional
        Timezone-aware; rows at or after it are left out.
    split_every : int, optional
        Fan-in of the merge tree (default :data:`DEFAULT_SPLIT_EVERY`, at least 2).
    columns : set of str, optional
        The source columns to take from ``frame``; by default those the loader reads.

    Returns
    -------
    BatchRun
        The merged states, in the order of ``metrics``, and the read summary (one batch per
        partition).

    Raises
    ------
    ValidationError
        A bad value with ``errors="raise"``; the message starts with ``dask partition <i> of <n>``
        and gives the row within the partition.
    DaskRunError
        A task whose workers kept dying, after dask's retries (``distributed.KilledWorker``).
    UnpicklableMetricError
        When a metric cannot be sent to the workers (cloudpickle fails on it).
    MissingDependencyError
        When dask is not installed (the ``dask`` extra).

    Examples
    --------
    >>> import dask
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> from stickykit.plugins.registry import get_metric
    >>> events = pd.DataFrame({
    ...     "customer_id": [1, 2, 1, 3],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-02-01",
    ...                                  "2024-02-03"], utc=True),
    ...     "amount": [10.0, 5.0, 7.5, 2.0]})
    >>> m = get_metric("repeat_customer_rate")
    >>> with dask.config.set(scheduler="synchronous"):
    ...     run = dask_run([m], dd.from_pandas(events, npartitions=2), split_every=2)
    >>> m.finalize(run.states[0]).value, run.summary.n_accepted
    (0.333..., 4)

    (Customer 1 bought twice, customers 2 and 3 once: one repeat customer in three.)

    References
    ----------
    Rocklin, M. (2015). Dask: parallel computation with blocked algorithms and task
    scheduling. *Proceedings of the 14th Python in Science Conference* (SciPy 2015), 130-136
    (blocked reductions as a tree of chunk and combine tasks).
    """
    dask = _dask()
    options = _options(metrics, errors, load_kwargs, as_of)
    _check_picklable(metrics)
    every = DEFAULT_SPLIT_EVERY if split_every is None else split_every
    if isinstance(every, bool) or every < 2:
        msg = f"split_every must be an integer >= 2, got {split_every!r}"
        raise ValueError(msg)
    wanted = set(columns) if columns is not None else _wanted(options.kind, options.load_kwargs)
    parts = _select(frame, wanted).to_delayed(optimize_graph=True)
    n_parts = len(parts)
    if n_parts == 0:
        return BatchRun([m.init() for m in metrics], ReadSummary())
    root, spans = _graph(dask, list(metrics), parts, options, every)
    try:
        states, summary = root.compute()
    except _killed_worker() as exc:
        task = getattr(exc, "task", None)
        raise DaskRunError(
            metrics=[m.name for m in metrics],
            task=str(task),
            partitions=tuple(spans.get(task, ())),
            n_partitions=n_parts,
            attempts=int(getattr(exc, "allowed_failures", 0)) + 1,
            worker=getattr(getattr(exc, "last_worker", None), "address", None),
        ) from exc
    return BatchRun(list(states), summary)
