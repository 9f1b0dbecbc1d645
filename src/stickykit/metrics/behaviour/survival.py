r"""Survival of customers: the Kaplan-Meier curve of customer lifetimes and its median.

The metric ``"customer_survival"`` (:class:`CustomerSurvival`) keeps the per-customer summary
of :mod:`stickykit.metrics.behaviour.summary` (first and last event, merged by customer id) and
turns it into lifetimes only in ``finalize``, once every chunk is merged:

- a customer whose last event is more than the inactivity threshold :math:`\tau` before
  ``as_of`` has *churned*; their lifetime is last event minus first event, an observed event;
- every other customer is still *active*: their lifetime is right-censored at ``as_of``
  minus first event (the definition of the issue and of most churn tutorials), or, with
  ``censoring="decided"``, at ``as_of`` :math:`- \tau -` first event (see
  :class:`CustomerSurvival`, Notes).

The lifetimes go to :func:`~stickykit.stats.survival.kaplan_meier`: the curve with Greenwood
log(-log) pointwise intervals, and the median lifetime with its interval.

Examples
--------
>>> import datetime as dt
>>> import numpy as np
>>> from stickykit.frames import EventFrame
>>> f = EventFrame(event_id=np.arange(5), customer_id=np.array([1, 1, 2, 3, 3]),
...                timestamp=np.array(["2024-01-01", "2024-01-11", "2024-01-01", "2024-01-06",
...                                    "2024-03-01"], dtype="datetime64[us]"))
>>> m = CustomerSurvival(churn_after_days=30)
>>> r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 3, 11, tzinfo=dt.UTC))
>>> r.details["churned"], r.details["censored"]
(2.0, 1.0)
>>> r.tables["times"].tolist(), r.tables["survival"].round(4).tolist()
([0.0, 10.0, 65.0], [0.6667, 0.3333, 0.3333])
>>> r.value, (r.ci_low, r.ci_high)
(10.0, (0.0, inf))
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.core.periods import Period
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.io.events import is_return
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.behaviour.summary import (
    CustomerSummary,
    CustomerSummaryState,
    optional_kinds,
    qualifying,
    resolve_as_of,
)
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.intervals import check_alpha
from stickykit.stats.survival import KaplanMeier, kaplan_meier

__all__ = [
    "DEFAULT_HORIZONS",
    "UNIT_DAYS",
    "Censoring",
    "CustomerLifetimes",
    "CustomerSurvival",
    "TimeUnit",
    "ZeroLifetimes",
    "lifetimes_us",
]

#: The units lifetimes are reported in.
TimeUnit = Literal["day", "week", "month", "year"]
#: Where a customer who has not churned is censored (see :class:`CustomerSurvival`).
Censoring = Literal["as_of", "decided"]
#: How churned one-time buyers (lifetime 0) enter the curve (see :class:`CustomerSurvival`).
ZeroLifetimes = Literal["keep", "condition"]

#: Length of each reporting unit in days (a month is a twelfth, a year 365.25 days).
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}
#: Lifetimes at which ``details`` report the survival, per unit, unless ``horizons`` is given.
DEFAULT_HORIZONS: dict[str, tuple[float, ...]] = {
    "day": (30.0, 90.0, 180.0, 365.0),
    "week": (4.0, 13.0, 26.0, 52.0),
    "month": (1.0, 3.0, 6.0, 12.0),
    "year": (1.0, 2.0, 3.0),
}
_DAY_US = 86_400_000_000
_PLURAL = {"day": "days", "week": "weeks", "month": "months", "year": "years"}
_REFERENCE = (
    "Kaplan & Meier (1958), JASA 53(282), 457-481; Greenwood (1926), Reports on Public "
    "Health and Medical Subjects 33; log(-log) interval (Kalbfleisch & Prentice 2002); "
    "median interval by test inversion after Brookmeyer & Crowley (1982), "
    "Biometrics 38(1), 29-41"
)
_METHOD = (
    "Kaplan-Meier median; Brookmeyer-Crowley interval from the log(-log) Greenwood band; "
    "no standard error"
)


def _positive_days(instance: Any, attribute: Any, value: Any) -> None:
    del instance
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        msg = f"{attribute.name} must be a positive finite number of days, got {value!r}"
        raise ValueError(msg)


def _alpha_field(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_alpha(value)


def _horizons(value: Any) -> tuple[float, ...] | None:
    return None if value is None else tuple(float(h) for h in value)


def _check_horizons(instance: Any, attribute: Any, value: tuple[float, ...] | None) -> None:
    del instance, attribute
    if value is not None and not all(0 <= h < math.inf for h in value):
        msg = f"horizons must be finite lifetimes >= 0, got {value!r}"
        raise ValueError(msg)


def lifetimes_us(
    first_us: NDArray[np.int64],
    last_us: NDArray[np.int64],
    as_of_us: int,
    threshold_us: int,
    censoring: Censoring = "as_of",
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]]:
    r"""Lifetimes in microseconds, churn flags and which customers have a usable duration.

    A customer has churned when :math:`\text{last} < \text{as\_of} - \tau`; the lifetime is
    then :math:`\text{last} - \text{first}`. Otherwise it is censored at
    :math:`\text{as\_of} - \text{first}` (``censoring="as_of"``) or at
    :math:`\text{as\_of} - \tau - \text{first}` (``censoring="decided"``; negative for a
    customer first seen within :math:`\tau` of ``as_of``, who is then not usable).

    Examples
    --------
    >>> day = 86_400_000_000
    >>> first = np.array([0, 0, 50]) * day
    >>> last = np.array([10, 90, 95]) * day
    >>> d, churned, usable = lifetimes_us(first, last, 100 * day, 30 * day)
    >>> (d // day).tolist(), churned.tolist(), usable.tolist()
    ([10, 100, 50], [True, False, False], [True, True, True])
    >>> d, churned, usable = lifetimes_us(first, last, 100 * day, 30 * day, "decided")
    >>> (d // day).tolist(), usable.tolist()
    ([10, 70, 20], [True, True, True])
    """
    churned: NDArray[np.bool_] = last_us < as_of_us - threshold_us
    horizon = as_of_us if censoring == "as_of" else as_of_us - threshold_us
    durations: NDArray[np.int64] = np.where(churned, last_us, horizon) - first_us
    usable: NDArray[np.bool_] = durations >= 0
    return durations, churned, usable


@attrs.frozen(eq=False)
class CustomerLifetimes:
    """Per-customer lifetimes, as :meth:`CustomerSurvival.lifetimes` builds them.

    Parameters
    ----------
    customer_id : numpy.ndarray
        Sorted unique customer ids.
    duration : numpy.ndarray
        float64 lifetime (churned) or censoring time (active), in ``unit``; negative for a
        customer whose status is undecided (``censoring="decided"``).
    churned : numpy.ndarray
        bool: the lifetime ended in churn (an observed event).
    used : numpy.ndarray
        bool: the customer enters the curve (see ``censoring`` and ``zero_lifetimes``).
    as_of : datetime.datetime
        The instant the lifetimes are measured at.
    unit : str
        The unit of ``duration``.
    """

    customer_id: NDArray[Any]
    duration: NDArray[np.float64]
    churned: NDArray[np.bool_]
    used: NDArray[np.bool_]
    as_of: dt.datetime
    unit: str


@attrs.frozen
class CustomerSurvival(CustomerSummary):
    r"""Kaplan-Meier survival of customers and their median lifetime, from event data.

    Parameters
    ----------
    kinds : tuple of str or None
        Event kinds that count as activity (default every event). Returns (negative amounts)
        never count, as in every activity measure (:mod:`stickykit.io.events`).
    churn_after_days : float
        The inactivity threshold :math:`\tau`, in days: a customer whose last event is more
        than :math:`\tau` before ``as_of`` has churned. Default 365 ("no activity for a year", a
        common convention for a lapsed customer); choose it from the
        purchase cycle of the business, since every figure depends on it.
    unit : {"day", "week", "month", "year"}
        Unit of the reported lifetimes (default days; a month is 365.25/12 days, a year
        365.25 days).
    censoring : {"as_of", "decided"}
        Where an active customer is censored: at ``as_of`` (default) or at ``as_of`` minus
        the threshold (Notes).
    zero_lifetimes : {"keep", "condition"}
        ``"keep"`` (default): a churned customer whose last event is their first has lifetime
        0, an event at time 0. ``"condition"``: the curve given a lifetime above 0,
        :math:`S(t)/S(0)`, from the customers with a positive duration (Notes).
    horizons : tuple of float, optional
        Lifetimes (in ``unit``) at which ``details`` report the survival with its interval;
        by default 30, 90, 180, 365 days, 4, 13, 26, 52 weeks, 1, 3, 6, 12 months or 1, 2,
        3 years.
    alpha : float
        One minus the confidence level of the intervals, in (0, 1).

    Notes
    -----
    **Lifetimes.** For customer :math:`i` with first and last qualifying events
    :math:`f_i \le l_i`, an observation instant ``as_of`` :math:`a` and a threshold
    :math:`\tau`:

    .. math::

        \delta_i = [\, l_i < a - \tau \,], \qquad
        T_i = \begin{cases} l_i - f_i & \delta_i = 1 \text{ (churned)} \\
                            c_i - f_i & \delta_i = 0 \text{ (censored)} \end{cases}

    with :math:`c_i = a` (``censoring="as_of"``) or :math:`c_i = a - \tau`
    (``censoring="decided"``). Right censoring at :math:`c_i - f_i` claims that the lifetime
    exceeds it. For an active customer that is only certain up to :math:`l_i - f_i \ge a -
    \tau - f_i`: one whose last event was yesterday may still never return, and would then
    have churned with lifetime :math:`l_i - f_i < a - f_i`. Censoring at :math:`a` therefore
    leans the curve upwards, by up to :math:`\tau` in time. With ``"decided"``, everyone is
    followed only while their status is decided: churn is known for lifetimes up to
    :math:`a - \tau - f_i`, and a customer first seen within :math:`\tau` of :math:`a` is left
    out (counted in ``n_missing`` and ``details["undecided"]``). The two agree whenever the
    threshold is short against the follow-up. A customer inactive for more than :math:`\tau`
    who then came back counts as never having left: the summary keeps first and last events
    only.

    **Zero lifetimes.** A churned customer whose last event is their first (one purchase, or
    several at one instant) has :math:`T_i = 0`. They are real churners and stay in the
    curve by default: :math:`\hat S(0) = 1 - d_0 / n` is then the share who came back (or
    are still active), and when more than half never come back the median lifetime is 0 and
    flagged. ``zero_lifetimes="condition"`` reports the curve of the customers who outlive
    time 0 instead, :math:`\hat S(t \mid T > 0) = \hat S(t) / \hat S(0)`, which is exactly
    the product-limit estimate from the customers with :math:`T_i > 0`; the others are
    counted in ``n_missing`` and ``details["zero_lifetime"]``.

    **Curve and intervals.** With :math:`t_1 < \dots < t_k` the distinct durations,
    :math:`n_j` the customers with :math:`T_i \ge t_j` and :math:`d_j` the churns at
    :math:`t_j` (Kaplan & Meier 1958; Greenwood 1926):

    .. math::

        \hat S(t) = \prod_{t_j \le t} \Big(1 - \frac{d_j}{n_j}\Big), \qquad
        \widehat{\operatorname{Var}}\,\hat S(t) = \hat S(t)^2 \sum_{t_j \le t}
        \frac{d_j}{n_j (n_j - d_j)},

    and the pointwise interval :math:`\hat S(t)^{\exp(\pm z_{1-\alpha/2}\,\hat\sigma(t))}`
    with :math:`\hat\sigma^2(t) = \sum_{t_j \le t} d_j/(n_j(n_j - d_j)) / (\log \hat
    S(t))^2` (the log(-log) interval). Censored customers at a churn time count as at risk.

    **Median.** ``value`` is :math:`\hat t_{1/2} = \min\{t_j : \hat S(t_j) \le 1/2\}` and
    ``(ci_low, ci_high)`` the times where the lower and upper limits of the band first fall
    to 1/2: the times whose pointwise test of :math:`S(t) = 1/2` is not rejected, the
    test-inversion interval of Brookmeyer & Crowley (1982) on the log(-log) band. There is
    no standard error (``se`` is None).

    **Infinite values.** When the curve never falls to 1/2 the median is not reached: the
    data say only that it is beyond the longest follow-up. ``value`` is then ``inf`` (as in
    lifelines), and likewise ``ci_high`` is ``inf`` when the upper band never falls to 1/2:
    the interval is unbounded above, not missing. Each case adds a flag naming it. JSON from
    :meth:`~stickykit.metrics.base.MetricResult.to_dict` then holds ``Infinity``.

    **Result.** ``n``: customers in the curve; ``n_missing``: customers left out (undecided
    or, when conditioning, zero lifetimes). ``details``: ``customers`` (in the summary),
    ``churned``, ``censored`` (among those in the curve), ``undecided``, ``zero_lifetime``
    (churned with lifetime 0, in the summary), ``threshold_days``, ``max_followup`` (the
    longest duration), ``survival_at_<h>`` with ``_low`` and ``_high`` for each horizon
    (NaN past the longest duration when it is censored: the curve is not estimated there).
    ``tables`` holds the curve, one entry per distinct duration: ``times`` (in ``unit``),
    ``at_risk``, ``events``, ``censored`` (int64), ``survival``, ``se``, ``ci_low``,
    ``ci_high``. :meth:`lifetimes` gives the per-customer durations, e.g. for a Cox model.

    The state is the per-customer summary with this metric's fingerprint (its active
    periods are kept by quarter only, to stay small; the lifetimes use exact times).
    ``as_of`` defaults to just after the latest event
    (:func:`~stickykit.metrics.behaviour.summary.resolve_as_of`); pass the end of the
    observation window when it is later.

    References
    ----------
    Kaplan, E. L. and Meier, P. (1958). Nonparametric estimation from incomplete
    observations. *Journal of the American Statistical Association* 53(282), 457-481.
    Greenwood, M. (1926). The natural duration of cancer. *Reports on Public Health and
    Medical Subjects* 33, 1-26.
    Kalbfleisch, J. D. and Prentice, R. L. (2002). *The Statistical Analysis of Failure Time
    Data*, 2nd ed. Wiley.
    Brookmeyer, R. and Crowley, J. (1982). A confidence interval for the median survival
    time. *Biometrics* 38(1), 29-41.

    Examples
    --------
    >>> import datetime as dt
    >>> import stickykit
    >>> events = stickykit.datasets.load_cdnow(sample=True)
    >>> end = dt.datetime(1998, 7, 1, tzinfo=dt.UTC)
    >>> r = stickykit.compute(CustomerSurvival(churn_after_days=180), events, as_of=end)
    >>> r.n, r.details["churned"], r.details["zero_lifetime"]
    (2357, 1843.0, 1218.0)
    >>> r.value, r.flags[0]
    (0.0, 'median lifetime is 0: at least half of the customers churned without a second event time')
    >>> round(r.details["survival_at_180"], 3)
    0.317
    >>> c = stickykit.compute(CustomerSurvival(churn_after_days=180, zero_lifetimes="condition"),
    ...                       events, as_of=end)
    >>> c.n, c.value, (c.ci_low, c.ci_high)
    (1139, 291.0, (274.0, 317.0))
    """

    name: ClassVar[str] = "customer_survival"
    family: ClassVar[str] = "behaviour"
    higher_is_better: ClassVar[bool | None] = True
    reference: ClassVar[str] = _REFERENCE

    kinds: tuple[str, ...] | None = attrs.field(default=None, converter=optional_kinds)
    churn_after_days: float = attrs.field(default=365.0, validator=_positive_days)
    unit: TimeUnit = attrs.field(default="day", validator=attrs.validators.in_(tuple(UNIT_DAYS)))
    censoring: Censoring = attrs.field(
        default="as_of", validator=attrs.validators.in_(("as_of", "decided"))
    )
    zero_lifetimes: ZeroLifetimes = attrs.field(
        default="keep", validator=attrs.validators.in_(("keep", "condition"))
    )
    horizons: tuple[float, ...] | None = attrs.field(
        default=None, converter=_horizons, validator=_check_horizons
    )
    alpha: float = attrs.field(default=0.05, validator=_alpha_field)
    # The summary's active-period bitmask is not used here: the coarsest calendar keeps it to
    # one word per customer. Neither is a parameter of this metric.
    period: Period = attrs.field(default="quarter", init=False, repr=False)
    zone: str = attrs.field(default="UTC", init=False, repr=False)

    def update(self, state: CustomerSummaryState, frame: EventFrame) -> CustomerSummaryState:
        """Fold the activity rows of ``frame`` (qualifying kinds, not returns) into ``state``."""
        keep = ~is_return(frame)
        chosen = qualifying(frame, self.kinds)
        if chosen is not None:
            keep &= chosen
        if not keep.all():
            frame = frame.filter(keep)
        return self.merge(state, self._summarise(frame))

    def lifetimes(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> CustomerLifetimes:
        """Per-customer durations in ``unit``, churn flags and who enters the curve.

        Examples
        --------
        >>> import numpy as np
        >>> m = CustomerSurvival(churn_after_days=30, unit="week")
        >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([4, 4, 9]),
        ...                timestamp=np.array(["2024-01-01", "2024-01-15", "2024-02-26"],
        ...                                   dtype="datetime64[us]"))
        >>> life = m.lifetimes(m.update(m.init(), f))
        >>> life.duration.round(4).tolist(), life.churned.tolist()
        ([2.0, 0.0], [True, False])
        """
        if len(state) == 0:
            msg = f"{self.name} needs at least one qualifying event"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us, as_of)
        threshold_us = round(self.churn_after_days * _DAY_US)
        durations, churned, used = lifetimes_us(
            state.first_us, state.last_us, as_of_us, threshold_us, self.censoring
        )
        if self.zero_lifetimes == "condition":
            used &= durations > 0
        return CustomerLifetimes(
            customer_id=state.customer_id,
            duration=durations / (UNIT_DAYS[self.unit] * _DAY_US),
            churned=churned,
            used=used,
            as_of=us_to_datetime(as_of_us),
            unit=self.unit,
        )

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """The median lifetime with its interval; the curve in ``tables``."""
        life = self.lifetimes(state, as_of)
        used = life.used
        if not used.any():
            msg = (
                f"{self.name}: no customer has a usable duration (censoring={self.censoring!r}, "
                f"zero_lifetimes={self.zero_lifetimes!r})"
            )
            raise InsufficientDataError(msg)
        km = kaplan_meier(life.duration[used], life.churned[used], alpha=self.alpha)
        median = km.median
        low, high = km.median_interval
        horizons = DEFAULT_HORIZONS[self.unit] if self.horizons is None else self.horizons
        details = {
            "customers": float(len(state)),
            "churned": float(life.churned[used].sum()),
            "censored": float((~life.churned[used]).sum()),
            "undecided": float((life.duration < 0).sum()),
            "zero_lifetime": float((life.churned & (life.duration == 0)).sum()),
            "threshold_days": float(self.churn_after_days),
            "max_followup": float(km.times[-1]),
            **_horizon_details(km, horizons),
        }
        return MetricResult(
            metric=self.name,
            value=median,
            n=int(used.sum()),
            n_missing=int((~used).sum()),
            se=None,
            ci_low=low,
            ci_high=high,
            level=km.level,
            method=_METHOD,
            reference=self.reference,
            params={**self.params(), "as_of": life.as_of},
            as_of=life.as_of,
            version=package_version(),
            unit=_PLURAL[self.unit],
            flags=_flags(km, median, high, self.unit),
            details=details,
            tables={
                "times": km.times,
                "at_risk": km.at_risk.astype(np.int64),
                "events": km.events.astype(np.int64),
                "censored": km.censored.astype(np.int64),
                "survival": km.survival,
                "se": km.se,
                "ci_low": km.ci_low,
                "ci_high": km.ci_high,
            },
        )


def _horizon_details(km: KaplanMeier, horizons: tuple[float, ...]) -> dict[str, float]:
    """Survival and its band at each horizon; NaN beyond a censored longest duration."""
    out: dict[str, float] = {}
    estimated_until = km.times[-1] if km.survival[-1] > 0 else math.inf
    for h in horizons:
        index = int(np.searchsorted(km.times, h, side="right")) - 1
        if h > estimated_until:
            values = (math.nan, math.nan, math.nan)
        elif index < 0:
            values = (1.0, 1.0, 1.0)
        else:
            values = (
                float(km.survival[index]),
                float(km.ci_low[index]),
                float(km.ci_high[index]),
            )
        key = f"survival_at_{h:g}"
        out[key], out[f"{key}_low"], out[f"{key}_high"] = values
    return out


def _flags(km: KaplanMeier, median: float, high: float, unit: str) -> tuple[str, ...]:
    flags: list[str] = []
    if math.isinf(median):
        flags.append(
            "median not reached: the curve stays above 0.5 "
            f"(S = {km.survival[-1]:.3f} at {km.times[-1]:g} {_PLURAL[unit]}); value is inf"
        )
    elif median == 0:
        flags.append(
            "median lifetime is 0: at least half of the customers churned without a second "
            "event time"
        )
    if math.isinf(high):
        flags.append("the upper band never falls to 0.5: the median's interval is unbounded")
    return tuple(flags)


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"customer_survival"``."""
    register(CustomerSurvival)
