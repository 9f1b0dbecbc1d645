"""The stickiness report: one self-contained HTML page from events and survey answers.

:func:`build_report` computes every section the data support: headline figures with their
intervals, NPS and CSAT with their trend, the satisfaction-loyalty curve and its zones,
SERVQUAL gaps, cohort retention, customer survival, DAU/MAU, RFM segments, value tiers with
the Lorenz curve, predicted lifetime value, the churn-risk alert list and data quality. Each
section states its n, its missing values, its method and the source of its formula; a
section the data cannot support is left out with a one-line reason. :meth:`Report.write`
writes the page atomically: inline CSS, charts embedded as SVG data, no script and nothing
loaded from the network.

Sections come from plugins through the ``register_report_sections`` hook, the built-in ones
included (:mod:`stickykit.report.sections`); the page's words come from gettext catalogues
in English and Simplified Chinese (:mod:`stickykit.report.i18n`).

jinja2, babel and matplotlib make up the ``report`` extra; they are imported when a report is
built, and a missing one raises :class:`~stickykit.errors.MissingDependencyError`.

Examples
--------
>>> import stickykit
>>> from stickykit.report import build_report
>>> report = build_report(survey=stickykit.datasets.load_npsgame(), sections=["nps", "csat"])
>>> [(f.label, f.value, f.interval) for f in report.key_figures]
[('Net Promoter Score', '53.4', '95% CI 52.3 to 54.5'), ('Customer satisfaction (CSAT)', '52.6%', '95% CI 51.7% to 53.4%')]
>>> "<script" in report.to_html()
False
"""

from stickykit.report._content import (
    Basis,
    Chart,
    Export,
    KeyFigure,
    ReportSection,
    SectionContent,
    SkipSection,
    Table,
)
from stickykit.report._context import ReportContext
from stickykit.report._programme import ProgrammeData, demo_programme_data
from stickykit.report._quality import QualityRecord, quality_record
from stickykit.report._registry import (
    DuplicateSectionError,
    SectionRegistry,
    create_section_registry,
)
from stickykit.report._report import BuiltSection, OmittedSection, Report, build_report

__all__ = [
    "Basis",
    "BuiltSection",
    "Chart",
    "DuplicateSectionError",
    "Export",
    "KeyFigure",
    "OmittedSection",
    "ProgrammeData",
    "QualityRecord",
    "Report",
    "ReportContext",
    "ReportSection",
    "SectionContent",
    "SectionRegistry",
    "SkipSection",
    "Table",
    "build_report",
    "create_section_registry",
    "demo_programme_data",
    "quality_record",
]
