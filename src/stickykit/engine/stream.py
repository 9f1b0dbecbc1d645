"""Running metrics over a source read in batches: validate, update, merge, tally.

Each batch is validated by the loader of the metrics' input kind (``errors="raise"`` stops at the
first bad row, naming file, batch and row; ``"quarantine"`` leaves bad rows out and counts them),
then each batch's own states (``update(init(), batch)``) are merged into one running state per
metric, in batch order, with the metric's ``merge_into`` (which may update the running state in
place). With ``workers > 1`` the batches are updated in worker processes; memory holds the
batches in flight plus one state per metric, and the merges associate as in the serial run
(``merge(merge(s0, s1), s2)``), so every state equals the serial run's bit for bit.

Examples
--------
>>> from stickykit.io.batches import iter_batches
>>> from stickykit.plugins.registry import get_metric
>>> nps = get_metric("nps")
>>> run = run_batches([nps], iter_batches({"nps": [10, 9, 3, 11]}, batch_rows=2),
...                   errors="quarantine")
>>> nps.finalize(run.states[0]).value, run.summary.n_rejected
(33.333..., 1)
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import datetime_to_us
from stickykit.errors import MissingDependencyError, ValidationError
from stickykit.io import load_customers, load_events, load_survey
from stickykit.io.batches import Batch, BatchStream
from stickykit.io.quarantine import MAX_REASONS, LoadResult, ReadSummary, Reason, rejected_rows
from stickykit.io.validate import Violation
from stickykit.metrics.base import Metric

__all__ = ["BatchRun", "merge_into", "run_batches"]

#: The frame each input kind is loaded into, as messages name it.
RECORD_NAMES = {"events": "EventFrame", "survey": "SurveyFrame", "customers": "CustomerFrame"}


@attrs.frozen(eq=False)
class BatchRun:
    """The merged states of a run and the tally of the rows it read.

    Parameters
    ----------
    states : list
        One merged state per metric, in the order asked.
    summary : ReadSummary
        Rows read, accepted and rejected, with reasons.
    """

    states: list[Any]
    summary: ReadSummary


@attrs.frozen
class _Options:
    kind: str
    errors: str
    load_kwargs: Mapping[str, Any]
    cutoff: np.datetime64 | None


def loader_of(kind: str) -> Callable[..., Any]:
    """The loader of an input kind (``load_events``, ``load_survey`` or ``load_customers``)."""
    loaders: dict[str, Callable[..., Any]] = {
        "events": load_events,
        "survey": load_survey,
        "customers": load_customers,
    }
    return loaders[kind]


def _reraise(
    exc: ValidationError, batch: Batch, rows: NDArray[np.int64], first_row: int = 0
) -> ValidationError:
    """The error with its row turned into a source row (``first_row``: the frame's offset)."""
    row = exc.row
    if row is not None and 0 <= row - first_row < len(rows):
        row = int(rows[row - first_row])
    return ValidationError(
        record=exc.record,
        field=exc.field,
        row=row,
        value=exc.value,
        expected=exc.expected,
        source=batch.where,
    )


def _first_problem(record: str, batch: Batch, problems: Sequence[Violation]) -> ValidationError:
    first = min(problems, key=lambda v: int(v.rows[0]))
    return ValidationError(
        record=record,
        field=first.field,
        row=int(first.rows[0]),
        value=first.value(0),
        expected=first.expected,
        source=batch.where,
    )


def _tally(batch: Batch, violations: Sequence[Violation], n_accepted: int) -> ReadSummary:
    """The batch's summary; the violations' rows are source rows."""
    by_field: dict[str, int] = {}
    reasons: list[Reason] = []
    for v in violations:
        by_field[v.field] = by_field.get(v.field, 0) + len(v)
        for i in range(min(len(v), MAX_REASONS - len(reasons))):
            reasons.append(
                Reason(
                    row=int(v.rows[i]),
                    field=v.field,
                    value=v.value(i),
                    expected=v.expected,
                    source=batch.where,
                )
            )
    reasons.sort(key=lambda r: (r.row, r.field))
    return ReadSummary(
        n_read=batch.n_read,
        n_accepted=n_accepted,
        n_rejected=batch.n_read - n_accepted,
        n_batches=1,
        rejected_by_field=by_field,
        reasons=reasons,
    )


def _load(batch: Batch, options: _Options, metrics: Sequence[Metric]) -> tuple[Any, ReadSummary]:
    """The batch's accepted rows as a frame, and its tally."""
    record = RECORD_NAMES[options.kind]
    if options.errors == "raise" and batch.problems:
        raise _first_problem(record, batch, batch.problems)
    kwargs = dict(options.load_kwargs)
    if options.kind == "survey":
        items = kwargs.pop("items", None) or list(
            dict.fromkeys(item for m in metrics for item in getattr(m, "requires", ()))
        )
        kwargs["items"] = items
    rows = batch.rows
    try:
        loaded = loader_of(options.kind)(batch.columns, errors=options.errors, **kwargs)
    except ValidationError as exc:
        raise _reraise(exc, batch, rows) from exc
    violations: list[Violation] = []
    if isinstance(loaded, LoadResult):
        frame = loaded.accepted
        violations += [
            attrs.evolve(v, rows=rows[v.rows].astype(np.int64)) for v in loaded.violations
        ]
        if loaded.n_rejected:
            keep = np.ones(len(rows), dtype=bool)
            keep[loaded.rejected] = False
            rows = rows[keep]
    else:
        frame = loaded
    if options.kind == "events" and "event_id" not in _present_fields(batch, options):
        frame = attrs.evolve(frame, event_id=rows.copy())
    # rows a metric reports (or keeps for its messages) start at the batch's first source row
    first = int(rows[0]) if len(rows) else 0
    frame = attrs.evolve(frame, first_row=first)
    if options.errors == "quarantine":
        checked = [v for m in metrics if hasattr(m, "check") for v in m.check(frame)]
        checked = [v for v in checked if len(v)]
        if checked:
            bad = rejected_rows(checked, len(frame)) - first
            keep = np.ones(len(frame), dtype=bool)
            keep[bad] = False
            violations += [
                attrs.evolve(v, rows=rows[v.rows - first].astype(np.int64)) for v in checked
            ]
            frame = frame.filter(keep)
            rows = rows[keep]
    all_violations = list(batch.problems) + violations
    summary = _tally(batch, all_violations, len(frame))
    if options.cutoff is not None and options.kind in ("events", "survey"):
        times = frame.timestamp if options.kind == "events" else frame.answered_at
        if times is not None:
            inside = np.isnat(times) | (times < options.cutoff)
            if not inside.all():
                frame = frame.filter(inside)
                rows = rows[inside]
    return (frame, rows), summary


def _present_fields(batch: Batch, options: _Options) -> set[str]:
    names = options.load_kwargs.get("columns") or {}
    reverse = {column: field for field, column in names.items()}
    return {reverse.get(name, name) for name in batch.columns.data}


def _update(
    metrics: Sequence[Metric],
    states: list[Any] | None,
    batch: Batch,
    options: _Options,
) -> tuple[list[Any], ReadSummary]:
    """Load one batch and update the states (``None``: fresh states)."""
    (frame, rows), summary = _load(batch, options, metrics)
    if states is None:
        states = [m.init() for m in metrics]
    if len(frame) == 0:
        return states, summary
    try:
        # the batch's own state merged into the running one, which this run owns (so a
        # metric may merge it in place), one metric at a time
        for k, metric in enumerate(metrics):
            states[k] = merge_into(metric, states[k], metric.update(metric.init(), frame))
    except ValidationError as exc:
        raise _reraise(exc, batch, rows, frame.first_row) from exc
    return states, summary


def merge_into(metric: Metric, running: Any, state: Any) -> Any:
    """``metric.merge(running, state)`` for a running state the caller owns.

    Uses the metric's ``merge_into`` when it has one (it may update ``running`` in place);
    a metric written against the bare protocol merges as usual.

    Examples
    --------
    >>> from stickykit.metrics.base import states_equal
    >>> from stickykit.plugins.registry import get_metric
    >>> nps = get_metric("nps")
    >>> states_equal(merge_into(nps, nps.init(), nps.init()), nps.init())
    True
    """
    own = getattr(metric, "merge_into", None)
    return own(running, state) if own is not None else metric.merge(running, state)


def _progress_bar(stream: BatchStream, enabled: bool | None) -> Any:
    if enabled is False:
        return None
    if enabled is None and not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415
    except ImportError as exc:
        if enabled is None:
            return None
        msg = "progress=True needs tqdm: pip install 'stickykit[progress]'"
        raise MissingDependencyError(msg) from exc
    if stream.total_rows is None and stream.total_bytes is not None:
        return tqdm(total=stream.total_bytes, unit="B", unit_scale=True, desc=stream.name)
    return tqdm(total=stream.total_rows, unit="rows", unit_scale=True, desc=stream.name)


def _advance(bar: Any, batch: Batch, rows_done: int, bytes_done: int) -> None:
    if bar is None:
        return
    if bar.unit == "B":
        bar.update(batch.bytes_done - bar.n if batch.bytes_done is not None else 0)
        bar.set_postfix_str(f"{rows_done:,} rows", refresh=False)
    else:
        bar.update(batch.n_read)
        if bytes_done:
            bar.set_postfix_str(f"{bytes_done / 2**20:,.1f} MiB", refresh=False)


_ID_FIELDS = {
    "events": ("customer_id", "event_id", "order_id"),
    "survey": ("respondent_id", "customer_id"),
    "customers": ("customer_id",),
}


def _id_kind(values: NDArray[Any]) -> str:
    kind = np.asarray(values).dtype.kind
    if kind in "iuf":
        return "integer"
    return "boolean" if kind == "b" else "text"


class _IdKinds:
    """Refuses a batch whose id column holds another kind of id than earlier batches.

    Integer ids in one batch and text ids in another would never match in a merge (customer 7
    and customer "7" are different keys), so the run stops, naming the batch.
    """

    def __init__(self, options: _Options) -> None:
        names = options.load_kwargs.get("columns") or {}
        self.columns = {names.get(f, f): f for f in _ID_FIELDS[options.kind]}
        self.record = RECORD_NAMES[options.kind]
        self.seen: dict[str, tuple[str, int]] = {}

    def check(self, batch: Batch) -> None:
        for column, field in self.columns.items():
            values = batch.columns.data.get(column)
            if values is None or len(values) == 0:
                continue
            kind = _id_kind(values)
            first = self.seen.setdefault(field, (kind, batch.index))
            if first[0] != kind:
                raise ValidationError(
                    record=self.record,
                    field=field,
                    row=int(batch.rows[0]),
                    value=f"{kind} ids ({values.dtype})",
                    expected=f"{first[0]} ids, as in batch {first[1]}",
                    source=batch.where,
                )


def _batches(stream: BatchStream, bar: Any, ids: _IdKinds) -> Iterator[Batch]:
    rows = 0
    for batch in stream.batches:
        ids.check(batch)
        rows += batch.n_read
        yield batch
        _advance(bar, batch, rows, batch.bytes_done or 0)


def run_batches(
    metrics: Sequence[Metric],
    stream: BatchStream,
    *,
    errors: str = "raise",
    load_kwargs: Mapping[str, Any] | None = None,
    as_of: dt.datetime | None = None,
    workers: int = 1,
    progress: bool | None = False,
) -> BatchRun:
    """Fold every batch of ``stream`` into the metrics' states.

    Parameters
    ----------
    metrics : sequence of Metric
        Metrics reading the same input kind.
    stream : BatchStream
        From :func:`stickykit.io.batches.iter_batches`.
    errors : {"raise", "quarantine"}
        Stop at the first bad row (naming source, batch and row), or leave bad rows out.
    load_kwargs : mapping, optional
        Passed to the loader (``columns``, ``tz``, ``scales``...).
    as_of : datetime, optional
        Timezone-aware; rows at or after it are left out.
    workers : int
        Worker processes (``forkserver``); 1 runs in this process.
    progress : bool or None
        A tqdm bar of rows and bytes; ``None`` shows it only when stderr is a terminal.

    Returns
    -------
    BatchRun
        The merged states and the read summary.
    """
    if errors not in ("raise", "quarantine"):
        msg = f"errors must be 'raise' or 'quarantine', got {errors!r}"
        raise ValueError(msg)
    kinds = {m.input_kind for m in metrics}
    if len(kinds) != 1:
        msg = f"metrics run together must read one input kind, got {sorted(kinds)}"
        raise ValueError(msg)
    cutoff = None
    if as_of is not None:
        cutoff = np.datetime64(datetime_to_us(as_of.astimezone(dt.UTC)), "us")
    options = _Options(kinds.pop(), errors, dict(load_kwargs or {}), cutoff)
    bar = _progress_bar(stream, progress)
    try:
        batches = _batches(stream, bar, _IdKinds(options))
        if workers > 1:
            return _run_pool(metrics, batches, options, workers)
        states: list[Any] | None = None
        summary = ReadSummary()
        for batch in batches:
            states, part = _update(metrics, states, batch, options)
            summary = summary.merge(part)
        return BatchRun(states or [m.init() for m in metrics], summary)
    finally:
        if bar is not None:
            bar.close()


def _run_pool(
    metrics: Sequence[Metric], batches: Iterator[Batch], options: _Options, workers: int
) -> BatchRun:
    from stickykit.engine.pool import check_picklable  # noqa: PLC0415

    check_picklable(metrics)
    running = [m.init() for m in metrics]
    summary = ReadSummary()
    pending: deque[Future[tuple[list[Any], ReadSummary]]] = deque()

    def collect(future: Future[tuple[list[Any], ReadSummary]]) -> None:
        # in batch order, into one running state per metric: merge(merge(s0, s1), s2)...
        nonlocal summary
        states, part = future.result()
        for k, metric in enumerate(metrics):
            running[k] = merge_into(metric, running[k], states[k])
            states[k] = None  # the batch's state, merged: freed before the next metric's merge
        summary = summary.merge(part)

    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            for batch in batches:
                pending.append(pool.submit(_update, metrics, None, batch, options))
                # at most one batch per worker in flight: each holds its columns and, once
                # done, its states until merged (more in flight did not run faster, but
                # held more memory; the merges in this process set the pace)
                while len(pending) >= workers:
                    collect(pending.popleft())
            while pending:
                collect(pending.popleft())
        finally:
            for future in pending:
                future.cancel()
    return BatchRun(running, summary)
