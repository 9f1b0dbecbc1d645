r"""Key-driver analysis: how much each survey item moves a loyalty outcome."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.io.validate import Violation
from stickykit.metrics.base import (
    InputKind,
    MetricBase,
    MetricResult,
    check_fingerprints,
    package_version,
)
from stickykit.metrics.survey.loyalty_curve import (
    check_scale,
    item_answers,
    latest_time,
    raise_violations,
    scale_violations,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.bootstrap import check_seed, percentile_interval, poisson_weights
from stickykit.stats.intervals import check_alpha

__all__ = [
    "MAX_DOMINANCE_PREDICTORS",
    "QUADRANTS",
    "DriverWeights",
    "KeyDrivers",
    "KeyDriversState",
    "correlations",
    "driver_table",
    "driver_weights",
]

_NO_TIME = int(np.iinfo(np.int64).min)
#: Most predictors for general dominance, which needs the R² of all 2^p predictor subsets.
MAX_DOMINANCE_PREDICTORS = 12
#: Quadrant codes of the importance-performance grid (Martilla and James 1977).
QUADRANTS = {
    1: "concentrate here (high importance, low performance)",
    2: "keep up the good work (high importance, high performance)",
    3: "low priority (low importance, low performance)",
    4: "possible overkill (low importance, high performance)",
}
#: Rows per block when summing cross-products (float sums stay exact integers below 2**53).
BLOCK_ROWS = 1 << 16
#: Rows per block when hashing Poisson bootstrap weights (rows x replicates temporaries).
BOOT_BLOCK_ROWS = 1 << 12
_SINGULAR = 1e-10
_ITEM_KEY = re.compile(r"^(?P<column>[a-z_]+)\[(?P<item>.+)\]$")


@attrs.frozen
class DriverWeights:
    """Driver statistics from one correlation matrix (outcome first), or a stack of them.

    Parameters
    ----------
    r2 : numpy.ndarray
        :math:`R^2` of the outcome on every predictor, shape ``batch``.
    beta : numpy.ndarray
        Standardised regression coefficients, shape ``batch + (p,)``.
    relative_weight : numpy.ndarray
        Johnson's relative weights, shape ``batch + (p,)``; they sum to ``r2``.
    dominance : numpy.ndarray or None
        General dominance weights, shape ``batch + (p,)``; they sum to ``r2``. ``None`` above
        :data:`MAX_DOMINANCE_PREDICTORS` predictors.
    """

    r2: NDArray[np.float64]
    beta: NDArray[np.float64]
    relative_weight: NDArray[np.float64]
    dominance: NDArray[np.float64] | None


def correlations(n: NDArray[Any], sums: NDArray[Any], cross: NDArray[Any]) -> NDArray[np.float64]:
    r"""Correlation matrices from counts, sums and uncentred cross-products (batched).

    .. math::

        C = \sum x x^\top - \frac{(\sum x)(\sum x)^\top}{n}, \qquad
        r_{jk} = \frac{C_{jk}}{\sqrt{C_{jj} C_{kk}}}

    NaN where a variable has no variance (:math:`C_{jj} \le 10^{-12} \sum x_j^2`, rounding
    error of a constant) or :math:`n < 2`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 2], [2, 4], [3, 7]])
    >>> r = correlations(np.array(3), x.sum(axis=0), x.T @ x)
    >>> round(float(r[0, 1]), 4)
    0.9934
    """
    n_f = np.asarray(n, dtype=np.float64)
    s = np.asarray(sums, dtype=np.float64)
    c = np.asarray(cross, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = c - s[..., :, None] * s[..., None, :] / n_f[..., None, None]
        scale = np.sqrt(np.diagonal(centred, axis1=-2, axis2=-1))
        corr = centred / (scale[..., :, None] * scale[..., None, :])
    # a variance below 1e-12 of the mean square is rounding error of a constant variable
    spread = np.diagonal(centred, axis1=-2, axis2=-1)
    raw = np.diagonal(c, axis1=-2, axis2=-1)
    bad = (n_f < 2) | ~np.all(spread > 1e-12 * raw, axis=-1)
    corr[bad] = np.nan
    return np.asarray(corr, dtype=np.float64)


def _subset_r2(corr: NDArray[np.float64], p: int) -> dict[int, NDArray[np.float64]]:
    """:math:`R^2` of every predictor subset, keyed by bitmask (bit j = predictor j)."""
    r2: dict[int, NDArray[np.float64]] = {0: np.zeros(corr.shape[:-2])}
    for size in range(1, p + 1):
        subsets = np.array(list(itertools.combinations(range(p), size)), dtype=np.intp) + 1
        rxx = corr[..., subsets[:, :, None], subsets[:, None, :]]  # batch, C, k, k
        rxy = corr[..., subsets, 0]  # batch, C, k
        coef = np.linalg.solve(rxx, rxy[..., None])[..., 0]
        values = np.einsum("...ck,...ck->...c", rxy, coef)
        for column, subset in enumerate(subsets - 1):
            r2[int(np.sum(1 << subset))] = values[..., column]
    return r2


def _general_dominance(corr: NDArray[np.float64], p: int) -> NDArray[np.float64]:
    r"""General dominance weights (Azen and Budescu 2003), batched over leading axes."""
    subset_r2 = _subset_r2(corr, p)
    masks = np.arange(1 << p)
    r2 = np.stack([subset_r2[int(mask)] for mask in masks], axis=-1)  # batch, 2^p
    sizes = np.array([int(mask).bit_count() for mask in masks])
    factorial = np.array([math.factorial(k) for k in range(p + 1)], dtype=np.float64)
    out = np.zeros((*corr.shape[:-2], p))
    for j in range(p):
        bit = 1 << j
        without = masks[(masks & bit) == 0]
        k = sizes[without]
        weight = factorial[k] * factorial[p - k - 1] / factorial[p]
        out[..., j] = (r2[..., without | bit] - r2[..., without]) @ weight
    return out


def driver_weights(corr: NDArray[np.float64], *, dominance: bool = True) -> DriverWeights:
    r"""Standardised coefficients, relative weights and general dominance from correlations.

    Parameters
    ----------
    corr : numpy.ndarray
        Correlation matrix of the outcome (first) and the :math:`p` predictors, shape
        ``(..., p + 1, p + 1)``; leading axes are a batch (bootstrap replicates).
    dominance : bool
        Also compute general dominance (at most :data:`MAX_DOMINANCE_PREDICTORS`
        predictors).

    Returns
    -------
    DriverWeights
        NaN for a batch entry whose predictor correlation matrix is singular or undefined.

    Notes
    -----
    With :math:`R_{xx}` the predictor correlations and :math:`r_{xy}` their correlations with
    the outcome:

    .. math::

        \beta^* = R_{xx}^{-1} r_{xy}, \qquad R^2 = r_{xy}^\top \beta^* .

    **Relative weights** (Johnson 2000): with :math:`R_{xx} = V \Lambda V^\top`, the
    orthonormal variables closest to the predictors have loadings
    :math:`\Lambda^* = V \Lambda^{1/2} V^\top` on them and the outcome has coefficients
    :math:`\beta_Z = \Lambda^{*-1} r_{xy}` on them, so

    .. math::

        \varepsilon_j = \sum_k \lambda^{*2}_{jk} \beta_{Z,k}^2, \qquad
        \sum_j \varepsilon_j = R^2 .

    **General dominance** (Azen and Budescu 2003): the average, over subset sizes
    :math:`k = 0, \dots, p - 1`, of the average increase in :math:`R^2` when predictor
    :math:`j` joins a subset :math:`S` of size :math:`k` of the others:

    .. math::

        C_j = \frac{1}{p} \sum_{k=0}^{p-1} \binom{p-1}{k}^{-1}
        \sum_{S \not\ni j,\ |S| = k} \left[R^2_{S \cup \{j\}} - R^2_S\right]
        = \sum_{S \not\ni j} \frac{|S|!\,(p - |S| - 1)!}{p!}
        \left[R^2_{S \cup \{j\}} - R^2_S\right],

    which telescopes to :math:`\sum_j C_j = R^2`. It needs the :math:`R^2` of all
    :math:`2^p - 1` subsets, each :math:`r_S^\top R_{SS}^{-1} r_S`.

    References
    ----------
    Johnson, J. W. (2000). A heuristic method for estimating the relative weight of predictor
    variables in multiple regression. *Multivariate Behavioral Research* 35(1), 1-19.
    Azen, R. and Budescu, D. V. (2003). The dominance analysis approach for comparing
    predictors in multiple regression. *Psychological Methods* 8(2), 129-148.

    Examples
    --------
    Two uncorrelated predictors: every measure gives each its squared correlation.

    >>> import numpy as np
    >>> corr = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.0], [0.3, 0.0, 1.0]])
    >>> w = driver_weights(corr)
    >>> round(float(w.r2), 4), w.relative_weight.round(4).tolist(), w.dominance.round(4).tolist()
    (0.45, [0.36, 0.09], [0.36, 0.09])
    """
    corr = np.asarray(corr, dtype=np.float64)
    p = corr.shape[-1] - 1
    batch = corr.shape[:-2]
    rxx = corr[..., 1:, 1:]
    rxy = corr[..., 1:, 0]
    finite = np.all(np.isfinite(corr), axis=(-2, -1))
    safe_rxx = np.where(finite[..., None, None], rxx, np.eye(p))
    eigenvalues, vectors = np.linalg.eigh(safe_rxx)
    usable = finite & (eigenvalues.min(axis=-1) > _SINGULAR)
    eigenvalues = np.where(usable[..., None], eigenvalues, 1.0)
    vectors = np.where(usable[..., None, None], vectors, np.eye(p))
    safe_rxy = np.where(usable[..., None], rxy, 0.0)
    # R^-1 r and R^(1/2) through the eigendecomposition, one batch at a time
    projected = np.einsum("...kj,...k->...j", vectors, safe_rxy)
    beta = np.einsum("...jk,...k->...j", vectors, projected / eigenvalues)
    r2 = np.einsum("...j,...j->...", safe_rxy, beta)
    root = np.einsum("...jk,...k,...lk->...jl", vectors, np.sqrt(eigenvalues), vectors)
    beta_z = np.einsum("...jk,...k->...j", vectors, projected / np.sqrt(eigenvalues))
    relative = np.einsum("...jk,...k->...j", root**2, beta_z**2)
    dom = None
    if dominance and p <= MAX_DOMINANCE_PREDICTORS:
        safe = np.where(usable[..., None, None], corr, np.eye(p + 1))
        dom = _general_dominance(safe, p)
        dom = np.where(usable[..., None], dom, np.nan)
    nan = np.nan
    return DriverWeights(
        r2=np.where(usable, r2, nan).reshape(batch),
        beta=np.where(usable[..., None], beta, nan),
        relative_weight=np.where(usable[..., None], relative, nan),
        dominance=dom,
    )


def driver_table(result: MetricResult) -> dict[str, list[Any]]:
    """The per-item figures of a :class:`KeyDrivers` result as columns, in predictor order.

    Keys: ``item`` and every per-item name in ``result.details`` (``correlation``, ``beta``,
    ``relative_weight``, ``dominance``, their ``_low``/``_high`` bounds, ``performance``,
    ``performance_se``, ``quadrant``).

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(answers={"nps": np.array([9, 7, 10, 3, 8], np.int8),
    ...                              "satisfaction": np.array([8, 6, 9, 2, 9], np.int8),
    ...                              "intention": np.array([9, 8, 10, 5, 6], np.int8)})
    >>> m = KeyDrivers(n_boot=0)
    >>> table = driver_table(m.finalize(m.update(m.init(), frame)))
    >>> table["item"], [round(w, 3) for w in table["relative_weight"]]
    (['satisfaction', 'intention'], [0.602, 0.397])
    """
    columns: dict[str, dict[str, float]] = {}
    order: dict[str, None] = {}
    for key, value in result.details.items():
        match = _ITEM_KEY.match(key)
        if match:
            columns.setdefault(match["column"], {})[match["item"]] = float(value)
            order.setdefault(match["item"])
    items = list(order)
    table: dict[str, list[Any]] = {"item": items}
    for name, column in columns.items():
        table[name] = [column.get(item, math.nan) for item in items]
    return table


# -- the metric ------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class KeyDriversState:
    r"""Mergeable state of a key-driver analysis: integer moments, and per bootstrap replicate.

    Variables are ordered outcome first, then the predictors. Answers are integers and the
    Poisson bootstrap weights are integers, so every sum is an exact int64 and merging is
    exact addition.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    n : int
        Rows with every item answered (listwise).
    n_missing : int
        Rows missing at least one item.
    sums : numpy.ndarray
        int64, shape ``(q,)``: :math:`\sum x`.
    cross : numpy.ndarray
        int64, shape ``(q, q)``: :math:`\sum x x^\top` (uncentred).
    boot_n : numpy.ndarray
        int64, shape ``(R,)``: :math:`\sum_i w_{ir}`, the size of each replicate.
    boot_sums : numpy.ndarray
        int64, shape ``(R, q)``: :math:`\sum_i w_{ir} x_i`.
    boot_cross : numpy.ndarray
        int64, shape ``(R, q, q)``: :math:`\sum_i w_{ir} x_i x_i^\top`.
    latest_us : int
        Latest ``answered_at`` seen, in microseconds since the epoch (int64 minimum if none).
    """

    fingerprint: str
    n: int
    n_missing: int
    sums: NDArray[np.int64]
    cross: NDArray[np.int64]
    boot_n: NDArray[np.int64]
    boot_sums: NDArray[np.int64]
    boot_cross: NDArray[np.int64]
    latest_us: int = _NO_TIME


def _predictors(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _check_predictors(instance: KeyDrivers, attribute: Any, value: Any) -> None:
    del attribute
    if not value or not all(isinstance(v, str) and v for v in value):
        msg = f"predictors must be a non-empty tuple of item names, got {value!r}"
        raise ValueError(msg)
    if len(set(value)) != len(value):
        msg = f"predictors must be distinct, got {value!r}"
        raise ValueError(msg)
    if instance.outcome in value:
        msg = f"the outcome {instance.outcome!r} cannot also be a predictor"
        raise ValueError(msg)


def _scale(value: Any) -> tuple[int, int]:
    return check_scale(value, "scale")


def _item_scales(value: Any) -> tuple[tuple[str, int, int], ...]:
    pairs = value.items() if isinstance(value, Mapping) else ((v[0], v[1:]) for v in value)
    out = []
    for item, scale in pairs:
        lo, hi = check_scale(scale, f"item_scales[{item!r}]")
        out.append((str(item), lo, hi))
    return tuple(sorted(out))


def _check_alpha(instance: Any, attribute: Any, value: float) -> None:
    del instance, attribute
    check_alpha(value)


def _check_seed(instance: Any, attribute: Any, value: int) -> None:
    del instance, attribute
    check_seed(value)


def _check_importance(instance: KeyDrivers, attribute: Any, value: str) -> None:
    del attribute
    if value == "dominance" and len(instance.predictors) > MAX_DOMINANCE_PREDICTORS:
        msg = (
            f"importance='dominance' needs at most {MAX_DOMINANCE_PREDICTORS} predictors, got "
            f"{len(instance.predictors)}; use 'relative_weight'"
        )
        raise ValueError(msg)


def _thresholds(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or not all(math.isfinite(v) for v in pair):
        msg = f"thresholds must be two finite numbers (importance, performance), got {value!r}"
        raise ValueError(msg)
    return (pair[0], pair[1])


@attrs.frozen
class KeyDrivers(MetricBase):
    r"""Key drivers of a loyalty outcome: coefficients, relative weights, dominance, quadrants.

    How much each predictor item (satisfaction, service dimensions...) moves the outcome
    (likelihood to recommend, repurchase intention), from the rows that answer every item.
    ``value`` is the :math:`R^2` of the outcome on all predictors; ``details`` hold the
    per-item measures.

    Parameters
    ----------
    outcome : str
        The outcome item.
    predictors : tuple of str
        The predictor items (distinct, not the outcome).
    scale : (int, int)
        Answer range of every item.
    item_scales : mapping of item to (int, int)
        Other ranges for some items (stored as sorted ``(item, lo, hi)`` tuples).
    n_boot : int
        Poisson bootstrap replicates (0: no intervals). The state holds
        ``n_boot x (p + 1)^2`` integers.
    seed : int
        Seed hashed with respondent ids and replicate numbers into the bootstrap weights.
    alpha : float
        1 - confidence level.
    importance : {"relative_weight", "dominance", "beta"}
        The importance axis of the quadrant map.
    thresholds : (float, float) or None
        Importance and performance cut-offs of the quadrant map; by default the mean
        importance and the mean performance across the predictors.
    min_n : int
        Fewer complete rows are flagged as a small sample.

    Notes
    -----
    The state keeps, for the outcome and predictors :math:`x = (y, x_1, \dots, x_p)` of the
    :math:`n` complete rows, :math:`n`, :math:`\sum x` and :math:`\sum x x^\top`, from which the
    co-moments and the correlation matrix follow (:func:`correlations`); the measures come
    from :func:`driver_weights`: standardised coefficients :math:`\beta^*`, relative weights
    (Johnson 2000) and general dominance (Azen and Budescu 2003), the last only with at most
    :data:`MAX_DOMINANCE_PREDICTORS` predictors (skipped with a flag above). Relative weights
    and general dominance weights each sum to :math:`R^2`.

    **Importance-performance map** (Martilla and James 1977): importance is a driver weight,
    performance the item's mean answer :math:`\bar x_j` (with standard error
    :math:`s_j/\sqrt{n}`); an item at or above both thresholds is in quadrant 2, and
    :data:`QUADRANTS` names the four codes.

    **Intervals**: a Poisson bootstrap. Row :math:`i` has, in replicate :math:`r`, the weight
    :math:`w_{ir} \sim \text{Poisson}(1)` hashed from (seed, respondent id, :math:`r`)
    (:func:`~stickykit.stats.bootstrap.poisson_weights`), so any split of the data gives the
    same replicate sums; the state adds :math:`\sum_i w_{ir}`, :math:`\sum_i w_{ir} x_i` and
    :math:`\sum_i w_{ir} x_i x_i^\top` per replicate. Rows sharing a respondent id share their
    weights (a respondent is resampled as a whole). Frames without ``respondent_id`` are
    refused unless ``n_boot=0``. Intervals are percentiles of the replicates; ``se`` is the
    replicates' standard deviation. Respondent weights (``frame.weight``) are not used.

    ``details`` keys: ``r2``, ``n_predictors``, ``importance_threshold``,
    ``performance_threshold``, ``n_boot_failed`` (replicates with a singular matrix), and per
    predictor ``correlation[item]``, ``beta[item]``, ``relative_weight[item]``,
    ``dominance[item]``, with ``_low``/``_high`` bounds when ``n_boot > 0``
    (``beta_low[item]``...), ``performance[item]``, ``performance_se[item]`` and
    ``quadrant[item]``; :func:`driver_table` turns them into columns.

    References
    ----------
    Johnson, J. W. (2000). A heuristic method for estimating the relative weight of predictor
    variables in multiple regression. *Multivariate Behavioral Research* 35(1), 1-19.
    Azen, R. and Budescu, D. V. (2003). The dominance analysis approach for comparing
    predictors in multiple regression. *Psychological Methods* 8(2), 129-148.
    Martilla, J. A. and James, J. C. (1977). Importance-performance analysis. *Journal of
    Marketing* 41(1), 77-79.
    Hanley, J. A. and MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
    Poisson frequencies. *Computer Methods and Programs in Biomedicine* 83(1), 57-62.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> frame = SurveyFrame(
    ...     respondent_id=np.arange(6),
    ...     answers={"nps": np.array([10, 9, 7, 6, 3, 8], np.int8),
    ...              "satisfaction": np.array([9, 9, 7, 5, 2, 8], np.int8),
    ...              "intention": np.array([10, 8, 8, 7, 4, 6], np.int8)})
    >>> m = KeyDrivers(n_boot=0)
    >>> r = m.finalize(m.update(m.init(), frame))
    >>> round(r.value, 3), r.n
    (0.981, 6)
    >>> total = r.details["relative_weight[satisfaction]"] + r.details["relative_weight[intention]"]
    >>> round(total, 3)
    0.981
    """

    name: ClassVar[str] = "key_drivers"
    family: ClassVar[str] = "survey"
    input_kind: ClassVar[InputKind] = "survey"
    higher_is_better: ClassVar[bool | None] = None
    reference: ClassVar[str] = (
        "Johnson (2000), Multivariate Behavioral Research 35(1), 1-19; Azen & Budescu (2003), "
        "Psychological Methods 8(2), 129-148; Martilla & James (1977), J. Marketing 41(1), 77-79"
    )

    outcome: str = attrs.field(default="nps", validator=attrs.validators.instance_of(str))
    predictors: tuple[str, ...] = attrs.field(
        default=("satisfaction", "intention"), converter=_predictors, validator=_check_predictors
    )
    scale: tuple[int, int] = attrs.field(default=(0, 10), converter=_scale)
    item_scales: tuple[tuple[str, int, int], ...] = attrs.field(default=(), converter=_item_scales)
    n_boot: int = attrs.field(
        default=200, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)]
    )
    seed: int = attrs.field(default=0, validator=_check_seed)
    alpha: float = attrs.field(default=0.05, validator=_check_alpha)
    importance: Literal["relative_weight", "dominance", "beta"] = attrs.field(
        default="relative_weight",
        validator=[
            attrs.validators.in_(("relative_weight", "dominance", "beta")),
            _check_importance,
        ],
    )
    thresholds: tuple[float, float] | None = attrs.field(default=None, converter=_thresholds)
    min_n: int = attrs.field(
        default=30, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )

    @property
    def variables(self) -> tuple[str, ...]:
        """The outcome followed by the predictors (the order of the state's variables)."""
        return (self.outcome, *self.predictors)

    @property
    def requires(self) -> tuple[str, ...]:
        """The survey items this metric reads."""
        return self.variables

    @property
    def scales(self) -> dict[str, tuple[int, int]]:
        """The answer range of each item read (used to generate test data)."""
        own = {item: (lo, hi) for item, lo, hi in self.item_scales}
        return {item: own.get(item, self.scale) for item in self.variables}

    # -- the four functions -------------------------------------------------------------

    def init(self) -> KeyDriversState:
        """The empty state."""
        q, r = len(self.variables), self.n_boot
        return KeyDriversState(
            fingerprint=self.fingerprint,
            n=0,
            n_missing=0,
            sums=np.zeros(q, np.int64),
            cross=np.zeros((q, q), np.int64),
            boot_n=np.zeros(r, np.int64),
            boot_sums=np.zeros((r, q), np.int64),
            boot_cross=np.zeros((r, q, q), np.int64),
        )

    def update(self, state: KeyDriversState, frame: SurveyFrame) -> KeyDriversState:
        """Add the complete rows of ``frame``; an answer outside its scale raises."""
        raise_violations(self.check(frame))
        if self.n_boot and frame.respondent_id is None:
            raise ValidationError(
                record="SurveyFrame",
                field="respondent_id",
                row=None,
                value=None,
                expected=(
                    "respondent ids: the Poisson bootstrap hashes them into replicate weights "
                    "(or set n_boot=0 for no intervals)"
                ),
            )
        chunk = self._moments(frame)
        return self.merge(state, attrs.evolve(chunk, latest_us=latest_time(frame, state.latest_us)))

    def merge(self, a: KeyDriversState, b: KeyDriversState) -> KeyDriversState:
        """Add two states."""
        check_fingerprints(self.name, a, b)
        return KeyDriversState(
            fingerprint=a.fingerprint,
            n=a.n + b.n,
            n_missing=a.n_missing + b.n_missing,
            sums=a.sums + b.sums,
            cross=a.cross + b.cross,
            boot_n=a.boot_n + b.boot_n,
            boot_sums=a.boot_sums + b.boot_sums,
            boot_cross=a.boot_cross + b.boot_cross,
            latest_us=max(a.latest_us, b.latest_us),
        )

    def finalize(self, state: KeyDriversState, as_of: dt.datetime | None = None) -> MetricResult:
        """:math:`R^2` with the driver measures of every predictor."""
        if as_of is None and state.latest_us != _NO_TIME:
            as_of = us_to_datetime(state.latest_us + 1)
        p = len(self.predictors)
        if state.n < p + 2:
            msg = (
                f"{self.name} needs at least {p + 2} rows answering all of {list(self.variables)}, "
                f"got {state.n} ({state.n_missing:,} rows miss an item)"
            )
            raise InsufficientDataError(msg)
        flat = [
            item
            for j, item in enumerate(self.variables)
            if state.n * int(state.cross[j, j]) == int(state.sums[j]) ** 2
        ]
        if flat:
            msg = f"{self.name}: no variance in {flat} over the {state.n} complete rows"
            raise InsufficientDataError(msg)
        corr = correlations(np.array(state.n), state.sums, state.cross)
        with_dominance = p <= MAX_DOMINANCE_PREDICTORS
        point = driver_weights(corr, dominance=with_dominance)
        if math.isnan(float(point.r2)):
            msg = f"{self.name}: the predictors {list(self.predictors)} are collinear"
            raise InsufficientDataError(msg)
        flags: list[str] = []
        if state.n < self.min_n:
            flags.append(f"small sample: n = {state.n} < {self.min_n}")
        if not with_dominance:
            flags.append(f"general dominance skipped: {p} predictors > {MAX_DOMINANCE_PREDICTORS}")
        measures = {"beta": point.beta, "relative_weight": point.relative_weight}
        if point.dominance is not None:
            measures["dominance"] = point.dominance
        details: dict[str, float] = {"r2": float(point.r2), "n_predictors": float(p)}
        for j, item in enumerate(self.predictors):
            details[f"correlation[{item}]"] = float(corr[j + 1, 0])
            for name, values in measures.items():
                details[f"{name}[{item}]"] = float(values[j])
        se = low = high = math.nan
        method = "no interval (n_boot=0)"
        if self.n_boot:
            boot_corr = correlations(state.boot_n, state.boot_sums, state.boot_cross)
            boot = driver_weights(boot_corr, dominance=with_dominance)
            ok = np.isfinite(boot.r2)
            failed = int(np.count_nonzero(~ok))
            details["n_boot_failed"] = float(failed)
            if failed:
                flags.append(f"{failed} of {self.n_boot} bootstrap replicates failed (singular)")
            if np.count_nonzero(ok) >= 2:
                se = float(np.std(boot.r2[ok], ddof=1))
            r2_low, r2_high = percentile_interval(boot.r2[:, None], self.alpha)
            low, high = float(r2_low[0]), float(r2_high[0])
            boot_measures = {"beta": boot.beta, "relative_weight": boot.relative_weight}
            if boot.dominance is not None:
                boot_measures["dominance"] = boot.dominance
            for name, values in boot_measures.items():
                m_low, m_high = percentile_interval(values, self.alpha)
                for j, item in enumerate(self.predictors):
                    details[f"{name}_low[{item}]"] = float(m_low[j])
                    details[f"{name}_high[{item}]"] = float(m_high[j])
            method = (
                f"percentile Poisson bootstrap ({self.n_boot} replicates hashed from seed "
                f"{self.seed} and respondent ids)"
            )
        self._quadrants(state, measures, details)
        return MetricResult(
            metric=self.name,
            value=float(point.r2),
            n=state.n,
            n_missing=state.n_missing,
            se=None if math.isnan(se) else se,
            ci_low=None if math.isnan(low) else low,
            ci_high=None if math.isnan(high) else high,
            level=1 - self.alpha,
            method=method,
            reference=self.reference,
            params=self.params(),
            as_of=as_of,
            version=package_version(),
            unit="share",
            flags=tuple(flags),
            details=details,
        )

    # -- validation ---------------------------------------------------------------------

    def check(self, frame: SurveyFrame) -> list[Violation]:
        """Rows with an answer outside its item's scale (for quarantine)."""
        return scale_violations(frame, self.scales, self.name)

    # -- kernels ------------------------------------------------------------------------

    def _moments(self, frame: SurveyFrame) -> KeyDriversState:
        columns: list[NDArray[np.int8]] = []
        masks: list[NDArray[np.bool_]] = []
        for item in self.variables:
            values, answered = item_answers(frame, item, self.name)
            columns.append(values)
            if answered is not None:
                masks.append(answered)
        q, r = len(self.variables), self.n_boot
        if r:
            assert frame.respondent_id is not None
        n = 0
        sums = np.zeros(q, np.int64)
        cross = np.zeros((q, q), np.int64)
        boot_n = np.zeros(r, np.int64)
        boot_sums = np.zeros((r, q), np.int64)
        boot_cross = np.zeros((r, q, q), np.int64)
        upper = np.triu_indices(q)
        step = BOOT_BLOCK_ROWS if r else BLOCK_ROWS
        # float64 block sums of integer answers (and integer weights) are exact integers
        for start in range(0, len(frame), step):
            stop = start + step
            complete = np.ones(min(stop, len(frame)) - start, dtype=bool)
            for mask in masks:
                complete &= mask[start:stop]
            x = np.stack([c[start:stop][complete] for c in columns], axis=1).astype(np.float64)
            n += len(x)
            sums += np.rint(x.sum(axis=0)).astype(np.int64)
            cross += np.rint(x.T @ x).astype(np.int64)
            if r and len(x):
                ids = frame.respondent_id[start:stop][complete]  # type: ignore[index]
                w = poisson_weights(ids, self.seed, r)
                w_f = w.astype(np.float64)
                boot_n += w.sum(axis=0)
                boot_sums += np.rint(w_f.T @ x).astype(np.int64)
                products = x[:, upper[0]] * x[:, upper[1]]
                boot_cross[:, upper[0], upper[1]] += np.rint(w_f.T @ products).astype(np.int64)
        lower = np.tril_indices(q, -1)
        boot_cross[:, lower[0], lower[1]] = boot_cross[:, lower[1], lower[0]]
        return KeyDriversState(
            fingerprint=self.fingerprint,
            n=n,
            n_missing=len(frame) - n,
            sums=sums,
            cross=cross,
            boot_n=boot_n,
            boot_sums=boot_sums,
            boot_cross=boot_cross,
        )

    def _quadrants(
        self,
        state: KeyDriversState,
        measures: Mapping[str, NDArray[np.float64]],
        details: dict[str, float],
    ) -> None:
        n = state.n
        means = state.sums[1:] / n
        variances = (np.diagonal(state.cross)[1:] - state.sums[1:] * means) / (n - 1)
        importance = measures[self.importance]
        if self.thresholds is None:
            imp_cut, perf_cut = float(np.mean(importance)), float(np.mean(means))
        else:
            imp_cut, perf_cut = self.thresholds
        details.update(importance_threshold=imp_cut, performance_threshold=perf_cut)
        for j, item in enumerate(self.predictors):
            high_i, high_p = importance[j] >= imp_cut, means[j] >= perf_cut
            quadrant = (1 if not high_p else 2) if high_i else (3 if not high_p else 4)
            details[f"performance[{item}]"] = float(means[j])
            details[f"performance_se[{item}]"] = math.sqrt(max(variances[j], 0.0) / n)
            details[f"quadrant[{item}]"] = float(quadrant)


@hookimpl
def register_metrics(register: Any) -> None:
    """Register the key-driver analysis."""
    register(KeyDrivers)
