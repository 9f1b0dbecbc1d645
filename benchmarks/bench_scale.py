"""Scale: 10^8 events and 10^8 survey answers in Parquet, stickykit against DuckDB and polars.

Run from the repository root::

    python benchmarks/make_scale_data.py                     # once: 10^8 rows, ~2 GiB
    python benchmarks/bench_scale.py                         # 10^8 rows, one run per tool
    python benchmarks/bench_scale.py --rows 1000000 --data /tmp/scale   # smoke run

The data are the files of ``make_scale_data.py`` (written by this script when missing or of
another size): ``events.parquet`` (customer_id, timestamp, dictionary-encoded kind, amount;
2 x 10^6 customers over two years) and ``survey.parquet`` (respondent_id, nps 0..10 with
nulls, wave). Every tool reads the same files in the same run.

Tasks:

- ``events``: in one call, the monthly cohort matrix (every event is activity), RFM quintile
  scores (purchases only: last purchase, distinct purchase days, spend; stickykit's ``RFM()``
  defaults) and DAU/MAU over the trailing 30 days of the last day of data;
- ``nps``: the Net Promoter Score of the survey file (nulls are not answered).

Tools, each in a fresh interpreter (this file, re-run with ``--worker``), at 1 and 2 cores
(``--cores``):

- ``stickykit``: ``stickykit.compute([...], path, chunk_rows=..., workers=cores)``: the file
  read in record batches of ``--chunk-rows`` rows, each validated and folded into the three
  metrics' states (in ``cores`` worker processes when ``cores > 1``), states merged, finalized;
- ``duckdb``: the same measures in SQL over ``read_parquet(path)``, ``SET threads = cores``;
- ``polars``: ``pl.scan_parquet(path)`` queries run by ``pl.collect_all(...,
  engine="streaming")``, ``POLARS_MAX_THREADS = cores``.

``OMP_NUM_THREADS = cores`` is set for every tool (it sizes pyarrow's thread pool, which
decodes Parquet for stickykit). The report prints the code each tool runs, the best and median
wall time of ``--repeat`` runs, throughput in rows per second, each peer's time over
stickykit's at the same number of cores, stickykit's speed-up from 1 to 2 worker processes and
its scaling efficiency (speed-up / 2), and the peak memory:

- ``peak RSS`` is the process's own high-water mark (``VmHWM``, exact, absolute: the
  interpreter, the imports and everything the runs held);
- ``peak RSS, all processes`` is the highest sum of the resident set sizes of the process and
  all its descendants (stickykit's forkserver and pool workers), sampled every
  ``SAMPLE_S`` seconds by the driver: a lower bound of the true peak that may miss a short
  spike, and an overstatement by the shared library pages counted once per process.

The driver compares the results of every tool with stickykit's (one worker) and prints the
check: cohort cells and sizes, RFM cells, DAU, MAU and the DAU/MAU ratio of the last window,
and the NPS with its counts. It prints the load average before and after, because the
machine may be shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine, status_kib
from make_scale_data import (
    DEFAULT_OUT,
    stored_parameters,
    write_events,
    write_survey,
)

#: Rows of the small files every tool runs on once before its timed runs.
WARM_UP_ROWS = 10_000
#: Seconds between two samples of the process tree's memory and CPU time.
SAMPLE_S = 0.05
#: Seconds between two searches for the descendants of a worker (pool workers start early).
RESCAN_S = 0.5
#: Quantile levels of the RFM cut points (quintiles).
PROBS = (0.2, 0.4, 0.6, 0.8)
#: Days of the trailing DAU/MAU window (stickykit's ``DauMauRatio`` default).
WINDOW = 30
US_PER_DAY = 86_400_000_000


def _sql_path(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def cells_of(keys: Any, counts: Any) -> dict[str, int]:
    """``{"a,b": n}`` from parallel lists of key tuples and counts, leaving out zeros."""
    return {
        ",".join(str(int(k)) for k in key): int(n) for key, n in zip(keys, counts, strict=True) if n
    }


# -- the code timed: events (cohort matrix, RFM, DAU/MAU) ---------------------------------------
# Each ``run`` gets the file path, the cores and the batch size, and returns
#   cohort: {"cohort,offset": customers}, cohorts as months since January 1970;
#   rfm: {"r,f,m": customers};
#   last_day, dau, mau, pairs (customer-days in the window) and ratio of the last 30-day window.


def stickykit_events(path: str, cores: int, chunk_rows: int) -> dict[str, Any]:
    import numpy as np

    import stickykit

    # one pass: every batch is validated, then updates the three metrics' states
    r = stickykit.compute(
        ["cohort_retention", "rfm", "dau_mau"],  # monthly cohorts, RFM() and 30-day DAU/MAU
        path,
        chunk_rows=chunk_rows,
        workers=cores,
        progress=False,
    )
    cohorts = r["cohort_retention"].tables
    months = cohorts["cohort_start"].astype("datetime64[M]").astype(np.int64)
    count = cohorts["count"]
    offsets = np.arange(count.shape[1])
    cohort_keys = [(c, o) for c in months.tolist() for o in offsets.tolist()]
    rfm = r["rfm"].tables["cell_counts"]
    dau_mau = r["dau_mau"]
    w = int(dau_mau.details["window"])
    histogram = dau_mau.tables["customers_by_days_active"]
    return {
        "cohort": cells_of(cohort_keys, count.ravel().tolist()),
        "rfm": cells_of(np.argwhere(rfm >= 0) + 1, rfm.ravel().tolist()),
        "last_day": str(dau_mau.tables["day"][-1]),
        "dau": int(dau_mau.details["dau_last"]),
        "mau": int(dau_mau.details["mau_last"]),
        "pairs": round(float(histogram @ np.arange(1, w + 1))),
        "ratio": dau_mau.value,
    }


DUCKDB_COHORT = """
    WITH active AS (
        SELECT DISTINCT customer_id, (year(timestamp) - 1970) * 12 + month(timestamp) - 1 AS month
        FROM ev),
    cohorts AS (
        SELECT month, min(month) OVER (PARTITION BY customer_id) AS cohort FROM active)
    SELECT cohort, month - cohort AS offset, count(*) AS n FROM cohorts GROUP BY ALL
"""
DUCKDB_RFM = """
    WITH per AS (
        SELECT customer_id, max(timestamp) AS last,
               count(DISTINCT CAST(timestamp AS DATE)) AS frequency, sum(amount) AS monetary
        FROM ev WHERE kind = 'purchase' GROUP BY customer_id),
    rec AS (
        SELECT *, date_diff('microsecond', last,
                            (SELECT max(last) FROM per) + INTERVAL 1 MICROSECOND)
                  / 86400000000 AS recency
        FROM per),
    cuts AS (
        SELECT quantile_cont(recency, [0.2, 0.4, 0.6, 0.8]) AS rc,
               quantile_cont(frequency, [0.2, 0.4, 0.6, 0.8]) AS fc,
               quantile_cont(monetary, [0.2, 0.4, 0.6, 0.8]) AS mc
        FROM rec)
    SELECT 5 - ((recency > rc[1])::INT + (recency > rc[2])::INT + (recency > rc[3])::INT
                + (recency > rc[4])::INT) AS r,
           1 + (frequency > fc[1])::INT + (frequency > fc[2])::INT
             + (frequency > fc[3])::INT + (frequency > fc[4])::INT AS f,
           1 + (monetary > mc[1])::INT + (monetary > mc[2])::INT
             + (monetary > mc[3])::INT + (monetary > mc[4])::INT AS m,
           count(*) AS n
    FROM rec, cuts GROUP BY ALL
"""
DUCKDB_DAU_MAU = """
    WITH last AS (SELECT max(timestamp)::DATE AS day FROM ev),
    pairs AS (
        SELECT DISTINCT customer_id, timestamp::DATE AS day FROM ev
        WHERE timestamp::DATE > (SELECT day FROM last) - 30)
    SELECT (SELECT day FROM last)::VARCHAR AS last_day,
           count(*) FILTER (WHERE day = (SELECT day FROM last)) AS dau,
           count(DISTINCT customer_id) AS mau,
           count(*) AS pairs
    FROM pairs
"""


def duckdb_events(path: str, cores: int, chunk_rows: int) -> dict[str, Any]:
    import duckdb

    del chunk_rows  # DuckDB chooses its own vectors and row-group tasks
    con = duckdb.connect()
    con.execute(f"SET threads = {cores}")
    con.execute("SET TimeZone = 'UTC'")  # calendar days and months in UTC, as stickykit
    con.execute(f"CREATE VIEW ev AS SELECT * FROM read_parquet({_sql_path(path)})")
    cohort = con.execute(DUCKDB_COHORT).fetchall()
    rfm = con.execute(DUCKDB_RFM).fetchall()
    last_day, dau, mau, pairs = con.execute(DUCKDB_DAU_MAU).fetchone()  # type: ignore[misc]
    return {
        "cohort": cells_of([row[:2] for row in cohort], [row[2] for row in cohort]),
        "rfm": cells_of([row[:3] for row in rfm], [row[3] for row in rfm]),
        "last_day": last_day,
        "dau": dau,
        "mau": mau,
        "pairs": pairs,
        "ratio": pairs / WINDOW / mau,
    }


def polars_events(path: str, cores: int, chunk_rows: int) -> dict[str, Any]:
    import polars as pl

    del cores, chunk_rows  # POLARS_MAX_THREADS is set before polars is imported
    ev = pl.scan_parquet(path)
    ts = pl.col("timestamp")  # Datetime("us", "UTC"): calendar fields in UTC
    month = (ts.dt.year().cast(pl.Int64) - 1970) * 12 + ts.dt.month().cast(pl.Int64) - 1
    active = ev.select("customer_id", month=month).unique()
    first = active.group_by("customer_id").agg(cohort=pl.col("month").min())
    cohort = (
        active.join(first, on="customer_id")
        .group_by("cohort", offset=pl.col("month") - pl.col("cohort"))
        .len()
    )
    per = (
        ev.filter(pl.col("kind") == "purchase")
        .group_by("customer_id")
        .agg(last=ts.max(), frequency=ts.dt.date().n_unique(), monetary=pl.col("amount").sum())
        .with_columns(
            recency=(pl.col("last").max() + pl.duration(microseconds=1) - pl.col("last"))
            .dt.total_microseconds()
            .truediv(US_PER_DAY)
        )
    )

    def score(c: str) -> pl.Expr:
        cuts = [pl.col(c).quantile(p, interpolation="linear") for p in PROBS]
        return 1 + pl.sum_horizontal([(pl.col(c) > cut).cast(pl.Int64) for cut in cuts])

    rfm = per.group_by(r=6 - score("recency"), f=score("frequency"), m=score("monetary")).len()
    last_day = ev.select(ts.max().dt.date()).collect(engine="streaming").item()
    window = (
        ev.select("customer_id", day=ts.dt.date())
        .filter(pl.col("day") > last_day - dt.timedelta(days=WINDOW))
        .unique()
        .select(
            dau=(pl.col("day") == last_day).sum(),
            mau=pl.col("customer_id").n_unique(),
            pairs=pl.len(),
        )
    )
    cohort, rfm, window = pl.collect_all([cohort, rfm, window], engine="streaming")
    row = window.row(0, named=True)
    return {
        "cohort": cells_of(cohort.select("cohort", "offset").rows(), cohort["len"].to_list()),
        "rfm": cells_of(rfm.select("r", "f", "m").rows(), rfm["len"].to_list()),
        "last_day": str(last_day),
        "dau": row["dau"],
        "mau": row["mau"],
        "pairs": row["pairs"],
        "ratio": row["pairs"] / WINDOW / row["mau"],
    }


# -- the code timed: NPS -----------------------------------------------------------------------
# Each ``run`` returns the NPS in points, the answers counted and the nulls.


def stickykit_nps(path: str, cores: int, chunk_rows: int) -> dict[str, Any]:
    import stickykit

    # batches validated (0..10, nulls are not answered), counted, merged; adjusted-Wald interval
    r = stickykit.compute("nps", path, chunk_rows=chunk_rows, workers=cores, progress=False)
    return {"nps": r.value, "n": r.n, "n_missing": r.n_missing}


def duckdb_nps(path: str, cores: int, chunk_rows: int) -> dict[str, Any]:
    import duckdb

    del chunk_rows
    con = duckdb.connect()
    con.execute(f"SET threads = {cores}")
    promoters, detractors, n, rows, lo, hi = con.execute(  # type: ignore[misc]
        f"""
        SELECT count_if(nps >= 9), count_if(nps <= 6), count(nps), count(*), min(nps), max(nps)
        FROM read_parquet({_sql_path(path)})
        """
    ).fetchone()
    if lo < 0 or hi > 10:
        raise ValueError("scores outside 0..10")
    return {"nps": 100 * (promoters - detractors) / n, "n": n, "n_missing": rows - n}


def polars_nps(path: str, cores: int, chunk_rows: int) -> dict[str, Any]:
    import polars as pl

    del cores, chunk_rows
    score = pl.col("nps")
    row = (
        pl.scan_parquet(path)
        .select(
            promoters=(score >= 9).sum(),
            detractors=(score <= 6).sum(),
            n=score.count(),
            nulls=score.null_count(),
            lo=score.min(),
            hi=score.max(),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    if row["lo"] < 0 or row["hi"] > 10:
        raise ValueError("scores outside 0..10")
    nps = 100 * (row["promoters"] - row["detractors"]) / row["n"]
    return {"nps": nps, "n": row["n"], "n_missing": row["nulls"]}


Run = Callable[[str, int, int], dict[str, Any]]

#: task -> (file, tool -> run)
TASKS: dict[str, tuple[str, dict[str, Run]]] = {
    "events": (
        "events.parquet",
        {"stickykit": stickykit_events, "duckdb": duckdb_events, "polars": polars_events},
    ),
    "nps": (
        "survey.parquet",
        {"stickykit": stickykit_nps, "duckdb": duckdb_nps, "polars": polars_nps},
    ),
}
TOOLS = ("stickykit", "duckdb", "polars")


# -- the worker: one task, tool and core count in a fresh interpreter ---------------------------


def _import_tool(tool: str) -> None:
    """Import the tool before timing, so that the timed runs exclude import costs."""
    if tool == "stickykit":
        import pyarrow.parquet  # noqa: F401

        import stickykit  # noqa: F401
    elif tool == "duckdb":
        import duckdb  # noqa: F401
    else:
        import polars as pl  # noqa: F401


def worker(
    task: str, tool: str, cores: int, data: Path, warmup: Path, chunk_rows: int, repeat: int
) -> Any:
    file_name, runs = TASKS[task]
    run = runs[tool]
    path = str(data / file_name)
    _import_tool(tool)
    run(str(warmup / file_name), cores, chunk_rows)  # first-call costs: plugins, lazy imports
    gc.collect()
    baseline = status_kib("VmRSS") or 0
    times, cpu = [], []
    out: dict[str, Any] = {}
    for _ in range(repeat):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        begin = time.perf_counter()
        out = run(path, cores, chunk_rows)
        times.append(time.perf_counter() - begin)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
        gc.collect()
    return {
        "times": times,
        "main_cpu_s": min(cpu),
        "baseline_mib": baseline / 1024,
        "peak_mib": (status_kib("VmHWM") or 0) / 1024,
        "result": out,
    }


# -- the driver: a process-tree sampler and the report --------------------------------------------


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from ``/proc/*/stat``."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> list[int]:
    tree = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def _sample(pid: int) -> tuple[int, int, float] | None:
    """Resident and anonymous resident KiB and CPU seconds of ``pid``; None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    kib = {"VmRSS": 0, "RssAnon": 0}
    for line in status.splitlines():
        key = line.split(":", 1)[0]
        if key in kib:
            kib[key] = int(line.split()[1])
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return kib["VmRSS"], kib["RssAnon"], (int(fields[11]) + int(fields[12])) / ticks


class TreeSampler(threading.Thread):
    """Samples the summed RSS and the CPU time of a process and its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.peak_anon_kib = 0
        self.processes = 1
        self.cpu: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        if not Path("/proc").exists():
            return
        pids: list[int] = []
        scanned = 0.0
        while not self.done.is_set():
            if time.monotonic() - scanned >= RESCAN_S:  # a scan of /proc costs a few ms
                pids, scanned = _descendants(self.pid), time.monotonic()
            total = anon = 0
            for pid in pids:
                sample = _sample(pid)
                if sample is not None:
                    total += sample[0]
                    anon += sample[1]
                    self.cpu[pid] = sample[2]
            self.peak_kib = max(self.peak_kib, total)
            self.peak_anon_kib = max(self.peak_anon_kib, anon)
            self.processes = max(self.processes, len(pids))
            self.done.wait(SAMPLE_S)


def run_worker(
    task: str, tool: str, cores: int, args: argparse.Namespace, warmup: Path
) -> dict[str, Any]:
    env = {
        **os.environ,
        "POLARS_MAX_THREADS": str(cores),
        "OMP_NUM_THREADS": str(cores),
        "STICKYKIT_MAX_THREADS": str(cores),
    }
    cmd = [sys.executable, __file__, "--worker", task, tool, str(cores)]
    cmd += ["--data", str(args.data), "--warmup", str(warmup)]
    cmd += ["--chunk-rows", str(args.chunk_rows)]
    cmd += ["--repeat", str(args.repeat)]
    begin = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{task}/{tool}/{cores} failed:\n{stderr}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result.update(
        task=task,
        tool=tool,
        cores=cores,
        tree_peak_mib=sampler.peak_kib / 1024,
        tree_anon_mib=sampler.peak_anon_kib / 1024,
        processes=sampler.processes,
        tree_cpu_s=sum(sampler.cpu.values()),
        process_s=time.perf_counter() - begin,
    )
    return result


def ensure_data(args: argparse.Namespace) -> None:
    """Write the data files unless they exist with ``--rows``, ``--customers`` and ``--seed``."""
    wanted = {"rows": args.rows, "seed": args.seed}
    for name in ("events", "survey"):
        path = args.data / f"{name}.parquet"
        stored = stored_parameters(path) or {}
        expected = {**wanted, "customers": args.customers} if name == "events" else wanted
        if all(stored.get(k) == v for k, v in expected.items()):
            continue
        print(f"writing {path} ({args.rows:,} rows) ...", file=sys.stderr, flush=True)
        if name == "events":
            write_events(path, args.rows, args.customers, args.seed)
        else:
            write_survey(path, args.rows, args.seed)


def write_warmup(args: argparse.Namespace, folder: Path) -> None:
    """The first ``WARM_UP_ROWS`` rows of each file, for a run before the timed ones."""
    import pyarrow.parquet as pq

    for name, _ in TASKS.values():
        head = next(pq.ParquetFile(args.data / name).iter_batches(batch_size=WARM_UP_ROWS))
        pq.write_table(pa_table(head), folder / name)


def pa_table(batch: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches([batch])


def profile(args: argparse.Namespace) -> None:
    """stickykit with one worker under cProfile, in this process: where the time goes."""
    import cProfile
    import pstats

    for task in args.tasks:
        path = str(args.data / TASKS[task][0])
        run = TASKS[task][1]["stickykit"]
        with tempfile.TemporaryDirectory() as folder:
            write_warmup(args, Path(folder))
            run(str(Path(folder) / TASKS[task][0]), 1, args.chunk_rows)
        profiler = cProfile.Profile()
        begin = time.perf_counter()
        profiler.enable()
        run(path, 1, args.chunk_rows)
        profiler.disable()
        seconds = time.perf_counter() - begin
        print(f"### profile: {task}, stickykit, 1 worker, {seconds:.1f} s wall (with cProfile)")
        print(f"VmHWM {(status_kib('VmHWM') or 0) / 1024:,.0f} MiB")
        print("```")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(30)
        print("```")


def warm_cache(path: Path) -> float:
    """Read ``path`` once so that every tool reads it from the page cache; seconds taken."""
    begin = time.perf_counter()
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass
    return time.perf_counter() - begin


def code_version() -> str:
    """The commit checked out, and whether ``src/`` has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "src").splitlines()
    return f"commit {commit}" + (f" + {len(changed)} uncommitted files in src/" if changed else "")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


# -- agreement --------------------------------------------------------------------------------


def _cell_diff(a: dict[str, int], b: dict[str, int]) -> tuple[int, int]:
    cells = [k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)]
    return len(cells), sum(abs(a.get(k, 0) - b.get(k, 0)) for k in cells) // 2


def _sizes(cohort: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in cohort.items() if k.endswith(",0")}


def agreement(task: str, out: dict[str, Any], ref: dict[str, Any]) -> str:
    """How a tool's result compares with stickykit's (one worker)."""
    if task == "nps":
        same = (
            math.isclose(out["nps"], ref["nps"], rel_tol=1e-9)
            and out["n"] == ref["n"]
            and out["n_missing"] == ref["n_missing"]
        )
        return "same NPS, n and nulls" if same else "DIFFERENT"
    parts = []
    cells, moved = _cell_diff(out["cohort"], ref["cohort"])
    sizes, _ = _cell_diff(_sizes(out["cohort"]), _sizes(ref["cohort"]))
    parts.append(
        f"cohort cells same ({len(ref['cohort'])})"
        if cells == 0
        else f"cohort: {cells} cells differ ({sizes} sizes)"
    )
    cells, moved = _cell_diff(out["rfm"], ref["rfm"])
    parts.append(
        f"RFM cells same ({len(ref['rfm'])})"
        if cells == 0
        else f"RFM: {cells} cells differ, {moved:,} customers moved"
    )
    window = all(out[k] == ref[k] for k in ("last_day", "dau", "mau", "pairs"))
    window = window and math.isclose(out["ratio"], ref["ratio"], rel_tol=1e-12)
    parts.append("DAU, MAU, ratio same" if window else "DAU/MAU DIFFERENT")
    return "; ".join(parts)


def checks(task: str, rows: list[dict[str, Any]]) -> list[str]:
    """The compared figures of every run, side by side."""
    if task == "nps":
        head = "| tool | cores | NPS | answers | nulls |"
        lines = [head, "|---|---:|---:|---:|---:|"]
        for r in rows:
            o = r["result"]
            lines.append(
                f"| {r['tool']} | {r['cores']} | {o['nps']:.10f} | {o['n']:,} | "
                f"{o['n_missing']:,} |"
            )
        return lines
    head = (
        "| tool | cores | cohorts | customers (sum of sizes) | cohort cells | RFM customers | "
        "last day | DAU | MAU (30 d) | DAU/MAU |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        o = r["result"]
        sizes = _sizes(o["cohort"])
        lines.append(
            f"| {r['tool']} | {r['cores']} | {len(sizes)} | {sum(sizes.values()):,} | "
            f"{len(o['cohort'])} | {sum(o['rfm'].values()):,} | {o['last_day']} | "
            f"{o['dau']:,} | {o['mau']:,} | {o['ratio']:.10f} |"
        )
    return lines


# -- the report -------------------------------------------------------------------------------


def _data_line(args: argparse.Namespace) -> str:
    parts = []
    for name in ("events", "survey"):
        path = args.data / f"{name}.parquet"
        stored = stored_parameters(path) or {}
        size = path.stat().st_size / 2**20
        parts.append(f"{path.name} {stored.get('rows', 0):,} rows, {size:,.0f} MiB")
    stored = stored_parameters(args.data / "events.parquet") or {}
    return (
        f"Data: {'; '.join(parts)}; {stored.get('customers', 0):,} customers; seed "
        f"{stored.get('seed')}; row groups of {stored.get('row_group', 0):,} rows; files read "
        "once before the runs (page cache warm)"
    )


def report(
    results: list[dict[str, Any]], args: argparse.Namespace, loads: list[str], started: str
) -> str:
    lines = [
        f"Command: `{' '.join(['python', 'benchmarks/bench_scale.py', *sys.argv[1:]])}`",
        f"Date: {started} to {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {code_version()}",
        f"Machine: {machine(('stickykit', 'numpy', 'pyarrow', 'duckdb', 'polars'))}",
        _data_line(args),
        (
            f"Load average (1, 5, 15 min): before {loads[0]}; after {loads[1]} "
            f"({os.cpu_count()} CPUs)"
        ),
        (
            f"Timing: best and median of {args.repeat} run(s), each tool and core count in a "
            f"fresh process; stickykit batches of {args.chunk_rows:,} rows"
        ),
        "",
    ]
    for task in dict.fromkeys(r["task"] for r in results):
        rows = [r for r in results if r["task"] == task]
        n_rows = int((stored_parameters(args.data / TASKS[task][0]) or {}).get("rows", 0))
        sk = {r["cores"]: r for r in rows if r["tool"] == "stickykit"}
        ref = sk.get(1, rows[0])["result"]
        lines += [
            f"### {task}",
            "",
            (
                "| tool | cores | best (s) | median (s) | rows/s | time / stickykit | "
                "peak RSS (MiB) | peak RSS, all processes (MiB) | of which anonymous (MiB) | "
                "CPU s, main process | CPU s, all processes | same as stickykit (1 worker) |"
            ),
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in rows:
            best = min(r["times"])
            base = sk.get(r["cores"])
            ratio = f"{best / min(base['times']):.2f}" if base else "n/a"
            lines.append(
                f"| {r['tool']} | {r['cores']} | {best:.2f} | {statistics.median(r['times']):.2f} "
                f"| {n_rows / best:,.0f} | {ratio} | {r['peak_mib']:,.0f} | "
                f"{r['tree_peak_mib']:,.0f} | {r['tree_anon_mib']:,.0f} | "
                f"{r['main_cpu_s']:.1f} | {r['tree_cpu_s']:.1f} | "
                f"{agreement(task, r['result'], ref)} |"
            )
        lines.append("")
        for tool in dict.fromkeys(r["tool"] for r in rows):
            by = {r["cores"]: min(r["times"]) for r in rows if r["tool"] == tool}
            if 1 in by and 2 in by:
                speedup = by[1] / by[2]
                lines.append(
                    f"- {tool}: {n_rows / by[1]:,.0f} rows/s with 1 core, {n_rows / by[2]:,.0f} "
                    f"with 2; speed-up {speedup:.2f}, scaling efficiency {speedup / 2:.2f}"
                )
        lines += ["", "Results compared:", "", *checks(task, rows), ""]
        baselines = ", ".join(f"{r['tool']} {r['cores']}: {r['baseline_mib']:.0f}" for r in rows)
        lines += [
            f"RSS after imports and the warm-up run, before the timed runs (MiB): {baselines}",
            "",
        ]
        lines += ["Code run:", ""]
        for tool in dict.fromkeys(r["tool"] for r in rows):
            source = inspect.getsource(TASKS[task][1][tool]).rstrip()
            lines += [f"- {tool}:", "", "```python", source, "```", ""]
            if tool == "duckdb" and task == "events":
                for name, sql in (
                    ("DUCKDB_COHORT", DUCKDB_COHORT),
                    ("DUCKDB_RFM", DUCKDB_RFM),
                    ("DUCKDB_DAU_MAU", DUCKDB_DAU_MAU),
                ):
                    lines += [f"  {name}:", "", "```sql", inspect.cleandoc(sql), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000, help="rows per file (10^8)")
    parser.add_argument("--customers", type=int, default=2_000_000, help="customers (2 x 10^6)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--data", type=Path, default=DEFAULT_OUT, help="folder of the files")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--cores", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per process (1)")
    parser.add_argument("--chunk-rows", type=int, default=1_000_000, help="stickykit batch rows")
    parser.add_argument(
        "--profile", action="store_true", help="profile stickykit (1 worker) instead"
    )
    parser.add_argument("--worker", nargs=3, metavar=("TASK", "TOOL", "CORES"), help="internal")
    parser.add_argument("--warmup", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, tool, cores = args.worker
        out = worker(task, tool, int(cores), args.data, args.warmup, args.chunk_rows, args.repeat)
        print(json.dumps(out))
        return
    ensure_data(args)
    if args.profile:
        profile(args)
        return
    for task in args.tasks:
        seconds = warm_cache(args.data / TASKS[task][0])
        print(f"read {TASKS[task][0]} once in {seconds:.1f} s", file=sys.stderr, flush=True)
    loads = [load_average()]
    started = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}"
    print(f"{code_version()}, load average {loads[0]}", file=sys.stderr, flush=True)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        write_warmup(args, Path(folder))
        for task in args.tasks:
            for tool in ["stickykit", *[t for t in args.tools if t != "stickykit"]]:
                for cores in args.cores:
                    print(f"running {task} / {tool} / {cores} ...", file=sys.stderr, flush=True)
                    results.append(run_worker(task, tool, cores, args, Path(folder)))
                    seconds = min(results[-1]["times"])
                    print(f"  {seconds:.1f} s ({load_average()})", file=sys.stderr, flush=True)
    loads.append(load_average())
    print(report(results, args, loads, started))


if __name__ == "__main__":
    main()
