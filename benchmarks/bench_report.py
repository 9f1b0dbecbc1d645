"""``stickykit report`` on 10^7 events and a survey file, timed in a fresh process.

Run from the repository root::

    python benchmarks/bench_report.py                               # 10^7 events, 10^6 answers
    python benchmarks/bench_report.py --n 100000 --survey-n 5000    # smoke run, seconds
    python benchmarks/bench_report.py --format parquet --repeat 3

The data are seeded and synthetic (default seed 20240501), written once to files in a working
folder (a temporary one unless ``--dir`` is given; ``--keep`` keeps it):

- ``events.csv`` (or ``.parquet``): ``--n`` events (10^7) of ``--customers`` customers
  (``n / 20``), each customer acquired at a uniform instant in 36 months from 2021-01-01 UTC,
  each event for a customer drawn with a skewed weight (``floor(customers * u**2)``) at a
  uniform instant between that customer's acquisition and the end of the 36 months, with a
  log-normal amount rounded to cents (``bench_behaviour.make_events``); columns ``event_id, customer_id, timestamp, amount``,
  times in UTC (``...Z``).
- ``survey.csv`` (or ``.parquet``): ``--survey-n`` answers (10^6), columns ``respondent_id``,
  ``nps`` (0-10, drawn with the answer shares of the bundled NPSgame survey, NPS about +53),
  ``csat`` (1-5), ``wave`` (0-11) and ``answered_at``; 2 % of the NPS answers are blank.

The survey's respondent ids are drawn from another range than the customer ids: the two files
are separate sources and the report must not join them.

What is timed: the whole command, ``python -m stickykit report --events ... --survey ... -o
...`` (interpreter start, imports, reading and validating both files, every section, writing
the HTML), each run in a fresh process; the best and the median of ``--repeat`` runs (default
1) are reported with the largest peak resident set size of the runs (``ru_maxrss`` of the children). The
report (Markdown) goes to standard output, progress to standard error. Generating and writing
the files is not timed; its time is printed.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine
from bench_behaviour import START, make_events  # the same event generator

# shares of the scores 0..10 in the bundled NPSgame survey (rounded; NPS about +53)
NPS_SHARES = np.array([0.0, 0.6, 0.4, 0.5, 0.7, 2.9, 3.6, 7.8, 21.2, 18.3, 43.9])


def make_survey(n: int, seed: int) -> dict[str, np.ndarray]:
    """The seeded synthetic survey (see the module docstring)."""
    rng = np.random.default_rng(seed + 1)
    nps = rng.choice(11, size=n, p=NPS_SHARES / NPS_SHARES.sum()).astype(np.float64)
    nps[rng.random(n) < 0.02] = np.nan
    csat = np.clip(np.round(1 + np.nan_to_num(nps, nan=7.0) * 0.4 + rng.normal(0, 0.7, n)), 1, 5)
    wave = rng.integers(0, 12, n)
    answered = START + (wave * 30 + rng.integers(0, 30, n)) * np.timedelta64(1, "D")
    return {
        "respondent_id": 10**12 + np.arange(n, dtype=np.int64),
        "nps": nps,
        "csat": csat.astype(np.int64),
        "wave": wave,
        "answered_at": answered.astype("datetime64[us]"),
    }


def write_table(columns: dict[str, np.ndarray], path: Path) -> None:
    """Write the columns as CSV or Parquet (by suffix) with pyarrow, times as UTC."""
    import pyarrow as pa

    arrays = {
        name: pa.array(values, type=pa.timestamp("us", "UTC"))
        if values.dtype.kind == "M"
        else pa.array(values, from_pandas=True)  # NaN -> null (a blank cell)
        for name, values in columns.items()
    }
    table = pa.table(arrays)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)


def time_command(command: list[str]) -> tuple[float, int, int, str, str]:
    """Wall time, exit code, peak RSS (MiB) of one run of ``command`` in a fresh process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate()
    seconds = time.perf_counter() - start
    try:
        import resource
    except ImportError:  # not POSIX
        return seconds, child.returncode, 0, out, err
    # the largest peak of the children reaped so far (KiB on Linux): each run is one child
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return seconds, child.returncode, peak_mib, out, err


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="events (default 10^7)")
    parser.add_argument("--customers", type=int, help="customers (default n / 20)")
    parser.add_argument("--survey-n", type=int, default=1_000_000, help="survey answers")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs (fresh processes)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    parser.add_argument("--sections", help="only these report sections (KEY,...; default all)")
    parser.add_argument("--dir", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    customers = args.customers or max(1, args.n // 20)

    work = args.dir or Path(tempfile.mkdtemp(prefix="stickykit-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if args.format == "parquet" else ".csv"
    events_path, survey_path = work / f"events{suffix}", work / f"survey{suffix}"
    output = work / "report.html"

    try:
        return run(args, customers, events_path, survey_path, output)
    finally:
        if args.keep or args.dir is not None:
            print(f"files kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)  # a temporary folder of our own


def run(
    args: argparse.Namespace, customers: int, events_path: Path, survey_path: Path, output: Path
) -> int:
    """Write the data, time the command, print the report; 1 if the command fails."""
    t0 = time.perf_counter()
    print(f"generating {args.n:,} events of {customers:,} customers ...", file=sys.stderr)
    write_table(make_events(args.n, customers, args.seed), events_path)
    print(f"generating {args.survey_n:,} survey answers ...", file=sys.stderr)
    write_table(make_survey(args.survey_n, args.seed), survey_path)
    generated = time.perf_counter() - t0

    command = [
        sys.executable,
        "-m",
        "stickykit",
        "report",
        "--events",
        str(events_path),
        "--survey",
        str(survey_path),
        "--lang",
        args.lang,
        "-o",
        str(output),
    ]
    if args.sections:
        command += ["--sections", args.sections]
    runs: list[float] = []
    peaks: list[int] = []
    stdout = stderr = ""
    for i in range(args.repeat):
        output.unlink(missing_ok=True)
        print(f"run {i + 1}/{args.repeat}: {shlex.join(command)}", file=sys.stderr)
        seconds, code, peak, stdout, stderr = time_command(command)
        if code != 0:
            print(f"the command failed (exit {code}):\n{stderr}", file=sys.stderr)
            return 1
        runs.append(seconds)
        peaks.append(peak)

    print("## `stickykit report` on synthetic events and a survey file\n")
    print(f"- machine: {machine(('stickykit', 'numpy', 'pyarrow', 'jinja2', 'matplotlib'))}")
    print(
        f"- data: {args.n:,} events of {customers:,} customers "
        f"({events_path.stat().st_size / 2**20:,.0f} MiB {args.format}), "
        f"{args.survey_n:,} survey answers ({survey_path.stat().st_size / 2**20:,.0f} MiB); "
        f"seed {args.seed}; generated and written in {generated:.1f} s (not timed)"
    )
    print(f"- benchmark: `{shlex.join(['python', *sys.argv])}`")
    print(f"- command (run from a fresh process each time): `{shlex.join(command)}`")
    print(
        f"- wall time: best {min(runs):.1f} s, median {statistics.median(runs):.1f} s "
        f"of {len(runs)} run(s); peak RSS {max(peaks):,} MiB"
    )
    print(f"- report: {output.stat().st_size / 2**10:,.0f} KiB")
    print("\nThe command's output:\n")
    print("```text")
    print(stdout.rstrip())
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
