"""Building the report from data, and writing it as one self-contained HTML page."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from stickykit.errors import MissingDependencyError, StickykitError
from stickykit.report._common import N_
from stickykit.report._content import Export, KeyFigure, ReportSection, SectionContent, SkipSection
from stickykit.report._context import ReportContext
from stickykit.report._quality import QualityRecord, quality_record
from stickykit.report._registry import SectionRegistry, plugin_manager
from stickykit.report.exports import Pseudonymiser, to_csv
from stickykit.report.i18n import LANGUAGES, Formatter, language, translations

__all__ = ["DOWNLOAD_ROWS", "BuiltSection", "OmittedSection", "Report", "build_report"]

#: Rows of an export embedded in the page as a download (all rows: ``Report.write_csv``).
DOWNLOAD_ROWS = 2_000

_DEMO_NOTE = N_(
    "Demo data bundled with stickykit: the CDNOW purchases (a US online music retailer, "
    "1997-98; Fader & Hardie 2001) and the NPSgame survey (a French garden-centre chain; "
    "CC0). They are separate, unrelated sources: their customer and respondent ids overlap "
    "by chance and are never joined."
)
_SEPARATE_NOTE = N_(
    "The events and the survey are reported side by side: no section joins them by customer id."
)
_SOURCE_NAMES = (N_("events"), N_("survey"))
_FRAME_NOTE = N_("given as a frame (validated when built)")


def _require_extra() -> None:
    """Fail early, before any computing, when a package of the ``report`` extra is missing."""
    for module in ("jinja2", "babel", "matplotlib"):
        try:
            __import__(module)
        except ImportError as exc:
            msg = f"the report needs {module}: pip install 'stickykit[report]'"
            raise MissingDependencyError(msg) from exc


@attrs.frozen
class BuiltSection:
    """A section as built: its key, translated title, content and the plugin it came from.

    Examples
    --------
    >>> from stickykit.report import Basis, SectionContent
    >>> b = Basis(label="", n=1, n_missing=0, method="count", reference="-")
    >>> BuiltSection("k", "Title", SectionContent(basis=[b]), "acme").source
    'acme'
    """

    key: str
    title: str
    content: SectionContent
    source: str


@attrs.frozen
class OmittedSection:
    """A section left out, with the one-line reason shown in its place.

    Examples
    --------
    >>> OmittedSection("servqual", "SERVQUAL", "the survey has no SERVQUAL items").reason
    'the survey has no SERVQUAL items'
    """

    key: str
    title: str
    reason: str


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@attrs.frozen(eq=False)
class Report:
    """A built report: sections with their figures, ready to be written as HTML.

    Build one with :func:`build_report`. :meth:`to_html` gives the page, :meth:`write`
    writes it atomically; :meth:`to_csv` and :meth:`write_csv` give the tables offered as
    downloads (the churn-risk alert list), neutralised against formula injection and with
    pseudonyms when the report has them.

    Attributes
    ----------
    title : str
    lang : str
        ``"en"`` or ``"zh"``.
    as_of : datetime or None
        The instant the report describes (exclusive), when given.
    data_end : datetime or None
        The latest event or answer time in the data.
    created : datetime
        When the report was built (UTC).
    sources : tuple of str
        One line per data source (rows, customers, dates).
    notes : tuple of str
        Remarks on the whole report (separate sources, pseudonyms).
    sections : tuple of BuiltSection
        The sections shown, in page order.
    omitted : tuple of OmittedSection
        The sections left out, each with its reason.
    pseudonymised : bool
    version : str
        The stickykit version that built it.

    Examples
    --------
    >>> import stickykit
    >>> from stickykit.report import build_report
    >>> report = build_report(survey=stickykit.datasets.load_npsgame(), sections=["nps"])
    >>> [s.key for s in report.sections], report.key_figures[0].value
    (['nps'], '53.4')
    >>> html = report.to_html()
    >>> html.startswith("<!DOCTYPE html>") and "Net Promoter Score" in html
    True
    """

    title: str
    lang: str
    as_of: dt.datetime | None
    data_end: dt.datetime | None
    created: dt.datetime
    sources: tuple[str, ...]
    notes: tuple[str, ...]
    sections: tuple[BuiltSection, ...]
    omitted: tuple[OmittedSection, ...]
    pseudonymised: bool
    version: str

    @property
    def key_figures(self) -> tuple[KeyFigure, ...]:
        """The headline figures of every section, in page order."""
        return tuple(f for s in self.sections for f in s.content.key_figures)

    @property
    def exports(self) -> dict[str, Export]:
        """The tables offered as CSV downloads, by name."""
        return {e.name: e for s in self.sections for e in s.content.exports}

    def to_csv(self, name: str) -> str:
        """The export ``name`` as CSV text (see :mod:`stickykit.report.exports`)."""
        try:
            export = self.exports[name]
        except KeyError:
            known = ", ".join(sorted(self.exports)) or "none"
            msg = f"no export named {name!r} in this report (exports: {known})"
            raise KeyError(msg) from None
        return to_csv(export.columns)

    def write_csv(self, name: str, path: str | os.PathLike[str]) -> Path:
        """Write the export ``name`` to ``path`` (UTF-8 with a byte-order mark, atomically)."""
        return _atomic_write(Path(path), ("\ufeff" + self.to_csv(name)).encode("utf-8"))

    def to_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS, charts as data, no script).

        Every text from the data (customer ids, segment labels, file names) is escaped by
        the template engine (autoescaping is on).
        """
        template = _environment(self.lang).get_template("report.html.j2")
        fmt = Formatter(self.lang)
        downloads = {
            name: "data:text/csv;charset=utf-8;base64,"
            + base64.b64encode(
                ("\ufeff" + to_csv({k: v[:DOWNLOAD_ROWS] for k, v in e.columns.items()})).encode(
                    "utf-8"
                )
            ).decode("ascii")
            for name, e in self.exports.items()
        }
        return str(
            template.render(
                report=self,
                html_lang="zh-Hans" if self.lang == "zh" else "en",
                language_name=LANGUAGES[self.lang][2],
                as_of=fmt.date(self.as_of) if self.as_of else "",
                data_end=fmt.date(self.data_end) if self.data_end else "",
                created=fmt.date(self.created),
                downloads=downloads,
                download_rows=DOWNLOAD_ROWS,
                fmt=fmt,
            )
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically and return the path.

        The page is rendered first, then written to a temporary file in the same folder
        and moved into place with :func:`os.replace`; if anything fails, no file is left
        behind and an existing file at ``path`` is unchanged.
        """
        return _atomic_write(Path(path), self.to_html().encode("utf-8"))


def _file_mode(path: Path) -> int:
    """The mode a new file gets (0o666 less the umask), or that of the file being replaced."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _atomic_write(path: Path, data: bytes) -> Path:
    folder = path.parent if str(path.parent) else Path()
    mode = _file_mode(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before the move
        dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


@functools.cache
def _environment(lang: str) -> Any:
    import jinja2  # noqa: PLC0415

    folder = Path(str(resources.files("stickykit.report").joinpath("templates")))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _unwrap(kind: str, data: Any, expected: type) -> tuple[Any, QualityRecord | None]:
    """The frame of ``data`` (a frame or a LoadResult) and its quality record."""
    from stickykit.io import LoadResult  # noqa: PLC0415

    if data is None:
        return None, None
    if isinstance(data, LoadResult):
        frame = data.accepted
        record = quality_record(kind, data)
    else:
        frame = data
        record = QualityRecord(kind, len(data), len(data), 0, note=_FRAME_NOTE)
    if not isinstance(frame, expected):
        msg = (
            f"{kind} must be a {expected.__name__} or a LoadResult of one (load files with "
            f"stickykit.load_{kind}); got {type(frame).__name__}"
        )
        raise TypeError(msg)
    return frame, record


def _as_of(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            msg = f"as_of must be timezone-aware (or a date), got {value!r}"
            raise ValueError(msg)
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    msg = f"as_of must be a datetime, a date or an ISO string, got {value!r}"
    raise TypeError(msg)


def _latest(events: Any, survey: Any) -> dt.datetime | None:
    stamps = []
    if events is not None and len(events):
        stamps.append(events.timestamp.max())
    if survey is not None and survey.answered_at is not None:
        known = survey.answered_at[~np.isnat(survey.answered_at)]
        if len(known):
            stamps.append(known.max())
    if not stamps:
        return None
    latest: dt.datetime = max(stamps).astype("datetime64[us]").astype(dt.datetime)
    return latest.replace(tzinfo=dt.UTC)


def _source_lines(ctx: ReportContext, labels: Mapping[str, str]) -> list[str]:
    lines = []
    events, survey, fmt = ctx.events, ctx.survey, ctx.fmt
    if events is not None:
        customers = ctx.n_customers()
        first = fmt.date(events.timestamp.min()) if len(events) else ""
        last = fmt.date(events.timestamp.max()) if len(events) else ""
        lines.append(
            ctx.gettext(
                "Events{label}: {rows} rows, {customers} customers, {first} to {last}."
            ).format(
                label=f" ({labels['events']})" if "events" in labels else "",
                rows=fmt.integer(len(events)),
                customers=fmt.integer(customers),
                first=first,
                last=last,
            )
        )
    if survey is not None:
        lines.append(
            ctx.gettext("Survey{label}: {rows} responses; items: {items}.").format(
                label=f" ({labels['survey']})" if "survey" in labels else "",
                rows=fmt.integer(len(survey)),
                items=", ".join(survey.items[:12]) + (" ..." if len(survey.items) > 12 else ""),
            )
        )
    return lines


def _select(registry: SectionRegistry, keys: Sequence[str] | None) -> list[ReportSection]:
    if keys is None:
        return registry.sections()
    wanted = [str(k) for k in keys]
    for key in wanted:
        registry.get(key)  # an unknown key fails, naming close matches
    return [s for s in registry.sections() if s.key in wanted]


def build_report(
    events: Any = None,
    survey: Any = None,
    *,
    demo: bool = False,
    lang: str = "en",
    pseudonymise: bool = False,
    as_of: dt.datetime | dt.date | str | None = None,
    title: str | None = None,
    quality: Mapping[str, Any] | None = None,
    pseudonym_key: bytes | str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    sections: Sequence[str] | None = None,
    source_labels: Mapping[str, str] | None = None,
    plugins: Iterable[Any] = (),
    load_entrypoints: bool = True,
    workers: int = 1,
) -> Report:
    """Build the stickiness report from events and/or survey answers.

    Parameters
    ----------
    events : EventFrame or LoadResult, optional
        Purchases and other events. A :class:`~stickykit.io.LoadResult` (from
        ``load_events(..., errors="quarantine")``) feeds its counts and reasons to the
        data-quality section.
    survey : SurveyFrame or LoadResult, optional
        Survey answers, likewise.
    demo : bool
        Report the bundled data: CDNOW purchases and the NPSgame survey, two unrelated
        sources that are never joined (the page says so). Give no ``events`` or ``survey``.
    lang : {"en", "zh"}
        The language of the page, its charts and its number and date formats.
    pseudonymise : bool
        Replace every customer id shown or exported by a keyed pseudonym
        (:class:`~stickykit.report.exports.Pseudonymiser`).
    as_of : datetime, date or str, optional
        Describe the data up to this instant (exclusive; a date means its midnight, UTC; a
        string is read as an ISO 8601 date, or a time with its zone).
        Default: just after the latest event, as every metric does.
    title : str, optional
        The page title (default: "Customer stickiness report", translated).
    quality : Mapping[str, object], optional
        More data-quality records by source label: a ``LoadResult``, ``ReadSummary``,
        ``ExportReport``, :class:`~stickykit.report.QualityRecord` or a mapping with
        ``rows_read``, ``accepted``, ``quarantined`` (and ``reasons``, ``note``). A record
        labelled ``"events"`` or ``"survey"`` replaces the one derived from the data.
    pseudonym_key : bytes or str, optional
        The pseudonym key (at least 16 bytes); by default a random key per report, so
        pseudonyms differ between reports. Needs ``pseudonymise=True``.
    options : Mapping[str, Mapping[str, object]], optional
        Per section key, its options (see the report guide), e.g.
        ``{"clv": {"margin": 0.3}, "alerts": {"p_alive_threshold": 0.2}}``.
    sections : sequence of str, optional
        Build only these section keys (default: every registered section).
    source_labels : Mapping[str, str], optional
        Names of the sources shown on the page, e.g. ``{"events": "orders.csv"}``.
    plugins : iterable
        Plugin objects adding sections (or metrics) for this report only.
    load_entrypoints : bool
        Also use the plugins installed under the entry-point group ``stickykit``.
    workers : int
        Worker processes for the metrics (1: this process).

    Returns
    -------
    Report

    Raises
    ------
    MissingDependencyError
        jinja2, babel or matplotlib is missing (the ``report`` extra).
    ValueError
        No data, data together with ``demo=True``, an unknown language or section, a key
        without ``pseudonymise=True``.
    TypeError
        ``events`` or ``survey`` of the wrong type.

    Examples
    --------
    >>> import stickykit
    >>> report = build_report(events=stickykit.datasets.load_cdnow(sample=True),
    ...                       sections=["tiers", "nps"], lang="zh")
    >>> [s.title for s in report.sections], [o.key for o in report.omitted]
    (['价值分层与集中度'], ['nps'])
    >>> report.omitted[0].reason
    '需要调查数据'
    """
    _require_extra()
    code = language(lang)
    _ = translations(code).gettext
    from stickykit.frames import EventFrame, SurveyFrame  # noqa: PLC0415

    if demo:
        if events is not None or survey is not None:
            raise ValueError("demo=True reports the bundled data: give no events or survey")
        from stickykit.datasets import load_cdnow, load_npsgame  # noqa: PLC0415

        events, survey = load_cdnow(), load_npsgame()
        source_labels = {"events": "CDNOW", "survey": "NPSgame", **(source_labels or {})}
    if events is None and survey is None:
        raise ValueError("nothing to report: give events and/or survey, or demo=True")
    if pseudonym_key is not None and not pseudonymise:
        raise ValueError("pseudonym_key is given but pseudonymise is False")
    event_frame, event_record = _unwrap("events", events, EventFrame)
    survey_frame, survey_record = _unwrap("survey", survey, SurveyFrame)
    records: dict[str, QualityRecord] = {}
    for label, record in (("events", event_record), ("survey", survey_record)):
        if record is not None:
            records[label] = record
    for label, info in (quality or {}).items():
        records[str(label)] = quality_record(str(label), info)
    labels = dict(source_labels or {})

    def shown(record: QualityRecord) -> QualityRecord:
        name = _(record.source) if record.source in _SOURCE_NAMES else record.source
        if record.source in labels:
            name = f"{name} ({labels[record.source]})"
        return attrs.evolve(record, source=name, note=_(record.note) if record.note else "")

    shown_records = [shown(r) for r in records.values()]
    when = _as_of(as_of)
    pseudonymiser = None
    if pseudonymise:
        pseudonymiser = (
            Pseudonymiser.random() if pseudonym_key is None else Pseudonymiser(key=pseudonym_key)
        )
    pm = plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins)
    from stickykit.plugins.registry import Registry  # noqa: PLC0415

    section_registry = SectionRegistry(pm)
    chosen = _select(section_registry, sections)
    ctx = ReportContext(
        registry=Registry(pm),
        events=event_frame,
        survey=survey_frame,
        as_of=when,
        lang=code,
        options=options,
        pseudonymiser=pseudonymiser,
        workers=workers,
        quality=shown_records,
    )
    built: list[BuiltSection] = []
    omitted: list[OmittedSection] = []
    for section in chosen:
        heading = _(section.title)
        absent = [need for need in section.needs if getattr(ctx, need) is None]
        if absent:
            reason = _("needs event data") if absent[0] == "events" else _("needs survey data")
            omitted.append(OmittedSection(section.key, heading, reason))
            continue
        try:
            content: object = section.build(ctx)
        except SkipSection as skip:
            omitted.append(OmittedSection(section.key, heading, _one_line(skip.reason)))
            continue
        except StickykitError as exc:
            omitted.append(OmittedSection(section.key, heading, _one_line(str(exc))))
            continue
        if not isinstance(content, SectionContent):
            msg = (
                f"section {section.key!r} ({section_registry.source(section.key)}) returned "
                f"{type(content).__name__}, not a SectionContent"
            )
            raise TypeError(msg)
        built.append(
            BuiltSection(section.key, heading, content, section_registry.source(section.key))
        )
    notes = []
    if demo:
        notes.append(_(_DEMO_NOTE))
    elif event_frame is not None and survey_frame is not None:
        notes.append(_(_SEPARATE_NOTE))
    if pseudonymiser is not None:
        notes.append(
            _(
                "Customer ids are replaced by pseudonyms (keyed HMAC-SHA256) in this report and "
                "its downloads."
            )
        )
    from stickykit.metrics.base import package_version  # noqa: PLC0415

    return Report(
        title=title if title is not None else _("Customer stickiness report"),
        lang=code,
        as_of=when,
        data_end=_latest(event_frame, survey_frame),
        created=dt.datetime.now(dt.UTC),
        sources=tuple(_source_lines(ctx, labels)),
        notes=tuple(notes),
        sections=tuple(built),
        omitted=tuple(omitted),
        pseudonymised=pseudonymiser is not None,
        version=package_version(),
    )
