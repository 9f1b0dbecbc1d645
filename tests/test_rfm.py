"""RFM: hand-computed scores, tie and row-order properties with negative controls, pandas, CDNOW."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stickykit.datasets import load_cdnow
from stickykit.errors import InsufficientDataError
from stickykit.frames import EventFrame
from stickykit.metrics.behaviour.rfm import (
    DEFAULT_SEGMENTS,
    RFM,
    quantile_scores,
    rfm_scores,
    segment_cells,
)
from stickykit.testing import check_laws, check_metric, event_frames, split_points

UTC = dt.UTC
FAST = settings(max_examples=20, deadline=None)
#: Negative controls only need a counterexample, not the smallest one.
NO_SHRINK = settings(max_examples=50, deadline=None, phases=[Phase.generate])


def frame(ids: list[int], days: list[str], amounts: list[float]) -> EventFrame:
    return EventFrame(
        event_id=np.arange(len(ids)),
        customer_id=np.array(ids),
        timestamp=np.array(days, dtype="datetime64[us]"),
        amount=np.array(amounts),
    )


@st.composite
def frames_with_returns(draw: Any) -> EventFrame:
    """Event frames where some rows are returns (negative amounts)."""
    f = draw(event_frames(max_rows=40))
    returned = draw(hnp.arrays(np.bool_, len(f)))
    assert f.amount is not None
    return attrs.evolve(f, amount=np.where(returned, -f.amount / 2, f.amount))


# -- laws -------------------------------------------------------------------------------------

VARIANTS = [
    RFM(),
    RFM(binning="nested", monetary="mean", frequency="events", bins=4),
    RFM(period="month", zone="Europe/Paris", kinds=None),
]


@pytest.mark.parametrize("metric", VARIANTS, ids=lambda m: str(m.params()["binning"]))
def test_laws(metric: RFM) -> None:
    check_metric(metric, max_examples=8)


@settings(max_examples=10, deadline=None)
@given(f=frames_with_returns(), data=st.data())
def test_laws_with_returns(f: EventFrame, data: st.DataObject) -> None:
    cuts = data.draw(split_points(len(f)))
    order = data.draw(st.permutations(range(len(f))))
    check_laws(RFM(), f, cuts, order)


# -- hand-computed -----------------------------------------------------------------------------


def test_hand_computed_three_bins() -> None:
    """Six customers, as_of 2024-07-01, bins=3 (tertiles), numpy/R type 7 quantiles.

    recency days: c1 152, c2 121, c3 91, c4 30, c5 30, c6 1
      sorted 1 30 30 91 121 152; Q(1/3): h = 5/3 -> 30 + 2/3*(30-30) = 30;
      Q(2/3): h = 10/3 -> 91 + 1/3*(121-91) = 101; days 30 <= 30 fall in bin 1, so by
      customer the bins are 3,3,2,1,1,1 and R = 4 - bin = 1,1,2,3,3,3
    frequency (purchase days): c1 1, c2 1, c3 1, c4 2, c5 3, c6 1
      sorted 1 1 1 1 2 3; Q(1/3) = 1, Q(2/3) = 1 + 1/3 -> F: 1 for all ones, 3 for 2 and 3
    monetary: c1 10, c2 20, c3 30, c4 40 (25 + 15), c5 60, c6 5
      sorted 5 10 20 30 40 60; Q(1/3) = 10 + 2/3*10 = 16.67, Q(2/3) = 30 + 1/3*10 = 33.33
    """
    f = frame(
        [1, 2, 3, 4, 4, 5, 5, 5, 6],
        [
            "2024-01-31",
            "2024-03-02",
            "2024-04-01",
            "2024-05-01",
            "2024-06-01",
            "2024-04-01",
            "2024-05-01",
            "2024-06-01",
            "2024-06-30",
        ],
        [10.0, 20.0, 30.0, 25.0, 15.0, 20.0, 20.0, 20.0, 5.0],
    )
    m = RFM(bins=3)
    r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 7, 1, tzinfo=UTC))
    t = r.tables
    assert t["recency_days"].tolist() == [152.0, 121.0, 91.0, 30.0, 30.0, 1.0]
    assert t["frequency"].tolist() == [1, 1, 1, 2, 3, 1]
    np.testing.assert_allclose(t["r_edges"], [30.0, 101.0], rtol=1e-12)
    np.testing.assert_allclose(t["f_edges"], [1.0, 4 / 3], rtol=1e-12)
    np.testing.assert_allclose(t["m_edges"], [50 / 3, 100 / 3], rtol=1e-12)
    assert t["r"].tolist() == [1, 1, 2, 3, 3, 3]
    assert t["f"].tolist() == [1, 1, 1, 3, 3, 1]
    assert t["m"].tolist() == [1, 2, 2, 3, 3, 1]
    assert t["f_counts"].tolist() == [4, 0, 2]  # the tie at F = 1 fills bin 1; bin 2 stays empty
    assert t["cell_counts"].sum() == 6 and t["cell_counts"][2, 2, 2] == 2
    assert t["segment"].tolist() == ["111", "112", "212", "333", "333", "311"]


def test_default_segments_and_counts() -> None:
    f = frame([1, 2], ["2024-01-01", "2024-06-01"], [5.0, 50.0])
    m = RFM()
    r = m.finalize(m.update(m.init(), f), as_of=dt.datetime(2024, 6, 2, tzinfo=UTC))
    # two customers: edges fall between them, so the recent big spender is R5 F1 M5
    assert r.tables["code"].tolist() == [111, 515]
    assert r.tables["segment"].tolist() == ["hibernating", "new"]
    counts = {k.removeprefix("segment:"): v for k, v in r.details.items() if "segment:" in k}
    assert set(counts) == {name for name, _ in DEFAULT_SEGMENTS}
    assert counts["new"] == 1 and counts["hibernating"] == 1 and sum(counts.values()) == 2


def test_monetary_mean_per_order() -> None:
    f = frame([1, 1, 2], ["2024-01-01", "2024-01-02", "2024-01-03"], [10.0, 30.0, 25.0])
    m = RFM(monetary="mean")
    r = m.finalize(m.update(m.init(), f))
    assert r.tables["monetary"].tolist() == [20.0, 25.0]
    events = RFM(monetary="mean", frequency="events")
    same_day = frame([1, 1], ["2024-01-01", "2024-01-01"], [10.0, 30.0])
    r_days = m.finalize(m.update(m.init(), same_day))
    r_events = events.finalize(events.update(events.init(), same_day))
    assert r_days.tables["frequency"].tolist() == [1] and r_days.tables["monetary"].tolist() == [
        40.0
    ]
    assert r_events.tables["frequency"].tolist() == [2]
    assert r_events.tables["monetary"].tolist() == [20.0]


def test_nested_binning_cuts_within_parent() -> None:
    """Nested: F is cut within each R score, so every R group spreads over F scores."""
    rec = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0])
    freq = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0])
    money = np.ones(8)
    r, f, _, edges = rfm_scores(rec, freq, money, bins=2, binning="nested")
    assert r.tolist() == [2, 2, 2, 2, 1, 1, 1, 1]
    assert f.tolist() == [1, 1, 2, 2, 1, 1, 2, 2]
    np.testing.assert_allclose(edges["f_edges"], [[25.0], [2.5]])  # row = R score - 1
    _, f_i, _, _ = rfm_scores(rec, freq, money, bins=2)
    assert f_i.tolist() == [1, 1, 1, 1, 2, 2, 2, 2]


def test_returns_net_money_and_do_not_count() -> None:
    f = frame([1, 1, 2], ["2024-01-01", "2024-02-01", "2024-02-03"], [40.0, -10.0, -5.0])
    m = RFM()
    r = m.finalize(m.update(m.init(), f))
    assert r.tables["customer_id"].tolist() == [1]
    assert r.tables["frequency"].tolist() == [1] and r.tables["monetary"].tolist() == [30.0]
    assert r.n_missing == 1 and r.details["returns_only_customers"] == 1
    assert r.flags == ("1 customers with returns but no purchase not scored",)


def test_errors() -> None:
    with pytest.raises(ValueError, match="bins must be"):
        RFM(bins=10)
    with pytest.raises(ValueError, match="without a segment"):
        RFM(segments={"top": ["55"]})
    with pytest.raises(ValueError, match="in two segments"):
        RFM(segments={"a": ["55"], "b": ["555"]})
    with pytest.raises(ValueError, match="cell code"):
        RFM(bins=4, segments={"a": ["55"]})
    m = RFM()
    with pytest.raises(InsufficientDataError):
        m.finalize(m.update(m.init(), frame([1], ["2024-01-01"], [-3.0])))


def test_custom_segment_map() -> None:
    segments = {"good": [f"{r}{f}" for r in (1, 2) for f in (1, 2)], "great": ["222"]}
    with pytest.raises(ValueError, match="in two segments"):
        RFM(bins=2, segments=segments)
    segments["good"] = ["11", "12", "21", "221"]
    m = RFM(bins=2, segments=segments)
    f = frame([1, 2], ["2024-01-01", "2024-03-01"], [1.0, 2.0])
    r = m.finalize(m.update(m.init(), f))
    assert r.tables["segment"].tolist() == ["good", "good"]
    assert r.details["segment:great"] == 0


# -- the segment map is a complete partition ----------------------------------------------------


def test_default_map_is_a_partition_of_125_cells() -> None:
    names, owner = segment_cells(DEFAULT_SEGMENTS, 5)
    assert owner.shape == (125,) and (owner >= 0).all()
    # exactly one segment per cell: count each cell's owners by brute force over the codes
    hits = np.zeros(125, dtype=int)
    for _, codes in DEFAULT_SEGMENTS:
        for code in codes:
            r, f = int(code[0]), int(code[1])
            for m in range(1, 6):
                hits[(r - 1) * 25 + (f - 1) * 5 + m - 1] += 1
    assert (hits == 1).all()
    assert set(np.unique(owner)) == set(range(len(names)))


def test_partition_check_rejects_overlap_negative_control() -> None:
    broken = (*DEFAULT_SEGMENTS, ("extra", ("555",)))
    with pytest.raises(ValueError, match="in two segments"):
        segment_cells(broken, 5)
    with pytest.raises(ValueError, match="without a segment"):
        segment_cells(DEFAULT_SEGMENTS[1:], 5)


# -- properties: equal values share a score; row order never changes a score ---------------------


def rank_first_scores(values: np.ndarray, bins: int) -> np.ndarray:
    """Broken peer recipe: pd.qcut on rank(method="first"), ties broken by row order."""
    ranks = pd.Series(values).rank(method="first")
    return np.asarray(pd.qcut(ranks, bins, labels=False)) + 1


def fixed_scores(values: np.ndarray, bins: int) -> np.ndarray:
    return quantile_scores(values, bins)[0]


tied_values = hnp.arrays(np.float64, st.integers(5, 40), elements=st.integers(0, 4).map(float))


def check_equal_values_share_a_score(scorer: Any, config: settings = FAST) -> None:
    @config
    @given(x=tied_values)
    def prop(x: np.ndarray) -> None:
        s = scorer(x, 5)
        same_value = x[:, None] == x[None, :]
        assert (s[:, None] == s[None, :])[same_value].all()
        assert ((x[:, None] < x[None, :]) <= (s[:, None] <= s[None, :])).all()  # monotone

    prop()


def check_row_order_never_changes_a_score(scorer: Any, config: settings = FAST) -> None:
    @config
    @given(x=tied_values, data=st.data())
    def prop(x: np.ndarray, data: st.DataObject) -> None:
        order = np.array(data.draw(st.permutations(range(len(x)))))
        assert (scorer(x, 5)[order] == scorer(x[order], 5)).all()

    prop()


def test_equal_values_share_a_score() -> None:
    check_equal_values_share_a_score(fixed_scores)


def test_equal_values_share_a_score_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_equal_values_share_a_score(rank_first_scores, NO_SHRINK)


def test_row_order_never_changes_a_score() -> None:
    check_row_order_never_changes_a_score(fixed_scores)


def test_row_order_negative_control() -> None:
    with pytest.raises(AssertionError):
        check_row_order_never_changes_a_score(rank_first_scores, NO_SHRINK)


def test_float_sums_in_another_order_still_tie() -> None:
    x = np.array([0.1 + 0.2, 0.3, 0.3, 5.0, 6.0])
    s, _ = quantile_scores(x, 5)
    assert s[0] == s[1] == s[2]


@FAST
@given(f=event_frames(min_rows=1, max_rows=60), data=st.data())
def test_metric_scores_ignore_row_order_and_ids(f: EventFrame, data: st.DataObject) -> None:
    """Shuffle the rows and rename the customers: every customer keeps its scores."""
    m = RFM(kinds=None)
    as_of = dt.datetime(2001, 1, 1, tzinfo=UTC)
    base = m.finalize(m.update(m.init(), f), as_of=as_of).tables
    order = np.array(data.draw(st.permutations(range(len(f)))))
    renamed = attrs.evolve(f.take(order), customer_id=1000 - f.customer_id[order])
    moved = m.finalize(m.update(m.init(), renamed), as_of=as_of).tables
    by_id = {1000 - int(c): k for k, c in enumerate(moved["customer_id"])}
    back = np.array([by_id[int(c)] for c in base["customer_id"]])
    for column in ("r", "f", "m", "segment"):
        assert (moved[column][back] == base[column]).all()


# -- pandas and CDNOW -----------------------------------------------------------------------------


def pandas_rfm(events: EventFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "customer": events.customer_id,
            "ts": events.timestamp,
            "amount": events.amount,
        }
    )
    df["day"] = df["ts"].dt.floor("D")
    return df.groupby("customer").agg(
        recency=("ts", lambda s: (as_of - s.max()) / pd.Timedelta(days=1)),
        frequency=("day", "nunique"),
        monetary=("amount", "sum"),
    )


def test_matches_pandas_on_cdnow_sample() -> None:
    """Values from a pandas groupby; R and M scores from pd.qcut (their edges are distinct),
    F from pandas quantiles with right-closed bins (F has tied edges, where qcut would renumber
    its labels); the rank(method="first") recipe differs on the ties."""
    events = load_cdnow(sample=True)
    as_of = dt.datetime(1998, 7, 1, tzinfo=UTC)
    m = RFM()
    r = m.finalize(m.update(m.init(), events), as_of=as_of)
    ref = pandas_rfm(events, pd.Timestamp("1998-07-01"))
    assert r.tables["customer_id"].tolist() == ref.index.tolist()
    np.testing.assert_allclose(r.tables["recency_days"], ref["recency"], rtol=1e-12)
    assert r.tables["frequency"].tolist() == ref["frequency"].tolist()
    np.testing.assert_allclose(r.tables["monetary"], ref["monetary"], rtol=1e-9)
    r_pd = 5 - np.asarray(pd.qcut(ref["recency"], 5, labels=False))
    m_pd = np.asarray(pd.qcut(ref["monetary"], 5, labels=False)) + 1
    assert (r.tables["r"] == r_pd).all()
    assert (r.tables["m"] == m_pd).all()
    f_edges = ref["frequency"].quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
    f_pd = 1 + (ref["frequency"].to_numpy()[:, None] > f_edges).sum(axis=1)
    assert (r.tables["f"] == f_pd).all()
    f_first = rank_first_scores(ref["frequency"].to_numpy(dtype=float), 5)
    assert (f_first != r.tables["f"]).any()
    one = r.tables["frequency"] == 1
    assert len(set(r.tables["f"][one])) == 1  # every one-time buyer shares a score
    assert len(set(f_first[one])) > 1  # the row-order recipe splits them


def test_cdnow_sample_run() -> None:
    events = load_cdnow(sample=True)
    m = RFM(binning="nested")
    r = m.finalize(m.update(m.init(), events), as_of=dt.datetime(1998, 7, 1, tzinfo=UTC))
    assert r.value == 2357 and r.n_missing == 0
    segments = sum(v for k, v in r.details.items() if k.startswith("segment:"))
    assert segments == 2357 and r.tables["cell_counts"].sum() == 2357
    for name in ("r", "f", "m"):
        assert r.tables[f"{name}_counts"].sum() == 2357
    assert r.tables["f_edges"].shape == (5, 4) and r.tables["m_edges"].shape == (25, 4)
    assert r.tables["r_counts"].min() > 400  # recency has few ties: nearly equal fifths


def test_registers_through_the_hook() -> None:
    from stickykit.metrics.behaviour import clv, rfm, tiers
    from stickykit.plugins import create_registry

    registry = create_registry(builtins=False, plugins=[rfm, clv, tiers])
    assert set(registry.names()) == {"rfm", "historical_clv", "value_tiers"}
    assert registry.get("rfm", bins=4).bins == 4


def test_return_events_net_money_but_are_not_purchases() -> None:
    """An event of kind "return" nets the spend (shared returns policy) and is no purchase."""
    f = EventFrame(
        event_id=np.arange(4),
        customer_id=np.array([1, 1, 2, 1]),
        timestamp=np.array(
            ["2024-01-02", "2024-01-09", "2024-01-05", "2024-01-20"], dtype="datetime64[us]"
        ),
        kind=np.array(["purchase", "purchase", "purchase", "return"]),
        amount=np.array([30.0, 20.0, 15.0, -20.0]),
    )
    m = RFM(bins=2)
    t = m.finalize(m.update(m.init(), f)).tables
    assert t["customer_id"].tolist() == [1, 2]
    assert t["monetary"].tolist() == [30.0, 15.0]  # 30 + 20 - 20
    assert t["frequency"].tolist() == [2, 1]  # the return is not a purchase day
    # as_of defaults to just after the latest purchase (Jan 9): the return does not move it
    assert t["recency_days"].tolist() == pytest.approx([1e-6 / 86_400, 4.0 + 1e-6 / 86_400])
