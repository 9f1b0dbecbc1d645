r"""Coarsened exact matching (CEM): strata, weights and the L1 imbalance before and after.

Coarsened exact matching (Iacus, King & Porro 2012) coarsens each covariate into bins,
crosses the bins into strata, and keeps only the strata holding at least one treated and one
control unit. Treated units keep weight 1; a control unit in stratum :math:`s` gets

.. math::

    w_i = \frac{m_C}{m_T}\,\frac{m_T^s}{m_C^s}

with :math:`m_T^s, m_C^s` the treated and control units of stratum :math:`s` and
:math:`m_T, m_C` those of all matched strata, so that the weighted controls reproduce the
treated units' distribution over the strata and sum to :math:`m_C`; unmatched units weigh 0.
The weighted difference of means is then an estimate of the average effect on the *matched*
treated units.

Balance is measured by the multivariate :math:`\mathcal{L}_1` distance (Iacus, King & Porro
2011) between the relative frequencies :math:`f_\ell` of treated and :math:`g_\ell` of
control units over the cells :math:`\ell` of a histogram finer than the matching strata:

.. math::

    \mathcal{L}_1(f, g) = \tfrac12 \sum_\ell |f_\ell - g_\ell| \in [0, 1],

0 for identical distributions, 1 for disjoint ones; after matching the control frequencies are
weighted.

- :func:`coarsen` bins one covariate (cut points, equal-width bins, or exact values);
- :func:`cem` matches and returns a :class:`CEMResult`;
- :func:`l1_imbalance` measures the imbalance of any weighting.

References
----------
Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance checking:
coarsened exact matching. *Political Analysis* 20(1), 1-24.
Iacus, S. M., King, G. and Porro, G. (2011). Multivariate matching methods that are monotonic
imbalance bounding. *Journal of the American Statistical Association* 106(493), 345-361.

Examples
--------
>>> import numpy as np
>>> r = cem({"visits": [1, 2, 3, 4, 5, 6, 7, 8, 12, 13]}, [1, 0, 1, 0, 0, 1, 0, 0, 0, 0],
...         cuts={"visits": [4.5, 10]})
>>> np.round(r.weights, 4).tolist()
[1.0, 1.6667, 1.0, 1.6667, 0.5556, 1.0, 0.5556, 0.5556, 0.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import InsufficientDataError, ValidationError

__all__ = ["CEM_REFERENCE", "CEMResult", "Cuts", "cem", "coarsen", "l1_imbalance"]

CEM_REFERENCE = (
    "Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance checking: "
    "coarsened exact matching. Political Analysis 20(1), 1-24; L1 imbalance: Iacus, King & "
    "Porro (2011), Journal of the American Statistical Association 106(493), 345-361"
)
_RECORD = "cem"
#: The coarsening of one covariate (cut points, a number of equal-width bins, or None for
#: exact matching).
Cuts = Sequence[float] | NDArray[np.float64] | int | None


@attrs.frozen(eq=False)
class CEMResult:
    r"""The strata, weights and balance of a coarsened exact matching.

    Parameters
    ----------
    stratum : numpy.ndarray
        int64 stratum number of every unit (strata numbered in sorted order of their bins).
    weights : numpy.ndarray
        CEM weights: 1 for matched treated units,
        :math:`(m_C/m_T)(m_T^s/m_C^s)` for matched controls, 0 for unmatched units.
    matched : numpy.ndarray
        bool, True for units in a stratum with both treated and control units.
    treated : numpy.ndarray
        bool, the treatment indicator as given.
    n_treated, n_control : int
        Units of each kind before matching.
    n_treated_matched, n_control_matched : int
        Units of each kind in matched strata (:math:`m_T`, :math:`m_C`).
    n_strata, n_strata_matched : int
        Non-empty strata, and strata with both kinds of unit.
    l1_before, l1_after : float
        :math:`\mathcal{L}_1` imbalance on the ``l1_bins`` histogram, unweighted before
        matching and with the CEM weights after (NaN when a side is empty).
    cuts : Mapping[str, numpy.ndarray]
        The cut points used per covariate (empty for exact matching on it).
    method : str
        How the covariates were coarsened.
    reference : str
        The method's source.

    Examples
    --------
    >>> r = cem({"x": [0, 0, 1, 1]}, [True, False, True, False], cuts={"x": None})
    >>> r.n_strata_matched, r.weights.tolist(), r.l1_before
    (2, [1.0, 1.0, 1.0, 1.0], 0.0)
    """

    stratum: NDArray[np.int64]
    weights: NDArray[np.float64]
    matched: NDArray[np.bool_]
    treated: NDArray[np.bool_]
    n_treated: int
    n_control: int
    n_treated_matched: int
    n_control_matched: int
    n_strata: int
    n_strata_matched: int
    l1_before: float
    l1_after: float
    cuts: Mapping[str, NDArray[np.float64]]
    method: str
    reference: str = CEM_REFERENCE

    def __str__(self) -> str:
        return (
            f"CEM: {self.n_treated_matched:,} of {self.n_treated:,} treated and "
            f"{self.n_control_matched:,} of {self.n_control:,} control units matched in "
            f"{self.n_strata_matched:,} of {self.n_strata:,} strata; L1 imbalance "
            f"{self.l1_before:.3f} before, {self.l1_after:.3f} after"
        )


# -- input -----------------------------------------------------------------------------------


def _vector(values: ArrayLike, field: str, n: int | None) -> NDArray[np.float64]:
    array = np.asarray(values)
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=f"an array of shape {array.shape}",
            expected="a 1-D array" + ("" if n is None else f" of length {n} (one per unit)"),
        )
    if array.dtype.kind not in "biuf":
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=f"an array of dtype {array.dtype}",
            expected="numbers",
        )
    out = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=int(bad[0]),
            value=array[bad[0]].item(),
            expected="a finite number",
            n_failing=int(bad.size),
        )
    return out


def _indicator(values: ArrayLike) -> NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValidationError(
            record=_RECORD,
            field="treated",
            row=None,
            value=f"an array of shape {array.shape}",
            expected="a 1-D array",
        )
    if array.dtype.kind == "b":
        return array
    if array.dtype.kind not in "iuf":
        raise ValidationError(
            record=_RECORD,
            field="treated",
            row=None,
            value=f"an array of dtype {array.dtype}",
            expected="booleans, or numbers 0 and 1",
        )
    bad = np.flatnonzero((array != 0) & (array != 1))
    if bad.size:
        raise ValidationError(
            record=_RECORD,
            field="treated",
            row=int(bad[0]),
            value=array[bad[0]].item(),
            expected="0 or 1 (1 = treated)",
            n_failing=int(bad.size),
        )
    return np.asarray(array == 1)


def _cut_points(values: NDArray[np.float64], spec: Cuts, field: str) -> NDArray[np.float64]:
    """The cut points for ``spec`` (empty for exact matching)."""
    if spec is None:
        return np.zeros(0)
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        bins = int(spec)
        if bins < 1:
            raise ValidationError(
                record=_RECORD, field=field, row=None, value=bins, expected="at least 1 bin"
            )
        if len(values) == 0:
            return np.zeros(0)
        lo, hi = float(values.min()), float(values.max())
        if hi == lo:
            return np.zeros(0)
        return np.linspace(lo, hi, bins + 1)[1:-1]
    cuts = np.asarray(spec, dtype=np.float64)
    if cuts.ndim != 1 or not np.isfinite(cuts).all() or np.any(np.diff(cuts) <= 0):
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=cuts.tolist(),
            expected="cut points: finite and strictly increasing, or a number of bins, or None",
        )
    return cuts


def coarsen(values: ArrayLike, cuts: Cuts = None) -> NDArray[np.int64]:
    r"""Bin numbers of one covariate.

    Parameters
    ----------
    values : array_like
        Finite numbers, one per unit.
    cuts : sequence of float, int or None
        Increasing cut points :math:`c_1 < \dots < c_k` (bin :math:`j` holds
        :math:`c_j \le x < c_{j+1}`; :math:`k + 1` bins); a number of equal-width bins over the
        range of ``values``; or ``None``: every distinct value is its own bin (exact matching).

    Returns
    -------
    numpy.ndarray
        int64 bin numbers, in the order of the values' bins.

    Examples
    --------
    >>> coarsen([0, 1, 2, 5, 9], [1, 5]).tolist()
    [0, 1, 1, 2, 2]
    >>> coarsen([3.0, 1.0, 3.0]).tolist()
    [1, 0, 1]
    >>> coarsen([0, 4, 10], 2).tolist()
    [0, 0, 1]
    """
    x = _vector(values, "values", None)
    points = _cut_points(x, cuts, "cuts")
    if cuts is None:
        _, codes = np.unique(x, return_inverse=True)
        return codes.astype(np.int64)
    return np.searchsorted(points, x, side="right").astype(np.int64)


def _cells(
    columns: Mapping[str, NDArray[np.float64]], specs: Mapping[str, Cuts], n: int
) -> tuple[NDArray[np.int64], dict[str, NDArray[np.float64]]]:
    """Cell number of every unit on the cross of the coarsened covariates."""
    codes = np.zeros((n, len(columns)), dtype=np.int64)
    used: dict[str, NDArray[np.float64]] = {}
    for j, (name, x) in enumerate(columns.items()):
        spec = specs[name]
        points = _cut_points(x, spec, f"cuts[{name!r}]")
        used[name] = points
        if spec is None:
            codes[:, j] = np.unique(x, return_inverse=True)[1] if n else 0
        else:
            codes[:, j] = np.searchsorted(points, x, side="right")
    if n == 0:
        return np.zeros(0, dtype=np.int64), used
    _, cell = np.unique(codes, axis=0, return_inverse=True)
    return cell.reshape(-1).astype(np.int64), used


def _l1(cell: NDArray[np.int64], treated: NDArray[np.bool_], weights: NDArray[np.float64]) -> float:
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    f = np.bincount(cell[treated], weights[treated], minlength=n_cells)
    g = np.bincount(cell[~treated], weights[~treated], minlength=n_cells)
    if f.sum() <= 0 or g.sum() <= 0:
        return math.nan
    return float(0.5 * np.abs(f / f.sum() - g / g.sum()).sum())


def _sturges(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 1)) + 1))


def _columns(
    covariates: Mapping[str, ArrayLike], n: int | None
) -> tuple[dict[str, NDArray[np.float64]], int]:
    if not covariates:
        raise ValidationError(
            record=_RECORD,
            field="covariates",
            row=None,
            value={},
            expected="at least one covariate",
        )
    columns: dict[str, NDArray[np.float64]] = {}
    for name, values in covariates.items():
        columns[name] = _vector(values, f"covariates[{name!r}]", n)
        n = len(columns[name])
    assert n is not None
    return columns, n


def _specs(
    columns: Mapping[str, Any], given: Mapping[str, Cuts] | None, default: Cuts, field: str
) -> dict[str, Cuts]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(columns))
    if unknown:
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=unknown,
            expected=f"names of covariates ({sorted(columns)})",
        )
    return {name: given.get(name, default) for name in columns}


def l1_imbalance(
    covariates: Mapping[str, ArrayLike],
    treated: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    bins: Mapping[str, Cuts] | None = None,
) -> float:
    r"""The multivariate :math:`\mathcal{L}_1` imbalance between treated and control units.

    Parameters
    ----------
    covariates : mapping of str to array_like
        The covariates, one value per unit.
    treated : array_like
        1 (or True) for treated units.
    weights : array_like, optional
        Non-negative unit weights (CEM weights after matching); all 1 by default.
    bins : mapping of str to cuts, optional
        The histogram per covariate, as in :func:`coarsen`; by default the exact values of a
        covariate with at most 10 distinct values, else 10 equal-width bins.

    Returns
    -------
    float
        :math:`\tfrac12\sum_\ell |f_\ell - g_\ell|` over the cells of the histogram, in [0, 1];
        NaN when a side has no weight.

    Notes
    -----
    The measure depends on the histogram: it must be finer than the matching strata, or the
    imbalance after matching is 0 by construction.

    References
    ----------
    Iacus, S. M., King, G. and Porro, G. (2011). Multivariate matching methods that are
    monotonic imbalance bounding. *Journal of the American Statistical Association*
    106(493), 345-361.

    Examples
    --------
    >>> l1_imbalance({"x": [0, 0, 1, 1]}, [1, 1, 0, 0])
    1.0
    >>> l1_imbalance({"x": [0, 1, 0, 1]}, [1, 1, 0, 0])
    0.0
    """
    mask = _indicator(treated)
    columns, n = _columns(covariates, len(mask))
    w = np.ones(n) if weights is None else _vector(weights, "weights", n)
    negative = np.flatnonzero(w < 0)
    if negative.size:
        raise ValidationError(
            record=_RECORD,
            field="weights",
            row=int(negative[0]),
            value=float(w[negative[0]]),
            expected="a weight >= 0",
            n_failing=int(negative.size),
        )
    specs = _specs(columns, bins, None, "bins")
    specs = {
        name: spec if name in (bins or {}) else _default_l1_bins(columns[name])
        for name, spec in specs.items()
    }
    cell, _ = _cells(columns, specs, n)
    return _l1(cell, mask, w)


def _default_l1_bins(x: NDArray[np.float64]) -> Cuts:
    return None if len(np.unique(x)) <= 10 else 10


def cem(
    covariates: Mapping[str, ArrayLike],
    treated: ArrayLike,
    *,
    cuts: Mapping[str, Cuts] | None = None,
    l1_bins: Mapping[str, Cuts] | None = None,
) -> CEMResult:
    r"""Coarsened exact matching of treated to control units, with CEM weights.

    Parameters
    ----------
    covariates : mapping of str to array_like
        Pre-treatment covariates by name, one finite value per unit.
    treated : array_like
        1 (or True) for treated units, 0 for candidate controls.
    cuts : mapping of str to cuts, optional
        The coarsening of each covariate, as in :func:`coarsen`: cut points, a number of
        equal-width bins, or ``None`` for exact matching. Covariates not named get Sturges'
        number of equal-width bins, :math:`\lceil \log_2 n + 1 \rceil`, the automatic
        coarsening of the authors' software.
    l1_bins : mapping of str to cuts, optional
        The histogram of the :math:`\mathcal{L}_1` imbalance (see :func:`l1_imbalance`).

    Returns
    -------
    CEMResult

    Raises
    ------
    ValidationError
        A covariate or the treatment indicator is malformed (the message names the row).
    InsufficientDataError
        No treated or no control unit.

    Notes
    -----
    Units in a stratum without both kinds are pruned (weight 0). With :math:`m_T^s, m_C^s`
    the treated and control units of a matched stratum and :math:`m_T, m_C` their totals,

    .. math::

        w_i = 1 \ (i \in T^s), \qquad
        w_i = \frac{m_C}{m_T}\,\frac{m_T^s}{m_C^s} \ (i \in C^s), \qquad
        \sum_{i \in C} w_i = m_C .

    Every weighted mean of the controls is then a mean over the treated units' distribution of
    strata, and the difference of weighted means estimates the average treatment effect on the
    matched treated (the estimand changes when treated units are pruned: report how many).

    References
    ----------
    Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance checking:
    coarsened exact matching. *Political Analysis* 20(1), 1-24.

    Examples
    --------
    Three strata: visits 1-4 hold two treated and two controls, 5-8 one treated and three
    controls, 12-13 two controls only (pruned); :math:`m_T = 3`, :math:`m_C = 5`, so the
    controls weigh :math:`(5/3)(2/2) = 1.667` and :math:`(5/3)(1/3) = 0.556`. On the finer
    histogram 1-2, 3-4, 5-6, 7-8, 12-13 the treated frequencies are 1/3, 1/3, 1/3, 0, 0; the
    controls' 1/7, 1/7, 1/7, 2/7, 2/7 before matching (:math:`\mathcal{L}_1 = 4/7`) and 1/3,
    1/3, 1/9, 2/9, 0 after (:math:`\mathcal{L}_1 = 2/9`):

    >>> r = cem({"visits": [1, 2, 3, 4, 5, 6, 7, 8, 12, 13]}, [1, 0, 1, 0, 0, 1, 0, 0, 0, 0],
    ...         cuts={"visits": [4.5, 10]}, l1_bins={"visits": [2.5, 4.5, 6.5, 10]})
    >>> r.stratum.tolist(), round(float(r.weights[~r.treated].sum()), 10)
    ([0, 0, 0, 0, 1, 1, 1, 1, 2, 2], 5.0)
    >>> print(r)
    CEM: 3 of 3 treated and 5 of 7 control units matched in 2 of 3 strata; L1 imbalance 0.571 before, 0.222 after
    """
    mask = _indicator(treated)
    columns, n = _columns(covariates, len(mask))
    n_treated = int(mask.sum())
    if n_treated in (0, n):
        msg = (
            f"matching needs treated and control units, got {n_treated} treated and "
            f"{n - n_treated} control"
        )
        raise InsufficientDataError(msg)
    specs = _specs(columns, cuts, _sturges(n), "cuts")
    stratum, used = _cells(columns, specs, n)
    n_strata = int(stratum.max()) + 1
    m_t = np.bincount(stratum[mask], minlength=n_strata)
    m_c = np.bincount(stratum[~mask], minlength=n_strata)
    both = (m_t > 0) & (m_c > 0)
    matched = both[stratum]
    total_t = int(m_t[both].sum())
    total_c = int(m_c[both].sum())
    weights = np.zeros(n)
    weights[mask & matched] = 1.0
    if total_t:
        ratio = np.zeros(n_strata)
        ratio[both] = (total_c / total_t) * m_t[both] / m_c[both]
        control = ~mask & matched
        weights[control] = ratio[stratum[control]]
    l1_specs = _specs(columns, l1_bins, None, "l1_bins")
    l1_specs = {
        name: spec if name in (l1_bins or {}) else _default_l1_bins(columns[name])
        for name, spec in l1_specs.items()
    }
    l1_cell, _ = _cells(columns, l1_specs, n)
    described = ", ".join(
        f"{name}: exact" if specs[name] is None else f"{name}: {len(used[name]) + 1} bins"
        for name in columns
    )
    return CEMResult(
        stratum=stratum,
        weights=weights,
        matched=matched,
        treated=mask,
        n_treated=n_treated,
        n_control=n - n_treated,
        n_treated_matched=total_t,
        n_control_matched=total_c,
        n_strata=int(np.count_nonzero((m_t + m_c) > 0)),
        n_strata_matched=int(both.sum()),
        l1_before=_l1(l1_cell, mask, np.ones(n)),
        l1_after=_l1(l1_cell, mask, weights),
        cuts=used,
        method=f"coarsened exact matching ({described}); ATT weights",
    )
