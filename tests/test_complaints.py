"""Complaints and service recovery: laws, hand-computed cases, bad input, properties.

Each property is a ``check_*`` function run on the real metric (must pass) and on a
deliberately broken variant (must fail).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit import compute
from stickykit.datasets import programme_events
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import EventFrame
from stickykit.metrics.base import MetricResult
from stickykit.metrics.programme.complaints import (
    ComplaintRate,
    ComplaintResolutionTime,
    ComplaintsResolvedWithin,
    FirstContactResolution,
    garwood_interval,
)
from stickykit.metrics.programme.recovery import ComplaintRecovery, matched_difference
from stickykit.metrics.programme.state import ProgrammeState
from stickykit.stats.intervals import wilson_interval
from stickykit.stats.survival import kaplan_meier
from stickykit.testing import check_laws, check_metric

UTC = dt.UTC
ORIGIN = np.datetime64("2024-01-01", "us")
DAY = np.timedelta64(1, "D")
NO_SHRINK = settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate])
#: After every day of ``complaint_frames``.
AS_OF = dt.datetime(2024, 2, 1, tzinfo=UTC)


def frame(rows: list[tuple[int, str, str, str]]) -> EventFrame:
    """One event per (customer, ISO date-time, kind, complaint id or '')."""
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
def complaint_frames(draw: Any, *, max_rows: int = 25) -> EventFrame:
    """Valid complaint events (and purchases) on 13 days, ties included, random order."""
    n = draw(st.integers(1, max_rows))
    kinds = np.array(["complaint_opened", "complaint_contact", "complaint_resolved", "purchase"])
    customer = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3)))
    day = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 12)))
    kind = kinds[draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3)))]
    case = np.char.add("C", draw(hnp.arrays(np.int64, n, elements=st.integers(0, 4))).astype(str))
    opening: dict[str, tuple[int, int]] = {}
    for i in np.lexsort((np.arange(n), day)):  # each complaint's first opening and its owner
        if kind[i] == "complaint_opened":
            opening.setdefault(str(case[i]), (int(day[i]), int(customer[i])))
    for i in range(n):  # the rules, row by row (a test helper, not a bulk path)
        if kind[i] == "purchase":
            continue
        first = opening.get(str(case[i]))
        if first is None or day[i] < first[0]:
            kind[i] = "purchase"
        else:
            customer[i] = first[1]
    label = np.where(kind == "purchase", "", case)
    return EventFrame(
        event_id=np.arange(n),
        customer_id=customer,
        timestamp=ORIGIN + day * DAY,
        kind=kind,
        order_id=label,
        label_missing={"order_id": label == ""},
    )


complaint_data = st.one_of(
    complaint_frames(),
    st.builds(
        # 2023-01-01 + 395 days: every event falls before AS_OF (2024-02-01)
        lambda n, seed: programme_events(n_customers=n, seed=seed, days=395),
        st.integers(1, 6),
        st.integers(0, 10_000),
    ),
)

# -- laws ---------------------------------------------------------------------------------------

METRICS = [
    ComplaintRate(base_kinds=("purchase",), window_days=5, silent_per_complaint=2.0),
    ComplaintResolutionTime(),
    ComplaintsResolvedWithin(days=(1, 4)),
    FirstContactResolution(repeat_days=2),
    ComplaintRecovery(horizon_days=30, retention_days=60),
]


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_laws(metric: Any) -> None:
    check_metric(metric, max_examples=1)

    @settings(max_examples=4, deadline=None)
    @given(f=complaint_data, data=st.data())
    def laws(f: EventFrame, data: st.DataObject) -> None:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(f)), max_size=4)))
        check_laws(metric, f, cuts, data.draw(st.permutations(range(len(f)))))

    laws()


# -- hand-computed ------------------------------------------------------------------------------

# A: opened Jan 1, contact Jan 2, resolved Jan 4 (3 days).  B: opened Jan 1, resolved 12:00 the
# same day (0.5 days), a contact on Jan 5.  C: opened Jan 3, resolved Jan 13 (10 days).
# D: opened Jan 20, still open on Feb 1 (12 days, censored).  Customer 5 only buys.
HAND = frame(
    [
        (1, "2024-01-01", "complaint_opened", "A"),
        (1, "2024-01-02", "complaint_contact", "A"),
        (1, "2024-01-04", "complaint_resolved", "A"),
        (2, "2024-01-01", "complaint_opened", "B"),
        (2, "2024-01-01T12:00", "complaint_resolved", "B"),
        (2, "2024-01-05", "complaint_contact", "B"),
        (3, "2024-01-03", "complaint_opened", "C"),
        (3, "2024-01-13", "complaint_resolved", "C"),
        (1, "2024-01-20", "complaint_opened", "D"),
        (5, "2024-01-25", "purchase", ""),
    ]
)


def test_hand_computed_rate() -> None:
    """4 complaints among customers 1, 2, 3, 5: 1000 * 4 / 4 = 1000 per 1,000."""
    r = run(ComplaintRate(), HAND, AS_OF)
    low, high = garwood_interval(4, 0.05)
    assert (r.value, r.n, r.ci_low, r.ci_high) == (1000.0, 4, 1000 * low / 4, 1000 * high / 4)
    assert r.details["complainants"] == 3.0
    # the last 14 days (from Jan 18): complaint D; customers 1 (Jan 20) and 5 (Jan 25)
    recent = run(ComplaintRate(window_days=14, silent_per_complaint=3), HAND, AS_OF)
    assert (recent.value, recent.n) == (500.0, 2)
    assert recent.details["dissatisfied_estimate"] == 4.0 and "assumes 3" in recent.flags[0]


def test_garwood_published_values() -> None:
    """95 % exact Poisson limits as tabulated (e.g. 0 -> [0, 3.689], 10 -> [4.795, 18.39])."""
    assert garwood_interval(0, 0.05) == pytest.approx((0.0, 3.6889), abs=1e-4)
    assert garwood_interval(1, 0.05) == pytest.approx((0.0253, 5.5716), abs=1e-4)
    assert garwood_interval(10, 0.05) == pytest.approx((4.7954, 18.3904), abs=1e-4)


def test_hand_computed_resolution_time() -> None:
    """Durations 3, 0.5, 10 (resolved) and 12 (open): KM 3/4, 1/2, 1/4 at 0.5, 3, 10."""
    r = run(ComplaintResolutionTime(), HAND, AS_OF)
    t = r.tables
    assert t["times"].tolist() == [0.5, 3.0, 10.0, 12.0]
    np.testing.assert_allclose(t["survival"], [0.75, 0.5, 0.25, 0.25], rtol=1e-15)
    assert r.value == 3.0 and r.details["open"] == 1.0
    km = kaplan_meier([3, 0.5, 10, 12], [1, 1, 1, 0])
    assert (r.ci_low, r.ci_high) == km.median_interval
    assert r.details["p90"] == math.inf  # the curve stops at 1/4


def test_hand_computed_resolved_within() -> None:
    """Within 3 days: A (3), B (0.5) yes, C (10) no; D is 12 days old and open: no.
    Within 20 days: only A, B, C are old enough (D opened 12 days before as_of)."""
    r = run(ComplaintsResolvedWithin(days=(3, 20)), HAND, AS_OF)
    assert r.tables["eligible"].tolist() == [4, 3]
    assert r.tables["resolved"].tolist() == [2, 3]
    assert r.value == 0.5
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(2, 4, 0.05))
    # KM: 1 - S(3) = 1/2, 1 - S(20) = 3/4 (D censored at 12 still counts before)
    np.testing.assert_allclose(r.tables["km_share"], [0.5, 0.75], rtol=1e-15)


def test_hand_computed_first_contact_resolution() -> None:
    """Window 2 days: A had a contact before resolving (no); B's contact on Jan 5 is 3.5 days
    after its resolution, outside the window (yes); C (yes). D is open: not counted.
    Window 4 days: B's contact now counts (no)."""
    two = run(FirstContactResolution(repeat_days=2), HAND, AS_OF)
    assert (two.value, two.n) == (pytest.approx(2 / 3), 3)
    four = run(FirstContactResolution(repeat_days=4), HAND, AS_OF)
    assert four.value == pytest.approx(1 / 3)
    # resolved less than the window before as_of: pending, left out
    late = run(FirstContactResolution(repeat_days=20), HAND, AS_OF)
    assert (late.n, late.details["pending"]) == (2, 1.0)


def test_no_complaints() -> None:
    only = frame([(1, "2024-01-01", "purchase", "")])
    assert run(ComplaintRate(), only).value == 0.0
    for metric in (ComplaintResolutionTime(), FirstContactResolution()):
        with pytest.raises(InsufficientDataError):
            run(metric, only)


# -- bad input ----------------------------------------------------------------------------------


def test_resolution_before_opening() -> None:
    bad = frame(
        [
            (1, "2024-01-05", "complaint_opened", "A"),
            (1, "2024-01-02", "complaint_resolved", "A"),
            (2, "2024-01-03", "complaint_resolved", "Z"),
            (3, "2024-01-04", "complaint_contact", "A"),
        ]
    )
    with pytest.raises(ValidationError) as err:
        run(ComplaintResolutionTime(), bad)
    e = err.value
    assert (e.row, e.field, e.value) == (1, "timestamp", "2024-01-02T00:00:00+00:00")
    assert "opening of complaint 'A'" in e.expected and e.n_failing == 3
    found = {v.field: v.rows.tolist() for v in ComplaintResolutionTime().check(bad)}
    assert found == {"order_id": [2], "timestamp": [1, 3], "customer_id": [3]}
    kept = compute(ComplaintResolutionTime(), bad, errors="quarantine")
    assert kept.details["n_rejected"] == 3.0 and kept.details["open"] == 1.0


def test_missing_complaint_id() -> None:
    bad = frame([(1, "2024-01-05", "complaint_opened", "")])
    with pytest.raises(ValidationError, match=r"order_id @ row 0: None"):
        ComplaintRate().update(ComplaintRate().init(), bad)
    blank = attrs.evolve(bad, order_id=np.array([" "]), label_missing={})  # no mask, no text
    with pytest.raises(ValidationError, match=r"order_id @ row 0: None"):
        ComplaintRate().update(ComplaintRate().init(), blank)


# -- property: shares in [0, 1], rates >= 0 ----------------------------------------------------


# an old complaint, and a young one resolved at once with two further contacts
YOUNG = frame(
    [
        (1, "2024-01-01", "complaint_opened", "O"),
        (1, "2024-01-02", "complaint_resolved", "O"),
        (2, "2024-01-30", "complaint_opened", "Y"),
        (2, "2024-01-30T06:00", "complaint_resolved", "Y"),
        (2, "2024-01-30T07:00", "complaint_contact", "Y"),
        (2, "2024-01-30T08:00", "complaint_contact", "Y"),
    ]
)


def check_bounded(result: Any) -> None:
    """Shares (value and tables) in [0, 1] where defined; rates >= 0 with value in the CI."""

    @NO_SHRINK
    @given(complaint_data)
    @example(HAND)
    @example(YOUNG)
    def prop(f: EventFrame) -> None:
        try:
            r = result(f)
        except InsufficientDataError:
            return
        if r.unit == "share":
            shares = np.concatenate([[r.value], r.tables.get("share", [])])
            shares = shares[~np.isnan(shares)]
            assert ((shares >= 0) & (shares <= 1)).all(), shares
        else:
            assert r.value >= 0 and r.ci_low <= r.value <= r.ci_high

    prop()


@attrs.frozen
class WithinOfAll(ComplaintsResolvedWithin):
    """Broken: counts resolutions among all complaints but divides by the eligible ones."""

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> Any:
        r = super().finalize(state, as_of)
        _, table, _ = self.complaints(state)
        took = table.resolved_us - table.opened_us
        k = np.array([(took <= d * 86_400_000_000).sum() for d in self.days])
        share = k / np.maximum(r.tables["eligible"], 1)
        return attrs.evolve(r, value=float(share[0]), tables={**r.tables, "share": share})


@attrs.frozen
class NetComplaints(ComplaintRate):
    """Broken: 'net' complaints per 1,000 (opened minus further contacts)."""

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> Any:
        r = super().finalize(state, as_of)
        contacts = int(state.ledger.events[state.ledger.code == 8].sum())
        net = 1000 * (r.details["complaints"] - contacts) / r.n
        return attrs.evolve(r, value=net)


def test_bounds() -> None:
    check_bounded(lambda f: run(ComplaintsResolvedWithin(days=(1, 3)), f, AS_OF))
    check_bounded(lambda f: run(FirstContactResolution(repeat_days=1), f, AS_OF))
    check_bounded(lambda f: run(ComplaintRate(), f))


def test_bounds_negative_controls() -> None:
    with pytest.raises(AssertionError):
        check_bounded(lambda f: run(WithinOfAll(days=(20,)), f, AS_OF))
    with pytest.raises(AssertionError):
        check_bounded(lambda f: run(NetComplaints(), f))


# -- property: open complaints are censored, not dropped or closed at as_of ---------------------


def check_censoring(metric: Any) -> None:
    """The curve never lies below the curve of the resolved complaints alone."""

    @NO_SHRINK
    @given(complaint_frames())
    @example(frame([(1, "2024-01-01", "complaint_opened", "A"),
                    (1, "2024-01-11", "complaint_resolved", "A"),
                    (2, "2024-01-31", "complaint_opened", "B")]))  # fmt: skip
    def prop(f: EventFrame) -> None:
        try:
            r = run(metric, f, AS_OF)
        except InsufficientDataError:
            return
        _, table, _ = metric.complaints(metric.update(metric.init(), f))
        done = table.resolved
        if not done.any():
            return
        naive = kaplan_meier(
            (table.resolved_us - table.opened_us)[done] / 86_400_000_000, done[done]
        )
        assert (r.tables["survival"] >= naive.survival_at(r.tables["times"]) - 1e-12).all()

    prop()


@attrs.frozen
class ClosedAtAsOf(ComplaintResolutionTime):
    """Broken: open complaints counted as resolved at as_of."""

    def finalize(self, state: ProgrammeState, as_of: dt.datetime | None = None) -> Any:
        _, table, _ = self.complaints(state)
        end = np.where(table.resolved, table.resolved_us, 1706745600000000)  # 2024-02-01
        km = kaplan_meier((end - table.opened_us) / 86_400_000_000, np.ones(len(table), bool))
        r = super().finalize(state, as_of)
        return attrs.evolve(r, tables={"times": km.times, "survival": km.survival})


def test_censoring() -> None:
    check_censoring(ComplaintResolutionTime())


def test_censoring_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_censoring(ClosedAtAsOf())


# -- service recovery ---------------------------------------------------------------------------


def test_matched_difference_by_hand() -> None:
    """One stratum: 1/2 - 3/4 = -1/4, SE = sqrt(1/4 / 2 + 3/16 / 4) = sqrt(11/64)."""
    d, se, p_t, p_c, n = matched_difference(
        np.array([2, 0]), np.array([1, 0]), np.array([4, 3]), np.array([3, 1])
    )
    assert (d, p_t, p_c, n) == (-0.25, 0.5, 0.75, 2)
    assert se == pytest.approx(math.sqrt(11 / 64), rel=1e-15)


def purchases(rows: list[tuple[int, str]]) -> list[tuple[int, str, str, str]]:
    return [(c, day, "purchase", "") for c, day in rows]


# Index month March 2024 (s = Mar 1, e = Apr 1), h = 30, R = 60: repurchase window [Apr 1,
# May 1), retention window [May 1, May 31). Complainers 1 and 2 and controls 11-14 all first
# bought on Jan 15 (tenure 46 days < 100), once in the 30 days before Mar 1 (Feb 10), and on
# Mar 4: one stratum. Control 15 has tenure >= 100: another stratum, no complainer. Complainer
# 3 first bought on Mar 4: no purchase before the index month, not compared.
RECOVERY = frame(
    purchases([(c, "2024-01-15") for c in (1, 2, 11, 12, 13, 14)])
    + purchases([(c, "2024-02-10") for c in (1, 2, 11, 12, 13, 14, 15)])
    + purchases([(c, "2024-03-04") for c in (1, 2, 3, 11, 12, 13, 14, 15)])
    + purchases([(15, "2023-01-01"), (1, "2024-04-10"), (11, "2024-04-10"), (12, "2024-04-10")])
    + purchases([(13, "2024-04-20"), (15, "2024-04-20"), (1, "2024-05-10"), (11, "2024-05-10")])
    + [(c, "2024-03-05", "complaint_opened", f"K{c}") for c in (1, 2, 3)]
)


def test_recovery_by_hand() -> None:
    """Repurchase: complainers 1/2 (1), matched controls 3/4 (11, 12, 13): -1/4.
    Retention: 1/2 (1) against 1/4 (11): +1/4. Naive repurchase controls: 4/5 with 15."""
    metric = ComplaintRecovery(
        horizon_days=30, retention_days=60, frequency_edges=(1,), tenure_edges=(100,)
    )
    r = run(metric, RECOVERY, dt.datetime(2024, 6, 15, tzinfo=UTC))
    assert (r.value, r.n, r.unit) == (-25.0, 2, "percentage points")  # -1/4 as points
    assert r.se == pytest.approx(100 * math.sqrt(11 / 64), rel=1e-14)
    assert r.details["retention_difference"] == 25.0
    assert r.details["naive_difference"] == pytest.approx(100 * (0.5 - 0.8))
    assert (r.details["treated_rate"], r.details["matched_control_rate"]) == (0.5, 0.75)
    assert (r.details["complainers"], r.details["complainers_compared"]) == (3.0, 2.0)
    retention = run(
        attrs.evolve(metric, outcome="retention"), RECOVERY, dt.datetime(2024, 6, 15, tzinfo=UTC)
    )
    assert retention.value == 25.0
    with pytest.raises(InsufficientDataError, match="window"):  # April not over yet
        run(metric, RECOVERY.filter(RECOVERY.timestamp < np.datetime64("2024-04-15")),
            dt.datetime(2024, 4, 15, tzinfo=UTC))  # fmt: skip


def check_weighted_average(difference: Any) -> None:
    """The matched difference lies between the smallest and largest stratum difference."""

    @NO_SHRINK
    @given(
        st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9), st.data()), min_size=1, max_size=5)
    )
    def prop(cells: list[Any]) -> None:
        n_t = np.array([c[0] for c in cells])
        n_c = np.array([c[1] for c in cells])
        y_t = np.array([c[2].draw(st.integers(0, c[0])) for c in cells])
        y_c = np.array([c[2].draw(st.integers(0, c[1])) for c in cells])
        d = y_t / n_t - y_c / n_c
        value = difference(n_t, y_t, n_c, y_c)[0]
        assert d.min() - 1e-12 <= value <= d.max() + 1e-12

    prop()


def unnormalised(n_t: Any, y_t: Any, n_c: Any, y_c: Any) -> Any:
    """Broken: strata weighted by treated counts without dividing by their total."""
    return ((n_t * (y_t / n_t - y_c / n_c)).sum(),)


def test_matched_difference_is_a_weighted_average() -> None:
    check_weighted_average(matched_difference)


def test_matched_difference_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_weighted_average(unnormalised)


def test_recovery_on_generated_events() -> None:
    """The synthetic shop loses purchases after complaints; matching finds it, the naive gap
    (complainers are heavier buyers) points the other way."""
    r = compute(ComplaintRecovery(), programme_events(n_customers=3000, seed=2))
    assert r.ci_high < 0 < r.details["naive_difference"]
