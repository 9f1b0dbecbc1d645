"""The report's programme sections: loyalty programme, tiers, complaints, service recovery,
life-cycle stages, programme effect and stickiness profile.

The demo report (shared with ``test_report.py``, built once per session) carries them on the
generated programme data, a third source that must never be joined with the bundled CDNOW
and NPSgame data. Hand-computed figures come from a three-customer history; the rest from
small seeded generated data, so that the file stays fast.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_report import QUOTES, SCRIPT, demo_html, demo_report, unescaped

import stickykit
from stickykit.datasets import programme_events
from stickykit.frames import EventFrame
from stickykit.metrics.programme.lifecycle import LifecycleTransitions
from stickykit.report import BuiltSection, Report, build_report
from stickykit.report._programme import (
    GENERATED_ID_OFFSET,
    ProgrammeData,
    demo_programme_data,
    row_shares,
)

KEYS = (
    "programme",
    "programme_tiers",
    "complaints",
    "complaint_recovery",
    "lifecycle",
    "programme_effect",
    "stickiness_profile",
)
#: Sections that need programme or complaint kinds; life cycle and profile need purchases.
NEEDS_KINDS = {
    "programme": "enrolled",
    "programme_tiers": "enrolled, tier_changed",
    "complaints": "complaint_opened",
    "complaint_recovery": "complaint_opened",
    "programme_effect": "enrolled",
}
END = dt.datetime(2024, 12, 31, tzinfo=dt.UTC)  # 1 January 2023 + 730 days


def section(report: Report, key: str) -> BuiltSection:
    return next(s for s in report.sections if s.key == key)


@functools.cache
def generated() -> ProgrammeData:
    """The demo's generated programme data (the same call the demo makes)."""
    return demo_programme_data()


@functools.cache
def small() -> EventFrame:
    """Generated programme events of 400 customers (for the reports built in this file)."""
    return programme_events(400, seed=5)


# -- the demo ----------------------------------------------------------------------------------


def test_demo_has_every_programme_section_with_its_basis() -> None:
    report = demo_report("en")
    assert [o.key for o in report.omitted if o.key in KEYS] == []
    for key in KEYS:
        content = section(report, key).content
        assert content.basis, key
        for basis in content.basis:
            assert basis.n > 0 and basis.n_missing >= 0, (key, basis.label)
            assert basis.method.strip() and basis.reference.strip(), (key, basis.label)
            assert basis.label.endswith("(generated data)"), (key, basis.label)
        assert content.summary[0].startswith("Data: generated data"), key
    order = [s.key for s in report.sections]
    assert order.index("alerts") < order.index("programme") < order.index("quality")


def test_demo_page_names_the_generated_source_as_separate() -> None:
    report = demo_report("en")
    note = " ".join(report.notes)
    assert "three separate, unrelated sources and are never joined" in note
    assert "generated customers have ids of their own" in note
    assert any(line.startswith("Programme data (generated data)") for line in report.sources)
    html = demo_html("en")
    for key in KEYS:
        assert f'id="section-{key}"' in html
    quality = section(report, "quality").content.tables[0]
    assert [row[0] for row in quality.rows] == [
        "events (CDNOW)",
        "survey (NPSgame)",
        "events (generated data)",
        "survey (generated data)",
    ]


def test_demo_figures_are_the_generated_data_metrics() -> None:
    """Each key figure is the metric on the generated data alone, up to its own end."""
    events = generated().events
    figures = {f.label: f for f in demo_report("en").key_figures}
    enrolment = stickykit.compute("programme_enrollment", events, as_of=END)
    shown = figures["Programme enrolment rate (generated data)"]
    assert shown.value == f"{100 * enrolment.value:.1f}%"
    assert shown.basis.n == enrolment.n
    rate = stickykit.compute("complaint_rate", events, as_of=END)
    shown = figures["Complaints per 1,000 customers (generated data)"]
    assert shown.value == f"{rate.value:.1f}" and shown.basis.n == rate.n == 3_000
    effect = stickykit.compute("programme_effect", events, as_of=END)
    shown = figures["Programme effect (matched members) (generated data)"]
    assert shown.value == f"€{effect.value:.2f} per customer per month"
    assert shown.interval == f"95% CI €{effect.ci_low:.2f} to €{effect.ci_high:.2f}"
    summary = " ".join(section(demo_report("en"), "programme_effect").content.summary)
    assert f"€{effect.details['naive_gap']:.2f} per customer per month" in summary
    assert "naive gap" in summary and "not an effect" in summary


def test_no_join_with_cdnow_ids() -> None:
    """Generated customers' ids are disjoint from CDNOW's and NPSgame's; no table mixes them.

    Negative control: the generator's own ids (1000, 1001, ...) do overlap CDNOW's.
    """
    data = generated()
    cdnow = stickykit.datasets.load_cdnow()
    npsgame = stickykit.datasets.load_npsgame()
    assert data.survey is not None and data.survey.customer_id is not None
    ours = np.union1d(data.events.customer_id, data.survey.customer_id)
    assert int(ours.min()) >= GENERATED_ID_OFFSET
    assert np.intersect1d(ours, cdnow.customer_id).size == 0
    assert npsgame.respondent_id is not None
    assert np.intersect1d(ours, npsgame.respondent_id).size == 0
    raw = programme_events(3_000, seed=2)
    assert np.intersect1d(raw.customer_id, cdnow.customer_id).size > 0  # negative control
    report = demo_report("en")
    # the programme sections count the 3,000 generated customers only, the CDNOW ones only
    # CDNOW's 23,570: a join would give 26,570 somewhere
    lifecycle = section(report, "lifecycle").content.basis[0]
    profile = section(report, "stickiness_profile").content.basis[0]
    assert lifecycle.n == profile.n == 3_000
    assert report.sources[0].startswith("Events (CDNOW): 69,659 rows, 23,570 customers")
    alerts = report.exports["churn_alerts"].columns["customer_id"].astype(np.int64)
    assert np.isin(alerts, cdnow.customer_id).all()
    assert np.intersect1d(alerts, ours).size == 0
    html = demo_html("en")
    assert "26,570" not in html


def test_transition_and_migration_rows_sum_to_their_totals() -> None:
    """Each matrix row's total is its cells' sum, and the stage count on the start date."""
    report = demo_report("en")
    events = generated().events
    moves = section(report, "lifecycle").content.tables[1]
    start = END.date() - dt.timedelta(days=365)  # as the section does: 1 January 2024
    expected = stickykit.compute(LifecycleTransitions(start=start), events, as_of=END)
    assert expected.tables["start"][0] == np.datetime64("2024-01-01")
    totals = [int(row[-1].replace(",", "")) for row in moves.rows]
    cells = [sum(int(c.replace(",", "")) for c in row[1:-1]) for row in moves.rows]
    assert totals == cells == expected.tables["start_counts"].tolist()
    tiers = section(report, "programme_tiers").content.tables[1]
    for row in tiers.rows:
        assert int(row[-1].replace(",", "")) == sum(int(c.replace(",", "")) for c in row[1:-1])


# -- without programme events ------------------------------------------------------------------


@functools.cache
def purchases_only() -> Report:
    return build_report(
        events=stickykit.datasets.load_cdnow(sample=True),
        sections=list(KEYS),
        load_entrypoints=False,
    )


def test_sections_without_their_kinds_are_omitted_with_a_reason() -> None:
    report = purchases_only()
    reasons = {o.key: o.reason for o in report.omitted}
    assert set(reasons) == set(NEEDS_KINDS)
    for key, kind in NEEDS_KINDS.items():
        assert reasons[key] == f"the events have no rows of kind {kind}", key
    # life-cycle stages and the behavioural profile need purchases only
    assert {s.key for s in report.sections} == {"lifecycle", "stickiness_profile"}
    profile = section(report, "stickiness_profile").content
    assert profile.notes == (
        (
            "The attitudinal and cognitive dimensions need survey answers of these same "
            "customers; there are none."
        ),
    )
    # negative control: the same sections on programme events are all built
    assert not any(o.key in NEEDS_KINDS for o in demo_report("en").omitted)


# -- hand-computed values ----------------------------------------------------------------------


def three_customers() -> EventFrame:
    """Customer 1 joins, earns 500 points and redeems 200; customers 2 and 3 only buy."""
    return EventFrame(
        event_id=np.arange(6),
        customer_id=np.array([1, 1, 1, 1, 2, 3]),
        timestamp=np.array(
            ["2024-01-10", "2024-01-10", "2024-01-10", "2024-03-01", "2024-02-01", "2024-02-15"],
            dtype="datetime64[us]",
        ),
        kind=np.array(
            ["purchase", "enrolled", "points_earned", "points_redeemed", "purchase", "purchase"]
        ),
        amount=np.array([500.0, 0, 0, 0, 20.0, 30.0]),
        quantity=np.array([1, 0, 500, 200, 1, 1]),
        currency=np.full(6, "EUR"),
    )


def test_programme_section_by_hand() -> None:
    """1 member of 3 customers; 200 of 500 points redeemed; 300 outstanding.

    Enrolment 1/3 = 33.3 %; active members 1/1 (points in the last 90 days); redemption
    200/500 = 40.0 % (one earner: no interval); breakage 0/500 = 0.0 % realised and
    (0 + 300)/500 = 60.0 % at most; liability 300 x EUR 0.01 x (1 - 0.25) = EUR 2.25.
    """
    events = three_customers()
    options = {"programme": {"value_per_point": 0.01, "expected_breakage": 0.25}}
    with_values = build_report(
        events=events,
        sections=["programme"],
        as_of="2024-04-01",
        options=options,
        load_entrypoints=False,
    )
    content = section(with_values, "programme").content
    rows = {row[0]: row[1:] for row in content.tables[0].rows}
    assert rows["enrolment rate (members / customers)"][0] == "33.3%"
    assert rows["enrolment rate (members / customers)"][2] == "3"
    assert rows["active members (earned or redeemed points in the last 90 days)"][0] == "100.0%"
    points = rows["redemption rate (points redeemed / points earned)"]
    assert points == ("40.0%", "no interval", "1")
    assert rows["realised breakage (points expired / issued; a lower bound)"][0] == "0.0%"
    assert rows["maximum breakage (if every outstanding point expires)"][0] == "60.0%"
    assert rows["outstanding points liability"] == ("€2.25", "no interval", "300")
    assert content.summary[0].startswith("1 of 3 customers are programme members (33.3%")
    assert "€2.25 = 300 points x €0.01 per point x (1 - 25.0%)" in content.summary[-1]
    cohort = content.tables[1].rows
    assert cohort == (("Jan 2024", "500", "200", "0", "300", "0.0%", "60.0%"),)
    without = build_report(
        events=events, sections=["programme"], as_of="2024-04-01", load_entrypoints=False
    )
    plain = section(without, "programme").content
    assert "outstanding points liability" not in {row[0] for row in plain.tables[0].rows}
    assert plain.notes[-1].startswith("The outstanding points liability is not shown")
    assert "300 points are outstanding" in plain.notes[-1]


# -- escaping, linking, languages --------------------------------------------------------------


def test_tier_names_from_the_data_are_escaped() -> None:
    events = small()
    assert events.kind is not None and events.order_id is not None
    tiers = events.kind == "tier_changed"
    names = np.asarray(events.order_id, dtype=object)
    names[tiers & (names == "silver")] = SCRIPT
    names[tiers & (names == "gold")] = QUOTES
    hostile = attrs.evolve(events, order_id=names.astype(str))
    report = build_report(
        events=hostile,
        sections=["programme_tiers"],
        options={"programme_tiers": {"tiers": ("bronze", SCRIPT, QUOTES)}},
        load_entrypoints=False,
    )
    content = section(report, "programme_tiers").content
    assert SCRIPT in {row[0] for row in content.tables[0].rows}  # shown, as data
    html = report.to_html()
    assert unescaped(html) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;quoted&#34; &amp; &#39;single&#39;" in html
    control = html.replace("&lt;script&gt;alert(1)&lt;/script&gt;", SCRIPT, 1)
    assert unescaped(control) == [SCRIPT]  # negative control: a raw name is seen


def test_profile_joins_the_report_survey_only_when_told() -> None:
    data = demo_programme_data(400, seed=5)
    plain = build_report(
        events=data.events,
        survey=data.survey,
        sections=["stickiness_profile"],
        load_entrypoints=False,
    )
    content = section(plain, "stickiness_profile").content
    assert len(content.basis) == 1  # the behavioural dimension only
    assert "survey_linked" in content.notes[0]
    assert plain.notes == (
        (
            "The events and the survey are reported side by side: no section joins them by "
            "customer id."
        ),
    )
    linked = build_report(
        events=data.events,
        survey=data.survey,
        sections=["stickiness_profile"],
        options={"stickiness_profile": {"survey_linked": True}},
        load_entrypoints=False,
    )
    content = section(linked, "stickiness_profile").content
    assert data.survey is not None
    assert [b.n for b in content.basis] == [400, len(data.survey)]
    assert "only the stickiness profile joins them" in linked.notes[0]
    table = content.tables[0]
    assert table.columns[:3] == ("programme membership", "behavioural", "n")
    assert [row[0] for row in table.rows] == ["all customers", "members", "never enrolled"]
    # dimensions side by side, never averaged: no combined column
    assert "combined" not in " ".join(table.columns)


def test_chinese_titles_and_labels() -> None:
    report = build_report(
        events=small(),
        sections=["programme", "complaints"],
        lang="zh",
        load_entrypoints=False,
    )
    titles = ["忠诚度计划：会员与积分", "投诉及其处理"]  # noqa: RUF001 - a Chinese colon
    assert [s.title for s in report.sections] == titles
    assert report.key_figures[0].label == "计划入会率"
    assert not re.search(r"[A-Za-z]{4,}", report.sections[1].content.summary[0])


# -- properties of the helpers -----------------------------------------------------------------

counts = st.lists(st.lists(st.integers(0, 50), min_size=3, max_size=3), min_size=1, max_size=6).map(
    np.array
)


def row_sums_hold(shares: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> bool:
    totals = matrix.sum(axis=1)
    full = totals > 0
    return bool(
        np.allclose(shares[full].sum(axis=1), 1.0)
        and ((shares >= 0) & (shares <= 1)).all()
        and (mask.all(axis=1) == ~full).all()
    )


@given(counts)
def test_row_shares_sum_to_one_per_row(matrix: np.ndarray) -> None:
    shares, mask = row_shares(matrix)
    assert row_sums_hold(shares, mask, matrix)
    # permuting the rows permutes the shares
    order = np.arange(len(matrix))[::-1]
    again, _ = row_shares(matrix[order])
    np.testing.assert_allclose(again, shares[order], rtol=0, atol=1e-12)


def test_row_share_check_fails_on_column_shares() -> None:
    """Negative control: shares of the column totals break the row-sum property."""
    matrix = np.array([[1, 3, 0], [2, 0, 4]])
    columns = matrix.sum(axis=0, keepdims=True)
    wrong = np.divide(matrix, columns, out=np.zeros(matrix.shape), where=columns > 0)
    assert not row_sums_hold(wrong, np.zeros(matrix.shape, dtype=bool), matrix)
    assert row_sums_hold(*row_shares(matrix), matrix)


@given(st.integers(20, 120), st.integers(0, 2**16))
def test_generated_ids_never_reach_the_bundled_ids(n: int, seed: int) -> None:
    data = demo_programme_data(n, seed=seed)
    assert int(data.events.customer_id.min()) >= GENERATED_ID_OFFSET > 23_570
    assert data.survey is not None and data.survey.customer_id is not None
    assert np.isin(data.survey.customer_id, data.events.customer_id).all()


@pytest.mark.parametrize("key", sorted(NEEDS_KINDS))
def test_each_kind_rule_names_the_missing_kind(key: str) -> None:
    reasons = {o.key: o.reason for o in purchases_only().omitted}
    assert reasons[key].endswith(NEEDS_KINDS[key])
