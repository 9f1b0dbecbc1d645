"""Response-quality flags: hand-computed cases, a row-by-row oracle, laws, negative controls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import stickykit
from stickykit.errors import InsufficientDataError, StateMismatchError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.instruments import Instrument, Item
from stickykit.metrics.base import MetricResult
from stickykit.metrics.survey.response_quality import QualityState, ResponseQuality
from stickykit.stats.intervals import wilson_interval
from stickykit.testing import check_metric

INSTRUMENT = Instrument(
    name="test-quality",
    version="1",
    title="Two batteries, one dimension mixing keyings",
    reference="stickykit tests",
    items=[
        Item(id="s1", text="Staff are polite", dimension="staff", scale=(1, 5)),
        Item(id="s2", text="Staff are helpful", dimension="staff", scale=(1, 5)),
        Item(id="s3", text="Staff are rude", dimension="staff", scale=(1, 5), reverse=True),
        Item(id="p1", text="Fair prices", dimension="price", scale=(1, 5)),
        Item(id="e1", text="Should be polite", dimension="staff", scale=(1, 7), battery="e"),
        Item(id="e2", text="Should be helpful", dimension="staff", scale=(1, 7), battery="e"),
        Item(id="e3", text="Should be fast", dimension="speed", scale=(1, 7), battery="e"),
    ],
)


def run(metric: ResponseQuality, frame: SurveyFrame) -> tuple[MetricResult, QualityState]:
    state = metric.update(metric.init(), frame)
    return metric.finalize(state), state


def oracle(frame: SurveyFrame, items: tuple[Item, ...], min_items: int, margin: int) -> Any:
    """The rules of the docstring, one row at a time in plain Python (independent of numpy)."""
    out = {"s_el": 0, "s": 0, "r_el": 0, "r": 0, "el": 0, "any": 0}
    for row in range(len(frame)):
        answered = {}
        for item in items:
            miss = frame.answer_missing.get(item.id)
            if miss is None or not miss[row]:
                answered[item.id] = int(frame.answers[item.id][row])
        s_el = s = r_el = r = False
        for battery in {i.battery for i in items}:
            members = [i for i in items if i.battery == battery]
            if len(members) < min_items:
                continue
            given_ = [answered[i.id] for i in members if i.id in answered]
            if len(given_) >= min_items:
                s_el = True
                s = s or len(set(given_)) == 1
        for key in {(i.battery, i.dimension) for i in items}:
            members = [i for i in items if (i.battery, i.dimension) == key]
            direct = [i for i in members if not i.reverse and i.id in answered]
            reverse = [i for i in members if i.reverse and i.id in answered]
            if not any(not i.reverse for i in members) or not any(i.reverse for i in members):
                continue
            if direct and reverse:
                r_el = True
                used = direct + reverse
                top = all(answered[i.id] >= i.scale[1] - margin for i in used)
                bottom = all(answered[i.id] <= i.scale[0] + margin for i in used)
                r = r or top or bottom
        out["s_el"] += s_el
        out["s"] += s
        out["r_el"] += r_el
        out["r"] += r
        out["el"] += s_el or r_el
        out["any"] += s or r
    return out


Counter = Callable[[ResponseQuality, SurveyFrame], dict[str, float]]


def real_counts(metric: ResponseQuality, frame: SurveyFrame) -> dict[str, float]:
    half = len(frame) // 2
    state = metric.merge(
        metric.update(metric.init(), frame.slice(0, half)),
        metric.update(metric.init(), frame.slice(half, len(frame))),
    )
    counts = state.counts.sum(axis=0)
    return {
        "el": counts[1],
        "any": counts[2],
        "s_el": counts[3],
        "s": counts[4],
        "r_el": counts[5],
        "r": counts[6],
    }


def broken_min_items(metric: ResponseQuality, frame: SurveyFrame) -> dict[str, float]:
    """Off by one: also checks responses with min_items - 1 answers."""
    return real_counts(attrs.evolve(metric, min_items=metric.min_items - 1), frame)


def broken_ignores_margin(metric: ResponseQuality, frame: SurveyFrame) -> dict[str, float]:
    """Treats only the scale ends as extreme, whatever extreme_margin says."""
    return real_counts(attrs.evolve(metric, extreme_margin=0), frame)


def check_matches_oracle(counter: Counter, metric: ResponseQuality, *, quick: bool = False) -> None:
    items = metric.selected_items()
    strategy = stickykit.testing.survey_frames(metric.scales, max_rows=40)
    phases = [Phase.explicit, Phase.generate] if quick else list(Phase)
    concentrated = st.sampled_from([0, 1])

    @settings(
        phases=phases,
        database=None if quick else settings.default.database,
        max_examples=min(30, settings.default.max_examples),
    )
    @given(strategy, hnp.arrays(np.int64, 40, elements=concentrated))
    def prop(frame: SurveyFrame, copy_first: np.ndarray) -> None:
        # make straight lines and extremes common: copy the first item's answer into others
        first = frame.answers[items[0].id]
        answers = {}
        for item in items:
            lo, hi = item.scale
            pick = copy_first[: len(frame)].astype(bool)
            answers[item.id] = np.where(pick, np.clip(first, lo, hi), frame.answers[item.id])
            answers[item.id] = answers[item.id].astype(np.int8)
        frame = attrs.evolve(frame, answers=answers)
        expected = oracle(frame, items, metric.min_items, metric.extreme_margin)
        assert counter(metric, frame) == expected

    prop()


ORACLE_METRICS = [
    ResponseQuality(),
    ResponseQuality(items=("a", "b", "c", "d"), reverse=("c",), min_items=3, scale=(1, 7)),
    ResponseQuality(instrument=INSTRUMENT, min_items=2, extreme_margin=1),
]


@pytest.mark.parametrize("metric", ORACLE_METRICS, ids=["default", "items", "instrument"])
def test_matches_row_by_row_oracle(metric: ResponseQuality) -> None:
    check_matches_oracle(real_counts, metric)


def test_oracle_negative_controls() -> None:
    with pytest.raises(AssertionError):
        check_matches_oracle(broken_min_items, ORACLE_METRICS[1], quick=True)
    with pytest.raises(AssertionError):
        check_matches_oracle(broken_ignores_margin, ORACLE_METRICS[2], quick=True)


# -- hand-computed cases -----------------------------------------------------------------------


def test_straightlining_by_hand() -> None:
    """Five 1-5 items, min_items = 5 (the default).

    row 0: 3 3 3 3 3 -> straight-lines; row 1: 4 4 4 4 2 -> not; row 2: 5 5 5 5 (5th missing)
    -> only 4 answers, not eligible; row 3: 1 1 1 1 1 -> straight-lines. Eligible 3, flagged 2;
    share 2/3 with the Wilson interval of (2, 3).
    """
    cols = np.array([[3, 3, 3, 3, 3], [4, 4, 4, 4, 2], [5, 5, 5, 5, 1], [1, 1, 1, 1, 1]])
    missing = np.zeros(cols.shape, dtype=bool)
    missing[2, 4] = True
    frame = SurveyFrame(
        respondent_id=np.array([101, 102, 103, 104]),
        answers={f"item{j + 1}": cols[:, j].astype(np.int8) for j in range(5)},
        answer_missing={"item5": missing[:, 4]},
    )
    m = ResponseQuality()
    r, state = run(m, frame)
    assert (r.value, r.n, r.n_missing) == (2 / 3, 3, 1)
    low, high = wilson_interval(2, 3, 0.05)
    assert (r.ci_low, r.ci_high) == (low, high)
    assert r.details["straightlining_count"] == 2.0
    assert r.details["straightlining_eligible"] == 3.0
    assert r.details["straightlining:main"] == 2.0
    assert "reversed_count" not in r.details
    assert m.flagged_ids(state)["straightlining"].tolist() == [101, 104]
    assert m.flagged_ids(state)["reversed"].tolist() == []
    assert r.details["n_flagged_ids"] == 2.0
    assert "reversed rule not applied: no dimension mixes keyings" in r.flags


def test_reversed_rule_by_hand() -> None:
    """Instrument battery 'main', dimension 'staff': s1, s2 direct, s3 reverse-keyed (1-5).

    row 0: 5 5 5 -> agrees fully with 'polite', 'helpful' and 'rude': flagged (top);
    row 1: 5 5 1 -> consistent: not flagged; row 2: 1 (s2, s3 missing) -> no reverse item
    answered: not eligible; row 3: 1 2 1 with extreme_margin 1 -> all within 1 of the bottom:
    flagged; row 4: 4 4 5 with margin 1 -> all within 1 of the top: flagged. The 'price'
    dimension has no reverse item; battery 'e' has no reverse item.
    """
    s1 = np.array([5, 5, 1, 1, 4], np.int8)
    s2 = np.array([5, 5, 1, 2, 4], np.int8)
    s3 = np.array([5, 1, 1, 1, 5], np.int8)
    gone = np.array([False, False, True, False, False])
    other = np.array([3, 3, 3, 3, 3], np.int8)
    frame = SurveyFrame(
        respondent_id=np.array(["a", "b", "c", "d", "e"]),
        answers={"s1": s1, "s2": s2, "s3": s3, "p1": other, "e1": other, "e2": other, "e3": other},
        answer_missing={"s2": gone, "s3": gone},
    )
    m = ResponseQuality(instrument=INSTRUMENT, min_items=10, extreme_margin=1)
    r, state = run(m, frame)
    assert r.details["reversed_count"] == 3.0
    assert r.details["reversed_eligible"] == 4.0
    assert r.details["reversed:main:staff"] == 3.0
    assert m.flagged_ids(state)["reversed"].tolist() == ["a", "d", "e"]
    assert (r.n, r.n_missing, r.value) == (4, 1, 0.75)
    assert any("straight-lining not checked" in f for f in r.flags)
    strict = ResponseQuality(instrument=INSTRUMENT, min_items=10)
    assert run(strict, frame)[0].details["reversed_count"] == 1.0


def test_two_batteries_checked_separately() -> None:
    """min_items = 3: battery 'main' (4 items) and 'e' (3 items) are both checked."""
    frame = SurveyFrame(
        answers={
            "s1": np.array([2, 4], np.int8),
            "s2": np.array([2, 4], np.int8),
            "s3": np.array([2, 4], np.int8),
            "p1": np.array([2, 3], np.int8),
            "e1": np.array([1, 7], np.int8),
            "e2": np.array([6, 7], np.int8),
            "e3": np.array([6, 7], np.int8),
        }
    )
    m = ResponseQuality(instrument=INSTRUMENT, min_items=3)
    r, _ = run(m, frame)
    only_e = ResponseQuality(instrument=INSTRUMENT, min_items=3, battery=("e",))
    assert only_e.requires == ("e1", "e2", "e3")
    assert run(only_e, frame)[0].details["straightlining_count"] == 1.0
    # row 0: main 2 2 2 2 straight; row 1: main 4 4 4 3 not, battery e 7 7 7 straight
    assert (r.details["straightlining:main"], r.details["straightlining:e"]) == (1.0, 1.0)
    assert r.details["straightlining_count"] == 2.0


def test_flagged_not_dropped_and_grouped() -> None:
    """Flags count responses; every row stays in n + n_missing."""
    answers = {f"item{j}": np.array([1, 1, 2, 3, 3, 4], np.int8) for j in range(1, 5)}
    answers["item5"] = np.array([1, 5, 2, 3, 5, 4], np.int8)
    frame = SurveyFrame(
        respondent_id=np.arange(6), answers=answers, wave=np.array([1, 1, 1, 2, 2, 2])
    )
    m = ResponseQuality(by="wave")
    r, _ = run(m, frame)
    assert r.n + r.n_missing == 6
    assert [(g.group, g.details["straightlining_count"]) for g in r.groups] == [(1, 2.0), (2, 2.0)]
    assert r.value == pytest.approx(4 / 6)


def test_ids_unite_across_chunks_and_absent_ids() -> None:
    cols = {f"item{j}": np.array([2, 2, 5, 1], np.int8) for j in range(1, 6)}
    frame = SurveyFrame(respondent_id=np.array([7, 3, 7, 9]), answers=cols)
    m = ResponseQuality()
    a = m.update(m.init(), frame.slice(0, 2))
    b = m.update(m.init(), frame.slice(2, 4))
    merged = m.merge(b, a)
    assert m.flagged_ids(merged)["straightlining"].tolist() == [3, 7, 9]
    assert m.finalize(merged).details["straightlining_count"] == 4.0
    anonymous = attrs.evolve(frame, respondent_id=None)
    _, state = run(m, anonymous)
    assert len(m.flagged_ids(state)["straightlining"]) == 0
    text = attrs.evolve(frame, respondent_id=np.array(["x", "y", "z", "w"]))
    with pytest.raises(StateMismatchError):
        m.merge(a, m.update(m.init(), text))


def test_synthetic_straightliners_are_flagged() -> None:
    from stickykit.datasets import synthetic_survey

    m = ResponseQuality(instrument=INSTRUMENT, min_items=4)
    clean = synthetic_survey(INSTRUMENT, 400, rng=np.random.default_rng(2))
    dirty = synthetic_survey(INSTRUMENT, 400, rng=np.random.default_rng(2), straightliner_rate=0.1)
    natural = run(m, clean)[0].details["straightlining_count"]
    # the straight-liners are drawn after every other answer, so both frames share the rest:
    # the 40 injected respondents are all flagged, plus at most the natural ones
    assert 40 <= run(m, dirty)[0].details["straightlining_count"] <= 40 + natural


# -- laws, errors, parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        ResponseQuality(by="segment"),
        ResponseQuality(items=("a", "b", "c"), reverse=("b",), min_items=2, scale=(0, 10)),
        ResponseQuality(instrument=INSTRUMENT, min_items=2, by="wave", extreme_margin=1),
    ],
    ids=["by-segment", "items-reverse", "instrument"],
)
def test_laws(metric: ResponseQuality) -> None:
    check_metric(metric, max_examples=25)


def test_out_of_scale_and_quarantine() -> None:
    cols = {f"item{j}": np.array([2, 2, 5, 1], np.int8) for j in range(1, 6)}
    cols["item3"] = np.array([2, 9, 5, 1], np.int8)
    frame = SurveyFrame(answers=cols)
    m = ResponseQuality()
    with pytest.raises(ValidationError) as err:
        m.update(m.init(), frame)
    assert (err.value.row, err.value.field, err.value.value) == (1, "item3", 9)
    r = stickykit.compute(m, frame, errors="quarantine")
    assert r.n == 3 and r.details["n_rejected"] == 1.0


def test_no_eligible_response() -> None:
    m = ResponseQuality()
    with pytest.raises(InsufficientDataError):
        m.finalize(m.init())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"items": ("a", "b")}, "no rule applies"),
        ({"items": ("a", "a", "b", "c", "d")}, "distinct"),
        ({"min_items": 1}, "min_items"),
        ({"extreme_margin": -1}, "extreme_margin"),
        ({"items": ("a", "b"), "reverse": ("b",), "extreme_margin": 2}, "extreme"),
        ({"alpha": 0.0}, "alpha"),
        ({"by": "colour"}, "by"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        ResponseQuality(**params)
