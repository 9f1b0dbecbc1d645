r"""Checking transaction models on a holdout period: errors, fit criteria and tracking forecasts.

A model fitted on the calibration period of a :class:`~stickykit.models.data.CalibrationHoldout`
predicts, for every customer, the repeat transactions of the holdout period,
:math:`E[Y(t^*) \mid x, t_x, T]` with :math:`t^*` the holdout length. Three checks follow
Fader, Hardie & Lee (2005), "'Counting your customers' the easy way: an alternative to the
Pareto/NBD model", *Marketing Science* 24(2), 275-284, section 4:

- :func:`conditional_expectations_by_frequency`: customers grouped by calibration frequency
  :math:`x = 0, 1, \dots, 7+`, the mean actual and mean predicted holdout transactions per
  group (their Figure 4);
- :func:`cumulative_repeat_transactions` and :func:`actual_repeat_transactions`: the
  cohort's cumulative repeat transactions over calendar time, forecast and actual, the
  tracking plots of their Figures 1 and 2;
- :func:`compare_models`: per model the holdout mean absolute and root-mean-square error of
  the per-customer predictions, the predicted against the actual total, and the calibration
  log-likelihood, AIC and BIC.

Time runs on the models' axis: a purchase on calendar day :math:`d` happens at
:math:`(d - d_0)/u` for the cohort start :math:`d_0` and :math:`u` days per time unit
(7 for weeks), as in :mod:`stickykit.models.data`; purchases on one day merge into one.

Examples
--------
>>> errors = holdout_errors([0.5, 2.0, 1.0], [0, 3, 1])
>>> errors.mae, errors.predicted_total, errors.actual_total
(0.5, 3.5, 4.0)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.core.arrays import unique_codes
from stickykit.core.periods import period_index
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour.summary import qualifying
from stickykit.models._transactions import TransactionModel
from stickykit.models.data import CalibrationHoldout

__all__ = [
    "CRITERIA",
    "CohortPurchases",
    "FrequencyConditional",
    "HoldoutErrors",
    "ModelComparison",
    "RepeatTracking",
    "actual_repeat_transactions",
    "cohort_purchases",
    "compare_models",
    "conditional_expectations_by_frequency",
    "cumulative_repeat_transactions",
    "holdout_errors",
]

#: Ranking criteria of :meth:`ModelComparison.ranking`, each with ``True`` when higher is better.
CRITERIA: dict[str, bool] = {
    "mae": False,
    "rmse": False,
    "abs_total_error": False,
    "log_likelihood": True,
    "aic": False,
    "bic": False,
}

_DAYS_PER_UNIT = {"day": 1.0, "week": 7.0}
#: Largest number of (time, first-purchase time) pairs evaluated at once by the forecast.
_BLOCK = 1 << 20


def _vector(name: str, values: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite numbers")
    return array


def _check_holdout(split: CalibrationHoldout) -> None:
    if not split.holdout_length > 0:
        raise ValueError("the split has no holdout period (holdout_length is 0)")
    if len(split.holdout_frequency) != len(split.calibration):
        raise ValueError(
            f"{len(split.holdout_frequency)} holdout counts for "
            f"{len(split.calibration)} calibration histories"
        )


def _predicted(model: TransactionModel, split: CalibrationHoldout) -> NDArray[np.float64]:
    value = model.conditional_expected_transactions(split.holdout_length, split.calibration).value
    return np.asarray(value, dtype=np.float64)


# -- per-customer errors ---------------------------------------------------------------------


@attrs.frozen
class HoldoutErrors:
    r"""Errors of per-customer holdout predictions, as returned by :func:`holdout_errors`.

    Attributes
    ----------
    mae : float
        :math:`\sum_i w_i |\hat y_i - y_i| / \sum_i w_i`.
    rmse : float
        :math:`\sqrt{\sum_i w_i (\hat y_i - y_i)^2 / \sum_i w_i}`.
    predicted_total, actual_total : float
        :math:`\sum_i w_i \hat y_i` and :math:`\sum_i w_i y_i`.
    n : float
        Customers, :math:`\sum_i w_i`.

    Examples
    --------
    >>> e = holdout_errors([1.0, 1.0], [0, 2])
    >>> e.mae, e.rmse, e.n
    (1.0, 1.0, 2.0)
    """

    mae: float
    rmse: float
    predicted_total: float
    actual_total: float
    n: float


def holdout_errors(
    predicted: ArrayLike, actual: ArrayLike, weight: ArrayLike | None = None
) -> HoldoutErrors:
    r"""Mean absolute and root-mean-square error of per-customer predictions, and the totals.

    Parameters
    ----------
    predicted : array_like
        Predicted holdout transactions :math:`\hat y_i` per customer (or pattern).
    actual : array_like
        Actual holdout transactions :math:`y_i`, aligned with ``predicted``.
    weight : array_like, optional
        Customers each row stands for, :math:`w_i > 0` (default 1).

    Returns
    -------
    HoldoutErrors

    Raises
    ------
    ValueError
        Arrays of different lengths, no rows, non-finite values or weights that are not
        positive.

    Examples
    --------
    >>> e = holdout_errors([0.0, 2.0], [1, 1], weight=[3, 1])
    >>> e.mae, e.predicted_total, e.actual_total, e.n
    (1.0, 2.0, 4.0, 4.0)
    """
    p = _vector("predicted", predicted)
    a = _vector("actual", actual)
    w = np.ones(len(p)) if weight is None else _vector("weight", weight)
    if not len(p) == len(a) == len(w):
        raise ValueError(
            f"predicted, actual and weight must have one length, got {len(p)}, {len(a)}, {len(w)}"
        )
    if len(p) == 0:
        raise ValueError("no customers to compare")
    if np.any(w <= 0):
        raise ValueError("weights must be > 0")
    total = float(w.sum())
    difference = p - a
    return HoldoutErrors(
        mae=float(w @ np.abs(difference)) / total,
        rmse=float(np.sqrt(float(w @ difference**2) / total)),
        predicted_total=float(w @ p),
        actual_total=float(w @ a),
        n=total,
    )


# -- conditional expectations by calibration frequency ------------------------------------------


@attrs.frozen(eq=False)
class FrequencyConditional:
    r"""Mean actual and predicted holdout transactions by calibration frequency.

    Returned by :func:`conditional_expectations_by_frequency`; one entry per group, the
    last group holding every customer with at least its frequency. A group without
    customers has NaN means.

    Attributes
    ----------
    labels : tuple of str
        ``"0"``, ``"1"``, ..., ``"7+"``.
    frequency : numpy.ndarray of int64
        The smallest calibration frequency of each group.
    n_customers : numpy.ndarray of float64
        Customers in each group.
    actual : numpy.ndarray of float64
        Mean actual holdout transactions per customer.
    actual_se : numpy.ndarray of float64
        Standard error of that mean, :math:`s/\sqrt{n}` (NaN with fewer than 2 customers).
    predicted : numpy.ndarray of float64
        Mean predicted holdout transactions per customer.
    holdout_length : float
        Length of the holdout period in time units.
    time_unit : str
    model : str
        Name of the model that predicted.

    Examples
    --------
    >>> r = FrequencyConditional(labels=("0", "1+"), frequency=np.array([0, 1]),
    ...     n_customers=np.array([2.0, 1.0]), actual=np.array([0.5, 3.0]),
    ...     actual_se=np.array([0.5, np.nan]), predicted=np.array([0.4, 2.5]),
    ...     holdout_length=39.0, time_unit="week", model="BGNBD")
    >>> r.n
    3.0
    """

    labels: tuple[str, ...]
    frequency: NDArray[np.int64]
    n_customers: NDArray[np.float64]
    actual: NDArray[np.float64]
    actual_se: NDArray[np.float64]
    predicted: NDArray[np.float64]
    holdout_length: float
    time_unit: str
    model: str

    @property
    def n(self) -> float:
        """Customers in all groups.

        Examples
        --------
        >>> r = FrequencyConditional(labels=("0", "1+"), frequency=np.array([0, 1]),
        ...     n_customers=np.array([2.0, 1.0]), actual=np.array([0.5, 3.0]),
        ...     actual_se=np.array([0.5, np.nan]), predicted=np.array([0.4, 2.5]),
        ...     holdout_length=39.0, time_unit="week", model="BGNBD")
        >>> r.n
        3.0
        """
        return float(self.n_customers.sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain values, one list per column.

        Examples
        --------
        >>> r = FrequencyConditional(labels=("0", "1+"), frequency=np.array([0, 1]),
        ...     n_customers=np.array([2.0, 1.0]), actual=np.array([0.5, 3.0]),
        ...     actual_se=np.array([0.5, np.nan]), predicted=np.array([0.4, 2.5]),
        ...     holdout_length=39.0, time_unit="week", model="BGNBD")
        >>> r.to_dict()["actual"]
        [0.5, 3.0]
        """
        return {
            "labels": list(self.labels),
            "frequency": self.frequency.tolist(),
            "n_customers": self.n_customers.tolist(),
            "actual": self.actual.tolist(),
            "actual_se": self.actual_se.tolist(),
            "predicted": self.predicted.tolist(),
            "holdout_length": self.holdout_length,
            "time_unit": self.time_unit,
            "model": self.model,
        }

    def __str__(self) -> str:
        lines = [
            (
                f"{self.model}: mean repeat transactions per customer in the "
                f"{self.holdout_length:g}-{self.time_unit} holdout by calibration frequency x; "
                f"n = {self.n:,.0f}"
            ),
            f"{'x':>4} {'customers':>10} {'actual':>9} {'se':>8} {'predicted':>10}",
        ]
        for row in zip(
            self.labels, self.n_customers, self.actual, self.actual_se, self.predicted, strict=True
        ):
            label, count, actual, se, predicted = row
            lines.append(f"{label:>4} {count:>10,.0f} {actual:>9.3f} {se:>8.3f} {predicted:>10.3f}")
        return "\n".join(lines)


def conditional_expectations_by_frequency(
    model: TransactionModel, split: CalibrationHoldout, *, max_frequency: int = 7
) -> FrequencyConditional:
    r"""Mean actual against mean predicted holdout transactions, by calibration frequency.

    Customers are grouped by their calibration repeat frequency :math:`x = 0, 1, \dots`, the
    last group (``"max_frequency+"``) holding all with :math:`x \ge` ``max_frequency``. For
    each group :math:`G`, with customer weights :math:`w_i`,

    .. math::

       \bar y_G = \frac{\sum_{i \in G} w_i y_i}{\sum_{i \in G} w_i}, \qquad
       \bar{\hat y}_G = \frac{\sum_{i \in G} w_i E[Y(t^*) \mid x_i, t_{x,i}, T_i]}
                             {\sum_{i \in G} w_i},

    with :math:`y_i` the actual holdout transactions and :math:`t^*` the holdout length; the
    standard error of :math:`\bar y_G` is :math:`s_G/\sqrt{n_G}` with :math:`s_G` the weighted
    sample standard deviation. This is Figure 4 of Fader, Hardie & Lee (2005), *Marketing
    Science* 24(2), 275-284 ("conditional expectations"), where the 1,411 CDNOW customers
    without a calibration repeat purchase made 0.24 holdout purchases each.

    Parameters
    ----------
    model : TransactionModel
        A model fitted on ``split.calibration`` (or built from parameters).
    split : CalibrationHoldout
        Calibration histories with their holdout counts.
    max_frequency : int
        Frequency of the last, open group (at least 1).

    Returns
    -------
    FrequencyConditional

    Examples
    --------
    >>> from stickykit.models.bgnbd import BGNBD
    >>> from stickykit.models._histories import Histories
    >>> h = Histories.from_arrays(frequency=[0, 0, 1, 3], recency=[0.0, 0.0, 2.0, 5.0],
    ...                           age=[6.0, 6.0, 6.0, 6.0])
    >>> split = CalibrationHoldout(h, np.array([0, 1, 1, 4]), np.zeros(4), 6.0,
    ...                            dt.date(2024, 1, 1), None)
    >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> r = conditional_expectations_by_frequency(model, split, max_frequency=2)
    >>> r.labels, r.n_customers.tolist(), r.actual.tolist()
    (('0', '1', '2+'), [2.0, 1.0, 1.0], [0.5, 1.0, 4.0])
    >>> r.predicted.round(3).tolist()
    [0.129, 0.403, 1.308]
    """
    if int(max_frequency) != max_frequency or max_frequency < 1:
        raise ValueError(f"max_frequency must be a whole number >= 1, got {max_frequency!r}")
    top = int(max_frequency)
    _check_holdout(split)
    h = split.calibration
    predicted = _predicted(model, split)
    actual = split.holdout_frequency.astype(np.float64)
    group = np.minimum(h.frequency, top).astype(np.intp)
    w = h.weight
    size = top + 1
    count = np.bincount(group, weights=w, minlength=size).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_actual = np.bincount(group, weights=w * actual, minlength=size) / count
        mean_predicted = np.bincount(group, weights=w * predicted, minlength=size) / count
        centred = actual - mean_actual[group]
        squares = np.bincount(group, weights=w * centred**2, minlength=size)
        se = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1) / count), np.nan)
    labels = (*(str(k) for k in range(top)), f"{top}+")
    return FrequencyConditional(
        labels=labels,
        frequency=np.arange(size, dtype=np.int64),
        n_customers=count,
        actual=mean_actual,
        actual_se=se,
        predicted=mean_predicted,
        holdout_length=float(split.holdout_length),
        time_unit=h.time_unit,
        model=type(model).__name__,
    )


# -- comparison of models ----------------------------------------------------------------------


@attrs.frozen(eq=False)
class ModelComparison:
    """Models side by side on one holdout period, as returned by :func:`compare_models`.

    Arrays hold one entry per model, in the order of ``names`` (the order given);
    :meth:`ranking` and ``str()`` do not depend on that order.

    Attributes
    ----------
    names : tuple of str
    mae, rmse : numpy.ndarray of float64
        Holdout errors of the per-customer predictions (see :func:`holdout_errors`).
    predicted_total : numpy.ndarray of float64
        Predicted holdout transactions of all customers.
    actual_total : float
        Actual holdout transactions of all customers.
    log_likelihood, aic, bic : numpy.ndarray of float64
        Calibration fit figures (NaN for a model built from parameters without a fit).
    n_calibration : numpy.ndarray of float64
        Customers each model was fitted on (0 without a fit).
    n_params : numpy.ndarray of int64
        Parameters of each model.
    n : float
        Customers in the holdout comparison.
    holdout_length : float
    time_unit : str
    criterion : str
        The criterion ``str()`` ranks by.

    Examples
    --------
    >>> c = ModelComparison(names=("a", "b"), mae=np.array([0.6, 0.5]),
    ...     rmse=np.array([1.0, 1.1]), predicted_total=np.array([90.0, 99.0]),
    ...     actual_total=100.0, log_likelihood=np.array([-50.0, -49.0]),
    ...     aic=np.array([104.0, 106.0]), bic=np.array([110.0, 114.0]),
    ...     n_calibration=np.array([40.0, 40.0]), n_params=np.array([2, 4]), n=40.0,
    ...     holdout_length=10.0, time_unit="week", criterion="mae")
    >>> c.ranking(), c.ranking("aic"), c.ranking("log_likelihood")
    (('b', 'a'), ('a', 'b'), ('b', 'a'))
    """

    names: tuple[str, ...]
    mae: NDArray[np.float64]
    rmse: NDArray[np.float64]
    predicted_total: NDArray[np.float64]
    actual_total: float
    log_likelihood: NDArray[np.float64]
    aic: NDArray[np.float64]
    bic: NDArray[np.float64]
    n_calibration: NDArray[np.float64]
    n_params: NDArray[np.int64]
    n: float
    holdout_length: float
    time_unit: str
    criterion: str = "mae"

    @property
    def abs_total_error(self) -> NDArray[np.float64]:
        """Absolute error of the predicted total, ``|predicted_total - actual_total|``.

        Examples
        --------
        >>> c = ModelComparison(names=("a", "b"), mae=np.array([0.6, 0.5]),
        ...     rmse=np.array([1.0, 1.1]), predicted_total=np.array([90.0, 104.0]),
        ...     actual_total=100.0, log_likelihood=np.array([-50.0, -49.0]),
        ...     aic=np.array([104.0, 106.0]), bic=np.array([110.0, 114.0]),
        ...     n_calibration=np.array([40.0, 40.0]), n_params=np.array([2, 4]), n=40.0,
        ...     holdout_length=10.0, time_unit="week")
        >>> c.abs_total_error.tolist()
        [10.0, 4.0]
        """
        return np.abs(self.predicted_total - self.actual_total)

    def values(self, criterion: str) -> NDArray[np.float64]:
        """The figures of one criterion (a name in :data:`CRITERIA`), in ``names`` order.

        Examples
        --------
        >>> c = ModelComparison(names=("a",), mae=np.array([0.6]), rmse=np.array([1.0]),
        ...     predicted_total=np.array([90.0]), actual_total=100.0,
        ...     log_likelihood=np.array([-50.0]), aic=np.array([104.0]),
        ...     bic=np.array([110.0]), n_calibration=np.array([40.0]), n_params=np.array([2]),
        ...     n=40.0, holdout_length=10.0, time_unit="week")
        >>> c.values("abs_total_error").tolist()
        [10.0]
        """
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
        return np.asarray(getattr(self, criterion), dtype=np.float64)

    def ranking(self, criterion: str | None = None) -> tuple[str, ...]:
        """Model names from best to worst by ``criterion`` (default: :attr:`criterion`).

        Lower is better, except for the log-likelihood; NaN figures rank last and ties are
        broken by name, so the ranking does not depend on the order the models were given.

        Examples
        --------
        >>> c = ModelComparison(names=("b", "a"), mae=np.array([0.5, 0.5]),
        ...     rmse=np.array([1.0, 1.0]), predicted_total=np.array([90.0, 90.0]),
        ...     actual_total=100.0, log_likelihood=np.array([np.nan, -50.0]),
        ...     aic=np.array([np.nan, 104.0]), bic=np.array([np.nan, 110.0]),
        ...     n_calibration=np.array([0.0, 40.0]), n_params=np.array([2, 2]), n=40.0,
        ...     holdout_length=10.0, time_unit="week")
        >>> c.ranking("mae"), c.ranking("log_likelihood")
        (('a', 'b'), ('a', 'b'))
        """
        criterion = self.criterion if criterion is None else criterion
        values = self.values(criterion)
        key = -values if CRITERIA[criterion] else values
        key = np.where(np.isnan(key), np.inf, key)
        missing = np.isnan(values).astype(np.int64)
        names = np.array(self.names, dtype=object)
        order = np.lexsort((names, key, missing))
        return tuple(str(self.names[i]) for i in order)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, one list per column (models in ``names`` order).

        Examples
        --------
        >>> c = ModelComparison(names=("a", "b"), mae=np.array([0.6, 0.5]),
        ...     rmse=np.array([1.0, 1.1]), predicted_total=np.array([90.0, 104.0]),
        ...     actual_total=100.0, log_likelihood=np.array([-50.0, -49.0]),
        ...     aic=np.array([104.0, 106.0]), bic=np.array([110.0, 114.0]),
        ...     n_calibration=np.array([40.0, 40.0]), n_params=np.array([2, 4]), n=40.0,
        ...     holdout_length=10.0, time_unit="week")
        >>> c.to_dict()["mae"]
        [0.6, 0.5]
        """
        return {
            "model": list(self.names),
            "mae": self.mae.tolist(),
            "rmse": self.rmse.tolist(),
            "predicted_total": self.predicted_total.tolist(),
            "actual_total": self.actual_total,
            "log_likelihood": self.log_likelihood.tolist(),
            "aic": self.aic.tolist(),
            "bic": self.bic.tolist(),
            "n_calibration": self.n_calibration.tolist(),
            "n_params": self.n_params.tolist(),
            "n": self.n,
            "holdout_length": self.holdout_length,
            "time_unit": self.time_unit,
        }

    def __str__(self) -> str:
        width = max(5, *(len(name) for name in self.names))
        lines = [
            (
                f"holdout of {self.holdout_length:g} {self.time_unit}s: n = {self.n:,.0f} "
                f"customers, {self.actual_total:,.0f} actual repeat transactions; ranked by "
                f"{self.criterion}"
            ),
            (
                f"{'model':<{width}} {'MAE':>7} {'RMSE':>7} {'predicted':>10} {'log-lik':>11} "
                f"{'AIC':>10} {'BIC':>10} {'p':>2}"
            ),
        ]
        index = {name: i for i, name in enumerate(self.names)}
        for name in self.ranking():
            i = index[name]
            lines.append(
                f"{name:<{width}} {self.mae[i]:>7.4f} {self.rmse[i]:>7.4f} "
                f"{self.predicted_total[i]:>10,.1f} {self.log_likelihood[i]:>11.2f} "
                f"{self.aic[i]:>10.2f} {self.bic[i]:>10.2f} {self.n_params[i]:>2d}"
            )
        fitted = self.n_calibration[self.n_calibration > 0]
        if len(np.unique(fitted)) > 1:
            lines.append("note: the models were fitted on different customers; AIC/BIC differ")
        return "\n".join(lines)


def compare_models(
    models: Mapping[str, TransactionModel], split: CalibrationHoldout, *, criterion: str = "mae"
) -> ModelComparison:
    r"""Compare fitted models on the holdout period and by their calibration fit.

    For each model the per-customer prediction :math:`\hat y_i = E[Y(t^*) \mid x_i, t_{x,i},
    T_i]` over the holdout length :math:`t^*` is set against the actual holdout transactions
    :math:`y_i` (:func:`holdout_errors`: MAE, RMSE, totals), next to the calibration
    log-likelihood :math:`\ell`, :math:`\mathrm{AIC} = 2p - 2\ell` and
    :math:`\mathrm{BIC} = p \ln n - 2\ell`. Fader, Hardie & Lee (2005), *Marketing Science*
    24(2), 275-284, section 4, compare BG/NBD and Pareto/NBD on CDNOW this way. AIC and BIC
    compare models fitted on the same customers only.

    Parameters
    ----------
    models : Mapping[str, TransactionModel]
        Named fitted models (a model built from parameters has NaN fit figures).
    split : CalibrationHoldout
        The calibration histories the models were fitted on, with their holdout counts.
    criterion : str
        The criterion ``str()`` of the result ranks by; one of :data:`CRITERIA`.

    Returns
    -------
    ModelComparison

    Examples
    --------
    >>> from stickykit.models.bgnbd import BGNBD
    >>> from stickykit.models._histories import Histories
    >>> h = Histories.from_arrays(frequency=[0, 0, 1, 3], recency=[0.0, 0.0, 2.0, 5.0],
    ...                           age=[6.0, 6.0, 6.0, 6.0])
    >>> split = CalibrationHoldout(h, np.array([0, 1, 1, 4]), np.zeros(4), 6.0,
    ...                            dt.date(2024, 1, 1), None)
    >>> models = {"published": BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
    ...           "double r": BGNBD.from_params(r=0.486, alpha=4.414, a=0.793, b=2.426)}
    >>> c = compare_models(models, split)
    >>> c.ranking(), c.mae.round(3).tolist(), c.actual_total
    (('double r', 'published'), [1.072, 1.039], 6.0)
    >>> print(c)  # models built from parameters have no likelihood figures
    holdout of 6 weeks: n = 4 customers, 6 actual repeat transactions; ranked by mae
    model         MAE    RMSE  predicted     log-lik        AIC        BIC  p
    double r   1.0387  1.3901        2.4         nan        nan        nan  4
    published  1.0722  1.4471        2.0         nan        nan        nan  4
    """
    if not models:
        raise ValueError("no models to compare")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
    _check_holdout(split)
    actual = split.holdout_frequency.astype(np.float64)
    weight = split.calibration.weight
    names = tuple(str(name) for name in models)
    if len(set(names)) != len(names):
        raise ValueError("model names must be distinct")
    rows = []
    for model in models.values():
        errors = holdout_errors(_predicted(model, split), actual, weight)
        fitted = model.n_customers_ > 0 and bool(np.isfinite(model.log_likelihood_))
        nan = float("nan")
        rows.append(
            (
                errors,
                model.log_likelihood_ if fitted else nan,
                model.aic_ if fitted else nan,
                model.bic_ if fitted else nan,
                float(model.n_customers_),
                len(model.param_names),
            )
        )
    return ModelComparison(
        names=names,
        mae=np.array([r[0].mae for r in rows]),
        rmse=np.array([r[0].rmse for r in rows]),
        predicted_total=np.array([r[0].predicted_total for r in rows]),
        actual_total=rows[0][0].actual_total,
        log_likelihood=np.array([r[1] for r in rows], dtype=np.float64),
        aic=np.array([r[2] for r in rows], dtype=np.float64),
        bic=np.array([r[3] for r in rows], dtype=np.float64),
        n_calibration=np.array([r[4] for r in rows]),
        n_params=np.array([r[5] for r in rows], dtype=np.int64),
        n=rows[0][0].n,
        holdout_length=float(split.holdout_length),
        time_unit=split.calibration.time_unit,
        criterion=criterion,
    )


# -- tracking: cumulative repeat transactions over calendar time ---------------------------------


@attrs.frozen(eq=False)
class RepeatTracking:
    """Cumulative repeat transactions of a cohort at given times, forecast or actual.

    Attributes
    ----------
    times : numpy.ndarray of float64
        Increasing times on the cohort's axis (time units since the cohort start).
    cumulative : numpy.ndarray of float64
        Repeat transactions up to and including each time.
    n_customers : float
        Customers in the cohort.
    time_unit : str
    label : str
        ``"actual"`` or the name of the model that forecast.

    Examples
    --------
    >>> r = actual_repeat_transactions([0.0, 1.0], [0.5, 1.5, 1.5], [1.0, 2.0])
    >>> r.cumulative.tolist(), r.incremental.tolist()
    ([1.0, 3.0], [1.0, 2.0])
    """

    times: NDArray[np.float64]
    cumulative: NDArray[np.float64]
    n_customers: float
    time_unit: str
    label: str

    @property
    def incremental(self) -> NDArray[np.float64]:
        """Repeat transactions since the previous time, the first since the axis' start.

        Examples
        --------
        >>> r = actual_repeat_transactions([0.0], [0.5, 1.5, 1.7], [1.0, 2.0])
        >>> r.incremental.tolist()
        [1.0, 2.0]
        """
        return np.diff(self.cumulative, prepend=0.0)


def _times(times: ArrayLike) -> NDArray[np.float64]:
    t = _vector("times", np.atleast_1d(np.asarray(times, dtype=np.float64)))
    if len(t) == 0:
        raise ValueError("times must not be empty")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing")
    return t


def cumulative_repeat_transactions(
    model: TransactionModel,
    first_purchase_times: ArrayLike,
    times: ArrayLike,
    *,
    time_unit: str | None = None,
) -> RepeatTracking:
    r"""Forecast of a cohort's cumulative repeat transactions over calendar time.

    Customer :math:`i`, acquired at :math:`t_{0,i}`, is expected to make :math:`E[X(t -
    t_{0,i})]` repeat transactions by time :math:`t > t_{0,i}`, so the cohort makes

    .. math::

       C(t) = \sum_{i:\, t_{0,i} < t} E[X(t - t_{0,i})],

    the tracking forecast of Fader, Hardie & Lee (2005), *Marketing Science* 24(2),
    275-284, Figures 1 and 2. It is evaluated once per distinct acquisition time and summed
    with the number of customers acquired then.

    Parameters
    ----------
    model : TransactionModel
        A fitted model (or one built from parameters).
    first_purchase_times : array_like
        Each customer's first purchase time on the cohort axis
        (:attr:`CohortPurchases.first_purchase`).
    times : array_like
        Strictly increasing times at which to forecast.
    time_unit : str, optional
        Unit of the axis (default: the model's).

    Returns
    -------
    RepeatTracking
        With ``label`` the model's class name.

    Examples
    --------
    >>> from stickykit.models.bgnbd import BGNBD
    >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> r = cumulative_repeat_transactions(m, [0.0, 1.0, 1.0], [1.0, 2.0])
    >>> e1, e2 = m.expected_transactions([1.0, 2.0])
    >>> bool(np.allclose(r.cumulative, [e1, e2 + 2 * e1]))
    True
    >>> r.cumulative.round(4).tolist()
    [0.0533, 0.2099]
    """
    first = _vector("first_purchase_times", first_purchase_times)
    t = _times(times)
    origins, counts = np.unique(first, return_counts=True)
    weights = counts.astype(np.float64)
    cumulative = np.zeros(len(t))
    step = max(1, _BLOCK // max(1, len(origins)))
    for start in range(0, len(t), step):
        block = t[start : start + step]
        elapsed = block[:, None] - origins[None, :]
        active = elapsed > 0
        expected = np.zeros(elapsed.shape)
        if active.any():
            expected[active] = model.expected_transactions(elapsed[active])
        cumulative[start : start + step] = expected @ weights
    return RepeatTracking(
        times=t,
        cumulative=cumulative,
        n_customers=float(len(first)),
        time_unit=model.time_unit_ if time_unit is None else time_unit,
        label=type(model).__name__,
    )


def actual_repeat_transactions(
    first_purchase_times: ArrayLike,
    repeat_purchase_times: ArrayLike,
    times: ArrayLike,
    *,
    time_unit: str = "week",
) -> RepeatTracking:
    """A cohort's actual cumulative repeat transactions at given times.

    Counts the repeat purchase times at or before each time. Build both arrays from events
    with :func:`cohort_purchases`, which merges purchases on one day as the models do.

    Parameters
    ----------
    first_purchase_times : array_like
        Each customer's first purchase time (gives the cohort size).
    repeat_purchase_times : array_like
        The time of every repeat purchase of the cohort's customers, on the same axis.
    times : array_like
        Strictly increasing times.
    time_unit : str
        Unit of the axis.

    Returns
    -------
    RepeatTracking
        With ``label`` ``"actual"``.

    Raises
    ------
    ValueError
        A repeat purchase before the earliest first purchase.

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-08", "2024-01-10",
    ...                                    "2024-01-08"], dtype="datetime64[us]"))
    >>> c = cohort_purchases(f, kinds=None)
    >>> r = actual_repeat_transactions(c.first_purchase, c.repeat_times, c.period_ends(2))
    >>> r.cumulative.tolist()  # two repeat days in the second week
    [0.0, 2.0]
    """
    first = _vector("first_purchase_times", first_purchase_times)
    repeats = np.sort(_vector("repeat_purchase_times", repeat_purchase_times))
    t = _times(times)
    if len(repeats) and (len(first) == 0 or repeats[0] < first.min()):
        raise ValueError("a repeat purchase comes before every first purchase")
    cumulative = np.searchsorted(repeats, t, side="right").astype(np.float64)
    return RepeatTracking(
        times=t,
        cumulative=cumulative,
        n_customers=float(len(first)),
        time_unit=time_unit,
        label="actual",
    )


@attrs.frozen(eq=False)
class CohortPurchases:
    """A cohort's purchase days on the models' time axis, as built by :func:`cohort_purchases`.

    Attributes
    ----------
    customer_id : numpy.ndarray
        The cohort's customers, sorted.
    first_purchase : numpy.ndarray of float64
        Time of each customer's first purchase day since ``start``.
    repeat_times : numpy.ndarray of float64
        Time of every later purchase day (one per customer and day).
    repeat_customer : numpy.ndarray of int64
        Position in ``customer_id`` of each repeat purchase's customer.
    start : datetime.date
        Day 0 of the axis.
    time_unit : str
        ``"week"`` (7 days) or ``"day"``.

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-08", "2024-01-10",
    ...                                    "2024-01-08"], dtype="datetime64[us]"))
    >>> c = cohort_purchases(f, kinds=None)
    >>> c.first_purchase.tolist(), c.repeat_times.tolist(), c.repeat_customer.tolist()
    ([0.0, 1.0], [1.0, 1.2857142857142858], [0, 0])
    """

    customer_id: NDArray[Any]
    first_purchase: NDArray[np.float64]
    repeat_times: NDArray[np.float64]
    repeat_customer: NDArray[np.int64]
    start: dt.date
    time_unit: str

    @property
    def days_per_unit(self) -> float:
        """Days in one time unit.

        Examples
        --------
        >>> f = EventFrame(event_id=np.arange(1), customer_id=np.array([1]),
        ...                timestamp=np.array(["2024-01-01"], dtype="datetime64[us]"))
        >>> cohort_purchases(f, kinds=None).days_per_unit
        7.0
        """
        return _DAYS_PER_UNIT[self.time_unit]

    def time_of(self, day: dt.date | str) -> float:
        """The time of a calendar day on the axis: days since ``start`` over the unit's length.

        Examples
        --------
        >>> f = EventFrame(event_id=np.arange(1), customer_id=np.array([1]),
        ...                timestamp=np.array(["2024-01-01"], dtype="datetime64[us]"))
        >>> cohort_purchases(f, kinds=None).time_of("2024-01-29")
        4.0
        """
        return (_as_date(day, "day") - self.start).days / self.days_per_unit

    def period_ends(self, n_periods: int) -> NDArray[np.float64]:
        """Times of the last day of each of the first ``n_periods`` time units from ``start``.

        On a weekly axis the last day of week :math:`k` is day :math:`7k - 1`, at time
        :math:`k - 1/7`: the cumulative count there includes that whole week.

        Examples
        --------
        >>> f = EventFrame(event_id=np.arange(1), customer_id=np.array([1]),
        ...                timestamp=np.array(["2024-01-01"], dtype="datetime64[us]"))
        >>> cohort_purchases(f, kinds=None).period_ends(2).round(4).tolist()
        [0.8571, 1.8571]
        """
        if int(n_periods) != n_periods or n_periods < 1:
            raise ValueError(f"n_periods must be a whole number >= 1, got {n_periods!r}")
        unit = self.days_per_unit
        return np.asarray((np.arange(1, int(n_periods) + 1) * unit - 1) / unit, dtype=np.float64)


def _as_date(value: dt.date | str, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def cohort_purchases(
    events: EventFrame,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    time_unit: str = "week",
    kinds: tuple[str, ...] | None = ("purchase",),
    zone: str = "UTC",
) -> CohortPurchases:
    """Purchase days of a cohort on the models' time axis, for tracking plots.

    Purchases on one calendar day merge into one; a customer's first day is the
    acquisition, every later day a repeat purchase, exactly as
    :func:`~stickykit.models.data.calibration_holdout` counts them.

    Parameters
    ----------
    events : EventFrame
        Purchases (``kinds`` choose which event kinds count).
    start : date or str, optional
        Day 0 of the axis (default: the first purchase day). Customers whose first purchase
        is before it are left out.
    end : date or str, optional
        Last day included (default: all).
    time_unit : {"week", "day"}
    kinds : tuple of str or None
        Event kinds that are purchases (``None``: every row).
    zone : str
        IANA time zone whose calendar days count.

    Returns
    -------
    CohortPurchases

    Examples
    --------
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 1, 1, 2]),
    ...                timestamp=np.array(["2024-01-01", "2024-01-01", "2024-01-08",
    ...                                    "2024-01-08"], dtype="datetime64[us]"))
    >>> c = cohort_purchases(f, kinds=None)
    >>> c.customer_id.tolist(), c.first_purchase.tolist(), c.repeat_times.tolist()
    ([1, 2], [0.0, 1.0], [1.0])
    """
    if time_unit not in _DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {sorted(_DAYS_PER_UNIT)}, got {time_unit!r}")
    unit = _DAYS_PER_UNIT[time_unit]
    rows = qualifying(events, kinds)
    ids = events.customer_id if rows is None else events.customer_id[rows]
    stamps = events.timestamp if rows is None else events.timestamp[rows]
    days = period_index(stamps, "day", zone=zone)
    epoch = dt.date(1970, 1, 1)
    if end is not None:
        keep = days <= (_as_date(end, "end") - epoch).days
        ids, days = ids[keep], days[keep]
    if len(days) == 0:
        raise ValueError("no purchases to track")
    start_day = int(days.min()) if start is None else (_as_date(start, "start") - epoch).days
    customers, codes = unique_codes(ids)
    low = int(days.min())
    span = int(days.max()) - low + 1
    key = np.unique(codes.astype(np.int64) * span + (days - low))
    customer = key // span
    day = key % span + low
    first = np.flatnonzero(np.concatenate([[True], customer[1:] != customer[:-1]]))
    first_day = day[first]
    kept = first_day >= start_day
    is_repeat = np.ones(len(key), dtype=bool)
    is_repeat[first] = False
    is_repeat &= kept[customer]
    position = np.cumsum(kept) - 1
    return CohortPurchases(
        customer_id=customers[kept],
        first_purchase=(first_day[kept] - start_day) / unit,
        repeat_times=(day[is_repeat] - start_day) / unit,
        repeat_customer=position[customer[is_repeat]].astype(np.int64),
        start=epoch + dt.timedelta(days=start_day),
        time_unit=time_unit,
    )
