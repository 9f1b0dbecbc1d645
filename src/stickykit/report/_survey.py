"""Built-in survey sections: NPS, CSAT, the satisfaction-loyalty curve, SERVQUAL gaps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from stickykit.report._common import (
    N_,
    ci_text,
    group_rows,
    key_figure,
    small_flag,
    trend_arrays,
)
from stickykit.report._content import Basis, SectionContent, SkipSection, Table

if TYPE_CHECKING:
    from stickykit.frames import SurveyFrame
    from stickykit.metrics._result import MetricResult
    from stickykit.report._context import ReportContext

__all__ = ["build_csat", "build_loyalty_curve", "build_nps", "build_servqual", "item_scale"]

_TRADEMARK = N_(
    "Net Promoter, Net Promoter Score and NPS are registered trademarks of Bain & Company, "
    "Satmetrix Systems and Fred Reichheld."
)
#: The SERVQUAL dimensions, marked for translation.
SERVQUAL_DIMENSIONS = (
    N_("tangibles"),
    N_("reliability"),
    N_("responsiveness"),
    N_("assurance"),
    N_("empathy"),
)
#: Answer scales recognised from the answers, narrowest first: (low, high, top-2 box low).
_SCALES = ((1, 5, 4), (1, 7, 6), (0, 10, 9))


def _survey(ctx: ReportContext) -> SurveyFrame:
    if ctx.survey is None:  # pragma: no cover - the section's needs keep it out
        raise SkipSection(ctx.gettext("no survey data"))
    return ctx.survey


def item_scale(frame: SurveyFrame, item: str) -> tuple[int, int, int] | None:
    """The answer scale of an item, read from its answers: (low, high, top-2 box start).

    The narrowest of 1-5, 1-7 and 0-10 holding every answer (``None`` when the item has no
    answer or answers outside 0-10); the report says so, and
    ``options={"csat": {"scale": (1, 5)}}`` overrides it.

    Examples
    --------
    >>> import numpy as np
    >>> from stickykit.frames import SurveyFrame
    >>> item_scale(SurveyFrame(answers={"s": np.array([1, 5, 3], np.int8)}), "s")
    (1, 5, 4)
    >>> item_scale(SurveyFrame(answers={"s": np.array([0, 9], np.int8)}), "s")
    (0, 10, 9)
    """
    answers = frame.answers[item]
    missing = frame.answer_missing.get(item)
    given = answers if missing is None else answers[~missing]
    if len(given) == 0:
        return None
    low, high = int(given.min()), int(given.max())
    for lo, hi, box in _SCALES:
        if lo <= low and high <= hi:
            return lo, hi, box
    return None


def _scale(ctx: ReportContext, frame: SurveyFrame, item: str) -> tuple[int, int, int]:
    found = item_scale(frame, item)
    if found is None:
        raise SkipSection(
            ctx.gettext("item {item} has no answers on a 1-5, 1-7 or 0-10 scale").format(
                item=repr(item)
            )
        )
    return found


def _scale_option(ctx: ReportContext, section: str, frame: SurveyFrame, item: str) -> Any:
    given = ctx.option(section, "scale", None)
    if given is None:
        return _scale(ctx, frame, item), True
    lo, hi = (int(v) for v in given)
    return (lo, hi, hi - 1 if hi - lo >= 4 else hi), False


def _trend_frame(ctx: ReportContext) -> tuple[SurveyFrame, str | None, str]:
    """The survey with the labels a trend is read by: its waves, else the month answered."""
    survey = _survey(ctx)
    if survey.wave is not None:
        return survey, "wave", ctx.gettext("Wave")
    if survey.answered_at is not None:
        cached = ctx.cache.get("survey_by_month")
        if cached is None:
            stamp = survey.answered_at
            unknown = np.isnat(stamp)
            months = np.datetime_as_string(stamp.astype("datetime64[M]"), unit="M")
            months[unknown] = ""
            cached = attrs.evolve(
                survey,
                wave=np.asarray(months, dtype=np.str_),
                label_missing={**survey.label_missing, "wave": unknown},
            )
            ctx.cache["survey_by_month"] = cached
        return cached, "wave", ctx.gettext("Month answered")
    return survey, None, ""


def _trend_chart(
    ctx: ReportContext, result: MetricResult, *, scale: float, ylabel: str, xlabel: str, alt: str
) -> Any:
    labels, values, low, high, n = trend_arrays(result)
    if len(labels) < 2:
        return None
    from stickykit.report.figures import plot_trend  # noqa: PLC0415

    small = n < ctx.min_n
    legend = (ctx.gettext("estimate"), ctx.gettext("small group"))
    return ctx.chart(
        lambda ax: plot_trend(
            ax,
            [str(v) for v in labels],
            values * scale,
            low * scale,
            high * scale,
            small=small,
            xlabel=xlabel,
            ylabel=ylabel,
            legend=legend,
        ),
        alt=alt,
        caption=ctx.gettext(
            "Shaded: the confidence interval of each group. Open markers: groups smaller "
            "than {min_n}."
        ).format(min_n=ctx.fmt.integer(ctx.min_n)),
    )


def build_nps(ctx: ReportContext) -> SectionContent:
    """The Net Promoter Score with its interval, its trend by wave or month, and by segment."""
    survey = _survey(ctx)
    item = ctx.option("nps", "item", "nps")
    if item not in survey.items:
        raise SkipSection(
            ctx.gettext("the survey has no likelihood-to-recommend item {item}").format(
                item=repr(item)
            )
        )
    frame, by, heading = _trend_frame(ctx)
    result = ctx.compute(ctx.registry.get("nps", item=item, by=by), on="survey", frame=frame)

    def points(value: float | None) -> str:
        return ctx.fmt.number(value, 1)

    label = ctx.gettext("Net Promoter Score")
    d = result.details
    summary = [
        ctx.gettext(
            "The Net Promoter Score is {value} points ({ci}), from {n} answers; {missing} "
            "respondents did not answer."
        ).format(
            value=points(result.value),
            ci=ci_text(ctx, result, points),
            n=ctx.fmt.integer(result.n),
            missing=ctx.fmt.integer(result.n_missing),
        ),
        ctx.gettext(
            "Promoters (9-10): {promoters}; passives (7-8): {passives}; detractors (0-6): "
            "{detractors}."
        ).format(
            promoters=ctx.fmt.percent(d.get("promoters", np.nan) / 100),
            passives=ctx.fmt.percent(d.get("passives", np.nan) / 100),
            detractors=ctx.fmt.percent(d.get("detractors", np.nan) / 100),
        ),
    ]
    charts = []
    tables = []
    if by is not None:
        chart = _trend_chart(
            ctx,
            result,
            scale=1.0,
            ylabel=ctx.gettext("NPS (points)"),
            xlabel=heading,
            alt=ctx.gettext("Net Promoter Score by {group}, with confidence intervals").format(
                group=heading
            ),
        )
        if chart is not None:
            charts.append(chart)
        tables.append(
            group_rows(ctx, result, points, heading=heading, value_heading=ctx.gettext("NPS"))
        )
    basis = [Basis.from_result(result, label=label)]
    if survey.segment is not None:
        by_segment = ctx.compute(ctx.registry.get("nps", item=item, by="segment"), on="survey")
        tables.append(
            group_rows(
                ctx,
                by_segment,
                points,
                heading=ctx.gettext("Segment"),
                value_heading=ctx.gettext("NPS"),
                caption=ctx.gettext("Net Promoter Score by segment"),
            )
        )
    return SectionContent(
        basis=basis,
        summary=summary,
        charts=charts,
        tables=tables,
        key_figures=[key_figure(ctx, label, result, points)],
        notes=[ctx.gettext(_TRADEMARK)],
    )


def build_csat(ctx: ReportContext) -> SectionContent:
    """CSAT, the top-2-box share of a satisfaction item, with its trend."""
    survey = _survey(ctx)
    item = ctx.option("csat", "item", None)
    if item is None:
        item = next((name for name in ("csat", "satisfaction") if name in survey.items), None)
    if item is None or item not in survey.items:
        raise SkipSection(ctx.gettext("the survey has no satisfaction item (csat or satisfaction)"))
    (lo, hi, box), inferred = _scale_option(ctx, "csat", survey, item)
    frame, by, heading = _trend_frame(ctx)
    metric = ctx.registry.get("csat", item=item, scale=(lo, hi), box=(box, hi), by=by)
    result = ctx.compute(metric, on="survey", frame=frame)

    def share(value: float | None) -> str:
        return ctx.fmt.percent(value)

    label = ctx.gettext("Customer satisfaction (CSAT)")
    summary = [
        ctx.gettext(
            "{share} of {n} respondents answered {box_low}-{high} to {item} on the {low}-{high} "
            "scale ({ci}); {missing} did not answer."
        ).format(
            share=share(result.value),
            n=ctx.fmt.integer(result.n),
            box_low=box,
            low=lo,
            high=hi,
            item=repr(item),
            ci=ci_text(ctx, result, share),
            missing=ctx.fmt.integer(result.n_missing),
        )
    ]
    notes = []
    if inferred:
        notes.append(
            ctx.gettext(
                "The answer scale ({low}-{high}) is read from the answers; CSAT is the share in "
                "the top two boxes."
            ).format(low=lo, high=hi)
        )
    charts, tables = [], []
    if by is not None:
        chart = _trend_chart(
            ctx,
            result,
            scale=100.0,
            ylabel=ctx.gettext("CSAT (share satisfied, %)"),
            xlabel=heading,
            alt=ctx.gettext("CSAT by {group}, with confidence intervals").format(group=heading),
        )
        if chart is not None:
            charts.append(chart)
        tables.append(group_rows(ctx, result, share, heading=heading, value_heading="CSAT"))
    return SectionContent(
        basis=[Basis.from_result(result, label=label)],
        summary=summary,
        charts=charts,
        tables=tables,
        key_figures=[key_figure(ctx, label, result, share)],
        notes=notes,
    )


def build_loyalty_curve(ctx: ReportContext) -> SectionContent:
    """The loyalty rate per satisfaction level, its fitted zones and the top-box ratio."""
    from stickykit.metrics.survey.loyalty_curve import level_table  # noqa: PLC0415

    survey = _survey(ctx)
    satisfaction = ctx.option("loyalty_curve", "satisfaction", None) or next(
        (name for name in ("satisfaction", "csat") if name in survey.items), None
    )
    loyalty = ctx.option("loyalty_curve", "loyalty", None) or next(
        (name for name in ("intention", "nps") if name in survey.items), None
    )
    if satisfaction is None or loyalty is None or satisfaction == loyalty:
        raise SkipSection(
            ctx.gettext(
                "the survey needs a satisfaction item and a loyalty item (intention or nps)"
            )
        )
    for name in (satisfaction, loyalty):
        if name not in survey.items:
            raise SkipSection(ctx.gettext("the survey has no item {item}").format(item=repr(name)))
    s_lo, s_hi, _ = _scale(ctx, survey, satisfaction)
    l_lo, l_hi, loyal_min = _scale(ctx, survey, loyalty)
    metric = ctx.registry.get(
        "loyalty_curve",
        satisfaction=satisfaction,
        loyalty=loyalty,
        satisfaction_scale=(s_lo, s_hi),
        loyalty_scale=(l_lo, l_hi),
        loyal_min=loyal_min,
    )
    result = ctx.compute(metric, on="survey")
    table = level_table(result)
    if len(table["level"]) < 3:
        raise SkipSection(ctx.gettext("fewer than three satisfaction levels were answered"))
    zone_names = (
        ctx.gettext("defection"),
        ctx.gettext("indifference"),
        ctx.gettext("affection"),
    )
    level = np.array(table["level"])
    rate = np.array(table["rate"])
    zone = np.array(table.get("zone", [np.nan] * len(level)))
    fit = np.array(table.get("fit", table["isotonic"]))
    from stickykit.report.figures import plot_loyalty_curve  # noqa: PLC0415

    ylabel = ctx.gettext("share loyal ({item} {low}-{high})").format(
        item=loyalty, low=loyal_min, high=l_hi
    )
    chart = ctx.chart(
        lambda ax: plot_loyalty_curve(
            ax,
            level,
            rate,
            np.array(table["rate_low"]),
            np.array(table["rate_high"]),
            fit,
            zone,
            zone_names=zone_names,
            xlabel=ctx.gettext("satisfaction ({item})").format(item=satisfaction),
            ylabel=ylabel,
            fit_label=ctx.gettext("three-segment fit"),
        ),
        alt=ctx.gettext(
            "Share of loyal respondents at each satisfaction level, with intervals, the fitted "
            "line and the zones"
        ),
    )
    d = result.details
    rows = []
    flagged = []
    for i, lv in enumerate(level):
        n = int(table["n"][i])
        flag = small_flag(ctx, n)
        k = zone[i]
        rows.append(
            (
                ctx.fmt.integer(lv),
                ctx.fmt.integer(n),
                ctx.fmt.percent(rate[i]),
                ctx.fmt.percent_interval(table["rate_low"][i], table["rate_high"][i]),
                zone_names[int(k)] if np.isfinite(k) else "",
                flag,
            )
        )
        flagged.append(bool(flag))
    level_rows = Table(
        columns=(
            ctx.gettext("satisfaction"),
            ctx.gettext("n"),
            ctx.gettext("share loyal"),
            ctx.gettext("{level} CI").format(level=ctx.fmt.percent(result.level or 0.95, 0)),
            ctx.gettext("zone"),
            ctx.gettext("note"),
        ),
        rows=rows,
        flagged=flagged,
        numeric=(True, True, True, True, False, False),
    )

    def ratio(value: float | None) -> str:
        return ctx.fmt.number(value, 2)

    summary = [
        ctx.gettext(
            "Loyal means answering {low}-{high} to {loyalty}. The fitted line has knots at "
            "satisfaction {k1} and {k2}; respondents at the top level are {rr} times as often "
            "loyal as those one level below ({ci})."
        ).format(
            low=loyal_min,
            high=l_hi,
            loyalty=repr(loyalty),
            k1=ctx.fmt.number(d.get("breakpoint_1"), 0),
            k2=ctx.fmt.number(d.get("breakpoint_2"), 0),
            rr=ratio(result.value),
            ci=ci_text(ctx, result, ratio),
        ),
        ctx.gettext(
            "The zones are estimated from these data (the three segments of the fitted line), "
            "not copied from another firm's figure."
        ),
    ]
    return SectionContent(
        basis=[Basis.from_result(result, label=ctx.gettext("Satisfaction-loyalty curve"))],
        summary=summary,
        charts=[chart],
        tables=[level_rows],
    )


def build_servqual(ctx: ReportContext) -> SectionContent:
    """SERVQUAL gaps (perception minus expectation) by dimension, where the survey has them."""
    survey = _survey(ctx)
    name = ctx.option("servqual", "instrument", "servqual-1988")
    instrument = ctx.registry.instrument(name)
    needed = [it.id for it in instrument.items if it.battery in ("expectation", "perception")]
    absent = [item for item in needed if item not in survey.items]
    if not needed or absent:
        raise SkipSection(
            ctx.gettext(
                "the survey has no SERVQUAL items (expectation and perception items of {name})"
            ).format(name=name)
        )
    result = ctx.compute(ctx.registry.get("servqual", instrument=name), on="survey")
    d = result.details
    dims = [dim for dim in instrument.dimensions if dim in d]
    gap = np.array([d[dim] for dim in dims])
    low = np.array([d.get(f"{dim}_ci_low", np.nan) for dim in dims])
    high = np.array([d.get(f"{dim}_ci_high", np.nan) for dim in dims])
    names = [ctx.gettext(dim) for dim in dims]
    from stickykit.report.figures import plot_bars  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_bars(
            ax,
            names,
            gap,
            low,
            high,
            xlabel=ctx.gettext("gap: perception minus expectation (scale points)"),
            zero_line=True,
        ),
        alt=ctx.gettext("SERVQUAL gap by dimension, with confidence intervals"),
    )

    def points(value: float | None) -> str:
        return ctx.fmt.number(value, 2)

    rows = []
    flagged = []
    for dim, shown in zip(dims, names, strict=True):
        n = int(d.get(f"{dim}_n", result.n))
        flag = small_flag(ctx, n)
        rows.append(
            (
                shown,
                points(d.get(f"{dim}_perception")),
                points(d.get(f"{dim}_expectation")),
                points(d[dim]),
                ctx.fmt.interval(d.get(f"{dim}_ci_low"), d.get(f"{dim}_ci_high"), 2),
                ctx.fmt.integer(n),
                ctx.fmt.integer(d.get(f"{dim}_n_missing", 0)),
                flag,
            )
        )
        flagged.append(bool(flag))
    table = Table(
        columns=(
            ctx.gettext("dimension"),
            ctx.gettext("perception"),
            ctx.gettext("expectation"),
            ctx.gettext("gap"),
            ctx.gettext("{level} CI").format(level=ctx.fmt.percent(result.level or 0.95, 0)),
            ctx.gettext("n"),
            ctx.gettext("missing"),
            ctx.gettext("note"),
        ),
        rows=rows,
        flagged=flagged,
        numeric=(False, True, True, True, True, True, True, False),
    )
    label = ctx.gettext("SERVQUAL gap")
    summary = [
        ctx.gettext(
            "The overall service-quality gap is {value} scale points ({ci}); a negative gap "
            "means perceptions fall short of expectations."
        ).format(value=points(result.value), ci=ci_text(ctx, result, points))
    ]
    worst = dims[int(np.nanargmin(gap))] if dims else None
    if worst is not None:
        summary.append(
            ctx.gettext("The largest shortfall is in {dimension}.").format(
                dimension=ctx.gettext(worst)
            )
        )
    return SectionContent(
        basis=[Basis.from_result(result, label=label)],
        summary=summary,
        charts=[chart],
        tables=[table],
        key_figures=[key_figure(ctx, label, result, points)],
    )
