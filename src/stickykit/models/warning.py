r"""Churn early warning: per-customer risk, an alert list with reasons, and a holdout backtest.

Three signals are computed for each customer from the calibration history
:math:`(x, t_x, T)` (:class:`~stickykit.models.Histories`: repeat purchases, time of the last
one since the first, time since the first):

1. **Model risk** :math:`1 - P(\text{alive at } T \mid x, t_x, T)` from any fitted
   transaction model (:class:`~stickykit.models.TransactionModel`). Use the
   MBG/NBD or the Pareto/NBD: under the BG/NBD a customer can only drop out right after a
   *repeat* purchase, so every customer without one has :math:`P(\text{alive}) = 1` whatever
   their age (Fader, Hardie & Lee 2005, eq. 6), which is 60% of the CDNOW sample. The MBG/NBD
   (Batislam, Denizel & Filiztekin 2007) lets customers drop out right after the first
   purchase too, and the Pareto/NBD (Schmittlein, Morrison & Colombo 1987) at any time.
   :func:`churn_risk` therefore refuses a BG/NBD unless ``allow_bgnbd=True``.
2. **Recency gap** against the customer's own rhythm: the time since the last purchase,
   :math:`T - t_x`, over the customer's mean inter-purchase time :math:`t_x / x`.
3. **Frequency drop**, when the input carries the purchases of a recent window: the
   purchase rate in the last :math:`w` time units against the customer's earlier rate, with
   an exact conditional test of equal rates.

:func:`churn_alerts` turns the signals into a list of customers to contact, each with the
reasons, and :func:`backtest` measures how well the risk ranks the customers who then made
no purchase in a holdout period (AUC with DeLong's interval, lift curve, top-decile lift),
against a naive recency-only ranking.

Examples
--------
>>> from stickykit.models.mbgnbd import MBGNBD
>>> from stickykit.models._histories import Histories
>>> model = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
>>> h = Histories.from_arrays(frequency=[0, 4, 4], recency=[0.0, 8.0, 30.0],
...                           age=[38.0, 38.0, 38.0], customer_id=["a", "b", "c"])
>>> r = churn_risk(model, h)
>>> r.risk.round(2).tolist(), r.gap_ratio.round(1).tolist()
([0.61, 0.96, 0.28], [nan, 15.0, 1.1])
>>> print(churn_alerts(r))
customer  risk   reasons
b         0.964  P(alive) 0.04 < 0.30; no purchase for 15.0x the usual gap (30.0 vs 2.0 weeks)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import binom

from stickykit.errors import ValidationError
from stickykit.frames import EventFrame
from stickykit.models._histories import Histories, fail_at
from stickykit.models._transactions import TransactionModel
from stickykit.models.bgnbd import BGNBD
from stickykit.models.data import CalibrationHoldout, calibration_holdout
from stickykit.stats.classification import (
    DEFAULT_FRACTIONS,
    AUCComparison,
    AUCResult,
    LiftCurve,
    LiftResult,
    auc,
    compare_auc,
    lift_curve,
    top_decile_lift,
)
from stickykit.stats.intervals import check_alpha

__all__ = [
    "AlertList",
    "Backtest",
    "ChurnRisk",
    "ScoreCheck",
    "backtest",
    "churn_alerts",
    "churn_risk",
    "recent_frequency",
]

_RECORD = "churn_risk"
#: Relative tolerance on times: a last purchase this close to the window's start is before it.
_TIME_TOLERANCE = 1e-9

BGNBD_ARTEFACT = (
    "under the BG/NBD a customer can drop out only right after a repeat purchase, so every "
    "customer without one (frequency 0) has P(alive) = 1 whatever their age (Fader, Hardie "
    "& Lee 2005, Marketing Science 24(2), eq. 6): 60% of the CDNOW sample would rank as "
    "certainly alive. Use the MBG/NBD (stickykit.models.mbgnbd.MBGNBD) or the Pareto/NBD "
    "(stickykit.models.paretonbd.ParetoNBD), or pass allow_bgnbd=True to accept the artefact"
)

REFERENCE = (
    "P(alive): Batislam, Denizel & Filiztekin (2007), IJRM 24(3), 201-209 (MBG/NBD); "
    "Schmittlein, Morrison & Colombo (1987), Management Science 33(1), 1-24 (Pareto/NBD); "
    "Fader, Hardie & Lee (2005), Marketing Science 24(2), 275-284 (BG/NBD). Frequency drop: "
    "the conditional test of two Poisson rates, Przyborowski & Wilenski (1940), Biometrika "
    "31(3/4), 313-323"
)


# -- risk ----------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class ChurnRisk:
    r"""Per-customer churn risk and behavioural signals, in the histories' row order.

    Parameters
    ----------
    customer_id : numpy.ndarray
    risk : numpy.ndarray
        :math:`1 - P(\text{alive at } T)`.
    p_alive : numpy.ndarray
        :math:`P(\text{alive at } T \mid x, t_x, T)` from the model.
    p_no_purchase : numpy.ndarray or None
        :math:`P(Y(h) = 0 \mid x, t_x, T)`: the model's probability of no purchase in the
        next ``horizon`` time units (dead, or alive but not buying), when asked for.
    horizon : float or None
        :math:`h`, in ``time_unit``.
    risk_low, risk_high : numpy.ndarray or None
        Parameter-uncertainty interval of the risk (``interval=True``), else ``None``.
    frequency : numpy.ndarray
        Repeat purchases :math:`x`.
    current_gap : numpy.ndarray
        Time since the last purchase, :math:`T - t_x` (since the first when :math:`x = 0`).
    usual_gap : numpy.ndarray
        Mean time between purchases, :math:`t_x / x`; NaN when :math:`x = 0`.
    gap_ratio : numpy.ndarray
        ``current_gap / usual_gap``; NaN when :math:`x = 0`.
    recent_frequency : numpy.ndarray or None
        Repeat purchases :math:`k` in the last ``recent_window`` time units, when given.
    expected_recent : numpy.ndarray or None
        Purchases expected in the window at the earlier rate,
        :math:`w (x - k)/(T - w)`; NaN when :math:`T \le w` (no earlier period).
    frequency_ratio : numpy.ndarray or None
        ``recent_frequency / expected_recent``: the recent rate over the earlier rate; NaN
        where no purchase was expected.
    drop_probability : numpy.ndarray or None
        :math:`P(K \le k)` for :math:`K \sim \mathrm{Binomial}(x, w/T)`: the chance of so
        few recent purchases if the rate had not changed; NaN when :math:`T \le w`.
    recent_window : float or None
        :math:`w`, in ``time_unit``.
    time_unit : str
    model : str
        The model's class name.
    n : int
        Customers (rows) scored.
    method, reference : str

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> m = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> h = Histories.from_arrays(frequency=[6], recency=[20.0], age=[39.0])
    >>> r = churn_risk(m, h, recent_frequency=[0], recent_window=13.0)
    >>> r.expected_recent.tolist(), r.frequency_ratio.tolist(), r.drop_probability.round(4).tolist()
    ([3.0], [0.0], [0.0878])
    """

    customer_id: NDArray[Any]
    risk: NDArray[np.float64]
    p_alive: NDArray[np.float64]
    p_no_purchase: NDArray[np.float64] | None
    horizon: float | None
    risk_low: NDArray[np.float64] | None
    risk_high: NDArray[np.float64] | None
    frequency: NDArray[np.int64]
    current_gap: NDArray[np.float64]
    usual_gap: NDArray[np.float64]
    gap_ratio: NDArray[np.float64]
    recent_frequency: NDArray[np.int64] | None
    expected_recent: NDArray[np.float64] | None
    frequency_ratio: NDArray[np.float64] | None
    drop_probability: NDArray[np.float64] | None
    recent_window: float | None
    time_unit: str
    model: str
    n: int
    method: str
    reference: str = REFERENCE

    def __len__(self) -> int:
        return self.n


def _is_bgnbd(model: TransactionModel) -> bool:
    """Whether ``model`` is a BG/NBD, whose P(alive) is 1 for every non-repeater."""
    return isinstance(model, BGNBD)


def _recent(
    recent_frequency: ArrayLike,
    recent_window: float,
    histories: Histories,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validate the window counts; return k, expected, ratio and the binomial tail."""
    if not (math.isfinite(recent_window) and recent_window > 0):
        raise ValueError(f"recent_window must be a finite time > 0, got {recent_window!r}")
    raw = np.asarray(recent_frequency)
    n = len(histories)
    if raw.ndim != 1 or len(raw) != n:
        raise ValidationError(
            record=_RECORD,
            field="recent_frequency",
            row=None,
            value=f"shape {raw.shape}",
            expected=f"a 1-D array of length {n} (one per history)",
        )
    if raw.dtype.kind not in "iuf":
        raise ValidationError(
            record=_RECORD,
            field="recent_frequency",
            row=None,
            value=f"an array of dtype {raw.dtype}",
            expected="whole numbers",
        )
    k = raw.astype(np.float64)
    x = histories.frequency.astype(np.float64)
    big_t, t_x, ids = histories.age, histories.recency, histories.customer_id
    w = float(recent_window)

    def check(bad: NDArray[np.bool_], expected: str) -> None:
        fail_at(
            bad,
            field="recent_frequency",
            values=k,
            expected=expected,
            customer_id=ids,
            record=_RECORD,
        )

    check(~np.isfinite(k) | (k < 0) | (k != np.round(k)), "a whole number >= 0")
    check(k > x, "at most frequency (repeat purchases)")
    # a purchase at the window's start is before it; the tolerance absorbs the rounding of
    # times computed as days / 7 (e.g. 1/7 > 92/7 - 13 in floating point)
    in_window = (x > 0) & (t_x > big_t - w + _TIME_TOLERANCE * np.maximum(big_t, 1.0))
    check((k > 0) & ~in_window, "0 when the last purchase (recency) is before the window")
    check((k == 0) & in_window, "> 0 when the last purchase (recency) falls in the window")
    earlier = big_t - w
    has_earlier = earlier > 0
    safe_earlier = np.where(has_earlier, earlier, 1.0)
    expected = np.where(has_earlier, w * (x - k) / safe_earlier, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, k / np.where(expected > 0, expected, 1.0), np.nan)
    share = np.where(has_earlier, w / np.where(big_t > 0, big_t, 1.0), 0.5)
    tail = np.where(has_earlier, binom.cdf(k, x, share), np.nan)
    return k.astype(np.int64), expected, ratio, np.asarray(tail, dtype=np.float64)


def churn_risk(
    model: TransactionModel,
    histories: Histories,
    *,
    allow_bgnbd: bool = False,
    recent_frequency: ArrayLike | None = None,
    recent_window: float | None = None,
    horizon: float | None = None,
    interval: bool = False,
    level: float | None = None,
) -> ChurnRisk:
    r"""Per-customer churn risk :math:`1 - P(\text{alive})` with recency and frequency signals.

    Parameters
    ----------
    model : TransactionModel
        A fitted transaction model (MBG/NBD or Pareto/NBD recommended), or one built with
        ``from_params``.
    histories : Histories
        The customers' calibration histories :math:`(x, t_x, T)`, in the model's time unit.
    allow_bgnbd : bool
        Accept a BG/NBD model despite its :math:`P(\text{alive}) = 1` artefact for every
        customer without a repeat purchase. ``False`` by default.
    recent_frequency : array_like, optional
        Per history, the repeat purchases :math:`k` (counted like ``frequency``) in the last
        ``recent_window`` time units, :math:`(T - w, T]`. Needed for the frequency drop.
    recent_window : float, optional
        The window :math:`w`, in the histories' time unit; given with ``recent_frequency``.
    horizon : float, optional
        Also give the model's probability of no purchase in the next ``horizon`` time
        units, :math:`P(Y(h) = 0 \mid x, t_x, T)`.
    interval : bool
        Add the model's parameter-uncertainty interval of the risk (delta method), for a
        fitted model only.
    level : float, optional
        Its confidence level (default: the model's).

    Returns
    -------
    ChurnRisk

    Raises
    ------
    TypeError
        ``model`` is not a :class:`~stickykit.models.TransactionModel`.
    ValueError
        A BG/NBD without ``allow_bgnbd=True``; time units that differ; only one of
        ``recent_frequency`` and ``recent_window``; a window that is not a positive time.
    stickykit.errors.NotFittedError
        An unfitted model.
    stickykit.errors.ValidationError
        Window counts that are not whole numbers in :math:`[0, x]` or contradict recency
        (a purchase in the window needs :math:`t_x > T - w`, and then :math:`k \ge 1`).

    Notes
    -----
    **Risk.** :math:`1 - P(\text{alive at } T \mid x, t_x, T)`, the model's probability that
    the customer has already dropped out by the end of calibration. For the MBG/NBD
    (Batislam, Denizel & Filiztekin 2007, with the erratum of Wagner & Hoppe 2008),
    :math:`P(\text{alive}) = 1 / (1 + \frac{a}{b+x}(\frac{\alpha+T}{\alpha+t_x})^{r+x})`,
    which falls with age for :math:`x = 0` as well. For the BG/NBD (Fader, Hardie & Lee
    2005, eq. 6) the factor carries :math:`1\{x > 0\}`, so :math:`P(\text{alive}) = 1` for
    every customer with no repeat purchase: on the CDNOW sample that is 1,411 of 2,357
    customers, all ranked as certainly alive.

    **Recency gap.** With :math:`x \ge 1` repeat purchases the customer's mean
    inter-purchase time is :math:`g = t_x / x` (the :math:`x + 1` purchases span
    :math:`t_x`), and

    .. math::

        \text{gap ratio} = \frac{T - t_x}{t_x / x}.

    While a customer is alive, the NBD models have them buy as a Poisson process, so the
    time since the last purchase is about exponential with mean :math:`g` and exceeds
    :math:`k g` with probability :math:`e^{-k}` (5% for :math:`k = 3`, the default alert
    threshold of :func:`churn_alerts`). :math:`g` is itself estimated, noisily when
    :math:`x` is small. Undefined (NaN) for :math:`x = 0`.

    **Frequency drop.** With :math:`k` of the :math:`x` repeat purchases in the window
    :math:`(T - w, T]` and the earlier period :math:`(0, T - w]` (the first purchase, at
    0, is not counted), the earlier rate predicts :math:`e = w (x - k)/(T - w)` purchases in
    the window, and the frequency ratio is :math:`k / e` (NaN when :math:`e = 0`). If the
    rate had not changed, :math:`k` given :math:`x` would be
    :math:`\mathrm{Binomial}(x, w/T)`: the conditional test of two Poisson rates
    (Przyborowski & Wilenski 1940). ``drop_probability`` is its lower tail
    :math:`P(K \le k)`, small when the recent purchases are too few to be chance. Both are
    NaN for customers younger than the window (:math:`T \le w`). A last purchase within a
    relative :math:`10^{-9}` of the window's start counts as before it (times in weeks are
    days / 7, rounded). The window counts come
    from events: with :func:`~stickykit.models.data.calibration_holdout` at
    ``calibration_end`` minus :math:`w` and ``holdout_end`` at the calibration end, they
    are that split's ``holdout_frequency``.

    **No purchase ahead.** :math:`1 - P(\text{alive})` answers "has this customer already
    left?". Whether they will buy in the next :math:`h` time units also depends on how
    often they buy while alive: ``horizon`` adds the model's
    :math:`P(Y(h) = 0 \mid x, t_x, T)`, the probability of exactly the event that a
    holdout check observes (see :func:`backtest`).

    References
    ----------
    Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). Empirical validation and
    comparison of models for customer base analysis. *International Journal of Research
    in Marketing* 24(3), 201-209.

    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the
    easy way: an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    Przyborowski, J. and Wilenski, H. (1940). Homogeneity of results in testing samples
    from Poisson series. *Biometrika* 31(3/4), 313-323.

    Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). Counting your customers:
    who are they and what will they do next? *Management Science* 33(1), 1-24.

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> m = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> h = Histories.from_arrays(frequency=[8, 8], recency=[20.0, 38.0], age=[39.0, 39.0])
    >>> r = churn_risk(m, h, recent_frequency=[0, 3], recent_window=13.0)
    >>> r.gap_ratio.round(2).tolist(), r.frequency_ratio.round(2).tolist()
    ([7.6, 0.21], [0.0, 1.2])
    >>> r.drop_probability.round(3).tolist()
    [0.039, 0.741]
    """
    if not isinstance(model, TransactionModel):
        raise TypeError(
            f"churn_risk needs a fitted TransactionModel (MBGNBD, ParetoNBD...), got "
            f"{type(model).__name__}"
        )
    if _is_bgnbd(model) and not allow_bgnbd:
        raise ValueError(f"churn_risk refuses a BG/NBD model: {BGNBD_ARTEFACT}")
    if (recent_frequency is None) != (recent_window is None):
        raise ValueError("give recent_frequency and recent_window together, or neither")
    if model.time_unit_ and model.time_unit_ != histories.time_unit:
        raise ValueError(
            f"the model was fitted in {model.time_unit_}s but the histories are in "
            f"{histories.time_unit}s"
        )
    prediction = model.probability_alive(histories, interval=interval, level=level)
    p_none = None
    if horizon is not None:
        p_none = np.asarray(model.probability_of_transactions(0, horizon, histories))
        fail_at(
            ~np.isfinite(p_none) | (p_none < 0) | (p_none > 1),
            field="p_no_purchase",
            values=p_none,
            expected=f"a probability from {type(model).__name__}",
            customer_id=histories.customer_id,
            record=_RECORD,
        )
    p_alive = np.asarray(prediction.value, dtype=np.float64)
    fail_at(
        ~np.isfinite(p_alive) | (p_alive < 0) | (p_alive > 1),
        field="p_alive",
        values=p_alive,
        expected=f"a probability from {type(model).__name__}",
        customer_id=histories.customer_id,
        record=_RECORD,
    )
    x = histories.frequency
    current = histories.age - histories.recency
    has_repeat = x > 0
    usual = np.where(has_repeat, histories.recency / np.maximum(x, 1), np.nan)
    gap_ratio = np.where(has_repeat, current / np.where(has_repeat, usual, 1.0), np.nan)
    risk_low = risk_high = None
    if prediction.ci_low is not None and prediction.ci_high is not None:
        risk_low = np.clip(1.0 - prediction.ci_high, 0.0, 1.0)
        risk_high = np.clip(1.0 - prediction.ci_low, 0.0, 1.0)
    name = type(model).__name__
    method = f"risk = 1 - P(alive at T) from {name}; gap ratio = (T - t_x)/(t_x/x) for x > 0"
    k = expected = ratio = tail = None
    window = None
    if recent_frequency is not None and recent_window is not None:
        window = float(recent_window)
        k, expected, ratio, tail = _recent(recent_frequency, window, histories)
        method += (
            f"; frequency ratio = k/(w(x-k)/(T-w)) over the last {window:g} "
            f"{histories.time_unit}(s), drop probability = P(Binomial(x, w/T) <= k)"
        )
    if horizon is not None:
        method += f"; P(no purchase in the next {horizon:g} {histories.time_unit}(s)) from {name}"
    if risk_low is not None:
        method += f"; risk interval: {prediction.method}, clipped to [0, 1]"
    return ChurnRisk(
        customer_id=histories.customer_id,
        risk=1.0 - p_alive,
        p_alive=p_alive,
        p_no_purchase=p_none,
        horizon=None if horizon is None else float(horizon),
        risk_low=risk_low,
        risk_high=risk_high,
        frequency=x,
        current_gap=current,
        usual_gap=usual,
        gap_ratio=gap_ratio,
        recent_frequency=k,
        expected_recent=expected,
        frequency_ratio=ratio,
        drop_probability=tail,
        recent_window=window,
        time_unit=histories.time_unit,
        model=name,
        n=len(histories),
        method=method,
    )


def recent_frequency(
    events: EventFrame,
    split: CalibrationHoldout,
    window: float,
    *,
    kinds: tuple[str, ...] | None = ("purchase",),
    zone: str = "UTC",
) -> NDArray[np.int64]:
    """Repeat purchases in the last ``window`` time units of calibration, per customer.

    The input ``recent_frequency`` of :func:`churn_risk`, aligned with
    ``split.calibration``: purchase days in :math:`(T - w, T]`, counted like ``frequency``
    (same-day purchases merged, the first purchase excluded). Computed as the holdout
    counts of :func:`~stickykit.models.data.calibration_holdout` ending the calibration
    ``window`` earlier; a customer first seen inside the window has all their repeat
    purchases there.

    Parameters
    ----------
    events : EventFrame
        The events the split was built from.
    split : CalibrationHoldout
        The calibration histories (days or weeks) and their ``calibration_end``.
    window : float
        :math:`w` in the histories' time unit, a whole number of days.
    kinds, zone
        As given to :func:`~stickykit.models.data.calibration_holdout` for ``split``.

    Returns
    -------
    numpy.ndarray of int64

    Raises
    ------
    ValueError
        A window that is not a positive whole number of days, a time unit other than days
        or weeks, or events that do not reproduce the split's frequencies.

    Examples
    --------
    >>> from stickykit.datasets import load_cdnow
    >>> from stickykit.models.data import cdnow_histories
    >>> k = recent_frequency(load_cdnow(sample=True, ids="sample"), cdnow_histories(), 13.0)
    >>> len(k), int(k.sum()), int((k > 0).sum())
    (2357, 711, 411)
    """
    h = split.calibration
    per_unit = {"day": 1.0, "week": 7.0}.get(h.time_unit)
    if per_unit is None:
        raise ValueError(f"recent_frequency needs days or weeks, got {h.time_unit!r}")
    days = float(window) * per_unit
    if not (math.isfinite(days) and days >= 1 and days == round(days)):
        raise ValueError(
            f"window must be a positive whole number of days, got {window!r} {h.time_unit}(s)"
        )
    start = split.calibration_end - dt.timedelta(days=round(days))
    before = calibration_holdout(
        events,
        calibration_end=start,
        holdout_end=split.calibration_end,
        time_unit=h.time_unit,
        kinds=kinds,
        zone=zone,
    )
    counts = h.frequency.copy()
    earlier = np.zeros(len(h), dtype=np.int64)
    found = np.zeros(len(h), dtype=bool)
    earlier_ids = before.calibration.customer_id
    if len(earlier_ids):
        order = np.argsort(earlier_ids, kind="stable")
        place = np.minimum(np.searchsorted(earlier_ids[order], h.customer_id), len(order) - 1)
        rows = order[place]
        found = earlier_ids[rows] == h.customer_id
        counts[found] = before.holdout_frequency[rows[found]]
        earlier[found] = before.calibration.frequency[rows[found]]
    mismatch = found & (earlier + counts != h.frequency)
    if mismatch.any():
        row = int(np.flatnonzero(mismatch)[0])
        raise ValueError(
            f"the events do not reproduce the split: customer {h.customer_id[row]!s} has "
            f"{int(h.frequency[row])} repeat purchases in the split but "
            f"{int(earlier[row] + counts[row])} in the events (same kinds and zone?)"
        )
    return np.asarray(counts, dtype=np.int64)


# -- alerts --------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class AlertList:
    """Customers flagged by at least one rule, riskiest first, each with its reasons.

    Rows are sorted by decreasing risk, ties by increasing customer id (never by row
    order). ``str()`` shows the first rows.

    Parameters
    ----------
    customer_id : numpy.ndarray
    risk : numpy.ndarray
        :math:`1 - P(alive)`.
    p_alive, gap_ratio, frequency_ratio : numpy.ndarray
        The signals behind the alerts (NaN where undefined or not given).
    by_p_alive, by_gap, by_frequency : numpy.ndarray of bool
        Which rules fired.
    reason : numpy.ndarray of str
        The fired rules in words, joined by ``"; "``.
    n : int
        Customers screened.
    thresholds : Mapping
        The rules' thresholds (``None``: rule off).
    model : str
    method : str

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> m = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> h = Histories.from_arrays(frequency=[3, 3], recency=[9.0, 30.0], age=[39.0, 39.0])
    >>> alerts = churn_alerts(churn_risk(m, h))
    >>> len(alerts), alerts.reason.tolist()
    (1, ['P(alive) 0.10 < 0.30; no purchase for 10.0x the usual gap (30.0 vs 3.0 weeks)'])
    """

    customer_id: NDArray[Any]
    risk: NDArray[np.float64]
    p_alive: NDArray[np.float64]
    gap_ratio: NDArray[np.float64]
    frequency_ratio: NDArray[np.float64]
    by_p_alive: NDArray[np.bool_]
    by_gap: NDArray[np.bool_]
    by_frequency: NDArray[np.bool_]
    reason: NDArray[np.str_]
    n: int
    thresholds: Mapping[str, float | None]
    model: str
    method: str

    def __len__(self) -> int:
        return len(self.customer_id)

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, limit: int = 10) -> str:
        """The first ``limit`` alerts as a text table.

        Examples
        --------
        >>> from stickykit.models.mbgnbd import MBGNBD
        >>> m = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
        >>> h = Histories.from_arrays(frequency=[1], recency=[2.0], age=[39.0])
        >>> print(churn_alerts(churn_risk(m, h)).to_text(limit=0))
        customer  risk   reasons
        (1 alert of 1 customer screened; 1 not shown)
        """
        shown = min(limit, len(self))
        ids = [str(v) for v in self.customer_id[:shown]]
        width = max([8, *map(len, ids)])
        lines = [f"{'customer':<{width}}  risk   reasons"]
        lines += [f"{ids[i]:<{width}}  {self.risk[i]:.3f}  {self.reason[i]}" for i in range(shown)]
        if shown < len(self):
            lines.append(
                f"({len(self):,} alert{'s' * (len(self) != 1)} of {self.n:,} customer"
                f"{'s' * (self.n != 1)} screened; {len(self) - shown:,} not shown)"
            )
        return "\n".join(lines)


def _fmt(template: str, values: NDArray[Any]) -> NDArray[np.str_]:
    return np.asarray(np.strings.mod(template, values), dtype=np.str_)


def _join(*parts: NDArray[np.str_] | str) -> NDArray[np.str_]:
    out: Any = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return np.asarray(out, dtype=np.str_)


def _threshold(value: float | None, name: str, *, low: float, high: float) -> float | None:
    if value is None:
        return None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}] or None, got {value!r}")
    return float(value)


def churn_alerts(
    risk: ChurnRisk,
    *,
    p_alive_threshold: float | None = 0.3,
    gap_threshold: float | None = 3.0,
    drop_ratio: float | None = 0.5,
    drop_probability: float | None = 0.05,
) -> AlertList:
    r"""The alert list: customers flagged by any rule, riskiest first, with the reasons.

    Parameters
    ----------
    risk : ChurnRisk
        From :func:`churn_risk`.
    p_alive_threshold : float or None
        Alert when :math:`P(\text{alive}) <` this; 0.3 by default. ``None`` turns it off.
    gap_threshold : float or None
        Alert when the time since the last purchase is at least this many times the
        customer's usual gap (gap ratio :math:`\ge` threshold); 3 by default, which an
        alive Poisson buyer exceeds with probability about :math:`e^{-3} \approx 5\%`.
    drop_ratio : float or None
        Alert on a frequency drop when the recent rate is at most this fraction of the
        earlier rate; 0.5 (halved) by default. Needs the window counts of
        :func:`churn_risk`.
    drop_probability : float or None
        ... and the drop is unlikely to be chance: the binomial lower tail
        ``drop_probability`` of :class:`ChurnRisk` is at most this; 0.05 by default
        (``None``: the ratio alone decides).

    Returns
    -------
    AlertList
        Sorted by decreasing risk, ties by customer id.

    Raises
    ------
    ValueError
        A threshold out of range.
    stickykit.errors.ValidationError
        Duplicate customer ids (the order would then depend on rows).

    Notes
    -----
    The thresholds are business choices, not estimates: a lower ``p_alive_threshold``
    gives a shorter list of surer cases. Reasons read like ``"P(alive) 0.18 < 0.30"``,
    ``"no purchase for 3.2x the usual gap (12.8 vs 4.0 weeks)"`` and ``"purchases down to
    0.13x the earlier rate (1 in the last 13 weeks vs 7.5 expected, P = 0.014)"`` (``P < 0.001``
    below that). Risk
    ranks the list because it is the only signal defined for every customer; Lemmens &
    Gupta (2020), *Marketing Science* 39(5), 956-973, argue for targeting by the expected
    gain from intervening instead, when that can be estimated.

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> m = MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> h = Histories.from_arrays(frequency=[16, 1], recency=[36.0, 2.0], age=[39.0, 39.0],
    ...                           customer_id=[7, 3])
    >>> r = churn_risk(m, h, recent_frequency=[1, 0], recent_window=13.0)
    >>> alerts = churn_alerts(r)
    >>> alerts.customer_id.tolist(), alerts.by_frequency.tolist()
    ([3, 7], [False, True])
    >>> print(alerts.reason[1])
    purchases down to 0.13x the earlier rate (1 in the last 13 weeks vs 7.5 expected, P = 0.014)
    """
    p_cut = _threshold(p_alive_threshold, "p_alive_threshold", low=0.0, high=1.0)
    gap_cut = _threshold(gap_threshold, "gap_threshold", low=0.0, high=math.inf)
    ratio_cut = _threshold(drop_ratio, "drop_ratio", low=0.0, high=math.inf)
    tail_cut = _threshold(drop_probability, "drop_probability", low=0.0, high=1.0)
    ids = risk.customer_id
    if len(np.unique(ids)) != len(ids):
        _, first, counts = np.unique(ids, return_index=True, return_counts=True)
        row = int(np.sort(first[counts > 1])[0])
        raise ValidationError(
            record="churn_alerts",
            field="customer_id",
            row=row,
            value=ids[row].item() if hasattr(ids[row], "item") else ids[row],
            expected="unique customer ids (ties in risk are broken by id)",
        )
    n = risk.n
    unit = f" {risk.time_unit}s"
    p = risk.p_alive
    by_p = p < p_cut if p_cut is not None else np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        by_gap = risk.gap_ratio >= gap_cut if gap_cut is not None else np.zeros(n, dtype=bool)
    nan = np.full(n, np.nan)
    ratio = risk.frequency_ratio if risk.frequency_ratio is not None else nan
    tail = risk.drop_probability if risk.drop_probability is not None else nan
    expected = risk.expected_recent if risk.expected_recent is not None else nan
    recent = risk.recent_frequency if risk.recent_frequency is not None else np.zeros(n, int)
    if ratio_cut is not None:
        with np.errstate(invalid="ignore"):
            by_freq = ratio <= ratio_cut
            if tail_cut is not None:
                by_freq &= tail <= tail_cut
    else:
        by_freq = np.zeros(n, dtype=bool)
    flagged = by_p | by_gap | by_freq
    rows = np.flatnonzero(flagged)
    order = rows[np.argsort(ids[rows], kind="stable")]
    order = order[np.argsort(-risk.risk[order], kind="stable")]
    empty = np.full(len(order), "", dtype=np.str_)
    text_p = _join(_fmt("P(alive) %.2f", p[order]), f" < {p_cut or 0.0:.2f}; ")
    text_gap = _join(
        _fmt("no purchase for %.1fx the usual gap (", risk.gap_ratio[order]),
        _fmt("%.1f vs ", risk.current_gap[order]),
        _fmt("%.1f", risk.usual_gap[order]),
        unit + "); ",
    )
    text_freq = _join(
        _fmt("purchases down to %.2fx the earlier rate (", ratio[order]),
        _fmt("%d in the last ", recent[order]),
        f"{risk.recent_window or 0.0:g}{unit} vs ",
        _fmt("%.1f expected, ", expected[order]),
        np.where(tail[order] < 0.001, "P < 0.001); ", _fmt("P = %.3f); ", tail[order])),
    )
    reason = _join(
        np.where(by_p[order], text_p, empty),
        np.where(by_gap[order], text_gap, empty),
        np.where(by_freq[order], text_freq, empty),
    )
    reason = np.asarray(np.strings.rstrip(reason, "; "), dtype=np.str_)
    thresholds = {
        "p_alive_threshold": p_cut,
        "gap_threshold": gap_cut,
        "drop_ratio": ratio_cut,
        "drop_probability": tail_cut,
    }
    rules = ", ".join(f"{k}={v}" for k, v in thresholds.items())
    return AlertList(
        customer_id=ids[order],
        risk=risk.risk[order],
        p_alive=p[order],
        gap_ratio=risk.gap_ratio[order],
        frequency_ratio=ratio[order],
        by_p_alive=by_p[order],
        by_gap=by_gap[order],
        by_frequency=by_freq[order],
        reason=reason,
        n=n,
        thresholds=thresholds,
        model=risk.model,
        method=f"alert when any rule fires ({rules}); sorted by risk, ties by customer id; "
        + risk.method,
    )


# -- backtest ------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class ScoreCheck:
    """How one score ranked the churned customers of a holdout period.

    Parameters
    ----------
    name : str
        What the score is.
    scores : numpy.ndarray
        Per customer, higher meaning more likely churned.
    auc : AUCResult
        With DeLong's interval.
    lift : LiftCurve
        Lift and gains at the chosen fractions.
    top_decile_lift : LiftResult
    versus_naive : AUCComparison or None
        Paired DeLong comparison with the naive recency score (``None`` for that score).

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> from stickykit.models.data import cdnow_histories
    >>> check = backtest(MBGNBD, cdnow_histories()).no_purchase
    >>> check.name, check.auc.n
    ('P(no purchase in 39 weeks)', 2357)
    """

    name: str
    scores: NDArray[np.float64]
    auc: AUCResult
    lift: LiftCurve
    top_decile_lift: LiftResult
    versus_naive: AUCComparison | None

    def line(self) -> str:
        """One line: AUC with its interval, top-decile lift, and the difference from naive."""
        a = self.auc
        text = (
            f"{self.name:<28} AUC {a.value:.3f} [{a.level:.0%} CI {a.ci_low:.3f} to "
            f"{a.ci_high:.3f}], top-decile lift {self.top_decile_lift.value:.2f}"
        )
        v = self.versus_naive
        if v is not None:
            text += f"; vs naive {v.difference:+.3f} (p = {v.p_value:.2g})"
        return text


def _check(
    name: str,
    scores: NDArray[np.float64],
    churned: NDArray[np.bool_],
    naive: NDArray[np.float64] | None,
    alpha: float,
    fractions: ArrayLike,
) -> ScoreCheck:
    return ScoreCheck(
        name=name,
        scores=scores,
        auc=auc(scores, churned, alpha=alpha),
        lift=lift_curve(scores, churned, fractions),
        top_decile_lift=top_decile_lift(scores, churned),
        versus_naive=None if naive is None else compare_auc(scores, naive, churned, alpha=alpha),
    )


@attrs.frozen(eq=False)
class Backtest:
    r"""How well a model's churn scores ranked the customers lost in a holdout period.

    ``auc``, ``lift`` and ``top_decile_lift`` are those of the risk
    :math:`1 - P(\text{alive})`; ``no_purchase`` and ``naive`` hold the other two scores.

    Parameters
    ----------
    model : TransactionModel
        The model fitted on the calibration histories.
    risk : ChurnRisk
        Its per-customer risk on them, with ``p_no_purchase`` over the holdout length.
    churned : numpy.ndarray of bool
        The label: no purchase in the holdout period.
    p_alive : ScoreCheck
        The risk :math:`1 - P(\text{alive at } T)`.
    no_purchase : ScoreCheck
        The model's :math:`P(\text{no purchase in the holdout period})`.
    naive : ScoreCheck
        The time since the last purchase, :math:`T - t_x`.
    base_rate : float
        Share of customers churned.
    n, n_churned : int
    holdout_length : float
        In the histories' time unit.
    method : str

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> from stickykit.models.data import cdnow_histories
    >>> print(backtest(MBGNBD, cdnow_histories()))
    MBGNBD backtest: n = 2,357, churned (no purchase in 39 weeks) = 1,673 (base rate 0.710)
      1 - P(alive)  ...
    """

    model: TransactionModel
    risk: ChurnRisk
    churned: NDArray[np.bool_]
    p_alive: ScoreCheck
    no_purchase: ScoreCheck
    naive: ScoreCheck
    base_rate: float
    n: int
    n_churned: int
    holdout_length: float
    method: str

    @property
    def auc(self) -> AUCResult:
        """AUC of the risk :math:`1 - P(alive)`, with DeLong's interval."""
        return self.p_alive.auc

    @property
    def lift(self) -> LiftCurve:
        """Lift curve of the risk :math:`1 - P(alive)`."""
        return self.p_alive.lift

    @property
    def top_decile_lift(self) -> LiftResult:
        """Top-decile lift of the risk :math:`1 - P(alive)`."""
        return self.p_alive.top_decile_lift

    def __str__(self) -> str:
        head = (
            f"{self.risk.model} backtest: n = {self.n:,}, churned (no purchase in "
            f"{self.holdout_length:g} {self.risk.time_unit}s) = {self.n_churned:,} "
            f"(base rate {self.base_rate:.3f})"
        )
        lines = [head] + ["  " + c.line() for c in (self.p_alive, self.no_purchase, self.naive)]
        return "\n".join(lines)


def backtest(
    model_factory: Callable[[], TransactionModel],
    split: CalibrationHoldout,
    *,
    alpha: float = 0.05,
    fractions: ArrayLike = DEFAULT_FRACTIONS,
    allow_bgnbd: bool = False,
) -> Backtest:
    r"""Fit on calibration, score churn risk, and check it against the holdout period.

    Parameters
    ----------
    model_factory : callable
        Returns a new, unfitted transaction model: a class such as
        :class:`~stickykit.models.mbgnbd.MBGNBD`, or e.g.
        ``lambda: ParetoNBD(penalizer=0.01)``.
    split : CalibrationHoldout
        Calibration histories and holdout purchase counts
        (:func:`~stickykit.models.data.calibration_holdout`).
    alpha : float
        One minus the confidence level of the AUC intervals.
    fractions : array_like
        Fractions for the lift curves; deciles by default.
    allow_bgnbd : bool
        As in :func:`churn_risk`.

    Returns
    -------
    Backtest

    Raises
    ------
    TypeError
        The factory does not return a transaction model.
    ValueError
        No holdout period, counts not aligned with the histories, weighted histories, or a
        BG/NBD without ``allow_bgnbd``.
    stickykit.errors.InsufficientDataError
        Every customer churned, or none did.
    stickykit.errors.FitError
        The model cannot be fitted on the calibration histories.

    Notes
    -----
    The label is *churned* = no purchase in the holdout period of length :math:`h`
    (``holdout_frequency == 0``), the observable proxy for "no longer a customer". The
    split is by time, as Neslin et al. (2006) insist: the model sees only the
    calibration period. Three scores are checked, each by its AUC with DeLong's
    interval, its lift curve and its top-decile lift:

    - the risk :math:`1 - P(	ext{alive at } T)` of :func:`churn_risk`;
    - the model's :math:`P(Y(h) = 0 \mid x, t_x, T)`, its forecast of the label itself:
      a customer alive but slow also makes no purchase, so the risk alone understates
      the churn of rare buyers (on CDNOW most one-time buyers make no holdout purchase,
      yet their :math:`P(	ext{alive})` stays near 0.4);
    - the naive recency score :math:`T - t_x`, the time since the last purchase, which a
      model should match or beat.

    Each model score is compared with the naive one by DeLong's paired test
    (:func:`~stickykit.stats.classification.compare_auc`), since both rank the same
    customers.

    References
    ----------
    Neslin, S. A., Gupta, S., Kamakura, W., Lu, J. and Mason, C. H. (2006). Defection
    detection: measuring and understanding the predictive accuracy of customer churn
    models. *Journal of Marketing Research* 43(2), 204-211.

    DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). *Biometrics* 44(3),
    837-845.

    Examples
    --------
    >>> from stickykit.models.mbgnbd import MBGNBD
    >>> from stickykit.models.data import cdnow_histories
    >>> b = backtest(MBGNBD, cdnow_histories())
    >>> b.n, b.auc.n1 == b.n_churned, float(b.lift.lift[-1])
    (2357, True, 1.0)
    """
    alpha = check_alpha(alpha)
    h = split.calibration
    if not split.holdout_length > 0:
        raise ValueError("the split has no holdout period (holdout_length is 0)")
    if len(split.holdout_frequency) != len(h):
        raise ValueError(
            f"{len(split.holdout_frequency)} holdout counts for {len(h)} calibration histories"
        )
    if np.any(h.weight != 1):
        raise ValueError(
            "backtest needs one row per customer (all weights 1): a holdout label belongs "
            "to one customer"
        )
    model = model_factory()
    if not isinstance(model, TransactionModel):
        raise TypeError(
            "model_factory must return a new TransactionModel (pass the class, e.g. MBGNBD), "
            f"got {type(model).__name__}"
        )
    if _is_bgnbd(model) and not allow_bgnbd:
        raise ValueError(f"backtest refuses a BG/NBD model: {BGNBD_ARTEFACT}")
    model.fit(h)
    length = float(split.holdout_length)
    risk = churn_risk(model, h, allow_bgnbd=allow_bgnbd, horizon=length)
    assert risk.p_no_purchase is not None
    churned = np.asarray(split.holdout_frequency == 0)
    naive = h.age - h.recency
    unit = f"{h.time_unit}s"
    return Backtest(
        model=model,
        risk=risk,
        churned=churned,
        p_alive=_check("1 - P(alive)", risk.risk, churned, naive, alpha, fractions),
        no_purchase=_check(
            f"P(no purchase in {length:g} {unit})",
            risk.p_no_purchase,
            churned,
            naive,
            alpha,
            fractions,
        ),
        naive=_check("naive T - t_x", naive, churned, None, alpha, fractions),
        base_rate=float(churned.mean()),
        n=len(h),
        n_churned=int(churned.sum()),
        holdout_length=length,
        method=(
            f"fit {type(model).__name__} on the calibration period; label churned = no "
            f"purchase in the {length:g}-{h.time_unit} holdout; scores 1 - P(alive), "
            "P(no purchase in the holdout) and the naive T - t_x; midrank AUC with DeLong "
            "(1988) intervals, paired DeLong tests against the naive score; lift with tied "
            "blocks shared"
        ),
    )
