"""The per-customer summary: hand-computed values, a brute-force oracle and merge by id."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit import compute
from stickykit.core.periods import period_index
from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError, ValidationError
from stickykit.frames import EventFrame
from stickykit.metrics.base import states_equal
from stickykit.metrics.behaviour.summary import CustomerSummary, CustomerSummaryState
from stickykit.testing import check_metric, event_frames


def frame(ids: list[int], days: list[str], amounts: list[float]) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids),
        timestamp=np.array(days, dtype="datetime64[us]"),
        amount=np.array(amounts),
    )


def test_hand_computed() -> None:
    m = CustomerSummary(period="month")
    f = frame(
        [1, 2, 1, 1, 2],
        ["2024-01-31", "2024-03-01", "2024-01-01", "2024-04-15", "2024-03-02"],
        [10.0, 7.5, 2.5, -5.0, 1.0],
    )
    r = m.finalize(m.update(m.init(), f))
    assert r.tables["customer_id"].tolist() == [1, 2]
    # the return (-5.0 in April) nets against the money but is not activity
    assert r.tables["n_events"].tolist() == [2, 2]
    assert r.tables["n_periods"].tolist() == [1, 1]  # Jan; Mar
    assert r.tables["monetary"].tolist() == [7.5, 8.5]
    assert r.tables["last"].astype(str).tolist()[0] == "2024-01-31T00:00:00.000000"
    assert r.tables["first"].astype(str).tolist() == [
        "2024-01-01T00:00:00.000000",
        "2024-03-01T00:00:00.000000",
    ]
    assert r.as_of == dt.datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=dt.UTC)
    assert r.value == 2 and r.n == 4


def brute_force(
    f: EventFrame, period: str, zone: str = "UTC"
) -> dict[Any, tuple[int, int, int, set[int], float]]:
    out: dict[Any, list[Any]] = defaultdict(lambda: [None, None, 0, set(), 0.0])
    periods = period_index(f.timestamp, period, zone=zone)
    for i in range(len(f)):
        row = out[f.customer_id[i].item()]
        t = int(f.timestamp[i].astype(np.int64))
        row[0] = t if row[0] is None else min(row[0], t)
        row[1] = t if row[1] is None else max(row[1], t)
        row[2] += 1
        row[3].add(int(periods[i]))
        row[4] += 0.0 if f.amount is None else float(f.amount[i])
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


@given(event_frames(min_rows=1))
def test_matches_brute_force(f: EventFrame) -> None:
    for period in ("day", "week", "month"):
        m = CustomerSummary(period=period)
        s = m.update(m.init(), f)
        expected = brute_force(f, period)
        assert s.customer_id.tolist() == sorted(expected)
        for k, cid in enumerate(s.customer_id.tolist()):
            first, last, count, active, money = expected[cid]
            assert (s.first_us[k], s.last_us[k], s.n_events[k]) == (first, last, count)
            assert s.n_periods()[k] == len(active)
            assert s.monetary[k] == pytest.approx(money)
            lo, hi = min(active), max(active)
            row = s.active_matrix(lo, hi)[k]
            assert set(np.flatnonzero(row) + lo) == active


def test_customer_with_returns_only() -> None:
    m = CustomerSummary()
    a = m.update(m.init(), frame([1, 2], ["2024-01-01", "2024-01-02"], [10.0, 3.0]))
    b = m.update(m.init(), frame([2, 3], ["2024-02-01", "2024-02-02"], [-3.0, -1.0]))
    r = m.finalize(m.merge(a, b))
    assert r.tables["monetary"].tolist() == [10.0, 0.0, -1.0]
    assert r.tables["n_events"].tolist() == [1, 1, 0]
    assert np.isnat(r.tables["first"][2]) and np.isnat(r.tables["last"][2])
    with pytest.raises(InsufficientDataError):
        m.finalize(b)


def test_kinds_filter() -> None:
    f = attrs.evolve(
        frame([1, 1, 2], ["2024-01-01", "2024-02-01", "2024-03-01"], [5.0, 0.0, 0.0]),
        kind=np.array(["purchase", "visit", "visit"]),
    )
    m = CustomerSummary(kinds=("purchase",))
    s = m.update(m.init(), f)
    assert s.customer_id.tolist() == [1] and s.n_events.tolist() == [1]


def test_laws_on_cdnow_sample() -> None:
    f = load_cdnow(sample=True)
    check_metric(CustomerSummary(period="month"), f.slice(0, 400), max_examples=10)


@attrs.frozen
class PerChunkCodes(CustomerSummary):
    """Broken: merges by concatenating customers (as if chunk codes were global)."""

    def merge(self, a: CustomerSummaryState, b: CustomerSummaryState) -> CustomerSummaryState:
        if len(a) == 0:
            return b
        if len(b) == 0:
            return a
        width = max(a.active.shape[1], b.active.shape[1])

        def pad(x: np.ndarray) -> np.ndarray:
            return np.pad(x, ((0, 0), (0, width - x.shape[1])))

        return CustomerSummaryState(
            fingerprint=a.fingerprint,
            customer_id=np.concatenate([a.customer_id, b.customer_id]),
            first_us=np.concatenate([a.first_us, b.first_us]),
            last_us=np.concatenate([a.last_us, b.last_us]),
            n_events=np.concatenate([a.n_events, b.n_events]),
            monetary=np.concatenate([a.monetary, b.monetary]),
            word_origin=min(a.word_origin, b.word_origin),
            active=np.concatenate([pad(a.active), pad(b.active)]),
        )


def test_laws_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_metric(PerChunkCodes(period="month"))


def test_cdnow_published_counts() -> None:
    """CDNOW: 23,570 customers and 69,659 purchase records (Fader & Hardie's CDNOW notes)."""
    m = CustomerSummary()
    s = m.update(m.init(), load_cdnow())
    assert len(s) == 23_570 and int(s.n_events.sum()) == 69_659


def test_empty_and_as_of_errors() -> None:
    m = CustomerSummary()
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())
    s = m.update(m.init(), frame([1], ["2024-01-01"], [1.0]))
    with pytest.raises(ValueError, match="not after the latest event"):
        m.finalize(s, as_of=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="naive"):
        m.finalize(s, as_of=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="period must be one of"):
        CustomerSummary(period="year")  # type: ignore[arg-type]


def test_string_ids_merge_across_chunks() -> None:
    m = CustomerSummary()
    a = m.update(
        m.init(),
        EventFrame(
            event_id=np.arange(2),
            customer_id=np.array(["b", "a"]),
            timestamp=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[us]"),
        ),
    )
    b = m.update(
        m.init(),
        EventFrame(
            event_id=np.arange(1),
            customer_id=np.array(["a"]),
            timestamp=np.array(["2024-01-05"], dtype="datetime64[us]"),
        ),
    )
    s = m.merge(a, b)
    assert s.customer_id.tolist() == ["a", "b"] and s.n_periods().tolist() == [2, 1]


def test_mixed_currencies_refused_naming_row() -> None:
    m = CustomerSummary()
    f = attrs.evolve(
        frame([1, 2, 3], ["2024-01-01", "2024-01-02", "2024-01-03"], [1.0, 2.0, 3.0]),
        currency=np.array(["EUR", "USD", "EUR"]),
    )
    with pytest.raises(ValidationError, match=r"currency @ row 1: 'USD'.*'EUR'"):
        m.update(m.init(), f)
    kept = compute(m, f, errors="quarantine")
    assert kept.n == 2
    eur = m.update(m.init(), f.filter(np.array([True, False, True])))
    usd = m.update(m.init(), f.filter(np.array([False, True, False])))
    assert eur.currency == "EUR" and usd.currency == "USD"
    with pytest.raises(ValidationError, match="the currency of the other chunks"):
        m.merge(eur, usd)
    assert m.merge(eur, m.init()).currency == "EUR"


# -- the bitmask's paths: grid or sort, blocks, threads ------------------------------------------


def summary_under(
    f: EventFrame, period: str, *, grid: bool, tiny_blocks: bool, sorted_runs: Any = None
) -> CustomerSummaryState:
    """The summary of ``f`` with the grid or the sort path forced, blocks of 3 rows and
    threads on every frame when ``tiny_blocks``, and ``sorted_runs`` replacing the sort."""
    from stickykit.metrics.behaviour import summary

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary, "_use_grid", lambda cells, rows: grid)
        if tiny_blocks:
            patch.setattr(summary, "_BLOCK_ROWS", 3)
            patch.setattr(summary, "_THREAD_MIN_ROWS", 1)
            patch.setenv("STICKYKIT_MAX_THREADS", "3")
        if sorted_runs is not None:
            patch.setattr(summary, "_sorted_runs", sorted_runs)
        m = CustomerSummary(period=period, zone="Europe/Paris")
        return m.update(m.init(), f)


def check_paths_agree(sorted_runs: Any = None) -> None:
    """Every path gives the brute-force active periods of every customer, in one form."""

    @given(event_frames(min_rows=1))
    def prop(f: EventFrame) -> None:
        for period in ("day", "month"):
            expected = brute_force(f, period, zone="Europe/Paris")
            states = [
                summary_under(f, period, grid=grid, tiny_blocks=tiny, sorted_runs=sorted_runs)
                for grid in (True, False)
                for tiny in (False, True)
            ]
            for s in states:
                assert (s.word_origin, s.active.shape) == (
                    states[0].word_origin,
                    states[0].active.shape,
                )
                lo, hi = s.period_range()
                matrix = s.active_matrix(lo, hi)
                for k, cid in enumerate(s.customer_id.tolist()):
                    assert set(np.flatnonzero(matrix[k]) + lo) == expected[cid][3]

    prop()


def test_grid_sort_block_and_thread_paths_agree() -> None:
    check_paths_agree()


def unsorted_runs(keys: np.ndarray) -> list[np.ndarray]:
    """Broken: the keys left in row order, so one customer's bits are not grouped."""
    return [keys]


def test_paths_agree_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_paths_agree(sorted_runs=unsorted_runs)


# -- merge_into: merge in place into a running state ----------------------------------------------


def copy_state(s: CustomerSummaryState) -> CustomerSummaryState:
    arrays = {
        f.name: getattr(s, f.name).copy()
        for f in attrs.fields(CustomerSummaryState)
        if isinstance(getattr(s, f.name), np.ndarray)
    }
    return attrs.evolve(s, **arrays)


@st.composite
def spread_frames(draw: Any) -> EventFrame:
    """Events of up to 6 customers on days drawn one by one over three years (so customers
    have several distinct periods, which a wrong merge of the bitmask shows)."""
    rows = draw(
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1100)), min_size=2, max_size=40)
    )
    ids, days = (np.array(column) for column in zip(*rows, strict=True))
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=ids,
        timestamp=(np.datetime64("2021-01-01") + days).astype("datetime64[us]"),
        amount=days / 100.0,
    )


def check_merge_into(merge_into: Any) -> None:
    """merge_into(a, b) equals merge(a, b), in place when b's customers are all in a."""

    @given(st.one_of(event_frames(min_rows=2), spread_frames()), st.data())
    def prop(f: EventFrame, data: st.DataObject) -> None:
        m = CustomerSummary(period=data.draw(st.sampled_from(["day", "month"])))
        cut = data.draw(st.integers(1, len(f) - 1))
        whole = m.update(m.init(), f)
        for a, b in [
            (whole, m.update(m.init(), f.slice(cut, len(f)))),  # b's customers all in a
            (m.update(m.init(), f.slice(0, cut)), m.update(m.init(), f.slice(cut, len(f)))),
        ]:
            expected = m.merge(a, b)
            owned = copy_state(a)
            got = merge_into(m, owned, b)
            assert states_equal(got, expected)
            if a is whole:
                assert got.active is owned.active  # updated in place, not copied

    prop()


def test_merge_into_equals_merge() -> None:
    check_merge_into(lambda m, a, b: m.merge_into(a, b))


def overwriting_merge_into(m: CustomerSummary, a: Any, b: Any) -> Any:
    """Broken: b's periods overwrite a's words instead of being OR-ed in."""
    rows = np.searchsorted(a.customer_id, b.customer_id)
    if len(a) == 0 or len(b) == 0 or b.active.shape[1] == 0:
        return m.merge(a, b)
    if not np.array_equal(a.customer_id[np.minimum(rows, len(a) - 1)], b.customer_id):
        return m.merge(a, b)
    start = b.word_origin - a.word_origin
    if start < 0 or start + b.active.shape[1] > a.active.shape[1]:
        return m.merge(a, b)
    merged = m.merge(a, b)
    a.active[rows, start : start + b.active.shape[1]] = b.active
    return attrs.evolve(merged, active=a.active)


def test_merge_into_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_merge_into(overwriting_merge_into)
