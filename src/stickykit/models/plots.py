"""Plots of holdout checks: conditional expectations, tracking forecasts, model comparisons.

Each function draws on a matplotlib ``Axes`` (a new pyplot figure's when ``ax`` is ``None``)
and returns it; axes carry units and the title states the number of customers. matplotlib is the
optional extra ``plot`` and is imported only when a plot is drawn. The figures are those of
Fader, Hardie & Lee (2005), "'Counting your customers' the easy way", *Marketing Science*
24(2), 275-284: Figures 1 and 2 (tracking) and 4 (conditional expectations).

Examples
--------
>>> from matplotlib.figure import Figure
>>> from stickykit.models.evaluate import actual_repeat_transactions
>>> a = actual_repeat_transactions([0.0], [1.5, 2.5], [1.0, 2.0, 3.0])
>>> ax = plot_tracking(a, ax=Figure().subplots())
>>> ax.get_ylabel()
'Cumulative repeat transactions'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from stickykit.errors import MissingDependencyError
from stickykit.models.evaluate import (
    CRITERIA,
    FrequencyConditional,
    ModelComparison,
    RepeatTracking,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_compare", "plot_frequency_conditional", "plot_tracking"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        msg = "plotting needs matplotlib: pip install 'stickykit[plot]'"
        raise MissingDependencyError(msg) from exc
    return plt


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, new = _pyplot().subplots()
    result: Axes = new
    return result


def _plural(unit: str, amount: float) -> str:
    return unit if amount == 1 else f"{unit}s"


def plot_frequency_conditional(
    result: FrequencyConditional | Sequence[FrequencyConditional],
    *,
    level: float = 0.95,
    ax: Axes | None = None,
) -> Axes:
    """Mean actual and predicted holdout transactions by calibration frequency.

    The actual means are drawn with their ``level`` normal interval (mean ± z · se, where
    the standard error is known); each
    model's predicted means as a dashed line. Several results (one per model, from the same
    split) share one actual line. FHL (2005), Figure 4.

    Parameters
    ----------
    result : FrequencyConditional or sequence of them
        From :func:`~stickykit.models.evaluate.conditional_expectations_by_frequency`.
    level : float
        Confidence level of the error bars.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed (the ``plot`` extra).
    ValueError
        Results from different groups or different actual data.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from stickykit.models.evaluate import FrequencyConditional
    >>> r = FrequencyConditional(labels=("0", "1+"), frequency=np.array([0, 1]),
    ...     n_customers=np.array([2.0, 1.0]), actual=np.array([0.5, 3.0]),
    ...     actual_se=np.array([0.5, np.nan]), predicted=np.array([0.4, 2.5]),
    ...     holdout_length=39.0, time_unit="week", model="BGNBD")
    >>> ax = plot_frequency_conditional(r, ax=Figure().subplots())
    >>> [line.get_label() for line in ax.lines]
    ['actual', 'BGNBD']
    """
    results = [result] if isinstance(result, FrequencyConditional) else list(result)
    if not results:
        raise ValueError("no results to plot")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    first = results[0]
    for other in results[1:]:
        same = (
            other.labels == first.labels
            and np.array_equal(other.n_customers, first.n_customers)
            and np.array_equal(other.actual, first.actual, equal_nan=True)
            and other.holdout_length == first.holdout_length
        )
        if not same:
            raise ValueError("results must come from one split and the same frequency groups")
    ax = _axes(ax)
    x = np.arange(len(first.labels), dtype=np.float64)
    z = float(stats.norm.ppf(0.5 + level / 2))
    spread = z * first.actual_se
    known = np.isfinite(spread)
    ax.vlines(
        x[known],
        (first.actual - spread)[known],
        (first.actual + spread)[known],
        color="black",
    )
    ax.plot(x, first.actual, color="black", marker="o", label="actual")
    for r in results:
        ax.plot(x, r.predicted, linestyle="--", marker="s", label=r.model)
    ax.set_xticks(x, list(first.labels))
    ax.set_xlabel("Repeat transactions in calibration, x")
    unit = _plural(first.time_unit, first.holdout_length)
    ax.set_ylabel(f"Mean transactions per customer in holdout ({first.holdout_length:g} {unit})")
    ax.set_title(
        f"Conditional expectations; n = {first.n:,.0f} customers, bars {100 * level:g}% intervals"
    )
    ax.legend()
    return ax


def plot_tracking(
    actual: RepeatTracking | None,
    forecast: RepeatTracking | Sequence[RepeatTracking] = (),
    *,
    kind: Literal["cumulative", "incremental"] = "cumulative",
    calibration_end: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Actual against forecast repeat transactions of a cohort over time.

    ``kind="cumulative"`` draws :attr:`~stickykit.models.evaluate.RepeatTracking.cumulative`,
    ``"incremental"`` the transactions between consecutive times
    (:attr:`~stickykit.models.evaluate.RepeatTracking.incremental`, e.g. per week). FHL
    (2005), Figures 1 (incremental) and 2 (cumulative).

    Parameters
    ----------
    actual : RepeatTracking or None
        From :func:`~stickykit.models.evaluate.actual_repeat_transactions` (solid black).
    forecast : RepeatTracking or sequence of them
        From :func:`~stickykit.models.evaluate.cumulative_repeat_transactions` (dashed).
    kind : {"cumulative", "incremental"}
    calibration_end : float, optional
        Time of the end of calibration on the same axis, drawn as a vertical line.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed (the ``plot`` extra).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from stickykit.models.evaluate import actual_repeat_transactions
    >>> a = actual_repeat_transactions([0.0], [1.5, 2.5], [1.0, 2.0, 3.0])
    >>> ax = plot_tracking(a, kind="incremental", calibration_end=2.0, ax=Figure().subplots())
    >>> ax.lines[0].get_ydata().tolist(), ax.get_ylabel()
    ([0.0, 1.0, 1.0], 'Repeat transactions per 1 week')
    """
    if kind not in ("cumulative", "incremental"):
        raise ValueError(f"kind must be 'cumulative' or 'incremental', got {kind!r}")
    forecasts = [forecast] if isinstance(forecast, RepeatTracking) else list(forecast)
    series = ([] if actual is None else [actual]) + forecasts
    if not series:
        raise ValueError("nothing to plot")
    ax = _axes(ax)
    for s in series:
        values = s.cumulative if kind == "cumulative" else s.incremental
        style: dict[str, Any] = (
            {"color": "black", "linestyle": "-"} if s is actual else {"linestyle": "--"}
        )
        ax.plot(s.times, values, label=s.label, **style)
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", linestyle=":", label="end of calibration")
    unit = series[0].time_unit
    ax.set_xlabel(f"Time since the cohort's start ({unit}s)")
    if kind == "cumulative":
        ax.set_ylabel("Cumulative repeat transactions")
    else:
        ax.set_ylabel(_interval_label(series[0].times, unit))
    sizes = sorted({s.n_customers for s in series})
    shown = " / ".join(f"{n:,.0f}" for n in sizes)
    ax.set_title(f"Repeat transactions of the cohort; n = {shown} customers")
    ax.legend()
    return ax


def _interval_label(times: NDArray[np.float64], unit: str) -> str:
    steps = np.diff(times)
    if len(steps) and np.allclose(steps, steps[0], rtol=1e-9, atol=0):
        step = float(steps[0])
        return f"Repeat transactions per {step:g} {_plural(unit, step)}"
    return "Repeat transactions since the previous time"


_AXIS_LABELS = {
    "mae": "Mean absolute error, transactions per customer in holdout ({h})",
    "rmse": "Root-mean-square error, transactions per customer in holdout ({h})",
    "abs_total_error": "|Predicted - actual| transactions in holdout ({h}), all customers",
    "predicted_total": "Predicted transactions in holdout ({h}), all customers",
    "log_likelihood": "Calibration log-likelihood (higher is better)",
    "aic": "AIC on calibration (lower is better)",
    "bic": "BIC on calibration (lower is better)",
}


def plot_compare(
    comparison: ModelComparison,
    *,
    criterion: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One criterion of a model comparison as horizontal bars, best model on top.

    ``criterion`` is one of :data:`~stickykit.models.evaluate.CRITERIA` (default: the
    comparison's own) or ``"predicted_total"``, which draws each model's predicted holdout
    total against a vertical line at the actual total. Models without a figure for the
    criterion (AIC of a model built from parameters) are left out, and the title says so.

    Parameters
    ----------
    comparison : ModelComparison
        From :func:`~stickykit.models.evaluate.compare_models`.
    criterion : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed (the ``plot`` extra).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> c = ModelComparison(names=("a", "b"), mae=np.array([0.6, 0.5]),
    ...     rmse=np.array([1.0, 1.1]), predicted_total=np.array([90.0, 99.0]),
    ...     actual_total=100.0, log_likelihood=np.array([-50.0, -49.0]),
    ...     aic=np.array([104.0, 106.0]), bic=np.array([110.0, 114.0]),
    ...     n_calibration=np.array([40.0, 40.0]), n_params=np.array([2, 4]), n=40.0,
    ...     holdout_length=10.0, time_unit="week")
    >>> ax = plot_compare(c, ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_yticklabels()], [float(p.get_width()) for p in ax.patches]
    (['b', 'a'], [0.5, 0.6])
    """
    criterion = comparison.criterion if criterion is None else criterion
    if criterion == "predicted_total":
        order = [comparison.names.index(n) for n in comparison.ranking("abs_total_error")]
        values = comparison.predicted_total
    elif criterion in CRITERIA:
        order = [comparison.names.index(n) for n in comparison.ranking(criterion)]
        values = comparison.values(criterion)
    else:
        raise ValueError(
            f"criterion must be one of {sorted([*CRITERIA, 'predicted_total'])}, got {criterion!r}"
        )
    shown = [i for i in order if np.isfinite(values[i])]
    ax = _axes(ax)
    positions = np.arange(len(shown), dtype=np.float64)
    ax.barh(positions, values[shown], color="tab:blue")
    ax.set_yticks(positions, [comparison.names[i] for i in shown])
    ax.invert_yaxis()
    if criterion == "predicted_total":
        ax.axvline(comparison.actual_total, color="black", linestyle="--", label="actual")
        ax.legend()
    length = comparison.holdout_length
    horizon = f"{length:g} {_plural(comparison.time_unit, length)}"
    ax.set_xlabel(_AXIS_LABELS[criterion].format(h=horizon))
    ax.set_ylabel("Model")
    left_out = len(order) - len(shown)
    note = f"; {left_out} without this figure left out" if left_out else ""
    ax.set_title(f"Models on holdout, best first; n = {comparison.n:,.0f} customers{note}")
    return ax
