"""How many threads a bulk kernel uses.

numpy releases the GIL inside most array operations (arithmetic, comparisons, sorts,
``bincount``), so a kernel over a large column can split it into parts that run in parallel
threads. :func:`kernel_threads` decides how many, the same way for every kernel.
"""

from __future__ import annotations

import os

__all__ = ["kernel_threads"]


def kernel_threads(rows: int, min_rows: int) -> int:
    """Threads a kernel uses on ``rows`` rows: one below ``min_rows``, else one per CPU up to 4.

    The ``STICKYKIT_MAX_THREADS`` environment variable, when set, replaces the cap of 4
    (``1`` turns threads off), for example in worker processes that already fill the cores.

    Examples
    --------
    >>> kernel_threads(1000, min_rows=1 << 20)
    1
    """
    if rows < min_rows:
        return 1
    limit = os.environ.get("STICKYKIT_MAX_THREADS")
    cap = int(limit) if limit and limit.isdigit() and int(limit) > 0 else 4
    return max(1, min(cap, os.cpu_count() or 1))
