"""Every registered metric gives the same states read whole, in batches, from files and streams,
and in worker processes; bad files and rows are named or quarantined, never passed over."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stickykit.engine import compute
from stickykit.engine._compute import compute_states
from stickykit.errors import SourceError, ValidationError
from stickykit.io import load_events
from stickykit.io.batches import iter_batches
from stickykit.io.statefile import load_state, save_state
from stickykit.metrics.base import states_equal
from stickykit.plugins.registry import default_registry

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pacsv = pytest.importorskip("pyarrow.csv")

START = np.datetime64("2023-01-01T00:00:00", "us")


def metrics_of(kind: str) -> list[Any]:
    registry = default_registry()
    return [registry.get(n) for n in registry.names() if registry.get(n).input_kind == kind]


def survey_items() -> dict[str, tuple[int, int]]:
    """Every item a registered survey metric reads, in the range every reader accepts."""
    items: dict[str, tuple[int, int]] = {}
    for metric in metrics_of("survey"):
        scales = getattr(metric, "scales", None) or dict.fromkeys(
            getattr(metric, "requires", ()), (0, 10)
        )
        for item, (lo, hi) in scales.items():
            old = items.get(item, (lo, hi))
            items[item] = (max(lo, old[0]), min(hi, old[1]))
    return items


def event_columns(n: int, seed: int = 0, start_customer: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    times = START + rng.integers(0, 700 * 86_400 * 10**6, n).astype("timedelta64[us]")
    return {
        "event_id": np.arange(n, dtype=np.int64) + 10 * start_customer,
        "customer_id": rng.integers(start_customer, start_customer + 25, n),
        "timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
        "kind": rng.choice(["purchase", "visit"], n),
        "amount": np.round(rng.uniform(1, 300, n), 2),
        "quantity": rng.integers(1, 4, n),
        "currency": np.full(n, "USD"),
    }


def survey_columns(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {
        "respondent_id": np.arange(n, dtype=np.int64),
        "customer_id": rng.integers(0, 40, n),
        "wave": rng.integers(1, 3, n),
        "segment": rng.choice(["web", "store"], n),
        "answered_at": pa.array(
            START + rng.integers(0, 300 * 86_400 * 10**6, n).astype("timedelta64[us]"),
            pa.timestamp("us", tz="UTC"),
        ),
    }
    for item, (lo, hi) in survey_items().items():
        answers = rng.integers(lo, hi + 1, n).astype(float)
        answers[rng.random(n) < 0.05] = np.nan
        cols[item] = answers
    return cols


def customer_columns(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "customer_id": np.arange(n, dtype=np.int64),
        "acquired_at": pa.array(
            START + rng.integers(0, 500 * 86_400 * 10**6, n).astype("timedelta64[us]"),
            pa.timestamp("us", tz="UTC"),
        ),
        "segment": rng.choice(["a", "b", "c"], n),
    }


COLUMNS = {"events": event_columns, "survey": survey_columns, "customers": customer_columns}


def table_of(kind: str, n: int, seed: int = 0) -> Any:
    return pa.table(COLUMNS[kind](n, seed))


def assert_same_states(a: dict[str, Any], b: dict[str, Any], how: str) -> None:
    assert a.keys() == b.keys()
    for name, state in a.items():
        assert states_equal(state, b[name]), f"{name}: {how} differs from the one-pass state"


@pytest.fixture(scope="module", params=["events", "survey", "customers"])
def kind_data(request: Any, tmp_path_factory: Any) -> tuple[str, Any, Path, Path]:
    kind = request.param
    table = table_of(kind, 157, seed=1)
    folder = tmp_path_factory.mktemp(kind)
    parquet = folder / "data.parquet"
    pq.write_table(table, parquet, row_group_size=23)
    csv = folder / "data.csv"
    pacsv.write_csv(table, csv)
    return kind, table, parquet, csv


def test_every_metric_same_state_whole_batched_files_streams_and_pool(
    kind_data: tuple[str, Any, Path, Path],
) -> None:
    """One pass over the whole table is the reference; every other runner must match it."""
    kind, table, parquet, csv = kind_data
    metrics = metrics_of(kind)
    if not metrics:
        pytest.skip(f"no registered metric reads {kind}")
    whole = compute_states(metrics, table, chunk_rows=10**9).states
    runs = {
        "Parquet, batches of 10": compute_states(metrics, parquet, chunk_rows=10).states,
        "CSV, batches of 17": compute_states(metrics, csv, chunk_rows=17).states,
        "Arrow stream, batches of 1": compute_states(
            metrics, table.slice(0, 60), chunk_rows=1
        ).states,
        "Parquet in 2 worker processes": compute_states(
            metrics, parquet, chunk_rows=31, workers=2
        ).states,
        "polars LazyFrame": compute_states(
            metrics, pytest.importorskip("polars").from_arrow(table).lazy(), chunk_rows=40
        ).states,
        "pandas DataFrame": compute_states(metrics, table.to_pandas(), chunk_rows=50).states,
    }
    short = compute_states(metrics, table.slice(0, 60), chunk_rows=10**9).states
    for how, states in runs.items():
        assert_same_states(short if how.endswith("batches of 1") else whole, states, how)


def test_empty_batches_change_nothing() -> None:
    table = table_of("events", 40)
    parts = [table.slice(0, 0), table.slice(0, 20), table.slice(20, 0), table.slice(20)]
    reader = pa.RecordBatchReader.from_batches(
        table.schema, [b for part in parts for b in part.to_batches() or [_empty(table)]]
    )
    metrics = metrics_of("events")
    assert_same_states(
        compute_states(metrics, table).states,
        compute_states(metrics, reader).states,
        "a stream with empty batches",
    )


def _empty(table: Any) -> Any:
    return pa.RecordBatch.from_pylist([], schema=table.schema)


def test_pool_integer_states_bit_for_bit() -> None:
    """Integer states (counts, bitmasks) are equal exactly, not only to a tolerance."""
    table = table_of("events", 300, seed=3)
    names = ["customer_summary", "repeat_histories"]
    serial = compute_states(names, table, chunk_rows=37).states
    pooled = compute_states(names, table, chunk_rows=37, workers=2).states
    for name in names:
        assert states_equal(serial[name], pooled[name]), name
        exact = integer_arrays(serial[name])
        assert exact, f"{name} has no integer state to compare"
        for field, values in exact.items():
            assert np.array_equal(values, getattr(pooled[name], field)), f"{name}.{field}"


def integer_arrays(state: Any) -> dict[str, Any]:
    fields = attrs.fields(type(state))
    values = {f.name: getattr(state, f.name) for f in fields}
    return {
        name: value
        for name, value in values.items()
        if isinstance(value, np.ndarray) and value.dtype.kind in "iub"
    }


def test_daily_job_equals_full_recomputation(tmp_path: Path) -> None:
    """Yesterday's saved state merged with today's events gives the full run's state."""
    yesterday = pa.table(event_columns(120, seed=5))
    today = pa.table(event_columns(80, seed=6, start_customer=10))
    both = pa.concat_tables([yesterday, today])
    for metric in metrics_of("events"):
        saved = tmp_path / f"{metric.name}.npz"
        save_state(metric, compute_states(metric, yesterday).states[metric.name], saved)
        merged = metric.merge(
            load_state(metric, saved), compute_states(metric, today).states[metric.name]
        )
        assert states_equal(merged, compute_states(metric, both).states[metric.name]), metric.name


# ----------------------------------------------------------------- bad input


def write_events_csv(path: Path, n: int) -> list[str]:
    rng = np.random.default_rng(0)
    lines = ["customer_id,timestamp,amount"]
    lines += [
        f"{rng.integers(0, 30)},2024-0{1 + i % 9}-1{i % 10}T10:00:00,{rng.uniform(1, 99):.2f}"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return lines


@pytest.fixture
def small_first_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Types are inferred from a first block of 2 KiB, so later blocks can disagree."""
    from stickykit.io import _csvstream

    monkeypatch.setattr(_csvstream, "_FIRST_BLOCK", 2048)
    monkeypatch.setattr(_csvstream, "_MIN_BLOCK", 1024)


def test_csv_malformed_line_in_the_middle(tmp_path: Path, small_first_block: None) -> None:
    path = tmp_path / "events.csv"
    lines = write_events_csv(path, 400)
    lines[251] = lines[251] + ",surplus"  # data row 250
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match=r"events\.csv, batch \d+: .*@ row 250: .*surplus"):
        compute("rfm", path, tz="UTC", chunk_rows=100)
    run = compute_states("rfm", path, tz="UTC", chunk_rows=100, errors="quarantine")
    assert (run.summary.n_read, run.summary.n_rejected) == (400, 1)
    assert [r.row for r in run.summary.reasons] == [250]
    clean = compute_states("rfm", _csv_columns(lines, skip=250), tz="UTC")
    assert states_equal(clean.states["rfm"], run.states["rfm"])


def _csv_columns(lines: list[str], skip: int) -> dict[str, list[str]]:
    rows = [line.split(",") for i, line in enumerate(lines[1:]) if i != skip]
    columns = {name: [r[j] for r in rows] for j, name in enumerate(lines[0].split(","))}
    return columns | {"customer_id": [int(c) for c in columns["customer_id"]]}


def test_csv_wrong_type_in_a_later_batch_only(tmp_path: Path, small_first_block: None) -> None:
    path = tmp_path / "events.csv"
    lines = write_events_csv(path, 400)
    lines[301] = "C-301," + lines[301].split(",", 1)[1]  # an integer column, text in row 300
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValidationError, match=r"batch \d+: EventFrame\.customer_id @ row 300: 'C-301'"
    ):
        compute("rfm", path, tz="UTC", chunk_rows=100)
    run = compute_states("rfm", path, tz="UTC", chunk_rows=100, errors="quarantine")
    assert run.summary.rejected_by_field == {"customer_id": 1}
    assert run.summary.n_accepted + run.summary.n_rejected == 400


def test_text_ids_in_one_chunk_only(tmp_path: Path) -> None:
    """pandas infers each chunk's types alone: integer ids, then text ids, must not merge."""
    pd = pytest.importorskip("pandas")
    path = tmp_path / "events.csv"
    lines = write_events_csv(path, 30)
    lines[25] = "C-24," + lines[25].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    with (
        pd.read_csv(path, chunksize=10) as chunks,
        pytest.raises(ValidationError, match=r"chunks, batch 2: EventFrame\.customer_id @ row 20"),
    ):
        compute("rfm", chunks, tz="UTC")


def test_corrupt_and_truncated_parquet(tmp_path: Path) -> None:
    table = table_of("events", 200)
    good = tmp_path / "good.parquet"
    pq.write_table(table, good, row_group_size=50)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"truncated\.parquet: cannot be read"):
        compute("rfm", truncated)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not a parquet file at all" * 10)
    with pytest.raises(SourceError, match=r"garbage\.parquet: cannot be read"):
        compute("rfm", garbage)
    missing = tmp_path / "missing.parquet"
    with pytest.raises(SourceError, match="no such file"):
        compute("rfm", missing)


def test_damaged_page_names_the_batch(tmp_path: Path) -> None:
    table = table_of("events", 400)
    path = tmp_path / "damaged.parquet"
    pq.write_table(table, path, row_group_size=100, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(2).column(2)  # third row group: batches 2 with 100-row batches
    data = bytearray(path.read_bytes())
    start = column.data_page_offset + 20
    data[start : start + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    with pytest.raises((SourceError, ValidationError)) as caught:
        compute("rfm", path, chunk_rows=100)
    assert "damaged.parquet, batch 2" in str(caught.value)


def test_empty_csv_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty"):
        compute("rfm", empty)
    header = tmp_path / "header.csv"
    header.write_text("customer_id,timestamp,amount\n")
    with pytest.raises(ValidationError, match="0 rows"):
        compute("rfm", header)


@settings(deadline=None)
@given(
    n=st.integers(1, 60),
    batch=st.integers(1, 25),
    bad=st.sets(st.integers(0, 59), max_size=10),
)
def test_quarantine_counts_add_up_over_batches(n: int, batch: int, bad: set[int]) -> None:
    """Rows read = accepted + rejected, and the rejected rows are those the whole load rejects."""
    cols = {
        "customer_id": np.arange(n).astype(str).astype(object),
        "timestamp": np.array(["2024-03-01T10:00:00"] * n, dtype=object),
        "amount": np.full(n, "12.5", dtype=object),
    }
    for i in sorted(r for r in bad if r < n):
        if i % 3 == 0:
            cols["amount"][i] = "twelve"
        elif i % 3 == 1:
            cols["customer_id"][i] = ""
        else:
            cols["timestamp"][i] = "yesterday"
    table = pa.table({k: pa.array(list(v), pa.string()) for k, v in cols.items()})
    run = compute_states("rfm", table, chunk_rows=batch, errors="quarantine", tz="UTC")
    whole = load_events(cols, errors="quarantine", tz="UTC")
    assert run.summary.n_read == n
    assert run.summary.n_accepted + run.summary.n_rejected == n
    assert run.summary.n_rejected == whole.n_rejected
    assert sorted({r.row for r in run.summary.reasons}) == whole.rejected.tolist()


def test_quarantine_counts_fail_when_a_batch_is_dropped() -> None:
    """Negative control: losing a batch's tally breaks the sum the property checks."""
    table = table_of("events", 30)
    stream = iter_batches(table, batch_rows=7)
    parts = list(stream.batches)
    assert sum(p.n_read for p in parts) == 30
    assert sum(p.n_read for p in parts[1:]) != 30


def test_as_of_in_batches_equals_whole() -> None:
    table = table_of("events", 120)
    as_of = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    a = compute("customer_summary", table, as_of=as_of, chunk_rows=13)
    b = compute("customer_summary", load_events(table), as_of=as_of)
    assert a.value == b.value and a.n == b.n


def test_progress_bar_shows_rows_and_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    table = table_of("events", 200)
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, row_group_size=50)
    compute("rfm", path, chunk_rows=50, progress=True)
    err = capsys.readouterr().err
    assert "200/200" in err and "rows" in err and "MiB" in err
    compute("rfm", path, chunk_rows=50, progress=False)
    assert capsys.readouterr().err == ""
