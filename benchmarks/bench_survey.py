"""SERVQUAL gap score and Cronbach's alpha over 10^7 respondents: stickykit against pandas.

Run from the repository root::

    python benchmarks/bench_survey.py              # n = 10^7 respondents, best of 5
    python benchmarks/bench_survey.py --n 100000   # smoke run

The data are the 44 SERVQUAL (1988) items, expectation E1-E22 and perception P1-P22, as int8
answers 1..7 with 0 meaning "not answered", one numpy array per item. Both tools start from
that same dict of arrays and the timed code includes their validation and conversion.

Every (metric, tool) pair runs in a fresh interpreter (this file, re-run with ``--worker``),
which rebuilds the same seeded answers, warms the tool up on the first 1,000 rows, then times
``--repeat`` runs on the whole input and reports the best and the median. Peak memory is the
highest resident set size during the timed runs (Linux ``VmHWM``, reset just before them
through ``/proc/self/clear_refs``) minus the resident set size when they start, i.e. with the
answers and the imports already in memory. The driver checks that both tools give the same
numbers (to ``RTOL``) before it prints the report, in Markdown, to standard output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import inspect
import json
import math
import resource
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine, reset_peak, status_kib
from numpy.typing import NDArray

Answers = dict[str, NDArray[np.int8]]
Numbers = dict[str, float]

#: Rows drawn per block while generating: the block's float64 temporaries (44 latent scores
#: per row) stay near 25 MiB beside the int8 answers themselves.
GENERATE_ROWS = 1 << 16
WARM_UP_ROWS = 1_000
#: Answer code meaning "not answered" (outside the 1..7 scale).
NOT_ANSWERED = 0
#: Share of answers left unanswered, independently for every answer (MCAR) ...
MISSING_RATE = 0.05
#: ... and share of respondents who skip the whole expectation battery (no SERVQUAL score).
SKIP_EXPECTATIONS = 0.01
#: Factor model of the generator: loading of every item on its (battery, dimension) factor,
#: correlation between factors, and latent shift of the expectation items (they run higher
#: than the perceptions, so the mean gap is negative, as it usually is).
LOADING = 0.7
FACTOR_CORRELATION = 0.3
EXPECTATION_SHIFT = 0.4
#: Largest relative difference allowed between the tools' figures; counts must be equal.
RTOL = 1e-9


# -- the instrument, read from stickykit's own item file (not through stickykit) ---------------


def _instrument_items() -> list[dict[str, Any]]:
    text = files("stickykit.instruments.data").joinpath("servqual-1988.toml").read_text()
    items: list[dict[str, Any]] = tomllib.loads(text)["item"]
    return [i for i in items if i["battery"] in ("expectation", "perception")]


_ITEMS = _instrument_items()
#: Expectation and perception item ids, paired by position (E1 with P1, ...).
EXPECTATION = tuple(i["id"] for i in _ITEMS if i["battery"] == "expectation")
PERCEPTION = tuple(i["id"] for i in _ITEMS if i["battery"] == "perception")
#: Perception item ids per dimension, in instrument order.
DIMENSIONS: dict[str, tuple[str, ...]] = {}
for _item in _ITEMS:
    if _item["battery"] == "perception":
        DIMENSIONS.setdefault(_item["dimension"], ())
        DIMENSIONS[_item["dimension"]] += (_item["id"],)
#: Reverse-keyed (negatively worded) items of both batteries: scored 8 - x.
REVERSED = tuple(i["id"] for i in _ITEMS if i.get("reverse", False))
COLUMNS = EXPECTATION + PERCEPTION


# -- the data ------------------------------------------------------------------------------------


def make_answers(n: int, seed: int) -> Answers:
    """``n`` respondents' int8 answers to the 44 items, from ``default_rng(seed)``, in blocks.

    Each (battery, dimension) pair has a standard normal factor (correlation
    ``FACTOR_CORRELATION`` between any two); an item's latent score is ``LOADING`` times its
    factor plus independent noise, cut into 7 equally likely categories (for unshifted
    items). Reverse-keyed items report ``8 - x``; then answers are set to ``NOT_ANSWERED``
    at random (``MISSING_RATE``) and for respondents who skip the expectation battery.
    """
    rng = np.random.default_rng(seed)
    factor_names = list(dict.fromkeys((i["battery"], i["dimension"]) for i in _ITEMS))
    by_column = {i["id"]: i for i in _ITEMS}
    factor_of = np.array(
        [factor_names.index((by_column[c]["battery"], by_column[c]["dimension"])) for c in COLUMNS]
    )
    shift = np.array([EXPECTATION_SHIFT if c in EXPECTATION else 0.0 for c in COLUMNS], np.float32)
    reverse = np.array([c in REVERSED for c in COLUMNS])
    is_expectation = np.array([c in EXPECTATION for c in COLUMNS])
    phi = np.full((len(factor_names), len(factor_names)), FACTOR_CORRELATION)
    np.fill_diagonal(phi, 1.0)
    chol = np.linalg.cholesky(phi)
    cuts = np.array([statistics.NormalDist().inv_cdf(c / 7) for c in range(1, 7)], np.float32)
    answers = {c: np.empty(n, np.int8) for c in COLUMNS}
    noise_scale = np.float32(math.sqrt(1 - LOADING**2))
    loading = np.float32(LOADING)
    for start in range(0, n, GENERATE_ROWS):
        stop = min(n, start + GENERATE_ROWS)
        m = stop - start
        # items x rows, so that each item's row of the block is contiguous
        factors = (chol @ rng.standard_normal((len(factor_names), m))).astype(np.float32)
        latent = loading * factors[factor_of] + shift[:, None]
        latent += noise_scale * rng.standard_normal((len(COLUMNS), m), dtype=np.float32)
        x = np.ones(latent.shape, np.int8)
        for cut in cuts:  # category = 1 + thresholds below the latent score
            x += latent > cut
        x[reverse] = 8 - x[reverse]
        x[rng.random((len(COLUMNS), m), dtype=np.float32) < MISSING_RATE] = NOT_ANSWERED
        x[np.ix_(is_expectation, rng.random(m) < SKIP_EXPECTATIONS)] = NOT_ANSWERED
        for j, c in enumerate(COLUMNS):
            answers[c][start:stop] = x[j]
    return answers


# -- the code timed ------------------------------------------------------------------------------
# Every ``run`` takes the dict of int8 arrays and returns the metric's value, the respondents
# it counts (``n``) and, for SERVQUAL, the mean gap of each dimension.


def stickykit_servqual_run(answers: Answers) -> Numbers:
    import stickykit
    from stickykit.io import load_survey

    metric = stickykit.get_metric("servqual")  # instrument "servqual-1988"
    # loading (no copy of an int8 column; 0 -> answer_missing mask), then update with its
    # scale check (1..7), reverse keying and missing rules, and finalize (t interval)
    frame = load_survey(answers, items=metric.requires, missing_codes=(0,))
    r = stickykit.compute(metric, frame)
    return {"value": r.value, "n": r.n, **{d: r.details[d] for d in DIMENSIONS}}


def stickykit_alpha_run(answers: Answers) -> Numbers:
    import stickykit
    from stickykit.io import load_survey

    metric = stickykit.get_metric(
        "cronbach_alpha", instrument="servqual-1988", battery="perception"
    )  # the 22 perception items, reverse-keyed ones as 8 - x, listwise deletion
    frame = load_survey(answers, items=metric.requires, missing_codes=(0,))
    r = stickykit.compute(metric, frame)
    return {"value": r.value, "n": r.n}


def _pandas_keyed(answers: Answers, columns: tuple[str, ...]) -> Any:
    import pandas as pd

    df = pd.DataFrame({c: answers[c] for c in columns})
    if df.min().min() < 0 or df.max().max() > 7:
        raise ValueError("answers outside 0..7 (0 = not answered)")
    x = df.mask(df.eq(0))  # float64, NaN = not answered
    rev = [c for c in columns if c in REVERSED]
    x[rev] = 8 - x[rev]
    return x


def pandas_servqual_run(answers: Answers) -> Numbers:
    import pandas as pd

    x = _pandas_keyed(answers, COLUMNS)
    gap = x[list(PERCEPTION)] - x[list(EXPECTATION)].set_axis(list(PERCEPTION), axis=1)
    scores = {}
    for dim, items in DIMENSIONS.items():
        g = gap[list(items)]  # a gap needs both answers; a dimension half its gaps (rounded up)
        scores[dim] = g.mean(axis=1).where(g.count(axis=1) >= (len(items) + 1) // 2)
    dims = pd.DataFrame(scores)
    sq = dims.mean(axis=1, skipna=False)  # the overall score needs all five dimensions
    return {"value": sq.mean(), "n": sq.count(), **dims.mean().to_dict()}


def pandas_alpha_run(answers: Answers) -> Numbers:
    x = _pandas_keyed(answers, PERCEPTION).dropna()  # listwise deletion
    k = x.shape[1]
    alpha = k / (k - 1) * (1 - x.var().sum() / x.sum(axis=1).var())
    return {"value": alpha, "n": len(x)}


#: metric -> tool -> the function timed.
RUNS: dict[str, dict[str, Callable[[Answers], Numbers]]] = {
    "servqual": {"stickykit": stickykit_servqual_run, "pandas": pandas_servqual_run},
    "cronbach_alpha": {"stickykit": stickykit_alpha_run, "pandas": pandas_alpha_run},
}
TOOLS = ("stickykit", "pandas")


# -- the worker: one metric and one tool in a fresh interpreter --------------------------------


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def fingerprint(answers: Answers) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for c in COLUMNS:
        digest.update(answers[c].data)
    return digest.hexdigest()


def worker(metric: str, tool: str, n: int, seed: int, repeat: int) -> dict[str, Any]:
    run = RUNS[metric][tool]
    start = time.perf_counter()
    answers = make_answers(n, seed)
    generate_s = time.perf_counter() - start
    run({c: a[:WARM_UP_ROWS] for c, a in answers.items()})  # imports, first-call costs
    gc.collect()
    peak_exact = reset_peak() and status_kib("VmHWM") is not None
    baseline = status_kib("VmRSS") if peak_exact else _max_rss_kib()
    assert baseline is not None
    times = []
    numbers: Numbers = {}
    for _ in range(repeat):
        start = time.perf_counter()
        numbers = run(answers)
        times.append(time.perf_counter() - start)
    peak = status_kib("VmHWM") if peak_exact else _max_rss_kib()
    assert peak is not None
    return {
        "metric": metric,
        "tool": tool,
        "numbers": {k: float(v) for k, v in numbers.items()},
        "best_s": min(times),
        "median_s": statistics.median(times),
        "times_s": times,
        "generate_s": generate_s,
        "rss_baseline_mib": baseline / 1024,
        "peak_increase_mib": (peak - baseline) / 1024,
        "peak_exact": peak_exact,
        "fingerprint": fingerprint(answers),
    }


# -- the driver ----------------------------------------------------------------------------------


def run_worker(metric: str, tool: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", metric, tool]
    cmd += ["--n", str(args.n), "--seed", str(args.seed), "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{metric} / {tool} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def disagreements(results: list[dict[str, Any]]) -> list[str]:
    """Figures on which the tools differ: counts exactly, the rest beyond ``RTOL``."""
    found = []
    first = results[0]
    for other in results[1:]:
        for key, a in first["numbers"].items():
            b = other["numbers"][key]
            same = a == b if key == "n" else math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)
            if not same:
                found.append(
                    f"{first['metric']} {key}: {first['tool']} {a!r}, {other['tool']} {b!r}"
                )
    return found


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    same = len({r["fingerprint"] for r in results}) == 1
    generate = max(r["generate_s"] for r in results)
    data = (
        f"n = {args.n:,} respondents x {len(COLUMNS)} int8 items (SERVQUAL 1988: "
        f"{len(EXPECTATION)} expectation, {len(PERCEPTION)} perception), seed {args.seed}; "
        f"{MISSING_RATE:.0%} of answers and {SKIP_EXPECTATIONS:.0%} of expectation batteries "
        f"unanswered (code {NOT_ANSWERED}); blake2b {results[0]['fingerprint']} (same in every "
        f"process: {same}); generated in at most {generate:.1f} s per process"
    )
    lines = [
        f"Command: `{' '.join(['python', 'benchmarks/bench_survey.py', *sys.argv[1:]])}`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine(('stickykit', 'numpy', 'pandas'))}",
        f"Data: {data}",
        (
            "Input: the same dict of int8 numpy arrays (one per item) for both tools; conversion "
            "(stickykit: `load_survey`; pandas: `pd.DataFrame`) and validation are timed"
        ),
        f"Timing: best and median of {args.repeat} runs, each metric and tool in a fresh process",
        (
            f"Agreement: every figure below checked equal across tools (counts exactly, the rest "
            f"to a relative {RTOL:g}) before this report was printed"
        ),
        "",
        (
            "| metric | tool | best (s) | median (s) | pandas / stickykit | "
            "peak RSS increase (MiB) | value | n |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    best = {(r["metric"], r["tool"]): r["best_s"] for r in results}
    for r in results:
        base = best.get((r["metric"], "stickykit"))
        ratio = f"{r['best_s'] / base:.2f}" if r["tool"] == "pandas" and base else ""
        mark = "" if r["peak_exact"] else " (ru_maxrss)"
        lines.append(
            f"| {r['metric']} | {r['tool']} | {r['best_s']:.3f} | {r['median_s']:.3f} | "
            f"{ratio} | {r['peak_increase_mib']:.1f}{mark} | {r['numbers']['value']:.10f} | "
            f"{int(r['numbers']['n']):,} |"
        )
    dims = [r for r in results if r["metric"] == "servqual"]
    if dims:
        lines += [
            "",
            "SERVQUAL mean gap per dimension (respondents with that dimension's score):",
            "",
        ]
        lines += ["| tool | " + " | ".join(DIMENSIONS) + " |"]
        lines += ["|---|" + "---:|" * len(DIMENSIONS)]
        for r in dims:
            cells = " | ".join(f"{r['numbers'][d]:.10f}" for d in DIMENSIONS)
            lines.append(f"| {r['tool']} | {cells} |")
    lines += [
        "",
        "RSS when the timed runs start (answers and imports): "
        + ", ".join(f"{r['metric']}/{r['tool']} {r['rss_baseline_mib']:.0f} MiB" for r in results),
        "",
        (
            "Code timed (constants from `servqual-1988.toml`: "
            f"`REVERSED = {REVERSED}`; `DIMENSIONS` maps each dimension to its perception items, "
            "`EXPECTATION` and `PERCEPTION` list the items in instrument order, paired by position):"
        ),
        "",
    ]
    shown: set[str] = set()
    for r in results:
        run = RUNS[r["metric"]][r["tool"]]
        sources = [inspect.getsource(run).rstrip()]
        if r["tool"] == "pandas" and "_pandas_keyed" not in shown:
            shown.add("_pandas_keyed")
            sources.insert(0, inspect.getsource(_pandas_keyed).rstrip())
        code = "\n\n\n".join(sources)
        lines += [f"- {r['metric']}, {r['tool']}:", "", "```python", code, "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**7, help="respondents (10^7)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool (5)")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--metrics", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--worker", nargs=2, metavar=("METRIC", "TOOL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        metric, tool = args.worker
        print(json.dumps(worker(metric, tool, args.n, args.seed, args.repeat)))
        return
    tools = ["stickykit", *[t for t in args.tools if t != "stickykit"]]
    results: list[dict[str, Any]] = []
    problems: list[str] = []
    for metric in args.metrics:
        done = []
        for tool in tools:
            print(f"running {metric} / {tool} ...", file=sys.stderr, flush=True)
            done.append(run_worker(metric, tool, args))
        problems += disagreements(done)
        results += done
    if problems:
        raise SystemExit("the tools disagree:\n" + "\n".join(problems))
    print(report(results, args))


if __name__ == "__main__":
    main()
