"""The laws every metric obeys, checked on concrete data."""

from __future__ import annotations

import itertools
import math
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stickykit.errors import InsufficientDataError
from stickykit.io.statefile import load_state, save_state
from stickykit.metrics.base import Metric, MetricResult, states_equal

__all__ = ["check_laws", "chunks_at", "results_close"]

RTOL = 1e-9


def chunks_at(frame: Any, cuts: Sequence[int]) -> list[Any]:
    """Split ``frame`` at the sorted ``cuts`` (views; empty chunks kept)."""
    edges = [0, *cuts, len(frame)]
    return [frame.slice(a, b) for a, b in itertools.pairwise(edges)]


def _close(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=RTOL, abs_tol=1e-9)


def _tables_close(x: Any, y: Any) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
        return False
    if x.dtype.kind in "fc":
        return bool(np.allclose(x, y, rtol=RTOL, atol=1e-9, equal_nan=True))
    return bool(np.array_equal(x, y))


def results_close(a: MetricResult, b: MetricResult) -> bool:
    """Two results agree: values and intervals close, counts, labels and flags equal."""
    same = (
        a.metric == b.metric
        and a.n == b.n
        and a.n_missing == b.n_missing
        and a.group == b.group
        and a.flags == b.flags
        and a.as_of == b.as_of
        and all(_close(getattr(a, f), getattr(b, f)) for f in ("value", "se", "ci_low", "ci_high"))
        and set(a.details) == set(b.details)
        and all(_close(a.details[k], b.details[k]) for k in a.details)
        and len(a.groups) == len(b.groups)
        and set(a.tables) == set(b.tables)
        and all(_tables_close(a.tables[k], b.tables[k]) for k in a.tables)
    )
    return same and all(results_close(x, y) for x, y in zip(a.groups, b.groups, strict=True))


def _finalize(metric: Metric, state: Any) -> MetricResult | None:
    try:
        return metric.finalize(state)
    except InsufficientDataError:
        return None


def _same_result(metric: Metric, a: Any, b: Any) -> bool:
    ra, rb = _finalize(metric, a), _finalize(metric, b)
    if ra is None or rb is None:
        return ra is None and rb is None
    return results_close(ra, rb)


def _law(ok: bool, law: str, metric: Metric, detail: str) -> None:
    if not ok:
        msg = f"{metric.name}: law '{law}' fails ({detail})"
        raise AssertionError(msg)


def check_laws(metric: Metric, frame: Any, cuts: Sequence[int], order: Sequence[int]) -> None:
    """Check every law on one frame, one split and one row order; raise AssertionError if not.

    Laws: ``init()`` is the identity of ``merge`` on both sides; merging the states of any split
    (empty chunks included) equals updating with the whole frame, and so does folding the chunks
    in order; ``merge`` is commutative and associative; permuting rows changes nothing; states
    and the metric survive a pickle round trip; states survive a state-file round trip, and a
    saved state updated with the later chunks equals the whole (an incremental run);
    ``finalize`` agrees wherever states agree.
    """
    init = metric.init()
    whole = metric.update(metric.init(), frame)
    _law(states_equal(metric.merge(init, whole), whole, rtol=RTOL), "left identity", metric, "")
    _law(states_equal(metric.merge(whole, init), whole, rtol=RTOL), "right identity", metric, "")
    _law(states_equal(metric.merge(init, init), init), "identity of empty", metric, "")
    chunks = chunks_at(frame, cuts)
    states = [metric.update(metric.init(), chunk) for chunk in chunks]
    merged = states[0]
    for state in states[1:]:
        merged = metric.merge(merged, state)
    detail = f"cuts={list(cuts)}, n={len(frame)}"
    _law(states_equal(merged, whole, rtol=RTOL), "split == no split", metric, detail)
    _law(_same_result(metric, merged, whole), "split == no split (result)", metric, detail)
    folded = metric.init()
    for chunk in chunks:
        folded = metric.update(folded, chunk)
    _law(states_equal(folded, whole, rtol=RTOL), "fold == no split", metric, detail)
    if len(states) >= 2:
        a, b = states[0], states[-1]
        _law(
            states_equal(metric.merge(a, b), metric.merge(b, a), rtol=RTOL),
            "commutativity",
            metric,
            detail,
        )
    if len(states) >= 3:
        a, b, c = states[0], states[1], states[2]
        left = metric.merge(metric.merge(a, b), c)
        right = metric.merge(a, metric.merge(b, c))
        _law(states_equal(left, right, rtol=RTOL), "associativity", metric, detail)
    permuted = metric.update(metric.init(), frame.take(np.asarray(order, dtype=np.intp)))
    _law(_same_result(metric, permuted, whole), "row permutation", metric, f"order={list(order)}")
    restored = pickle.loads(pickle.dumps(whole))
    _law(states_equal(restored, whole), "state pickle round trip", metric, "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.npz"
        save_state(metric, whole, path)
        _law(states_equal(load_state(metric, path), whole), "state file round trip", metric, "")
        save_state(metric, states[0], path)
        resumed = load_state(metric, path)
        for chunk in chunks[1:]:
            resumed = metric.update(resumed, chunk)
        _law(
            states_equal(resumed, whole, rtol=RTOL),
            "saved state + later chunks == no split",
            metric,
            detail,
        )
    clone = pickle.loads(pickle.dumps(metric))
    _law(
        clone == metric and clone.fingerprint == metric.fingerprint,
        "metric pickle round trip",
        metric,
        "",
    )
