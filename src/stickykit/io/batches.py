"""Reading a source in record batches: files, Arrow streams, lazy frames and dataframes.

:func:`iter_batches` turns a source into :class:`Batch` objects of at most ``batch_rows`` rows,
each holding plain numpy columns and the 0-based data-row number of every row, so that an error
anywhere names the file, the batch and the row. Nothing is read whole that can be streamed:

- a CSV file is parsed block by block with pyarrow (the ``arrow`` extra). Column types are
  inferred from the first block; every later block is read as text and converted by stickykit's
  own validators, so a value of the wrong type in a later block is a rejected row with its
  number, not a reader crash. A malformed line (too many or too few fields) is a rejected row
  too. Without pyarrow the file is read whole by the standard library, as one batch;
- a Parquet file, a directory of Parquet or CSV files (a pyarrow dataset) and a sequence of
  paths are read by row group or fragment;
- a pyarrow ``Table``, ``RecordBatchReader`` or ``Dataset``, a lazy polars frame (through
  ``LazyFrame.collect_batches``, which polars marks unstable), and any object exporting the
  Arrow C stream interface (``__arrow_c_stream__``: DuckDB results, polars frames, ADBC
  readers) are read batch by batch;
- a pandas or polars dataframe is sliced into batches (it is already in memory; only one
  batch is converted at a time);
- an iterator of dataframes, tables or column mappings (``pandas.read_csv(path,
  chunksize=...)``) is read part by part, rows numbered across parts.

Examples
--------
>>> stream = iter_batches({"customer_id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}, batch_rows=2)
>>> [(b.index, b.rows.tolist()) for b in stream.batches]
[(0, [0, 1]), (1, [2])]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.errors import MissingDependencyError, SourceError
from stickykit.io._source import Columns, read_columns
from stickykit.io.validate import Violation

__all__ = ["DEFAULT_BATCH_ROWS", "Batch", "BatchStream", "is_streamable", "iter_batches"]

#: Rows per batch when the caller does not choose (about 100 MB of events at most).
DEFAULT_BATCH_ROWS = 1_000_000

_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")


@attrs.frozen(eq=False)
class Batch:
    """One batch of rows read from a source.

    Parameters
    ----------
    columns : Columns
        The batch's columns as numpy arrays (only rows the reader could parse).
    rows : numpy.ndarray
        0-based data-row number in the source of each row of ``columns`` (header excluded).
    index : int
        0-based number of the batch in its source.
    source : str
        The file or stream, for messages.
    problems : tuple of Violation
        Rows the reader itself rejected (malformed lines, a value of another type than the
        column's), with source row numbers; they are not in ``columns``.
    n_read : int
        Rows read in this batch: ``len(rows)`` plus the rows in ``problems``.
    bytes_done : int or None
        Bytes of the source consumed so far, where the reader knows it.
    """

    columns: Columns
    rows: NDArray[np.int64]
    index: int
    source: str
    problems: tuple[Violation, ...] = ()
    n_read: int = 0
    bytes_done: int | None = None

    @property
    def where(self) -> str:
        """``"<source>, batch <index>"``, the prefix of every message about this batch."""
        return f"{self.source}, batch {self.index}"


@attrs.frozen(eq=False)
class BatchStream:
    """Batches of one source with what is known of its size beforehand.

    Parameters
    ----------
    name : str
        The source, for messages.
    batches : iterator of Batch
        The batches, read lazily.
    total_rows : int or None
        Rows in the source, where known without reading it (Parquet metadata, frames).
    total_bytes : int or None
        Bytes of the source, where it is a file.
    """

    name: str
    batches: Iterator[Batch]
    total_rows: int | None = None
    total_bytes: int | None = None


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # noqa: PLC0415
    except ImportError as exc:
        msg = "reading this source in batches needs pyarrow: pip install 'stickykit[arrow]'"
        raise MissingDependencyError(msg) from exc
    return pa


def _module_of(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def _is_path(source: Any) -> bool:
    return isinstance(source, str | os.PathLike)


def is_streamable(source: Any) -> bool:
    """Whether :func:`iter_batches` reads ``source`` without loading it whole first.

    Paths, sequences of paths, pyarrow tables, readers and datasets, lazy polars frames, pandas
    and polars dataframes, Arrow C streams and iterators of dataframes (``pandas.read_csv(...,
    chunksize=...)``) are; mappings of columns, record lists and frames are already in memory
    and go through the loaders directly.

    Examples
    --------
    >>> is_streamable("events.parquet"), is_streamable({"a": [1]})
    (True, False)
    """
    if _is_path(source):
        return True
    if isinstance(source, list | tuple) and source and all(_is_path(s) for s in source):
        return True
    if isinstance(source, Mapping | list | tuple):
        return False
    if isinstance(source, Iterator):
        return True
    if _module_of(source) in ("pyarrow", "polars", "pandas", "duckdb", "adbc_driver_manager"):
        return True
    return hasattr(source, "__arrow_c_stream__")


def iter_batches(
    source: Any, *, batch_rows: int | None = None, columns: Iterable[str] | None = None
) -> BatchStream:
    """Read ``source`` in batches of at most ``batch_rows`` rows.

    Parameters
    ----------
    source : path, sequence of paths, table, reader, dataset, lazy frame, dataframe or mapping
        What to read (see the module documentation).
    batch_rows : int, optional
        Rows per batch (default :data:`DEFAULT_BATCH_ROWS`). Readers that deliver smaller
        batches (a Parquet row group, an Arrow stream's own batches) are not merged.
    columns : iterable of str, optional
        The columns wanted; others are not read where the format allows it.

    Returns
    -------
    BatchStream
        The lazily read batches and the source's size where known.

    Raises
    ------
    SourceError
        When the file or stream cannot be read (at the batch where it fails).
    MissingDependencyError
        When the source needs pyarrow, polars or narwhals and it is not installed.

    Examples
    --------
    >>> import pyarrow as pa
    >>> table = pa.table({"customer_id": [1, 2, 3, 4, 5]})
    >>> [len(b.rows) for b in iter_batches(table, batch_rows=2).batches]
    [2, 2, 1]
    """
    size = DEFAULT_BATCH_ROWS if batch_rows is None else batch_rows
    if isinstance(size, bool) or size < 1:
        msg = f"batch_rows must be a positive integer, got {batch_rows!r}"
        raise ValueError(msg)
    wanted = None if columns is None else set(columns)
    if _is_path(source):
        return _path_batches(Path(source), int(size), wanted)
    if isinstance(source, list | tuple) and source and all(_is_path(s) for s in source):
        streams = [_path_batches(Path(s), int(size), wanted) for s in source]
        return BatchStream(
            name=f"{len(streams)} files",
            batches=(b for s in streams for b in s.batches),
            total_rows=_sum_known([s.total_rows for s in streams]),
            total_bytes=_sum_known([s.total_bytes for s in streams]),
        )
    if isinstance(source, Mapping):
        cols = read_columns(source, wanted)
        return BatchStream("input", _slice_columns(cols, int(size), "input"), total_rows=cols.n)
    if isinstance(source, Iterator):
        return BatchStream("chunks", _chained(source, int(size), wanted))
    return _object_batches(source, int(size), wanted)


def _chained(parts: Iterator[Any], size: int, wanted: set[str] | None) -> Iterator[Batch]:
    """The batches of each part in turn, rows and batches numbered across parts."""
    base = 0
    index = 0
    for part in parts:
        read = 0
        stream = (
            iter_batches(part, batch_rows=size, columns=wanted)
            if isinstance(part, Mapping)
            else _object_batches(part, size, wanted)
        )
        for batch in stream.batches:
            yield attrs.evolve(
                batch,
                rows=batch.rows + base,
                index=index,
                source="chunks",
                problems=tuple(attrs.evolve(v, rows=v.rows + base) for v in batch.problems),
            )
            index += 1
            read += batch.n_read
        base += read


def _sum_known(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _slice_columns(cols: Columns, size: int, name: str) -> Iterator[Batch]:
    for index, start in enumerate(range(0, max(cols.n, 1), size)):
        stop = min(start + size, cols.n)
        part = Columns({k: v[start:stop] for k, v in cols.data.items()}, cols.aware, stop - start)
        yield Batch(part, np.arange(start, stop, dtype=np.int64), index, name, n_read=stop - start)


# --------------------------------------------------------------------------- arrow objects


def _arrow_columns(batch: Any, wanted: set[str] | None) -> Columns:
    pa = _pyarrow()
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    return read_columns(table, wanted)


def _from_record_batches(
    name: str,
    produce: Callable[[], Iterator[Any]],
    size: int,
    wanted: set[str] | None,
    convert: Callable[[Any, set[str] | None], Columns] = _arrow_columns,
    bytes_of: Callable[[int], int | None] | None = None,
) -> Iterator[Batch]:
    """Slice each delivered batch to at most ``size`` rows; wrap reader failures."""
    index = 0
    start = 0
    iterator = None
    try:
        iterator = produce()
        for delivered in iterator:
            n = len(delivered)
            for offset in range(0, max(n, 1), size):
                stop = min(offset + size, n)
                part = delivered.slice(offset, stop - offset) if n > size else delivered
                cols = convert(part, wanted)
                yield Batch(
                    cols,
                    np.arange(start, start + cols.n, dtype=np.int64),
                    index,
                    name,
                    n_read=cols.n,
                    bytes_done=None if bytes_of is None else bytes_of(start + cols.n),
                )
                start += cols.n
                index += 1
                if n == 0:
                    break
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        if _module_of(exc) not in (
            "pyarrow",
            "builtins",
            "polars",
            "duckdb",
            "adbc_driver_manager",
        ):
            raise  # stickykit's own errors (a ValidationError is a ValueError) pass unchanged
        raise SourceError(source=name, batch=index, row=start, reason=_first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _object_batches(source: Any, size: int, wanted: set[str] | None) -> BatchStream:
    kind = _module_of(source)
    type_name = type(source).__name__
    if kind == "polars" and hasattr(source, "collect_batches"):
        return BatchStream(
            "polars LazyFrame",
            _from_record_batches(
                "polars LazyFrame",
                lambda: iter(source.collect_batches(chunk_size=size)),
                size,
                wanted,
                convert=read_columns,
            ),
        )
    if kind in ("pandas", "polars"):
        return _dataframe_batches(source, size, wanted)
    if kind == "pyarrow":
        pa = _pyarrow()
        if isinstance(source, pa.RecordBatch):
            source = pa.Table.from_batches([source])
        if isinstance(source, pa.Table):
            return BatchStream(
                "pyarrow Table",
                _from_record_batches(
                    "pyarrow Table",
                    lambda: iter(source.to_batches(max_chunksize=size)),
                    size,
                    wanted,
                ),
                total_rows=source.num_rows,
            )
        if hasattr(source, "to_batches") and hasattr(source, "count_rows"):  # a dataset
            names = _present(source.schema.names, wanted)
            return BatchStream(
                "pyarrow dataset",
                _from_record_batches(
                    "pyarrow dataset",
                    lambda: iter(source.to_batches(columns=names, batch_size=size)),
                    size,
                    wanted,
                ),
            )
    if hasattr(source, "__arrow_c_stream__"):
        pa = _pyarrow()
        name = f"{type_name} stream"
        return BatchStream(
            name,
            _from_record_batches(
                name, lambda: iter(pa.RecordBatchReader.from_stream(source)), size, wanted
            ),
        )
    if hasattr(source, "read_next_batch"):  # a pyarrow RecordBatchReader without the protocol
        return BatchStream(
            "RecordBatchReader",
            _from_record_batches("RecordBatchReader", lambda: iter(source), size, wanted),
        )
    msg = f"cannot read a {type(source).__module__}.{type_name} in batches"
    raise TypeError(msg)


def _present(names: Sequence[str], wanted: set[str] | None) -> list[str] | None:
    if wanted is None:
        return None
    return [n for n in names if n in wanted]


def _dataframe_batches(frame: Any, size: int, wanted: set[str] | None) -> BatchStream:
    try:
        import narwhals.stable.v2 as nw  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "reading a dataframe needs narwhals: pip install 'stickykit[dataframe]'"
        raise MissingDependencyError(msg) from exc
    df = nw.from_native(frame, eager_only=True)
    n = len(df)

    def parts() -> Iterator[Any]:
        for start in range(0, max(n, 1), size):
            yield _Sliced(df[start : min(start + size, n)].to_native())

    name = f"{type(frame).__name__}"
    return BatchStream(
        name,
        _from_record_batches(name, parts, size, wanted, convert=_sliced_columns),
        total_rows=n,
    )


@attrs.frozen
class _Sliced:
    """A dataframe slice with a length, so that the batch slicer leaves it whole."""

    native: Any

    def __len__(self) -> int:
        return len(self.native)


def _sliced_columns(part: _Sliced, wanted: set[str] | None) -> Columns:
    return read_columns(part.native, wanted)


# --------------------------------------------------------------------------- files


def _path_batches(path: Path, size: int, wanted: set[str] | None) -> BatchStream:
    name = str(path)
    if not path.exists():
        raise SourceError(source=name, batch=None, row=None, reason="no such file or directory")
    if path.is_dir():
        return _dataset_batches(path, size, wanted)
    suffixes = [s.lower() for s in path.suffixes]
    plain = [s for s in suffixes if s not in _COMPRESSED]
    if plain and plain[-1] in _PARQUET_SUFFIXES:
        return _parquet_batches(path, size, wanted)
    if "pyarrow" not in sys.modules:
        try:
            import pyarrow as pa  # noqa: F401, PLC0415
        except ImportError:
            cols = read_columns(path, wanted)  # the standard library reads the file whole
            return BatchStream(name, _slice_columns(cols, size, name), total_rows=cols.n)
    return _csv_batches(path, size, wanted)


def _dataset_batches(path: Path, size: int, wanted: set[str] | None) -> BatchStream:
    _pyarrow()
    import pyarrow.dataset as pads  # noqa: PLC0415

    files = sorted(p for p in path.rglob("*") if p.is_file())
    formats = {"parquet" if p.suffix.lower() in _PARQUET_SUFFIXES else "csv" for p in files}
    if len(formats) != 1:
        reason = "a directory must hold only Parquet or only CSV files"
        raise SourceError(source=str(path), batch=None, row=None, reason=reason)
    try:
        dataset = pads.dataset(path, format=formats.pop())
    except (OSError, ValueError) as exc:
        raise SourceError(source=str(path), batch=None, row=None, reason=_first_line(exc)) from exc
    names = _present(dataset.schema.names, wanted)
    return BatchStream(
        str(path),
        _from_record_batches(
            str(path),
            lambda: iter(dataset.to_batches(columns=names, batch_size=size)),
            size,
            wanted,
        ),
        total_bytes=sum(p.stat().st_size for p in files),
    )


def _parquet_batches(path: Path, size: int, wanted: set[str] | None) -> BatchStream:
    _pyarrow()
    import pyarrow.parquet as pq  # noqa: PLC0415

    name = str(path)
    try:
        # without pre-buffering: pyarrow would otherwise keep every row group read so far
        handle = pq.ParquetFile(path, pre_buffer=False)
    except (OSError, ValueError) as exc:
        raise SourceError(source=name, batch=None, row=None, reason=_first_line(exc)) from exc
    total = handle.metadata.num_rows
    nbytes = path.stat().st_size
    names = _present(handle.schema_arrow.names, wanted)

    def bytes_of(rows_done: int) -> int:
        return nbytes if total == 0 else round(nbytes * rows_done / total)

    return BatchStream(
        name,
        _from_record_batches(
            name,
            lambda: iter(handle.iter_batches(batch_size=size, columns=names)),
            size,
            wanted,
            bytes_of=bytes_of,
        ),
        total_rows=total,
        total_bytes=nbytes,
    )


class _CountingFile:
    """A binary file that counts the bytes read from it (for the progress bar)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.count = 0
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data = self._handle.read(n)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self._handle.close()


def _csv_batches(path: Path, size: int, wanted: set[str] | None) -> BatchStream:
    from stickykit.io._csvstream import csv_batches  # noqa: PLC0415

    name = str(path)
    nbytes = path.stat().st_size
    return BatchStream(
        name, csv_batches(path, name, size, wanted, _CountingFile), total_bytes=nbytes
    )
