"""A seeded generator of synthetic loyalty-programme and complaint events.

The data are synthetic, made up by a seeded random generator: no shop, member or complaint
exists, and nothing here reproduces a published data set. The generator exists so that the
programme, complaint and life-cycle measures have events to run on in examples and tests.

Examples
--------
>>> f = programme_events(n_customers=50, seed=1)
>>> sorted(set(f.kind.tolist()))[:4]
['churned', 'complaint_contact', 'complaint_opened', 'complaint_resolved']
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.frames import EventFrame

__all__ = ["programme_events"]

_US_PER_DAY = 86_400_000_000
_BLOCK = 500  # points per reward
_TIERS = ((0, "bronze"), (1_000, "silver"), (3_000, "gold"))
_ORDER = {
    "enrolled": 0,
    "purchase": 1,
    "points_earned": 2,
    "tier_changed": 3,
    "points_redeemed": 4,
    "complaint_opened": 5,
    "complaint_contact": 6,
    "complaint_resolved": 7,
    "points_expired": 8,
    "unenrolled": 9,
    "churned": 10,
}


def _check(n_customers: Any, seed: Any, days: Any) -> None:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int) or n_customers < 1:
        msg = f"n_customers must be a positive integer, got {n_customers!r}"
        raise ValueError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise ValueError(msg)
    if isinstance(days, bool) or not isinstance(days, int) or days < 30:
        msg = f"days must be an integer >= 30, got {days!r}"
        raise ValueError(msg)


def _segments(
    rng: np.random.Generator,
    customer: NDArray[np.int64],
    start: NDArray[np.float64],
    length: NDArray[np.float64],
    rate: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Poisson purchase times on each (customer, start, length, rate) segment."""
    counts = rng.poisson(rate * np.maximum(length, 0.0))
    who = np.repeat(customer, counts)
    when = np.repeat(start, counts) + rng.random(int(counts.sum())) * np.repeat(length, counts)
    return who, when


def _running(values: NDArray[Any], group: NDArray[np.int64]) -> NDArray[Any]:
    """Cumulative sums of ``values`` restarting at each new ``group`` (rows sorted by group)."""
    total = np.cumsum(values)
    if len(total) == 0:
        return total
    first = np.concatenate([[True], group[1:] != group[:-1]])
    base = (total - values)[first]
    return total - base[np.cumsum(first) - 1]  # type: ignore[no-any-return]


def programme_events(
    n_customers: int = 1000, *, seed: int = 0, start: str = "2023-01-01", days: int = 730
) -> EventFrame:
    """Synthetic events of a shop with a points programme and a complaints desk (seeded).

    The data are synthetic: every customer, point and complaint is made up by a seeded
    random generator (the same ``seed`` gives the same frame). They follow the event
    convention of :mod:`stickykit.metrics.programme` and break none of its rules (no balance
    below zero, no enrolment after churn, no resolution before opening).

    Parameters
    ----------
    n_customers : int
        Customers (ids ``1000, 1001, ...``).
    seed : int
        Seed of the random generator.
    start : str
        ISO date of day 0.
    days : int
        Length of the observation period (events fall in ``[start, start + days)``).

    Returns
    -------
    EventFrame
        Rows ordered by time, with ``kind`` one of ``purchase``, ``enrolled``,
        ``unenrolled``, ``churned``, ``points_earned``, ``points_redeemed``,
        ``points_expired``, ``tier_changed``, ``complaint_opened``, ``complaint_contact``,
        ``complaint_resolved``; ``amount`` (EUR, purchases only, else 0), ``quantity``
        (1 per purchase, the points of a points event, else 0) and ``order_id`` (the order
        of a purchase and of the points it earned, the tier of a tier change, the complaint
        id of a complaint event; missing for the other kinds).

    Notes
    -----
    How the events are made up:

    - each customer arrives uniformly in the first 95 % of the period with a first purchase,
      buys as a Poisson process with a gamma-distributed rate (mean one purchase per 45
      days) and stops after an exponential lifetime (mean 400 days);
    - customers with a higher rate are likelier to enrol (self-selection, 25 % or 55 %),
      about a month after arriving; members buy 25 % more often after enrolling;
    - members earn one point per whole euro; each time a member's points pass a multiple of
      500, they redeem 500 points with probability 0.6; a member's balance expires 365 days
      after their last points event; members tier up from bronze (on enrolment) to silver
      (1,000 points earned) and gold (3,000);
    - 3 % of purchases lead to a complaint within three days; resolution takes a log-normal
      time (median 3 days) and may fall after the end (the complaint stays open); 30 % of
      complaints get a further contact; after a first complaint, each later purchase is lost
      with probability 0.15, or 0.6 if that complaint took more than a week to resolve;
    - 5 % of members leave the programme 30 days after their last purchase, and 30 % of the
      customers who stop buying are marked churned 400 days after it, if within the period.

    Examples
    --------
    >>> f = programme_events(n_customers=200, seed=7)
    >>> first, last = f.timestamp.min(), f.timestamp.max()
    >>> len(f) > 1000, str(first) >= "2023-01-01", str(last) < "2025-01-01"
    (True, True, True)
    >>> from stickykit.metrics.programme.points import PointsBreakage
    >>> m = PointsBreakage()
    >>> 0 <= m.finalize(m.update(m.init(), f)).value <= 1
    True
    """
    _check(n_customers, seed, days)
    rng = np.random.default_rng(seed)
    origin = np.datetime64(start, "us").astype(np.int64)
    n = n_customers
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    arrive = rng.random(n) * 0.95 * days
    rate = rng.gamma(1.5, 1.0 / (45 * 1.5), n)
    stop = np.minimum(arrive + rng.exponential(400.0, n), days)
    heavy = rate > np.median(rate)
    joins = rng.random(n) < np.where(heavy, 0.55, 0.25)
    enrol = arrive + rng.exponential(30.0, n)
    member = joins & (enrol < stop)
    enrol = np.where(member, enrol, stop)  # the member segment is empty for non-members
    customers = np.arange(n, dtype=np.int64)
    who_a, when_a = _segments(rng, customers, arrive, enrol - arrive, rate)
    who_b, when_b = _segments(rng, customers, enrol, stop - enrol, rate * 1.25)
    who = np.concatenate([customers, who_a, who_b])
    when = np.concatenate([arrive, when_a, when_b])

    # complaints: 3 % of purchases; later purchases of a complainer lost with probability 0.2
    trigger = rng.random(len(who)) < 0.03
    opened = when[trigger] + rng.random(int(trigger.sum())) * 3.0
    complainer = who[trigger]
    inside = opened < days
    opened, complainer = opened[inside], complainer[inside]
    delay = rng.lognormal(np.log(3.0), 1.0, len(opened))
    first_complaint = np.full(n, np.inf)
    np.minimum.at(first_complaint, complainer, opened)
    slow = np.zeros(n, dtype=bool)  # the first complaint took more than a week
    first = opened == first_complaint[complainer]
    slow[complainer[first]] = delay[first] > 7.0
    loss = np.where(slow[who], 0.7, 0.3)
    lost = (when > first_complaint[who]) & ~trigger & (rng.random(len(who)) < loss)
    who, when = who[~lost], when[~lost]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    amount = np.round(np.clip(rng.gamma(2.0, 25.0, len(who)), 1.0, 1000.0), 2)
    order_ids = np.char.add("O", np.arange(1, len(who) + 1).astype(str))

    # points: earned on member purchases after enrolment
    earns = member[who] & (when >= enrol[who])
    e_who, e_when = who[earns], when[earns]
    e_points = np.floor(amount[earns]).astype(np.int64)
    cumulative = _running(e_points, e_who)
    blocks = cumulative // _BLOCK
    crossed = blocks > np.concatenate([[0], blocks[:-1]]) * (
        np.concatenate([[False], e_who[1:] == e_who[:-1]])
    )
    redeem = crossed & (rng.random(len(e_who)) < 0.6)
    r_who, r_when = e_who[redeem], e_when[redeem]
    redeemed = np.zeros(n, dtype=np.int64)
    np.add.at(redeemed, r_who, _BLOCK)
    earned = np.zeros(n, dtype=np.int64)
    np.add.at(earned, e_who, e_points)
    last_points = np.full(n, -np.inf)
    np.maximum.at(last_points, e_who, e_when)
    balance = earned - redeemed
    expire_at = last_points + 365.0
    expires = (balance > 0) & (expire_at < days)
    x_who = customers[expires]

    # tiers: bronze on enrolment, silver and gold when cumulative points pass a threshold
    t_who = [customers[member]]
    t_when = [enrol[member]]
    t_name = [np.full(int(member.sum()), _TIERS[0][1])]
    previous = cumulative - e_points
    for threshold, name in _TIERS[1:]:
        up = (cumulative >= threshold) & (previous < threshold)
        t_who.append(e_who[up])
        t_when.append(e_when[up])
        t_name.append(np.full(int(up.sum()), name))

    # complaint handling
    k = len(opened)
    resolved = opened + delay
    closed = resolved < days
    contact = rng.random(k) < 0.3
    contact_at = opened + rng.random(k) * np.where(closed, delay, days - opened)
    case = np.char.add("C", np.arange(1, k + 1).astype(str))

    # leaving the programme, churn
    last_buy = np.full(n, -np.inf)
    np.maximum.at(last_buy, who, when)
    settled = np.maximum(last_buy, np.where(member, enrol, -np.inf))
    leaves = member & (rng.random(n) < 0.05) & (settled + 30.0 < days)
    churns = (stop < days) & (rng.random(n) < 0.3) & (settled + 400.0 < days)

    parts: list[tuple[str, NDArray[np.int64], NDArray[np.float64], Any, Any, Any]] = [
        ("purchase", who, when, amount, np.ones(len(who), np.int64), order_ids),
        ("enrolled", customers[member], enrol[member], 0.0, 0, None),
        ("points_earned", e_who, e_when, 0.0, e_points, order_ids[earns]),
        ("points_redeemed", r_who, r_when, 0.0, _BLOCK, None),
        ("points_expired", x_who, expire_at[expires], 0.0, balance[expires], None),
        ("tier_changed", np.concatenate(t_who), np.concatenate(t_when), 0.0, 0,
         np.concatenate(t_name)),
        ("complaint_opened", complainer, opened, 0.0, 0, case),
        ("complaint_contact", complainer[contact], contact_at[contact], 0.0, 0, case[contact]),
        ("complaint_resolved", complainer[closed], resolved[closed], 0.0, 0, case[closed]),
        ("unenrolled", customers[leaves], settled[leaves] + 30.0, 0.0, 0, None),
        ("churned", customers[churns], settled[churns] + 400.0, 0.0, 0, None),
    ]  # fmt: skip
    kinds, owners, times, amounts, quantities, labels, missing = [], [], [], [], [], [], []
    ranks = []
    for kind, owner, time, money, count, label in parts:  # eleven kinds, not rows
        size = len(owner)
        kinds.append(np.full(size, kind))
        ranks.append(np.full(size, _ORDER[kind], dtype=np.int64))
        owners.append(owner)
        times.append(time)
        amounts.append(np.broadcast_to(np.asarray(money, dtype=np.float64), (size,)))
        quantities.append(np.broadcast_to(np.asarray(count, dtype=np.int64), (size,)))
        labels.append(np.full(size, "") if label is None else np.asarray(label, dtype=str))
        missing.append(np.full(size, label is None))
    kind_all = np.concatenate(kinds)
    stamp = origin + np.floor(np.concatenate(times) * _US_PER_DAY).astype(np.int64)
    rank = np.concatenate(ranks)
    by_time = np.lexsort((rank, stamp))
    size = len(by_time)
    return EventFrame(
        event_id=np.arange(size, dtype=np.int64),
        customer_id=ids[np.concatenate(owners)][by_time],
        timestamp=stamp[by_time].astype("datetime64[us]"),
        kind=kind_all[by_time],
        amount=np.concatenate(amounts)[by_time],
        quantity=np.concatenate(quantities)[by_time],
        order_id=np.concatenate(labels)[by_time],
        currency=np.full(size, "EUR"),
        label_missing={"order_id": np.concatenate(missing)[by_time]},
    )
