"""The report's languages: complete catalogues, numbers and dates per language, CJK glyphs.

Every message the report's code and template use is extracted from the source with babel
(the same extraction ``pybabel extract`` does) and looked up in the catalogues: a message
without a Chinese translation fails the test, as does a translation that drops a placeholder.
Number and date formats are checked against the CLDR patterns (``en``: "June 30, 1998";
``zh_Hans_CN``: "y年M月d日"), and charts in Chinese are drawn with a CJK font without a
single missing-glyph warning.
"""

from __future__ import annotations

import base64
import datetime as dt
import gettext
import importlib.util
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from test_report import hostile_survey

from stickykit.report import build_report
from stickykit.report.figures import CJK_FAMILIES, cjk_font, missing_glyphs, render
from stickykit.report.i18n import (
    DOMAIN,
    Formatter,
    catalogue_dir,
    compile_catalogue,
    language,
    translations,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "stickykit" / "report"
METHODS = [("**.py", "python"), ("templates/**.j2", "jinja2.ext:babel_extract")]
OPTIONS = {"templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "N_": None}
_PLACEHOLDER = re.compile(r"\{[a-z_0-9]*\}|%\([a-z_]+\)s|%[-+ #0]*\d*(?:\.\d+)?[sdfr%]")


def source_messages() -> dict[str, str]:
    """Every message of the report's code and template, with where it is used."""
    found: dict[str, str] = {}
    for filename, lineno, message, _, _ in extract_from_dir(
        SOURCE, METHODS, OPTIONS, keywords=KEYWORDS
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, f"{filename}:{lineno}")
    return found


def catalogue(folder: str) -> Catalog:
    with (catalogue_dir() / folder / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return read_po(handle)


def untranslated(messages: dict[str, str], cat: Catalog) -> list[str]:
    """Messages without a reviewed translation in ``cat`` (absent, empty or fuzzy)."""
    out = []
    for message, where in messages.items():
        entry = cat.get(message)
        if entry is None or not entry.string or entry.fuzzy:
            out.append(f"{where}: {message!r}")
    return out


def placeholder_mismatches(cat: Catalog) -> list[str]:
    """Translations whose placeholders differ from their message's."""
    out = []
    for entry in cat:
        if (
            entry.id
            and entry.string
            and (
                sorted(_PLACEHOLDER.findall(entry.id)) != sorted(_PLACEHOLDER.findall(entry.string))
            )
        ):
            out.append(str(entry.id))
    return out


def test_every_message_has_a_chinese_translation() -> None:
    messages = source_messages()
    assert len(messages) > 150  # the extraction found the report's words
    assert untranslated(messages, catalogue("zh_Hans")) == []


def test_catalogues_hold_every_message_and_no_stale_one() -> None:
    messages = set(source_messages())
    for folder in ("en", "zh_Hans"):
        ids = {entry.id for entry in catalogue(folder) if entry.id}
        assert messages - ids == set(), folder
        assert ids - messages == set(), folder


def test_translations_keep_their_placeholders() -> None:
    cat = catalogue("zh_Hans")
    assert placeholder_mismatches(cat) == []
    assert list(cat.check()) == []  # babel's own python-format check


def test_catalogue_checks_fail_on_a_gap() -> None:
    """Negative control: a blanked, a fuzzy and a missing translation, a dropped placeholder."""
    cat = catalogue("zh_Hans")
    cat["Data quality"].string = ""
    cat["Key figures"].flags.add("fuzzy")
    messages = {**source_messages(), "A message nobody translated": "x.py:1"}
    gaps = untranslated(messages, cat)
    assert len(gaps) == 3
    assert any("'Data quality'" in g for g in gaps)
    cat["{days} days"].string = "天"
    assert placeholder_mismatches(cat) == ["{days} days"]


def test_numbers_and_dates_per_language() -> None:
    """CLDR: en long date "MMMM d, y", zh "y年M月d日"; both group thousands with commas."""
    en, zh = Formatter("en"), Formatter("zh")
    day = dt.date(1998, 6, 30)
    assert en.date(day) == "June 30, 1998"
    assert zh.date(day) == "1998年6月30日"
    assert en.month(dt.date(1997, 1, 1)) == "Jan 1997"
    assert zh.month(dt.date(1997, 1, 1)) == "1997年1月"
    assert zh.date(np.datetime64("1998-06-30T12:00", "us")) == "1998年6月30日"
    assert en.number(13612.04, 1) == zh.number(13612.04, 1) == "13,612.0"
    assert en.percent(0.1534) == "15.3%"
    assert en.money(1234.5, "USD") == "$1,234.50"
    assert zh.money(1234.5, "USD") == "US$1,234.50"
    assert en.money(1234.5, None) == "1,234.50"
    assert en.interval(52.34, 54.46) == "52.3 to 54.5"
    assert zh.interval(52.34, 54.46) == "52.3 至 54.5"
    assert (en.number(float("nan")), zh.number(float("inf"))) == ("n/a", "不适用")
    assert en.date(day) != zh.date(day)  # negative control: the languages differ


def test_report_page_in_chinese() -> None:
    report = build_report(
        survey=hostile_survey(), sections=["nps"], lang="zh-CN", load_entrypoints=False
    )
    html = report.to_html()
    assert report.lang == "zh" and '<html lang="zh-Hans">' in html
    assert report.sections[0].title == "净推荐值"
    assert "净推荐值为" in report.sections[0].content.summary[0]
    assert "关键数字" in html and "Key figures" not in html
    assert report.key_figures[0].interval.startswith("95% 置信区间")


def test_language_names() -> None:
    assert [language(x) for x in ("en", "EN_us", "zh", "zh-Hans", "zh_CN")] == [
        "en",
        "en",
        "zh",
        "zh",
        "zh",
    ]
    with pytest.raises(ValueError, match="available: 'en'"):
        language("de")


# -- CJK glyphs in charts ---------------------------------------------------------------------


def glyph_fonts(data_uri: str) -> set[str]:
    """The fonts whose glyph outlines an SVG chart carries (matplotlib names them in ids)."""
    svg = base64.b64decode(data_uri.split(",", 1)[1]).decode("utf-8")
    return set(re.findall(r'<path id="([A-Za-z0-9]+)-[^"]*-[0-9a-f]+"', svg))


def test_chinese_charts_have_every_glyph() -> None:
    assert cjk_font() in CJK_FAMILIES
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_report(
            survey=hostile_survey(), sections=["nps"], lang="zh", load_entrypoints=False
        )
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    chart = report.sections[0].content.charts[0]
    assert any("CJK" in font for font in glyph_fonts(chart.data_uri))


def test_glyph_check_catches_missing_glyphs() -> None:
    """Negative control: Chinese drawn with the Latin font alone warns of missing glyphs."""
    found = missing_glyphs(lambda: render(lambda ax: ax.set_title("净推荐值"), lang="en", alt="x"))
    assert found and all("missing from font" in m for m in found)
    fine = missing_glyphs(lambda: render(lambda ax: ax.set_title("净推荐值"), lang="zh", alt="x"))
    assert fine == []


# -- compiled catalogues ----------------------------------------------------------------------


def _build_hook() -> Any:
    pytest.importorskip(
        "hatchling", reason="the build hook needs hatchling (pip install hatchling)"
    )
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_hook_compiles_what_the_runtime_reads(tmp_path: Path) -> None:
    """The wheel's .mo files (build hook) translate exactly as the in-memory fallback does."""
    hook = _build_hook()
    mapping = hook.compile_catalogues(ROOT, tmp_path)
    assert sorted(mapping.values()) == [
        "stickykit/report/locale/en/LC_MESSAGES/stickykit.mo",
        "stickykit/report/locale/zh_Hans/LC_MESSAGES/stickykit.mo",
    ]
    compiled = tmp_path / "zh_Hans" / "LC_MESSAGES" / "stickykit.mo"
    with compiled.open("rb") as handle:
        from_wheel = gettext.GNUTranslations(handle)
    runtime = translations("zh")
    for message in source_messages():
        assert from_wheel.gettext(message) == runtime.gettext(message)
    assert from_wheel.gettext("Data quality") == "数据质量"
    assert not list(SOURCE.rglob("*.mo"))  # the source tree is left as it was


def test_compile_catalogue_drops_fuzzy_entries(tmp_path: Path) -> None:
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "a"\nmsgstr "甲"\n\n#, fuzzy\nmsgid "b"\nmsgstr "乙"\n',
        encoding="utf-8",
    )
    with (tmp_path / "x.mo").open("wb") as out:
        compile_catalogue(po, out)
    with (tmp_path / "x.mo").open("rb") as handle:
        t = gettext.GNUTranslations(handle)
    assert (t.gettext("a"), t.gettext("b")) == ("甲", "b")
