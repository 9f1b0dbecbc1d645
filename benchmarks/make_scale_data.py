"""Write the seeded Parquet files of the scale benchmark: events and survey answers.

Run from the repository root::

    python benchmarks/make_scale_data.py                       # 10^8 rows each, in benchmarks/data
    python benchmarks/make_scale_data.py --rows 1000000        # smoke size, seconds
    python benchmarks/make_scale_data.py --rows 10000000 --out /tmp/scale

Two files are written in ``--out`` (default ``benchmarks/data/``, which git ignores):

``events.parquet``
    ``--rows`` events (10^8) over ``--customers`` customers (2 x 10^6), in row groups of
    ``--row-group`` rows (10^6), with the columns ``customer_id`` (int64), ``timestamp``
    (``timestamp[us, tz=UTC]``, over the two years 2023-01-01 to 2024-12-31 UTC), ``kind``
    (dictionary-encoded ``"purchase"`` / ``"visit"``) and ``amount`` (float64: a log-normal
    amount rounded to cents for a purchase, 0.0 for a visit). Each customer is acquired at a
    uniform instant of the two years; each event is drawn for a customer chosen with a skewed
    weight (``floor(customers * u**2)``: a few customers are very active, many rarely) at a
    uniform instant between that customer's acquisition and the end of the two years, and is a
    purchase with probability ``PURCHASE_SHARE``. Customer ids are a random permutation of
    ``0..customers-1`` and the rows are in no particular order (neither by customer nor by
    time), so every row group touches customers and days all over the file.

``survey.parquet``
    ``--rows`` survey answers (10^8), in row groups of ``--row-group`` rows: ``respondent_id``
    (int64, ``0..rows-1``), ``nps`` (int8 0..10 drawn with the answer shares of the NPSgame
    survey, as in ``bench_nps.py``; ``NPS_NULL_SHARE`` of them null: not answered) and
    ``wave`` (int16, 1..``WAVES``, in blocks of consecutive respondents).

Generation is chunked: each row group is drawn from its own generator,
``numpy.random.default_rng([seed, file, group])``, written, and dropped, so the script never
holds more than one row group (about 30 MB) beside the per-customer acquisition times (16 MB
for 2 x 10^6 customers). The same ``--rows``, ``--customers``, ``--row-group`` and ``--seed``
give the same files, byte for byte. The parameters are stored in each file's schema metadata
under ``stickykit.bench``, so the benchmark can check which data it reads. Files are written
under a temporary name and renamed when complete: an interrupted run leaves no file that
looks finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_nps import NPSGAME_COUNTS

#: First instant of the data and its length: the two years 2023-01-01 .. 2024-12-31 (UTC).
START = np.datetime64("2023-01-01T00:00:00", "us")
SPAN_US = int((np.datetime64("2025-01-01T00:00:00", "us") - START) / np.timedelta64(1, "us"))
#: Share of the events that are purchases (the rest are visits).
PURCHASE_SHARE = 0.3
#: Share of the survey answers left null (not answered).
NPS_NULL_SHARE = 0.02
#: Survey waves; respondents are split into this many blocks of consecutive ids.
WAVES = 8
KINDS = ("purchase", "visit")
DEFAULT_OUT = Path(__file__).parent / "data"
METADATA_KEY = b"stickykit.bench"

_FILE_EVENTS = 1
_FILE_SURVEY = 2


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - the bench group installs pyarrow
        msg = "make_scale_data.py needs pyarrow: pip install -e . --group bench"
        raise SystemExit(msg) from exc
    return pa, pq


def customers_table(customers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Acquisition offset (microseconds from ``START``) and id of every customer."""
    rng = np.random.default_rng([seed, 0])
    acquired = rng.integers(0, SPAN_US, customers)
    ids = rng.permutation(customers).astype(np.int64)
    return acquired, ids


def event_chunk(
    group: int, size: int, acquired: np.ndarray, ids: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """The ``group``-th row group of events, as numpy arrays (see the module docstring)."""
    rng = np.random.default_rng([seed, _FILE_EVENTS, group])
    customers = len(ids)
    who = np.floor(customers * rng.random(size) ** 2).astype(np.int64)
    first = acquired[who]
    offset = first + (rng.random(size) * (SPAN_US - first)).astype(np.int64)
    purchase = rng.random(size) < PURCHASE_SHARE
    amount = np.where(purchase, np.round(rng.lognormal(3.0, 0.8, size), 2), 0.0)
    return {
        "customer_id": ids[who],
        "timestamp": offset + START.astype(np.int64),
        "kind_code": np.where(purchase, 0, 1).astype(np.int8),
        "amount": amount,
    }


def survey_chunk(group: int, start: int, size: int, rows: int, seed: int) -> dict[str, np.ndarray]:
    """The survey rows ``start .. start + size - 1``: ids, scores with nulls, waves."""
    rng = np.random.default_rng([seed, _FILE_SURVEY, group])
    shares = np.array(NPSGAME_COUNTS) / sum(NPSGAME_COUNTS)
    respondent = np.arange(start, start + size, dtype=np.int64)
    return {
        "respondent_id": respondent,
        "nps": rng.choice(11, size=size, p=shares).astype(np.int8),
        "answered": rng.random(size) >= NPS_NULL_SHARE,
        "wave": (1 + respondent * WAVES // max(rows, 1)).astype(np.int16),
    }


def _groups(rows: int, row_group: int) -> Iterator[tuple[int, int, int]]:
    for group, start in enumerate(range(0, rows, row_group)):
        yield group, start, min(row_group, rows - start)


def _write(path: Path, schema: Any, tables: Iterator[Any], row_group: int) -> None:
    """Write ``tables`` (one row group each) to ``path`` through a temporary file."""
    _, pq = _pyarrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with pq.ParquetWriter(partial, schema, compression="snappy") as writer:
            for table in tables:
                writer.write_table(table, row_group_size=row_group)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def write_events(
    path: Path, rows: int, customers: int, seed: int, row_group: int = 1_000_000
) -> None:
    """Write ``rows`` seeded events over ``customers`` customers to ``path``."""
    pa, _ = _pyarrow()
    acquired, ids = customers_table(customers, seed)
    meta = {"file": "events", "rows": rows, "customers": customers, "seed": seed}
    meta["row_group"] = row_group
    schema = pa.schema(
        [
            ("customer_id", pa.int64()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("kind", pa.dictionary(pa.int8(), pa.string())),
            ("amount", pa.float64()),
        ],
        metadata={METADATA_KEY: json.dumps(meta).encode()},
    )
    kinds = pa.array(KINDS, pa.string())

    def tables() -> Iterator[Any]:
        for group, _, size in _groups(rows, row_group):
            chunk = event_chunk(group, size, acquired, ids, seed)
            yield pa.Table.from_arrays(
                [
                    pa.array(chunk["customer_id"]),
                    pa.array(chunk["timestamp"], pa.timestamp("us", tz="UTC")),
                    pa.DictionaryArray.from_arrays(pa.array(chunk["kind_code"]), kinds),
                    pa.array(chunk["amount"]),
                ],
                schema=schema,
            )

    _write(path, schema, tables(), row_group)


def write_survey(path: Path, rows: int, seed: int, row_group: int = 1_000_000) -> None:
    """Write ``rows`` seeded survey answers (NPS with nulls, waves) to ``path``."""
    pa, _ = _pyarrow()
    meta = {"file": "survey", "rows": rows, "seed": seed, "row_group": row_group}
    schema = pa.schema(
        [("respondent_id", pa.int64()), ("nps", pa.int8()), ("wave", pa.int16())],
        metadata={METADATA_KEY: json.dumps(meta).encode()},
    )

    def tables() -> Iterator[Any]:
        for group, start, size in _groups(rows, row_group):
            chunk = survey_chunk(group, start, size, rows, seed)
            yield pa.Table.from_arrays(
                [
                    pa.array(chunk["respondent_id"]),
                    pa.array(chunk["nps"], mask=~chunk["answered"]),
                    pa.array(chunk["wave"]),
                ],
                schema=schema,
            )

    _write(path, schema, tables(), row_group)


def stored_parameters(path: Path) -> dict[str, Any] | None:
    """The parameters a file was written with (its ``stickykit.bench`` metadata), or None."""
    _, pq = _pyarrow()
    if not path.exists():
        return None
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(METADATA_KEY)
    return None if raw is None else dict(json.loads(raw))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000, help="rows per file (10^8)")
    parser.add_argument("--customers", type=int, default=2_000_000, help="customers (2 x 10^6)")
    parser.add_argument("--row-group", type=int, default=1_000_000, help="rows per row group")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--files", nargs="+", choices=("events", "survey"), default=None)
    args = parser.parse_args()
    if args.rows < 1 or args.customers < 1 or args.row_group < 1:
        parser.error("--rows, --customers and --row-group must be positive")
    for name in args.files or ("events", "survey"):
        path = args.out / f"{name}.parquet"
        begin = time.perf_counter()
        if name == "events":
            write_events(path, args.rows, args.customers, args.seed, args.row_group)
        else:
            write_survey(path, args.rows, args.seed, args.row_group)
        size = path.stat().st_size / 2**20
        seconds = time.perf_counter() - begin
        print(f"{path}: {args.rows:,} rows, {size:,.0f} MiB, {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
