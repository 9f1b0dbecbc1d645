"""Exceptions raised by stickykit.

Every error a user can trigger derives from :class:`StickykitError`, so an application that
embeds stickykit can catch them all in one place.

Examples
--------
>>> from stickykit.errors import ValidationError
>>> err = ValidationError(record="Survey", field="nps", row=17, value=11, expected="an integer in [0, 10]")
>>> print(err)
Survey.nps @ row 17: 11 is invalid, expected an integer in [0, 10]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "DaskRunError",
    "DuplicateInstrumentError",
    "DuplicateMetricError",
    "FitError",
    "InsufficientDataError",
    "MissingDependencyError",
    "NotFittedError",
    "SourceError",
    "StateFileError",
    "StateMismatchError",
    "StickykitError",
    "UnknownInstrumentError",
    "UnknownMetricError",
    "UnpicklableMetricError",
    "ValidationError",
]


class StickykitError(Exception):
    """Base class of every error stickykit raises on purpose."""


class ValidationError(StickykitError, ValueError):
    """Input failed a validation rule.

    Parameters
    ----------
    record : str
        The record or frame type being built (``"Event"``, ``"SurveyFrame"``...).
    field : str
        The field or column that failed.
    row : int or None
        The 0-based input row of the first failure, or ``None`` for a record built alone.
    value : object
        The offending value.
    expected : str
        What the field accepts, in words.
    n_failing : int
        How many input rows fail any rule in all (1 for a single record).
    source : str, optional
        Where the rows came from when read in batches: the file (or stream) and the batch
        number, put in front of the message.

    Examples
    --------
    >>> err = ValidationError(record="Event", field="amount", row=None, value=float("nan"),
    ...                       expected="a finite number")
    >>> err.field
    'amount'
    """

    def __init__(
        self,
        *,
        record: str,
        field: str,
        row: int | None,
        value: Any,
        expected: str,
        n_failing: int = 1,
        source: str | None = None,
    ) -> None:
        self.record = record
        self.field = field
        self.row = row
        self.value = value
        self.expected = expected
        self.n_failing = n_failing
        self.source = source
        where = f"{record}.{field}" if row is None else f"{record}.{field} @ row {row:,}"
        message = f"{where}: {value!r} is invalid, expected {expected}"
        if source is not None:
            message = f"{source}: {message}"
        if n_failing > 1:
            message += (
                f" ({n_failing:,} rows fail in all; pass errors='quarantine' to keep the rest)"
            )
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_validation_error,
            (
                self.record,
                self.field,
                self.row,
                self.value,
                self.expected,
                self.n_failing,
                self.source,
            ),
        )


def _rebuild_validation_error(
    record: str,
    field: str,
    row: int | None,
    value: Any,
    expected: str,
    n_failing: int,
    source: str | None = None,
) -> ValidationError:
    return ValidationError(
        record=record,
        field=field,
        row=row,
        value=value,
        expected=expected,
        n_failing=n_failing,
        source=source,
    )


class UnknownMetricError(StickykitError, KeyError):
    """No registered metric has the requested name.

    Examples
    --------
    >>> print(UnknownMetricError("npss", ["nps"]))
    no metric named 'npss'; did you mean 'nps'?
    """

    def __init__(self, name: str, suggestions: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        message = f"no metric named {name!r}"
        if self.suggestions:
            message += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        else:
            message += "; list the registered metrics with stickykit.list_metrics()"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateMetricError(StickykitError):
    """Two plugins registered a metric under the same name.

    Examples
    --------
    >>> print(DuplicateMetricError("nps", "stickykit.metrics.survey.nps", "acme_metrics"))
    metric 'nps' is registered twice: by 'stickykit.metrics.survey.nps' and by 'acme_metrics'
    """

    def __init__(self, name: str, first_source: str, second_source: str) -> None:
        self.name = name
        self.sources = (first_source, second_source)
        super().__init__(
            f"metric {name!r} is registered twice: by {first_source!r} and by {second_source!r}"
        )


class DuplicateInstrumentError(StickykitError):
    """Two plugins registered an instrument under the same name.

    Examples
    --------
    >>> print(DuplicateInstrumentError("servqual-1988", "stickykit", "acme"))
    instrument 'servqual-1988' is registered twice: by 'stickykit' and by 'acme'
    """

    def __init__(self, name: str, first_source: str, second_source: str) -> None:
        self.name = name
        self.sources = (first_source, second_source)
        super().__init__(
            f"instrument {name!r} is registered twice: by {first_source!r} and by {second_source!r}"
        )


class UnknownInstrumentError(StickykitError, KeyError):
    """No registered instrument has the requested name."""

    def __str__(self) -> str:
        return str(self.args[0])


class StateMismatchError(StickykitError, ValueError):
    """Two metric states cannot be merged (different metric or parameters)."""


class InsufficientDataError(StickykitError, ValueError):
    """There is no data to compute a result from (for example no valid answers)."""


class UnpicklableMetricError(StickykitError, TypeError):
    """A metric cannot be sent to worker processes because it does not pickle."""


class MissingDependencyError(StickykitError, ImportError):
    """An optional dependency is needed; the message names the extra that installs it."""


class NotFittedError(StickykitError, ValueError):
    """A model was used before ``fit`` was called."""


class FitError(StickykitError, RuntimeError):
    """A model fit failed, did not converge or is ill-conditioned; the message says why.

    A failed fit never returns parameters as if they were estimates.
    """


class StateFileError(StickykitError, ValueError):
    """A state or model file is damaged, or belongs to another metric, model or version."""


class SourceError(StickykitError, ValueError):
    """A file or stream cannot be read: corrupt, truncated, or not what it claims to be.

    Parameters
    ----------
    source : str
        The file or stream.
    batch : int or None
        The 0-based batch being read when it failed, if any.
    row : int or None
        The first data row of that batch (0-based, header excluded), if known.
    reason : str
        What went wrong, in the reader's words.

    Examples
    --------
    >>> print(SourceError(source="events.parquet", batch=3, row=3_000_000, reason="bad page"))
    events.parquet, batch 3 (from row 3,000,000): cannot be read: bad page
    """

    def __init__(self, *, source: str, batch: int | None, row: int | None, reason: str) -> None:
        self.source = source
        self.batch = batch
        self.row = row
        self.reason = reason
        where = source
        if batch is not None:
            where += f", batch {batch}"
        if row is not None:
            where += f" (from row {row:,})"
        super().__init__(f"{where}: cannot be read: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_source_error, (self.source, self.batch, self.row, self.reason))


def _rebuild_source_error(
    source: str, batch: int | None, row: int | None, reason: str
) -> SourceError:
    return SourceError(source=source, batch=batch, row=row, reason=reason)


class DaskRunError(StickykitError, RuntimeError):
    """A dask task of a metric run was lost with its worker more often than dask allows.

    Dask runs a task again when the worker running it dies; after
    ``distributed.scheduler.allowed-failures`` such deaths it gives up with
    ``distributed.KilledWorker``, which :func:`stickykit.dask.dask_run` turns into this error.

    Parameters
    ----------
    metrics : sequence of str
        The metrics of the run.
    task : str
        The dask task key, as text.
    partitions : tuple of int
        The partitions the task read or merged (empty if the key is not one of the run's).
    n_partitions : int
        Partitions of the dask DataFrame.
    attempts : int
        Workers that died running the task.
    worker : str or None
        Address of the last of them.

    Examples
    --------
    >>> err = DaskRunError(metrics=["nps"], task="('stickykit-update-1f2e', 3)",
    ...                    partitions=(3,), n_partitions=7, attempts=2, worker="tcp://10.0.0.5:3456")
    >>> print(err)
    metric 'nps' failed on dask partition 3 of 7: the workers running dask task
    ('stickykit-update-1f2e', 3) died 2 times (the last: tcp://10.0.0.5:3456), and dask gives
    up after distributed.scheduler.allowed-failures = 1; ...
    """

    def __init__(
        self,
        *,
        metrics: Sequence[str],
        task: str,
        partitions: tuple[int, ...],
        n_partitions: int,
        attempts: int,
        worker: str | None,
    ) -> None:
        self.metrics = tuple(metrics)
        self.task = task
        self.partitions = tuple(partitions)
        self.n_partitions = n_partitions
        self.attempts = attempts
        self.worker = worker
        names = ", ".join(repr(name) for name in self.metrics)
        label = "metric" if len(self.metrics) == 1 else "metrics"
        message = (
            f"{label} {names} failed on {_where(self.partitions, n_partitions)}: the workers "
            f"running dask task {task} died {attempts} times"
            + (f" (the last: {worker})" if worker else "")
            + f", and dask gives up after distributed.scheduler.allowed-failures = {attempts - 1}; "
            "the worker logs say why (often memory: use smaller partitions or fewer threads "
            "per worker)"
        )
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_dask_run_error,
            (
                self.metrics,
                self.task,
                self.partitions,
                self.n_partitions,
                self.attempts,
                self.worker,
            ),
        )


def _rebuild_dask_run_error(
    metrics: tuple[str, ...],
    task: str,
    partitions: tuple[int, ...],
    n_partitions: int,
    attempts: int,
    worker: str | None,
) -> DaskRunError:
    return DaskRunError(
        metrics=metrics,
        task=task,
        partitions=partitions,
        n_partitions=n_partitions,
        attempts=attempts,
        worker=worker,
    )


def _where(partitions: tuple[int, ...], n_partitions: int) -> str:
    if not partitions:
        return f"a dask DataFrame of {n_partitions} partitions"
    if len(partitions) == 1:
        return f"dask partition {partitions[0]} of {n_partitions}"
    return f"the merge of dask partitions {partitions[0]} to {partitions[-1]} of {n_partitions}"
