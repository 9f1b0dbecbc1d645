"""Row selection shared by every frame: slices as views, takes and filters as copies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

__all__ = ["RowOps"]


class RowOps:
    """``slice``, ``take`` and ``filter`` for a frame that implements ``_map``.

    ``_map(fn, first_row)`` must return a frame of the same type with ``fn`` applied to every
    column and mask.
    """

    __slots__ = ()
    first_row: int

    def __len__(self) -> int:  # pragma: no cover - every frame defines it
        raise NotImplementedError

    def _map(self, fn: Callable[[NDArray[Any]], NDArray[Any]], first_row: int) -> Self:
        raise NotImplementedError  # pragma: no cover

    def slice(self, start: int, stop: int) -> Self:
        """Rows ``start:stop`` as views (no copy); ``first_row`` follows the input rows.

        Examples
        --------
        >>> import numpy as np
        >>> from stickykit.frames import SurveyFrame
        >>> f = SurveyFrame(answers={"q": np.arange(5, dtype=np.int8)})
        >>> f.slice(2, 4).first_row, len(f.slice(2, 4))
        (2, 2)
        """
        start, stop, _ = slice(start, stop).indices(len(self))
        return self._map(lambda col: col[start:stop], self.first_row + start)

    def take(self, rows: NDArray[np.intp]) -> Self:
        """The given rows, in that order (a copy)."""
        return self._map(lambda col: col[rows], self.first_row)

    def filter(self, keep: NDArray[np.bool_]) -> Self:
        """Rows where ``keep`` is true (a copy)."""
        return self._map(lambda col: col[keep], self.first_row)
