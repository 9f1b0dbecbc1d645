r"""Shared machinery of the continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD).

Each model implements per-pattern kernels over the parameter vector; this base compresses
the customers' histories into distinct :math:`(x, t_x, T)` patterns, evaluates the kernel once
per pattern and expands the result back to customers, attaches parameter-uncertainty
intervals (:meth:`~stickykit.models.LikelihoodModel.uncertainty`) and turns an annual
discount rate into the rate per time unit.

Discounted expected transactions default to a **periodic sum**, stated in the result's method:

.. math::

   \mathrm{DET} = \sum_{k=1}^{K} \frac{E[Y(k s)] - E[Y((k-1) s)]}{(1 + d_s)^{k}},

with step :math:`s` (one time unit by default), :math:`K = \lceil \text{horizon}/s \rceil`,
:math:`E[Y(t)]` the conditional expected transactions in :math:`(T, T + t]`, and
:math:`d_s = (1 + d)^{s/u} - 1` the rate per step for an annual rate :math:`d` and :math:`u`
time units per year. Pareto/NBD overrides it with the continuous DERT of Fader, Hardie & Lee
(2005), "RFM and CLV: using iso-value curves for customer base analysis", *Journal of
Marketing Research* 42(4), 415-430.

Examples
--------
>>> periods_per_year("week")
52.178...
"""

from __future__ import annotations

import abc
import math
from typing import Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import FitError
from stickykit.models._fit import LikelihoodModel, Prediction, _fitted
from stickykit.models._histories import Histories, Patterns, compress

__all__ = ["TransactionModel", "periods_per_year"]

_PER_YEAR = {"day": 365.25, "week": 365.25 / 7, "month": 12.0, "quarter": 4.0, "year": 1.0}


def periods_per_year(time_unit: str, given: float | None = None) -> float:
    """Time units in a year: 365.25 days, 365.25/7 weeks, 12 months, 4 quarters, 1 year.

    ``given`` overrides the table, and is required for any other unit.

    Examples
    --------
    >>> periods_per_year("day"), periods_per_year("period", 6.0)
    (365.25, 6.0)
    """
    if given is not None:
        if not (math.isfinite(given) and given > 0):
            raise ValueError(f"periods_per_year must be a finite number > 0, got {given!r}")
        return float(given)
    if time_unit not in _PER_YEAR:
        raise ValueError(
            f"time unit {time_unit!r} has no known length; pass periods_per_year "
            f"(known units: {', '.join(_PER_YEAR)})"
        )
    return _PER_YEAR[time_unit]


_units_per_year = periods_per_year


class TransactionModel(LikelihoodModel):
    r"""Base of the models of repeat transactions fitted on :math:`(x, t_x, T)` histories.

    Subclasses implement the kernels ``_p_alive``, ``_conditional_expected``, ``_expected``,
    ``_pmf`` and ``_conditional_pmf`` over a parameter vector and pattern columns
    ``x, t_x, T`` (float64 arrays), plus ``_loglik`` and ``_start``.
    """

    # -- kernels a model supplies ----------------------------------------------------------

    @abc.abstractmethod
    def _p_alive(
        self,
        params: NDArray[np.float64],
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """P(alive at T | x, t_x, T)."""

    @abc.abstractmethod
    def _conditional_expected(
        self,
        params: NDArray[np.float64],
        t: float,
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """E[Y(t) | x, t_x, T]: expected transactions in (T, T + t]."""

    @abc.abstractmethod
    def _expected(self, params: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        """E[X(t)] for a customer just acquired."""

    @abc.abstractmethod
    def _pmf(
        self, params: NDArray[np.float64], n: NDArray[np.float64], t: float
    ) -> NDArray[np.float64]:
        """P(X(t) = n) for a customer just acquired."""

    @abc.abstractmethod
    def _conditional_pmf(
        self,
        params: NDArray[np.float64],
        n: float,
        t: float,
        x: NDArray[np.float64],
        t_x: NDArray[np.float64],
        big_t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """P(Y(t) = n | x, t_x, T): n transactions in (T, T + t]."""

    def _check_histories(self, histories: Histories) -> None:
        """Model-specific refusals before fitting (override to add); raise FitError."""
        if not np.any(histories.frequency > 0):
            raise FitError(
                f"{type(self).__name__}: no customer made a repeat purchase (all frequencies "
                "are 0); the purchase and drop-out processes cannot be estimated"
            )

    # -- fitting ---------------------------------------------------------------------------

    def patterns(self, histories: Histories) -> Patterns:
        """The distinct :math:`(x, t_x, T)` histories with their customer counts.

        Sorted by frequency (``compress(..., lexicographic=False)``), found once per
        ``Histories`` and kept on it.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> h = Histories.from_arrays(frequency=[1, 1, 0], recency=[2.0, 2.0, 0.0],
        ...                           age=[4.0, 4.0, 4.0])
        >>> BGNBD().patterns(h).weight.tolist()
        [1.0, 2.0]
        """
        patterns: Patterns = histories.derived(
            "transaction patterns",
            lambda: compress(
                [histories.frequency.astype(np.float64), histories.recency, histories.age],
                histories.weight,
                lexicographic=False,
            ),
        )
        return patterns

    def fit(self, histories: Histories) -> Self:
        """Fit by maximum likelihood on the distinct histories; returns ``self``.

        Raises
        ------
        FitError
            No repeat purchases at all, fewer customers than parameters, or a failed,
            unconverged or ill-conditioned fit (the message says which).

        Examples
        --------
        >>> from stickykit.models import BGNBD, cdnow_histories
        >>> BGNBD().fit(cdnow_histories().calibration).diagnostics_.converged
        True
        """
        self._check_histories(histories)
        return self._fit_patterns(self.patterns(histories), time_unit=histories.time_unit)

    # -- predictions -----------------------------------------------------------------------

    def _per_customer(
        self,
        histories: Histories,
        kernel: object,
        *,
        interval: bool,
        level: float | None,
        method: Literal["delta", "draws"],
    ) -> Prediction:
        """Evaluate ``kernel(params, x, t_x, T)`` once per pattern, expand to customers."""
        _fitted(self)
        data = self.patterns(histories)
        x, t_x, big_t = data.columns

        def on_patterns(params: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(kernel(params, x, t_x, big_t), dtype=np.float64)  # type: ignore[operator]

        p = self.uncertainty(on_patterns, interval=interval, level=level, method=method)
        return p.take(data.inverse)

    def probability_alive(
        self,
        histories: Histories,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        """P(alive at the end of calibration | history), per customer.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> h = Histories.from_arrays(frequency=[0, 10], recency=[0.0, 5.0], age=[39.0, 39.0])
        >>> [round(float(v), 4) for v in m.probability_alive(h).value]
        [1.0, 0.0]
        """
        return self._per_customer(
            histories, self._p_alive, interval=interval, level=level, method=method
        )

    def conditional_expected_transactions(
        self,
        t: float,
        histories: Histories,
        *,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        """Expected transactions in the next ``t`` time units, per customer, given the history.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> h = Histories.from_arrays(frequency=[2], recency=[30.43], age=[38.86])
        >>> round(float(m.conditional_expected_transactions(39, h).value[0]), 3)
        1.226
        """
        t = _horizon(t)

        def kernel(
            params: NDArray[np.float64],
            x: NDArray[np.float64],
            t_x: NDArray[np.float64],
            big_t: NDArray[np.float64],
        ) -> NDArray[np.float64]:
            return self._conditional_expected(params, t, x, t_x, big_t)

        return self._per_customer(histories, kernel, interval=interval, level=level, method=method)

    def expected_transactions(self, t: ArrayLike) -> NDArray[np.float64]:
        """E[X(t)]: expected repeat transactions of a newly acquired customer by time ``t``.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> [round(float(v), 4) for v in m.expected_transactions([1.0, 78.0])]
        [0.0533, 1.8605]
        """
        _fitted(self)
        times = np.asarray(t, dtype=np.float64)
        if np.any(~np.isfinite(times) | (times < 0)):
            raise ValueError("t must be finite and >= 0")
        return np.asarray(self._expected(self.params, times), dtype=np.float64)

    def probability_of_transactions(
        self, n: ArrayLike, t: float, histories: Histories | None = None
    ) -> NDArray[np.float64]:
        """P(n transactions by time ``t``).

        Without ``histories``: for a newly acquired customer, :math:`P(X(t) = n)`, one value
        per ``n``. With ``histories``: the probability of exactly ``n`` (a scalar)
        transactions in the next ``t`` time units for each customer, which gives per-customer
        predictive intervals.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(float(m.probability_of_transactions(0, 39.0)[0]), 4)
        0.5738
        """
        _fitted(self)
        t = _horizon(t)
        counts = np.atleast_1d(np.asarray(n, dtype=np.float64))
        if np.any(~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))):
            raise ValueError("n must be whole numbers >= 0")
        if histories is None:
            return np.asarray(self._pmf(self.params, counts, t), dtype=np.float64)
        if counts.size != 1:
            raise ValueError("with histories, n must be one number")
        count = float(counts[0])

        def kernel(
            params: NDArray[np.float64],
            x: NDArray[np.float64],
            t_x: NDArray[np.float64],
            big_t: NDArray[np.float64],
        ) -> NDArray[np.float64]:
            return self._conditional_pmf(params, count, t, x, t_x, big_t)

        return self._per_customer(
            histories, kernel, interval=False, level=None, method="delta"
        ).value

    def discounted_expected_transactions(
        self,
        histories: Histories,
        *,
        annual_discount_rate: float,
        horizon: float,
        step: float = 1.0,
        periods_per_year: float | None = None,
        interval: bool = False,
        level: float | None = None,
        method: Literal["delta", "draws"] = "delta",
    ) -> Prediction:
        r"""Discounted expected transactions over ``horizon`` time units, by a periodic sum.

        See the module docstring for the formula; the result's ``method`` states it.

        Parameters
        ----------
        histories : Histories
        annual_discount_rate : float
            :math:`d \ge 0`, e.g. 0.1 for 10% a year.
        horizon : float
            How far ahead, in the model's time unit.
        step : float
            Length of one discounting period, in time units.
        periods_per_year : float, optional
            Time units per year; known for days, weeks, months, quarters and years.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> m = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> h = Histories.from_arrays(frequency=[2], recency=[30.43], age=[38.86])
        >>> plain = m.conditional_expected_transactions(52, h).value[0]
        >>> dert = m.discounted_expected_transactions(h, annual_discount_rate=0.1, horizon=52)
        >>> bool(0 < dert.value[0] < plain)
        True
        """
        _fitted(self)
        horizon = _horizon(horizon)
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be a finite number > 0, got {step!r}")
        if not (math.isfinite(annual_discount_rate) and annual_discount_rate >= 0):
            raise ValueError(
                f"annual_discount_rate must be a finite number >= 0, got {annual_discount_rate!r}"
            )
        per_year = _units_per_year(self.time_unit_, periods_per_year)
        rate = (1 + annual_discount_rate) ** (step / per_year) - 1
        n_steps = max(1, math.ceil(horizon / step - 1e-12))
        ends = np.minimum(np.arange(1, n_steps + 1) * step, horizon)
        factors = (1 + rate) ** -np.arange(1, n_steps + 1, dtype=np.float64)

        def kernel(
            params: NDArray[np.float64],
            x: NDArray[np.float64],
            t_x: NDArray[np.float64],
            big_t: NDArray[np.float64],
        ) -> NDArray[np.float64]:
            total = np.zeros(len(x))
            previous = np.zeros(len(x))
            for end, factor in zip(ends, factors, strict=True):
                current = self._conditional_expected(params, float(end), x, t_x, big_t)
                total += (current - previous) * factor
                previous = current
            return total

        p = self._per_customer(histories, kernel, interval=interval, level=level, method=method)
        stated = (
            f"periodic sum over {n_steps} steps of {step:g} {self.time_unit_}(s), annual "
            f"discount rate {annual_discount_rate:g} ({rate:.6g} per step); {p.method}"
        )
        return Prediction(p.value, p.ci_low, p.ci_high, p.level, stated)

    @classmethod
    def from_params(cls, *, time_unit: str = "week", **params: float) -> Self:
        """A model with given parameters (for example published ones), without fitting.

        It has no covariance, so predictions from it have no intervals.

        Examples
        --------
        >>> from stickykit.models import BGNBD
        >>> BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426; log-likelihood nan, n=0)
        """
        if set(params) != set(cls.param_names):
            raise ValueError(f"{cls.__name__} needs exactly the parameters {cls.param_names}")
        bad = [k for k, v in params.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"parameters must be finite and > 0: {', '.join(bad)}")
        model = cls()
        model.params_ = {n: float(params[n]) for n in cls.param_names}
        model.time_unit_ = time_unit
        return model


def _horizon(t: float) -> float:
    value = float(t)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    return value
