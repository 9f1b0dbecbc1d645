"""The stickiness report: sections, their basis, escaping, no external resource, atomic writes.

The demo report (bundled CDNOW and NPSgame data) is built once per language and test session
by :func:`demo_report`, which the browser and language tests share. Hostile customer ids and
segment labels (``<script>``, quotes, ``=cmd|`` formula prefixes) come from a small
generated data set (:func:`hostile_events`), seeded, so that the tests stay fast.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import hmac
import io
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import stickykit
from stickykit import hookimpl
from stickykit.errors import MissingDependencyError
from stickykit.frames import EventFrame, SurveyFrame
from stickykit.io import load_events
from stickykit.report import (
    Basis,
    DuplicateSectionError,
    QualityRecord,
    Report,
    ReportSection,
    SectionContent,
    SkipSection,
    Table,
    build_report,
    create_section_registry,
)
from stickykit.report import _report as report_module
from stickykit.report.exports import FORMULA_PREFIXES, Pseudonymiser, neutralise, to_csv

SCRIPT = "<script>alert(1)</script>"
QUOTES = "\"quoted\" & 'single'"
FORMULA = "=cmd|' /C calc'!A0"
HOSTILE = (SCRIPT, QUOTES, FORMULA)
DEMO_SECTIONS = {
    "nps",
    "csat",
    "loyalty_curve",
    "cohorts",
    "survival",
    "dau_mau",
    "rfm",
    "tiers",
    "clv",
    "alerts",
    # on the demo's generated programme data, a third, separate source
    "programme",
    "programme_tiers",
    "complaints",
    "complaint_recovery",
    "lifecycle",
    "programme_effect",
    "stickiness_profile",
    "quality",
}


@functools.cache
def demo_report(lang: str) -> Report:
    """The demo report, built once per language and test session (shared by the test files)."""
    return build_report(demo=True, lang=lang)


@functools.cache
def demo_html(lang: str) -> str:
    return demo_report(lang).to_html()


@functools.cache
def _cdnow_sample() -> EventFrame:
    return stickykit.datasets.load_cdnow(sample=True, ids="sample")


#: CDNOW sample customers who bought often and then stopped, the three riskiest for the
#: MBG/NBD over the whole period (P(alive) < 0.01), renamed to the hostile ids.
RENAMED = {1901: SCRIPT, 814: QUOTES, 558: FORMULA}


def hostile_events(bad_amount: str = FORMULA) -> dict[str, Any]:
    """The CDNOW sample as raw columns, three customer ids made hostile, one bad row added.

    Customer ids become text (``cust-<id>``), except three customers who bought often and
    then stopped (every alert rule flags them), renamed to ``<script>``, quotes and a
    formula. The last row has an amount that is not a number (a formula by default), so it
    is quarantined.
    """
    events = _cdnow_sample()
    ids = np.char.add("cust-", events.customer_id.astype(str)).astype(object)
    for number, name in RENAMED.items():
        ids[events.customer_id == number] = name
    assert events.amount is not None
    return {
        "customer_id": [*ids.tolist(), "cust-1"],
        "timestamp": [*np.datetime_as_string(events.timestamp).tolist(), "1997-06-01T10:00"],
        "amount": [*events.amount.astype(str).tolist(), bad_amount],
    }


def hostile_survey() -> SurveyFrame:
    """120 NPS answers in waves 1-2, with three segments, two of them hostile."""
    rng = np.random.default_rng(8)
    n = 120
    return SurveyFrame(
        respondent_id=np.arange(n),
        answers={"nps": rng.integers(0, 11, n).astype(np.int8)},
        wave=np.repeat(np.array([1, 2]), n // 2),
        segment=np.asarray(np.array([SCRIPT, FORMULA, "plain"])[np.arange(n) % 3], dtype=np.str_),
    )


ALL_RF = [f"{r}{f}" for r in range(1, 6) for f in range(1, 6)]
HOSTILE_SEGMENTS = {
    QUOTES: [c for c in ALL_RF if c[0] in "345"],
    SCRIPT: [c for c in ALL_RF if c[0] in "12"],
}


@functools.cache
def hostile_report(pseudonymise: bool = False, key: bytes | None = None) -> Report:
    loaded = load_events(hostile_events(), tz="UTC", errors="quarantine")
    return build_report(
        events=loaded,
        survey=hostile_survey(),
        sections=["nps", "rfm", "alerts", "quality"],
        options={"rfm": {"segments": HOSTILE_SEGMENTS}},
        pseudonymise=pseudonymise,
        pseudonym_key=key,
        load_entrypoints=False,
    )


# -- the demo report --------------------------------------------------------------------------


def test_demo_report_has_every_section_the_data_support() -> None:
    report = demo_report("en")
    assert {s.key for s in report.sections} == DEMO_SECTIONS
    assert [(o.key, o.reason) for o in report.omitted] == [
        (
            "servqual",
            "the survey has no SERVQUAL items (expectation and perception items of servqual-1988)",
        )
    ]
    order = [s.key for s in report.sections]
    assert (
        order.index("nps") < order.index("cohorts") < order.index("alerts") < order.index("quality")
    )


def test_demo_key_figures_match_the_metrics() -> None:
    """The headline NPS is the metric's value, with its interval (NPSgame: 53.4 [52.3, 54.5])."""
    figures = {f.label: f for f in demo_report("en").key_figures}
    nps = stickykit.compute("nps", stickykit.datasets.load_npsgame())
    assert figures["Net Promoter Score"].value == f"{nps.value:.1f}" == "53.4"
    assert figures["Net Promoter Score"].interval == (
        f"95% CI {nps.ci_low:.1f} to {nps.ci_high:.1f}"
    )
    assert figures["Net Promoter Score"].basis.n == nps.n == 13_612
    assert figures["Net Promoter Score"].basis.n_missing == 342
    # Gini of CDNOW revenue, bootstrap interval around it
    gini = figures["Gini coefficient of revenue"]
    assert gini.value == "0.635" and gini.interval.startswith("95% CI 0.6")


def test_demo_page_says_the_sources_are_separate() -> None:
    report = demo_report("en")
    assert any("never joined" in note for note in report.notes)
    assert "CDNOW" in demo_html("en") and "NPSgame" in demo_html("en")


def test_survey_sections_do_not_depend_on_the_events() -> None:
    """The sources are never joined: the survey's figures are the same with or without events."""
    survey = hostile_survey()
    alone = build_report(survey=survey, sections=["nps"], load_entrypoints=False)
    together = hostile_report()
    assert alone.key_figures[0].value == together.key_figures[0].value
    assert alone.key_figures[0].basis == together.key_figures[0].basis


class _Sections(HTMLParser):
    """Collects, per ``<section id=...>``, the headings of its basis blocks (``<dt>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.depth = 0
        self.terms: dict[str, list[str]] = {}
        self._in_dt = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.depth += 1
            section = dict(attrs).get("id") or ""
            if section.startswith("section-"):
                self.current = section.removeprefix("section-")
                self.terms[self.current] = []
        self._in_dt = tag == "dt"

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.depth -= 1
            self.current = None
        if tag == "dt":
            self._in_dt = False

    def handle_data(self, data: str) -> None:
        if self._in_dt and self.current is not None:
            self.terms[self.current].append(data.strip())


def basis_terms(html: str) -> dict[str, list[str]]:
    parser = _Sections()
    parser.feed(html)
    return parser.terms


def test_every_section_states_n_missing_method_and_source() -> None:
    report = demo_report("en")
    for section in report.sections:
        assert section.content.basis, section.key
        for b in section.content.basis:
            assert b.method.strip() and b.reference.strip(), section.key
    terms = basis_terms(demo_html("en"))
    assert set(terms) == DEMO_SECTIONS
    for key, found in terms.items():
        assert {"n", "missing", "method", "source"} <= set(found), key


def test_basis_check_fails_without_a_basis() -> None:
    """Negative control: a section without its basis is refused, and the page check sees it."""
    with pytest.raises(ValueError, match="at least one basis"):
        SectionContent(basis=())
    with pytest.raises(ValueError, match="reference"):
        Basis(label="x", n=1, n_missing=0, method="count", reference=" ")
    stripped = re.sub(r'<div class="basis">.*?</div>', "", demo_html("en"), flags=re.DOTALL)
    assert all(found == [] for found in basis_terms(stripped).values())


def test_small_groups_are_flagged() -> None:
    """NPSgame waves 15, 16 and 17 have 1, 3 and 2 answers: flagged; the others are not."""
    nps = next(s for s in demo_report("en").sections if s.key == "nps")
    table = nps.content.tables[0]
    flagged = {row[0] for i, row in enumerate(table.rows) if table.is_flagged(i)}
    assert flagged == {"15", "16", "17", "(not given)"}
    assert all(("small group" in row[-1]) == (row[0] in flagged) for row in table.rows)


# -- escaping and CSV exports -----------------------------------------------------------------


def unescaped(html: str) -> list[str]:
    """Hostile strings present raw (unescaped) in a page."""
    return [text for text in (SCRIPT, QUOTES, "<i>x</i>") if text in html]


def test_hostile_ids_and_labels_are_escaped() -> None:
    html = hostile_report().to_html()
    assert unescaped(html) == []
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # customer id and segment label
    assert "&#34;quoted&#34; &amp; &#39;single&#39;" in html  # RFM segment label
    assert "=cmd|&#39; /C calc&#39;!A0" in html  # customer id and survey segment
    control = html.replace("&lt;script&gt;alert(1)&lt;/script&gt;", SCRIPT, 1)
    assert unescaped(control) == [SCRIPT]  # negative control: a raw id is seen


def test_hostile_report_shows_them_in_every_place() -> None:
    report = hostile_report()
    alerts = next(s for s in report.sections if s.key == "alerts").content.tables[0]
    shown = {row[0] for row in alerts.rows}
    assert set(HOSTILE) <= shown  # the three stopped buyers are the riskiest
    quality = next(s for s in report.sections if s.key == "quality").content.tables
    assert any(FORMULA in row for table in quality for row in table.rows)
    rfm = next(s for s in report.sections if s.key == "rfm").content.tables[0]
    assert {row[0] for row in rfm.rows} == {QUOTES, SCRIPT}


def test_csv_export_neutralises_formulas() -> None:
    text = hostile_report().to_csv("churn_alerts")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    column = header.index("customer_id")
    ids = {row[column] for row in body}
    assert "'" + FORMULA in ids and FORMULA not in ids
    assert SCRIPT in ids and QUOTES in ids  # not formulas: kept as they are, quoted
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES) or _is_number(cell)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_csv_hand_computed() -> None:
    """RFC 4180 quoting, a leading quote on formula starts, numbers left as numbers."""
    text = to_csv(
        {
            "name": np.array(["=1+1", "a,b", 'say "x"', "@me", "ok"]),
            "amount": np.array([-3.5, 2.0, np.nan, 0.25, 1e6]),
            "count": np.array([1, -2, 3, 4, 5]),
        }
    )
    assert text == (
        '"name","amount","count"\r\n'
        '"\'=1+1",-3.5,1\r\n'
        '"a,b",2.0,-2\r\n'
        '"say ""x""","",3\r\n'
        '"\'@me",0.25,4\r\n'
        '"ok",1000000.0,5\r\n'
    )


def check_neutralised(neutraliser: Any, text: str) -> None:
    """The neutralisation property: nothing starts a formula, and only a quote is added."""
    out = str(neutraliser(np.array([text], dtype=np.str_))[0])
    assert out in (text, "'" + text)
    assert not out.lstrip(" ").startswith(FORMULA_PREFIXES)


@given(st.text(max_size=12))
def test_neutralise_property(text: str) -> None:
    check_neutralised(neutralise, text)
    once = neutralise(np.array([text], dtype=np.str_))
    assert neutralise(once).tolist() == once.tolist()  # idempotent


def test_neutralise_property_fails_on_a_broken_neutraliser() -> None:
    """Negative control: a neutraliser that only knows '=' lets '+1' and ' @x' through."""

    def broken(values: Any) -> Any:
        return np.where(np.strings.startswith(values, "="), np.strings.add("'", values), values)

    check_neutralised(broken, "=1")
    for text in ("+1", " @x", "\tx", "\uff0d1"):
        with pytest.raises(AssertionError):
            check_neutralised(broken, text)


@given(st.lists(st.text(max_size=8), min_size=1, max_size=6))
def test_csv_round_trip(cells: list[str]) -> None:
    """Whatever the text (quotes, commas, newlines), a CSV reader gets the neutralised cells."""
    values = np.array(cells, dtype=np.str_)
    parsed = list(csv.reader(io.StringIO(to_csv({"c": values}), newline="")))
    assert [row[0] for row in parsed[1:]] == neutralise(values).tolist()


# -- pseudonyms -------------------------------------------------------------------------------


def test_pseudonym_published_hmac_value() -> None:
    """RFC 4231 test case 1: HMAC-SHA256(0x0b * 20, "Hi There") = b0344c61d8db3853..."""
    p = Pseudonymiser(key=b"\x0b" * 20)
    assert p(np.array(["Hi There"])).tolist() == ["c-b0344c61d8db3853"]
    assert hmac.new(b"\x0b" * 20, b"Hi There", hashlib.sha256).hexdigest().startswith("b0344c61")


def check_pseudonyms(pseudonymise: Any, ids: np.ndarray) -> None:
    out = pseudonymise(ids)
    assert out.shape == ids.shape
    distinct_in, distinct_out = len(set(ids.tolist())), len(set(out.tolist()))
    assert distinct_in == distinct_out  # equal ids equal, different ids different
    perm = np.random.default_rng(0).permutation(len(ids))
    assert pseudonymise(ids[perm]).tolist() == out[perm].tolist()


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=30))
def test_pseudonyms_are_consistent_and_distinct(values: list[int]) -> None:
    check_pseudonyms(Pseudonymiser(key=b"k" * 16), np.array(values, dtype=np.int64))


def test_pseudonym_check_fails_on_short_pseudonyms() -> None:
    """Negative control: one hex digit cannot keep 20 customers apart (pigeonhole)."""

    def short(ids: np.ndarray) -> np.ndarray:
        full = Pseudonymiser(key=b"k" * 16)(ids)
        return np.array([p[:3] for p in full.tolist()])

    with pytest.raises(AssertionError):
        check_pseudonyms(short, np.arange(20))


def pseudonymised_report(pseudonymise: bool) -> Report:
    """Events only (no survey label or bad amount repeats an id), pseudonyms with a fixed key."""
    loaded = load_events(hostile_events("n/a"), tz="UTC", errors="quarantine")
    return build_report(
        events=loaded,
        sections=["rfm", "alerts", "quality"],
        pseudonymise=pseudonymise,
        pseudonym_key=PSEUDONYM_KEY if pseudonymise else None,
        load_entrypoints=False,
    )


PSEUDONYM_KEY = b"a-report-key-of-32-bytes-length!"


def id_leaks(text: str) -> list[str]:
    """Customer ids of the hostile events found in ``text``, raw or HTML-escaped."""
    raw = set(hostile_events("n/a")["customer_id"])
    escaped = {i.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&#39;") for i in raw}
    escaped |= {i.replace(">", "&gt;").replace('"', "&#34;") for i in escaped}
    return sorted(i for i in raw | escaped if i in text)


def test_pseudonymised_ids_never_appear() -> None:
    report = pseudonymised_report(True)
    html = report.to_html()
    exported = report.to_csv("churn_alerts")
    assert id_leaks(html) == []
    assert id_leaks(exported) == []
    expected = Pseudonymiser(key=PSEUDONYM_KEY)(np.array(list(HOSTILE))).tolist()
    assert all(p in html and p in exported for p in expected)
    # negative control: without pseudonyms the same check finds the ids
    assert id_leaks(pseudonymised_report(False).to_html()) != []


def test_pseudonyms_in_quality_examples() -> None:
    record = QualityRecord(
        "events", 2, 1, 1, examples=((1, "customer_id", "cust-alice-0001", "an id"),)
    )
    report = build_report(
        events=EventFrame(
            event_id=np.arange(1),
            customer_id=np.array(["cust-bob-0002"]),
            timestamp=np.array(["2024-01-01"], dtype="datetime64[us]"),
        ),
        quality={"events": record},
        sections=["quality"],
        pseudonymise=True,
        load_entrypoints=False,
    )
    html = report.to_html()
    assert "cust-alice-0001" not in html and "c-" in html


def test_random_keys_differ_between_reports() -> None:
    a = Pseudonymiser.random()(np.array(["x"]))
    b = Pseudonymiser.random()(np.array(["x"]))
    assert a.tolist() != b.tolist()
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymiser(key=b"short")


# -- self-contained page ----------------------------------------------------------------------

_ATTRIBUTE = re.compile(
    r"""\b(src|href|action|srcset|poster|data)\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE
)


def external_references(html: str) -> list[str]:
    """Attribute values that would make the browser fetch or link something outside the page."""
    found = [
        value
        for _, value in _ATTRIBUTE.findall(html)
        if not value.startswith(("data:", "#")) or value.startswith("data:text/html")
    ]
    found += re.findall(r"url\(\s*['\"]?(?!data:)[^)]*\)", html)
    found += re.findall(r"@import[^;]*;", html)
    return found


def test_page_loads_nothing_from_outside() -> None:
    for lang in ("en", "zh"):
        html = demo_html(lang) if lang == "en" else hostile_report().to_html()
        assert external_references(html) == []
        assert "<script" not in html.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)


def test_external_reference_check_catches_links() -> None:
    """Negative control."""
    bad = (
        '<img src="https://example.org/a.png"><link href="//cdn.example.org/x.css">'
        "<style>body{background:url(http://x/y.png)}</style>"
    )
    assert len(external_references(bad)) == 3


# -- atomic write -----------------------------------------------------------------------------


def test_write_creates_the_page(tmp_path: Path) -> None:
    report = hostile_report()
    path = report.write(tmp_path / "report.html")
    assert path.read_text(encoding="utf-8") == report.to_html()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    csv_path = report.write_csv("churn_alerts", tmp_path / "alerts.csv")
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")


def naive_write(report: Report, path: Path) -> None:
    """What write() must not be: the file is opened in place and filled as it goes."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(report.to_html()[:100])
        raise OSError("disk full")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = hostile_report()
    target = tmp_path / "report.html"

    def fail(_: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        report.write(target)
    assert leftovers(tmp_path) == []
    target.write_text("the old report", encoding="utf-8")
    with pytest.raises(OSError, match="disk full"):
        report.write(target)
    assert leftovers(tmp_path) == ["report.html"]
    assert target.read_text(encoding="utf-8") == "the old report"
    monkeypatch.undo()
    # negative control: a naive writer leaves a half-written file that this check sees
    other = tmp_path / "naive"
    other.mkdir()
    with pytest.raises(OSError, match="disk full"):
        naive_write(report, other / "report.html")
    assert leftovers(other) == ["report.html"]


def test_failed_render_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Report) -> str:
        raise RuntimeError("template error")

    monkeypatch.setattr(Report, "to_html", broken)
    with pytest.raises(RuntimeError):
        hostile_report().write(tmp_path / "report.html")
    assert leftovers(tmp_path) == []


# -- sections from plugins (the hook) ---------------------------------------------------------


def _acme_build(context: Any) -> SectionContent:
    result = context.compute("nps", on="survey")
    chart = context.chart(lambda ax: ax.bar(["a", "b"], [1, 2]), alt="Acme bars")
    return SectionContent(
        basis=[Basis.from_result(result, label="Acme NPS")],
        summary=["Acme says hello."],
        charts=[chart],
        tables=[Table(columns=("k", "v"), rows=[("x", "1")])],
    )


class AcmeSections:
    @hookimpl
    def register_report_sections(self, register: Any) -> None:
        register(
            ReportSection(
                key="acme", title="Acme corner", build=_acme_build, order=105, needs=("survey",)
            )
        )

        def skip(context: Any) -> SectionContent:
            raise SkipSection("acme needs a loyalty card column")

        register(ReportSection(key="acme_skip", title="Acme skip", build=skip, order=950))


def test_hook_register_report_sections() -> None:
    """A plugin adds its own sections through the hook, placed by their order."""
    report = build_report(
        survey=hostile_survey(),
        sections=["nps", "acme", "acme_skip", "quality"],
        plugins=[AcmeSections()],
        load_entrypoints=False,
    )
    assert [s.key for s in report.sections] == ["nps", "acme", "quality"]
    acme = report.sections[1]
    assert acme.title == "Acme corner" and acme.content.summary == ("Acme says hello.",)
    assert acme.content.charts[0].data_uri.startswith("data:image/svg+xml;base64,")
    assert [(o.key, o.reason) for o in report.omitted] == [
        ("acme_skip", "acme needs a loyalty card column")
    ]
    html = report.to_html()
    assert "Acme corner" in html and 'id="section-acme"' in html


def test_builtin_sections_use_the_same_hook() -> None:
    registry = create_section_registry(load_entrypoints=False)
    assert all(registry.source(key) == "stickykit.report.sections" for key in registry)
    pm = registry.plugin_manager
    impls = pm.hook.register_report_sections.get_hookimpls()
    assert "stickykit.report.sections" in [impl.plugin_name for impl in impls]


def test_duplicate_or_bad_sections_are_refused() -> None:
    class Clash:
        @hookimpl
        def register_report_sections(self, register: Any) -> None:
            register(ReportSection(key="nps", title="Mine", build=_acme_build))

    with pytest.raises(DuplicateSectionError, match="'nps' is registered twice") as info:
        create_section_registry(plugins=[Clash()], load_entrypoints=False)
    assert info.value.sources[0] == "stickykit.report.sections"

    class NotASection:
        @hookimpl
        def register_report_sections(self, register: Any) -> None:
            register({"key": "x"})

    with pytest.raises(TypeError, match="not a ReportSection"):
        create_section_registry(plugins=[NotASection()], load_entrypoints=False)

    class WrongReturn:
        @hookimpl
        def register_report_sections(self, register: Any) -> None:
            register(ReportSection(key="wrong", title="Wrong", build=lambda c: "text"))

    with pytest.raises(TypeError, match="not a SectionContent"):
        build_report(
            survey=hostile_survey(),
            sections=["wrong"],
            plugins=[WrongReturn()],
            load_entrypoints=False,
        )


# -- data the report cannot use ---------------------------------------------------------------


def test_sections_without_their_data_are_left_out() -> None:
    events = EventFrame(
        event_id=np.arange(3),
        customer_id=np.array([1, 1, 2]),
        timestamp=np.array(["2024-01-01", "2024-02-01", "2024-01-15"], dtype="datetime64[us]"),
    )
    report = build_report(
        events=events, sections=["nps", "rfm", "clv", "quality"], load_entrypoints=False
    )
    reasons = {o.key: o.reason for o in report.omitted}
    assert reasons == {
        "nps": "needs survey data",
        "rfm": "the events carry no amounts",
        "clv": "the events carry no amounts",
    }
    assert [s.key for s in report.sections] == ["quality"]
    survey = SurveyFrame(answers={"csat": np.array([4, 5, 2], np.int8)})
    report = build_report(survey=survey, sections=["nps", "csat"], load_entrypoints=False)
    assert report.omitted[0].reason == "the survey has no likelihood-to-recommend item 'nps'"
    assert report.sections[0].key == "csat"
    assert "answered 4-5 to 'csat' on the 1-5 scale" in report.sections[0].content.summary[0]


def test_trend_by_month_answered_and_other_quality_records() -> None:
    """Without waves the trend follows the month answered; export reports feed data quality."""
    from stickykit.datasets import messy_transactions
    from stickykit.io import clean_transactions

    n = 90
    survey = SurveyFrame(
        respondent_id=np.arange(n),
        answers={"nps": (np.arange(n) % 11).astype(np.int8)},
        answered_at=np.repeat(
            np.array(["2024-01-05", "2024-02-05", "2024-03-05"], "datetime64[us]"), 30
        ),
    )
    cleaned = clean_transactions(messy_transactions(60, rng=np.random.default_rng(1)), tz="UTC")
    report = build_report(
        survey=survey,
        sections=["nps", "quality"],
        quality={"lines.csv": cleaned.report},
        as_of="2024-04-01",
        load_entrypoints=False,
    )
    table = report.sections[0].content.tables[0]
    assert table.columns[0] == "Month answered"
    assert [row[0] for row in table.rows] == ["2024-01", "2024-02", "2024-03"]
    assert [row[3] for row in table.rows] == ["30", "30", "30"]
    counts = report.sections[1].content.tables[0]
    lines = next(row for row in counts.rows if row[0] == "lines.csv")
    r = cleaned.report
    assert lines[1:4] == (f"{r.n_input:,}", f"{r.n_kept:,}", f"{r.n_input - r.n_kept:,}")
    assert report.as_of == dt.datetime(2024, 4, 1, tzinfo=dt.UTC)


def test_argument_errors() -> None:
    survey = hostile_survey()
    with pytest.raises(ValueError, match="demo=True"):
        build_report(survey=survey, demo=True)
    with pytest.raises(ValueError, match="nothing to report"):
        build_report()
    with pytest.raises(TypeError, match="SurveyFrame or a LoadResult"):
        build_report(survey={"nps": [1, 2]})
    with pytest.raises(ValueError, match="pseudonymise is False"):
        build_report(survey=survey, pseudonym_key=b"k" * 32)
    with pytest.raises(KeyError, match="did you mean 'nps'"):
        build_report(survey=survey, sections=["npss"])
    with pytest.raises(ValueError, match="no report catalogue for language 'fr'"):
        build_report(survey=survey, lang="fr")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_report(survey=survey, as_of=dt.datetime(2024, 1, 1))


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(MissingDependencyError, match=r"stickykit\[report\]"):
        build_report(survey=hostile_survey())
