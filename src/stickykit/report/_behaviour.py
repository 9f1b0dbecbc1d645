"""Built-in event sections: cohort retention, survival, DAU/MAU, RFM segments, value tiers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from stickykit.report._common import N_, ci_text, key_figure
from stickykit.report._content import Basis, SectionContent, SkipSection, Table

if TYPE_CHECKING:
    from stickykit.frames import EventFrame
    from stickykit.report._context import ReportContext

__all__ = [
    "bootstrap_replicates",
    "build_cohorts",
    "build_dau_mau",
    "build_rfm",
    "build_survival",
    "build_tiers",
]

#: The default RFM segment names, marked for translation.
RFM_SEGMENTS = (
    N_("champions"),
    N_("loyal"),
    N_("potential loyalists"),
    N_("new"),
    N_("promising"),
    N_("need attention"),
    N_("about to sleep"),
    N_("at risk"),
    N_("can't lose"),
    N_("hibernating"),
)
#: At most this many cohorts and offsets in the heatmap (the latest cohorts are kept).
MAX_COHORTS = 36


def _events(ctx: ReportContext) -> EventFrame:
    if ctx.events is None:  # pragma: no cover - the section's needs keep it out
        raise SkipSection(ctx.gettext("no event data"))
    return ctx.events


def _currency(events: EventFrame) -> str | None:
    """The one currency of the events, if they carry exactly one."""
    if events.currency is None or len(events.currency) == 0:
        return None
    missing = events.label_missing.get("currency")
    codes = events.currency if missing is None else events.currency[~missing]
    unique = np.unique(codes)
    return str(unique[0]) if len(unique) == 1 else None


def _needs_amounts(ctx: ReportContext, events: EventFrame) -> None:
    if events.amount is None:
        raise SkipSection(ctx.gettext("the events carry no amounts"))


def build_cohorts(ctx: ReportContext) -> SectionContent:
    """The monthly acquisition-cohort retention matrix as a heatmap, and the pooled curve."""
    _events(ctx)
    period = ctx.option("cohorts", "period", "month")
    result = ctx.compute(ctx.registry.get("cohort_retention", period=period), on="events")
    t = result.tables
    size = np.asarray(t["size"])
    keep = np.flatnonzero(size > 0)[-MAX_COHORTS:]
    if len(keep) == 0:
        raise SkipSection(ctx.gettext("no customer was acquired in the data"))
    rate = np.asarray(t["rate"], dtype=np.float64)[keep][:, : MAX_COHORTS + 1]
    hidden = (~np.asarray(t["observable"]) | np.asarray(t["partial"]))[keep][:, : rate.shape[1]]
    starts = np.asarray(t["cohort_start"])[keep]
    rows = [ctx.fmt.month(day) if period == "month" else ctx.fmt.date(day) for day in starts]
    cols = [str(k) for k in range(rate.shape[1])]
    from stickykit.report.figures import plot_heatmap  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_heatmap(
            ax,
            rate,
            hidden,
            rows,
            cols,
            xlabel=ctx.gettext("periods since acquisition"),
            ylabel=ctx.gettext("acquisition cohort"),
            colorbar_label=ctx.gettext("share active"),
        ),
        alt=ctx.gettext("Cohort retention heatmap: share of each cohort active in later periods"),
        caption=ctx.gettext(
            "Blank cells are not yet observable, or belong to the period still running."
        ),
        size=(6.4, 4.2),
    )
    pooled_size = np.asarray(t["pooled_size"])
    rows_out = []
    for k in range(1, min(len(pooled_size), 13)):
        if pooled_size[k] == 0:
            continue
        rows_out.append(
            (
                str(k),
                ctx.fmt.integer(pooled_size[k]),
                ctx.fmt.integer(t["pooled_count"][k]),
                ctx.fmt.percent(t["pooled_rate"][k]),
                ctx.fmt.percent_interval(t["pooled_low"][k], t["pooled_high"][k]),
            )
        )
    level = ctx.fmt.percent(result.level or 0.95, 0)
    table = Table(
        columns=(
            ctx.gettext("period"),
            ctx.gettext("customers observable"),
            ctx.gettext("active"),
            ctx.gettext("share active"),
            ctx.gettext("{level} CI").format(level=level),
        ),
        rows=rows_out,
        caption=ctx.gettext("All cohorts pooled, weighted by size"),
    )
    label = ctx.gettext("Retention one period after acquisition")

    def share(value: float | None) -> str:
        return ctx.fmt.percent(value)

    summary = [
        ctx.gettext(
            "{customers} customers in {cohorts} cohorts; {share} of them were active again "
            "one period after the period they were acquired in ({ci})."
        ).format(
            customers=ctx.fmt.integer(result.n),
            cohorts=ctx.fmt.integer(len(keep)),
            share=share(result.value),
            ci=ci_text(ctx, result, share),
        )
    ]
    return SectionContent(
        basis=[Basis.from_result(result, label=label)],
        summary=summary,
        charts=[chart],
        tables=[table],
        key_figures=[key_figure(ctx, label, result, share)],
    )


def build_survival(ctx: ReportContext) -> SectionContent:
    """The Kaplan-Meier curve of customer lifetimes with its Greenwood band."""
    _events(ctx)
    days = float(ctx.option("survival", "churn_after_days", 365.0))
    result = ctx.compute(ctx.registry.get("customer_survival", churn_after_days=days), on="events")
    t = result.tables
    if len(t["times"]) == 0:
        raise SkipSection(ctx.gettext("no customer lifetime could be measured"))
    from stickykit.report.figures import plot_step  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_step(
            ax,
            t["times"],
            t["survival"],
            t["ci_low"],
            t["ci_high"],
            xlabel=ctx.gettext("days since the first purchase"),
            ylabel=ctx.gettext("share of customers not yet lost"),
        ),
        alt=ctx.gettext("Kaplan-Meier survival curve of customers, with its confidence band"),
    )
    d = result.details
    rows = []
    for h in (30, 90, 180, 365):
        value = d.get(f"survival_at_{h}")
        if value is None:
            continue
        rows.append(
            (
                ctx.fmt.integer(h),
                ctx.fmt.percent(value),
                ctx.fmt.percent_interval(
                    d.get(f"survival_at_{h}_low"), d.get(f"survival_at_{h}_high")
                ),
            )
        )
    level = ctx.fmt.percent(result.level or 0.95, 0)
    table = Table(
        columns=(
            ctx.gettext("days"),
            ctx.gettext("share not yet lost"),
            ctx.gettext("{level} CI").format(level=level),
        ),
        rows=rows,
    )
    median = result.value
    median_text = (
        ctx.gettext("beyond the longest follow-up")
        if math.isinf(median)
        else ctx.gettext("{days} days").format(days=ctx.fmt.number(median, 0))
    )
    summary = [
        ctx.gettext(
            "A customer counts as lost after {days} days without a purchase. Of {n} "
            "customers, {churned} are lost and {censored} still observed; the median "
            "lifetime is {median}."
        ).format(
            days=ctx.fmt.integer(d.get("threshold_days", days)),
            n=ctx.fmt.integer(result.n),
            churned=ctx.fmt.integer(d.get("churned", 0)),
            censored=ctx.fmt.integer(d.get("censored", 0)),
            median=median_text,
        ),
        ctx.gettext(
            "One-time buyers who never came back have a lifetime of 0 days: {zero} customers."
        ).format(zero=ctx.fmt.integer(d.get("zero_lifetime", 0))),
    ]
    return SectionContent(
        basis=[Basis.from_result(result, label=ctx.gettext("Customer survival"))],
        summary=summary,
        charts=[chart],
        tables=[table],
    )


def build_dau_mau(ctx: ReportContext) -> SectionContent:
    """Calendar-month DAU/MAU: how many of a month's customers are active on a given day."""
    _events(ctx)
    result = ctx.compute(ctx.registry.get("dau_mau_monthly"), on="events")
    t = result.tables
    observable = np.asarray(t["observable"], dtype=bool)
    if not observable.any():
        raise SkipSection(ctx.gettext("no complete calendar month in the data"))
    months = np.asarray(t["month"])[observable]
    ratio = np.asarray(t["ratio"], dtype=np.float64)[observable]
    labels = [ctx.fmt.month(m) for m in months]
    from stickykit.report.figures import plot_trend  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_trend(
            ax,
            labels,
            ratio * 100,
            xlabel=ctx.gettext("month"),
            ylabel=ctx.gettext("DAU/MAU (%)"),
            ymin=0.0,
        ),
        alt=ctx.gettext("DAU/MAU by calendar month"),
    )
    mean_dau = np.asarray(t["mean_dau"], dtype=np.float64)[observable]
    mau = np.asarray(t["mau"], dtype=np.float64)[observable]
    rows = [
        (
            labels[i],
            ctx.fmt.number(mean_dau[i], 1),
            ctx.fmt.integer(mau[i]),
            ctx.fmt.percent(ratio[i]),
        )
        for i in range(max(0, len(labels) - 12), len(labels))
    ]
    table = Table(
        columns=(
            ctx.gettext("month"),
            ctx.gettext("mean daily active"),
            ctx.gettext("monthly active"),
            "DAU/MAU",
        ),
        rows=rows,
        caption=ctx.gettext("The last 12 complete months"),
    )
    label = ctx.gettext("DAU/MAU (latest complete month)")

    def share(value: float | None) -> str:
        return ctx.fmt.percent(value)

    summary = [
        ctx.gettext(
            "In {month}, on an average day {share} of the month's active customers were "
            "active ({ci})."
        ).format(month=labels[-1], share=share(result.value), ci=ci_text(ctx, result, share))
    ]
    return SectionContent(
        basis=[Basis.from_result(result, label=label)],
        summary=summary,
        charts=[chart],
        tables=[table],
        key_figures=[key_figure(ctx, label, result, share)],
    )


def _segment_name(ctx: ReportContext, name: str) -> str:
    return ctx.gettext(name) if name in RFM_SEGMENTS else name


def build_rfm(ctx: ReportContext) -> SectionContent:
    """RFM segments: customers and revenue per segment."""
    events = _events(ctx)
    _needs_amounts(ctx, events)
    segments = ctx.option("rfm", "segments", None)
    result = ctx.compute(ctx.registry.get("rfm", segments=segments), on="events")
    t = result.tables
    names, inverse = np.unique(np.asarray(t["segment"]), return_inverse=True)
    inverse = inverse.reshape(-1)
    customers = np.bincount(inverse, minlength=len(names))
    revenue = np.bincount(inverse, weights=np.asarray(t["monetary"]), minlength=len(names))
    if customers.sum() == 0:
        raise SkipSection(ctx.gettext("no customer could be scored"))
    order = np.lexsort((names, -customers))
    total_customers, total_revenue = customers.sum(), revenue.sum()
    currency = _currency(events)
    shown = [_segment_name(ctx, str(names[i])) for i in order]
    from stickykit.report.figures import plot_bars  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_bars(
            ax, shown, customers[order] / total_customers * 100, xlabel=ctx.gettext("customers (%)")
        ),
        alt=ctx.gettext("Customers per RFM segment"),
        size=(6.4, max(2.4, 0.32 * len(shown) + 0.8)),
    )
    rows = [
        (
            shown[j],
            ctx.fmt.integer(customers[i]),
            ctx.fmt.percent(customers[i] / total_customers),
            ctx.fmt.money(revenue[i], currency, whole=True),
            ctx.fmt.percent(revenue[i] / total_revenue if total_revenue else math.nan),
            ctx.fmt.money(revenue[i] / customers[i] if customers[i] else math.nan, currency),
        )
        for j, i in enumerate(order)
    ]
    table = Table(
        columns=(
            ctx.gettext("segment"),
            ctx.gettext("customers"),
            ctx.gettext("share of customers"),
            ctx.gettext("revenue"),
            ctx.gettext("share of revenue"),
            ctx.gettext("revenue per customer"),
        ),
        rows=rows,
    )
    top = order[0]
    summary = [
        ctx.gettext(
            "{n} customers scored on recency, frequency and monetary value (quintiles, 5 best). "
            "The largest segment is {segment} ({share} of customers, {revenue} of revenue)."
        ).format(
            n=ctx.fmt.integer(result.n),
            segment=shown[0],
            share=ctx.fmt.percent(customers[top] / total_customers),
            revenue=ctx.fmt.percent(revenue[top] / total_revenue if total_revenue else math.nan),
        )
    ]
    return SectionContent(
        basis=[Basis.from_result(result, label=ctx.gettext("RFM segments"))],
        summary=summary,
        charts=[chart],
        tables=[table],
    )


def bootstrap_replicates(customers: int) -> int:
    """Replicates of the Gini bootstrap: 200, fewer beyond 250,000 customers, never below 100.

    The cost is replicates x customers; 5 x 10^7 keeps it to seconds, and with that many
    customers the interval is narrow enough that 100 replicates place its ends well.

    Examples
    --------
    >>> bootstrap_replicates(23_570), bootstrap_replicates(500_000), bootstrap_replicates(10**7)
    (200, 100, 100)
    """
    return int(min(200, max(100, 50_000_000 // max(customers, 1))))


def build_tiers(ctx: ReportContext) -> SectionContent:
    """Revenue concentration: Lorenz curve, Gini with its interval, ABC classes, top shares."""
    events = _events(ctx)
    _needs_amounts(ctx, events)
    n_boot = int(ctx.option("tiers", "n_boot", bootstrap_replicates(ctx.n_customers())))
    result = ctx.compute(ctx.registry.get("value_tiers", n_boot=n_boot), on="events")
    t = result.tables
    d = result.details
    if result.n == 0 or not d.get("total_revenue"):
        raise SkipSection(ctx.gettext("no revenue in the data"))
    from stickykit.report.figures import plot_lorenz  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_lorenz(
            ax,
            t["lorenz_customers"],
            t["lorenz_revenue"],
            xlabel=ctx.gettext("share of customers (smallest first)"),
            ylabel=ctx.gettext("share of revenue"),
            legend=(ctx.gettext("Lorenz curve"), ctx.gettext("equal revenue")),
        ),
        alt=ctx.gettext("Lorenz curve of revenue across customers"),
        size=(4.8, 3.6),
    )
    shares = [float(v) for v in result.params.get("abc_shares", (0.8, 0.15, 0.05))]
    classes = Table(
        columns=(
            ctx.gettext("class"),
            ctx.gettext("customers"),
            ctx.gettext("share of customers"),
            ctx.gettext("share of revenue"),
        ),
        rows=[
            (
                name,
                ctx.fmt.integer(d.get(f"{name}_customers", 0)),
                ctx.fmt.percent(d.get(f"{name}_customers", 0) / max(result.n, 1)),
                ctx.fmt.percent(d.get(f"{name}_revenue_share")),
            )
            for name in ("A", "B", "C")
        ],
        caption=ctx.gettext(
            "ABC classes: A brings the first {a} of revenue, B the next {b}"
        ).format(a=ctx.fmt.percent(shares[0], 0), b=ctx.fmt.percent(shares[1], 0)),
    )
    tops = [(k, d[k]) for k in d if k.startswith("top_share:")]
    top_table = Table(
        columns=(ctx.gettext("top customers"), ctx.gettext("share of revenue")),
        rows=[(ctx.fmt.percent(float(k.split(":")[1]), 0), ctx.fmt.percent(v)) for k, v in tops],
    )
    label = ctx.gettext("Gini coefficient of revenue")

    def ratio(value: float | None) -> str:
        return ctx.fmt.number(value, 3)

    top20 = d.get("top_share:0.2")
    summary = [
        ctx.gettext(
            "The Gini coefficient of revenue across {n} customers is {gini} ({ci}); 0 means "
            "every customer brings the same revenue, 1 that one customer brings all of it."
        ).format(
            n=ctx.fmt.integer(result.n), gini=ratio(result.value), ci=ci_text(ctx, result, ratio)
        )
    ]
    if top20 is not None:
        summary.append(
            ctx.gettext("The top {top} of customers bring {share} of revenue.").format(
                top=ctx.fmt.percent(0.2, 0), share=ctx.fmt.percent(top20)
            )
        )
    return SectionContent(
        basis=[Basis.from_result(result, label=label)],
        summary=summary,
        charts=[chart],
        tables=[classes, top_table],
        key_figures=[key_figure(ctx, label, result, ratio)],
    )
