"""NPS over 10^8 int8 scores: stickykit against polars, numpy ``bincount`` and pandas.

Run from the repository root::

    python benchmarks/bench_nps.py              # n = 10^8, best of 5
    python benchmarks/bench_nps.py --n 1000000  # smoke run

Every tool runs in a fresh interpreter (this file, re-run with ``--worker TOOL``), which builds
the same seeded scores, builds the tool's own input from them before any timing, warms the tool
up on the first 1,000 rows, then times ``--repeat`` runs on the whole input and reports the best
and the median. Peak memory is the highest resident set size during the timed runs (Linux
``VmHWM``, reset just before them through ``/proc/self/clear_refs``) minus the resident set size
when they start, i.e. with the input, the tool's own view of it and its imports already in
memory. The report, in Markdown, goes to standard output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import inspect
import json
import os
import resource
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

#: Answer counts 0..10 of the bundled NPSgame survey (BenaventC/NPSgame ``nps.csv``, CC0 1.0,
#: 13,612 answered rows; ``stickykit.datasets.npsgame_columns()``): the scores are drawn with
#: these shares, so the benchmark sees a real NPS distribution (NPS about +53).
NPSGAME_COUNTS = (0, 83, 53, 65, 101, 401, 491, 1061, 2892, 2487, 5978)
#: Rows drawn per call while generating, so generation never holds more than a few MiB of
#: temporaries beside the scores themselves.
GENERATE_ROWS = 1 << 16
WARM_UP_ROWS = 1_000


def make_scores(n: int, seed: int) -> np.ndarray:
    """``n`` int8 scores 0..10 drawn with the NPSgame shares, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    shares = np.array(NPSGAME_COUNTS) / sum(NPSGAME_COUNTS)
    scores = np.empty(n, dtype=np.int8)
    for start in range(0, n, GENERATE_ROWS):
        stop = min(n, start + GENERATE_ROWS)
        scores[start:stop] = rng.choice(11, size=stop - start, p=shares)
    return scores


# -- the code timed ----------------------------------------------------------------------------
# Each tool has a ``setup`` (not timed: what the tool is given, built from the numpy scores) and
# a ``run`` (timed, printed in the report). Every ``run`` returns the NPS in points.


def stickykit_setup(scores: np.ndarray) -> np.ndarray:
    return scores


def stickykit_run(scores: np.ndarray) -> float:
    import stickykit

    # load_survey (range check 0..10, no copy) + check + update + finalize (adjusted Wald CI)
    return stickykit.compute("nps", {"nps": scores}).value


def stickykit_kernel_setup(scores: np.ndarray) -> Any:
    from stickykit.frames import SurveyFrame
    from stickykit.metrics.survey import NetPromoterScore

    return NetPromoterScore(), SurveyFrame(answers={"nps": scores})


def stickykit_kernel_run(inputs: Any) -> float:
    metric, frame = inputs
    # no loading: update (range check + counts) and finalize on a ready SurveyFrame
    return metric.finalize(metric.update(metric.init(), frame)).value


def polars_setup(scores: np.ndarray) -> Any:
    import polars as pl

    return pl.DataFrame({"nps": scores})  # zero-copy from numpy


def polars_run(df: Any) -> float:
    import polars as pl

    score = pl.col("nps")
    return df.select(100 * ((score >= 9).mean() - (score <= 6).mean())).item()


def polars_validated_run(df: Any) -> float:
    import polars as pl

    score = pl.col("nps")
    row = df.select(
        promoters=(score >= 9).sum(),
        detractors=(score <= 6).sum(),
        n=score.count(),
        nulls=score.null_count(),
        lo=score.min(),
        hi=score.max(),
    ).row(0, named=True)
    if row["lo"] < 0 or row["hi"] > 10:
        raise ValueError("scores outside 0..10")
    return 100 * (row["promoters"] - row["detractors"]) / row["n"]


def numpy_setup(scores: np.ndarray) -> np.ndarray:
    return scores


def numpy_bincount_run(scores: np.ndarray) -> float:
    counts = np.bincount(scores.view(np.uint8), minlength=11)
    if len(counts) > 11:  # a score > 10, or a negative one (>= 128 as uint8)
        raise ValueError("scores outside 0..10")
    return 100 * (counts[9:].sum() - counts[:7].sum()) / counts.sum()


def pandas_setup(scores: np.ndarray) -> Any:
    import pandas as pd

    return pd.Series(scores, name="nps", copy=False)  # pandas 3 copies unless copy=False


def pandas_run(s: Any) -> float:
    return 100 * (s.ge(9).mean() - s.le(6).mean())


def pandas_validated_run(s: Any) -> float:
    if s.isna().any() or not s.between(0, 10).all():
        raise ValueError("missing scores, or scores outside 0..10")
    return 100 * (s.ge(9).mean() - s.le(6).mean())


Tool = tuple[str, Callable[[np.ndarray], Any], Callable[[Any], float], dict[str, str]]

#: name, setup, run, extra environment; stickykit first (the ratios are to it).
TOOLS: dict[str, Tool] = {
    t[0]: t
    for t in [
        ("stickykit", stickykit_setup, stickykit_run, {}),
        ("stickykit kernel", stickykit_kernel_setup, stickykit_kernel_run, {}),
        ("polars", polars_setup, polars_run, {}),
        ("polars validated", polars_setup, polars_validated_run, {}),
        ("polars 1 thread", polars_setup, polars_run, {"POLARS_MAX_THREADS": "1"}),
        ("numpy bincount", numpy_setup, numpy_bincount_run, {}),
        ("pandas", pandas_setup, pandas_run, {}),
        ("pandas validated", pandas_setup, pandas_validated_run, {}),
    ]
}

GIVEN = {
    "stickykit": "the numpy int8 array, as `{'nps': scores}`; loading, validation and the "
    "interval are timed",
    "stickykit kernel": "a `SurveyFrame` wrapping the int8 array (no copy), built before timing",
    "polars": "a `pl.DataFrame` built from the int8 array before timing (zero-copy)",
    "polars validated": "as polars",
    "polars 1 thread": "as polars; `POLARS_MAX_THREADS=1`",
    "numpy bincount": "the numpy int8 array",
    "pandas": "a `pd.Series(scores, copy=False)` built before timing (zero-copy)",
    "pandas validated": "as pandas",
}


# -- the worker: one tool in a fresh interpreter ----------------------------------------------


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def worker(name: str, n: int, seed: int, repeat: int) -> dict[str, Any]:
    _, setup, run, _ = TOOLS[name]
    scores = make_scores(n, seed)
    fingerprint = hashlib.blake2b(scores.data, digest_size=8).hexdigest()
    run(setup(scores[:WARM_UP_ROWS]))  # imports and first-call costs, outside the measures
    gc.collect()
    rss_scores = status_kib("VmRSS") or _max_rss_kib()
    given = setup(scores)
    gc.collect()
    rss_given = status_kib("VmRSS") or _max_rss_kib()
    peak_exact = reset_peak() and status_kib("VmHWM") is not None
    baseline = status_kib("VmRSS") if peak_exact else _max_rss_kib()
    assert baseline is not None
    times = []
    value = float("nan")
    for _ in range(repeat):
        start = time.perf_counter()
        value = run(given)
        times.append(time.perf_counter() - start)
    peak = status_kib("VmHWM") if peak_exact else _max_rss_kib()
    assert peak is not None
    return {
        "tool": name,
        "value": float(value),
        "best_s": min(times),
        "median_s": statistics.median(times),
        "times_s": times,
        "rss_baseline_mib": baseline / 1024,
        "setup_mib": (rss_given - rss_scores) / 1024,
        "peak_increase_mib": (peak - baseline) / 1024,
        "peak_exact": peak_exact,
        "fingerprint": fingerprint,
    }


# -- the driver ---------------------------------------------------------------------------------


def run_tool(name: str, n: int, seed: int, repeat: int) -> dict[str, Any]:
    env = {**os.environ, **TOOLS[name][3]}
    cmd = [sys.executable, __file__, "--worker", name, "--n", str(n), "--seed", str(seed)]
    cmd += ["--repeat", str(repeat)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    base = results[0]["best_s"]
    same = len({r["fingerprint"] for r in results}) == 1
    data = (
        f"n = {args.n:,} int8 scores, seed {args.seed}, NPSgame shares; "
        f"blake2b {results[0]['fingerprint']} (same in every process: {same})"
    )
    lines = [
        f"Command: `{' '.join(['python', 'benchmarks/bench_nps.py', *sys.argv[1:]])}`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine(('stickykit', 'numpy', 'polars', 'pandas', 'pyarrow'))}",
        f"Data: {data}",
        f"Timing: best and median of {args.repeat} runs, each tool in a fresh process",
        "",
        (
            "| tool | best (s) | median (s) | time / stickykit | peak RSS increase (MiB) | "
            "setup RSS (MiB) | NPS |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mark = "" if r["peak_exact"] else " (ru_maxrss)"
        lines.append(
            f"| {r['tool']} | {r['best_s']:.4f} | {r['median_s']:.4f} | "
            f"{r['best_s'] / base:.2f} | {r['peak_increase_mib']:.1f}{mark} | "
            f"{r['setup_mib']:.1f} | {r['value']:.4f} |"
        )
    lines += [
        "",
        "RSS when the timed runs start (input, tool view, imports): "
        + ", ".join(f"{r['tool']} {r['rss_baseline_mib']:.0f} MiB" for r in results),
        "",
        "What each tool is given (built before timing; 'setup RSS' is what building it added):",
        "",
    ]
    lines += [f"- {r['tool']}: {GIVEN[r['tool']]}" for r in results]
    lines += ["", "Code timed:", ""]
    shown: set[str] = set()
    for r in results:
        run = TOOLS[r["tool"]][2]
        if run.__name__ in shown:
            lines.append(f"- {r['tool']}: `{run.__name__}` as above")
            continue
        shown.add(run.__name__)
        lines += [f"- {r['tool']}:", "", "```python", inspect.getsource(run).rstrip(), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**8, help="number of scores (10^8)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool (5)")
    parser.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS))
    parser.add_argument("--worker", choices=list(TOOLS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.seed, args.repeat)))
        return
    names = ["stickykit", *[t for t in args.tools if t != "stickykit"]]
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_tool(name, args.n, args.seed, args.repeat))
    values = [r["value"] for r in results]
    if max(values) - min(values) > 1e-9:
        raise SystemExit(f"the tools disagree on the NPS: {values}")
    print(report(results, args))


if __name__ == "__main__":
    main()
