"""Splitting frames into chunks of rows, as views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from stickykit.frames._event import CustomerFrame, EventFrame
from stickykit.frames._survey import SurveyFrame

__all__ = ["Frame", "iter_chunks"]

Frame = EventFrame | SurveyFrame | CustomerFrame
F = TypeVar("F", EventFrame, SurveyFrame, CustomerFrame)


def iter_chunks(frame: F, chunk_rows: int | None) -> Iterator[F]:
    """Yield ``frame`` in consecutive slices of at most ``chunk_rows`` rows (views, no copy).

    ``None`` yields the frame whole. An empty frame yields itself once.

    Examples
    --------
    >>> import numpy as np
    >>> f = SurveyFrame(respondent_id=np.arange(5), answers={"q": np.zeros(5, np.int8)})
    >>> [len(c) for c in iter_chunks(f, 2)]
    [2, 2, 1]
    """
    n = len(frame)
    if chunk_rows is None or n <= chunk_rows:
        yield frame
        return
    if chunk_rows < 1:
        msg = f"chunk_rows must be a positive integer, got {chunk_rows!r}"
        raise ValueError(msg)
    for start in range(0, n, chunk_rows):
        yield frame.slice(start, min(start + chunk_rows, n))
