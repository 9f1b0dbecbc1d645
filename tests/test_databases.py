"""Databases and Arrow streams: a DuckDB database file and a SQLite database read through the
ADBC driver, each created here, are streamed in batches and give the in-memory result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stickykit.engine._compute import compute_states
from stickykit.io import load_events
from stickykit.io.batches import iter_batches
from stickykit.metrics.base import states_equal

pa = pytest.importorskip("pyarrow")

METRICS = ["customer_summary", "rfm", "cohort_retention", "dau_mau"]


def events(n: int = 500) -> Any:
    rng = np.random.default_rng(11)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    times = start + rng.integers(0, 400 * 86_400 * 10**6, n).astype("timedelta64[us]")
    return pa.table(
        {
            "customer_id": rng.integers(0, 60, n),
            "timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
            "amount": np.round(rng.uniform(1, 200, n), 2),
        }
    )


def reference(table: Any) -> dict[str, Any]:
    return compute_states(METRICS, load_events(table)).states


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for name, state in a.items():
        assert states_equal(state, b[name]), name


def test_duckdb_database_file(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    table = events()
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("incoming", table)
        con.execute("CREATE TABLE events AS SELECT * FROM incoming")
    with duckdb.connect(str(path), read_only=True) as con:
        relation = con.sql("SELECT customer_id, timestamp, amount FROM events")
        assert hasattr(relation, "__arrow_c_stream__")
        assert_same(reference(table), compute_states(METRICS, relation, chunk_rows=64).states)
        reader = con.sql("SELECT * FROM events").to_arrow_reader(100)
        stream = iter_batches(reader, batch_rows=64)
        sizes = [len(b.rows) for b in stream.batches]
        assert sum(sizes) == len(table) and max(sizes) <= 64  # streamed, not collected whole
        reader = con.sql("SELECT * FROM events").to_arrow_reader(100)
        assert_same(reference(table), compute_states(METRICS, reader).states)


def test_sqlite_through_adbc(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("adbc_driver_sqlite.dbapi")
    table = events()
    # SQLite has no timestamp type: ISO text, naive, read with tz="UTC"
    text = pa.array(
        np.datetime_as_string(table["timestamp"].to_numpy().astype("datetime64[us]"), unit="us")
    )
    stored = table.set_column(1, "timestamp", text)
    path = tmp_path / "shop.sqlite"
    with sqlite.connect(str(path)) as con:
        with con.cursor() as cur:
            cur.adbc_ingest("events", stored, mode="create")
        con.commit()
    with sqlite.connect(str(path)) as con, con.cursor() as cur:
        cur.execute("SELECT customer_id, timestamp, amount FROM events")
        reader = cur.fetch_record_batch()
        got = compute_states(METRICS, reader, chunk_rows=50, tz="UTC").states
    assert_same(reference(table), got)
