"""The stickiness profile: standardisation properties with negative controls, laws of both
metrics, hand-computed components, the join on customer id and the segment summaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

from stickykit.errors import ValidationError
from stickykit.frames import EventFrame, SurveyFrame
from stickykit.metrics.profile import (
    StickinessBehaviour,
    StickinessSurvey,
    standardise,
    stickiness_profile,
)
from stickykit.metrics.survey.relationship_benefits import RelationshipBenefitIndex
from stickykit.testing import check_metric

FAST = settings(max_examples=15, deadline=None)
APRIL = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
SURVEY_ONLY_ITEMS = {"benefits": None, "switching_costs": None, "delivered_value": None}

values = hnp.arrays(
    np.float64, st.integers(2, 30), elements=st.floats(-1e3, 1e3, allow_subnormal=False)
)


# -- standardisation ------------------------------------------------------------------------------


@FAST
@given(values, st.floats(0.01, 100), st.floats(-100, 100), st.randoms(use_true_random=False))
def test_standardise_properties(x: np.ndarray, scale: float, shift: float, rnd: Any) -> None:
    x = np.round(x, 3)  # no near-ties that scaling could reorder
    pct = standardise(x, "percentile")
    assert ((pct > 0) & (pct < 100)).all()
    assert pct.mean() == pytest.approx(50.0)  # mid-ranks always average (n + 1)/2
    # order preserved, ties share a score
    order = np.argsort(x, kind="stable")
    assert (np.diff(pct[order]) >= 0).all()
    assert_allclose(standardise(x * scale + shift, "percentile"), pct, atol=1e-9)
    perm = np.array(rnd.sample(range(len(x)), len(x)))
    assert_allclose(standardise(x[perm], "percentile"), pct[perm])
    z = standardise(x, "z")
    if np.ptp(x) > 0:
        assert z.mean() == pytest.approx(0.0, abs=1e-9)
        assert z.std() == pytest.approx(1.0)
        assert_allclose(standardise(x * scale + shift, "z"), z, atol=1e-6)
    else:
        assert (z == 0).all()


def broken_percentile(x: np.ndarray) -> np.ndarray:
    """Ordinal ranks (ties broken by position): depends on row order."""
    return 100.0 * (np.argsort(np.argsort(x, kind="stable"), kind="stable") + 0.5) / len(x)


def test_percentile_tie_rule_negative_control() -> None:
    """Ties must share their mid-rank: ordinal ranks give tied customers different scores, and
    reordering the rows changes them, which the permutation check above would catch."""
    x = np.array([3.0, 1.0, 3.0])
    assert standardise(x).tolist() == [66.66666666666667, 16.666666666666668, 66.66666666666667]
    broken = broken_percentile(x)
    assert broken[0] != broken[2]
    perm = np.array([2, 1, 0])
    assert not np.allclose(broken_percentile(x[perm]), broken[perm])
    # z-scores without centring are not scale-and-shift invariant
    assert not np.allclose((x + 5) / (x + 5).std(), x / x.std())


def test_standardise_missing_and_errors() -> None:
    assert np.isnan(standardise([np.nan, np.nan])).all()
    out = standardise([1.0, np.nan, 3.0], "z")
    assert out[0] == -1.0 and np.isnan(out[1]) and out[2] == 1.0
    # equal values score 0 even when their computed sd is a rounding error above 0
    assert (standardise([0.0625] * 9, "z") == 0).all()
    with pytest.raises(ValueError, match="percentile"):
        standardise([1.0], "rank")
    with pytest.raises(ValueError, match="standardisation"):
        StickinessBehaviour(standardisation="rank")  # type: ignore[arg-type]


# -- the behavioural dimension -------------------------------------------------------------------


def behaviour_frame() -> EventFrame:
    """Customer 1: January (2 events) and March (2); customer 2: March 20; customer 3: Feb 1;
    customer 4: a return only (no activity)."""
    return EventFrame(
        event_id=np.arange(7),
        customer_id=np.array([1, 1, 1, 1, 2, 3, 4]),
        timestamp=np.array(
            [
                "2024-01-10",
                "2024-01-25",
                "2024-03-10",
                "2024-03-15",
                "2024-03-20",
                "2024-02-01",
                "2024-02-02",
            ],
            dtype="datetime64[us]",
        ),
        amount=np.array([5.0, 5, 5, 5, 5, 5, -3]),
    )


def test_behaviour_components_by_hand() -> None:
    """As of 1 April (March is the last period): customer 1 spans January-March (3 months,
    4 events, active in 2): frequency 4/3, share 2/3, recency 17 days (15 March), tenure 82
    days; customer 2 spans March: 1, 1, 12, 12; customer 3 spans February-March: 1/2, 1/2,
    60, 60. Customer 4 has only a return: not profiled, counted missing."""
    m = StickinessBehaviour()
    r = m.finalize(m.update(m.init(), behaviour_frame()), as_of=APRIL)
    t = r.tables
    assert t["customer_id"].tolist() == [1, 2, 3]
    assert_allclose(t["frequency"], [4 / 3, 1.0, 0.5])
    assert_allclose(t["active_share"], [2 / 3, 1.0, 0.5])
    assert t["recency"].tolist() == [17.0, 12.0, 60.0]
    assert t["tenure"].tolist() == [82.0, 12.0, 60.0]
    assert (r.n, r.n_missing) == (3, 1)
    # percentiles of 3 customers: 16.67, 50, 83.33; recency flipped (12 days is best)
    assert_allclose(t["std_recency"], [50.0, 250 / 3, 50 / 3])
    assert_allclose(t["behavioural"], [(250 / 3 + 50 + 250 / 3 + 50) / 4, 175 / 3, 25.0])
    assert "frequency (events per month)" in r.method


def test_behaviour_laws() -> None:
    check_metric(StickinessBehaviour(), max_examples=8)
    check_metric(StickinessBehaviour(period="week", standardisation="z"), max_examples=5)


# -- the attitudinal and cognitive dimensions ----------------------------------------------------


def survey_frame(**extra: Any) -> SurveyFrame:
    return SurveyFrame(
        answers={
            "nps": np.array([10, 8, 3, 7], np.int8),
            "csat": np.array([5, 4, 2, 3], np.int8),
        },
        answer_missing={"csat": np.array([False, False, False, True])},
        customer_id=np.array([7, 7, 8, 9]),
        **extra,
    )


def test_survey_components_by_hand() -> None:
    """Customer 7 answered twice (recommend 10 and 8 -> 9; satisfaction 5 and 4 -> 4.5),
    customer 8 once (3, 2), customer 9 once (7, satisfaction unanswered). Percentiles of
    recommend 9, 3, 7: 83.3, 16.7, 50; satisfaction 4.5, 2: 75, 25. Attitudinal = mean of the
    available: 79.17, 20.83, 50."""
    m = StickinessSurvey(**SURVEY_ONLY_ITEMS)
    r = m.finalize(m.update(m.init(), survey_frame()))
    t = r.tables
    assert t["customer_id"].tolist() == [7, 8, 9]
    assert t["likelihood_to_recommend"].tolist() == [9.0, 3.0, 7.0]
    assert t["satisfaction"][:2].tolist() == [4.5, 2.0] and np.isnan(t["satisfaction"][2])
    assert_allclose(t["attitudinal"], [(250 / 3 + 75) / 2, (50 / 3 + 25) / 2, 50.0])
    assert np.isnan(t["cognitive"]).all()
    assert r.n == 3


def test_survey_with_an_instrument() -> None:
    """Relationship benefits scored by the index's own plan: a respondent answering 6 to every
    item scores 6, one answering 2 scores 2 (no reverse-keyed items in the instrument)."""
    index = RelationshipBenefitIndex()
    answers = {item: np.array([6, 2], np.int8) for item in index.requires}
    answers["nps"] = np.array([9, 9], np.int8)
    m = StickinessSurvey(satisfaction_item=None, switching_costs=None, delivered_value=None)
    r = m.finalize(m.update(m.init(), SurveyFrame(answers=answers, customer_id=np.array([1, 2]))))
    reference = index.finalize(index.update(index.init(), SurveyFrame(answers=answers)))
    assert r.tables["relationship_benefits"].mean() == pytest.approx(reference.value)
    assert r.tables["relationship_benefits"].tolist() == [6.0, 2.0]
    # recommend ties at 9: both 50; benefits 75 and 25
    assert r.tables["attitudinal"].tolist() == [62.5, 37.5]


def test_survey_laws() -> None:
    check_metric(StickinessSurvey(**SURVEY_ONLY_ITEMS), max_examples=8)
    check_metric(StickinessSurvey(recommend_item=None, satisfaction_item=None), max_examples=2)


def test_survey_input_errors() -> None:
    m = StickinessSurvey(**SURVEY_ONLY_ITEMS)
    bad = SurveyFrame(
        answers={"nps": np.array([10, 11], np.int8), "csat": np.array([5, 4], np.int8)},
        customer_id=np.array([1, 2]),
    )
    with pytest.raises(ValidationError, match=r"nps @ row 1: 11"):
        m.update(m.init(), bad)
    with pytest.raises(ValidationError, match="enabled components"):
        m.update(
            m.init(),
            SurveyFrame(answers={"nps": np.array([10], np.int8)}, customer_id=np.array([1])),
        )
    with pytest.raises(ValidationError, match="customer_id"):
        m.update(
            m.init(),
            SurveyFrame(answers={"nps": np.array([9], np.int8), "csat": np.array([4], np.int8)}),
        )
    with pytest.raises(ValueError, match="at least one component"):
        StickinessSurvey(recommend_item=None, satisfaction_item=None, **SURVEY_ONLY_ITEMS)
    unlinked = survey_frame(label_missing={"customer_id": np.array([False, False, True, False])})
    r = m.finalize(m.update(m.init(), unlinked))
    assert r.details["responses_without_customer"] == 1.0 and r.flags


# -- the joined profile ---------------------------------------------------------------------------


def joined(**kwargs: Any) -> Any:
    b = StickinessBehaviour()
    rb = b.finalize(b.update(b.init(), behaviour_frame()), as_of=APRIL)
    s = StickinessSurvey(**SURVEY_ONLY_ITEMS)
    survey = SurveyFrame(
        answers={"nps": np.array([10, 2, 6], np.int8), "csat": np.array([5, 1, 3], np.int8)},
        customer_id=np.array([1, 3, 9]),
    )
    rs = s.finalize(s.update(s.init(), survey))
    return stickiness_profile(rb, rs, **kwargs)


def test_outer_join_on_customer_id() -> None:
    p = joined()
    assert p.customer_id.tolist() == [1, 2, 3, 9]
    behavioural, attitudinal = p.columns["behavioural"], p.columns["attitudinal"]
    assert np.isfinite(behavioural[:3]).all() and np.isnan(behavioural[3])
    assert np.isnan(attitudinal[1]) and np.isfinite(attitudinal[[0, 2, 3]]).all()
    # customer 1: recommend 10 and satisfaction 5 are both the highest: 83.3 each
    assert p.customer(1)["attitudinal"] == pytest.approx(250 / 3)
    assert "combined" not in p.columns  # never averaged across dimensions unasked
    assert p.methods["behavioural"].startswith("behavioural score")
    with pytest.raises(KeyError):
        p.customer(42)


def test_combined_only_when_asked() -> None:
    p = joined(combine={"behavioural": 2, "attitudinal": 1})
    expected = (2 * p.columns["behavioural"] + p.columns["attitudinal"]) / 3
    assert_allclose(p.columns["combined"], expected)
    assert np.isnan(p.columns["combined"][[1, 3]]).all()  # missing a dimension
    assert p.combined_weights == {"behavioural": 2.0, "attitudinal": 1.0}
    assert "behavioural 2, attitudinal 1" in p.methods["combined"]
    with pytest.raises(ValidationError, match="combine"):
        joined(combine={"loyalty": 1})


def test_segment_summaries() -> None:
    """Segment a = customers 1 and 3: behavioural scores 66.7 and 25 -> mean 45.83, sd 29.46,
    t(1) interval 45.83 +- 12.706 x 29.46 / sqrt 2."""
    p = joined(segments=([1, 3, 2, 9], ["a", "a", "b", "b"]))
    seg = p.segments
    row = np.flatnonzero((seg["segment"] == "a") & (seg["score"] == "behavioural"))[0]
    scores = np.array([(250 / 3 + 50 + 250 / 3 + 50) / 4, 25.0])
    assert seg["n"][row] == 2
    assert seg["mean"][row] == pytest.approx(scores.mean())
    half = 12.706204736174704 * scores.std(ddof=1) / np.sqrt(2)
    assert seg["ci_high"][row] == pytest.approx(scores.mean() + half)
    everyone = np.flatnonzero((seg["segment"] == "all") & (seg["score"] == "attitudinal"))[0]
    assert seg["n"][everyone] == 3
    assert set(seg["segment"].tolist()) == {"all", "a", "b"}
    with pytest.raises(ValidationError, match="one segment per customer id"):
        joined(segments=([1, 1], ["a", "b"]))
    with pytest.raises(ValidationError, match="stickiness_survey"):
        stickiness_profile(survey=behaviour_result())


def behaviour_result() -> Any:
    b = StickinessBehaviour()
    return b.finalize(b.update(b.init(), behaviour_frame()), as_of=APRIL)
