r"""Predictive customer lifetime value: margin x expected spend x discounted expected transactions.

For each customer with history :math:`(x, t_x, T, \bar z)`,

.. math::

   \mathrm{CLV} = m \cdot E(M \mid \bar z, x) \cdot \mathrm{DET}(x, t_x, T),

where :math:`m` is the margin (a rate in :math:`[0, 1]`), :math:`E(M \mid \bar z, x)` the
Gamma-Gamma expected spend per transaction (:class:`~stickykit.models.gammagamma.GammaGamma`)
and DET the discounted expected transactions of a transaction model
(:meth:`~stickykit.models.TransactionModel.discounted_expected_transactions`:
a periodic sum over the horizon by default, a closed form where a model has one). The
product rests on the Gamma-Gamma assumption that spend is independent of the transaction
process (Fader, Hardie & Lee 2005, eq. 2 and section "Spend";
:func:`~stickykit.models.gammagamma.spend_frequency_check`).

The interval reflects the uncertainty of both models' parameters. The two models are
fitted separately, so their log-parameters are taken as independent: the joint covariance is
block-diagonal, and the interval comes from the delta method with a Jacobian by central
differences over the joint log-parameter vector, or from seeded joint draws.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
customer base analysis. *Journal of Marketing Research* 42(4), 415-430.

Examples
--------
>>> from stickykit.models import Histories
>>> from stickykit.models.bgnbd import BGNBD
>>> from stickykit.models.gammagamma import GammaGamma
>>> h = Histories.from_arrays(frequency=[0, 2], recency=[0.0, 30.43], age=[38.86, 38.86],
...                           monetary=[None, 22.35])
>>> clv = customer_lifetime_value(
...     BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
...     GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44),
...     h, margin=0.3, annual_discount_rate=0.1, horizon=52)
>>> clv.expected_spend.round(2).tolist(), clv.discounted_transactions.round(3).tolist()
([35.22, 24.66], [0.241, 1.491])
>>> clv.value.round(2).tolist()  # 0.3 x spend x transactions
[2.54, 11.03]
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal, TypeVar

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg, stats

from stickykit.errors import NotFittedError, ValidationError
from stickykit.models._fit import LikelihoodModel, Prediction, _fitted
from stickykit.models._histories import Histories, fail_at
from stickykit.models._transactions import TransactionModel
from stickykit.models.gammagamma import GammaGamma, _expected_spend

__all__ = ["LifetimeValue", "customer_lifetime_value"]

_RECORD = "customer_lifetime_value"
_STEP = 1e-6
_NO_INTERVAL = "point estimate (no interval requested)"
_Model = TypeVar("_Model", bound=LikelihoodModel)


@attrs.frozen(eq=False)
class LifetimeValue:
    r"""Per-customer lifetime value with its parameter-uncertainty interval and its inputs.

    Attributes
    ----------
    value : numpy.ndarray
        Lifetime value per customer, in the currency of ``monetary``.
    ci_low, ci_high : numpy.ndarray or None
        The interval (``None`` unless requested).
    level : float or None
    method : str
        How the value and the interval were computed, including the discounting.
    customer_id : numpy.ndarray
    expected_spend : numpy.ndarray
        :math:`E(M \mid \bar z, x)` per customer.
    discounted_transactions : numpy.ndarray
        Discounted expected transactions per customer.
    margin : float or numpy.ndarray
    annual_discount_rate : float
    horizon : float or None
        In ``time_unit``; ``None`` for the whole future.
    time_unit : str
    transaction_model, spend_model : str
        Class names of the two models.

    Examples
    --------
    >>> import numpy as np
    >>> v = LifetimeValue(value=np.array([2.0, 3.0]), ci_low=None, ci_high=None, level=None,
    ...                   method="m", customer_id=np.array([1, 2]),
    ...                   expected_spend=np.array([20.0, 30.0]),
    ...                   discounted_transactions=np.array([0.5, 0.5]), margin=0.2,
    ...                   annual_discount_rate=0.1, horizon=52.0, time_unit="week",
    ...                   transaction_model="BGNBD", spend_model="GammaGamma")
    >>> len(v), v.total
    (2, 5.0)
    """

    value: NDArray[np.float64]
    ci_low: NDArray[np.float64] | None
    ci_high: NDArray[np.float64] | None
    level: float | None
    method: str
    customer_id: NDArray[Any]
    expected_spend: NDArray[np.float64]
    discounted_transactions: NDArray[np.float64]
    margin: float | NDArray[np.float64]
    annual_discount_rate: float
    horizon: float | None
    time_unit: str
    transaction_model: str
    spend_model: str

    def __len__(self) -> int:
        return len(self.value)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        return np.asarray(self.value, dtype=dtype)

    @property
    def total(self) -> float:
        """The sum over customers, the value of the whole customer base."""
        return float(self.value.sum())


def _margin(margin: float | ArrayLike, histories: Histories) -> float | NDArray[np.float64]:
    """A rate in [0, 1], or one per customer; ValidationError naming row and customer."""
    values = np.asarray(margin, dtype=np.float64)
    if values.ndim == 0:
        value = float(values)
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise ValidationError(
                record=_RECORD,
                field="margin",
                row=None,
                value=margin,
                expected="a margin rate in [0, 1] (0.3 for 30%)",
            )
        return value
    if values.ndim != 1 or len(values) != len(histories):
        raise ValidationError(
            record=_RECORD,
            field="margin",
            row=None,
            value=f"shape {values.shape}",
            expected=f"a number or a 1-D array of length {len(histories)} (one per customer)",
        )
    fail_at(
        ~(np.isfinite(values) & (values >= 0) & (values <= 1)),
        field="margin",
        values=values,
        expected="a margin rate in [0, 1] (0.3 for 30%)",
        customer_id=histories.customer_id,
        record=_RECORD,
    )
    return values


def _product(
    margin: float | NDArray[np.float64], spend: NDArray[np.float64], det: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The product margin x spend x det, 0 wherever the margin or the transactions are 0."""
    zero = (np.asarray(margin) == 0) | (det == 0)
    with np.errstate(invalid="ignore"):
        out = np.where(zero, 0.0, margin * spend * det)
    return np.asarray(out, dtype=np.float64)


def _with_params(model: _Model, params: NDArray[np.float64]) -> _Model:
    """A shallow copy of ``model`` whose parameters are ``params``."""
    clone = copy.copy(model)
    clone.params_ = {n: float(v) for n, v in zip(model.param_names, params, strict=True)}
    return clone


def customer_lifetime_value(
    transactions: TransactionModel,
    spend: GammaGamma,
    histories: Histories,
    *,
    margin: float | ArrayLike,
    annual_discount_rate: float,
    horizon: float | None = None,
    interval: bool = False,
    level: float | None = None,
    method: Literal["delta", "draws"] = "delta",
    step: float | None = None,
    periods_per_year: float | None = None,
    n_draws: int = 1000,
    seed: int = 0,
) -> LifetimeValue:
    r"""Expected lifetime value of each customer from a transaction model and a spend model.

    .. math::

       \mathrm{CLV}_i = m_i \cdot E(M \mid \bar z_i, x_i) \cdot \mathrm{DET}_i

    (Fader, Hardie & Lee 2005, eq. 2, with the Gamma-Gamma spend of note 025, eq. 5). DET is
    ``transactions.discounted_expected_transactions(histories, annual_discount_rate=...,
    horizon=..., ...)``: for the base transaction model a periodic sum of the expected
    transactions in each step, discounted at the end of the step (the result's ``method``
    states the steps and the rate per step); a model with a closed form (the continuous DERT
    of Pareto/NBD) uses it.

    Parameters
    ----------
    transactions : stickykit.models.TransactionModel
        A fitted transaction model (BG/NBD, MBG/NBD, Pareto/NBD...), or one built from given
        parameters (then no interval).
    spend : GammaGamma
        A fitted spend model.
    histories : Histories
        The customers, with ``monetary`` wherever ``frequency`` > 0.
    margin : float or array-like
        Profit margin as a rate in :math:`[0, 1]` (0.3 for 30%), or one per customer. With
        1, the result is discounted expected revenue.
    annual_discount_rate : float
        :math:`d \ge 0`, e.g. 0.1 for 10% a year.
    horizon : float, optional
        How far ahead, in the transaction model's time unit. ``None``: the whole future,
        available only for a transaction model whose discounted expected transactions have
        a closed form over an infinite horizon.
    interval : bool
        Add a parameter-uncertainty interval combining both models.
    level : float, optional
        Confidence level (default: the transaction model's).
    method : {"delta", "draws"}
        ``"delta"``: delta method over the joint log-parameters, block-diagonal covariance,
        Jacobian by central differences; ``"draws"``: equal-tailed quantiles over ``n_draws``
        seeded joint draws of the log-parameters (lower and upper order statistics, so a
        draw with an infinite mean spend stays infinite rather than NaN); each draw
        re-evaluates the discounted transactions, so draws are much slower than the delta
        method.
    step : float, optional
        Length of one discounting period in time units (the periodic sum's default: 1).
    periods_per_year : float, optional
        Time units per year, for a unit without a known length (or to override it).
    n_draws, seed : int
        For ``method="draws"``.

    Returns
    -------
    LifetimeValue

    Raises
    ------
    FitError
        The spend model's :math:`q \le 1` (the population mean spend is infinite).
    NotFittedError
        A model is not fitted, or an interval is requested from a model without covariance.
    ValidationError
        A margin outside :math:`[0, 1]`, or a repeat customer without a positive mean spend.
    ValueError
        ``horizon=None`` with a transaction model that needs a finite horizon, or an invalid
        rate, horizon, step or level.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: using iso-value curves
    for customer base analysis. *Journal of Marketing Research* 42(4), 415-430.

    Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value. Note 025.

    Examples
    --------
    >>> from stickykit.models.data import cdnow_histories
    >>> from stickykit.models.gammagamma import GammaGamma
    >>> h = cdnow_histories().calibration
    >>> spend = GammaGamma().fit(h)
    >>> from stickykit.models.bgnbd import BGNBD
    >>> clv = customer_lifetime_value(BGNBD().fit(h), spend, h, margin=0.3,
    ...                               annual_discount_rate=0.1, horizon=52, interval=True)
    >>> bool(np.all((clv.ci_low <= clv.value) & (clv.value <= clv.ci_high)))
    True
    """
    if not isinstance(transactions, TransactionModel):
        raise TypeError(
            f"transactions must be a TransactionModel (BGNBD, ParetoNBD...), got "
            f"{type(transactions).__name__}"
        )
    if not isinstance(spend, GammaGamma):
        raise TypeError(f"spend must be a GammaGamma model, got {type(spend).__name__}")
    _fitted(transactions)
    _fitted(spend)
    if method not in ("delta", "draws"):
        raise ValueError(f"method must be 'delta' or 'draws', got {method!r}")
    level = transactions.level if level is None else float(level)
    if interval and not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rates = _margin(margin, histories)
    expected_spend = spend.conditional_expected_spend(histories).value

    options: dict[str, Any] = {"annual_discount_rate": annual_discount_rate}
    if horizon is None:
        if (
            type(transactions).discounted_expected_transactions
            is TransactionModel.discounted_expected_transactions
        ):
            raise ValueError(
                f"{type(transactions).__name__} discounts by a periodic sum, which needs a "
                "finite horizon; pass horizon= (in the model's time unit)"
            )
        options["horizon"] = None
    else:
        options["horizon"] = float(horizon)
    if step is not None:
        options["step"] = step
    if periods_per_year is not None:
        options["periods_per_year"] = periods_per_year

    def det_at(model: TransactionModel) -> Prediction:
        return model.discounted_expected_transactions(histories, **options)

    at_estimate = det_at(transactions)
    det = np.asarray(at_estimate.value, dtype=np.float64)
    value = _product(rates, expected_spend, det)
    discounting = at_estimate.method.removesuffix(f"; {_NO_INTERVAL}")
    t_name, s_name = type(transactions).__name__, type(spend).__name__
    described = (
        f"margin x conditional expected spend ({s_name}) x discounted expected transactions "
        f"({t_name}: {discounting})"
    )
    ci_low = ci_high = None
    shown_level: float | None = None
    if interval:
        for model in (transactions, spend):
            if model.log_covariance_ is None:
                raise NotFittedError(
                    f"{type(model).__name__} was built from given parameters and has no "
                    "covariance; intervals need a fitted model"
                )
        assert transactions.log_covariance_ is not None
        assert spend.log_covariance_ is not None
        theta_t = np.log(transactions.params)
        theta_s = np.log(spend.params)
        covariance = linalg.block_diag(transactions.log_covariance_, spend.log_covariance_)
        repeat = histories.frequency > 0
        x = histories.frequency.astype(np.float64)
        z = np.where(repeat, histories.monetary, 0.0)

        def det_of(theta: NDArray[np.float64]) -> NDArray[np.float64]:
            clone = _with_params(transactions, np.exp(theta))
            return np.asarray(det_at(clone).value, dtype=np.float64)

        def spend_of(theta: NDArray[np.float64]) -> NDArray[np.float64]:
            return _expected_spend(np.exp(theta), x, z)

        z_crit = float(stats.norm.ppf(0.5 + level / 2))
        percent = f"{100 * level:g}%"
        if method == "delta":
            columns = []
            for j in range(len(theta_t)):
                shift = np.zeros(len(theta_t))
                shift[j] = _STEP
                change = (det_of(theta_t + shift) - det_of(theta_t - shift)) / (2 * _STEP)
                columns.append(rates * expected_spend * change)
            for j in range(len(theta_s)):
                shift = np.zeros(len(theta_s))
                shift[j] = _STEP
                change = (spend_of(theta_s + shift) - spend_of(theta_s - shift)) / (2 * _STEP)
                columns.append(rates * det * change)
            jacobian = np.stack(columns, axis=-1)
            variance = np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian)
            se = np.sqrt(np.maximum(variance, 0.0))
            ci_low, ci_high = value - z_crit * se, value + z_crit * se
            how = (
                f"delta method on the joint log-parameters of {t_name} and {s_name} "
                "(block-diagonal covariance: independent fits), Jacobian by central "
                f"differences, {percent} (parameter uncertainty)"
            )
        else:
            rng = np.random.default_rng(seed)
            joint = np.concatenate([theta_t, theta_s])
            draws = rng.multivariate_normal(joint, covariance, size=n_draws)
            k = len(theta_t)
            samples = np.stack([_product(rates, spend_of(d[k:]), det_of(d[:k])) for d in draws])
            ci_low = np.quantile(samples, 0.5 - level / 2, axis=0, method="lower")
            ci_high = np.quantile(samples, 0.5 + level / 2, axis=0, method="higher")
            how = (
                f"quantiles over {n_draws} seeded joint draws (seed {seed}) of the "
                f"log-parameters of {t_name} and {s_name} from their normal approximation "
                f"(block-diagonal covariance: independent fits), {percent} (parameter "
                "uncertainty)"
            )
        described += f"; {how}"
        shown_level = level
    else:
        described += f"; {_NO_INTERVAL}"
    return LifetimeValue(
        value=value,
        ci_low=ci_low,
        ci_high=ci_high,
        level=shown_level,
        method=described,
        customer_id=histories.customer_id,
        expected_spend=np.asarray(expected_spend, dtype=np.float64),
        discounted_transactions=det,
        margin=rates,
        annual_discount_rate=float(annual_discount_rate),
        horizon=None if horizon is None else float(horizon),
        time_unit=transactions.time_unit_,
        transaction_model=t_name,
        spend_model=s_name,
    )
