"""Reading a source into plain numpy columns: mappings, dataframes (through narwhals), CSV files."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.errors import MissingDependencyError, ValidationError

__all__ = ["Columns", "read_columns"]


class Columns:
    """Named numpy columns plus the names of columns holding timezone-aware (UTC) instants."""

    def __init__(self, data: dict[str, NDArray[Any]], aware: frozenset[str], n: int) -> None:
        self.data = data
        self.aware = aware
        self.n = n

    def get(self, name: str | None) -> NDArray[Any] | None:
        """The column ``name``, or ``None`` when absent or not asked for."""
        return None if name is None else self.data.get(name)


def _narwhals() -> Any:
    try:
        import narwhals.stable.v2 as nw  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "reading a dataframe needs narwhals: pip install 'stickykit[dataframe]'"
        raise MissingDependencyError(msg) from exc
    return nw


def _from_dataframe(frame: Any, wanted: set[str] | None) -> Columns:
    nw = _narwhals()
    df = nw.from_native(frame, eager_only=True)
    data: dict[str, NDArray[Any]] = {}
    aware: set[str] = set()
    for name in df.columns:
        if wanted is not None and name not in wanted:
            continue
        series = df[name]
        dtype = series.dtype
        if isinstance(dtype, nw.Unknown) and getattr(series.to_native().dtype, "tz", None):
            # narwhals reads pandas "datetime64[ns, America/New_York]" as Unknown (it expects
            # zone names without "_", "-" or digits); the cast to UTC still works
            series = series.cast(nw.Datetime("us", "UTC"))
            dtype = series.dtype
        if isinstance(dtype, nw.Datetime) and dtype.time_zone is not None:
            aware.add(name)
            series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        data[name] = series.to_numpy()
    return Columns(data, frozenset(aware), len(df))


def _from_csv(path: Path, wanted: set[str] | None) -> Columns:
    try:
        import pyarrow.csv as pacsv  # noqa: PLC0415
    except ImportError:
        pacsv = None
    if pacsv is not None:
        table = pacsv.read_csv(path)
        if table.num_rows == 0:  # a header alone: columns of no type, nothing to convert
            names = [n for n in table.column_names if wanted is None or n in wanted]
            return Columns({n: np.empty(0, dtype=object) for n in names}, frozenset(), 0)
        return _from_dataframe(table, wanted)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValidationError(
            record="CSV", field=str(path), row=None, value="empty file", expected="a header line"
        )
    header, body = rows[0], rows[1:]
    columns = list(zip(*body, strict=True)) if body else [() for _ in header]
    data = {
        name: np.array(values, dtype=str)
        for name, values in zip(header, columns, strict=True)
        if wanted is None or name in wanted
    }
    return Columns(data, frozenset(), len(body))


def read_columns(source: Any, wanted: set[str] | None = None) -> Columns:
    """Read ``source`` into numpy columns.

    ``source`` is a mapping of column name to array-like, a pandas, polars or pyarrow table
    (read through narwhals, the ``dataframe`` extra), or a path to a CSV file (read with pyarrow
    when installed, else with the standard library).

    Examples
    --------
    >>> cols = read_columns({"a": [1, 2], "b": ["x", "y"]})
    >>> cols.n, cols.data["a"].dtype
    (2, dtype('int64'))
    """
    if isinstance(source, Columns):
        if wanted is None:
            return source
        kept = {name: col for name, col in source.data.items() if name in wanted}
        return Columns(kept, source.aware & frozenset(kept), source.n)
    if isinstance(source, str | os.PathLike):
        return _from_csv(Path(source), wanted)
    if isinstance(source, Mapping):
        data = {
            str(name): np.asarray(values)
            for name, values in source.items()
            if wanted is None or name in wanted
        }
        lengths = {name: len(col) for name, col in data.items()}
        n = next(iter(lengths.values()), 0)
        for name, length in lengths.items():
            if length != n:
                raise ValidationError(
                    record="input",
                    field=name,
                    row=None,
                    value=f"length {length}",
                    expected=f"length {n}",
                )
        for name, col in data.items():
            if col.ndim != 1:
                raise ValidationError(
                    record="input",
                    field=name,
                    row=None,
                    value=f"{col.ndim}-D array",
                    expected="a 1-D column",
                )
        return Columns(data, frozenset(), n)
    return _from_dataframe(source, wanted)
