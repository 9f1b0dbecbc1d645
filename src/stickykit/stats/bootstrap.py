r"""Bootstrap helpers that keep metric states mergeable.

Two forms of the bootstrap fit the metric contract (init/update/merge/finalize):

- **Resampling in finalize** from a sufficient state of counts: :func:`resample_counts` draws
  multinomial replicates of a table of counts with a seeded :class:`numpy.random.Generator`
  (:func:`generator`). Nothing is stored per replicate; the state stays the counts.
- **The Poisson bootstrap**, for statistics whose replicates must be accumulated row by row:
  every row gets, in replicate :math:`r`, a weight :math:`w_{ir} \sim \text{Poisson}(1)` that
  is a deterministic hash of (seed, respondent id, :math:`r`) (:func:`poisson_weights`). Any
  split of the data into chunks gives every row the same weights, so per-replicate sums add
  up exactly and the replicate states merge like the main state.

Examples
--------
>>> import numpy as np
>>> w = poisson_weights(np.array([7, 8, 9]), seed=1, n_replicates=4)
>>> w.shape, w.dtype
((3, 4), dtype('int64'))
>>> bool((poisson_weights(np.array([9]), seed=1, n_replicates=4) == w[2]).all())
True
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.stats.intervals import check_alpha

__all__ = [
    "check_seed",
    "generator",
    "hash_ids",
    "label_key",
    "percentile_interval",
    "poisson_weights",
    "resample_counts",
]

_MASK64 = (1 << 64) - 1
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
#: Poisson(1) cumulative probabilities P(K <= k), k = 0..24 (beyond, 1 - P < 1e-25), in
#: units of 2**-53 rounded up: a 53-bit uniform integer b has u = b / 2**53 >= P(K <= k)
#: exactly when b >= this threshold.
_POISSON1_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(25)])
_POISSON1_THRESHOLDS = np.ceil(_POISSON1_CDF * 2.0**53).astype(np.uint64)


def check_seed(seed: Any) -> int:
    """Return ``seed`` if it is an integer in ``[0, 2**64)``, else raise ``ValueError``.

    Examples
    --------
    >>> check_seed(42)
    42
    """
    if type(seed) is not int or not 0 <= seed <= _MASK64:
        msg = f"seed must be an integer in [0, 2**64), got {seed!r}"
        raise ValueError(msg)
    return seed


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The SplitMix64 output function (Steele, Lea and Flood 2014), elementwise, wrapping."""
    z = x + _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def hash_ids(ids: NDArray[Any]) -> NDArray[np.uint64]:
    """A stable 64-bit hash of each id (int64 or unicode), the same in every chunk and process.

    Integers are hashed from their two's-complement bits, strings by FNV-1a over their code
    points (trailing padding ignored, so ``<U3`` and ``<U8`` copies of an id agree), each
    followed by the SplitMix64 finaliser. The integer 5 and the string ``"5"`` hash
    differently.

    Examples
    --------
    >>> import numpy as np
    >>> a = hash_ids(np.array(["ab", "c"]))
    >>> bool(a[0] == hash_ids(np.array(["ab"], dtype="<U9"))[0])
    True
    """
    ids = np.asarray(ids)
    if ids.dtype.kind == "U":
        width = ids.dtype.itemsize // 4
        codes = ids.reshape(-1).view(np.uint32).reshape(len(ids), width).astype(np.uint64)
        h = np.full(len(ids), _FNV_OFFSET, dtype=np.uint64)
        for column in codes.T:  # one pass per character position, never per row
            h = np.where(column != 0, (h ^ column) * _FNV_PRIME, h)
        return _mix(h)
    if ids.dtype.kind in "iu":
        return _mix(ids.astype(np.int64).view(np.uint64))
    msg = f"ids must be integers or unicode strings, got dtype {ids.dtype}"
    raise TypeError(msg)


def poisson_weights(ids: NDArray[Any], seed: int, n_replicates: int) -> NDArray[np.int64]:
    r"""Poisson(1) bootstrap weights hashed from (seed, id, replicate).

    Parameters
    ----------
    ids : numpy.ndarray
        One id per row (int64 or unicode), such as respondent ids. Rows sharing an id share
        their weights, so a respondent with several rows is resampled as a whole.
    seed : int
        In ``[0, 2**64)``.
    n_replicates : int
        Replicates :math:`R`.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(len(ids), n_replicates)``.

    Notes
    -----
    With :math:`h(\cdot)` the SplitMix64 output function, row :math:`i` with id hash
    :math:`a_i` (:func:`hash_ids`) starts the SplitMix64 sequence at
    :math:`s_i = h(a_i \oplus h(\text{seed}))`; replicate :math:`r` reads
    :math:`u_{ir} = \lfloor h(s_i + (r + 1)\gamma) / 2^{11} \rfloor / 2^{53} \in [0, 1)` and
    returns the Poisson(1) quantile :math:`w_{ir} = \min\{k : P(K \le k) > u_{ir}\}`.
    Resampling :math:`N` rows with replacement gives each row a Binomial(:math:`N, 1/N`)
    count, which tends to Poisson(1); using independent Poisson(1) counts instead (Hanley and
    MacGibbon 2006) lets every row's count be decided without knowing :math:`N`, so states
    of chunks merge. The total weight of a replicate varies around :math:`N`.

    References
    ----------
    Hanley, J. A. and MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
    Poisson frequencies. *Computer Methods and Programs in Biomedicine* 83(1), 57-62.
    Steele, G. L., Lea, D. and Flood, C. H. (2014). Fast splittable pseudorandom number
    generators. *Proceedings of OOPSLA 2014*, 453-472.

    Examples
    --------
    >>> import numpy as np
    >>> w = poisson_weights(np.arange(20_000), seed=0, n_replicates=5)
    >>> round(float(w.mean()), 2), round(float(w.var()), 2)
    (1.0, 1.0)
    """
    seed = check_seed(seed)
    if type(n_replicates) is not int or n_replicates < 0:
        msg = f"n_replicates must be a non-negative integer, got {n_replicates!r}"
        raise ValueError(msg)
    start = _mix(hash_ids(ids) ^ _mix(np.array([seed], dtype=np.uint64)))
    steps = (np.arange(1, n_replicates + 1, dtype=np.uint64) * _GAMMA)[None, :]
    bits = _mix(start[:, None] + steps) >> np.uint64(11)
    return np.searchsorted(_POISSON1_THRESHOLDS, bits, side="right").astype(np.int64)


def label_key(label: Any) -> int:
    """A stable non-negative integer for a group label (an int, a str or ``None``).

    Used to derive one random stream per group that does not depend on which other groups
    exist.

    Examples
    --------
    >>> label_key(3), label_key("a") == label_key("a")
    (3, True)
    """
    if label is None:
        return 0
    if isinstance(label, int | np.integer):
        return int(label) & _MASK64
    return zlib.crc32(str(label).encode("utf-8")) | (1 << 40)


def generator(seed: int, *key: int) -> np.random.Generator:
    """A :class:`numpy.random.Generator` for ``seed`` and a stream ``key`` (no global state).

    Examples
    --------
    >>> a = generator(5, 1).integers(0, 100, 3)
    >>> bool((a == generator(5, 1).integers(0, 100, 3)).all())
    True
    """
    sequence = np.random.SeedSequence(check_seed(seed), spawn_key=tuple(key))
    return np.random.default_rng(sequence)


def resample_counts(
    counts: NDArray[np.int64], n_boot: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    r"""Multinomial bootstrap replicates of a table of counts.

    Resampling :math:`N = \sum_k c_k` rows with replacement from rows summarised by the
    counts :math:`c_k` of their cells gives cell counts
    :math:`(c_1^*, \dots, c_K^*) \sim \text{Multinomial}(N; c_1/N, \dots, c_K/N)`: the
    ordinary (Efron) bootstrap, drawn from the sufficient state without the rows.

    Parameters
    ----------
    counts : numpy.ndarray
        Non-negative integer counts, any shape.
    n_boot : int
        Replicates.
    rng : numpy.random.Generator
        The random stream.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n_boot, *counts.shape)``; each replicate sums to :math:`N`.

    Examples
    --------
    >>> import numpy as np
    >>> draws = resample_counts(np.array([[3, 1], [0, 6]]), 2, generator(0))
    >>> draws.shape, draws.sum(axis=(1, 2)).tolist(), int(draws[:, 1, 0].max())
    ((2, 2, 2), [10, 10], 0)
    """
    flat = np.asarray(counts, dtype=np.int64).reshape(-1)
    total = int(flat.sum())
    if total == 0:
        return np.zeros((n_boot, *np.shape(counts)), dtype=np.int64)
    draws = rng.multinomial(total, flat / total, size=n_boot)
    return draws.astype(np.int64).reshape(n_boot, *np.shape(counts))


def percentile_interval(
    replicates: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Percentile bootstrap interval along the first axis, ignoring NaN replicates.

    The bounds are the empirical :math:`\alpha/2` and :math:`1 - \alpha/2` quantiles
    (numpy's default linear interpolation); a column without a finite replicate gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = percentile_interval(np.arange(101.0)[:, None], 0.1)
    >>> float(low[0]), float(high[0])
    (5.0, 95.0)
    """
    alpha = check_alpha(alpha)
    values = np.asarray(replicates, dtype=np.float64)
    flat = values.reshape(len(values), -1)
    low = np.full(flat.shape[1], np.nan)
    high = np.full(flat.shape[1], np.nan)
    for j in range(flat.shape[1]):  # one pass per statistic, never per row
        column = flat[:, j]
        column = column[np.isfinite(column)]
        if column.size:
            low[j], high[j] = np.quantile(column, [alpha / 2, 1 - alpha / 2])
    return low.reshape(values.shape[1:]), high.reshape(values.shape[1:])
