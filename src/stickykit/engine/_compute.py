"""``compute``: the one public entry point that runs metrics over a source."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs
import numpy as np

from stickykit.core._time import datetime_to_us
from stickykit.core.records import Customer, Event, Survey
from stickykit.core.schema import SOURCE_FIELDS
from stickykit.engine.pool import pool_states
from stickykit.engine.serial import fold
from stickykit.engine.stream import RECORD_NAMES, BatchRun, loader_of, run_batches
from stickykit.errors import MissingDependencyError, ValidationError
from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame, iter_chunks
from stickykit.io import LoadResult
from stickykit.io.batches import is_streamable, iter_batches
from stickykit.io.quarantine import ReadSummary, raise_first, rejected_rows
from stickykit.metrics.base import Metric, MetricResult
from stickykit.plugins.registry import Registry, default_registry

__all__ = ["StateRun", "compute", "compute_states"]

_FRAMES: dict[str, type[Any]] = {
    "survey": SurveyFrame,
    "events": EventFrame,
    "customers": CustomerFrame,
}
_RECORDS: dict[type[Any], str] = {Survey: "survey", Event: "events", Customer: "customers"}


def _resolve(metrics: Any, registry: Registry | None) -> tuple[list[Metric], bool]:
    single = isinstance(metrics, str) or not isinstance(metrics, Sequence)
    items = [metrics] if single else list(metrics)
    if not items:
        msg = "compute needs at least one metric"
        raise ValueError(msg)
    resolved: list[Metric] = []
    for item in items:
        if isinstance(item, str):
            resolved.append((registry or default_registry()).get(item))
        else:
            resolved.append(item)
    names = [m.name for m in resolved]
    if len(set(names)) != len(names):
        msg = f"each metric may appear once in one compute call, got {names}"
        raise ValueError(msg)
    kinds = {m.input_kind for m in resolved}
    if len(kinds) > 1:
        msg = f"metrics computed together must read the same input kind, got {sorted(kinds)}"
        raise ValueError(msg)
    return resolved, single


def _load_kwargs(
    kind: str, metrics: Sequence[Metric], columns: Mapping[str, str] | None, tz: Any
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if columns:
        kwargs["columns"] = dict(columns)
    if tz is not None:
        kwargs["tz"] = tz
    if kind == "survey":
        # answer ranges are checked once, by the metrics themselves (check/update)
        kwargs["items"] = list(
            dict.fromkeys(item for m in metrics for item in getattr(m, "requires", ()))
        )
    return kwargs


def _wanted(kind: str, kwargs: Mapping[str, Any]) -> set[str]:
    names = kwargs.get("columns") or {}
    return {names.get(f, f) for f in SOURCE_FIELDS[kind]} | set(kwargs.get("items", ()))


def _is_dask(source: Any) -> bool:
    return type(source).__module__.split(".", 1)[0] in ("dask", "dask_expr")


def _as_frame(
    source: Any, kind: str, errors: str, load_kwargs: Mapping[str, Any]
) -> tuple[Any, int]:
    """The source as a frame of ``kind`` and the number of rows rejected while loading."""
    frame_type = _FRAMES[kind]
    if isinstance(source, LoadResult):
        return source.accepted, source.n_rejected
    if isinstance(source, frame_type):
        return source, 0
    if isinstance(source, SurveyFrame | EventFrame | CustomerFrame):
        msg = f"the metrics read {kind} data, got a {type(source).__name__}"
        raise TypeError(msg)
    if isinstance(source, list | tuple) and source and type(source[0]) in _RECORDS:
        if _RECORDS[type(source[0])] != kind:
            msg = f"the metrics read {kind} data, got {type(source[0]).__name__} records"
            raise TypeError(msg)
        return frame_type.from_records(source), 0
    loaded = loader_of(kind)(source, errors=errors, **load_kwargs)
    if isinstance(loaded, LoadResult):
        return loaded.accepted, loaded.n_rejected
    return loaded, 0


def _time_column(frame: Any) -> Any:
    if isinstance(frame, SurveyFrame):
        return frame.answered_at
    if isinstance(frame, EventFrame):
        return frame.timestamp
    return None


def _progress(chunks: Iterator[Any], total_rows: int, enabled: bool | None) -> Iterator[Any]:
    if not enabled:  # frames already in memory: a bar only when asked for
        yield from chunks
        return
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415
    except ImportError as exc:
        msg = "progress=True needs tqdm: pip install 'stickykit[progress]'"
        raise MissingDependencyError(msg) from exc
    with tqdm(total=total_rows, unit="rows", unit_scale=True) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))


@attrs.frozen(eq=False)
class StateRun:
    """Merged metric states before ``finalize``, and the tally of the rows read.

    Parameters
    ----------
    states : dict of str to state
        One merged state per metric name.
    summary : ReadSummary
        Rows read, accepted and rejected, with reasons.
    """

    states: dict[str, Any]
    summary: Any


def _run(
    resolved: Sequence[Metric],
    source: Any,
    *,
    as_of: dt.datetime | None,
    chunk_rows: int | None,
    workers: int,
    errors: str,
    progress: bool | None,
    columns: Mapping[str, str] | None,
    tz: Any,
    split_every: int | None,
) -> BatchRun:
    if isinstance(workers, bool) or workers < 1:
        msg = f"workers must be a positive integer, got {workers!r}"
        raise ValueError(msg)
    if as_of is not None and getattr(as_of, "tzinfo", None) is None:
        raise ValidationError(
            record="compute",
            field="as_of",
            row=None,
            value=as_of,
            expected="a timezone-aware datetime",
        )
    kind = resolved[0].input_kind
    load_kwargs = _load_kwargs(kind, resolved, columns, tz)
    if _is_dask(source):
        # imported by name: the module imports dask, an optional dependency
        dask_run = importlib.import_module("stickykit.dask").dask_run
        run: BatchRun = dask_run(
            resolved,
            source,
            errors=errors,
            load_kwargs=load_kwargs,
            as_of=as_of,
            split_every=split_every,
        )
    elif is_streamable(source):
        stream = iter_batches(source, batch_rows=chunk_rows, columns=_wanted(kind, load_kwargs))
        run = run_batches(
            resolved,
            stream,
            errors=errors,
            load_kwargs=load_kwargs,
            as_of=as_of,
            workers=workers,
            progress=progress,
        )
    else:
        return _run_in_memory(
            resolved, source, as_of, chunk_rows, workers, errors, progress, load_kwargs
        )
    if run.summary.n_read == 0:
        raise ValidationError(
            record=RECORD_NAMES[kind],
            field="(rows)",
            row=None,
            value="0 rows",
            expected="at least one row",
        )
    return run


def _run_in_memory(
    resolved: Sequence[Metric],
    source: Any,
    as_of: dt.datetime | None,
    chunk_rows: int | None,
    workers: int,
    errors: str,
    progress: bool | None,
    load_kwargs: Mapping[str, Any],
) -> BatchRun:
    kind = resolved[0].input_kind
    frame, n_rejected = _as_frame(source, kind, errors, load_kwargs)
    n_read = len(frame) + n_rejected
    if len(frame) == 0:
        raise ValidationError(
            record=type(frame).__name__,
            field="(rows)",
            row=None,
            value="0 rows",
            expected="at least one row",
        )
    if errors == "quarantine":
        frame, n_quarantined = _quarantine(resolved, frame)
        n_rejected += n_quarantined
    times = _time_column(frame)
    if as_of is not None and times is not None:
        cutoff = np.datetime64(datetime_to_us(as_of.astimezone(dt.UTC)), "us")
        frame = frame.filter(np.isnat(times) | (times < cutoff))
    chunk_size = chunk_rows
    if workers > 1 and chunk_size is None:
        chunk_size = max(1, -(-len(frame) // workers))
    chunks = _progress(iter_chunks(frame, chunk_size), len(frame), progress)
    try:
        states = (
            pool_states(resolved, chunks, workers) if workers > 1 else _fold_all(resolved, chunks)
        )
    except ValidationError:
        # update() raised on the first bad row it met; report it with the count over all rows
        raise_first(type(frame).__name__, _violations(resolved, frame))
        raise
    summary = ReadSummary(
        n_read=n_read, n_accepted=n_read - n_rejected, n_rejected=n_rejected, n_batches=1
    )
    return BatchRun(states, summary)


@overload
def compute(
    metrics: str | Metric,
    source: Any,
    *,
    as_of: dt.datetime | None = ...,
    chunk_rows: int | None = ...,
    workers: int = ...,
    errors: str = ...,
    registry: Registry | None = ...,
    progress: bool | None = ...,
    columns: Mapping[str, str] | None = ...,
    tz: Any = ...,
    split_every: int | None = ...,
) -> MetricResult: ...
@overload
def compute(
    metrics: Sequence[str | Metric],
    source: Any,
    *,
    as_of: dt.datetime | None = ...,
    chunk_rows: int | None = ...,
    workers: int = ...,
    errors: str = ...,
    registry: Registry | None = ...,
    progress: bool | None = ...,
    columns: Mapping[str, str] | None = ...,
    tz: Any = ...,
    split_every: int | None = ...,
) -> dict[str, MetricResult]: ...
def compute(
    metrics: str | Metric | Sequence[str | Metric],
    source: Any,
    *,
    as_of: dt.datetime | None = None,
    chunk_rows: int | None = None,
    workers: int = 1,
    errors: str = "raise",
    registry: Registry | None = None,
    progress: bool | None = None,
    columns: Mapping[str, str] | None = None,
    tz: Any = None,
    split_every: int | None = None,
) -> MetricResult | dict[str, MetricResult]:
    """Compute one or several metrics over a source in one pass.

    The source decides the runner: records, frames and mappings are validated in memory; files
    (CSV, Parquet, a directory or a list of them), Arrow streams (DuckDB results, ADBC readers,
    pyarrow tables, readers and datasets), lazy polars frames and dataframes are read in batches
    (:func:`stickykit.io.batches.iter_batches`); a dask DataFrame runs on its cluster
    (:func:`stickykit.dask.dask_run`, the ``dask`` extra). Every runner goes through the metrics' own
    ``init``/``update``/``merge``/``finalize``, so the results agree.

    Parameters
    ----------
    metrics : str, metric, or sequence of them
        A registered name (``"nps"``), a metric instance (``get_metric("nps", by="wave")``), or
        several sharing one read of the data (they must read the same input kind).
    source : frame, records, mapping, dataframe, path, stream, dask frame or LoadResult
        The data. Anything but a frame is loaded and validated first.
    as_of : datetime, optional
        Timezone-aware instant; rows at or after it are left out (exclusive). By default the
        results describe everything up to the latest time in the data.
    chunk_rows : int, optional
        Rows per batch. Files, Arrow streams and dataframes are always read in batches (of
        1,000,000 rows unless given here), so memory holds one batch plus the states; data
        already in memory is processed whole unless given. The result is the same.
    workers : int
        Worker processes (``forkserver``); batches are updated in parallel and their states
        merged as a tree. 1 runs in this process.
    errors : {"raise", "quarantine"}
        Bad rows raise :class:`~stickykit.errors.ValidationError` naming the source, batch and
        row, or are left out and counted (``details["n_rejected"]`` and a flag on each result).
    registry : Registry, optional
        Where names are looked up (default: built-ins and installed plugins).
    progress : bool or None
        A tqdm progress bar of rows and bytes read (the ``progress`` extra). ``None`` (the
        default) shows it for files and streams only when stderr is a terminal.
    columns : mapping, optional
        Record field to source column name, e.g. ``{"customer_id": "client"}``.
    tz : str or tzinfo, optional
        Zone of naive timestamps in the source.
    split_every : int, optional
        Fan-in of the tree merge of a dask DataFrame's partitions (default 8).

    Returns
    -------
    MetricResult or dict of str to MetricResult
        One result for one metric; a dict by name for a sequence.

    Examples
    --------
    >>> from stickykit import compute, get_metric
    >>> data = {"respondent_id": [1, 2, 3, 4], "nps": [10, 9, 6, None], "wave": [1, 1, 2, 2]}
    >>> r = compute(get_metric("nps", by="wave"), data)
    >>> r.value, r.n, r.n_missing, [g.value for g in r.groups]
    (33.333..., 3, 1, [100.0, -100.0])
    """
    resolved, single = _resolve(metrics, registry)
    run = compute_states(
        resolved,
        source,
        as_of=as_of,
        chunk_rows=chunk_rows,
        workers=workers,
        errors=errors,
        progress=progress,
        columns=columns,
        tz=tz,
        split_every=split_every,
    )
    n_rejected = run.summary.n_rejected
    results: dict[str, MetricResult] = {}
    for metric in resolved:
        result = metric.finalize(run.states[metric.name], as_of)
        if n_rejected:
            result = attrs.evolve(
                result,
                flags=(*result.flags, f"{n_rejected:,} input rows quarantined"),
                details={**result.details, "n_rejected": float(n_rejected)},
            )
        results[metric.name] = result
    return results[resolved[0].name] if single else results


def compute_states(
    metrics: str | Metric | Sequence[str | Metric],
    source: Any,
    *,
    as_of: dt.datetime | None = None,
    chunk_rows: int | None = None,
    workers: int = 1,
    errors: str = "raise",
    registry: Registry | None = None,
    progress: bool | None = None,
    columns: Mapping[str, str] | None = None,
    tz: Any = None,
    split_every: int | None = None,
) -> StateRun:
    """Like :func:`compute`, but return the merged states (not finalized) and the read tally.

    This is the step of an incremental job: merge today's states into yesterday's saved ones
    (:func:`stickykit.io.statefile.load_state`), save them again, finalize.

    Parameters
    ----------
    metrics, source
        As for :func:`compute`.
    as_of : datetime, optional
        Timezone-aware instant; rows at or after it are left out (exclusive). By default the
        results describe everything up to the latest time in the data.
    chunk_rows : int, optional
        Rows per batch. Files, Arrow streams and dataframes are always read in batches (of
        1,000,000 rows unless given here), so memory holds one batch plus the states; data
        already in memory is processed whole unless given. The result is the same.
    workers : int
        Worker processes (``forkserver``); batches are updated in parallel and their states
        merged as a tree. 1 runs in this process.
    errors : {"raise", "quarantine"}
        Bad rows raise :class:`~stickykit.errors.ValidationError` naming the source, batch and
        row, or are left out and counted (``details["n_rejected"]`` and a flag on each result).
    registry : Registry, optional
        Where names are looked up (default: built-ins and installed plugins).
    progress : bool or None
        A tqdm progress bar of rows and bytes read (the ``progress`` extra). ``None`` (the
        default) shows it for files and streams only when stderr is a terminal.
    columns : mapping, optional
        Record field to source column name, e.g. ``{"customer_id": "client"}``.
    tz : str or tzinfo, optional
        Zone of naive timestamps in the source.
    split_every : int, optional
        Fan-in of the tree merge of a dask DataFrame's partitions (default 8).

    Returns
    -------
    StateRun
        States by metric name and the :class:`~stickykit.io.quarantine.ReadSummary`.

    Examples
    --------
    >>> from stickykit import get_metric
    >>> nps = get_metric("nps")
    >>> monday = compute_states(nps, {"nps": [10, 9, 3]}).states["nps"]
    >>> tuesday = compute_states(nps, {"nps": [0, 10]}).states["nps"]
    >>> nps.finalize(nps.merge(monday, tuesday)).value
    20.0
    """
    resolved, _ = _resolve(metrics, registry)
    run = _run(
        resolved,
        source,
        as_of=as_of,
        chunk_rows=chunk_rows,
        workers=workers,
        errors=errors,
        progress=progress,
        columns=columns,
        tz=tz,
        split_every=split_every,
    )
    return StateRun(
        states={m.name: state for m, state in zip(resolved, run.states, strict=True)},
        summary=run.summary,
    )


def _violations(metrics: Sequence[Metric], frame: Any) -> list[Any]:
    return [v for metric in metrics if hasattr(metric, "check") for v in metric.check(frame)]


def _quarantine(metrics: Sequence[Metric], frame: Any) -> tuple[Any, int]:
    """Leave out the rows any metric's ``check`` refuses; return the frame and their count."""
    violations = _violations(metrics, frame)
    if not violations:
        return frame, 0
    bad = rejected_rows(violations, len(frame)) - frame.first_row
    keep = np.ones(len(frame), dtype=bool)
    keep[bad] = False
    return frame.filter(keep), len(bad)


def _fold_all(metrics: Sequence[Metric], chunks: Iterable[Any]) -> list[Any]:
    if len(metrics) == 1:
        return [fold(metrics[0], chunks)]
    states = [metric.init() for metric in metrics]
    for chunk in chunks:
        states = [m.update(s, chunk) for m, s in zip(metrics, states, strict=True)]
    return states
