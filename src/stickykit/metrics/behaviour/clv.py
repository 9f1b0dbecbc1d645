r"""Historical customer lifetime value: the margin each customer has brought so far.

Historical (past) CLV adds up what a customer has actually been worth: net revenue to date
times a margin rate, optionally with each period's margin compounded to ``as_of`` (or
discounted back to the customer's first purchase) at a per-period rate. It describes the past;
it predicts nothing. For a forecast of future value, use a model of repeat buying and spend.

The result also carries the simple "average order value x purchase frequency x expected
lifespan" product, labelled as the **naive estimate**: a back-of-the-envelope figure that
assumes every customer buys at the average rate for the same assumed lifespan.

Examples
--------
>>> import datetime as dt
>>> from stickykit.datasets import load_cdnow
>>> m = HistoricalCLV(margin=0.3)
>>> r = m.finalize(m.update(m.init(), load_cdnow(sample=True)),
...                as_of=dt.datetime(1998, 7, 1, tzinfo=dt.UTC))
>>> round(r.value, 2), r.n
(31.07, 2357)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.core.periods import Period, period_index
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricBase, MetricResult, check_fingerprints, package_version
from stickykit.metrics.behaviour._purchases import (
    alpha_field,
    merge_summaries,
    purchase_summary,
    qualifying_frame,
    summarise_purchases,
    zone_field,
)
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    optional_kinds,
    period_field,
    resolve_as_of,
)
from stickykit.metrics.survey.csat import mean_t_interval
from stickykit.plugins.hookspecs import hookimpl

__all__ = ["HistoricalCLV", "HistoricalCLVState", "compounded_sums"]

_US_PER_YEAR = 365.25 * 86_400_000_000
_REFERENCE = (
    "historical CLV: margin to date per customer, compounded or discounted per period "
    "(present-value arithmetic); naive estimate: average order value x purchase frequency x "
    "expected lifespan (a heuristic, no primary source)"
)


def _empty_money() -> NDArray[np.float64]:
    return np.empty(0, dtype=np.float64)


@attrs.frozen(eq=False)
class HistoricalCLVState:
    r"""The purchase summary plus per-customer amounts compounded to an anchor period.

    Parameters
    ----------
    fingerprint : str
        The metric's fingerprint.
    summary : CustomerSummaryState
        Per-customer first and last purchase, purchases, net money and active periods.
    anchor : int
        The period index the compounded sums refer to (the latest period seen).
    compounded : numpy.ndarray
        float64, aligned with ``summary.customer_id``:
        :math:`C_i = \sum_j a_{ij}(1 + d)^{A - p_{ij}}` over the customer's rows.
    """

    fingerprint: str
    summary: CustomerSummaryState
    anchor: int = 0
    compounded: NDArray[np.float64] = attrs.field(factory=_empty_money)


def compounded_sums(
    customer_id: NDArray[Any],
    ids: NDArray[Any],
    amount: NDArray[np.float64],
    periods: NDArray[np.int64],
    rate: float,
    anchor: int,
) -> NDArray[np.float64]:
    r"""Per-customer :math:`\sum_j a_j (1 + d)^{A - p_j}`, aligned with the sorted ``ids``.

    Examples
    --------
    >>> import numpy as np
    >>> compounded_sums(np.array([2, 1, 2]), np.array([1, 2]), np.array([10.0, 5.0, 1.0]),
    ...                 np.array([3, 4, 4]), 0.1, 4).round(6).tolist()
    [5.0, 12.0]
    """
    codes = np.searchsorted(ids, customer_id)
    factor = np.power(1.0 + rate, (anchor - periods).astype(np.float64))
    sums = np.bincount(codes, weights=amount * factor, minlength=len(ids))
    return sums.astype(np.float64)


def _lifespan_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    if value is not None and (type(value) not in (int, float) or not value > 0):
        msg = f"lifespan_years must be a positive number or None, got {value!r}"
        raise ValueError(msg)


def _rate_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        msg = f"{attribute.name} must be a finite number >= 0, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class HistoricalCLV(MetricBase):
    r"""Historical CLV: each customer's margin to date, with the naive estimate beside it.

    Parameters
    ----------
    margin : float
        Margin as a share of net revenue (default 1: revenue itself). For a per-line cost,
        load the events with ``amount`` equal to price minus cost and keep ``margin=1``.
    discount_rate : float
        Rate per ``period`` (default 0: no discounting).
    discount_to : {"as_of", "acquisition"}
        With a rate, express each period's margin in money of the period of ``as_of``
        (compounded forward: the customer's value today) or of the customer's first purchase
        period (discounted back: the present value at acquisition).
    period : {"day", "week", "month", "quarter"}
        The period of the rate (default month).
    zone : str
        IANA time zone of the calendar periods.
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``).
    lifespan_years : float or None
        Expected customer lifespan for the naive estimate (``None``: not computed, NaN).
    alpha : float
        1 - confidence level of the interval of the mean.

    Notes
    -----
    With customer :math:`i`'s net amounts :math:`a_{ij}` in periods :math:`p_{ij}`
    (returns negative), margin rate :math:`m`, rate :math:`d`, ``as_of`` period :math:`P`
    (the period holding the last instant before ``as_of``) and first purchase period
    :math:`f_i`:

    .. math::

        \mathrm{CLV}_i = m \sum_j a_{ij}\,(1 + d)^{P - p_{ij}} \quad \text{(as\_of)}, \qquad
        \mathrm{CLV}_i = m \sum_j \frac{a_{ij}}{(1 + d)^{p_{ij} - f_i}}
        \quad \text{(acquisition)},

    both :math:`m \sum_j a_{ij}` when :math:`d = 0`. The state keeps the exact sums
    :math:`C_i = \sum_j a_{ij}(1 + d)^{A - p_{ij}}` for the latest period :math:`A` seen;
    two states merge by rescaling to the later anchor, :math:`C (1 + d)^{A' - A}`, so no
    per-period table is needed. ``value`` is the mean over customers with the t interval
    :math:`\bar x \pm t_{n-1,1-\alpha/2}\, s/\sqrt n` (customers taken as a sample from a
    larger base; CLV is skewed, so trust it for large :math:`n` only).

    The naive estimate, with :math:`R` net revenue, :math:`N` purchases and the customers'
    exposure :math:`E = \sum_i (T - t_{i,\mathrm{first}})` in years:

    .. math::

        \mathrm{AOV} = R/N, \qquad \mathrm{freq} = N/E, \qquad
        \mathrm{CLV}_{naive} = m \cdot \mathrm{AOV} \cdot \mathrm{freq} \cdot L,

    where the order definition cancels: :math:`\mathrm{AOV}\cdot\mathrm{freq} = R/E`, revenue
    per customer-year. It assumes a homogeneous customer base and a known lifespan
    :math:`L`; both are strong assumptions.

    ``tables`` holds per customer ``customer_id``, ``first``, ``last``, ``purchases``,
    ``revenue`` (net), ``margin`` (undiscounted) and ``clv``. ``details``: ``total_clv``,
    ``total_revenue``, ``sd``, ``df``, ``aov``, ``purchase_frequency`` (per customer-year),
    ``lifespan_years``, ``naive_clv``, ``returns_only_customers``. Customers with returns but
    no purchase are left out (``n_missing``).

    Examples
    --------
    >>> import datetime as dt
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
    ...                timestamp=np.array(["2024-01-15", "2024-03-15", "2024-03-20"],
    ...                                   dtype="datetime64[us]"),
    ...                amount=np.array([100.0, 100.0, 50.0]))
    >>> m = HistoricalCLV(margin=0.5, discount_rate=0.1)
    >>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
    >>> r.tables["clv"].round(6).tolist(), r.value
    ([110.5, 25.0], 67.75)
    """

    name: ClassVar[str] = "historical_clv"
    family: ClassVar[str] = "behaviour"
    input_kind: ClassVar[Literal["events"]] = "events"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    margin: float = attrs.field(default=1.0, validator=_rate_field)
    discount_rate: float = attrs.field(default=0.0, validator=_rate_field)
    discount_to: Literal["as_of", "acquisition"] = attrs.field(
        default="as_of", validator=attrs.validators.in_(("as_of", "acquisition"))
    )
    period: Period = attrs.field(default="month", validator=period_field)
    zone: str = attrs.field(default="UTC", validator=zone_field)
    kinds: tuple[str, ...] | None = attrs.field(default=("purchase",), converter=optional_kinds)
    lifespan_years: float | None = attrs.field(default=None, validator=_lifespan_field)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)

    def summary(self) -> CustomerSummary:
        """The customer summary (periods of the rate) whose update and merge this reuses."""
        return purchase_summary(self.period, self.zone)

    def init(self) -> HistoricalCLVState:
        """The empty state."""
        return HistoricalCLVState(
            fingerprint=self.fingerprint,
            summary=CustomerSummaryState(fingerprint=self.fingerprint),
        )

    def update(self, state: HistoricalCLVState, frame: EventFrame) -> HistoricalCLVState:
        """Fold the qualifying events of ``frame`` into ``state``."""
        frame = qualifying_frame(frame, self.kinds)
        if len(frame) == 0:
            return self.merge(state, self.init())
        summary = attrs.evolve(
            summarise_purchases(self.summary(), frame), fingerprint=self.fingerprint
        )
        if self.discount_rate == 0:
            chunk = HistoricalCLVState(self.fingerprint, summary, 0, summary.monetary.copy())
            return self.merge(state, chunk)
        amount = np.zeros(len(frame)) if frame.amount is None else frame.amount
        periods = period_index(frame.timestamp, self.period, zone=self.zone)
        anchor = int(periods.max())
        sums = compounded_sums(
            frame.customer_id, summary.customer_id, amount, periods, self.discount_rate, anchor
        )
        return self.merge(state, HistoricalCLVState(self.fingerprint, summary, anchor, sums))

    def merge(self, a: HistoricalCLVState, b: HistoricalCLVState) -> HistoricalCLVState:
        """Union of customers; compounded sums rescaled to the later anchor and added."""
        check_fingerprints(self.name, a, b)
        check_fingerprints(self.name, a, self.init())
        if len(b.summary) == 0:
            return a
        if len(a.summary) == 0:
            return b
        summary = merge_summaries(self.summary(), a.summary, b.summary, self.fingerprint)
        anchor = max(a.anchor, b.anchor)
        growth = 1.0 + self.discount_rate
        out = np.zeros(len(summary))
        for part in (a, b):  # two states, not rows
            rows = np.searchsorted(summary.customer_id, part.summary.customer_id)
            out[rows] += part.compounded * growth ** float(anchor - part.anchor)
        return HistoricalCLVState(self.fingerprint, summary, anchor, out)

    def finalize(self, state: HistoricalCLVState, as_of: dt.datetime | None = None) -> MetricResult:
        """Per-customer CLV, the mean with a t interval, and the naive estimate."""
        s = state.summary
        buyers = s.n_events > 0
        if not buyers.any():
            msg = "historical_clv needs at least one customer with a purchase"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(s.last_us[buyers], as_of)
        revenue = s.monetary[buyers]
        first_us = s.first_us[buyers]
        if self.discount_rate == 0:
            value = self.margin * state.compounded[buyers]
        else:
            if self.discount_to == "as_of":
                last = np.array([as_of_us - 1], dtype="datetime64[us]")
                target: Any = period_index(last, self.period, zone=self.zone)[0]
            else:
                target = period_index(
                    first_us.astype("datetime64[us]"), self.period, zone=self.zone
                )
            exponent = (target - state.anchor).astype(np.float64)
            value = self.margin * state.compounded[buyers] * (1 + self.discount_rate) ** exponent
        n = int(buyers.sum())
        mean = float(value.mean())
        sd = float(value.std(ddof=1)) if n > 1 else math.nan
        se = sd / math.sqrt(n) if n > 1 else math.nan
        low, high = mean_t_interval(mean, se, n - 1, self.alpha)
        purchases = s.n_events[buyers]
        exposure_years = float(((as_of_us - first_us) / _US_PER_YEAR).sum())
        total_revenue = float(revenue.sum())
        aov = total_revenue / float(purchases.sum())
        frequency = float(purchases.sum()) / exposure_years
        naive = (
            math.nan
            if self.lifespan_years is None
            else self.margin * aov * frequency * float(self.lifespan_years)
        )
        n_returns_only = len(s) - n
        flags: list[str] = []
        if n_returns_only:
            flags.append(f"{n_returns_only} customers with returns but no purchase left out")
        method = (
            "t interval of the mean over customers"
            if n > 1
            else "no interval: one customer (a t interval needs two)"
        )
        as_of_dt = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=mean,
            n=n,
            n_missing=n_returns_only,
            se=None if math.isnan(se) else se,
            ci_low=None if math.isnan(low) else low,
            ci_high=None if math.isnan(high) else high,
            level=1 - self.alpha,
            method=method,
            reference=self.reference,
            params={**self.params(), "as_of": as_of_dt},
            as_of=as_of_dt,
            version=package_version(),
            unit="currency per customer",
            flags=tuple(flags),
            details={
                "customers": float(n),
                "total_clv": float(value.sum()),
                "total_revenue": total_revenue,
                "sd": sd,
                "df": float(n - 1),
                "aov": aov,
                "purchase_frequency": frequency,
                "lifespan_years": math.nan
                if self.lifespan_years is None
                else float(self.lifespan_years),
                "naive_clv": naive,
                "returns_only_customers": float(n_returns_only),
            },
            tables={
                "customer_id": s.customer_id[buyers],
                "first": first_us.astype("datetime64[us]"),
                "last": s.last_us[buyers].astype("datetime64[us]"),
                "purchases": purchases,
                "revenue": revenue,
                "margin": self.margin * revenue,
                "clv": value,
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"historical_clv"``."""
    register(HistoricalCLV)
