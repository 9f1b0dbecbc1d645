r"""Predictions for millions of customers: per-frequency Chebyshev interpolation, checked.

Many predictions are a smooth function :math:`f_x(s)` of one customer variable :math:`s`
(for example :math:`s = \ln(\alpha + T)`) for each distinct frequency :math:`x`, and costly to
evaluate exactly (a Gauss hypergeometric function per customer). With thousands of customers
per frequency it is cheaper to evaluate :math:`f_x` exactly at :math:`n` Chebyshev points of
the group's range of :math:`s`, interpolate (Trefethen 2019, *Approximation Theory and
Approximation Practice*, extended ed., SIAM, chapters 3 and 8: for :math:`f` analytic in the
Bernstein ellipse :math:`E_\rho` the error falls like :math:`\rho^{-n}`), drop the trailing
coefficients that add up to less than a tenth of the tolerance, and evaluate the
interpolant by Clenshaw's recurrence, a few multiplications per customer.

Nothing is trusted on faith. Each interpolant is compared with the exact function at the
:math:`n - 1` points halfway (in angle) between its nodes, where the error of an interpolant
peaks, and its last two coefficients must be small; if the relative error exceeds
:data:`TOLERANCE` the group is retried with twice the points, then evaluated exactly, customer
by customer. Small groups are evaluated exactly from the start.

Examples
--------
:math:`f_x(s) = \ln(1 + x e^s)` on 20,000 customers:

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> x = np.sort(rng.integers(0, 3, 20_000)).astype(float)
>>> s = rng.uniform(0.0, 4.0, 20_000)
>>> exact = lambda xv, sv: np.log1p(xv * np.exp(sv))
>>> got = by_frequency(exact, x, s)
>>> bool(np.max(np.abs(got - exact(x, s)) / np.maximum(exact(x, s), 1e-300)) < 1e-10)
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from stickykit.models._grouped import FrequencyGroups

__all__ = ["TOLERANCE", "by_frequency"]

Array = NDArray[np.float64]

#: Largest relative error of an accepted interpolant at its check points.
TOLERANCE = 1e-11
#: Chebyshev points tried per group, in turn.
_SIZES = (32, 64)
#: Groups with fewer customers than this many times the points are evaluated exactly.
_EXACT_FACTOR = 4
#: Rows per block of Clenshaw's recurrence (the temporaries stay in cache).
_BLOCK = 8192


def _chebyshev_points(n: int) -> Array:
    """Chebyshev points of the first kind on [-1, 1], decreasing."""
    return np.cos(np.pi * (np.arange(n) + 0.5) / n)


def _coefficients(values: Array) -> Array:
    """Chebyshev coefficients of the interpolant through values at the first-kind points.

    ``values`` has shape ``(groups, n)``; the discrete cosine transform, as a matrix product.
    """
    n = values.shape[1]
    k = np.arange(n)
    basis = np.cos(np.pi * np.outer(k, k + 0.5) / n)
    coefficients = values @ basis.T * (2.0 / n)
    coefficients[:, 0] /= 2.0
    return np.asarray(coefficients, dtype=np.float64)


def _clenshaw(coefficients: Array, u: Array) -> Array:
    """Evaluate one Chebyshev series at ``u`` (in [-1, 1]), block by block."""
    out = np.empty(len(u))
    n = len(coefficients)
    for lo in range(0, len(u), _BLOCK):
        v = u[lo : lo + _BLOCK]
        two_u = 2.0 * v
        b1 = np.zeros(len(v))
        b2 = np.zeros(len(v))
        for c in coefficients[:0:-1][: n - 1]:
            b0 = two_u * b1
            b0 -= b2
            b0 += c
            b2, b1 = b1, b0
        b1 *= v
        b1 -= b2
        b1 += coefficients[0]
        out[lo : lo + _BLOCK] = b1
    return out


def _series_at(coefficients: Array, u: Array) -> Array:
    """Chebyshev series (rows of ``coefficients``) at the points ``u`` (same rows)."""
    return np.asarray(np.polynomial.chebyshev.chebval(u.T, coefficients.T, tensor=False).T)


def by_frequency(function: Callable[[Array, Array], Array], x: Array, s: Array) -> Array:
    r"""``function(x, s)`` at every row, by checked interpolation within each frequency.

    Parameters
    ----------
    function : callable
        Vectorised exact evaluation, ``function(x, s)`` for equal-length arrays; smooth
        (analytic) in ``s`` for each fixed ``x``.
    x : numpy.ndarray
        Frequency of each row (any order).
    s : numpy.ndarray
        The smooth variable of each row, finite.

    Returns
    -------
    numpy.ndarray
        Within :data:`TOLERANCE` (relative, at the check points) of the exact values.

    Examples
    --------
    A group too small to interpolate is evaluated exactly:

    >>> by_frequency(lambda xv, sv: xv + sv, np.array([1.0, 2.0]), np.array([0.5, 0.25])).tolist()
    [1.5, 2.25]
    """
    groups = FrequencyGroups.build(x)
    s_arranged = groups.arrange(np.asarray(s, dtype=np.float64))
    ends = groups.starts + groups.counts
    low = np.minimum.reduceat(s_arranged, groups.starts) if len(x) else np.empty(0)
    high = np.maximum.reduceat(s_arranged, groups.starts) if len(x) else np.empty(0)
    out = np.empty(len(x))
    pending = np.flatnonzero(groups.counts >= _EXACT_FACTOR * _SIZES[0])
    for n in _SIZES:
        if not len(pending):
            break
        k = len(pending)
        centre = (low[pending] + high[pending]) / 2
        half = np.maximum((high[pending] - low[pending]) / 2, 1e-12 * (1 + np.abs(centre)))
        nodes = _chebyshev_points(n)
        checks = np.cos(np.pi * np.arange(1, n) / n)  # halfway between the nodes, in angle
        at = np.concatenate([nodes, checks])
        s_at = centre[:, None] + half[:, None] * at[None, :]
        x_at = np.repeat(groups.values[pending], len(at))
        exact = function(x_at, s_at.ravel()).reshape(k, len(at))
        coefficients = _coefficients(exact[:, :n])
        interpolated = _series_at(coefficients, np.broadcast_to(checks, (k, n - 1)))
        scale = np.max(np.abs(exact), axis=1)
        error = np.max(np.abs(interpolated - exact[:, n:]), axis=1)
        tail = np.max(np.abs(coefficients[:, -2:]), axis=1)
        good = (
            np.all(np.isfinite(exact), axis=1)
            & (error <= TOLERANCE * scale)
            & (tail <= TOLERANCE * scale)
        )
        # chop: the trailing coefficients whose sum is below TOLERANCE / 10 of the scale
        trailing = np.cumsum(np.abs(coefficients[:, ::-1]), axis=1)[:, ::-1]
        keep = np.maximum(np.sum(trailing > TOLERANCE / 10 * scale[:, None], axis=1), 1)
        for j in np.flatnonzero(good):
            g = pending[j]
            rows = slice(groups.starts[g], ends[g])
            u = (s_arranged[rows] - centre[j]) / half[j]
            out[rows] = _clenshaw(coefficients[j, : keep[j]], np.clip(u, -1.0, 1.0))
        pending = pending[~good]
    done = np.zeros(len(groups), dtype=bool)
    done[groups.counts >= _EXACT_FACTOR * _SIZES[0]] = True
    done[pending] = False
    exact_rows = np.repeat(~done, groups.counts)
    if exact_rows.any():
        x_arranged = groups.arrange(np.asarray(x, dtype=np.float64))
        out[exact_rows] = function(x_arranged[exact_rows], s_arranged[exact_rows])
    if groups.order is None:
        return out
    result = np.empty(len(x))
    result[groups.order] = out
    return result
