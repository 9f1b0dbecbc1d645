"""Helpers shared by the built-in sections: intervals in words, group tables, small groups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from stickykit.report._content import Basis, KeyFigure, Table

if TYPE_CHECKING:
    from stickykit.metrics._result import MetricResult
    from stickykit.report._context import ReportContext

__all__ = [
    "MISSING_GROUP",
    "N_",
    "ValueFormat",
    "ci_text",
    "group_label",
    "group_rows",
    "key_figure",
    "small_flag",
    "trend_arrays",
]


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (gettext's ``N_``)."""
    return message


#: The label metrics give the group of rows without a group label.
MISSING_GROUP = "(missing)"
#: Formats one value of a result (a number, or a share as a percentage).
ValueFormat = Callable[[float | None], str]


def ci_text(ctx: ReportContext, result: MetricResult, fmt: ValueFormat) -> str:
    """``"95% CI 52.3 to 54.5"`` in the report's language, or ``""`` without an interval."""
    if result.ci_low is None or result.ci_high is None or result.level is None:
        return ""
    template = ctx.gettext("{level} CI {low} to {high}")
    return template.format(
        level=ctx.fmt.percent(result.level, 0), low=fmt(result.ci_low), high=fmt(result.ci_high)
    )


def small_flag(ctx: ReportContext, n: int) -> str:
    """The small-group warning for a group of ``n`` observations (``""`` when not small)."""
    if n >= ctx.min_n:
        return ""
    return ctx.gettext("small group: n = {n} < {min_n}").format(
        n=ctx.fmt.integer(n), min_n=ctx.fmt.integer(ctx.min_n)
    )


def key_figure(ctx: ReportContext, label: str, result: MetricResult, fmt: ValueFormat) -> KeyFigure:
    """A headline figure from a result: its value, interval and basis."""
    return KeyFigure(
        label=label,
        value=fmt(result.value),
        interval=ci_text(ctx, result, fmt),
        basis=Basis.from_result(result, label=label),
    )


def group_label(ctx: ReportContext, group: Any) -> str:
    """A group's label as shown (the missing-label group named in the report's language)."""
    if group is None or group == MISSING_GROUP:
        return ctx.gettext("(not given)")
    return str(group)


def group_rows(
    ctx: ReportContext,
    result: MetricResult,
    fmt: ValueFormat,
    *,
    heading: str,
    value_heading: str,
    caption: str = "",
) -> Table:
    """One row per group of a grouped result: value, interval, n, missing, small-group flag."""
    rows: list[Sequence[str]] = []
    flagged = []
    for g in result.groups:
        flag = small_flag(ctx, g.n)
        interval = (
            ctx.gettext("n/a")
            if g.ci_low is None or g.ci_high is None
            else ctx.gettext("{low} to {high}").format(low=fmt(g.ci_low), high=fmt(g.ci_high))
        )
        rows.append(
            (
                group_label(ctx, g.group),
                fmt(g.value),
                interval,
                ctx.fmt.integer(g.n),
                ctx.fmt.integer(g.n_missing),
                flag,
            )
        )
        flagged.append(bool(flag))
    level = ctx.fmt.percent(result.level or 0.95, 0)
    columns = (
        heading,
        value_heading,
        ctx.gettext("{level} CI").format(level=level),
        ctx.gettext("n"),
        ctx.gettext("missing"),
        ctx.gettext("note"),
    )
    return Table(
        columns=columns,
        rows=rows,
        caption=caption,
        flagged=flagged,
        numeric=(False, True, True, True, True, False),
    )


def trend_arrays(
    result: MetricResult,
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels, values, bounds and n of the labelled groups of a result (missing group left out)."""
    groups = [g for g in result.groups if g.group is not None and g.group != MISSING_GROUP]
    values = np.array([g.value for g in groups], dtype=np.float64)
    low = np.array([np.nan if g.ci_low is None else g.ci_low for g in groups], dtype=np.float64)
    high = np.array([np.nan if g.ci_high is None else g.ci_high for g in groups], dtype=np.float64)
    n = np.array([g.n for g in groups], dtype=np.int64)
    return [g.group for g in groups], values, low, high, n
