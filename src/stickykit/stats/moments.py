r"""Mergeable pairwise co-moments: counts, sums and centred cross-products.

A batch of rows of :math:`k` variables is summarised, for every pair :math:`(i, j)`, over
the rows where both are present (all rows when nothing is missing), by

- ``count[i, j]`` :math:`= n_{ij}`, the rows where both are present,
- ``sums[i, j]`` :math:`= \sum x_i` over those rows (note: ``sums[j, i]`` sums :math:`x_j`),
- ``comoments[i, j]`` :math:`= \sum (x_i - \bar x_i^{(ij)})(x_j - \bar x_j^{(ij)})`, centred on
  the means of those rows.

Two summaries combine exactly by the pairwise update of Chan, Golub & LeVeque: no running
mean is stored and nothing is computed as a difference of large raw sums, so the result does
not suffer the cancellation of :math:`\sum x^2 - (\sum x)^2/n`. The covariance of a pair is
``comoments / (count - 1)``.

References
----------
Chan, T. F., Golub, G. H. and LeVeque, R. J. (1979). Updating formulae and a pairwise
algorithm for computing sample variances. Technical Report STAN-CS-79-773, Stanford
University (the pairwise combination of two partial summaries).

Examples
--------
>>> import numpy as np
>>> x = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
>>> whole = pairwise_comoments(x)
>>> merged = merge_comoments(pairwise_comoments(x[:1]), pairwise_comoments(x[1:]))
>>> np.allclose(merged[2], whole[2]), np.allclose(covariance(whole[0], whole[2]), np.cov(x.T))
(True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["Comoments", "covariance", "merge_comoments", "pairwise_comoments"]

#: ``(count, sums, comoments)``: int64 and float64 arrays with the pair axes last.
Comoments = tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


def pairwise_comoments(
    values: NDArray[np.float64], present: NDArray[np.bool_] | None = None
) -> Comoments:
    r"""Counts, sums and centred co-moments of every pair of columns of ``values``.

    Parameters
    ----------
    values : numpy.ndarray
        float64, shape ``(n, k)``: one row per observation. Entries where ``present`` is
        ``False`` are ignored (their value does not matter).
    present : numpy.ndarray or None
        bool, shape ``(n, k)``; ``None`` means every entry is present.

    Returns
    -------
    count : numpy.ndarray
        int64, shape ``(k, k)``: rows with both columns present.
    sums : numpy.ndarray
        float64, shape ``(k, k)``: ``sums[i, j]`` is the sum of column ``i`` over the rows
        where ``i`` and ``j`` are both present.
    comoments : numpy.ndarray
        float64, shape ``(k, k)``: centred cross-products over those rows.

    Notes
    -----
    Each column is first shifted by its mean over its present rows, :math:`y = x - m`, so the
    cross-products are of small numbers; with :math:`P` the presence indicators,

    .. math::

        C_{ij} = \sum_r P_{ri} P_{rj}\, y_{ri} y_{rj}
                 - \frac{\left(\sum_r P_{ri} P_{rj} y_{ri}\right)
                         \left(\sum_r P_{ri} P_{rj} y_{rj}\right)}{n_{ij}},

    exact algebra (co-moments do not change under a shift), and the correction term is near
    zero because :math:`y` is nearly centred. The sums are taken of :math:`x` itself, so they
    are exact for integer answers.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 4.0], [3.0, 0.0], [5.0, 9.0]])
    >>> count, sums, co = pairwise_comoments(x, np.array([[1, 1], [1, 1], [1, 0]], bool))
    >>> count.tolist(), sums.tolist(), co.tolist()
    ([[3, 2], [2, 2]], [[9.0, 4.0], [4.0, 4.0]], [[8.0, -4.0], [-4.0, 8.0]])
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        msg = f"values must be a 2-D array (rows, variables), got shape {x.shape}"
        raise ValueError(msg)
    n, k = x.shape
    if present is None:
        count = np.full((k, k), n, dtype=np.int64)
        if n == 0:
            return count, np.zeros((k, k)), np.zeros((k, k))
        column_sums = x.sum(axis=0)
        sums = np.repeat(column_sums[:, None], k, axis=1)
        y = x - column_sums / n
        y_sums = y.sum(axis=0)
        comoments = y.T @ y - np.outer(y_sums, y_sums) / n
        return count, sums, comoments
    if present.shape != x.shape:
        msg = f"present must have the shape of values {x.shape}, got {present.shape}"
        raise ValueError(msg)
    p = present.astype(np.float64)
    count = (p.T @ p).round().astype(np.int64)
    xp = np.where(present, x, 0.0)
    sums = xp.T @ p
    answered = np.diagonal(count).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(answered > 0, np.diagonal(sums) / answered, 0.0)
    y = np.where(present, x - shift, 0.0)
    y_sums = y.T @ p  # y_sums[i, j] = sum of y_i where i and j are present
    with np.errstate(divide="ignore", invalid="ignore"):
        correction = np.where(count > 0, y_sums * y_sums.T / count, 0.0)
    comoments = y.T @ y - correction
    return count, sums, comoments


def merge_comoments(a: Comoments, b: Comoments) -> Comoments:
    r"""Combine two co-moment summaries (any leading axes, pair axes last).

    Parameters
    ----------
    a, b : (count, sums, comoments)
        Summaries of disjoint sets of rows, as returned by :func:`pairwise_comoments` (or
        stacked along leading axes, one per group).

    Returns
    -------
    (count, sums, comoments)
        The summary of all rows.

    Notes
    -----
    With :math:`n = n_a + n_b` and sums :math:`S`, for each pair

    .. math::

        C_{ij} = C^a_{ij} + C^b_{ij}
            + \frac{(n_b S^a_{ij} - n_a S^b_{ij})(n_b S^a_{ji} - n_a S^b_{ji})}
                   {n_a\, n_b\, n},

    the pairwise update of Chan, Golub & LeVeque (1979) written with sums instead of means
    (:math:`\bar x_b - \bar x_a = (n_a S_b - n_b S_a)/(n_a n_b)`). Where one side is empty
    the other is returned unchanged, so an empty summary is the identity; the formula is
    symmetric in ``a`` and ``b``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[2.0], [4.0], [9.0]])
    >>> merge_comoments(pairwise_comoments(x[:2]), pairwise_comoments(x[2:]))[2].tolist()
    [[26.0]]
    """
    count_a, sums_a, co_a = a
    count_b, sums_b, co_b = b
    count = count_a + count_b
    sums = sums_a + sums_b
    na = count_a.astype(np.float64)
    nb = count_b.astype(np.float64)
    both = (count_a > 0) & (count_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = nb * sums_a - na * sums_b
        correction = gap * np.swapaxes(gap, -1, -2) / (na * nb * (na + nb))
    comoments = np.where(both, co_a + co_b + correction, co_a + co_b)
    return count, sums, comoments


def covariance(count: NDArray[np.int64], comoments: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Sample covariances :math:`C_{ij} / (n_{ij} - 1)`; NaN where fewer than 2 rows.

    Examples
    --------
    >>> import numpy as np
    >>> covariance(np.array([[3]]), np.array([[8.0]])).tolist()
    [[4.0]]
    """
    denominator = count.astype(np.float64) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out: NDArray[np.float64] = np.where(count >= 2, comoments / denominator, np.nan)
    return out
