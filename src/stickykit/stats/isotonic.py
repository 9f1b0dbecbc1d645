r"""Weighted isotonic regression by the pool-adjacent-violators algorithm (PAV).

Examples
--------
>>> import numpy as np
>>> pava(np.array([1.0, 3.0, 2.0, 4.0])).tolist()
[1.0, 2.5, 2.5, 4.0]
>>> pava(np.array([1.0, 3.0, 2.0, 4.0]), np.array([1.0, 1.0, 3.0, 1.0])).tolist()
[1.0, 2.25, 2.25, 4.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.errors import ValidationError

__all__ = ["pava"]


def _checked(
    values: NDArray[Any] | Sequence[float], weights: NDArray[Any] | Sequence[float] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValidationError(
            record="pava",
            field="values",
            row=None,
            value=f"an array of shape {y.shape}",
            expected="a 1-D array",
        )
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != y.shape:
        raise ValidationError(
            record="pava",
            field="weights",
            row=None,
            value=f"an array of shape {w.shape}",
            expected=f"one weight per value, shape {y.shape}",
        )
    for name, array in (("values", y), ("weights", w)):
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise ValidationError(
                record="pava",
                field=name,
                row=int(bad[0]),
                value=float(array[bad[0]]),
                expected="a finite number",
                n_failing=int(bad.size),
            )
    bad = np.flatnonzero(w <= 0)
    if bad.size:
        raise ValidationError(
            record="pava",
            field="weights",
            row=int(bad[0]),
            value=float(w[bad[0]]),
            expected="a weight > 0",
            n_failing=int(bad.size),
        )
    return y, w


def pava(
    values: NDArray[Any] | Sequence[float],
    weights: NDArray[Any] | Sequence[float] | None = None,
    *,
    increasing: bool = True,
) -> NDArray[np.float64]:
    r"""The weighted isotonic (monotone) least-squares fit of ``values``, in their order.

    Parameters
    ----------
    values : array_like
        1-D finite values :math:`y_1, \dots, y_L`, ordered by the variable the fit must be
        monotone in (for a satisfaction-loyalty curve: the loyalty rate of each satisfaction
        level, lowest level first).
    weights : array_like, optional
        Positive finite weights :math:`w_i` (the counts behind each value); 1 by default.
    increasing : bool
        Fit a non-decreasing sequence (default) or a non-increasing one.

    Returns
    -------
    numpy.ndarray
        float64 fitted values :math:`\hat f_1 \le \dots \le \hat f_L`, one per input value.

    Raises
    ------
    stickykit.errors.ValidationError
        For a value or weight that is not finite, a weight that is not positive, or arrays
        that are not 1-D of one length.

    Notes
    -----
    The fit solves

    .. math::

        \min_{f_1 \le f_2 \le \dots \le f_L} \sum_{i=1}^{L} w_i (y_i - f_i)^2 .

    PAV scans the values once, keeping a stack of blocks, each with its weight
    :math:`W_B = \sum_{i \in B} w_i` and weighted mean :math:`\bar y_B = \sum_{i \in B} w_i y_i
    / W_B`; whenever the newest block's mean falls below the previous block's, the two are
    pooled into one block of weight :math:`W_A + W_B` and mean
    :math:`(W_A \bar y_A + W_B \bar y_B)/(W_A + W_B)`, until the means increase again. Every
    fitted value is the weighted mean of its block, so the weighted mean of the fit equals
    that of the data. The solution is also given by the min-max formula
    :math:`\hat f_i = \max_{j \le i} \min_{k \ge i} \sum_{m=j}^{k} w_m y_m / \sum_{m=j}^{k} w_m`
    (Barlow et al. 1972), which the tests use as an independent check. The loop
    runs over the values given (levels of a scale, never survey rows), in :math:`O(L)`
    amortised steps.

    References
    ----------
    Ayer, M., Brunk, H. D., Ewing, G. M., Reid, W. T. and Silverman, E. (1955). An empirical
    distribution function for sampling with incomplete information. *The Annals of
    Mathematical Statistics* 26(4), 641-647.
    Barlow, R. E., Bartholomew, D. J., Bremner, J. M. and Brunk, H. D. (1972). *Statistical
    Inference under Order Restrictions*. Wiley.

    Examples
    --------
    Loyalty rates 0.2, 0.1, 0.5 at three satisfaction levels answered by 10, 30 and 20
    respondents: the first two violate the order and are pooled into
    (10 x 0.2 + 30 x 0.1) / 40 = 0.125.

    >>> import numpy as np
    >>> pava([0.2, 0.1, 0.5], [10, 30, 20]).tolist()
    [0.125, 0.125, 0.5]
    >>> pava([3.0, 1.0, 2.0], increasing=False).tolist()
    [3.0, 1.5, 1.5]
    """
    y, w = _checked(values, weights)
    if not increasing:
        return -pava(-y, w, increasing=True)
    n = len(y)
    means = np.empty(n)
    totals = np.empty(n)
    ends = np.empty(n, dtype=np.intp)
    top = -1
    for i in range(n):
        top += 1
        means[top], totals[top], ends[top] = y[i], w[i], i
        # pool while the newest block's mean is below the previous one's
        while top > 0 and means[top] < means[top - 1]:
            total = totals[top - 1] + totals[top]
            means[top - 1] = (totals[top - 1] * means[top - 1] + totals[top] * means[top]) / total
            totals[top - 1] = total
            ends[top - 1] = ends[top]
            top -= 1
    lengths = np.diff(np.concatenate(([-1], ends[: top + 1])))
    return np.repeat(means[: top + 1], lengths)
