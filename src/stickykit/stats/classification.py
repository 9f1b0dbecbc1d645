r"""How well a score ranks a binary outcome: AUC with DeLong's interval, lift and gains.

A *score* ranks units (customers) so that higher values mean "more likely positive" (for
churn warning: more likely to churn); a *label* says which units turned out positive. Three
exact, tie-aware summaries are computed from ``(score, label)`` pairs, without binning:

- :func:`auc`: the area under the ROC curve by midranks, with the standard error of DeLong,
  DeLong & Clarke-Pearson (1988) and a Wald interval;
- :func:`compare_auc`: the paired DeLong comparison of two scores on the same units;
- :func:`lift_curve` and :func:`top_decile_lift`: the positive rate among the top fraction
  of units by score relative to the overall rate, with tied scores at a cut shared
  proportionally, so that row order never changes a result.

Examples
--------
>>> r = auc([0.9, 0.8, 0.4, 0.3, 0.2], [1, 0, 1, 0, 0])
>>> r.value, r.n1, r.n0
(0.8333333333333334, 2, 3)
>>> lift_curve([0.9, 0.8, 0.4, 0.3, 0.2], [1, 0, 1, 0, 0], [0.2, 1.0]).lift.tolist()
[2.5, 1.0]
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.stats.intervals import check_alpha, z_value

__all__ = [
    "AUCComparison",
    "AUCResult",
    "LiftCurve",
    "LiftResult",
    "auc",
    "compare_auc",
    "lift_curve",
    "top_decile_lift",
]

_RECORD = "classification"

DELONG_REFERENCE = (
    "DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). Comparing the areas under "
    "two or more correlated receiver operating characteristic curves: a nonparametric "
    "approach. Biometrics 44(3), 837-845"
)
LIFT_REFERENCE = (
    "Neslin, S. A., Gupta, S., Kamakura, W., Lu, J. and Mason, C. H. (2006). Defection "
    "detection: measuring and understanding the predictive accuracy of customer churn "
    "models. Journal of Marketing Research 43(2), 204-211"
)
DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


# -- results -------------------------------------------------------------------------------


@attrs.frozen
class AUCResult:
    r"""The area under the ROC curve, with DeLong's standard error and a Wald interval.

    Parameters
    ----------
    value : float
        :math:`\hat A = P(s_1 > s_0) + \tfrac12 P(s_1 = s_0)` over all positive-negative
        pairs.
    se : float
        DeLong's standard error; NaN when either class has a single unit.
    ci_low, ci_high : float
        :math:`\hat A \mp z_{1-\alpha/2}\,\mathrm{se}`, clipped to [0, 1]; NaN without a
        standard error.
    alpha : float
        One minus the confidence level.
    n : int
        Units scored.
    n1, n0 : int
        Positives (label 1) and negatives (label 0).
    method : str
        How the value and interval were computed.
    reference : str
        The source of the variance.

    Examples
    --------
    >>> r = auc([3, 2, 1], [1, 0, 0])
    >>> r.value, r.gini, r.level
    (1.0, 1.0, 0.95)
    """

    value: float
    se: float
    ci_low: float
    ci_high: float
    alpha: float
    n: int
    n1: int
    n0: int
    method: str
    reference: str = DELONG_REFERENCE

    @property
    def level(self) -> float:
        r"""The confidence level :math:`1 - \alpha` of the interval."""
        return 1.0 - self.alpha

    @property
    def gini(self) -> float:
        r"""The Gini coefficient (accuracy ratio) :math:`2\hat A - 1`.

        Examples
        --------
        >>> auc([1, 2, 3, 4], [0, 1, 0, 1]).gini
        0.5
        """
        return 2.0 * self.value - 1.0

    def __str__(self) -> str:
        return (
            f"AUC = {self.value:.3f} [{self.level:.0%} CI {self.ci_low:.3f} to "
            f"{self.ci_high:.3f}]; n = {self.n:,} ({self.n1:,} positive, {self.n0:,} negative)"
        )


@attrs.frozen
class AUCComparison:
    r"""The paired difference of two AUCs on the same units, by DeLong's method.

    Parameters
    ----------
    auc_a, auc_b : float
        The two areas.
    difference : float
        :math:`\hat A_a - \hat A_b`.
    se : float
        Its standard error from the structural components' covariance.
    ci_low, ci_high : float
        Wald interval of the difference, clipped to [-1, 1].
    z : float
        :math:`(\hat A_a - \hat A_b)/\mathrm{se}` (0 when both are 0, :math:`\pm\infty`
        for a non-zero difference with zero standard error).
    p_value : float
        Two-sided normal p-value of "equal areas".
    alpha : float
    n, n1, n0 : int
    method, reference : str

    Examples
    --------
    >>> c = compare_auc([4, 3, 2, 1], [1, 3, 2, 4], [1, 1, 0, 0])
    >>> c.difference, c.auc_a, c.auc_b
    (0.75, 1.0, 0.25)
    """

    auc_a: float
    auc_b: float
    difference: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    alpha: float
    n: int
    n1: int
    n0: int
    method: str
    reference: str = DELONG_REFERENCE


@attrs.frozen(eq=False)
class LiftCurve:
    r"""Lift and gains at chosen fractions of the units ranked by score, ties shared.

    Parameters
    ----------
    fractions : numpy.ndarray
        The fractions :math:`q` of units targeted, in (0, 1].
    captured : numpy.ndarray
        Positives expected among the top :math:`qn` units (fractional where a block of tied
        scores straddles the cut, or where :math:`qn` is not whole).
    gains : numpy.ndarray
        ``captured / n1``: the share of all positives found in the top fraction.
    rate : numpy.ndarray
        ``captured / (q n)``: the positive rate in the top fraction.
    lift : numpy.ndarray
        ``rate / base_rate`` = ``gains / q``.
    base_rate : float
        ``n1 / n``.
    n, n1 : int
        Units and positives.
    method, reference : str

    Examples
    --------
    >>> c = lift_curve([5, 4, 3, 2, 1], [1, 1, 0, 0, 0], [0.4, 1.0])
    >>> c.lift.tolist(), c.gains.tolist()
    ([2.5, 1.0], [1.0, 1.0])
    """

    fractions: NDArray[np.float64]
    captured: NDArray[np.float64]
    gains: NDArray[np.float64]
    rate: NDArray[np.float64]
    lift: NDArray[np.float64]
    base_rate: float
    n: int
    n1: int
    method: str
    reference: str = LIFT_REFERENCE


@attrs.frozen
class LiftResult:
    """The lift at one fraction, such as the top-decile lift (TDL).

    Parameters
    ----------
    value : float
        The lift: positive rate in the top ``fraction`` over the overall rate.
    fraction : float
    captured : float
        Positives expected in the top fraction (tied blocks shared).
    rate : float
        Positive rate in the top fraction.
    base_rate : float
    n, n1 : int
    method, reference : str

    Examples
    --------
    >>> r = top_decile_lift(np.arange(20.0), np.arange(20) >= 18)
    >>> r.value, r.captured, r.base_rate
    (10.0, 2.0, 0.1)
    """

    value: float
    fraction: float
    captured: float
    rate: float
    base_rate: float
    n: int
    n1: int
    method: str
    reference: str = LIFT_REFERENCE


# -- input ---------------------------------------------------------------------------------


def _first_failure(
    field: str, values: NDArray[np.generic], bad: NDArray[np.bool_], what: str
) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=int(rows[0]),
            value=values[rows[0]].item(),
            expected=what,
            n_failing=int(rows.size),
        )


def _scores(values: ArrayLike, field: str, n: int | None = None) -> NDArray[np.float64]:
    array = np.asarray(values)
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=f"an array of shape {array.shape}",
            expected="a 1-D array" + ("" if n is None else f" of length {n} (one per label)"),
        )
    if array.dtype.kind not in "biuf":
        raise ValidationError(
            record=_RECORD,
            field=field,
            row=None,
            value=f"an array of dtype {array.dtype}",
            expected="numbers",
        )
    scores = array.astype(np.float64)
    _first_failure(field, array, ~np.isfinite(scores), "a finite number")
    return scores


def _labels(values: ArrayLike) -> NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValidationError(
            record=_RECORD,
            field="labels",
            row=None,
            value=f"an array of shape {array.shape}",
            expected="a 1-D array",
        )
    if array.dtype.kind == "b":
        return array
    if array.dtype.kind not in "iuf":
        raise ValidationError(
            record=_RECORD,
            field="labels",
            row=None,
            value=f"an array of dtype {array.dtype}",
            expected="booleans, or numbers 0 and 1",
        )
    _first_failure("labels", array, (array != 0) & (array != 1), "0 or 1 (1 = positive)")
    return np.asarray(array == 1)


def _pairs(
    scores: ArrayLike, labels: ArrayLike, *, need_negatives: bool, caller: str
) -> tuple[NDArray[np.float64], NDArray[np.bool_], int, int]:
    y = _labels(labels)
    s = _scores(scores, "scores", len(y))
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or (need_negatives and n0 == 0):
        msg = (
            f"{caller} needs both classes among the labels, got {n1} positive (label 1) and "
            f"{n0} negative (label 0); it is undefined for one class"
            if need_negatives
            else f"{caller} needs at least one positive label (1), got none among {len(y)}"
        )
        raise InsufficientDataError(msg)
    return s, y, n1, n0


# -- AUC -----------------------------------------------------------------------------------


def _components(
    s: NDArray[np.float64], y: NDArray[np.bool_], n1: int, n0: int
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """AUC by midranks and DeLong's structural components V10 (positives), V01 (negatives).

    With the midranks :math:`R_i` of all scores, :math:`R^{(1)}_i` among positives and
    :math:`R^{(0)}_j` among negatives (Sun & Xu 2014):
    :math:`V_{10}(X_i) = (R_i - R^{(1)}_i)/n_0`, :math:`V_{01}(Y_j) = 1 - (R_j - R^{(0)}_j)/n_1`.
    """
    ranks = rankdata(s)
    positive_ranks = ranks[y]
    value = float((positive_ranks.sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    v10 = (positive_ranks - rankdata(s[y])) / n0
    v01 = 1.0 - (ranks[~y] - rankdata(s[~y])) / n1
    return value, np.asarray(v10, dtype=np.float64), np.asarray(v01, dtype=np.float64)


def auc(scores: ArrayLike, labels: ArrayLike, *, alpha: float = 0.05) -> AUCResult:
    r"""The area under the ROC curve, exact by midranks, with DeLong's standard error.

    Parameters
    ----------
    scores : array_like
        1-D finite numbers; higher means more likely positive.
    labels : array_like
        1-D, one per score: ``True``/1 for a positive (a churner), ``False``/0 otherwise.
    alpha : float
        One minus the confidence level, in (0, 1).

    Returns
    -------
    AUCResult
        Value, standard error, interval, ``n``, ``n1``, ``n0`` and the method.

    Raises
    ------
    stickykit.errors.InsufficientDataError
        If the labels hold only one class (the AUC compares the two).
    stickykit.errors.ValidationError
        Arrays that are not 1-D or differ in length, a score that is not a finite number, a
        label other than true/false/0/1.

    Notes
    -----
    With :math:`n_1` positives, :math:`n_0` negatives and :math:`R_1` the sum of the
    positives' midranks among all scores (tied scores share the mean of their ranks),

    .. math::

        \hat A = \frac{1}{n_1 n_0}\sum_{i,j}\psi(X_i, Y_j)
               = \frac{R_1 - n_1(n_1+1)/2}{n_1 n_0}, \qquad
        \psi(x, y) = [x > y] + \tfrac12 [x = y],

    the Mann-Whitney form: the probability that a random positive outscores a random
    negative, ties counting one half (Hanley & McNeil 1982). DeLong, DeLong & Clarke-Pearson
    (1988) estimate its variance from the structural components
    :math:`V_{10}(X_i) = \frac{1}{n_0}\sum_j \psi(X_i, Y_j)` and
    :math:`V_{01}(Y_j) = \frac{1}{n_1}\sum_i \psi(X_i, Y_j)`:

    .. math::

        \widehat{\operatorname{Var}}\,\hat A = \frac{S_{10}}{n_1} + \frac{S_{01}}{n_0},
        \qquad S_{10} = \frac{\sum_i (V_{10}(X_i) - \hat A)^2}{n_1 - 1},\;
        S_{01} = \frac{\sum_j (V_{01}(Y_j) - \hat A)^2}{n_0 - 1}.

    The components come from midranks within each class (Sun & Xu 2014), in
    :math:`O(n \log n)`. The interval is the Wald interval clipped to [0, 1]; with a single
    unit in either class there is no variance estimate, and the interval is NaN. With
    perfect separation every component is 1, the standard error is 0 and the interval
    degenerates to [1, 1]: report it with ``n1`` and ``n0``, not as certainty.

    References
    ----------
    DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). Comparing the areas
    under two or more correlated receiver operating characteristic curves: a nonparametric
    approach. *Biometrics* 44(3), 837-845.

    Hanley, J. A. and McNeil, B. J. (1982). The meaning and use of the area under a receiver
    operating characteristic (ROC) curve. *Radiology* 143(1), 29-36.

    Sun, X. and Xu, W. (2014). Fast implementation of DeLong's algorithm for comparing the
    areas under correlated receiver operating characteristic curves. *IEEE Signal Processing
    Letters* 21(11), 1389-1393.

    Examples
    --------
    Three positives and two negatives: five of the six pairs are ordered correctly, one
    is tied (hand-computed variance 5/144).

    >>> r = auc([2, 1, 1, 1, 0], [1, 1, 1, 0, 0])
    >>> r.value, round(r.se**2 * 144, 10), r.n1, r.n0
    (0.8333333333333334, 5.0, 3, 2)
    >>> print(r)
    AUC = 0.833 [95% CI 0.468 to 1.000]; n = 5 (3 positive, 2 negative)
    """
    alpha = check_alpha(alpha)
    s, y, n1, n0 = _pairs(scores, labels, need_negatives=True, caller="auc")
    value, v10, v01 = _components(s, y, n1, n0)
    method = "midrank (Mann-Whitney) AUC, ties count 1/2; "
    if n1 < 2 or n0 < 2:
        se = low = high = math.nan
        method += "no DeLong interval: each class needs at least 2 units"
    else:
        variance = float(np.var(v10, ddof=1) / n1 + np.var(v01, ddof=1) / n0)
        se = math.sqrt(variance)
        z = z_value(alpha)
        low = max(0.0, value - z * se)
        high = min(1.0, value + z * se)
        method += "DeLong (1988) standard error, Wald interval clipped to [0, 1]"
    return AUCResult(
        value=value,
        se=se,
        ci_low=low,
        ci_high=high,
        alpha=alpha,
        n=n1 + n0,
        n1=n1,
        n0=n0,
        method=method,
    )


def compare_auc(
    scores_a: ArrayLike, scores_b: ArrayLike, labels: ArrayLike, *, alpha: float = 0.05
) -> AUCComparison:
    r"""Compare the AUCs of two scores of the same units (DeLong's paired test).

    Parameters
    ----------
    scores_a, scores_b : array_like
        Two scores of the same units, in the same order.
    labels : array_like
        The units' labels (``True``/1 positive).
    alpha : float
        One minus the confidence level of the interval of the difference.

    Returns
    -------
    AUCComparison

    Raises
    ------
    stickykit.errors.InsufficientDataError
        One class only, or fewer than 2 units in a class (no covariance estimate).
    stickykit.errors.ValidationError
        As for :func:`auc`.

    Notes
    -----
    DeLong, DeLong & Clarke-Pearson (1988): with the structural components of
    each score, :math:`S_{10}` and :math:`S_{01}` their 2 x 2 sample covariance matrices over
    positives and negatives, and :math:`c = (1, -1)`,

    .. math::

        \widehat{\operatorname{Var}}(\hat A_a - \hat A_b)
        = \frac{c^\top S_{10}\, c}{n_1} + \frac{c^\top S_{01}\, c}{n_0},

    and :math:`z = (\hat A_a - \hat A_b)/\mathrm{se}` is referred to the standard normal.
    The two scores are correlated (same units), which this covariance accounts for; two
    separate intervals that overlap say nothing about the difference.

    References
    ----------
    DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). *Biometrics* 44(3),
    837-845.

    Examples
    --------
    >>> labels = [1, 1, 1, 0, 0, 0]
    >>> c = compare_auc([6, 5, 2, 4, 3, 1], [6, 2, 5, 4, 3, 1], labels)
    >>> round(c.difference, 4), c.p_value
    (0.0, 1.0)
    """
    alpha = check_alpha(alpha)
    s_a, y, n1, n0 = _pairs(scores_a, labels, need_negatives=True, caller="compare_auc")
    s_b = _scores(scores_b, "scores_b", len(y))
    if n1 < 2 or n0 < 2:
        msg = (
            f"compare_auc needs at least 2 units in each class for a covariance, got {n1} "
            f"positive and {n0} negative"
        )
        raise InsufficientDataError(msg)
    auc_a, v10_a, v01_a = _components(s_a, y, n1, n0)
    auc_b, v10_b, v01_b = _components(s_b, y, n1, n0)
    variance = float(np.var(v10_a - v10_b, ddof=1) / n1 + np.var(v01_a - v01_b, ddof=1) / n0)
    se = math.sqrt(max(variance, 0.0))
    difference = auc_a - auc_b
    if se > 0:
        z = difference / se
    else:
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    p_value = math.erfc(abs(z) / math.sqrt(2.0))
    half = z_value(alpha) * se
    return AUCComparison(
        auc_a=auc_a,
        auc_b=auc_b,
        difference=difference,
        se=se,
        ci_low=max(-1.0, difference - half),
        ci_high=min(1.0, difference + half),
        z=z,
        p_value=p_value,
        alpha=alpha,
        n=n1 + n0,
        n1=n1,
        n0=n0,
        method="paired DeLong (1988) test of the midrank AUCs; Wald interval of the "
        "difference clipped to [-1, 1]; two-sided normal p-value",
    )


# -- lift ----------------------------------------------------------------------------------


def _captured(
    s: NDArray[np.float64], y: NDArray[np.bool_], mass: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Positives among the top ``mass`` units, blocks of tied scores shared proportionally."""
    _, block, counts = np.unique(-s, return_inverse=True, return_counts=True)
    positives = np.bincount(block, weights=y.astype(np.float64), minlength=len(counts))
    edges = np.concatenate(([0.0], np.cumsum(counts, dtype=np.float64)))
    found = np.concatenate(([0.0], np.cumsum(positives)))
    return np.asarray(np.interp(mass, edges, found), dtype=np.float64)


def _fractions(fractions: ArrayLike) -> NDArray[np.float64]:
    q = np.atleast_1d(np.asarray(fractions, dtype=np.float64))
    if q.ndim != 1:
        raise ValidationError(
            record=_RECORD,
            field="fractions",
            row=None,
            value=f"an array of shape {q.shape}",
            expected="a 1-D array",
        )
    _first_failure("fractions", q, ~((q > 0) & (q <= 1)), "a fraction in (0, 1]")
    return q


_LIFT_METHOD = (
    "units ranked by score, highest first; the top fraction q holds q*n units, and a block of "
    "tied scores straddling the cut contributes its positives in proportion to the part "
    "inside (so row order never matters); no interval"
)


def lift_curve(
    scores: ArrayLike, labels: ArrayLike, fractions: ArrayLike = DEFAULT_FRACTIONS
) -> LiftCurve:
    r"""Lift and cumulative gains at the given fractions of units ranked by score.

    Parameters
    ----------
    scores : array_like
        1-D finite numbers; higher means more likely positive.
    labels : array_like
        1-D, ``True``/1 for a positive.
    fractions : array_like
        Fractions :math:`q \in (0, 1]` of the units to target; deciles by default.

    Returns
    -------
    LiftCurve

    Raises
    ------
    stickykit.errors.InsufficientDataError
        If there is no positive (the base rate is 0 and lift undefined).
    stickykit.errors.ValidationError
        As for :func:`auc`, or a fraction outside (0, 1].

    Notes
    -----
    Rank the :math:`n` units by decreasing score and let :math:`C(m)` be the number of
    positives among the first :math:`m` units, for real :math:`m \in [0, n]`. Units with
    equal scores form a block, and within a block :math:`C` grows linearly: the cut through
    a tied block takes the block's positive rate, and a fractional unit counts in
    proportion (so :math:`C` interpolates linearly between block boundaries). This is the
    proportional splitting of tied blocks that keeps lift independent of row order; the
    top-decile cut otherwise depends on how a sort breaks ties. Then

    .. math::

        \mathrm{gains}(q) = \frac{C(qn)}{n_1}, \qquad
        \mathrm{lift}(q) = \frac{C(qn)/(qn)}{n_1/n} = \frac{\mathrm{gains}(q)}{q},

    so :math:`\mathrm{lift}(1) = 1` exactly, and a random score has expected lift 1 at every
    :math:`q`. Lift at :math:`q = 0.1` is the top-decile lift of Neslin et al. (2006), the
    headline measure of their churn-modelling tournament. Lift has no standard interval;
    none is reported.

    References
    ----------
    Neslin, S. A., Gupta, S., Kamakura, W., Lu, J. and Mason, C. H. (2006). Defection
    detection: measuring and understanding the predictive accuracy of customer churn
    models. *Journal of Marketing Research* 43(2), 204-211.

    Examples
    --------
    Two of four units tie at the cut of the top half: the block of two holds one positive,
    so the top half holds 1 + 1/2 expected positives whatever the row order.

    >>> c = lift_curve([3, 2, 2, 1], [1, 1, 0, 0], [0.25, 0.5, 1.0])
    >>> c.captured.tolist(), c.lift.tolist()
    ([1.0, 1.5, 2.0], [2.0, 1.5, 1.0])
    """
    s, y, n1, _ = _pairs(scores, labels, need_negatives=False, caller="lift_curve")
    q = _fractions(fractions)
    n = len(y)
    captured = _captured(s, y, q * n)
    gains = captured / n1
    return LiftCurve(
        fractions=q,
        captured=captured,
        gains=gains,
        rate=captured / (q * n),
        lift=gains / q,
        base_rate=n1 / n,
        n=n,
        n1=n1,
        method=_LIFT_METHOD,
    )


def top_decile_lift(scores: ArrayLike, labels: ArrayLike, *, fraction: float = 0.1) -> LiftResult:
    r"""Top-decile lift: the positive rate in the top 10% by score over the overall rate.

    Parameters
    ----------
    scores, labels : array_like
        As for :func:`lift_curve`.
    fraction : float
        The top fraction; 0.1 (the decile) by default.

    Returns
    -------
    LiftResult

    Raises
    ------
    stickykit.errors.InsufficientDataError
        If there is no positive.
    stickykit.errors.ValidationError
        As for :func:`lift_curve`.

    Notes
    -----
    :math:`\mathrm{TDL} = \mathrm{lift}(0.1)` of :func:`lift_curve`, tied blocks at the cut
    shared proportionally: the headline accuracy measure of the churn-modelling tournament
    of Neslin et al. (2006), read as "the top decile by score holds TDL times the average
    positive rate". A score no better than chance has TDL near 1.

    References
    ----------
    Neslin, S. A., Gupta, S., Kamakura, W., Lu, J. and Mason, C. H. (2006). *Journal of
    Marketing Research* 43(2), 204-211.

    Examples
    --------
    >>> top_decile_lift([1.0] * 10, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).value
    1.0
    """
    curve = lift_curve(scores, labels, [fraction])
    return LiftResult(
        value=float(curve.lift[0]),
        fraction=float(curve.fractions[0]),
        captured=float(curve.captured[0]),
        rate=float(curve.rate[0]),
        base_rate=curve.base_rate,
        n=curve.n,
        n1=curve.n1,
        method=curve.method,
    )
