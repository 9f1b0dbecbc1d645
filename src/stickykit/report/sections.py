"""The built-in report sections, registered through the ``register_report_sections`` hook.

This module is a plugin like any other: :func:`register_report_sections` registers each
built-in :class:`~stickykit.report.ReportSection`, exactly as a third-party plugin registers
its own. In page order:

================== ====== ============================================================
key                needs  what it shows
================== ====== ============================================================
nps                survey Net Promoter Score with its interval; trend by wave or month;
                          by segment
csat               survey CSAT (top-2-box share) with its interval and trend
loyalty_curve      survey loyalty rate per satisfaction level, fitted zones, top-box ratio
servqual           survey SERVQUAL gaps by dimension (when the survey has the items)
cohorts            events acquisition-cohort retention heatmap and pooled curve
survival           events Kaplan-Meier survival of customers
dau_mau            events calendar-month DAU/MAU
rfm                events RFM segment sizes and revenue
tiers              events Lorenz curve, Gini, ABC classes, top shares
clv                events predicted CLV distribution (BG/NBD + Gamma-Gamma)
alerts             events churn-risk alert list (MBG/NBD, recency gap, frequency drop)
programme          events loyalty programme: enrolment, active members, redemption,
                          breakage per issue cohort, points liability (user's values)
programme_tiers    events members per tier and the tier migration matrix
complaints         events complaint rate, time to resolution, resolved-within shares,
                          first-contact resolution
complaint_recovery events repurchase and retention after a complaint, against matched
                          customers; the naive gap beside it
lifecycle          events life-cycle stages and the stage-transition matrix
programme_effect   events matched, staggered programme effect; naive gap; pre-trends
stickiness_profile events behavioural, attitudinal and cognitive scores by segment
quality            none   rows read, accepted and quarantined per source, with reasons
================== ====== ============================================================

The programme sections read the programme, complaint and purchase kinds of the events, or a
separate source of programme data (:class:`~stickykit.report.ProgrammeData`: the demo's
generated data).

Examples
--------
>>> [s.key for s in BUILTIN_SECTIONS][:4]
['nps', 'csat', 'loyalty_curve', 'servqual']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stickykit.plugins.hookspecs import hookimpl
from stickykit.report._behaviour import (
    build_cohorts,
    build_dau_mau,
    build_rfm,
    build_survival,
    build_tiers,
)
from stickykit.report._common import N_
from stickykit.report._content import Basis, ReportSection, SectionContent, Table
from stickykit.report._predictive import build_alerts, build_clv
from stickykit.report._programme import (
    build_complaint_recovery,
    build_complaints,
    build_lifecycle,
    build_programme,
    build_programme_effect,
    build_programme_tiers,
    build_stickiness_profile,
)
from stickykit.report._survey import build_csat, build_loyalty_curve, build_nps, build_servqual

if TYPE_CHECKING:
    from stickykit.report._context import ReportContext

__all__ = ["BUILTIN_SECTIONS", "build_quality", "register_report_sections"]

_QUALITY_REFERENCE = (
    "stickykit input validation: every rule a vectorised mask over the rows, every failing "
    "rule of every row collected (stickykit.io; see the event data guide)"
)
_ID_FIELDS = ("customer_id", "respondent_id")


def build_quality(ctx: ReportContext) -> SectionContent:
    """Rows read, accepted and quarantined per source, the failing rules and example rows.

    Customer and respondent ids among the example values are pseudonymised like every other
    id when the report is.
    """
    records = ctx.quality
    if not records:
        return SectionContent(
            basis=[
                Basis(
                    label=ctx.gettext("Data quality"),
                    n=0,
                    n_missing=0,
                    method=ctx.gettext("no data"),
                    reference=_QUALITY_REFERENCE,
                )
            ],
            summary=[ctx.gettext("No data were given.")],
        )
    counts = Table(
        columns=(
            ctx.gettext("source"),
            ctx.gettext("rows read"),
            ctx.gettext("accepted"),
            ctx.gettext("quarantined"),
            ctx.gettext("note"),
        ),
        rows=[
            (
                r.source,
                ctx.fmt.integer(r.rows_read),
                ctx.fmt.integer(r.accepted),
                ctx.fmt.integer(r.quarantined),
                r.note,
            )
            for r in records
        ],
        flagged=[r.quarantined > 0 for r in records],
        numeric=(False, True, True, True, False),
    )
    tables = [counts]
    rules = [(r.source, *rule) for r in records for rule in r.by_rule]
    if rules:
        tables.append(
            Table(
                columns=(
                    ctx.gettext("source"),
                    ctx.gettext("field"),
                    ctx.gettext("rows"),
                    ctx.gettext("expected"),
                ),
                rows=[(s, f, ctx.fmt.integer(c), e) for s, f, c, e in rules],
                caption=ctx.gettext("Why rows were quarantined (a row may break several rules)"),
                numeric=(False, False, True, False),
            )
        )
    examples = []
    for r in records:
        for row, field, value, expected in r.examples:
            shown = str(value)
            if field in _ID_FIELDS and ctx.pseudonymised:
                shown = str(ctx.pseudonymise([shown])[0])
            examples.append((r.source, ctx.fmt.integer(row), field, shown, expected))
    if examples:
        tables.append(
            Table(
                columns=(
                    ctx.gettext("source"),
                    ctx.gettext("row"),
                    ctx.gettext("field"),
                    ctx.gettext("value"),
                    ctx.gettext("expected"),
                ),
                rows=examples,
                caption=ctx.gettext("The first quarantined rows (rows counted from 0)"),
                numeric=(False, True, False, False, False),
            )
        )
    read = sum(r.rows_read for r in records)
    quarantined = sum(r.quarantined for r in records)
    summary = [
        ctx.gettext(
            "{read} rows read, {accepted} accepted and {quarantined} quarantined; every "
            "figure of this report is computed from the accepted rows only."
        ).format(
            read=ctx.fmt.integer(read),
            accepted=ctx.fmt.integer(read - quarantined),
            quarantined=ctx.fmt.integer(quarantined),
        )
    ]
    basis = Basis(
        label=ctx.gettext("Data quality"),
        n=read,
        n_missing=quarantined,
        method=ctx.gettext("validation rules applied to every row; quarantined rows left out"),
        reference=_QUALITY_REFERENCE,
    )
    return SectionContent(basis=[basis], summary=summary, tables=tables)


def _section(
    key: str, title: str, build: Callable[[ReportContext], SectionContent], order: int, *needs: Any
) -> ReportSection:
    return ReportSection(key=key, title=title, build=build, order=order, needs=needs)


#: The built-in sections, in page order.
BUILTIN_SECTIONS: tuple[ReportSection, ...] = (
    _section("nps", N_("Net Promoter Score"), build_nps, 100, "survey"),
    _section("csat", N_("Customer satisfaction (CSAT)"), build_csat, 110, "survey"),
    _section("loyalty_curve", N_("Satisfaction and loyalty"), build_loyalty_curve, 120, "survey"),
    _section("servqual", N_("Service quality gaps (SERVQUAL)"), build_servqual, 130, "survey"),
    _section("cohorts", N_("Cohort retention"), build_cohorts, 200, "events"),
    _section("survival", N_("Customer survival"), build_survival, 210, "events"),
    _section("dau_mau", N_("Active customers (DAU/MAU)"), build_dau_mau, 220, "events"),
    _section("rfm", N_("RFM segments"), build_rfm, 230, "events"),
    _section("tiers", N_("Value tiers and concentration"), build_tiers, 240, "events"),
    _section("clv", N_("Predicted customer lifetime value"), build_clv, 300, "events"),
    _section("alerts", N_("Churn-risk alerts"), build_alerts, 310, "events"),
    _section(
        "programme", N_("Loyalty programme: members and points"), build_programme, 400, "events"
    ),
    _section("programme_tiers", N_("Programme tiers"), build_programme_tiers, 410, "events"),
    _section("complaints", N_("Complaints and their handling"), build_complaints, 420, "events"),
    _section(
        "complaint_recovery",
        N_("Service recovery after complaints"),
        build_complaint_recovery,
        430,
        "events",
    ),
    _section("lifecycle", N_("Life-cycle stages"), build_lifecycle, 440, "events"),
    _section("programme_effect", N_("Programme effect"), build_programme_effect, 450, "events"),
    _section(
        "stickiness_profile", N_("Stickiness profile"), build_stickiness_profile, 460, "events"
    ),
    _section("quality", N_("Data quality"), build_quality, 900),
)


@hookimpl
def register_report_sections(register: Callable[[ReportSection], None]) -> None:
    """Register the built-in report sections (the same hook a plugin implements)."""
    for section in BUILTIN_SECTIONS:
        register(section)
