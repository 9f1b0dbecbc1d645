"""Model input from events: published CDNOW facts, a brute-force oracle and exact merging."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import stickykit.models.data as data_module
from stickykit.core.periods import period_index
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import EventFrame
from stickykit.models.data import (
    CalibrationHoldout,
    RepeatHistories,
    RepeatHistoriesState,
    calibration_holdout,
    cdnow_histories,
    to_calibration_holdout,
)
from stickykit.plugins.registry import create_registry
from stickykit.testing import check_metric, chunks_at, split_points

_START = np.datetime64("2024-01-01T00:00", "us")
_US_PER_HOUR = 3_600_000_000


def frame(
    ids: list[int], stamps: list[str], amounts: list[float], kinds: list[str] | None = None
) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids, dtype=np.int64),
        timestamp=np.array(stamps, dtype="datetime64[us]"),
        amount=np.array(amounts, dtype=np.float64),
        kind=None if kinds is None else np.array(kinds),
    )


@st.composite
def crowded_frames(draw: Any, max_rows: int = 40) -> EventFrame:
    """Purchases of few customers over a few weeks, so same-day rows are common.

    Hours reach over 40 days from 2024-01-01; amounts in [0, 100] with cents, some rows
    returns (negative), some visits.
    """
    n = draw(st.integers(0, max_rows))
    ids = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 4)))
    hours = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 40 * 24)))
    cents = draw(hnp.arrays(np.int64, n, elements=st.integers(-2_000, 10_000)))
    kinds = np.array(["purchase", "visit"])[
        draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    ]
    return EventFrame(
        event_id=np.arange(n, dtype=np.int64),
        customer_id=ids,
        timestamp=_START + hours * _US_PER_HOUR,
        amount=cents / 100.0,
        kind=kinds,
    )


def oracle(
    f: EventFrame, calibration_end: str, holdout_end: str | None, zone: str, unit: float
) -> dict[int, tuple[int, float, float, float, int, float]]:
    """Histories by the definition, customer by customer (a loop; small data only)."""
    days = period_index(f.timestamp, "day", zone=zone)
    end = (dt.date.fromisoformat(calibration_end) - dt.date(1970, 1, 1)).days
    last = (
        end
        if holdout_end is None
        else (dt.date.fromisoformat(holdout_end) - dt.date(1970, 1, 1)).days
    )
    spend: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    holdout: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for i in range(len(f)):
        purchase = f.kind is None or f.kind[i] == "purchase"
        if not purchase or f.amount is None or f.amount[i] < 0:
            continue
        customer, day = int(f.customer_id[i]), int(days[i])
        if day <= end:
            spend[customer][day] += float(f.amount[i])
        elif day <= last:
            holdout[customer][day] += float(f.amount[i])
    out = {}
    for customer, by_day in spend.items():
        ordered = sorted(by_day)
        x = len(ordered) - 1
        repeat = sum(by_day[d] for d in ordered[1:]) / x if x else float("nan")
        hold = holdout.get(customer, {})
        out[customer] = (
            x,
            (ordered[-1] - ordered[0]) / unit,
            (end - ordered[0]) / unit,
            repeat,
            len(hold),
            sum(hold.values()),
        )
    return out


def as_rows(split: CalibrationHoldout) -> dict[int, tuple[int, float, float, float, int, float]]:
    h = split.calibration
    return {
        int(h.customer_id[i]): (
            int(h.frequency[i]),
            float(h.recency[i]),
            float(h.age[i]),
            float(h.monetary[i]),
            int(split.holdout_frequency[i]),
            float(split.holdout_monetary[i]),
        )
        for i in range(len(h))
    }


def rows_match(got: dict[int, Any], want: dict[int, Any]) -> bool:
    if got.keys() != want.keys():
        return False
    for key, row in want.items():
        other = got[key]
        if other[0] != row[0] or other[4] != row[4] or other[1:3] != row[1:3]:
            return False
        if not np.allclose([other[3], other[5]], [row[3], row[5]], rtol=1e-9, equal_nan=True):
            return False
    return True


def merged_over(metric: RepeatHistories, f: EventFrame, cuts: list[int]) -> RepeatHistoriesState:
    state = metric.init()
    for chunk in chunks_at(f, cuts):
        state = metric.merge(state, metric.update(metric.init(), chunk))
    return state


METRIC = RepeatHistories(calibration_end="2024-01-25", holdout_end="2024-02-05")


def check_split_invariance(metric: RepeatHistories, *, shrink: bool = True) -> None:
    """Any split of any frame gives the histories of the definition (the oracle)."""
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.generate)

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        phases=phases,
    )
    @given(f=crowded_frames(), draw=st.data())
    def run(f: EventFrame, draw: st.DataObject) -> None:
        cuts = draw.draw(split_points(len(f)))
        order = draw.draw(st.permutations(range(len(f))))
        shuffled = f.take(np.asarray(order, dtype=np.intp))
        split = to_calibration_holdout(merged_over(metric, shuffled, cuts), metric)
        want = oracle(f, "2024-01-25", "2024-02-05", metric.zone, 7.0)
        assert rows_match(as_rows(split), want)

    run()


def test_any_split_equals_the_definition() -> None:
    check_split_invariance(METRIC)


@attrs.frozen
class FirstAmountsAlwaysAdd(RepeatHistories):
    """Broken: merging adds the first-day amounts of both parts even on different days."""

    def merge(self, a: RepeatHistoriesState, b: RepeatHistoriesState) -> RepeatHistoriesState:
        merged = super().merge(a, b)
        ids = merged.calibration.customer_id
        amount = np.zeros(len(ids))
        repeat = np.zeros(len(ids))
        for part in (a, b):
            at = np.searchsorted(ids, part.calibration.customer_id)
            amount[at] += part.first_amount
            repeat[at] += part.repeat_amount
        return attrs.evolve(merged, first_amount=amount, repeat_amount=repeat)


def test_split_invariance_negative_control() -> None:
    """The oracle check catches a merge that loses which day was first."""
    broken = FirstAmountsAlwaysAdd(calibration_end="2024-01-25", holdout_end="2024-02-05")
    with pytest.raises(AssertionError):
        check_split_invariance(broken, shrink=False)


def test_same_day_rows_in_different_chunks() -> None:
    """One customer's first day split over two chunks, and a later day: x = 1, z = 7."""
    f = frame(
        [1, 1, 1, 1],
        ["2024-01-02T09:00", "2024-01-09", "2024-01-02T18:00", "2024-01-30"],
        [2.0, 7.0, 3.0, 4.0],
    )
    whole = to_calibration_holdout(METRIC.update(METRIC.init(), f), METRIC)
    for cuts in ([1], [2], [3], [1, 3], [0, 4]):
        split = to_calibration_holdout(merged_over(METRIC, f, cuts), METRIC)
        assert split.calibration.frequency.tolist() == [1]
        assert split.calibration.monetary.tolist() == [7.0]
        assert split.holdout_frequency.tolist() == [1]
        assert split.holdout_monetary.tolist() == [4.0]
        assert rows_match(as_rows(split), as_rows(whole))


def test_hand_computed_policies() -> None:
    """Returns, visits, late rows and holdout-only customers, counted and flagged."""
    f = frame(
        [1, 1, 1, 1, 2, 3, 1],
        [
            "2024-01-01",
            "2024-01-08",
            "2024-01-08",
            "2024-01-15",
            "2024-01-30",
            "2024-03-01",
            "2024-01-20",
        ],
        [10.0, 5.0, -5.0, 6.0, 8.0, 9.0, 1.0],
        ["purchase", "purchase", "purchase", "visit", "purchase", "purchase", "return"],
    )
    r = METRIC.finalize(METRIC.update(METRIC.init(), f))
    assert r.value == 1.0 and r.n == 1 and r.n_missing == 1
    assert r.tables["frequency"].tolist() == [1]
    assert r.tables["recency"].tolist() == [1.0]
    assert r.tables["age"].tolist() == [24 / 7]
    assert r.tables["monetary"].tolist() == [5.0]
    assert r.details["returns"] == 2.0
    assert r.details["ignored_rows"] == 1.0
    assert r.details["holdout_only_customers"] == 1.0
    assert r.flags == (
        "1 customers first seen in the holdout are not in calibration",
        "1 purchases after the last day ignored",
        "2 returns left out",
    )
    assert r.as_of == dt.datetime(2024, 2, 6, tzinfo=dt.UTC)
    assert r.details["holdout_length"] == 11 / 7


def test_calendar_days_in_the_zone() -> None:
    """23:30 UTC on 1 January is 2 January in Tokyo: a repeat day there, not in UTC."""
    f = frame([1, 1], ["2024-01-01T01:00", "2024-01-01T23:30"], [1.0, 2.0])
    utc = calibration_holdout(f, calibration_end="2024-01-10", time_unit="day")
    tokyo = calibration_holdout(f, calibration_end="2024-01-10", time_unit="day", zone="Asia/Tokyo")
    assert utc.calibration.frequency.tolist() == [0]
    assert tokyo.calibration.frequency.tolist() == [1]
    assert tokyo.calibration.recency.tolist() == [1.0]
    assert tokyo.calibration.monetary.tolist() == [2.0]


def test_count_identity_and_negative_control() -> None:
    """Sum of (x + 1) = distinct calibration customer-days; counting rows breaks it."""
    f = frame(
        [1, 1, 1, 2, 2],
        ["2024-01-01", "2024-01-01", "2024-01-03", "2024-01-02", "2024-01-09"],
        [1.0] * 5,
    )
    h = calibration_holdout(f, calibration_end="2024-01-31").calibration
    days = period_index(f.timestamp, "day")
    distinct = len({(int(c), int(d)) for c, d in zip(f.customer_id, days, strict=True)})
    assert int((h.frequency + 1).sum()) == distinct
    rows_per_customer = np.bincount(np.searchsorted(h.customer_id, f.customer_id))
    assert int(rows_per_customer.sum()) != distinct  # a row count is not a day count


def test_laws_default_parameters() -> None:
    """The registry's default (calibration to the latest purchase day) obeys the laws."""
    check_metric(RepeatHistories(), max_examples=15)


def test_laws_with_holdout_and_zone() -> None:
    check_metric(
        RepeatHistories(
            calibration_end="1998-06-30", holdout_end="1999-06-30", kinds=None, zone="Asia/Tokyo"
        ),
        max_examples=15,
    )


def test_default_calibration_ends_on_the_latest_day() -> None:
    f = frame([1, 1, 2], ["2024-01-01T10:00", "2024-01-15T08:00", "2024-01-29T12:00"], [1.0] * 3)
    m = RepeatHistories(time_unit="day")
    state = m.update(m.init(), f)
    split = to_calibration_holdout(state, m)
    assert split.calibration_end == dt.date(2024, 1, 29)
    assert split.calibration.age.tolist() == [28.0, 0.0]
    assert split.holdout_length == 0.0
    later = to_calibration_holdout(state, m, as_of=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert later.calibration_end == dt.date(2024, 1, 31)
    assert later.calibration.age.tolist() == [30.0, 2.0]
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())


def test_empty_frame_with_calibration_end() -> None:
    empty = frame([], [], [])
    split = calibration_holdout(empty, calibration_end="2024-01-31", holdout_end="2024-02-29")
    assert len(split.calibration) == 0 and split.holdout_length == 29 / 7


def test_parameter_checks() -> None:
    with pytest.raises(ValueError, match="holdout_end must be after calibration_end"):
        RepeatHistories(calibration_end="2024-01-31", holdout_end="2024-01-31")
    with pytest.raises(ValueError, match="holdout_end needs a calibration_end"):
        RepeatHistories(holdout_end="2024-01-31")
    with pytest.raises(ValueError, match="time_unit must be one of"):
        RepeatHistories(time_unit="month")
    with pytest.raises(ValueError, match="calibration_end must be a date"):
        RepeatHistories(calibration_end="last tuesday")
    with pytest.raises(ValueError, match="as_of cannot be combined"):
        METRIC.finalize(METRIC.init(), as_of=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert RepeatHistories(calibration_end=dt.datetime(2024, 1, 31, 12)) == RepeatHistories(
        calibration_end="2024-01-31"
    )


def test_conversion_checks() -> None:
    state = METRIC.init()
    with pytest.raises(TypeError, match="needs the metric"):
        to_calibration_holdout(state)
    with pytest.raises(StateMismatchError):
        to_calibration_holdout(state, RepeatHistories(calibration_end="2024-01-26"))
    other = attrs.evolve(METRIC.finalize(state), metric="customer_summary")
    with pytest.raises(ValueError, match="expected a 'repeat_histories' result"):
        to_calibration_holdout(other)


def test_result_and_state_give_the_same_split() -> None:
    f = frame([1, 1, 2], ["2024-01-01", "2024-01-15", "2024-01-31"], [3.0, 4.0, 5.0])
    state = METRIC.update(METRIC.init(), f)
    from_state = to_calibration_holdout(state, METRIC)
    from_result = to_calibration_holdout(METRIC.finalize(state))
    assert as_rows(from_state) == as_rows(from_result)
    assert from_result.holdout_end == dt.date(2024, 2, 5)


def test_registered_through_the_hook() -> None:
    registry = create_registry(builtins=False, plugins=[data_module])
    assert registry.names() == ["repeat_histories"]
    metric = registry.get("repeat_histories", calibration_end="2024-01-25")
    assert metric == RepeatHistories(calibration_end="2024-01-25")
    assert metric.fingerprint != RepeatHistories(calibration_end="2024-01-26").fingerprint


# -- CDNOW ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow() -> CalibrationHoldout:
    return cdnow_histories()


def test_cdnow_published_counts(cdnow: CalibrationHoldout) -> None:
    """Fader, Hardie & Lee (2005a), *Marketing Science* 24(2), section 4 and Figure 4.

    2,357 customers; 39-week calibration (maximum age 38.86 weeks); 2,457 repeat purchases
    in calibration; 1,411 customers with no repeat purchase, who make 334 purchases in the
    39-week holdout.
    """
    h = cdnow.calibration
    zero = h.frequency == 0
    assert len(h) == 2357
    assert int(h.frequency.sum()) == 2457
    assert round(float(h.age.max()), 2) == 38.86
    assert int(zero.sum()) == 1411
    assert int(cdnow.holdout_frequency[zero].sum()) == 334
    assert cdnow.holdout_length == 39.0


def test_cdnow_repeat_spend_summary(cdnow: CalibrationHoldout) -> None:
    """Fader & Hardie (2013), note 025, and lifetimes 0.11.3 ``tests/test_estimation.py``.

    Mean repeat spend of the 946 repeaters: mean 35, sd 30, min 3, median 27, max 300.
    """
    h = cdnow.calibration
    z = h.monetary[h.frequency > 0]
    assert len(z) == 946
    summary = [z.mean(), z.std(ddof=1), z.min(), np.median(z), z.max()]
    assert [round(float(v)) for v in summary] == [35, 30, 3, 27, 300]


def test_cdnow_spot_rows(cdnow: CalibrationHoldout) -> None:
    """The first two customers of the papers' sample (lifetimes' CDNOW summary file).

    Customer 1: x 2, t_x 30.43, T 38.86, z 22.35 (exactly 22.345, rounded half up);
    customer 2: x 1, t_x 1.71, T 38.86, z 11.77.
    """
    h = cdnow.calibration
    assert h.customer_id[:2].tolist() == [1, 2]
    assert h.frequency[:2].tolist() == [2, 1]
    np.testing.assert_allclose(h.recency[:2], [30.43, 1.71], atol=0.005)
    np.testing.assert_allclose(h.age[:2], [38.86, 38.86], atol=0.005)
    np.testing.assert_allclose(h.monetary[:2], [22.35, 11.77], atol=0.005 + 1e-9)


def test_cdnow_against_lifetimes(cdnow: CalibrationHoldout) -> None:
    """lifetimes' ``calibration_and_holdout_data`` (daily periods, times in weeks) agrees.

    lifetimes reports a mean spend of 0 for x = 0 (ours: NaN, no repeat purchase); its
    holdout spend is a mean over holdout rows, not days (ours: the holdout total), so only
    the counts of the holdout are compared.
    """
    pytest.importorskip("lifetimes")
    import pandas as pd
    from lifetimes.utils import calibration_and_holdout_data

    from stickykit.datasets import load_cdnow

    f = load_cdnow(sample=True, ids="sample")
    df = pd.DataFrame({"id": f.customer_id, "date": pd.Series(f.timestamp), "amount": f.amount})
    theirs = calibration_and_holdout_data(
        df,
        "id",
        "date",
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="D",
        freq_multiplier=7,
        monetary_value_col="amount",
    )
    h = cdnow.calibration
    assert theirs.index.to_numpy().tolist() == h.customer_id.tolist()
    np.testing.assert_array_equal(theirs["frequency_cal"].to_numpy(), h.frequency)
    np.testing.assert_allclose(theirs["recency_cal"].to_numpy(), h.recency, rtol=1e-12)
    np.testing.assert_allclose(theirs["T_cal"].to_numpy(), h.age, rtol=1e-12)
    np.testing.assert_allclose(
        theirs["monetary_value_cal"].to_numpy(), np.nan_to_num(h.monetary), rtol=1e-12
    )
    np.testing.assert_array_equal(theirs["frequency_holdout"].to_numpy(), cdnow.holdout_frequency)
    assert float(theirs["duration_holdout"].iloc[0]) == cdnow.holdout_length


def test_cdnow_in_chunks_equals_whole(cdnow: CalibrationHoldout) -> None:
    """The CDNOW sample in 7 chunks of shuffled rows gives the same histories."""
    from stickykit.datasets import load_cdnow

    f = load_cdnow(sample=True, ids="sample")
    f = f.take(np.random.default_rng(3).permutation(len(f)))
    m = RepeatHistories(calibration_end="1997-09-30", holdout_end="1998-06-30")
    cuts = np.linspace(0, len(f), 8).astype(int)[1:-1].tolist()
    split = to_calibration_holdout(merged_over(m, f, cuts), m)
    assert rows_match(as_rows(split), as_rows(cdnow))


def test_calibration_and_holdout_in_different_currencies() -> None:
    """Chunks that each hold one currency, calibration in USD and holdout in EUR, are refused."""

    def priced(stamp: str, currency: str) -> EventFrame:
        return EventFrame(
            event_id=np.arange(1),
            customer_id=np.array([1]),
            timestamp=np.array([stamp], dtype="datetime64[us]"),
            amount=np.array([5.0]),
            currency=np.array([currency]),
        )

    usd = METRIC.update(METRIC.init(), priced("2024-01-02", "USD"))
    eur = METRIC.update(METRIC.init(), priced("2024-02-01", "EUR"))
    with pytest.raises(ValidationError, match="currency"):
        METRIC.finalize(METRIC.merge(usd, eur))
    same = METRIC.update(METRIC.init(), priced("2024-02-01", "USD"))
    assert METRIC.finalize(METRIC.merge(usd, same)).details["holdout_purchases"] == 1.0
