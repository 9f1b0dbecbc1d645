"""The report's languages: gettext catalogues, and numbers and dates formatted with babel.

The words of the report (headings, labels, sentences, plot labels) come from the gettext
catalogues under ``stickykit/report/locale/<language>/LC_MESSAGES/stickykit.po``. The ``.po``
files are the sources; a wheel carries them compiled to ``.mo`` by the build hook
(``hatch_build.py``), and a source checkout without the compiled files compiles the ``.po`` in
memory with babel when a report is built. English is the source language: its catalogue maps
every message to itself.

Numbers, percentages, money and dates are formatted by babel with the conventions of the
language's locale (CLDR data): ``en`` uses the ``en`` locale, ``zh`` the ``zh_Hans_CN`` locale
(Simplified Chinese).

babel is part of the ``report`` extra and is imported only when something is formatted or a
catalogue is compiled.

Examples
--------
>>> import datetime as dt
>>> en, zh = Formatter("en"), Formatter("zh")
>>> en.date(dt.date(1998, 6, 30)), zh.date(dt.date(1998, 6, 30))
('June 30, 1998', '1998年6月30日')
>>> en.number(1234.5), zh.percent(0.153)
('1,234.5', '15.3%')
>>> translations("zh").gettext("Net Promoter Score")
'净推荐值'
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import math
from importlib import resources
from pathlib import Path
from typing import Any, Final, Protocol

from stickykit.errors import MissingDependencyError

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "Formatter",
    "Translations",
    "catalogue_dir",
    "compile_catalogue",
    "language",
    "translations",
]

#: The gettext domain of the report's messages.
DOMAIN: Final = "stickykit"
#: Language code -> (catalogue folder, babel locale, name of the language in itself).
LANGUAGES: Final[dict[str, tuple[str, str, str]]] = {
    "en": ("en", "en", "English"),
    "zh": ("zh_Hans", "zh_Hans_CN", "简体中文"),
}
_ALIASES: Final = {
    "en_us": "en",
    "en_gb": "en",
    "english": "en",
    "zh_hans": "zh",
    "zh_cn": "zh",
    "zh_hans_cn": "zh",
    "zh_sg": "zh",
    "chinese": "zh",
}


class Translations(Protocol):
    """What the report needs of a gettext catalogue (``gettext.GNUTranslations`` has it)."""

    def gettext(self, message: str) -> str:
        """``message`` translated, or unchanged when the catalogue lacks it."""
        ...

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n``, translated."""
        ...


def language(lang: str) -> str:
    """The supported language code for ``lang`` (``"zh-CN"`` and ``"zh_Hans"`` are ``"zh"``).

    Raises
    ------
    ValueError
        A language without a catalogue.

    Examples
    --------
    >>> language("zh-Hans"), language("EN")
    ('zh', 'en')
    >>> language("fr")
    Traceback (most recent call last):
    ...
    ValueError: no report catalogue for language 'fr'; available: 'en' (English), 'zh' (简体中文)
    """
    key = str(lang).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in LANGUAGES:
        available = ", ".join(f"{code!r} ({name})" for code, (_, _, name) in LANGUAGES.items())
        msg = f"no report catalogue for language {lang!r}; available: {available}"
        raise ValueError(msg)
    return key


def _babel() -> Any:
    try:
        import babel  # noqa: PLC0415
    except ImportError as exc:
        msg = "the report needs babel: pip install 'stickykit[report]'"
        raise MissingDependencyError(msg) from exc
    return babel


def catalogue_dir() -> Path:
    """The folder holding ``<language>/LC_MESSAGES/stickykit.po``.

    Examples
    --------
    >>> (catalogue_dir() / "zh_Hans" / "LC_MESSAGES" / "stickykit.po").is_file()
    True
    """
    return Path(str(resources.files("stickykit.report").joinpath("locale")))


def compile_catalogue(po_file: Path | str, out: Any) -> None:
    r"""Compile a ``.po`` file into ``.mo`` bytes written to the binary file ``out``.

    Fuzzy entries are left out (they are not reviewed translations). The build hook
    (``hatch_build.py``) and the in-memory fallback of :func:`translations` both use this.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> compile_catalogue(catalogue_dir() / "zh_Hans" / "LC_MESSAGES" / "stickykit.po", buffer)
    >>> buffer.getvalue()[:4] == b"\xde\x12\x04\x95"  # the .mo magic number
    True
    """
    _babel()
    from babel.messages.mofile import write_mo  # noqa: PLC0415
    from babel.messages.pofile import read_po  # noqa: PLC0415

    with Path(po_file).open("rb") as handle:
        catalog = read_po(handle, domain=DOMAIN)
    write_mo(out, catalog, use_fuzzy=False)


@functools.cache
def translations(lang: str) -> Translations:
    """The gettext translations of language ``lang``.

    The compiled ``.mo`` file is used when it is present and not older than its ``.po``
    source; otherwise the ``.po`` is compiled in memory.

    Examples
    --------
    >>> translations("en").gettext("Net Promoter Score")
    'Net Promoter Score'
    >>> translations("zh").gettext("Data quality")
    '数据质量'
    """
    folder = LANGUAGES[language(lang)][0]
    messages = catalogue_dir() / folder / "LC_MESSAGES"
    po_file, mo_file = messages / f"{DOMAIN}.po", messages / f"{DOMAIN}.mo"
    if mo_file.is_file() and mo_file.stat().st_mtime >= po_file.stat().st_mtime:
        with mo_file.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    buffer = io.BytesIO()
    compile_catalogue(po_file, buffer)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Formatter:
    """Numbers, shares, money and dates written the way a language writes them (babel).

    Parameters
    ----------
    lang : str
        A language of :data:`LANGUAGES`.

    Examples
    --------
    >>> f = Formatter("zh")
    >>> f.integer(13612), f.month(dt.date(1997, 1, 1)), f.money(1234.5, "USD")
    ('13,612', '1997年1月', 'US$1,234.50')
    >>> Formatter("en").money(1234.5, "USD"), Formatter("en").number(float("nan"))
    ('$1,234.50', 'n/a')
    """

    def __init__(self, lang: str) -> None:
        self.lang = language(lang)
        self.locale = LANGUAGES[self.lang][1]
        self._missing = translations(self.lang).gettext("n/a")
        _babel()

    def number(self, value: float | None, digits: int = 1) -> str:
        """A number with ``digits`` decimals and grouped thousands (``"n/a"`` if not finite)."""
        if value is None or not math.isfinite(value):
            return self._missing
        from babel.numbers import format_decimal  # noqa: PLC0415

        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return str(format_decimal(value, format=pattern, locale=self.locale))

    def integer(self, value: float | None) -> str:
        """A whole number with grouped thousands."""
        return self.number(value, 0)

    def percent(self, share: float | None, digits: int = 1) -> str:
        """A share (0.153) as a percentage (``"15.3%"``)."""
        if share is None or not math.isfinite(share):
            return self._missing
        from babel.numbers import format_percent  # noqa: PLC0415

        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
        return str(format_percent(share, format=pattern, locale=self.locale))

    def money(self, value: float | None, currency: str | None, *, whole: bool = False) -> str:
        """An amount with its currency symbol (a plain number when the currency is unknown).

        ``whole=True`` rounds to whole units (for totals).
        """
        if value is None or not math.isfinite(value):
            return self._missing
        if not currency:
            return self.number(value, 0 if whole else 2)
        from babel.numbers import format_currency  # noqa: PLC0415

        if whole:
            text = format_currency(
                value, currency, format="¤#,##0", currency_digits=False, locale=self.locale
            )
        else:
            text = format_currency(value, currency, locale=self.locale)
        return str(text)

    def date(self, value: dt.date | dt.datetime | Any) -> str:
        """A calendar date written out (``"June 30, 1998"``, ``"1998年6月30日"``)."""
        from babel.dates import format_date  # noqa: PLC0415

        return str(format_date(_as_date(value), format="long", locale=self.locale))

    def month(self, value: dt.date | dt.datetime | Any) -> str:
        """A month (``"Jan 1997"``, ``"1997年1月"``)."""
        from babel.dates import format_skeleton  # noqa: PLC0415

        day = _as_date(value)
        return str(format_skeleton("yMMM", day, locale=self.locale))

    def interval(self, low: float | None, high: float | None, digits: int = 1) -> str:
        """Two bounds joined the language's way, ``"52.3 to 54.5"``."""
        template = translations(self.lang).gettext("{low} to {high}")
        return template.format(low=self.number(low, digits), high=self.number(high, digits))

    def percent_interval(self, low: float | None, high: float | None, digits: int = 1) -> str:
        """Two shares as percentages joined the language's way."""
        template = translations(self.lang).gettext("{low} to {high}")
        return template.format(low=self.percent(low, digits), high=self.percent(high, digits))


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    day = value.astype("datetime64[D]").astype(object) if hasattr(value, "astype") else value
    if not isinstance(day, dt.date):
        msg = f"expected a date, got {value!r}"
        raise TypeError(msg)
    return day
