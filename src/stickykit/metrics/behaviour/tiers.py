r"""Value tiers: ABC (Pareto) classes, revenue deciles, top shares, Lorenz curve and Gini.

How concentrated is revenue among customers? The metric ``"value_tiers"`` ranks the merged
customers once, in ``finalize``, by net revenue to date, and reports:

- **ABC classes**: A holds the top customers up to a cumulative share of revenue (default
  80 %), B the next 15 %, C the rest;
- **deciles** of customers by revenue (1 = the top tenth), with ties sharing a decile;
- the **revenue share of the top x %** of customers (default 1 %, 10 %, 20 %);
- the **Lorenz curve** and the **Gini coefficient** (the headline ``value``), with a
  percentile bootstrap interval.

Zero and negative revenue (customers whose returns outweigh their purchases) need a policy,
stated by the parameter ``revenue_policy``: ``"clip"`` them to zero (default), ``"drop"``
customers without positive revenue, or ``"raise"`` on a negative value.

Examples
--------
>>> from stickykit.datasets import load_cdnow
>>> m = ValueTiers(n_boot=200)
>>> r = m.finalize(m.update(m.init(), load_cdnow(sample=True)))
>>> round(r.value, 3), round(r.details["top_share:0.2"], 3)
(0.631, 0.674)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from stickykit.core._time import us_to_datetime
from stickykit.errors import InsufficientDataError
from stickykit.metrics.base import MetricResult, package_version
from stickykit.metrics.behaviour._purchases import PurchaseSummaryMetric, alpha_field, tie_values
from stickykit.metrics.behaviour.summary import CustomerSummaryState, optional_kinds, resolve_as_of
from stickykit.plugins.hookspecs import hookimpl
from stickykit.stats.bootstrap import check_seed, generator, percentile_interval

__all__ = [
    "ValueTiers",
    "abc_classes",
    "bootstrap_gini",
    "deciles",
    "gini",
    "lorenz_curve",
    "top_share",
]

_REFERENCE = (
    "Gini (1912), Variabilita e mutabilita; Lorenz curve; ABC (Pareto) classes by cumulative "
    "revenue share; percentile bootstrap over customers"
)
_BLOCK = 2_000_000  # replicate x customer cells drawn at once in the bootstrap


def gini(values: NDArray[np.float64]) -> float:
    r"""The Gini coefficient of non-negative values.

    .. math::

        G = \frac{\sum_{i=1}^{n} (2i - n - 1)\, x_{(i)}}{n \sum_i x_i}
          = \frac{\sum_i \sum_j |x_i - x_j|}{2 n^2 \bar x},

    with :math:`x_{(1)} \le \dots \le x_{(n)}`: half the mean absolute difference over the
    mean. :math:`0 \le G \le 1 - 1/n`; 0 when all values are equal; invariant to scale and
    order. NaN when the total is 0.

    References
    ----------
    Gini, C. (1912). *Variabilita e mutabilita*. Bologna: Tipografia di Paolo Cuppini.

    Examples
    --------
    >>> import numpy as np
    >>> gini(np.array([1.0, 1.0, 1.0])), gini(np.array([0.0, 0.0, 0.0, 4.0]))
    (0.0, 0.75)
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    total = float(x.sum())
    if n == 0 or total <= 0:
        return math.nan
    weights = 2 * np.arange(1, n + 1) - n - 1
    return max(0.0, float(weights @ x) / (n * total))


def lorenz_curve(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""The Lorenz curve: share of customers (poorest first) against their share of revenue.

    .. math::

        L(k/n) = \frac{\sum_{i \le k} x_{(i)}}{\sum_i x_i}, \qquad k = 0, \dots, n,

    piecewise linear between the points; convex, from (0, 0) to (1, 1), on or below the
    diagonal. :math:`G = 1 - 2\int_0^1 L(u)\,du`.

    Examples
    --------
    >>> import numpy as np
    >>> u, share = lorenz_curve(np.array([3.0, 1.0]))
    >>> u.tolist(), share.tolist()
    ([0.0, 0.5, 1.0], [0.0, 0.25, 1.0])
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    share = cumulative / cumulative[-1]
    share[-1] = 1.0
    return np.arange(n + 1) / n, share


def top_share(values: NDArray[np.float64], fractions: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Revenue share of the top ``fractions`` of customers: :math:`1 - L(1 - q)`.

    :math:`L` is the Lorenz curve, interpolated linearly, so a fraction that splits a customer
    counts that part of the customer (ties do not matter).

    Examples
    --------
    >>> import numpy as np
    >>> top_share(np.array([1.0, 1.0, 2.0, 6.0]), np.array([0.25, 0.5])).tolist()
    [0.6, 0.8]
    """
    u, share = lorenz_curve(values)
    shares: NDArray[np.float64] = 1.0 - np.interp(1.0 - np.asarray(fractions), u, share)
    return shares


def abc_classes(values: NDArray[np.float64], cuts: NDArray[np.float64]) -> NDArray[np.intp]:
    r"""ABC class of each customer (0 = A): by the revenue share of customers ranked ahead.

    With :math:`S_>(x)` the share of revenue held by customers with strictly more revenue than
    :math:`x`, and cumulative bounds :math:`c_1 < c_2 < \dots` (0.80, 0.95 for 80/15/5), a
    customer is in the first class whose bound exceeds :math:`S_>(x)`:

    .. math::

        \text{class}(x) = \#\{k : c_k \le S_>(x)\}.

    So A is the smallest set of top customers holding at least 80 % (the customer who crosses
    the line is in A), and customers with equal revenue share a class.

    Examples
    --------
    >>> import numpy as np
    >>> abc_classes(np.array([50.0, 30.0, 10.0, 4.0, 6.0]), np.array([0.8, 0.95])).tolist()
    [0, 0, 1, 2, 1]
    """
    x = np.asarray(values, dtype=np.float64)
    tied = tie_values(x)
    unique, inverse = np.unique(tied, return_inverse=True)
    per_value = np.bincount(inverse, weights=x, minlength=len(unique))
    total = float(per_value.sum())
    above = (total - np.cumsum(per_value)) / total  # held by strictly larger values
    classes: NDArray[np.intp] = np.searchsorted(cuts, above[inverse], side="right")
    return classes


def deciles(values: NDArray[np.float64], n_tiles: int = 10) -> NDArray[np.int64]:
    r"""Decile of each customer by revenue, 1 = top tenth; ties share the better decile.

    .. math::

        \text{decile}(x) = 1 + \left\lfloor 10\, \frac{\#\{j : x_j > x\}}{n} \right\rfloor

    (competition ranking: a customer's decile is that of the first of its ties).

    Examples
    --------
    >>> import numpy as np
    >>> deciles(np.array([9.0, 5.0, 5.0, 1.0]), 4).tolist()
    [1, 2, 2, 4]
    """
    tied = tie_values(np.asarray(values, dtype=np.float64))
    n = len(tied)
    _, inverse, counts = np.unique(tied, return_inverse=True, return_counts=True)
    greater = n - np.cumsum(counts)
    out: NDArray[np.int64] = 1 + (n_tiles * greater[inverse]) // max(n, 1)
    return out


def bootstrap_gini(
    values: NDArray[np.float64], n_boot: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    r"""Gini coefficients of ``n_boot`` resamples of the customers (with replacement).

    Each replicate draws counts :math:`c_i` of the sorted values and uses the weighted form

    .. math::

        G^* = \frac{\sum_i c_i x_{(i)} (2 C_{i-1} + c_i - n)}{n \sum_i c_i x_{(i)}},
        \qquad C_i = \sum_{k \le i} c_k,

    so nothing is re-sorted; replicates are drawn in blocks of bounded memory.

    Examples
    --------
    >>> import numpy as np
    >>> g = bootstrap_gini(np.array([1.0, 2.0, 3.0, 10.0]), 5, np.random.default_rng(0))
    >>> g.shape, bool(((g >= 0) & (g <= 1)).all())
    ((5,), True)
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    out = np.empty(n_boot)
    block = max(1, _BLOCK // max(n, 1))
    for start in range(0, n_boot, block):  # blocks of replicates, never rows
        b = min(block, n_boot - start)
        draws = rng.integers(0, n, size=(b, n))
        flat = (draws + n * np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)
        before = np.cumsum(counts, axis=1) - counts
        money = counts * x
        total = money.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + b] = (money * (2 * before + counts - n)).sum(axis=1) / (n * total)
    return out


def _policy_field() -> Any:
    return attrs.field(default="clip", validator=attrs.validators.in_(("clip", "drop", "raise")))


def _to_floats(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value)


def _check_abc(instance: Any, attribute: Any, value: tuple[float, ...]) -> None:
    del instance, attribute
    if len(value) < 2 or len(value) > 26 or min(value) <= 0 or not math.isclose(sum(value), 1.0):
        msg = f"abc_shares must be 2 to 26 positive shares summing to 1, got {value!r}"
        raise ValueError(msg)


def _check_top(instance: Any, attribute: Any, value: tuple[float, ...]) -> None:
    del instance, attribute
    if not all(0 < v <= 1 for v in value):
        msg = f"top_shares must be customer shares in (0, 1], got {value!r}"
        raise ValueError(msg)


def _check_n_boot(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    if type(value) is not int or value < 0:
        msg = f"n_boot must be an integer >= 0, got {value!r}"
        raise ValueError(msg)


def _check_seed(instance: Any, attribute: Any, value: Any) -> None:
    del instance, attribute
    check_seed(value)


@attrs.frozen
class ValueTiers(PurchaseSummaryMetric):
    r"""Revenue concentration: Gini (the value), Lorenz curve, ABC classes, deciles, top shares.

    Parameters
    ----------
    revenue_policy : {"clip", "drop", "raise"}
        Customers whose net revenue is negative (returns outweigh purchases): ``"clip"`` sets
        it to 0 and keeps them (customers with 0 revenue count as customers who brought
        nothing), ``"drop"`` leaves out every customer with revenue <= 0, ``"raise"`` raises
        ``ValueError`` on a negative value, naming the customer.
    abc_shares : tuple of float
        Revenue shares of the classes A, B, C, ... (default 0.80, 0.15, 0.05), summing to 1.
    top_shares : tuple of float
        Customer shares whose revenue share is reported (default 1 %, 10 %, 20 %).
    n_boot : int
        Bootstrap replicates for the Gini interval (0: no interval). Costs
        ``n_boot x customers`` operations.
    seed : int
        Seed of the bootstrap's :class:`numpy.random.Generator`.
    alpha : float
        1 - confidence level.
    kinds : tuple of str or None
        Event kinds that count as purchases (default ``("purchase",)``).
    zone : str
        IANA time zone (only used for the state's calendar bookkeeping).

    Notes
    -----
    Revenue is each customer's net spend (returns netted) to ``as_of``. With the values
    :math:`x_{(1)} \le \dots \le x_{(n)}` after the policy:
    :func:`gini`, :func:`lorenz_curve`, :func:`top_share`, :func:`abc_classes` and
    :func:`deciles` give the formulas and tie rules. The interval is the percentile bootstrap
    over customers (:func:`bootstrap_gini`): it treats customers as a random sample of a larger
    base, and it inherits the downward bias of the sample Gini in small samples
    (:math:`G \le 1 - 1/n`).

    ``details``: ``customers``, ``total_revenue``, ``clipped_customers``,
    ``dropped_customers``, ``zero_revenue_customers``, ``returns_only_customers``,
    ``top_share:<q>``, ``<class>_revenue_share`` and ``<class>_customers``. ``tables``: per
    customer ``customer_id``, ``revenue``, ``abc`` (letters), ``decile``; the curve
    ``lorenz_customers``, ``lorenz_revenue``; per decile ``decile_customers`` and
    ``decile_revenue_share``.

    References
    ----------
    Gini, C. (1912). *Variabilita e mutabilita*. Bologna: Tipografia di Paolo Cuppini.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import EventFrame
    >>> f = EventFrame(event_id=np.arange(4), customer_id=np.array([1, 2, 3, 4]),
    ...                timestamp=np.zeros(4, dtype="datetime64[us]"),
    ...                amount=np.array([70.0, 20.0, 10.0, 0.0]))
    >>> m = ValueTiers(n_boot=0)
    >>> r = m.finalize(m.update(m.init(), f))
    >>> r.value, r.tables["abc"].tolist(), r.details["A_revenue_share"]
    (0.55, ['A', 'A', 'B', 'C'], 0.9)
    """

    name: ClassVar[str] = "value_tiers"
    reference: ClassVar[str] = _REFERENCE

    revenue_policy: Literal["clip", "drop", "raise"] = _policy_field()
    abc_shares: tuple[float, ...] = attrs.field(
        default=(0.8, 0.15, 0.05), converter=_to_floats, validator=_check_abc
    )
    top_shares: tuple[float, ...] = attrs.field(
        default=(0.01, 0.1, 0.2), converter=_to_floats, validator=_check_top
    )
    n_boot: int = attrs.field(default=1000, validator=_check_n_boot)
    seed: int = attrs.field(default=0, validator=_check_seed)
    alpha: float = attrs.field(default=0.05, validator=alpha_field)
    kinds: tuple[str, ...] | None = attrs.field(default=("purchase",), converter=optional_kinds)
    zone: str = "UTC"

    def summary_period(self) -> Literal["quarter"]:
        """Quarters: the active periods are not used, so keep the bitmask small."""
        return "quarter"

    def revenue(
        self, state: CustomerSummaryState
    ) -> tuple[NDArray[Any], NDArray[np.float64], dict[str, float]]:
        """Customer ids and revenue after ``revenue_policy``, with the counts it changed.

        Examples
        --------
        >>> import numpy as np
        >>> from stickykit.frames import EventFrame
        >>> f = EventFrame(event_id=np.arange(3), customer_id=np.array([1, 1, 2]),
        ...                timestamp=np.zeros(3, dtype="datetime64[us]"),
        ...                amount=np.array([5.0, -9.0, 3.0]))
        >>> m = ValueTiers(revenue_policy="drop")
        >>> ids, revenue, counts = m.revenue(m.update(m.init(), f))
        >>> ids.tolist(), revenue.tolist(), counts["dropped_customers"]
        ([2], [3.0], 1.0)
        """
        buyers = state.n_events > 0
        ids = state.customer_id[buyers]
        revenue = state.monetary[buyers]
        negative = revenue < 0
        counts = {
            "clipped_customers": 0.0,
            "dropped_customers": 0.0,
            "returns_only_customers": float(len(state) - int(buyers.sum())),
        }
        if self.revenue_policy == "raise" and negative.any():
            k = int(np.flatnonzero(negative)[0])
            msg = (
                f"value_tiers: customer {ids[k].item()!r} has negative net revenue "
                f"{revenue[k].item()!r} "
                f"({int(negative.sum())} customers in all); choose revenue_policy='clip' or "
                "'drop'"
            )
            raise ValueError(msg)
        if self.revenue_policy == "clip":
            counts["clipped_customers"] = float(negative.sum())
            revenue = np.maximum(revenue, 0.0)
        elif self.revenue_policy == "drop":
            keep = revenue > 0
            counts["dropped_customers"] = float((~keep).sum())
            ids, revenue = ids[keep], revenue[keep]
        return ids, revenue, counts

    def finalize(
        self, state: CustomerSummaryState, as_of: dt.datetime | None = None
    ) -> MetricResult:
        """Gini with its interval, and the tiers of the merged customers."""
        buyers = state.n_events > 0
        if not buyers.any():
            msg = "value_tiers needs at least one customer with a purchase"
            raise InsufficientDataError(msg)
        as_of_us = resolve_as_of(state.last_us[buyers], as_of)
        ids, revenue, counts = self.revenue(state)
        total = float(revenue.sum())
        if total <= 0:
            msg = "value_tiers needs a positive total revenue after the revenue policy"
            raise InsufficientDataError(msg)
        n = len(revenue)
        value = gini(revenue)
        se = low = high = math.nan
        if self.n_boot > 0:
            replicates = bootstrap_gini(revenue, self.n_boot, generator(self.seed))
            lo_arr, hi_arr = percentile_interval(replicates[:, None], self.alpha)
            low, high = float(lo_arr[0]), float(hi_arr[0])
            se = float(np.nanstd(replicates, ddof=1)) if self.n_boot > 1 else math.nan
            method = (
                f"percentile bootstrap over customers ({self.n_boot} replicates, seed {self.seed})"
            )
        else:
            method = "no interval (n_boot=0)"
        letters = np.array([chr(ord("A") + k) for k in range(len(self.abc_shares))])
        cuts = np.cumsum(self.abc_shares)[:-1]
        classes = abc_classes(revenue, cuts)
        class_revenue = np.bincount(classes, weights=revenue, minlength=len(letters)) / total
        class_customers = np.bincount(classes, minlength=len(letters))
        decile = deciles(revenue)
        decile_customers = np.bincount(decile - 1, minlength=10).astype(np.int64)
        decile_share = np.bincount(decile - 1, weights=revenue, minlength=10) / total
        top = top_share(revenue, np.asarray(self.top_shares))
        u, share = lorenz_curve(revenue)
        details = {
            "customers": float(n),
            "total_revenue": total,
            **counts,
            "zero_revenue_customers": float((revenue == 0).sum()),
            **{f"top_share:{q:g}": float(t) for q, t in zip(self.top_shares, top, strict=True)},
        }
        for k, letter in enumerate(letters):
            details[f"{letter}_revenue_share"] = float(class_revenue[k])
            details[f"{letter}_customers"] = float(class_customers[k])
        as_of_dt = us_to_datetime(as_of_us)
        return MetricResult(
            metric=self.name,
            value=value,
            n=n,
            n_missing=int(counts["returns_only_customers"] + counts["dropped_customers"]),
            se=None if math.isnan(se) else se,
            ci_low=None if math.isnan(low) else low,
            ci_high=None if math.isnan(high) else high,
            level=1 - self.alpha,
            method=method,
            reference=self.reference,
            params={**self.params(), "as_of": as_of_dt},
            as_of=as_of_dt,
            version=package_version(),
            unit="share",
            details=details,
            tables={
                "customer_id": ids,
                "revenue": revenue,
                "abc": letters[classes],
                "decile": decile,
                "lorenz_customers": u,
                "lorenz_revenue": share,
                "decile_customers": decile_customers,
                "decile_revenue_share": decile_share,
            },
        )


@hookimpl
def register_metrics(register: Any) -> None:
    """Register ``"value_tiers"``."""
    register(ValueTiers)
