"""Programme tiers: laws, a hand-computed migration, bad input, row sums with a negative control."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit.datasets import programme_events
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.programme.ledger import Ledger
from stickykit.metrics.programme.tiers import (
    NOT_MEMBER,
    TierDistribution,
    TierMigration,
    tiers_at,
)
from stickykit.testing import check_laws, check_metric

UTC = dt.UTC
ORIGIN = np.datetime64("2024-01-01", "us")
DAY = np.timedelta64(1, "D")
TIERS = ("bronze", "silver", "gold")
NO_SHRINK = settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate])


def frame(rows: list[tuple[int, str, str, str]]) -> EventFrame:
    """One event per (customer, ISO date, kind, tier or '')."""
    return EventFrame(
        event_id=np.arange(len(rows)),
        customer_id=np.array([r[0] for r in rows]),
        timestamp=np.array([r[1] for r in rows], dtype="datetime64[us]"),
        kind=np.array([r[2] for r in rows]),
        order_id=np.array([r[3] for r in rows]),
        label_missing={"order_id": np.array([r[3] == "" for r in rows])},
    )


def run(metric: Any, f: EventFrame, as_of: dt.datetime | None = None) -> MetricResult:
    result: MetricResult = metric.finalize(metric.update(metric.init(), f), as_of)
    return result


@st.composite
def tier_frames(draw: Any, *, max_rows: int = 25, tail: bool = False) -> EventFrame:
    """Valid membership and tier events on 13 days (ties at midnight) in random order.

    With ``tail`` the last row is a purchase on day 40, so the data run past day 12.
    """
    n = draw(st.integers(1, max_rows))
    kinds = np.array(["enrolled", "unenrolled", "churned", "tier_changed", "purchase"])
    customer = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3)))
    day = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 12)))
    kind = kinds[draw(hnp.arrays(np.int64, n, elements=st.integers(0, 4)))]
    tier = np.array(TIERS)[draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2)))]
    churn: dict[int, int] = {}
    for i in np.argsort(day, kind="stable"):  # earliest churn of each customer
        if kind[i] == "churned":
            churn.setdefault(int(customer[i]), int(day[i]))
    seen: set[tuple[int, int]] = set()
    for i in range(n):  # the rules, row by row (a test helper, not a bulk path)
        c, d = int(customer[i]), int(day[i])
        if kind[i] == "enrolled" and d > churn.get(c, d):
            kind[i] = "purchase"
        if kind[i] == "tier_changed":
            if (c, d) in seen:
                kind[i] = "purchase"
            seen.add((c, d))
    if tail:
        day[-1], kind[-1] = 40, "purchase"
    label = np.where(kind == "tier_changed", tier, "")
    return EventFrame(
        event_id=np.arange(n),
        customer_id=customer,
        timestamp=ORIGIN + day * DAY,
        kind=kind,
        order_id=label,
        label_missing={"order_id": label == ""},
    )


tier_data = st.one_of(
    tier_frames(),
    st.builds(
        lambda n, seed: programme_events(n_customers=n, seed=seed, days=400),
        st.integers(1, 6),
        st.integers(0, 10_000),
    ),
)

# -- laws ---------------------------------------------------------------------------------------

METRICS = [TierDistribution(), TierDistribution(tiers=TIERS), TierMigration()]


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: f"{m.name}-{m.tiers is not None}")
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=1)

    @settings(max_examples=4, deadline=None)
    @given(f=tier_data, data=st.data())
    def laws(f: EventFrame, data: st.DataObject) -> None:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(f)), max_size=4)))
        check_laws(metric, f, cuts, data.draw(st.permutations(range(len(f)))))

    laws()


@settings(max_examples=3, deadline=None)
@given(f=tier_frames(tail=True), data=st.data())
def test_laws_fixed_dates(f: EventFrame, data: st.DataObject) -> None:
    metric = TierMigration(start="2024-01-05", end="2024-01-10", tiers=TIERS)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(f)), max_size=4)))
    check_laws(metric, f, cuts, data.draw(st.permutations(range(len(f)))))


# -- hand-computed ------------------------------------------------------------------------------

# 1: bronze on Jan 1, silver Mar 1, gold Jun 1.   2: joins Jan 5 (entry tier), leaves May 1.
# 3: joins Apr 1, silver Apr 10.                   4: joins Feb 1, gold Feb 2, silver May 15.
HAND = frame(
    [
        (1, "2024-01-01", "enrolled", ""),
        (1, "2024-01-01", "tier_changed", "bronze"),
        (1, "2024-03-01", "tier_changed", "silver"),
        (1, "2024-06-01", "tier_changed", "gold"),
        (2, "2024-01-05", "enrolled", ""),
        (2, "2024-05-01", "unenrolled", ""),
        (3, "2024-04-01", "enrolled", ""),
        (3, "2024-04-10", "tier_changed", "silver"),
        (4, "2024-02-01", "enrolled", ""),
        (4, "2024-02-02", "tier_changed", "gold"),
        (4, "2024-05-15", "tier_changed", "silver"),
    ]
)
JULY = dt.datetime(2024, 7, 1, tzinfo=UTC)


def test_hand_computed_distribution() -> None:
    r = run(TierDistribution(tiers=TIERS), HAND, JULY)  # 1 gold, 3 and 4 silver, 2 left
    assert r.tables["tier"].tolist() == list(TIERS)
    assert r.tables["members"].tolist() == [0, 2, 1]
    np.testing.assert_allclose(r.tables["share"], [0, 2 / 3, 1 / 3], rtol=1e-15)
    assert r.value == 3.0
    unordered = run(TierDistribution(), HAND, JULY)
    assert unordered.tables["tier"].tolist() == ["gold", "silver"]


def test_hand_computed_migration() -> None:
    """On Feb 15: 1 bronze, 2 bronze (entry tier), 4 gold, 3 not yet a member.
    On Jul 1: 1 gold (up), 2 gone (left), 4 silver (down), 3 silver (joined)."""
    m = TierMigration(start="2024-02-15", end="2024-07-01", tiers=TIERS)
    r = run(m, HAND, JULY)
    assert r.tables["tier"].tolist() == [*TIERS, NOT_MEMBER]
    assert r.tables["matrix"].tolist() == [
        [0, 0, 1, 1],
        [0, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 1, 0, 0],
    ]
    d = r.details
    assert (d["upgraded"], d["downgraded"], d["left"], d["joined"], d["same"]) == (1, 1, 1, 1, 0)
    assert r.value == 3.0
    plain = run(TierMigration(start="2024-02-15", end="2024-07-01"), HAND, JULY)
    assert plain.details["changed"] == 2.0 and "upgraded" not in plain.details


def test_default_dates_and_bad_dates() -> None:
    r = run(TierMigration(), HAND, JULY)  # end = as_of, start = a year before: nobody yet
    assert r.tables["start"][0] == np.datetime64("2023-07-02", "us")
    assert r.value == 0.0
    with pytest.raises(ValueError, match="after as_of"):
        run(TierMigration(end="2024-08-01"), HAND, JULY)
    with pytest.raises(ValueError, match="before end"):
        TierMigration(start="2024-05-01", end="2024-04-01")
    with pytest.raises(ValueError, match="aware"):
        TierMigration(start=dt.datetime(2024, 1, 1))


def test_no_members_is_insufficient() -> None:
    with pytest.raises(InsufficientDataError):
        run(TierDistribution(), frame([(1, "2024-01-01", "purchase", "")]))


# -- bad input ----------------------------------------------------------------------------------


def test_unknown_tier_missing_tier_and_two_tiers_at_once() -> None:
    bad = frame([(1, "2024-01-01", "enrolled", ""), (1, "2024-01-02", "tier_changed", "platinum")])
    with pytest.raises(ValidationError) as err:
        TierDistribution(tiers=TIERS).update(TierDistribution(tiers=TIERS).init(), bad)
    assert (err.value.row, err.value.field, err.value.value) == (1, "order_id", "platinum")
    missing = frame([(1, "2024-01-01", "enrolled", ""), (1, "2024-01-02", "tier_changed", "")])
    with pytest.raises(ValidationError, match=r"order_id @ row 1: None"):
        TierDistribution().update(TierDistribution().init(), missing)
    twice = frame(
        [
            (1, "2024-01-01", "enrolled", ""),
            (1, "2024-01-02", "tier_changed", "gold"),
            (1, "2024-01-02", "tier_changed", "silver"),
        ]
    )
    with pytest.raises(ValidationError) as err:
        run(TierDistribution(), twice)
    assert (err.value.field, err.value.value) == ("order_id", "silver")
    assert [v.rows.tolist() for v in TierDistribution().check(twice)] == [[2]]


# -- property: rows sum to the tiers at start, columns to the tiers at end -----------------------


def check_margins(migration: Any) -> None:
    """Row sums = members per tier on ``start`` (TierDistribution), columns the same at ``end``."""
    start, end = dt.datetime(2024, 1, 5, tzinfo=UTC), dt.datetime(2024, 1, 11, tzinfo=UTC)

    @NO_SHRINK
    @given(tier_frames())
    @example(frame([(1, "2024-01-05", "enrolled", ""), (1, "2024-01-05", "tier_changed", "gold")]))
    def prop(f: EventFrame) -> None:
        f = f.filter(f.timestamp < np.datetime64("2024-01-11"))
        if not (f.kind != "purchase").any():
            return  # no programme events: nothing to migrate
        r = run(migration, f, end)
        matrix = r.tables["matrix"]
        labels = r.tables["tier"].tolist()
        for when, sums in ((start, matrix.sum(axis=1)), (end, matrix.sum(axis=0))):
            early = f.filter(f.timestamp < np.datetime64(when.replace(tzinfo=None), "us"))
            counts = dict.fromkeys(labels[:-1], 0)
            if len(early):
                try:
                    dist = run(TierDistribution(tiers=TIERS), early, when)
                    counts.update(
                        zip(
                            dist.tables["tier"].tolist(),
                            dist.tables["members"].tolist(),
                            strict=True,
                        )
                    )
                except InsufficientDataError:
                    pass
            assert sums[:-1].tolist() == [counts[label] for label in labels[:-1]]
        assert matrix.sum() == len(np.unique(f.customer_id[f.kind != "purchase"]))

    prop()


@attrs.frozen
class InclusiveStart(TierMigration):
    """Broken: the tier 'at start' includes the events at exactly the start instant."""

    def finalize(self, state: Any, as_of: dt.datetime | None = None) -> Any:
        shifted = attrs.evolve(self, start=self.start + dt.timedelta(microseconds=1))
        moved = attrs.evolve(state, fingerprint=shifted.fingerprint)
        return TierMigration.finalize(shifted, moved, as_of)


def test_margins() -> None:
    check_margins(TierMigration(start="2024-01-05", end="2024-01-11", tiers=TIERS))


def test_margins_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_margins(InclusiveStart(start="2024-01-05", end="2024-01-11", tiers=TIERS))


def test_tiers_at_on_generated_data() -> None:
    f = programme_events(n_customers=200, seed=4)
    m = TierDistribution(tiers=TIERS)
    state = m.update(m.init(), f)
    ledger: Ledger = m.validated(state)
    _, member, tier = tiers_at(ledger, int(f.timestamp.view(np.int64).max()) + 1, TIERS)
    assert set(tier[member].tolist()) <= set(TIERS)
    assert (tier[~member] == NOT_MEMBER).all()
    assert run(m, f).value == float(member.sum())
