r"""Multiple testing: Holm and Benjamini-Hochberg adjusted p-values.

A dashboard that compares many segments or waves runs many tests; some reach p < 0.05 by
chance alone. Adjusted p-values keep that in check:

- ``"holm"`` controls the family-wise error rate (the chance of any false positive), at least
  as powerful as Bonferroni;
- ``"bh"`` controls the false discovery rate (the expected share of false positives among the
  tests called significant), less strict; its adjusted p-values are never above Holm's.

Examples
--------
>>> adjust_pvalues([0.01, 0.04, 0.03], method="holm").tolist()
[0.03, 0.06, 0.06]
>>> adjust_pvalues([0.01, 0.04, 0.03], method="bh").tolist()
[0.03, 0.04, 0.04]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["ADJUSTMENTS", "adjust_pvalues"]

#: The adjustment methods.
ADJUSTMENTS = ("holm", "bh")


def adjust_pvalues(
    pvalues: Sequence[float] | NDArray[np.float64], method: Literal["holm", "bh"] = "holm"
) -> NDArray[np.float64]:
    r"""Adjusted p-values, in the order given.

    Parameters
    ----------
    pvalues : array-like of float
        Raw p-values in [0, 1], one-dimensional. NaN (a test that could not be run) stays NaN
        and does not count among the :math:`m` tests.
    method : {"holm", "bh"}
        Holm's step-down (family-wise error rate) or Benjamini-Hochberg's step-up (false
        discovery rate).

    Returns
    -------
    numpy.ndarray
        float64 adjusted p-values, each at least its raw p-value and at most 1.

    Notes
    -----
    With the :math:`m` p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math::

        \tilde p^{Holm}_{(i)} = \min\Bigl(1, \max_{j \le i} (m - j + 1)\,p_{(j)}\Bigr), \qquad
        \tilde p^{BH}_{(i)} = \min\Bigl(1, \min_{j \ge i} \frac{m}{j}\,p_{(j)}\Bigr).

    Reject the hypotheses whose adjusted p-value is below :math:`\alpha`. Since
    :math:`m/j \le m - j + 1` for :math:`1 \le j \le m`, BH's values are never above Holm's.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics* 6(2), 65-70.
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
    powerful approach to multiple testing. *Journal of the Royal Statistical Society, Series B*
    57(1), 289-300.

    Examples
    --------
    Holm by hand: sorted 0.01, 0.03, 0.04 times 3, 2, 1 gives 0.03, 0.06, 0.04, and the running
    maximum makes the last 0.06.

    >>> adjust_pvalues([0.04, 0.01, float("nan"), 0.03]).round(4).tolist()
    [0.06, 0.03, nan, 0.06]
    """
    if method not in ADJUSTMENTS:
        msg = f"method must be one of {ADJUSTMENTS}, got {method!r}"
        raise ValueError(msg)
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        msg = f"pvalues must be one-dimensional, got shape {p.shape}"
        raise ValueError(msg)
    known = ~np.isnan(p)
    if np.any((p[known] < 0) | (p[known] > 1)):
        msg = f"p-values must lie in [0, 1], got {p[known][(p[known] < 0) | (p[known] > 1)][:3]}"
        raise ValueError(msg)
    out = np.full(p.shape, np.nan)
    values = p[known]
    m = len(values)
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate((m - rank + 1) * ranked)
    else:
        adjusted = np.minimum.accumulate((m / rank * ranked)[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    out[known] = result
    return out
