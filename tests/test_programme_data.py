"""The seeded generator of synthetic programme and complaint events."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stickykit import compute
from stickykit.datasets import programme_events
from stickykit.metrics import programme
from stickykit.metrics.programme import (
    ComplaintResolutionTime,
    PointsBreakage,
    ProgrammeEnrollment,
    TierDistribution,
)

KINDS = {
    "purchase", "enrolled", "unenrolled", "churned", "points_earned", "points_redeemed",
    "points_expired", "tier_changed", "complaint_opened", "complaint_contact",
    "complaint_resolved",
}  # fmt: skip


def test_documented_as_synthetic_and_seeded() -> None:
    assert "synthetic" in (programme_events.__doc__ or "")
    a, b = programme_events(300, seed=5), programme_events(300, seed=5)
    for name in ("customer_id", "timestamp", "kind", "amount", "quantity", "order_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = programme_events(300, seed=6)
    assert len(c) != len(a) or not np.array_equal(c.timestamp, a.timestamp)


def test_columns_follow_the_convention() -> None:
    f = programme_events(500, seed=1, start="2022-03-01", days=800)
    assert set(f.kind.tolist()) == KINDS
    assert f.timestamp.min() >= np.datetime64("2022-03-01")
    assert f.timestamp.max() < np.datetime64("2022-03-01") + np.timedelta64(800, "D")
    assert (np.diff(f.timestamp.view(np.int64)) >= 0).all()  # ordered by time
    points = np.isin(f.kind, ["points_earned", "points_redeemed", "points_expired"])
    assert f.quantity is not None and (f.quantity[points] >= 1).all()
    labelled = np.char.startswith(f.kind, "complaint") | (f.kind == "tier_changed")
    assert not f.label_missing["order_id"][labelled].any()
    assert set(f.order_id[f.kind == "tier_changed"].tolist()) <= {"bronze", "silver", "gold"}
    assert f.amount is not None and (f.amount[f.kind != "purchase"] == 0).all()


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**31))
def test_no_rule_is_broken(n: int, seed: int) -> None:
    """No balance below zero, no enrolment after churn, no resolution before opening."""
    f = programme_events(n, seed=seed, days=500)
    for metric in (PointsBreakage(), ProgrammeEnrollment(), TierDistribution(),
                   ComplaintResolutionTime()):  # fmt: skip
        assert metric.check(f) == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_customers"):
        programme_events(0)
    with pytest.raises(ValueError, match="seed"):
        programme_events(10, seed=-1)
    with pytest.raises(ValueError, match="days"):
        programme_events(10, days=7)


def test_every_measure_runs_on_generated_events_and_serialises() -> None:
    """Each of the 14 measures gives a result whose ``to_dict`` is JSON."""
    f = programme_events(400, seed=8)
    end = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    names = set()
    for cls in (getattr(programme, name) for name in programme.__all__):
        result = compute(cls(), f, as_of=end)
        names.add(result.metric)
        json.dumps(result.to_dict(), allow_nan=True)
    assert len(names) == 14
