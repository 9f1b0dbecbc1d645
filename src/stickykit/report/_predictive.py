"""Built-in model sections: predicted CLV (BG/NBD + Gamma-Gamma) and the churn-risk alert list.

Both rest on the customers' repeat-purchase histories :math:`(x, t_x, T)` in weeks, computed
once from the events through the mergeable ``repeat_histories`` metric, with calibration
running to the day of ``as_of``. The models are fitted by maximum likelihood on the
histories compressed into weighted patterns; when there are more than :data:`FIT_SAMPLE`
customers, on a seeded random sample of that many (the parameter intervals then reflect the
sample). Predictions for the alert list cover every customer; the CLV distribution is read
from a seeded random sample of at most :data:`CLV_SAMPLE` customers, and the report says so.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from stickykit.report._content import Basis, Export, KeyFigure, SectionContent, SkipSection, Table

if TYPE_CHECKING:
    from stickykit.models._histories import Histories
    from stickykit.models.data import CalibrationHoldout
    from stickykit.report._context import ReportContext

__all__ = ["CLV_SAMPLE", "FIT_SAMPLE", "SHOWN_ALERTS", "build_alerts", "build_clv"]

#: Models are fitted on at most this many customers (a seeded random sample beyond).
FIT_SAMPLE: Final = 100_000
#: The CLV distribution is read from at most this many customers (a seeded random sample).
CLV_SAMPLE: Final = 25_000
#: Alerts listed in the page (all of them are in the CSV export).
SHOWN_ALERTS: Final = 25
_SEED: Final = 0


def _split(ctx: ReportContext) -> CalibrationHoldout:
    """Calibration histories of every customer, in weeks, up to the day of ``as_of``."""
    if "histories" not in ctx.cache:
        from stickykit.models.data import to_calibration_holdout  # noqa: PLC0415

        result = ctx.compute(ctx.registry.get("repeat_histories", time_unit="week"), on="events")
        computed = to_calibration_holdout(result)
        if len(computed.calibration) == 0:
            raise SkipSection(ctx.gettext("no purchase to model"))
        ctx.cache["histories"] = computed
    split: CalibrationHoldout = ctx.cache["histories"]
    return split


def _sample(n: int, size: int, salt: int) -> NDArray[np.intp]:
    """Sorted rows of a seeded random sample of ``size`` of ``n`` rows (all rows if fewer)."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng([_SEED, salt])
    return np.sort(rng.choice(n, size=size, replace=False))


def _fit_rows(ctx: ReportContext, h: Histories) -> NDArray[np.intp]:
    if "fit_rows" not in ctx.cache:
        ctx.cache["fit_rows"] = _sample(len(h), FIT_SAMPLE, 1)
    rows: NDArray[np.intp] = ctx.cache["fit_rows"]
    return rows


def _sample_note(ctx: ReportContext, used: int, total: int) -> str:
    if used >= total:
        return ctx.gettext("fitted on all {n} customers").format(n=ctx.fmt.integer(total))
    return ctx.gettext("fitted on a seeded random sample of {used} of {total} customers").format(
        used=ctx.fmt.integer(used), total=ctx.fmt.integer(total)
    )


def _money_currency(ctx: ReportContext) -> str | None:
    from stickykit.report._behaviour import _currency  # noqa: PLC0415

    return None if ctx.events is None else _currency(ctx.events)


def _summaries(models: list[Any]) -> list[Any]:
    with np.errstate(over="ignore", invalid="ignore"):  # an unbounded interval is shown as such
        return [model.summary for model in models]


def _poorly_determined(ctx: ReportContext, models: list[Any]) -> list[str]:
    """A flag when a fitted parameter's interval is unbounded (the data cannot pin it down)."""
    loose = [
        f"{s.model}.{name}"
        for s in _summaries(models)
        for name, low, high in zip(s.names, s.ci_low, s.ci_high, strict=True)
        if not (math.isfinite(low) and math.isfinite(high))
    ]
    if not loose:
        return []
    return [
        ctx.gettext("these data leave some parameters poorly determined: {names}").format(
            names=", ".join(loose)
        )
    ]


def _parameter_rows(ctx: ReportContext, models: list[Any]) -> Table:
    rows = []
    for s in _summaries(models):
        for name, est, low, high in zip(s.names, s.estimate, s.ci_low, s.ci_high, strict=True):
            rows.append(
                (
                    s.model,
                    name,
                    ctx.fmt.number(est, 3),
                    ctx.fmt.interval(low, high, 3),
                )
            )
    level = ctx.fmt.percent(_summaries(models[:1])[0].level, 0) if models else ""
    return Table(
        columns=(
            ctx.gettext("model"),
            ctx.gettext("parameter"),
            ctx.gettext("estimate"),
            ctx.gettext("{level} CI").format(level=level),
        ),
        rows=rows,
        caption=ctx.gettext("Fitted parameters"),
        numeric=(False, False, True, True),
    )


def build_clv(ctx: ReportContext) -> SectionContent:
    """The distribution of predicted customer lifetime value, BG/NBD with Gamma-Gamma spend."""
    from stickykit.models.bgnbd import BGNBD  # noqa: PLC0415
    from stickykit.models.clv import customer_lifetime_value  # noqa: PLC0415
    from stickykit.models.gammagamma import GammaGamma  # noqa: PLC0415

    events = ctx.events
    if events is None or events.amount is None:
        raise SkipSection(ctx.gettext("the events carry no amounts"))
    h = _split(ctx).calibration
    margin = float(ctx.option("clv", "margin", 1.0))
    rate = float(ctx.option("clv", "annual_discount_rate", 0.1))
    horizon = float(ctx.option("clv", "horizon_weeks", 52.0))
    fit_rows = _fit_rows(ctx, h)
    fitted = h.take(fit_rows)
    transactions = BGNBD().fit(fitted)
    repeaters = fitted.take((fitted.frequency > 0) & (fitted.monetary > 0))
    if len(repeaters) < 2:
        raise SkipSection(ctx.gettext("too few repeat buyers with spend to fit the spend model"))
    spend = GammaGamma().fit(repeaters)
    valid = (h.frequency == 0) | (h.monetary > 0)
    excluded = int((~valid).sum())
    valid_rows = np.flatnonzero(valid)
    rows = valid_rows[_sample(len(valid_rows), CLV_SAMPLE, 2)]
    clv = customer_lifetime_value(
        transactions,
        spend,
        h.take(rows),
        margin=margin,
        annual_discount_rate=rate,
        horizon=horizon,
    )
    values = np.asarray(clv.value, dtype=np.float64)
    n_valid = len(valid_rows)
    sampled = len(rows) < n_valid
    mean = float(values.mean())
    currency = _money_currency(ctx)
    from stickykit.report.figures import plot_histogram  # noqa: PLC0415

    chart = ctx.chart(
        lambda ax: plot_histogram(
            ax,
            values,
            xlabel=ctx.gettext("predicted value over the next {weeks} weeks").format(
                weeks=ctx.fmt.integer(horizon)
            ),
            ylabel=ctx.gettext("customers"),
            marker=mean,
            marker_label=ctx.gettext("mean"),
        ),
        alt=ctx.gettext("Distribution of predicted customer lifetime value"),
        caption=ctx.gettext(
            "The top {top} of values is cut off the chart, not out of the figures."
        ).format(top=ctx.fmt.percent(0.01, 0)),
    )
    quantiles = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    names = ("10%", "25%", "50%", "75%", "90%", "99%")
    stats_rows = [(ctx.gettext("mean"), ctx.fmt.money(mean, currency))]
    stats_rows += [
        (ctx.gettext("percentile {p}").format(p=p), ctx.fmt.money(q, currency))
        for p, q in zip(names, quantiles, strict=True)
    ]
    level = _summaries([transactions])[0].level
    total_text = ctx.fmt.money(mean * n_valid, currency, whole=True)
    interval = ""
    method = clv.method
    if sampled:
        sd = float(values.std(ddof=1))
        from scipy import stats  # noqa: PLC0415

        t = float(stats.t.ppf(0.5 + level / 2, len(values) - 1))
        fpc = math.sqrt(1 - len(values) / n_valid)
        half = t * sd / math.sqrt(len(values)) * fpc
        interval = ctx.gettext("{level} CI {low} to {high}").format(
            level=ctx.fmt.percent(level, 0),
            low=ctx.fmt.money(mean - half, currency),
            high=ctx.fmt.money(mean + half, currency),
        )
        method += (
            f"; distribution from a seeded random sample of {len(values):,} of {n_valid:,} "
            f"customers; interval of the mean: t interval of the sample mean with the "
            "finite-population correction (sampling error only)"
        )
    else:
        method += "; no interval for the mean (parameter uncertainty is per customer)"
    stats_rows.append(
        (ctx.gettext("total over {n} customers").format(n=ctx.fmt.integer(n_valid)), total_text)
    )
    stats_table = Table(
        columns=(ctx.gettext("statistic"), ctx.gettext("predicted value")),
        rows=stats_rows,
    )
    label = ctx.gettext("Predicted value per customer ({weeks} weeks)").format(
        weeks=ctx.fmt.integer(horizon)
    )
    reference = f"{transactions.reference}; {spend.reference}"
    basis = Basis(
        label=label,
        n=n_valid,
        n_missing=excluded,
        method=method,
        reference=reference,
        flags=[
            _sample_note(ctx, len(fit_rows), len(h)),
            *_poorly_determined(ctx, [transactions, spend]),
        ],
    )
    summary = [
        ctx.gettext(
            "A customer is expected to bring {mean} over the next {weeks} weeks (median "
            "{median}), discounted at {rate} a year with a margin of {margin}."
        ).format(
            mean=ctx.fmt.money(mean, currency),
            weeks=ctx.fmt.integer(horizon),
            median=ctx.fmt.money(float(quantiles[2]), currency),
            rate=ctx.fmt.percent(rate, 0),
            margin=ctx.fmt.percent(margin, 0),
        ),
        ctx.gettext(
            "Purchases are predicted by the BG/NBD model, the spend per purchase by the "
            "Gamma-Gamma model. Customers whose repeat purchases have no positive spend are "
            "left out of the spend model: {excluded}."
        ).format(excluded=ctx.fmt.integer(excluded)),
    ]
    notes = []
    if margin == 1.0:
        notes.append(
            ctx.gettext(
                "With a margin of 100% the value is discounted expected revenue, not profit."
            )
        )
    return SectionContent(
        basis=[basis],
        summary=summary,
        charts=[chart],
        tables=[stats_table, _parameter_rows(ctx, [transactions, spend])],
        key_figures=[
            KeyFigure(
                label=label, value=ctx.fmt.money(mean, currency), interval=interval, basis=basis
            )
        ],
        notes=notes,
    )


def _reasons(ctx: ReportContext, alerts: Any, cut: float) -> NDArray[np.str_]:
    """The fired rules of each alert in words, in the report's language (vectorised)."""
    n = len(alerts)
    p_text = np.strings.mod(ctx.gettext("P(alive) %.2f < ") + f"{cut:.2f}", alerts.p_alive)
    gap_text = np.strings.mod(ctx.gettext("no purchase for %.1fx the usual gap"), alerts.gap_ratio)
    freq_text = np.strings.mod(
        ctx.gettext("purchases down to %.2fx the earlier rate"), alerts.frequency_ratio
    )
    empty = np.full(n, "", dtype=np.str_)
    separator = ctx.gettext("; ")
    parts = [
        np.where(alerts.by_p_alive, p_text, empty),
        np.where(alerts.by_gap, gap_text, empty),
        np.where(alerts.by_frequency, freq_text, empty),
    ]
    out: Any = parts[0]
    for part in parts[1:]:
        joiner = np.where((out != "") & (part != ""), separator, "")
        out = np.strings.add(np.strings.add(out, joiner), part)
    return np.asarray(out, dtype=np.str_)


def build_alerts(ctx: ReportContext) -> SectionContent:
    """The churn-risk alert list: customers flagged by P(alive), recency gap or frequency drop."""
    from stickykit.models.mbgnbd import MBGNBD  # noqa: PLC0415
    from stickykit.models.warning import (  # noqa: PLC0415
        REFERENCE,
        churn_alerts,
        churn_risk,
        recent_frequency,
    )

    if ctx.events is None:  # pragma: no cover - the section's needs keep it out
        raise SkipSection(ctx.gettext("no event data"))
    split = _split(ctx)
    h = split.calibration
    window = float(ctx.option("alerts", "recent_weeks", 13.0))
    cut = float(ctx.option("alerts", "p_alive_threshold", 0.3))
    fit_rows = _fit_rows(ctx, h)
    model = MBGNBD().fit(h.take(fit_rows))
    counts = recent_frequency(ctx.events, split, window) if float(h.age.max()) > window else None
    risk = churn_risk(
        model,
        h,
        recent_frequency=counts,
        recent_window=window if counts is not None else None,
    )
    alerts = churn_alerts(
        risk,
        p_alive_threshold=cut,
        gap_threshold=float(ctx.option("alerts", "gap_threshold", 3.0)),
    )
    reasons = _reasons(ctx, alerts, cut)
    ids = ctx.pseudonymise(alerts.customer_id)
    shown = min(SHOWN_ALERTS, len(alerts))
    rows = [
        (
            ids[i],
            ctx.fmt.percent(alerts.risk[i]),
            ctx.fmt.number(alerts.p_alive[i], 2),
            reasons[i],
        )
        for i in range(shown)
    ]
    table = Table(
        columns=(
            ctx.gettext("customer"),
            ctx.gettext("risk"),
            ctx.gettext("P(alive)"),
            ctx.gettext("reasons"),
        ),
        rows=rows,
        caption=ctx.gettext("The {shown} riskiest of {n} alerts").format(
            shown=ctx.fmt.integer(shown), n=ctx.fmt.integer(len(alerts))
        ),
        numeric=(False, True, True, False),
    )
    export = Export(
        name="churn_alerts",
        columns={
            "customer_id": ids,
            "risk": alerts.risk,
            "p_alive": alerts.p_alive,
            "gap_ratio": alerts.gap_ratio,
            "frequency_ratio": alerts.frequency_ratio,
            "rule_p_alive": alerts.by_p_alive.astype(np.int64),
            "rule_gap": alerts.by_gap.astype(np.int64),
            "rule_frequency_drop": alerts.by_frequency.astype(np.int64),
            "reasons": reasons,
        },
        label=ctx.gettext("Download the whole alert list (CSV)"),
    )
    label = ctx.gettext("Customers flagged for churn risk")
    share = len(alerts) / alerts.n if alerts.n else math.nan
    basis = Basis(
        label=label,
        n=alerts.n,
        n_missing=0,
        method=alerts.method,
        reference=REFERENCE,
        flags=[_sample_note(ctx, len(fit_rows), len(h)), *_poorly_determined(ctx, [model])],
    )
    summary = [
        ctx.gettext(
            "{alerts} of {n} customers ({share}) are flagged: the MBG/NBD model gives them a "
            "probability of being still active below {cut}, or they have not bought for at "
            "least {gap} times their usual gap, or their purchases in the last {weeks} weeks "
            "fell to half the earlier rate or less."
        ).format(
            alerts=ctx.fmt.integer(len(alerts)),
            n=ctx.fmt.integer(alerts.n),
            share=ctx.fmt.percent(share),
            cut=ctx.fmt.number(cut, 2),
            gap=ctx.fmt.number(float(ctx.option("alerts", "gap_threshold", 3.0)), 0),
            weeks=ctx.fmt.integer(window),
        ),
        ctx.gettext(
            "By rule: {p} by the model, {gap} by the recency gap, {freq} by the frequency "
            "drop (a customer may be flagged by several)."
        ).format(
            p=ctx.fmt.integer(int(alerts.by_p_alive.sum())),
            gap=ctx.fmt.integer(int(alerts.by_gap.sum())),
            freq=ctx.fmt.integer(int(alerts.by_frequency.sum())),
        ),
    ]
    notes = []
    if ctx.pseudonymised:
        notes.append(
            ctx.gettext(
                "Customer ids are pseudonyms (keyed HMAC-SHA256); the key holder can match them "
                "to customers."
            )
        )
    return SectionContent(
        basis=[basis],
        summary=summary,
        tables=[table, _parameter_rows(ctx, [model])],
        key_figures=[
            KeyFigure(
                label=label,
                value=f"{ctx.fmt.integer(len(alerts))} ({ctx.fmt.percent(share)})",
                interval="",
                basis=basis,
            )
        ],
        exports=[export],
        notes=notes,
    )
