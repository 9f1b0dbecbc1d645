"""``compute``: the one public entry point that runs metrics over a source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import attrs
import numpy as np

from stickykit.core._time import datetime_to_us
from stickykit.core.records import Customer, Event, Survey
from stickykit.engine.pool import pool_states
from stickykit.engine.serial import fold
from stickykit.errors import MissingDependencyError, ValidationError
from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame, iter_chunks
from stickykit.io import LoadResult, load_customers, load_events, load_survey
from stickykit.io.quarantine import raise_first, rejected_rows
from stickykit.metrics.base import Metric, MetricResult
from stickykit.plugins.registry import Registry, default_registry

__all__ = ["compute"]

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


def _as_frame(source: Any, kind: str, metrics: Sequence[Metric], errors: str) -> tuple[Any, int]:
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
    if kind == "survey":
        items = list(dict.fromkeys(item for m in metrics for item in getattr(m, "requires", ())))
        # answer ranges are checked once, by the metrics themselves (check/update)
        loaded: Any = load_survey(source, items=items, errors=errors)  # type: ignore[call-overload]
    elif kind == "events":
        loaded = load_events(source, errors=errors)  # type: ignore[call-overload]
    else:
        loaded = load_customers(source, errors=errors)  # type: ignore[call-overload]
    if isinstance(loaded, LoadResult):
        return loaded.accepted, loaded.n_rejected
    return loaded, 0


def _time_column(frame: Any) -> Any:
    if isinstance(frame, SurveyFrame):
        return frame.answered_at
    if isinstance(frame, EventFrame):
        return frame.timestamp
    return None


def _progress(chunks: Iterator[Any], total_rows: int, enabled: bool) -> Iterator[Any]:
    if not enabled:
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
    progress: bool = ...,
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
    progress: bool = ...,
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
    progress: bool = False,
) -> MetricResult | dict[str, MetricResult]:
    """Compute one or several metrics over a source in one pass.

    Parameters
    ----------
    metrics : str, metric, or sequence of them
        A registered name (``"nps"``), a metric instance (``get_metric("nps", by="wave")``), or
        several sharing one read of the data (they must read the same input kind).
    source : frame, records, mapping, dataframe, path or LoadResult
        The data. Anything but a frame is loaded and validated first.
    as_of : datetime, optional
        Timezone-aware instant; rows at or after it are left out (exclusive). By default the
        results describe everything up to the latest time in the data.
    chunk_rows : int, optional
        Process the data in chunks of this many rows (the result is the same).
    workers : int
        Worker processes (``forkserver``); chunks are updated in parallel and their states
        merged as a tree. 1 runs in this process.
    errors : {"raise", "quarantine"}
        Bad rows raise :class:`~stickykit.errors.ValidationError`, or are left out and counted in
        the result's ``details["n_rejected"]`` with a flag.
    registry : Registry, optional
        Where names are looked up (default: built-ins and installed plugins).
    progress : bool
        Show a tqdm progress bar (the ``progress`` extra).

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
    frame, n_rejected = _as_frame(source, kind, resolved, errors)
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
    results: dict[str, MetricResult] = {}
    for metric, state in zip(resolved, states, strict=True):
        result = metric.finalize(state, as_of)
        if n_rejected:
            result = attrs.evolve(
                result,
                flags=(*result.flags, f"{n_rejected:,} input rows quarantined"),
                details={**result.details, "n_rejected": float(n_rejected)},
            )
        results[metric.name] = result
    return results[resolved[0].name] if single else results


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
