"""BG/NBD + Gamma-Gamma and Pareto/NBD on 10^6 simulated customers: stickykit against lifetimes.

Run from the repository root::

    python benchmarks/bench_btyd.py                       # 10^6 customers
    python benchmarks/bench_btyd.py --customers 20000     # smoke run

The customers are seeded and synthetic, with continuous ages (so nearly every history is
distinct: the likelihood cannot be saved by merging identical rows):

- ``bgnbd``: a BG/NBD population with the CDNOW estimates of Fader, Hardie & Lee (2005)
  (r 0.243, alpha 4.414, a 0.793, b 2.426; weeks), ages uniform on (1, 78) weeks, and
  Gamma-Gamma spend with the note-025 estimates (p 6.25, q 3.74, gamma 15.44);
- ``paretonbd``: a Pareto/NBD population with the CDNOW estimates (r 0.553, alpha 10.578,
  s 0.606, beta 11.669), same ages.

Every tool starts from the same numpy arrays (frequency, recency, age, mean repeat spend) and
the timed code includes its conversion from them (stickykit validates them with
``Histories.from_arrays``; lifetimes gets pandas Series). The timed work is the fit(s) and, for
every customer, expected purchases in the next 52 weeks and P(alive) (plus expected spend for
the Gamma-Gamma task). Each task and tool runs in a fresh interpreter (this file re-run with
``--worker``), after a warm-up on the first 2,000 customers (imports and first calls);
time is wall-clock, with the process's CPU time beside it (on a shared machine the CPU
time is the steadier figure); peak memory is the highest resident set size during the
timed run (Linux ``VmHWM``, reset just before) minus the resident set size when it starts. The driver then
evaluates stickykit's log-likelihood (on the user's time axis) at both tools' estimates, and
compares predictions customer by customer.

pymc-marketing is not run: its 1.x releases need Python >= 3.12, and this benchmark runs on the
project's oldest supported Python (3.11).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _harness import machine, reset_peak, status_kib

BGNBD_TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO_TRUE = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
SPEND_TRUE = {"p": 6.25, "q": 3.74, "gamma": 15.44}
HORIZON = 52.0
WARM_UP = 2_000


def _purchases(
    rng: np.random.Generator, rate: np.ndarray, age: np.ndarray, stop: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases in (0, age] of Poisson(rate) buyers; ``stop(k)`` says who drops out."""
    n = len(rate)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    live = np.arange(n)
    while len(live):
        clock[live] += rng.exponential(1.0, len(live)) / rate[live]
        bought = clock[live] <= age[live]
        live = live[bought]
        x[live] += 1
        t_x[live] = clock[live]
        live = live[~stop(len(live))]
    return x, t_x


def make_customers(task: str, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.uniform(1.0, 78.0, n)
    if task == "bgnbd":
        t = BGNBD_TRUE
        rate = rng.gamma(t["r"], 1 / t["alpha"], n)
        p_drop = rng.beta(t["a"], t["b"], n)
        # after every repeat purchase a customer drops out with probability p (BG/NBD: never
        # right after the first purchase; that is MBG/NBD)
        x = np.zeros(n, dtype=np.int64)
        t_x = np.zeros(n)
        clock = np.zeros(n)
        live = np.arange(n)
        while len(live):
            clock[live] += rng.exponential(1.0, len(live)) / rate[live]
            live = live[clock[live] <= age[live]]
            x[live] += 1
            t_x[live] = clock[live]
            live = live[rng.random(len(live)) >= p_drop[live]]
    else:
        t = PARETO_TRUE
        rate = rng.gamma(t["r"], 1 / t["alpha"], n)
        death = rng.exponential(1.0, n) / rng.gamma(t["s"], 1 / t["beta"], n)
        x, t_x = _purchases(rng, rate, np.minimum(age, death), lambda k: np.zeros(k, bool))
    s = SPEND_TRUE
    nu = rng.gamma(s["q"], 1 / s["gamma"], n)
    total = rng.gamma(s["p"] * np.maximum(x, 1), 1 / nu)
    monetary = np.where(x > 0, total / np.maximum(x, 1), 0.0)
    return {"frequency": x, "recency": t_x, "age": age, "monetary": monetary}


# -- the code timed -----------------------------------------------------------------------------
# Each returns {"params": {...}, "expected": array, "alive": array[, "spend": array]}.


def stickykit_bgnbd(data: dict[str, np.ndarray]) -> dict[str, Any]:
    from stickykit.models import BGNBD, GammaGamma, Histories

    h = Histories.from_arrays(
        frequency=data["frequency"],
        recency=data["recency"],
        age=data["age"],
        monetary=data["monetary"],
    )
    bg = BGNBD().fit(h)
    gg = GammaGamma().fit(h)
    return {
        "params": {**bg.params_, **gg.params_},
        "expected": bg.conditional_expected_transactions(HORIZON, h).value,
        "alive": bg.probability_alive(h).value,
        "spend": gg.conditional_expected_spend(h).value,
    }


def lifetimes_bgnbd(data: dict[str, np.ndarray]) -> dict[str, Any]:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    f = pd.Series(data["frequency"])
    r = pd.Series(data["recency"])
    t = pd.Series(data["age"])
    m = pd.Series(data["monetary"])
    bg = BetaGeoFitter().fit(f, r, t)
    repeat = f > 0
    gg = GammaGammaFitter().fit(f[repeat], m[repeat])
    return {
        "params": {**bg.params_.to_dict(), **gg.params_.to_dict()},
        "expected": np.asarray(
            bg.conditional_expected_number_of_purchases_up_to_time(HORIZON, f, r, t)
        ),
        "alive": np.asarray(bg.conditional_probability_alive(f, r, t)),
        "spend": np.asarray(gg.conditional_expected_average_profit(f, m)),
    }


def stickykit_paretonbd(data: dict[str, np.ndarray]) -> dict[str, Any]:
    from stickykit.models import Histories
    from stickykit.models.paretonbd import ParetoNBD

    h = Histories.from_arrays(frequency=data["frequency"], recency=data["recency"], age=data["age"])
    model = ParetoNBD().fit(h)
    return {
        "params": dict(model.params_),
        "expected": model.conditional_expected_transactions(HORIZON, h).value,
        "alive": model.probability_alive(h).value,
    }


def lifetimes_paretonbd(data: dict[str, np.ndarray]) -> dict[str, Any]:
    import pandas as pd
    from lifetimes import ParetoNBDFitter

    f = pd.Series(data["frequency"])
    r = pd.Series(data["recency"])
    t = pd.Series(data["age"])
    model = ParetoNBDFitter().fit(f, r, t)
    return {
        "params": model.params_.to_dict(),
        "expected": np.asarray(
            model.conditional_expected_number_of_purchases_up_to_time(HORIZON, f, r, t)
        ),
        "alive": np.asarray(model.conditional_probability_alive(f, r, t)),
    }


TASKS: dict[str, dict[str, Callable[[dict[str, np.ndarray]], dict[str, Any]]]] = {
    "bgnbd": {"stickykit": stickykit_bgnbd, "lifetimes": lifetimes_bgnbd},
    "paretonbd": {"stickykit": stickykit_paretonbd, "lifetimes": lifetimes_paretonbd},
}
# lifetimes names: BetaGeoFitter r, alpha, a, b; ParetoNBDFitter r, alpha, s, beta; GammaGamma p, q, v
_RENAME = {"v": "gamma"}


def worker(task: str, tool: str, n: int, seed: int, repeat: int) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")  # lifetimes' pandas deprecation warnings
    run = TASKS[task][tool]
    data = make_customers(task, n, seed)
    run({k: v[:WARM_UP] for k, v in data.items()})  # imports and first calls, not timed
    gc.collect()
    reset_peak()
    baseline = status_kib("VmRSS") or 0
    times, cpu_times = [], []
    out: dict[str, Any] = {}
    for _ in range(repeat):
        begin, cpu_begin = time.perf_counter(), time.process_time()
        out = run(data)
        times.append(time.perf_counter() - begin)
        cpu_times.append(time.process_time() - cpu_begin)
    peak = status_kib("VmHWM") or 0
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in out.items() if k != "params"}
    return {
        "task": task,
        "tool": tool,
        "best_s": min(times),
        "best_cpu_s": min(cpu_times),
        "peak_increase_mib": (peak - baseline) / 1024,
        "params": {_RENAME.get(k, k): float(v) for k, v in out["params"].items()},
        "finite": {k: bool(np.all(np.isfinite(v))) for k, v in arrays.items()},
        "predictions": {k: v.tolist() for k, v in arrays.items()},
    }


def run_worker(task: str, tool: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", task, tool, "--customers", str(args.customers)]
    cmd += ["--seed", str(args.seed), "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"task": task, "tool": tool, "error": done.stderr.strip().splitlines()[-1]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def log_likelihoods(task: str, data: dict[str, np.ndarray], params: dict[str, float]) -> float:
    """stickykit's total log-likelihood (weeks) of the transaction model at ``params``."""
    from stickykit.models import BGNBD, Histories
    from stickykit.models.paretonbd import ParetoNBD

    model = BGNBD() if task == "bgnbd" else ParetoNBD()
    h = Histories.from_arrays(frequency=data["frequency"], recency=data["recency"], age=data["age"])
    vector = np.array([params[name] for name in model.param_names])
    return model.log_likelihood(vector, model.patterns(h))


def compare(task: str, rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    ours = next(r for r in rows if r["tool"] == "stickykit")
    data = make_customers(task, args.customers, args.seed)
    n_patterns = len(np.unique(np.c_[data["frequency"], data["recency"], data["age"]], axis=0))
    lines = [
        f"### {task}",
        "",
        (
            f"{args.customers:,} customers, {n_patterns:,} distinct (x, t_x, T) histories; "
            f"{int((data['frequency'] > 0).sum()):,} repeat buyers"
        ),
        "",
        (
            "| tool | time (s) | time / stickykit | CPU time (s) | CPU / stickykit | "
            "peak RSS increase (MiB) | log-likelihood at its estimate | predictions finite |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tool']} | failed: {r['error']} | | | | | | |")
            continue
        ll = log_likelihoods(task, data, r["params"])
        finite = ", ".join(f"{k} {v}" for k, v in r["finite"].items())
        lines.append(
            f"| {r['tool']} | {r['best_s']:.2f} | {r['best_s'] / ours['best_s']:.1f} | "
            f"{r['best_cpu_s']:.2f} | {r['best_cpu_s'] / ours['best_cpu_s']:.1f} | "
            f"{r['peak_increase_mib']:.0f} | {ll:.6f} | {finite} |"
        )
    lines += ["", "Estimates:", ""]
    for r in rows:
        if "error" not in r:
            shown = ", ".join(f"{k} {v:.6g}" for k, v in r["params"].items())
            lines.append(f"- {r['tool']}: {shown}")
    for r in rows:
        if r["tool"] == "stickykit" or "error" in r:
            continue
        ll_ours = log_likelihoods(task, data, ours["params"])
        ll_peer = log_likelihoods(task, data, r["params"])
        lines += [
            "",
            (
                f"Log-likelihood relative difference (stickykit's function at both estimates): "
                f"{abs(ll_ours - ll_peer) / abs(ll_ours):.2e} (stickykit's estimate "
                f"{'higher' if ll_ours >= ll_peer else 'lower'})"
            ),
        ]
        for key, mine in ours["predictions"].items():
            a, b = np.asarray(mine), np.asarray(r["predictions"][key])
            both = np.isfinite(a) & np.isfinite(b)
            rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(a[both]), 1e-12)
            lines.append(
                f"- {key}: max relative difference {rel.max():.2e} over {int(both.sum()):,} "
                f"customers where both are finite ({int((~np.isfinite(b)).sum()):,} not finite "
                f"in {r['tool']})"
            )
    lines += ["", "Code timed:", ""]
    for r in rows:
        source = inspect.getsource(TASKS[task][r["tool"]]).rstrip()
        lines += [f"- {r['tool']}:", "", "```python", source, "```", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers (10^6)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per tool (1)")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "TOOL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, tool = args.worker
        print(json.dumps(worker(task, tool, args.customers, args.seed, args.repeat)))
        return
    lines = [
        f"Command: `{' '.join(['python', 'benchmarks/bench_btyd.py', *sys.argv[1:]])}`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine(('stickykit', 'numpy', 'scipy', 'lifetimes', 'pandas'))}",
        f"Timing: best of {args.repeat} run(s), each task and tool in a fresh process",
        "",
    ]
    for task in args.tasks:
        rows = []
        for tool in TASKS[task]:
            print(f"running {task} / {tool} ...", file=sys.stderr, flush=True)
            rows.append(run_worker(task, tool, args))
        lines += compare(task, rows, args)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
