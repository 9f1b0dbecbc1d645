"""Life-cycle stages: laws, thresholds by hand, partition and margins with negative controls."""

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
from stickykit.metrics.behaviour.summary import CustomerSummaryState
from stickykit.metrics.programme.lifecycle import (
    PROSPECT,
    STAGES,
    LifecycleStages,
    LifecycleTransitions,
)
from stickykit.testing import check_laws, check_metric

UTC = dt.UTC
D = np.datetime64("2024-07-01", "D")
JULY = dt.datetime(2024, 7, 1, tzinfo=UTC)
NO_SHRINK = settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate])


def frame(rows: list[tuple[int, int]], kind: str = "purchase") -> EventFrame:
    """One event per (customer, days before 2024-07-01), at noon."""
    days = np.array([D - r[1] for r in rows], dtype="datetime64[D]")
    return EventFrame(
        event_id=np.arange(len(rows)),
        customer_id=np.array([r[0] for r in rows]),
        timestamp=days.astype("datetime64[us]") + np.timedelta64(12, "h"),
        kind=np.full(len(rows), kind),
    )


def run(metric: Any, f: EventFrame, as_of: dt.datetime | None = None) -> MetricResult:
    result: MetricResult = metric.finalize(metric.update(metric.init(), f), as_of)
    return result


@st.composite
def activity(draw: Any, *, max_rows: int = 30, tail: bool = False) -> EventFrame:
    """Purchases (and some visits and returns) of 5 customers on 400 days before July 2024.

    With ``tail`` the last row is a purchase on June 30, so activity reaches the end of June.
    """
    n = draw(st.integers(1, max_rows))
    customer = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 4)))
    back = draw(hnp.arrays(np.int64, n, elements=st.integers(1, 400)))
    if tail:
        back[-1] = 1
    kind = np.array(["purchase", "purchase", "visit"])[
        draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2)))
    ]
    amount = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([10.0, 5.0, -5.0])))
    if tail:
        kind[-1], amount[-1] = "purchase", 10.0
    return EventFrame(
        event_id=np.arange(n),
        customer_id=customer,
        timestamp=(D - back).astype("datetime64[us]"),
        kind=kind,
        amount=amount,
    )


# -- laws ---------------------------------------------------------------------------------------

METRICS = [
    LifecycleStages(),
    LifecycleStages(kinds=None, zone="America/New_York", new_days=30, active_days=60),
    LifecycleTransitions(),
]


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: f"{m.name}-{m.new_days}")
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=1)

    @settings(max_examples=4, deadline=None)
    @given(
        f=st.one_of(
            activity(), st.builds(lambda s: programme_events(5, seed=s), st.integers(0, 9999))
        ),
        data=st.data(),
    )
    def laws(f: EventFrame, data: st.DataObject) -> None:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(f)), max_size=4)))
        check_laws(metric, f, cuts, data.draw(st.permutations(range(len(f)))))

    laws()


@settings(max_examples=3, deadline=None)
@given(f=activity(tail=True), data=st.data())
def test_laws_fixed_dates(f: EventFrame, data: st.DataObject) -> None:
    metric = LifecycleTransitions(start="2023-12-01", end="2024-06-01", lapse_days=90)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(f)), max_size=4)))
    check_laws(metric, f, cuts, data.draw(st.permutations(range(len(f)))))


# -- hand-computed thresholds -------------------------------------------------------------------

# Stages on 2024-07-01 with new 90, active 90, lapse 180 days (days before July 1):
#   1: 90                 new (first activity 90 days back: within 90)
#   2: 200, 90            active (a gap of 110 is no lapse)
#   3: 300, 91            at risk (back after 209 days, but 91 days ago: not recent)
#   4: 400, 180           at risk (180 days since: the last day before lapsing)
#   5: 400, 181           lapsed
#   6: 400, 219, 30       reactivated (back after 189 days, 30 days ago)
#   7: 300, 120, 30       active (gaps of 180 and 90: 180 is no lapse)
#   8: 91                 at risk (first seen 91 days ago: no longer new)
HAND = frame(
    [
        (1, 90), (2, 200), (2, 90), (3, 300), (3, 91), (4, 400), (4, 180), (5, 400), (5, 181),
        (6, 400), (6, 219), (6, 30), (7, 300), (7, 120), (7, 30), (8, 91),
    ]
)  # fmt: skip
EXPECTED = [
    "new", "active", "at_risk", "at_risk", "lapsed", "reactivated", "active", "at_risk",
]  # fmt: skip


def test_hand_computed_stages() -> None:
    r = run(LifecycleStages(), HAND, JULY)
    assert r.tables["customer_id"].tolist() == list(range(1, 9))
    assert r.tables["customer_stage"].tolist() == EXPECTED
    assert dict(zip(r.tables["stage"].tolist(), r.tables["customers"].tolist(), strict=True)) == {
        "new": 1,
        "active": 2,
        "reactivated": 1,
        "at_risk": 3,
        "lapsed": 1,
    }
    assert r.value == 8.0 and r.details["lapse_days"] == 180.0
    # the default as_of is just after the last event (June 1, noon): stages on June 2
    default = run(LifecycleStages(), HAND)
    assert default.as_of == dt.datetime(2024, 6, 1, 12, 0, 0, 1, tzinfo=UTC)


def test_hand_computed_transitions() -> None:
    """On June 1 every day is 30 days nearer (and day 30 is not yet there):
    1 (60) new, 2 (170, 60) active, 3 (270, 61; back after 209) reactivated,
    4 (370, 150) at risk, 5 (370, 151) at risk, 6 (370, 189) lapsed, 7 (270, 90) active,
    8 (61) new. On July 1 the stages of ``EXPECTED``."""
    r = run(LifecycleTransitions(start="2024-06-01", end="2024-07-01"), HAND, JULY)
    assert r.tables["from_stage"].tolist() == [PROSPECT, *STAGES]
    assert r.tables["to_stage"].tolist() == list(STAGES)
    assert r.tables["matrix"].tolist() == [
        [0, 0, 0, 0, 0],  # prospect
        [1, 0, 0, 1, 0],  # new: 1 stays new, 8 at risk
        [0, 2, 0, 0, 0],  # active: 2 and 7 stay
        [0, 0, 0, 1, 0],  # reactivated: 3 at risk
        [0, 0, 0, 1, 1],  # at risk: 4 stays, 5 lapses
        [0, 0, 1, 0, 0],  # lapsed: 6 comes back
    ]
    assert r.tables["start_counts"].tolist() == [0, 2, 2, 1, 2, 1]
    assert r.tables["end_counts"].tolist() == [1, 2, 1, 3, 1]
    assert r.value == 8.0
    default = run(LifecycleTransitions(), HAND, JULY)  # 90 days: April 2 to July 1
    assert (default.tables["end"] - default.tables["start"]).tolist() == [dt.timedelta(90)]


def test_bad_parameters_and_dates() -> None:
    with pytest.raises(ValueError, match="may not exceed"):
        LifecycleStages(active_days=200, lapse_days=100)
    with pytest.raises(ValueError, match="whole number"):
        LifecycleStages(new_days=0)
    with pytest.raises(ValueError, match="before end"):
        LifecycleTransitions(start="2024-05-01", end="2024-04-01")
    with pytest.raises(TypeError, match="not a datetime"):
        LifecycleTransitions(start=JULY)
    with pytest.raises(ValueError, match="after the data"):
        run(LifecycleTransitions(end="2024-08-01"), HAND, JULY)
    with pytest.raises(InsufficientDataError):
        run(LifecycleStages(), frame([(1, 5)], kind="visit"))


# -- property: the stages partition the customers -----------------------------------------------


def check_partition(metric: Any) -> None:
    """Stage counts add up to the customers with activity, each listed once."""

    @NO_SHRINK
    @given(activity())
    @example(HAND)
    def prop(f: EventFrame) -> None:
        try:
            r = run(metric, f, JULY)
        except InsufficientDataError:
            return
        active = (f.kind == "purchase") & (f.amount >= 0 if f.amount is not None else True)
        customers = len(np.unique(f.customer_id[active]))
        assert int(r.tables["customers"].sum()) == customers == len(r.tables["customer_id"])

    prop()


@attrs.frozen
class OverlappingStages(LifecycleStages):
    """Broken: each stage counted by its own rule, without precedence (overlaps double count)."""

    def finalize(self, state: CustomerSummaryState, as_of: dt.datetime | None = None) -> Any:
        r = super().finalize(state, as_of)
        day = self.day_of(int(np.datetime64(r.as_of.replace(tzinfo=None), "us").view(np.int64)))
        rows, days = self.pairs(state)
        last = np.full(len(state), -(10**9))
        first = np.full(len(state), 10**9)
        np.maximum.at(last, rows, days)
        np.minimum.at(first, rows, days)
        since = day - last
        counts = np.array(
            [
                (day - first <= self.new_days).sum(),
                (since <= self.active_days).sum(),
                0,
                ((since > self.active_days) & (since <= self.lapse_days)).sum(),
                (since > self.lapse_days).sum(),
            ]
        )
        return attrs.evolve(r, tables={**r.tables, "customers": counts})


def test_partition() -> None:
    check_partition(LifecycleStages())
    check_partition(LifecycleStages(new_days=10, active_days=30, lapse_days=60))


def test_partition_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_partition(OverlappingStages())


# -- property: transition rows sum to the stages on start, columns to those on end ---------------


def check_margins(transitions: Any) -> None:
    """Matrix margins equal LifecycleStages on ``start`` (plus prospects) and on ``end``."""
    start, end = dt.datetime(2024, 3, 1, tzinfo=UTC), JULY

    @NO_SHRINK
    @given(activity())
    @example(frame([(1, 122), (2, 200)]))  # customer 1 active on March 1 exactly (noon)
    def prop(f: EventFrame) -> None:
        try:
            r = run(transitions, f, end)
        except InsufficientDataError:
            return
        for when, sums in ((start, r.tables["start_counts"][1:]), (end, r.tables["end_counts"])):
            early = f.filter(f.timestamp < np.datetime64(when.replace(tzinfo=None), "us"))
            try:
                counts = run(LifecycleStages(), early, when).tables["customers"]
            except (InsufficientDataError, ValueError):
                counts = np.zeros(len(STAGES), dtype=np.int64)
            assert sums.tolist() == counts.tolist()

    prop()


@attrs.frozen
class InclusiveStart(LifecycleTransitions):
    """Broken: the stage 'on start' counts the activity of the start day itself."""

    def finalize(self, state: CustomerSummaryState, as_of: dt.datetime | None = None) -> Any:
        assert self.start is not None
        later = attrs.evolve(self, start=self.start + dt.timedelta(days=1))
        return LifecycleTransitions.finalize(
            later, attrs.evolve(state, fingerprint=later.fingerprint), as_of
        )


def test_margins() -> None:
    check_margins(LifecycleTransitions(start="2024-03-01", end="2024-07-01"))


def test_margins_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_margins(InclusiveStart(start="2024-03-01", end="2024-07-01"))


def test_generated_events_reach_every_stage() -> None:
    r = run(LifecycleStages(), programme_events(n_customers=500, seed=9))
    assert (r.tables["customers"] > 0).all()
    assert r.tables["share"].sum() == pytest.approx(1.0)


def test_currency_mix_only_among_activity_rows_and_rows_numbered_as_input() -> None:
    f = attrs.evolve(
        frame([(1, 5), (1, 4), (2, 3), (2, 2)]),
        kind=np.array(["visit", "purchase", "purchase", "purchase"]),
        amount=np.array([1.0, 2.0, 3.0, 4.0]),
        currency=np.array(["USD", "EUR", "EUR", "GBP"]),
    )
    m = LifecycleStages()
    assert [v.rows.tolist() for v in m.check(f)] == [[3]]  # the visit's USD does not count
    with pytest.raises(ValidationError, match="currency @ row 3"):
        m.update(m.init(), f)
    assert m.check(f.slice(0, 3)) == []
