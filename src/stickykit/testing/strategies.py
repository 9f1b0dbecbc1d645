"""Hypothesis strategies for stickykit frames, for our tests and for plugin authors.

Needs the ``testing`` extra (hypothesis).

Examples
--------
>>> from hypothesis import given
>>> @given(survey_frames({"nps": (0, 10)}, max_rows=5))
... def test_rows(frame):
...     assert len(frame) <= 5
>>> test_rows()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame

__all__ = ["customer_frames", "event_frames", "split_points", "survey_frames"]

_START_US = 852_076_800_000_000  # 1997-01-01T00:00Z
_SPAN_US = 3 * 365 * 86_400_000_000


def _labels(draw: Any, n: int, text: bool, pool: int) -> np.ndarray:
    codes: np.ndarray = draw(hnp.arrays(np.int64, n, elements=st.integers(0, pool - 1)))
    if text:
        names: np.ndarray = np.array([f"g{c}" for c in range(pool)])
        return names[codes]  # type: ignore[no-any-return]
    return codes


@st.composite
def survey_frames(
    draw: Any,
    items: Mapping[str, tuple[int, int]] | Sequence[str] = ("nps",),
    *,
    min_rows: int = 0,
    max_rows: int = 60,
    missing: bool = True,
    weights: bool = True,
) -> SurveyFrame:
    """Survey frames with answers inside each item's scale.

    Parameters
    ----------
    items : mapping of item to (lo, hi), or sequence of items (scale 0-10)
        The answer columns.
    min_rows, max_rows : int
        Frame length bounds (0 rows included by default).
    missing : bool
        Draw unanswered items and rows without wave or segment labels.
    weights : bool
        Draw respondent weights in [0.1, 10].

    Notes
    -----
    Respondents and customers are drawn from small pools, so one customer appears in several
    rows (and so across chunks when the frame is split).
    """
    scales = dict(items) if isinstance(items, Mapping) else dict.fromkeys(items, (0, 10))
    n = draw(st.integers(min_rows, max_rows))
    # one (rows x items) block for all items, mapped into each item's scale: drawing one
    # array per item makes frames of 40-item instruments slow to generate
    lows = np.array([lo for lo, _ in scales.values()], dtype=np.int16)
    widths = np.array([hi - lo + 1 for lo, hi in scales.values()], dtype=np.int16)
    raw = draw(hnp.arrays(np.uint8, (n, len(scales))))
    block = (lows + raw.astype(np.int16) % widths).astype(np.int8)
    answers = {item: np.ascontiguousarray(block[:, j]) for j, item in enumerate(scales)}
    answer_missing = {}
    label_missing = {}
    if missing and draw(st.booleans()):
        unanswered = draw(hnp.arrays(np.bool_, (n, len(scales))))
        for j, item in enumerate(scales):
            if unanswered[:, j].any():
                answer_missing[item] = np.ascontiguousarray(unanswered[:, j])
    wave = _labels(draw, n, text=False, pool=draw(st.integers(1, 4)))
    segment = _labels(draw, n, text=True, pool=draw(st.integers(1, 3)))
    customer = _labels(draw, n, text=draw(st.booleans()), pool=max(1, n // 2 + 1))
    if missing and n:
        for name in ("wave", "segment"):
            mask = draw(hnp.arrays(np.bool_, n, elements=st.booleans()))
            if mask.any():
                label_missing[name] = mask
    times = draw(hnp.arrays(np.int64, n, elements=st.integers(0, _SPAN_US)))
    weight = draw(hnp.arrays(np.float64, n, elements=st.floats(0.1, 10.0))) if weights else None
    return SurveyFrame(
        answers=answers,
        answer_missing=answer_missing,
        respondent_id=np.arange(n, dtype=np.int64),
        customer_id=customer,
        instrument=np.full(n, "nps"),
        answered_at=(times + _START_US).astype("datetime64[us]"),
        weight=weight,
        wave=wave,
        segment=segment,
        label_missing=label_missing,
    )


@st.composite
def event_frames(
    draw: Any, *, min_rows: int = 0, max_rows: int = 80, max_customers: int = 12
) -> EventFrame:
    """Event frames of purchases over three years with ids repeated across rows.

    Amounts are in [0, 1000] with two decimals, quantities in [1, 5], kinds ``purchase`` or
    ``visit``.
    """
    n = draw(st.integers(min_rows, max_rows))
    customers = draw(st.integers(1, max_customers))
    customer_id = draw(hnp.arrays(np.int64, n, elements=st.integers(0, customers - 1)))
    times = draw(hnp.arrays(np.int64, n, elements=st.integers(0, _SPAN_US)))
    cents = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 100_000)))
    kinds = np.array(["purchase", "visit"])[
        draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    ]
    return EventFrame(
        event_id=np.arange(n, dtype=np.int64),
        customer_id=customer_id,
        timestamp=(times + _START_US).astype("datetime64[us]"),
        kind=kinds,
        amount=cents / 100.0,
        quantity=draw(hnp.arrays(np.int64, n, elements=st.integers(1, 5))),
        currency=np.full(n, "USD"),
    )


@st.composite
def customer_frames(draw: Any, *, min_rows: int = 0, max_rows: int = 40) -> CustomerFrame:
    """Customer frames with unique ids, acquisition times and segments."""
    n = draw(st.integers(min_rows, max_rows))
    times = draw(hnp.arrays(np.int64, n, elements=st.integers(0, _SPAN_US)))
    return CustomerFrame(
        customer_id=np.arange(n, dtype=np.int64),
        acquired_at=(times + _START_US).astype("datetime64[us]"),
        segment=_labels(draw, n, text=True, pool=3),
    )


def split_points(n: int, max_chunks: int = 6) -> st.SearchStrategy[list[int]]:
    """Sorted cut points in ``[0, n]`` (repeats allowed, so chunks may be empty).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(split_points(10))
    ... def test_cuts(cuts):
    ...     assert cuts == sorted(cuts) and all(0 <= c <= 10 for c in cuts)
    >>> test_cuts()
    """
    return st.lists(st.integers(0, n), max_size=max_chunks - 1).map(sorted)
