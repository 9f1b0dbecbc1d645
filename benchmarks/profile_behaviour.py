"""Where stickykit's time goes on the cohort task of ``bench_behaviour.py``.

Run from the repository root::

    python benchmarks/profile_behaviour.py                       # 5 x 10^7 events
    python benchmarks/profile_behaviour.py --n 1000000 --customers 40000

Builds the same seeded events as ``bench_behaviour.py``, validates them, then prints: the
time of one ``update`` of the cohort metric with the ten most expensive steps (cProfile), the
time of ``finalize``, and the time of the summary pass run on two halves of the events in two
threads (then merged) against one thread.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import time
from concurrent.futures import ThreadPoolExecutor

from bench_behaviour import make_events

import stickykit
from stickykit.metrics.base import states_equal
from stickykit.metrics.behaviour.cohorts import CohortRetention


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000_000)
    parser.add_argument("--customers", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20240501)
    args = parser.parse_args()
    frame = stickykit.load_events(make_events(args.n, args.customers, args.seed), tz="UTC")
    metric = CohortRetention(period="month")

    profile = cProfile.Profile()
    begin = time.perf_counter()
    profile.enable()
    state = metric.update(metric.init(), frame)
    profile.disable()
    print(f"update: {time.perf_counter() - begin:.2f} s (under the profiler)")
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(10)
    print(text.getvalue())
    begin = time.perf_counter()
    metric.finalize(state)
    print(f"finalize: {time.perf_counter() - begin:.2f} s")

    begin = time.perf_counter()
    serial = metric._summarise(frame)
    print(f"summary pass, one thread: {time.perf_counter() - begin:.2f} s")
    edges = [len(frame) * k // 2 for k in range(3)]
    begin = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        halves = list(
            pool.map(
                lambda ab: metric._summarise(frame.slice(*ab)),
                itertools.pairwise(edges),
            )
        )
    merged = metric.merge(*halves)
    print(f"summary pass, two threads and a merge: {time.perf_counter() - begin:.2f} s")
    print(f"same state: {states_equal(serial, merged)}")


if __name__ == "__main__":
    main()
