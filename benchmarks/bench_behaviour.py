"""Monthly cohort matrix and RFM over 5 x 10^7 events: stickykit against polars, DuckDB, pandas.

Run from the repository root::

    python benchmarks/bench_behaviour.py                     # 5 x 10^7 events, best of 3
    python benchmarks/bench_behaviour.py --n 1000000 --customers 40000   # smoke run

The events are seeded and synthetic: ``--customers`` customers (2 x 10^6), each acquired at a
uniform instant in 36 months from 2021-01-01 (UTC), and ``--n`` events (5 x 10^7), each drawn
for a customer chosen with a skewed weight (``floor(customers * u**2)``, so some customers buy
often and many rarely) at a uniform instant between the customer's acquisition and the end of
the 36 months, with a log-normal amount. Customer ids are a random permutation of
``0..customers-1``, so the events are unsorted by customer. Every process rebuilds the same
arrays (checked by a fingerprint).

Every tool starts from the same numpy arrays (``event_id``, ``customer_id``, ``timestamp``,
``amount``) and the timed code includes its conversion from them: stickykit validates them
(``load_events``), the peers build their frames. Each task and tool runs in a fresh
interpreter (this file, re-run with ``--worker``): a warm-up on the first 10^5 events, then
``--repeat`` timed runs; best and median are reported. Peak memory is the highest resident set
size during the timed runs (Linux ``VmHWM``, reset just before) minus the resident set size
when they start (with the input arrays in memory). The results of all tools are compared
in the report ("same answer as stickykit", with the number of differing cells if any).

Tasks:

- ``cohort``: the monthly cohort matrix, the number of distinct customers of each acquisition
  month (month of the first event) active in each later month, by offset;
- ``rfm``: recency, frequency and monetary quintile scores per customer (see ``RFM_RULES``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine, reset_peak, status_kib

START = np.datetime64("2021-01-01T00:00:00", "us")
MONTHS = 36
SPAN_US = int((np.datetime64("2024-01-01T00:00:00", "us") - START) / np.timedelta64(1, "us"))
BLOCK = 1 << 20
WARM_UP = 100_000


def make_events(n: int, customers: int, seed: int) -> dict[str, np.ndarray]:
    """The seeded synthetic events (see the module docstring)."""
    rng = np.random.default_rng(seed)
    acquired = rng.integers(0, SPAN_US, customers)
    ids = rng.permutation(customers).astype(np.int64)
    customer_id = np.empty(n, dtype=np.int64)
    timestamp = np.empty(n, dtype=np.int64)
    amount = np.empty(n, dtype=np.float64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        size = stop - start
        who = np.floor(customers * rng.random(size) ** 2).astype(np.int64)
        first = acquired[who]
        timestamp[start:stop] = first + (rng.random(size) * (SPAN_US - first)).astype(np.int64)
        customer_id[start:stop] = ids[who]
        amount[start:stop] = np.round(rng.lognormal(3.0, 0.8, size), 2)
    return {
        "event_id": np.arange(n, dtype=np.int64),
        "customer_id": customer_id,
        "timestamp": (timestamp + START.astype(np.int64)).astype("datetime64[us]"),
        "amount": amount,
    }


def cohort_dict(cohort: np.ndarray, offset: np.ndarray, count: np.ndarray) -> dict[str, int]:
    """A sparse cohort matrix as ``{"cohort,offset": count}`` for non-zero cells."""
    keep = count > 0
    return {
        f"{c},{o}": int(k)
        for c, o, k in zip(
            cohort[keep].tolist(), offset[keep].tolist(), count[keep].tolist(), strict=True
        )
    }


# -- the code timed: monthly cohort matrix -------------------------------------------------------
# Each ``run`` gets the dict of numpy arrays and returns ``{"cohort,offset": customers}`` with
# cohorts as months since January 1970.


def stickykit_cohort(events: dict[str, np.ndarray]) -> dict[str, int]:
    import stickykit
    from stickykit.metrics.behaviour.cohorts import CohortRetention

    frame = stickykit.load_events(events, tz="UTC")  # validation and conversion
    result = stickykit.compute(CohortRetention(period="month"), frame)
    count = result.tables["count"]
    starts = result.tables["cohort_start"].astype("datetime64[M]").astype(np.int64)
    cohort = np.repeat(starts, count.shape[1])
    offset = np.tile(np.arange(count.shape[1]), count.shape[0])
    return cohort_dict(cohort, offset, count.ravel())


def polars_cohort(events: dict[str, np.ndarray]) -> dict[str, int]:
    import polars as pl

    df = pl.DataFrame({"customer_id": events["customer_id"], "timestamp": events["timestamp"]})
    ts = pl.col("timestamp")
    active = df.select(
        "customer_id", month=(ts.dt.year().cast(pl.Int64) - 1970) * 12 + ts.dt.month() - 1
    ).unique()
    active = active.with_columns(cohort=pl.col("month").min().over("customer_id"))
    cells = active.group_by("cohort", offset=pl.col("month") - pl.col("cohort")).len()
    return cohort_dict(*(cells[c].to_numpy() for c in ("cohort", "offset", "len")))


def duckdb_cohort(events: dict[str, np.ndarray]) -> dict[str, int]:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("ev", pa.table({"customer_id": events["customer_id"], "ts": events["timestamp"]}))
    cells = con.sql(
        """
        WITH active AS (
            SELECT DISTINCT customer_id, (year(ts) - 1970) * 12 + month(ts) - 1 AS month
            FROM ev),
        cohorts AS (
            SELECT month, min(month) OVER (PARTITION BY customer_id) AS cohort FROM active)
        SELECT cohort, month - cohort AS offset, count(*) AS n FROM cohorts GROUP BY ALL
        """
    ).fetchnumpy()
    return cohort_dict(cells["cohort"], cells["offset"], cells["n"])


def pandas_cohort(events: dict[str, np.ndarray]) -> dict[str, int]:
    import pandas as pd

    df = pd.DataFrame({"customer_id": events["customer_id"], "timestamp": events["timestamp"]})
    ts = df["timestamp"]
    month = (ts.dt.year - 1970) * 12 + ts.dt.month - 1
    active = pd.DataFrame({"customer_id": df["customer_id"], "month": month}).drop_duplicates()
    active["cohort"] = active.groupby("customer_id")["month"].transform("min")
    cells = active.groupby(["cohort", active["month"] - active["cohort"]]).size()
    cohort, offset = (cells.index.get_level_values(k).to_numpy() for k in (0, 1))
    return cohort_dict(cohort, offset, cells.to_numpy())


# -- the code timed: RFM quintile scores -----------------------------------------------------------
#: The RFM definition every tool computes (stickykit's ``RFM()`` defaults): per customer,
#: recency = days from the last event to ``as_of`` (the latest event + 1 microsecond),
#: frequency = distinct UTC days with an event, monetary = sum of amounts; cut points are the
#: 20/40/60/80 % quantiles with linear interpolation; score = 1 + number of cut points below
#: the value (bins closed on the right), and R = 6 - score(recency). Each ``run`` returns the
#: number of customers in each (R, F, M) cell as ``{"r,f,m": customers}``.
RFM_RULES = "stickykit RFM() defaults"
PROBS = (0.2, 0.4, 0.6, 0.8)


def rfm_cells(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> dict[str, int]:
    codes, counts = np.unique(r * 100 + f * 10 + m, return_counts=True)
    return {",".join(str(c)): int(k) for c, k in zip(codes.tolist(), counts.tolist(), strict=True)}


def stickykit_rfm(events: dict[str, np.ndarray]) -> dict[str, int]:
    import stickykit
    from stickykit.metrics.behaviour.rfm import RFM

    frame = stickykit.load_events(events, tz="UTC")  # validation and conversion
    t = stickykit.compute(RFM(), frame).tables
    return rfm_cells(t["r"], t["f"], t["m"])


def polars_rfm(events: dict[str, np.ndarray]) -> dict[str, int]:
    import polars as pl

    df = pl.DataFrame(events)
    ts = pl.col("timestamp")
    per = df.group_by("customer_id").agg(
        last=ts.max(), frequency=ts.dt.date().n_unique(), monetary=pl.col("amount").sum()
    )
    as_of = per["last"].max() + dt.timedelta(microseconds=1)
    per = per.with_columns(
        recency=(pl.lit(as_of) - pl.col("last")).dt.total_microseconds() / 86_400_000_000
    )

    def score(column: str) -> pl.Expr:
        cuts = [per[column].quantile(p, interpolation="linear") for p in PROBS]
        return 1 + pl.sum_horizontal([(pl.col(column) > c).cast(pl.Int64) for c in cuts])

    scored = per.select(r=6 - score("recency"), f=score("frequency"), m=score("monetary"))
    return rfm_cells(*(scored[c].to_numpy() for c in ("r", "f", "m")))


def duckdb_rfm(events: dict[str, np.ndarray]) -> dict[str, int]:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("ev", pa.table(events))
    cells = con.sql(
        """
        WITH per AS (
            SELECT customer_id, max(timestamp) AS last,
                   count(DISTINCT CAST(timestamp AS DATE)) AS frequency,
                   sum(amount) AS monetary
            FROM ev GROUP BY customer_id),
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
                 + (monetary > mc[3])::INT + (monetary > mc[4])::INT AS m
        FROM rec, cuts
        """
    ).fetchnumpy()
    return rfm_cells(cells["r"], cells["f"], cells["m"])


def pandas_rfm(events: dict[str, np.ndarray]) -> dict[str, int]:
    import pandas as pd

    df = pd.DataFrame(events)
    by = df.groupby("customer_id")
    per = pd.DataFrame(
        {
            "last": by["timestamp"].max(),
            "frequency": df["timestamp"].dt.floor("D").groupby(df["customer_id"]).nunique(),
            "monetary": by["amount"].sum(),
        }
    )
    as_of = per["last"].max() + pd.Timedelta(microseconds=1)
    per["recency"] = (as_of - per["last"]) / pd.Timedelta(days=1)

    def score(column: str) -> np.ndarray:
        cuts = per[column].quantile(list(PROBS)).to_numpy()
        return 1 + (per[column].to_numpy()[:, None] > cuts).sum(axis=1)

    return rfm_cells(6 - score("recency"), score("frequency"), score("monetary"))


Run = Callable[[dict[str, np.ndarray]], Any]

#: task -> tool -> (run, extra environment)
TASKS: dict[str, dict[str, tuple[Run, dict[str, str]]]] = {
    "cohort": {
        "stickykit": (stickykit_cohort, {}),
        "polars": (polars_cohort, {}),
        "duckdb": (duckdb_cohort, {}),
        "pandas": (pandas_cohort, {}),
    },
    "rfm": {
        "stickykit": (stickykit_rfm, {}),
        "polars": (polars_rfm, {}),
        "duckdb": (duckdb_rfm, {}),
        "pandas": (pandas_rfm, {}),
    },
}


# -- the worker: one task and tool in a fresh interpreter -------------------------------------


def worker(task: str, tool: str, n: int, customers: int, seed: int, repeat: int) -> dict[str, Any]:
    run = TASKS[task][tool][0]
    events = make_events(n, customers, seed)
    digest = hashlib.blake2b(digest_size=8)
    for column in events.values():
        digest.update(column.view(np.uint8).data)
    input_mib = sum(c.nbytes for c in events.values()) / 2**20
    run({k: v[:WARM_UP] for k, v in events.items()})
    gc.collect()
    reset_peak()
    baseline = status_kib("VmRSS") or 0
    times = []
    out: Any = None
    for _ in range(repeat):
        begin = time.perf_counter()
        out = run(events)
        times.append(time.perf_counter() - begin)
    peak = status_kib("VmHWM") or 0
    answer = hashlib.blake2b(json.dumps(out, sort_keys=True).encode(), digest_size=8).hexdigest()
    return {
        "task": task,
        "tool": tool,
        "best_s": min(times),
        "median_s": statistics.median(times),
        "peak_increase_mib": (peak - baseline) / 1024,
        "input_mib": input_mib,
        "fingerprint": digest.hexdigest(),
        "answer": answer,
        "cells": len(out),
        "result": out,
    }


# -- the driver ---------------------------------------------------------------------------------


def run_worker(task: str, tool: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, **TASKS[task][tool][1]}
    cmd = [sys.executable, __file__, "--worker", task, tool, "--n", str(args.n)]
    cmd += ["--customers", str(args.customers), "--seed", str(args.seed)]
    cmd += ["--repeat", str(args.repeat)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{task}/{tool} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def agreement(result: dict[str, Any], reference: dict[str, Any]) -> str:
    """ "True" when a tool's cells equal stickykit's, else how many counts differ."""
    if result["answer"] == reference["answer"]:
        return f"True ({result['cells']:,} cells)"
    a, b = result["result"], reference["result"]
    cells = [k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)]
    moved = sum(abs(a.get(k, 0) - b.get(k, 0)) for k in cells) // 2
    return f"False: {len(cells)} of {len(b):,} cells differ ({moved:,} customers moved)"


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"Command: `{' '.join(['python', 'benchmarks/bench_behaviour.py', *sys.argv[1:]])}`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine(('stickykit', 'numpy', 'polars', 'duckdb', 'pandas', 'pyarrow'))}",
        (
            f"Data: {args.n:,} events, {args.customers:,} customers, {MONTHS} months, seed "
            f"{args.seed}; input arrays {results[0]['input_mib']:.0f} MiB; fingerprint "
            f"{results[0]['fingerprint']} (same in every process: "
            f"{len({r['fingerprint'] for r in results}) == 1})"
        ),
        f"Timing: best and median of {args.repeat} runs, each task and tool in a fresh process",
        "",
    ]
    for task in dict.fromkeys(r["task"] for r in results):
        rows = [r for r in results if r["task"] == task]
        base = rows[0]["best_s"]
        lines += [
            f"### {task}",
            "",
            (
                "| tool | best (s) | median (s) | time / stickykit | peak RSS increase (MiB) | "
                "peak / input | same answer as stickykit |"
            ),
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['tool']} | {r['best_s']:.2f} | {r['median_s']:.2f} | "
                f"{r['best_s'] / base:.2f} | {r['peak_increase_mib']:.0f} | "
                f"{r['peak_increase_mib'] / r['input_mib']:.2f} | "
                f"{agreement(r, rows[0])} |"
            )
        lines += ["", "Code timed:", ""]
        for r in rows:
            source = inspect.getsource(TASKS[task][r["tool"]][0]).rstrip()
            lines += [f"- {r['tool']}:", "", "```python", source, "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000_000, help="events (5 x 10^7)")
    parser.add_argument("--customers", type=int, default=2_000_000, help="customers (2 x 10^6)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (3)")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--tools", nargs="+", default=["polars", "duckdb", "pandas"])
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "TOOL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, tool = args.worker
        result = worker(task, tool, args.n, args.customers, args.seed, args.repeat)
        print(json.dumps(result))
        return
    results = []
    for task in args.tasks:
        # stickykit always runs, once, first; "--tools stickykit" runs it alone
        for tool in dict.fromkeys(["stickykit", *[t for t in args.tools if t in TASKS[task]]]):
            print(f"running {task} / {tool} ...", file=sys.stderr, flush=True)
            results.append(run_worker(task, tool, args))
    print(report(results, args))
    reference = {r["task"]: r["answer"] for r in results if r["tool"] == "stickykit"}
    wrong = [f"{r['task']}/{r['tool']}" for r in results if r["answer"] != reference[r["task"]]]
    if wrong:
        print(f"these tools' answers differ from stickykit's: {wrong}", file=sys.stderr)


if __name__ == "__main__":
    main()
