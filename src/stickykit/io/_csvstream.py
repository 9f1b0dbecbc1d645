"""A CSV file in batches with pyarrow: malformed lines and type drift become rejected rows.

pyarrow's streaming reader infers column types from the first block and fails on a later block
whose value does not fit, without naming the row. Here the first block is read once to learn the
types; then every block is read as text, integer columns are converted here (a non-integer is a
rejected row with its number), and everything else is left to stickykit's validators, which
name the row of every bad value. Lines with too many or too few fields are skipped by pyarrow's
``invalid_row_handler`` and reported with their number (single-threaded parsing gives it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.errors import SourceError
from stickykit.io._source import Columns
from stickykit.io.batches import Batch
from stickykit.io.validate import Violation

__all__ = ["csv_batches"]

_FIRST_BLOCK = 1 << 20
_MIN_BLOCK = 1 << 14
_MAX_BLOCK = 1 << 30
# int64 holds every 18-digit integer
_MAX_DIGITS = 18


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _open_reader(pacsv: Any, source: Any, block: int, handler: Any, convert: Any = None) -> Any:
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=block, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
        convert_options=convert,
    )


def _first_block(pacsv: Any, path: Path, name: str) -> tuple[Any, int]:
    """The inferred schema and the number of rows in the first block."""
    try:
        reader = _open_reader(pacsv, path, _FIRST_BLOCK, lambda _row: "skip")
    except (OSError, ValueError) as exc:
        raise SourceError(source=name, batch=None, row=None, reason=_first_line(exc)) from exc
    try:
        schema = reader.schema
        try:
            rows = reader.read_next_batch().num_rows
        except StopIteration:
            rows = 0
    except (OSError, ValueError) as exc:
        raise SourceError(source=name, batch=0, row=0, reason=_first_line(exc)) from exc
    finally:
        reader.close()
    return schema, rows


def _integers(
    values: NDArray[Any], field: str, positions: NDArray[np.int64]
) -> tuple[NDArray[Any], Violation | None]:
    """Text to int64 (float64 with NaN where blank); anything else is a violation."""
    absent = np.asarray(values == None)  # elementwise on an object array
    text = np.strings.strip(np.where(absent, "", values).astype(str))
    blank = text == ""
    digits = np.strings.lstrip(text, "+-")
    ok = (
        np.strings.isdecimal(digits)
        & (np.strings.str_len(digits) <= _MAX_DIGITS)
        & (np.strings.str_len(text) - np.strings.str_len(digits) <= 1)
    )
    numbers = np.zeros(len(text), dtype=np.int64)
    numbers[ok] = text[ok].astype(np.int64)
    bad = ~ok & ~blank
    problem = None
    if bad.any():
        where = np.flatnonzero(bad)
        problem = Violation(
            field=field,
            rows=positions[where],
            values=values[where],
            expected="an integer, like the rest of the column",
        )
    if blank.any():
        return np.where(blank, np.nan, numbers.astype(np.float64)), problem
    return numbers, problem


def _failing(pc: Any, text: Any, target: Any) -> list[int]:
    """Indices of ``text`` that do not cast to ``target``, found by halving (few casts)."""
    try:
        pc.cast(text, target)
    except (ValueError, TypeError):
        if len(text) == 1:
            return [0]
        half = len(text) // 2
        right = _failing(pc, text.slice(half), target)
        return _failing(pc, text.slice(0, half), target) + [half + i for i in right]
    return []


def _temporal(
    pa: Any, values: Any, target: Any, field: str, positions: NDArray[np.int64]
) -> tuple[NDArray[Any], bool, Violation | None]:
    """Text cast to the column's inferred date or timestamp type, as read whole would give.

    Returns the numpy column, whether it holds UTC instants, and the rows that do not parse.
    """
    import pyarrow.compute as pc  # noqa: PLC0415

    from stickykit.io._source import read_columns  # noqa: PLC0415

    text = pc.if_else(pc.equal(pc.utf8_trim_whitespace(values), ""), None, values)  # null stays
    bad = _failing(pc, text, target)
    problem = None
    if bad:
        where = np.array(bad, dtype=np.int64)
        problem = Violation(
            field=field,
            rows=positions[where],
            values=values.to_numpy(zero_copy_only=False)[where],
            expected=f"a {target} value, like the rest of the column",
        )
        mask = np.zeros(len(text), dtype=bool)
        mask[where] = True
        text = pc.if_else(pa.array(mask), None, text)
    cols = read_columns(pa.table({field: pc.cast(text, target)}))
    return cols.data[field], field in cols.aware, problem


def _positions(start: int, n: int, skipped: NDArray[np.int64]) -> NDArray[np.int64]:
    """Data-row numbers of the ``n`` parsed rows of a block that starts at ``start``."""
    span = np.arange(start, start + n + len(skipped), dtype=np.int64)
    kept = np.setdiff1d(span, skipped, assume_unique=True)
    if len(kept) == n:
        return kept
    return np.arange(start, start + n, dtype=np.int64)  # pragma: no cover - defensive


def csv_batches(
    path: Path,
    name: str,
    size: int,
    wanted: set[str] | None,
    counting: Callable[[Any], Any],
) -> Iterator[Batch]:
    """Batches of about ``size`` rows of the CSV file ``path`` (see the module docstring)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415

    schema, first_rows = _first_block(pacsv, path, name)
    compressed = path.suffix.lower() in (".gz", ".bz2", ".zst", ".lz4")
    sample = min(path.stat().st_size, _FIRST_BLOCK)
    per_row = sample / max(first_rows, 1)
    block = int(min(max(per_row * size, _MIN_BLOCK), _MAX_BLOCK))
    include = [n for n in schema.names if wanted is None or n in wanted]
    integer = {f.name for f in schema if pa.types.is_integer(f.type) and f.name in include}
    temporal = {
        f.name: f.type
        for f in schema
        if (pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)) and f.name in include
    }
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in schema.names},
        include_columns=include or None,
        strings_can_be_null=True,
    )
    skipped: list[tuple[int, str]] = []

    def handler(row: Any) -> str:
        skipped.append((-1 if row.number is None else row.number - 2, row.text))
        return "skip"

    handle = None if compressed else counting(path.open("rb"))
    start = 0
    index = 0
    try:
        reader = _open_reader(pacsv, path if handle is None else handle, block, handler, convert)
        for record_batch in reader:
            lines = list(skipped)
            skipped.clear()
            bad_lines = np.array([row for row, _ in lines], dtype=np.int64)
            n = record_batch.num_rows
            positions = _positions(start, n, bad_lines)
            problems: list[Violation] = []
            if lines:
                problems.append(
                    Violation(
                        field="(line)",
                        rows=bad_lines,
                        values=np.array([text for _, text in lines], dtype=object),
                        expected=f"{len(schema.names)} comma-separated fields",
                    )
                )
            data: dict[str, NDArray[Any]] = {}
            aware: set[str] = set()
            for column in record_batch.schema.names:
                problem = None
                if column in temporal:
                    values, is_aware, problem = _temporal(
                        pa, record_batch.column(column), temporal[column], column, positions
                    )
                    if is_aware:
                        aware.add(column)
                else:
                    values = record_batch.column(column).to_numpy(zero_copy_only=False)
                if column in integer:
                    values, problem = _integers(values, column, positions)
                if problem is not None:
                    problems.append(problem)
                data[column] = values
            keep = positions
            if any(p.field != "(line)" for p in problems):
                drop = np.concatenate([p.rows for p in problems if p.field != "(line)"])
                mask = ~np.isin(positions, drop)
                data = {k: v[mask] for k, v in data.items()}
                keep = positions[mask]
            n_problem_rows = n + len(lines) - len(keep)
            for offset in range(0, max(len(keep), 1), size):
                stop = min(offset + size, len(keep))
                first = offset == 0
                yield Batch(
                    Columns(
                        {k: v[offset:stop] for k, v in data.items()},
                        frozenset(aware),
                        stop - offset,
                    ),
                    keep[offset:stop],
                    index,
                    name,
                    problems=tuple(problems) if first else (),
                    n_read=stop - offset + (n_problem_rows if first else 0),
                    bytes_done=None if handle is None else handle.count,
                )
                index += 1
            start += n + len(lines)
    except (OSError, ValueError) as exc:
        if type(exc).__module__.startswith("stickykit"):
            raise
        raise SourceError(source=name, batch=index, row=start, reason=_first_line(exc)) from exc
    finally:
        if handle is not None:
            handle.close()
