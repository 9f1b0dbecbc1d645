r"""Seeded simulation of the buy-till-you-die models, vectorised over customers.

Each function draws every customer's latent traits from the model's mixing distributions and
then their purchases (or renewals) from the model's individual-level story, with a
:class:`numpy.random.Generator` (or a seed) passed in, so a simulation is reproducible. They
serve to check fitted models (parameter recovery, calibration of intervals) and to show what a
set of parameters means.

Transaction models (:func:`simulate_bgnbd`, :func:`simulate_mbgnbd`,
:func:`simulate_paretonbd`) run in continuous time: customer :math:`i` makes a first purchase
at time 0 and is observed for ``age`` :math:`T_i`, then for a holdout of length
``holdout``. Purchases while active are a Poisson process; the arrivals of customer :math:`i`
over :math:`(0, H_i]` are drawn at once as a Poisson count with uniform, sorted positions,
all customers in one flat array, so memory grows with the number of simulated purchases and
there is no loop over customers. Ages may differ per customer (for example uniform
acquisition over a window).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> sim = simulate_bgnbd(0.243, 4.414, 0.793, 2.426, n_customers=2357, age=38.86, rng=rng,
...                      holdout=39.0)
>>> h = sim.histories
>>> len(h), bool(h.recency.max() <= 38.86), sim.holdout_length
(2357, True, 39.0)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.models._histories import Histories

__all__ = [
    "SimulatedCohort",
    "SimulatedHistories",
    "simulate_bgbb",
    "simulate_bgnbd",
    "simulate_gammagamma_spend",
    "simulate_mbgnbd",
    "simulate_paretonbd",
    "simulate_sbg",
]


@attrs.frozen(eq=False)
class SimulatedHistories:
    """Simulated calibration histories, holdout counts and the truth behind them.

    Attributes
    ----------
    histories : Histories
        Calibration histories, one row per customer.
    holdout_frequency : numpy.ndarray of int64
        Purchases in the holdout period (zeros without a holdout).
    holdout_length : float
        Length of the holdout period (in transaction opportunities for BG/BB).
    alive : numpy.ndarray of bool
        Whether each customer is still active at the end of calibration.
    params : dict of str to float
        The parameters simulated from.
    """

    histories: Histories
    holdout_frequency: NDArray[np.int64]
    holdout_length: float
    alive: NDArray[np.bool_]
    params: dict[str, float]


@attrs.frozen(eq=False)
class SimulatedCohort:
    """A simulated contractual cohort, in the input forms of the sBG model.

    Attributes
    ----------
    periods : numpy.ndarray of int64
        Per customer, the period of churn, or ``n_periods`` for a customer still active.
    churned : numpy.ndarray of bool
        ``True`` for customers who churned within ``n_periods``.
    survivors : numpy.ndarray of int64
        Customers still active after 0, 1, ..., ``n_periods`` periods (``survivors[0]`` is the
        cohort size).
    params : dict of str to float
        The parameters simulated from.
    """

    periods: NDArray[np.int64]
    churned: NDArray[np.bool_]
    survivors: NDArray[np.int64]
    params: dict[str, float]


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}")


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive(**params: Any) -> dict[str, float]:
    bad = [k for k, v in params.items() if not (_real(v) and math.isfinite(v))]
    bad += [k for k, v in params.items() if k not in bad and not v > 0]
    if bad:
        shown = ", ".join(f"{k}={params[k]!r}" for k in bad)
        raise ValueError(f"parameters must be finite numbers > 0: {shown}")
    return {k: float(v) for k, v in params.items()}


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _ages(age: ArrayLike, n_customers: int) -> NDArray[np.float64]:
    n = _count("n_customers", n_customers, 0)
    ages = np.asarray(age, dtype=np.float64)
    if ages.ndim == 0:
        ages = np.full(n, float(ages))
    if ages.shape != (n,):
        raise ValueError(f"age must be a number or an array of n_customers={n} ages")
    if not np.all(np.isfinite(ages) & (ages >= 0)):
        raise ValueError("every age must be a finite number >= 0")
    return ages


def _holdout(holdout: Any) -> float:
    if not (_real(holdout) and math.isfinite(holdout) and holdout >= 0):
        raise ValueError(f"holdout must be a finite number >= 0, got {holdout!r}")
    return float(holdout)


def _geometric(p: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.int64]:
    r"""Trials up to the first success, on {1, 2, ...}, by inversion; valid for p = 0 too.

    :math:`K = 1 + \lfloor \ln U / \ln(1 - p) \rfloor` with :math:`U` uniform on (0, 1].
    numpy's own sampler refuses :math:`p = 0`, which beta draws with a small shape parameter
    do return; such a customer never succeeds, and is capped at :math:`2^{62}` trials.
    """
    u = 1.0 - rng.random(len(p))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        trials = np.floor(np.log(u) / np.log1p(-p)) + 1.0
    trials = np.where(p > 0, trials, np.inf)
    return np.minimum(trials, 2.0**62).astype(np.int64)


def _arrivals(
    rate: NDArray[np.float64], span: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.intp]]:
    """Poisson arrivals of rate ``rate[i]`` over ``(0, span[i]]``, for all customers at once.

    Returns the owner of each arrival, its time and its rank among the owner's arrivals
    (0 for the first), sorted by owner, then time.
    """
    counts = rng.poisson(rate * span)
    owner = np.repeat(np.arange(len(rate)), counts)
    times = (1.0 - rng.random(len(owner))) * span[owner]  # in (0, span]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(owner)) - starts[owner]
    return owner, times, rank


def _transaction_histories(
    owner: NDArray[np.intp],
    times: NDArray[np.float64],
    active: NDArray[np.bool_],
    ages: NDArray[np.float64],
    holdout: float,
    alive: NDArray[np.bool_],
    params: dict[str, float],
    time_unit: str,
) -> SimulatedHistories:
    """Histories from the arrivals made while active (one flat array of all customers)."""
    n = len(ages)
    in_calibration = active & (times <= ages[owner])
    frequency = np.bincount(owner[in_calibration], minlength=n)
    recency = np.zeros(n)
    np.maximum.at(recency, owner[in_calibration], times[in_calibration])
    held = active & ~in_calibration
    histories = Histories.from_arrays(
        frequency=frequency, recency=recency, age=ages, time_unit=time_unit
    )
    return SimulatedHistories(
        histories=histories,
        holdout_frequency=np.bincount(owner[held], minlength=n).astype(np.int64),
        holdout_length=holdout,
        alive=alive,
        params=params,
    )


def _geometric_nbd(
    params: dict[str, float],
    ages: NDArray[np.float64],
    holdout: float,
    rng: np.random.Generator,
    time_unit: str,
    *,
    drop_at_start: bool,
) -> SimulatedHistories:
    """BG/NBD (``drop_at_start=False``) or MBG/NBD (``True``)."""
    n = len(ages)
    rate = rng.gamma(params["r"], 1.0 / params["alpha"], size=n)
    p = rng.beta(params["a"], params["b"], size=n)
    # repeat purchases made before dropping out: after each purchase the customer drops out
    # with probability p (BG/NBD: after each repeat purchase; MBG/NBD: also at time 0)
    last = _geometric(p, rng) - (1 if drop_at_start else 0)
    owner, times, rank = _arrivals(rate, ages + holdout, rng)
    active = rank < last[owner]
    before = np.bincount(owner[times <= ages[owner]], minlength=n)
    return _transaction_histories(
        owner, times, active, ages, holdout, before < last, params, time_unit
    )


def simulate_bgnbd(
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    n_customers: int,
    age: ArrayLike,
    rng: np.random.Generator | int,
    holdout: float = 0.0,
    time_unit: str = "week",
) -> SimulatedHistories:
    r"""Simulate BG/NBD customers (Fader, Hardie & Lee 2005a).

    Parameters
    ----------
    r, alpha : float
        Purchase rates :math:`\lambda \sim \mathrm{Gamma}(r, \text{rate } \alpha)`.
    a, b : float
        Dropout probabilities :math:`p \sim \mathrm{Beta}(a, b)`.
    n_customers : int
        Number of customers.
    age : float or array_like
        Time from each customer's first purchase to the end of calibration, :math:`T`.
    rng : numpy.random.Generator or int
        The random source (a seed makes a new generator).
    holdout : float
        Length of the holdout period after calibration (0: none).
    time_unit : str
        Label of the time axis.

    Returns
    -------
    SimulatedHistories

    Notes
    -----
    While active, a customer buys as a Poisson process of rate :math:`\lambda`; right after
    each repeat purchase they drop out with probability :math:`p`, so the number of repeat
    purchases before dropping out is geometric on :math:`\{1, 2, \dots\}`. Fader, Hardie &
    Lee (2005), "'Counting your customers' the easy way", *Marketing Science* 24(2),
    275-284, section 3 (assumptions i-v).

    Examples
    --------
    >>> sim = simulate_bgnbd(0.5, 5.0, 0.8, 2.5, n_customers=4, age=[10.0, 20.0, 30.0, 40.0],
    ...                      rng=7)
    >>> sim.histories.age.tolist(), sim.holdout_frequency.tolist()
    ([10.0, 20.0, 30.0, 40.0], [0, 0, 0, 0])
    """
    params = _positive(r=r, alpha=alpha, a=a, b=b)
    return _geometric_nbd(
        params,
        _ages(age, n_customers),
        _holdout(holdout),
        _generator(rng),
        time_unit,
        drop_at_start=False,
    )


def simulate_mbgnbd(
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    n_customers: int,
    age: ArrayLike,
    rng: np.random.Generator | int,
    holdout: float = 0.0,
    time_unit: str = "week",
) -> SimulatedHistories:
    r"""Simulate MBG/NBD customers (Batislam, Denizel & Filiztekin 2007).

    As :func:`simulate_bgnbd`, except that a customer may also drop out right after the first
    purchase, at time 0, so the number of repeat purchases before dropping out is geometric
    on :math:`\{0, 1, \dots\}`.

    Parameters
    ----------
    r, alpha, a, b : float
        As in :func:`simulate_bgnbd`.
    n_customers : int
        Number of customers.
    age : float or array_like
        Time from each customer's first purchase to the end of calibration.
    rng : numpy.random.Generator or int
        The random source.
    holdout : float
        Length of the holdout period (0: none).
    time_unit : str
        Label of the time axis.

    Returns
    -------
    SimulatedHistories

    Notes
    -----
    Batislam, E. P., Denizel, M. and Filiztekin, A. (2007), "Empirical validation and
    comparison of models for customer base analysis", *International Journal of Research in
    Marketing* 24(3), 201-209; with the erratum of Wagner & Hoppe (2008), *IJRM* 25(3),
    225-226.

    Examples
    --------
    >>> sim = simulate_mbgnbd(0.5, 5.0, 0.8, 2.5, n_customers=1000, age=30.0, rng=3)
    >>> bool(sim.alive.mean() < 1)
    True
    """
    params = _positive(r=r, alpha=alpha, a=a, b=b)
    return _geometric_nbd(
        params,
        _ages(age, n_customers),
        _holdout(holdout),
        _generator(rng),
        time_unit,
        drop_at_start=True,
    )


def simulate_paretonbd(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    *,
    n_customers: int,
    age: ArrayLike,
    rng: np.random.Generator | int,
    holdout: float = 0.0,
    time_unit: str = "week",
) -> SimulatedHistories:
    r"""Simulate Pareto/NBD customers (Schmittlein, Morrison & Colombo 1987).

    Parameters
    ----------
    r, alpha : float
        Purchase rates :math:`\lambda \sim \mathrm{Gamma}(r, \text{rate } \alpha)`.
    s, beta : float
        Dropout rates :math:`\mu \sim \mathrm{Gamma}(s, \text{rate } \beta)`.
    n_customers : int
        Number of customers.
    age : float or array_like
        Time from each customer's first purchase to the end of calibration.
    rng : numpy.random.Generator or int
        The random source.
    holdout : float
        Length of the holdout period (0: none).
    time_unit : str
        Label of the time axis.

    Returns
    -------
    SimulatedHistories

    Notes
    -----
    A customer is active for an exponential lifetime :math:`\tau` of rate :math:`\mu`, buying
    as a Poisson process of rate :math:`\lambda` meanwhile. Schmittlein, D. C., Morrison, D. G.
    and Colombo, R. (1987), "Counting your customers: who are they and what will they do
    next?", *Management Science* 33(1), 1-24, section 2.

    Examples
    --------
    >>> sim = simulate_paretonbd(0.55, 10.58, 0.61, 11.67, n_customers=3, age=39.0, rng=5)
    >>> sim.histories.frequency.dtype.name, sim.params["beta"]
    ('int64', 11.67)
    """
    params = _positive(r=r, alpha=alpha, s=s, beta=beta)
    ages = _ages(age, n_customers)
    length = _holdout(holdout)
    generator = _generator(rng)
    n = len(ages)
    rate = generator.gamma(params["r"], 1.0 / params["alpha"], size=n)
    death = generator.gamma(params["s"], 1.0 / params["beta"], size=n)
    lifetime = generator.exponential(size=n) / death
    owner, times, _ = _arrivals(rate, np.minimum(lifetime, ages + length), generator)
    active = np.ones(len(owner), dtype=bool)
    return _transaction_histories(
        owner, times, active, ages, length, lifetime > ages, params, time_unit
    )


def simulate_gammagamma_spend(
    p: float, q: float, gamma: float, frequency: ArrayLike, rng: np.random.Generator | int
) -> NDArray[np.float64]:
    r"""Simulate mean repeat spends under the Gamma-Gamma model (Fader, Hardie & Lee 2005b).

    Parameters
    ----------
    p : float
        Shape of each transaction's value, :math:`z \sim \mathrm{Gamma}(p, \text{rate } \nu)`.
    q, gamma : float
        :math:`\nu \sim \mathrm{Gamma}(q, \text{rate } \gamma)` across customers.
    frequency : array_like of int
        Repeat purchases per customer, :math:`x \ge 0`.
    rng : numpy.random.Generator or int
        The random source.

    Returns
    -------
    numpy.ndarray of float64
        The mean value :math:`\bar z` of each customer's :math:`x` repeat transactions; NaN
        where :math:`x = 0` (the ``monetary`` of :class:`~stickykit.models.Histories`).

    Notes
    -----
    The sum of :math:`x` independent :math:`\mathrm{Gamma}(p, \nu)` values is
    :math:`\mathrm{Gamma}(px, \nu)`, so :math:`\bar z \mid \nu \sim \mathrm{Gamma}(px,
    \text{rate } x\nu)`, one draw per customer. Fader, P. S., Hardie, B. G. S. and Lee, K. L.
    (2005), "RFM and CLV: using iso-value curves for customer base analysis", *Journal of
    Marketing Research* 42(4), 415-430; Fader & Hardie (2013), "The Gamma-Gamma model of
    monetary value", note 025.

    Examples
    --------
    >>> z = simulate_gammagamma_spend(6.25, 3.74, 15.44, [0, 1, 5], rng=2)
    >>> bool(np.isnan(z[0])), bool((z[1:] > 0).all())
    (True, True)
    """
    params = _positive(p=p, q=q, gamma=gamma)
    x = np.asarray(frequency)
    if x.ndim != 1 or not np.all(np.isfinite(x) & (x >= 0) & (x == np.round(x))):
        raise ValueError("frequency must be a 1-D array of whole numbers >= 0")
    generator = _generator(rng)
    nu = generator.gamma(params["q"], 1.0 / params["gamma"], size=len(x))
    repeat = x > 0
    out = np.full(len(x), np.nan)
    shape = params["p"] * x[repeat]
    out[repeat] = generator.gamma(shape, 1.0 / (x[repeat] * nu[repeat]))
    return out


def simulate_sbg(
    alpha: float, beta: float, n_customers: int, n_periods: int, rng: np.random.Generator | int
) -> SimulatedCohort:
    r"""Simulate a contractual cohort under the shifted-beta-geometric model.

    Parameters
    ----------
    alpha, beta : float
        Per-period churn probabilities :math:`\theta \sim \mathrm{Beta}(\alpha, \beta)`.
    n_customers : int
        Cohort size.
    n_periods : int
        Periods observed (>= 1).
    rng : numpy.random.Generator or int
        The random source.

    Returns
    -------
    SimulatedCohort

    Notes
    -----
    Each customer churns at the end of period :math:`t` with probability
    :math:`\theta(1 - \theta)^{t-1}`, :math:`t \ge 1`. Fader, P. S. and Hardie, B. G. S.
    (2007), "How to project customer retention", *Journal of Interactive Marketing* 21(1),
    76-90, section 3.

    Examples
    --------
    >>> c = simulate_sbg(0.704, 1.182, 1000, 7, rng=11)
    >>> len(c.survivors), int(c.survivors[0]), bool(np.all(np.diff(c.survivors) <= 0))
    (8, 1000, True)
    """
    params = _positive(alpha=alpha, beta=beta)
    n = _count("n_customers", n_customers, 0)
    k = _count("n_periods", n_periods, 1)
    generator = _generator(rng)
    theta = generator.beta(params["alpha"], params["beta"], size=n)
    lifetime = _geometric(theta, generator)
    churned = lifetime <= k
    periods = np.minimum(lifetime, k).astype(np.int64)
    lost = np.bincount(periods[churned], minlength=k + 1)[1:]
    survivors = n - np.concatenate([[0], np.cumsum(lost)])
    return SimulatedCohort(
        periods=periods, churned=churned, survivors=survivors.astype(np.int64), params=params
    )


def simulate_bgbb(
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    n_customers: int,
    n_opportunities: int,
    rng: np.random.Generator | int,
    *,
    n_holdout: int = 0,
) -> SimulatedHistories:
    r"""Simulate BG/BB customers over discrete transaction opportunities.

    Parameters
    ----------
    alpha, beta : float
        Transaction probabilities :math:`p \sim \mathrm{Beta}(\alpha, \beta)`.
    gamma, delta : float
        Dropout probabilities :math:`\theta \sim \mathrm{Beta}(\gamma, \delta)`.
    n_customers : int
        Number of customers.
    n_opportunities : int
        Calibration opportunities :math:`n` after the first purchase (the ``age``).
    rng : numpy.random.Generator or int
        The random source.
    n_holdout : int
        Further opportunities in the holdout period.

    Returns
    -------
    SimulatedHistories
        ``frequency`` :math:`x`, ``recency`` :math:`t_x` (the opportunity of the last
        purchase, 0 without one) and ``age`` :math:`n`, with ``time_unit="period"``.

    Notes
    -----
    At the start of each opportunity an active customer drops out with probability
    :math:`\theta`; if still active, they buy with probability :math:`p`. Fader, P. S.,
    Hardie, B. G. S. and Shang, J. (2010), "Customer-base analysis in a discrete-time
    noncontractual setting", *Marketing Science* 29(6), 1086-1108, section 2. The loop runs
    over the :math:`n` + ``n_holdout`` opportunities, each step vectorised over customers.

    Examples
    --------
    >>> sim = simulate_bgbb(1.204, 0.750, 0.657, 2.783, 5, 6, rng=1, n_holdout=5)
    >>> sim.histories.time_unit, sim.histories.age.tolist(), sim.holdout_length
    ('period', [6.0, 6.0, 6.0, 6.0, 6.0], 5.0)
    """
    params = _positive(alpha=alpha, beta=beta, gamma=gamma, delta=delta)
    n = _count("n_customers", n_customers, 0)
    k = _count("n_opportunities", n_opportunities, 0)
    extra = _count("n_holdout", n_holdout, 0)
    generator = _generator(rng)
    p = generator.beta(params["alpha"], params["beta"], size=n)
    theta = generator.beta(params["gamma"], params["delta"], size=n)
    # opportunities survived: failures before the first dropout, on {0, 1, ...}
    survived = _geometric(theta, generator) - 1
    frequency = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    held = np.zeros(n, dtype=np.int64)
    for t in range(1, k + extra + 1):  # opportunities, not customers
        buys = (survived >= t) & (generator.random(n) < p)
        if t <= k:
            frequency += buys
            recency[buys] = t
        else:
            held += buys
    histories = Histories.from_arrays(
        frequency=frequency, recency=recency, age=np.full(n, float(k)), time_unit="period"
    )
    return SimulatedHistories(
        histories=histories,
        holdout_frequency=held,
        holdout_length=float(extra),
        alive=survived >= k,
        params=params,
    )
