r"""The ``stickykit`` command: from data files to metrics, quarantine summaries and reports.

Sub-commands (each has ``--help``):

``report``
    The HTML stickiness report, from an events file and/or a survey file, or from the bundled
    data (``--demo``).
``metrics``
    The registered metrics, plugins included.
``compute METRIC FILE``
    One metric over a file, printed as a table or as JSON.
``validate FILE --kind events|survey|customers``
    Load with quarantine and print what was accepted and rejected, and why.
``demo``
    The NPS of the bundled NPSgame survey, overall and by wave.

Files are CSV (``.csv``) or Parquet (``.parquet``, ``.pq``; needs pyarrow and narwhals, the
``arrow`` and ``dataframe`` extras). Columns named differently from stickykit's fields are
mapped with ``--map FIELD=COLUMN`` (repeatable; ``events.FIELD=COLUMN`` or
``survey.FIELD=COLUMN`` for one file only) or with ``--config FILE.toml`` holding a
``[columns]`` table (optionally with ``[columns.events]``, ``[columns.survey]`` and
``[columns.customers]`` sub-tables); ``--map`` wins over the file. For survey files, a name that
is not a survey field maps an answer item: ``--map nps=recommend`` reads the ``nps`` answers
from the column ``recommend``.

Exit codes: 0 success, 1 bad input (a missing, unreadable or empty file, no valid rows, an
unknown column, a bad metric parameter, any :class:`~stickykit.errors.StickykitError`),
2 usage error. An error is one line on standard error, without a traceback (an unexpected
one too; ``stickykit --traceback ...`` shows where it came from), and no output file is left
half-written: the report and ``validate --rejected`` write through a temporary file moved into
place. Exports neutralise spreadsheet formulas and, with ``--pseudonymise``, replace customer
ids by keyed pseudonyms (:mod:`stickykit.report.exports`).

Examples
--------
>>> import contextlib, io
>>> with contextlib.redirect_stdout(io.StringIO()) as out:
...     code = main(["metrics"])
>>> code, "Net Promoter Score" in out.getvalue()
(0, True)
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     code = main(["compute", "nps", "no-such-file.csv"])
>>> code, err.getvalue()
(1, 'stickykit: error: no-such-file.csv: no such file\n')
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import difflib
import importlib
import json
import math
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core.schema import SOURCE_FIELDS
from stickykit.errors import MissingDependencyError, StickykitError

__all__ = ["main"]

_Kind = Literal["events", "survey", "customers"]
_KINDS: tuple[_Kind, ...] = ("events", "survey", "customers")

_REQUIRED: Mapping[_Kind, tuple[str, ...]] = {
    "events": ("customer_id", "timestamp"),
    "survey": (),
    "customers": ("customer_id",),
}
_GROUP_FIELDS = ("wave", "segment", "instrument", "customer_id")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_ANSWER_RANGE = (-128, 127)
# the library's advice in its own terms, and in the command's
_OPTION_WORDS = (
    ("pass errors='quarantine' to keep the rest", "use --errors quarantine to keep the rest"),
    ("pass tz='UTC' or the zone", "use --tz UTC or the zone"),
)
_SHOWN_COLUMNS = 20
_SHOWN_REASONS = 10


class _CommandError(Exception):
    """Bad input found by the command line; its message is the one line printed."""


class _UsageError(Exception):
    """Options that do not go together (exit code 2, like argparse's own usage errors)."""


# ---------------------------------------------------------------------------------------------
# argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a positive integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _field_column(text: str) -> tuple[str | None, str, str]:
    """``FIELD=COLUMN`` or ``KIND.FIELD=COLUMN`` as (kind or None, field, column)."""
    field, sep, column = text.partition("=")
    field, column = field.strip(), column.strip()
    if not sep or not field or not column:
        msg = f"expected FIELD=COLUMN, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    scope, dot, rest = field.partition(".")
    if dot and scope in _KINDS and rest:
        return scope, rest, column
    return None, field, column


def _key_value(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as JSON when it is JSON, else kept as text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        msg = f"expected key=value, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def _item_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        msg = f"expected comma-separated column names, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return items


# ---------------------------------------------------------------------------------------------
# messages


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (attrs validators put it in ``args[0]``)."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    for python, command in _OPTION_WORDS:
        text = text.replace(python, command)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def _data_error(path: Path, exc: BaseException) -> _CommandError:
    """A loader's or metric's error about the rows of ``path``, with the way to go on."""
    text = f"{path}: {_one_line(exc)}"
    if getattr(exc, "row", None) is not None and "--errors quarantine" not in text:
        text += "; use --errors quarantine to leave bad rows out"
    return _CommandError(text)


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN_COLUMNS])
    if len(names) > _SHOWN_COLUMNS:
        shown += f", ... ({len(names) - _SHOWN_COLUMNS} more)"
    return shown or "none"


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------------------------------------
# column mapping


@attrs.frozen
class _ColumnPlan:
    """Where one file's fields and answer items come from.

    ``fields`` maps a loader field to its column (the loaders' ``columns=``); ``renames`` maps
    an answer item to the column it is read from (survey files only).
    """

    fields: Mapping[str, str] = attrs.field(factory=dict)
    renames: Mapping[str, str] = attrs.field(factory=dict)
    origins: Mapping[str, str] = attrs.field(factory=dict)

    def source(self, field: str) -> str:
        """The column a field or item is read from."""
        return self.fields.get(field) or self.renames.get(field) or field


def _config_entries(path: Path) -> list[_Entry]:
    """The ``[columns]`` entries of a TOML file, as ``--map`` entries."""
    try:
        with path.open("rb") as handle:
            config = tomllib.load(handle)
    except FileNotFoundError:
        raise _CommandError(f"{path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _CommandError(f"{path}: not a readable TOML file ({_one_line(exc)})") from None
    unknown = sorted(set(config) - {"columns"})
    if unknown or not isinstance(config.get("columns"), dict):
        raise _CommandError(
            f'{path}: expected one [columns] table of FIELD = "COLUMN" entries'
            + (f"; unknown tables or keys: {', '.join(unknown)}" if unknown else "")
        )
    entries: list[_Entry] = []
    for key, value in config["columns"].items():
        if isinstance(value, dict) and key in _KINDS:
            scoped = [(key, f, c) for f, c in value.items()]
        else:
            scoped = [(None, key, value)]
        for scope, field, column in scoped:
            if not isinstance(column, str) or not column:
                where = f"columns.{scope}.{field}" if scope else f"columns.{field}"
                raise _CommandError(f"{path}: {where} must be a column name (text), got {column!r}")
            entries.append((scope, field, column))
    return entries


_Entry = tuple[str | None, str, str]


def _plans(
    groups: Sequence[tuple[str, Sequence[_Entry]]], kinds: Sequence[_Kind]
) -> dict[_Kind, _ColumnPlan]:
    """Each file kind's column plan; unknown fields are errors (with a suggestion).

    ``groups`` are (label, entries) in rising precedence (the config file, then ``--map``);
    within a group a ``KIND.FIELD`` entry wins over a ``FIELD`` entry.
    """
    every_field = sorted({f for k in _KINDS for f in SOURCE_FIELDS[k]})
    fields: dict[_Kind, dict[str, str]] = {k: {} for k in kinds}
    renames: dict[_Kind, dict[str, str]] = {k: {} for k in kinds}
    origins: dict[_Kind, dict[str, str]] = {k: {} for k in kinds}
    ordered = [
        (label, entry)
        for label, entries in groups
        for scoped_pass in (False, True)
        for entry in entries
        if (entry[0] is not None) == scoped_pass
    ]
    for label, (scope, field, column) in ordered:
        name = f"{scope}.{field}" if scope else field
        if scope is not None and scope not in kinds:
            raise _CommandError(f"{label} {name}: this command reads no {scope} file")
        targets = [k for k in kinds if scope is None or k == scope]
        applied = False
        origin = f"--by {column}" if label == "--by" else f"{label} {name}={column}"
        for kind in targets:
            origins[kind][field] = origin
            if field in SOURCE_FIELDS[kind]:
                fields[kind][field] = column
                applied = True
            elif kind == "survey" and field not in every_field:
                near = _suggest(field, SOURCE_FIELDS["survey"])
                if near:
                    raise _CommandError(f"{label} {name}: not a survey field{near}")
                renames[kind][field] = column  # an answer item read from another column
                applied = True
        if not applied:
            names = sorted({f for k in targets for f in SOURCE_FIELDS[k]})
            raise _CommandError(
                f"{label} {name}: not a field of {' or '.join(targets)} data "
                f"(fields: {', '.join(names)}){_suggest(field, names)}"
            )
    return {k: _ColumnPlan(fields[k], renames[k], origins[k]) for k in kinds}


def _entries(args: argparse.Namespace) -> list[tuple[str, Sequence[_Entry]]]:
    """The column entries of ``--config`` and ``--map``, in rising precedence."""
    groups: list[tuple[str, Sequence[_Entry]]] = []
    if args.config:
        groups.append((f"{args.config} [columns]", _config_entries(Path(args.config))))
    groups.append(("--map", list(args.map or [])))
    return groups


# ---------------------------------------------------------------------------------------------
# reading files


def _file_format(path: Path) -> str:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise _CommandError(
            f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}; use .csv or .parquet"
        )
    return fmt


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise _CommandError(f"{path}: no such file")
    if path.is_dir():
        raise _CommandError(f"{path}: is a directory, not a file")
    if path.stat().st_size == 0:
        raise _CommandError(f"{path}: the file is empty")


def _pyarrow(fmt: str) -> Any:
    try:
        import pyarrow as pa  # noqa: PLC0415
    except ImportError as exc:
        if fmt == "csv":
            return None
        msg = "reading Parquet needs pyarrow and narwhals: pip install 'stickykit[arrow,dataframe]'"
        raise MissingDependencyError(msg) from exc
    return pa


def _header(path: Path, fmt: str) -> list[str]:
    """The column names of a file, read without reading its rows."""
    _check_readable(path)
    try:
        if fmt == "parquet":
            _pyarrow(fmt)
            import pyarrow.parquet as pq  # noqa: PLC0415

            return list(pq.read_schema(path).names)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise _CommandError(f"{path}: not UTF-8 text; save it as UTF-8 CSV") from None
    except OSError as exc:
        raise _CommandError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, csv.Error) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise _CommandError(f"{path}: not a readable {fmt} file ({_one_line(exc)})") from None
    if not first or not any(name.strip() for name in first):
        raise _CommandError(f"{path}: no header line; the first line must name the columns")
    return first


def _read(path: Path, fmt: str, columns: Sequence[str], renames: Mapping[str, str]) -> Any:
    """The file's ``columns`` as a pyarrow table (or a mapping of arrays without pyarrow).

    ``renames`` (item -> column) gives those columns their item names.
    """
    pa = _pyarrow(fmt)
    back = {column: item for item, column in renames.items()}
    try:
        if pa is None:
            from stickykit.io._source import read_columns  # noqa: PLC0415

            data = read_columns(path, set(columns)).data
            return {back.get(name, name): values for name, values in data.items()}
        if fmt == "parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415

            table = pq.read_table(path, columns=list(columns))
        else:
            import pyarrow.csv as pacsv  # noqa: PLC0415

            options = pacsv.ConvertOptions(include_columns=list(columns))
            table = pacsv.read_csv(path, convert_options=options)
    except OSError as exc:
        raise _CommandError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, csv.Error) as exc:
        raise _CommandError(f"{path}: not a readable {fmt} file ({_one_line(exc)})") from None
    return table.rename_columns([back.get(name, name) for name in table.column_names])


def _column(source: Any, name: str) -> NDArray[Any]:
    if isinstance(source, Mapping):
        return np.asarray(source[name])
    return np.asarray(source.column(name).to_numpy(zero_copy_only=False))


def _n_rows(source: Any) -> int:
    if isinstance(source, Mapping):
        return len(next(iter(source.values()), ()))
    return int(source.num_rows)


def _names(source: Any) -> list[str]:
    return list(source) if isinstance(source, Mapping) else list(source.column_names)


def _known_items() -> set[str]:
    """The answer items the registered survey metrics read with their default parameters."""
    from stickykit.plugins.registry import list_metrics  # noqa: PLC0415

    names: set[str] = set()
    for info in list_metrics():
        if info.input_kind != "survey":
            continue
        try:
            names.update(getattr(info.factory(), "requires", ()))
        except (TypeError, ValueError, StickykitError):  # needs parameters: no default items
            continue
    return names


def _id_like(name: str) -> bool:
    """``id``, ``customer_id``, ``RespondentID``...: an identifier, never an answer."""
    lowered = name.lower()
    return lowered == "id" or lowered.endswith(("_id", " id")) or name.endswith("ID")


def _answer_like(values: NDArray[Any]) -> bool:
    """Whether a whole column holds small integers (blanks allowed): a likely answer item."""
    lo, hi = _ANSWER_RANGE
    if values.dtype.kind in "iu":
        numbers = values
    elif values.dtype.kind == "f":
        numbers = values[~np.isnan(values)]
        if np.any(numbers != np.round(numbers)):
            return False
    elif values.dtype.kind == "U":
        text = np.strings.strip(values)
        text = text[text != ""]
        try:
            numbers = text.astype(np.int64)
        except ValueError:
            return False
    else:
        return False
    return bool(numbers.size) and bool(numbers.min() >= lo) and bool(numbers.max() <= hi)


@attrs.frozen(eq=False)
class _Loaded:
    """A loaded file: the loader's result, the columns read and the answer items used."""

    path: Path
    result: Any
    source: Any
    items: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: rows read, accepted, quarantined."""
        from stickykit.io import LoadResult  # noqa: PLC0415

        items = f"; answer items: {', '.join(self.items)}" if self.items else ""
        if isinstance(self.result, LoadResult):
            return (
                f"{self.path}: {self.result.n_input:,} rows read, {self.result.n_accepted:,} "
                f"accepted, {self.result.n_rejected:,} quarantined{items}"
            )
        return f"{self.path}: {len(self.result):,} rows read, all accepted{items}"


def _load_file(
    path: Path,
    kind: _Kind,
    plan: _ColumnPlan,
    *,
    errors: str,
    tz: str | None = None,
    items: Sequence[str] | None = None,
    all_columns: bool = False,
    need_rows: bool = True,
    need: Sequence[str] = (),
) -> _Loaded:
    """Load one file with the stickykit loaders, turning every problem into one clear line.

    ``items`` are the survey answer columns; when ``None`` they are the columns named as
    a registered survey metric's default items (``nps``, ``csat``...), whatever they hold (so
    their bad rows are quarantined, not the column ignored), and every other column, not
    named like an id, whose values are all integers in -128..127. ``all_columns`` reads every column (to export
    rejected rows whole); ``need_rows`` makes a file without any valid row an error; ``need``
    names optional fields that must be there (a grouping column).
    """
    from stickykit.io import LoadResult, load_customers, load_events, load_survey  # noqa: PLC0415

    fmt = _file_format(path)
    header = _header(path, fmt)
    present = set(header)
    for field, column in {**plan.fields, **plan.renames}.items():
        if column not in present:
            origin = plan.origins.get(field, f"--map {field}={column}")
            raise _CommandError(
                f"{path}: {origin}: no column {column!r} (columns: {_listed(header)})"
            )
    wanted_items = list(items) if items is not None else []
    for field in (*_REQUIRED[kind], *need, *wanted_items):
        column = plan.source(field)
        if column not in present:
            raise _CommandError(
                f"{path}: no column {column!r} (columns: {_listed(header)}); "
                f"use --map {field}=COLUMN"
            )
    field_columns = {plan.source(f) for f in SOURCE_FIELDS[kind]} & present
    infer = kind == "survey" and items is None
    if all_columns or infer:
        columns = list(header)
    else:
        columns = [
            c for c in header if c in field_columns or c in {plan.source(i) for i in wanted_items}
        ]
    source = _read(path, fmt, columns, plan.renames)
    if _n_rows(source) == 0:
        raise _CommandError(f"{path}: no data rows, only a header line")
    if infer:
        taken = {plan.source(f) for f in SOURCE_FIELDS["survey"]} | set(plan.renames)
        known = _known_items()
        wanted_items = list(plan.renames) + [
            name
            for name in _names(source)
            if name not in taken
            and (name in known or (not _id_like(name) and _answer_like(_column(source, name))))
        ]
        if not wanted_items:
            raise _CommandError(
                f"{path}: no answer columns (none named as a metric's item, such as nps, "
                f"and none holding only integers in "
                f"{_ANSWER_RANGE[0]}..{_ANSWER_RANGE[1]}); name them with --items"
            )
    mode: Any = errors  # "raise" or "quarantine", checked by the loaders
    try:
        if kind == "events":
            result: Any = load_events(source, errors=mode, columns=plan.fields, tz=tz)
        elif kind == "survey":
            result = load_survey(
                source, items=wanted_items, errors=mode, columns=plan.fields, tz=tz
            )
        else:
            result = load_customers(source, errors=mode, columns=plan.fields, tz=tz)
    except StickykitError as exc:
        if getattr(exc, "field", None) == "(rows)":
            raise _CommandError(f"{path}: no data rows, only a header line") from None
        raise _data_error(path, exc) from None
    if need_rows and isinstance(result, LoadResult) and result.n_accepted == 0:
        first = min(result.violations, key=lambda v: int(v.rows[0]))
        raise _CommandError(
            f"{path}: no valid rows: all {result.n_input:,} rows rejected "
            f"(first: {first.describe(0)}); see stickykit validate {path} --kind {kind}"
        )
    return _Loaded(path=path, result=result, source=source, items=tuple(wanted_items))


# ---------------------------------------------------------------------------------------------
# safe output files


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Any]:
    """Write ``path`` through a temporary file in its folder, moved into place on success."""
    folder = path.parent
    if not folder.is_dir():
        raise _CommandError(f"{path}: the folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise _CommandError(f"{path}: is a directory")
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            yield out
        umask = os.umask(0)  # mkstemp makes the file private (0600); give it the usual mode
        os.umask(umask)
        Path(temp).chmod(0o666 & ~umask)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_rejected(loaded: _Loaded, out_path: Path, customer_column: str | None) -> int:
    """Write the rejected rows, whole, with their reasons, to a formula-safe CSV file.

    Columns: ``row`` (0-based data row, as in the reasons; line ``row + 2`` of a CSV file with
    a header), ``reasons`` (every rule the row breaks), then the file's own columns. Cells
    are neutralised against spreadsheet formulas (:func:`stickykit.report.exports.to_csv`);
    ``customer_column``, when given, is replaced by keyed pseudonyms. Returns the rows
    written.
    """
    from stickykit.report.exports import Pseudonymiser, to_csv  # noqa: PLC0415

    result = loaded.result
    rows = np.asarray(result.rejected, dtype=np.int64)
    reasons: dict[int, list[str]] = {int(r): [] for r in rows}
    for v in result.violations:
        for i, row in enumerate(v.rows.tolist()):
            reasons[row].append(f"{v.field}: {v.value(i)!r} is invalid, expected {v.expected}")
    columns: dict[str, Any] = {
        "row": rows,
        "reasons": np.array(["; ".join(reasons[int(r)]) for r in rows], dtype=np.str_),
    }
    source = loaded.source
    table = None if isinstance(source, Mapping) else source.take(rows)
    for name in _names(source):
        if table is None:
            values = np.asarray(source[name])[rows]
        else:
            values = np.asarray(table.column(name).to_numpy(zero_copy_only=False))
        if name == customer_column:
            ids = values.tolist() if table is None else table.column(name).to_pylist()
            text = np.array(
                [
                    "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                    for v in ids
                ],
                dtype=np.str_,
            )
            values = np.where(text == "", "", Pseudonymiser.random()(text))
        columns[name] = values
    with _atomic(out_path) as handle:
        handle.write("\ufeff" + to_csv(columns))  # the mark makes spreadsheets read UTF-8
    return len(rows)


# ---------------------------------------------------------------------------------------------
# output


def _json_ready(value: Any) -> Any:
    """NaN and infinities as ``null``, so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_json_ready(value), indent=2, ensure_ascii=False, allow_nan=False))


def _print_result(result: Any, group_label: str) -> None:
    """A result as an aligned text table: overall row, then one row per group."""
    records = result.to_records()
    level = f"{result.level:.0%} CI" if result.level is not None else "CI"
    digits = 3 if result.unit == "share" else 1

    def number(value: float | None) -> str:
        return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"

    header = [group_label, "value", level, "n", "missing", "flags"]
    lines = [header]
    for record in records:
        ci = (
            "n/a"
            if record["ci_low"] is None or record["ci_high"] is None
            else f"{number(record['ci_low'])} to {number(record['ci_high'])}"
        )
        lines.append(
            [
                "(overall)" if record["group"] is None else record["group"],
                number(record["value"]),
                ci,
                f"{record['n']:,}",
                f"{record['n_missing']:,}",
                record["flags"],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    unit = f" ({result.unit})" if result.unit else ""
    print(f"{result.metric}{unit}")
    for line in lines:
        cols = [line[0].ljust(widths[0])]
        cols += [cell.rjust(width) for cell, width in zip(line[1:-1], widths[1:], strict=True)]
        print("  ".join([*cols, line[-1]]).rstrip())
    print(f"interval: {result.method}")
    print(f"source: {result.reference}")
    if result.tables:
        listed = ", ".join(
            f"{name} ({' x '.join(str(d) for d in np.shape(v)) or 'scalar'})"
            for name, v in result.tables.items()
        )
        print(f"tables: {listed} (in --json, or result.to_frame(tables=...) in Python)")


# ---------------------------------------------------------------------------------------------
# sub-commands


def _demo(args: argparse.Namespace) -> int:
    from stickykit.datasets import load_npsgame  # noqa: PLC0415
    from stickykit.engine import compute  # noqa: PLC0415
    from stickykit.plugins.registry import get_metric  # noqa: PLC0415

    survey = load_npsgame()
    result = compute(get_metric("nps", by="wave", alpha=args.alpha), survey)
    if args.json:
        _print_json(result.to_dict())
        return 0
    print("NPSgame survey (French garden-centre chain, 13,954 responses; CC0 1.0)")
    print("Net Promoter Score overall and by survey wave:")
    print(result)
    print()
    print(f"Source: {result.reference}.")
    print(
        '"Net Promoter" and "NPS" are registered trademarks of Bain & Company, Inc., '
        "Satmetrix Systems, Inc. and Fred Reichheld."
    )
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from stickykit.plugins.registry import list_metrics  # noqa: PLC0415

    infos = list_metrics()
    if args.json:
        _print_json(
            [
                {
                    "name": i.name,
                    "family": i.family,
                    "input_kind": i.input_kind,
                    "summary": i.summary,
                    "source": i.source,
                }
                for i in infos
            ]
        )
        return 0
    width = max(len(i.name) for i in infos)
    family = max(len(i.family) for i in infos)
    kind = max(len(i.input_kind) for i in infos)
    for info in infos:
        print(
            f"{info.name:<{width}}  {info.family:<{family}}  {info.input_kind:<{kind}}  "
            f"{info.summary}  [{info.source}]"
        )
    return 0


def _as_of(text: str | None, tz: str | None) -> dt.datetime | None:
    """``--as-of``: an ISO date or time; without a zone it is read in ``--tz`` (else UTC)."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _CommandError(
            f"--as-of {text!r}: expected an ISO date or time such as 2024-01-31 or "
            "2024-01-31T18:00+01:00"
        ) from None
    if when.tzinfo is None:
        from stickykit.core._time import check_zone  # noqa: PLC0415

        zone = check_zone("--as-of", tz) or dt.UTC
        when = when.replace(tzinfo=zone)
    return when


def _metric(name: str, params: Mapping[str, Any]) -> Any:
    """The metric ``name`` with ``params``; a bad parameter is one clear line."""
    from stickykit.plugins.registry import default_registry  # noqa: PLC0415

    info = default_registry().info(name)
    allowed = [a.name for a in attrs.fields(info.factory)] if attrs.has(info.factory) else None
    if allowed is not None:
        for key in params:
            if key not in allowed:
                public = [a for a in allowed if not a.startswith("_")]
                raise _CommandError(
                    f"metric {name!r} has no parameter {key!r} "
                    f"(parameters: {', '.join(public)}){_suggest(key, public)}"
                )
    try:
        return info.factory(**params)
    except (TypeError, ValueError) as exc:
        raise _CommandError(f"metric {name!r}: bad parameter: {_one_line(exc)}") from None


def _compute(args: argparse.Namespace) -> int:
    from stickykit.engine import compute  # noqa: PLC0415
    from stickykit.plugins.registry import default_registry  # noqa: PLC0415

    info = default_registry().info(args.metric)
    kind: _Kind = info.input_kind  # type: ignore[assignment]
    params = dict(args.param or [])
    groups = _entries(args)
    group_label = "group"
    if args.by is not None:
        if "by" in params:
            raise _UsageError("give the grouping once: --by or --param by=..., not both")
        takes_by = attrs.has(info.factory) and "by" in {a.name for a in attrs.fields(info.factory)}
        if not takes_by:
            raise _CommandError(f"metric {args.metric!r} cannot be grouped (it has no 'by')")
        group_label = args.by
        if args.by in _GROUP_FIELDS:
            params["by"] = args.by
        else:
            # group by any column: read it as the segment label
            mapped = [e for _, entries in groups for e in entries]
            if any(f == "segment" and s in (None, "survey") for s, f, _ in mapped):
                raise _CommandError(
                    f"--by {args.by}: the segment field is mapped already; "
                    "group by segment, or drop that mapping"
                )
            groups.append(("--by", [("survey", "segment", args.by)]))
            params["by"] = "segment"
    metric = _metric(args.metric, params)
    as_of = _as_of(args.as_of, args.tz)
    plan = _plans(groups, [kind])[kind]
    items = tuple(getattr(metric, "requires", ())) if kind == "survey" else None
    need = [metric.by] if getattr(metric, "by", None) in _GROUP_FIELDS else []
    loaded = _load_file(
        Path(args.file), kind, plan, errors=args.errors, tz=args.tz, items=items, need=need
    )
    try:
        result = compute(
            metric,
            loaded.result,
            as_of=as_of,
            chunk_rows=args.chunk_rows,
            workers=args.workers,
            errors=args.errors,
        )
    except StickykitError as exc:  # a row the metric itself refuses (a score out of range...)
        raise _data_error(loaded.path, exc) from None
    if args.json:
        _print_json(result.to_dict())
    else:
        _print_result(result, group_label)
    return 0


def _validate(args: argparse.Namespace) -> int:
    kind: _Kind = args.kind
    if args.pseudonymise and args.rejected is None:
        raise _UsageError("--pseudonymise applies to the --rejected file; give one")
    plan = _plans(_entries(args), [kind])[kind]
    loaded = _load_file(
        Path(args.file),
        kind,
        plan,
        errors="quarantine",
        tz=args.tz,
        items=args.items,
        all_columns=args.rejected is not None,
        need_rows=False,
    )
    result = loaded.result
    lines = result.summary().splitlines()
    print(f"{loaded.path}: {lines[0]}")
    for line in lines[1:]:
        print(line)
    if kind == "survey":
        print(f"answer items: {', '.join(loaded.items)}")
    shown = sorted(
        (
            (int(v.rows[i]), v.describe(i))
            for v in result.violations
            for i in range(min(len(v), _SHOWN_REASONS))
        ),
    )[:_SHOWN_REASONS]
    if shown:
        print("first rejected rows:")
        for _, text in shown:
            print(f"  {text}")
        if result.n_rejected > len(shown) and args.rejected is None:
            print(f"  ... write all {result.n_rejected:,} with --rejected OUT.csv")
    if args.rejected is not None:
        customer = plan.source("customer_id") if args.pseudonymise else None
        count = _write_rejected(loaded, Path(args.rejected), customer)
        print(f"wrote {count:,} rejected rows with their reasons to {args.rejected}")
    if result.n_accepted == 0:
        raise _CommandError(f"{loaded.path}: no valid rows")
    if args.strict and result.n_rejected:
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    if args.demo and (args.events or args.survey):
        raise _UsageError("--demo reports the bundled data; leave out --events and --survey")
    if not (args.demo or args.events or args.survey):
        raise _UsageError("give --events FILE and/or --survey FILE, or --demo")
    if args.demo and (args.map or args.config):
        raise _UsageError("--demo reads the bundled data; --map and --config are for your files")
    if args.items and not args.survey:
        raise _UsageError("--items names answer columns of the --survey file; give one")
    output = Path(args.output)
    if not output.parent.is_dir():
        raise _CommandError(f"{output}: the folder {str(output.parent)!r} does not exist")
    if output.is_dir():
        raise _CommandError(f"{output}: is a directory")
    try:
        build_report = importlib.import_module("stickykit.report").build_report
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        raise _CommandError(f"the report is not available in this installation ({exc})") from None
    as_of = _as_of(args.as_of, args.tz)
    kinds: list[_Kind] = []
    if args.events:
        kinds.append("events")
    if args.survey:
        kinds.append("survey")
    plans = _plans(_entries(args), kinds)
    loaded: dict[str, _Loaded] = {}
    for kind in kinds:
        loaded[kind] = _load_file(
            Path(getattr(args, kind)),
            kind,
            plans[kind],
            errors=args.errors,
            tz=args.tz,
            items=args.items if kind == "survey" else None,
        )
    report = build_report(
        events=loaded["events"].result if "events" in loaded else None,
        survey=loaded["survey"].result if "survey" in loaded else None,
        demo=args.demo,
        lang=args.lang,
        pseudonymise=args.pseudonymise,
        as_of=as_of,
        title=args.title,
        sections=args.sections,
        source_labels={kind: item.path.name for kind, item in loaded.items()},
        workers=args.workers,
    )
    report.write(output)
    for item in loaded.values():
        print(item.summary())
    print(f"wrote {output}")
    return 0


# ---------------------------------------------------------------------------------------------
# parser


def _add_columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map",
        action="append",
        type=_field_column,
        metavar="FIELD=COLUMN",
        help="read FIELD from COLUMN (repeatable; KIND.FIELD=COLUMN for one file only)",
    )
    parser.add_argument(
        "--config", metavar="FILE.toml", help="TOML file with a [columns] table of FIELD = COLUMN"
    )
    parser.add_argument("--tz", metavar="ZONE", help="IANA zone of naive times (e.g. Europe/Paris)")


def _add_items(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--items",
        type=_item_list,
        metavar="A,B,...",
        help="survey answer columns (default: columns named as a metric's items, such as nps "
        "or csat, and other columns of small integers)",
    )


def _parser() -> argparse.ArgumentParser:
    from stickykit import __version__  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="stickykit",
        description="Customer stickiness metrics with intervals, from files to reports.",
        epilog="Exit codes: 0 ok, 1 bad input, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"stickykit {__version__}")
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="on an unexpected error, show the full traceback instead of one line",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    report = sub.add_parser(
        "report",
        help="the HTML stickiness report",
        description="Build the self-contained HTML report from an events file and/or a survey "
        "file, or from the bundled CDNOW and NPSgame data (--demo).",
    )
    report.add_argument("--events", metavar="FILE", help="events (.csv or .parquet)")
    report.add_argument("--survey", metavar="FILE", help="survey answers (.csv or .parquet)")
    report.add_argument(
        "--demo",
        action="store_true",
        help="the bundled CDNOW and NPSgame data, and generated programme data",
    )
    report.add_argument(
        "-o", "--output", default="report.html", metavar="FILE", help="default: report.html"
    )
    report.add_argument("--lang", choices=("en", "zh"), default="en", help="report language")
    report.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        action="store_true",
        help="replace customer ids by pseudonyms in the report",
    )
    report.add_argument("--title", help="the report's title")
    report.add_argument(
        "--sections",
        type=_item_list,
        metavar="KEY,...",
        help="build only these sections (default: every section the data support)",
    )
    report.add_argument(
        "--workers", type=_positive_int, default=1, metavar="N", help="worker processes"
    )
    report.add_argument("--as-of", metavar="DATE", help="describe the data up to DATE (ISO)")
    report.add_argument(
        "--errors",
        choices=("raise", "quarantine"),
        default="quarantine",
        help="bad rows: stop, or leave them out and list them in the data-quality section "
        "(default)",
    )
    _add_columns(report)
    _add_items(report)
    report.set_defaults(run=_report)

    metrics = sub.add_parser("metrics", help="list registered metrics, plugins included")
    metrics.add_argument("--json", action="store_true", help="print as JSON")
    metrics.set_defaults(run=_metrics)

    compute = sub.add_parser(
        "compute",
        help="one metric over a file",
        description="Compute one registered metric over an events, survey or customers file "
        "(the metric's input kind decides which) and print it as a table or JSON.",
    )
    compute.add_argument("metric", help="a registered metric (see: stickykit metrics)")
    compute.add_argument("file", help="the data (.csv or .parquet)")
    compute.add_argument(
        "--param",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="a metric parameter (repeatable; VALUE read as JSON when it is JSON)",
    )
    compute.add_argument(
        "--by",
        metavar="COLUMN",
        help="group by this column (survey metrics; a column other than wave, segment, "
        "instrument or customer_id is read as the segment)",
    )
    compute.add_argument("--as-of", metavar="DATE", help="leave out rows at or after DATE (ISO)")
    compute.add_argument("--chunk-rows", type=_positive_int, metavar="N", help="rows per chunk")
    compute.add_argument(
        "--workers", type=_positive_int, default=1, metavar="N", help="worker processes"
    )
    compute.add_argument(
        "--errors",
        choices=("raise", "quarantine"),
        default="raise",
        help="bad rows: stop at the first (default), or leave them out and count them",
    )
    compute.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_columns(compute)
    compute.set_defaults(run=_compute)

    validate = sub.add_parser(
        "validate",
        help="check a file and summarise its quarantine",
        description="Load a file with errors='quarantine' and print the rows read, accepted "
        "and rejected, per rule.",
    )
    validate.add_argument("file", help="the data (.csv or .parquet)")
    validate.add_argument("--kind", choices=_KINDS, required=True, help="what the file holds")
    validate.add_argument(
        "--rejected", metavar="OUT.csv", help="write the rejected rows with their reasons"
    )
    validate.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        action="store_true",
        help="replace customer ids by keyed pseudonyms in the --rejected file",
    )
    validate.add_argument(
        "--strict", action="store_true", help="exit with 1 when any row is rejected"
    )
    _add_columns(validate)
    _add_items(validate)
    validate.set_defaults(run=_validate)

    demo = sub.add_parser("demo", help="NPS of the bundled survey, overall and by wave")
    demo.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.set_defaults(run=_demo)
    return parser


def _fail(message: str) -> int:
    print(f"stickykit: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 bad input (the reason printed as one line on standard error), 2 usage
        error (with the usage on standard error).

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()):
    ...     main(["no-such-command"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except _CommandError as exc:
        return _fail(str(exc))
    except _UsageError as exc:
        print(f"stickykit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - output piped into a reader that closed
        return 1
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C
        print("stickykit: interrupted", file=sys.stderr)
        return 130
    except (StickykitError, ValueError, OSError) as exc:
        return _fail(_one_line(exc))
    except Exception as exc:
        if args.traceback:
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {_one_line(exc)} (a bug in stickykit or a "
            "plugin; run again with stickykit --traceback ... to see where)"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
