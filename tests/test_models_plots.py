"""Plots of holdout checks: the drawn data are the result's arrays; axes state units and n.

Each data check is a ``check_*`` function run on the real plot (must pass) and on a broken
drawing (must fail). Without matplotlib the error names the ``plot`` extra.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stickykit.datasets import load_cdnow
from stickykit.errors import MissingDependencyError
from stickykit.models.evaluate import (
    FrequencyConditional,
    ModelComparison,
    RepeatTracking,
    actual_repeat_transactions,
    cohort_purchases,
)
from stickykit.models.plots import (
    plot_compare,
    plot_frequency_conditional,
    plot_tracking,
)


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def conditional(model: str = "BGNBD", predicted: list[float] | None = None) -> FrequencyConditional:
    return FrequencyConditional(
        labels=("0", "1", "2+"),
        frequency=np.array([0, 1, 2]),
        n_customers=np.array([1411.0, 439.0, 507.0]),
        actual=np.array([0.237, 0.697, 2.5]),
        actual_se=np.array([0.02, 0.05, np.nan]),
        predicted=np.array(predicted or [0.23, 0.69, 2.4]),
        holdout_length=39.0,
        time_unit="week",
        model=model,
    )


def comparison() -> ModelComparison:
    return ModelComparison(
        names=("BGNBD", "ParetoNBD", "given"),
        mae=np.array([0.6, 0.55, 0.9]),
        rmse=np.array([1.2, 1.1, 1.5]),
        predicted_total=np.array([1800.0, 1900.0, 2500.0]),
        actual_total=1882.0,
        log_likelihood=np.array([-9582.4, -9595.0, np.nan]),
        aic=np.array([19172.8, 19198.0, np.nan]),
        bic=np.array([19195.9, 19221.1, np.nan]),
        n_calibration=np.array([2357.0, 2357.0, 0.0]),
        n_params=np.array([4, 4, 4]),
        n=2357.0,
        holdout_length=39.0,
        time_unit="week",
    )


def line(ax: Axes, label: str) -> Any:
    (found,) = [ln for ln in ax.lines if ln.get_label() == label]
    return found


# -- conditional expectations --------------------------------------------------------------------


def check_conditional(ax: Axes, results: list[FrequencyConditional], level: float) -> None:
    first = results[0]
    x = np.arange(len(first.labels))
    assert_array_equal(line(ax, "actual").get_xdata(), x)
    assert_array_equal(line(ax, "actual").get_ydata(), first.actual)
    for r in results:
        assert_array_equal(line(ax, r.model).get_ydata(), r.predicted)
    z = stats.norm.ppf(0.5 + level / 2)
    (bars,) = ax.collections
    segments = bars.get_segments()
    known = np.isfinite(first.actual_se)
    assert_array_equal([s[0][0] for s in segments], x[known])
    assert_allclose([s[0][1] for s in segments], (first.actual - z * first.actual_se)[known])
    assert_allclose([s[1][1] for s in segments], (first.actual + z * first.actual_se)[known])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(first.labels)


def test_conditional_plot_draws_the_result() -> None:
    results = [conditional(), conditional("ParetoNBD", [0.14, 0.6, 2.7])]
    ax = plot_frequency_conditional(results, level=0.9)
    check_conditional(ax, results, 0.9)
    assert "calibration" in ax.get_xlabel()
    assert ax.get_ylabel() == "Mean transactions per customer in holdout (39 weeks)"
    assert "n = 2,357 customers" in ax.get_title()
    assert "90% intervals" in ax.get_title()


def test_conditional_check_fails_on_a_broken_drawing() -> None:
    """Negative control: the predicted means drawn as the actual ones."""
    r = conditional()
    ax = Figure().subplots()
    ax.plot(np.arange(3), r.predicted, label="actual")
    ax.plot(np.arange(3), r.predicted, label=r.model)
    ax.vlines(np.arange(3), r.actual - r.actual_se, r.actual + r.actual_se)
    with pytest.raises(AssertionError):
        check_conditional(ax, [r], 0.95)


def test_conditional_plot_refuses_results_of_different_splits() -> None:
    other = conditional()
    other = FrequencyConditional(
        labels=other.labels,
        frequency=other.frequency,
        n_customers=other.n_customers,
        actual=other.actual + 1,
        actual_se=other.actual_se,
        predicted=other.predicted,
        holdout_length=39.0,
        time_unit="week",
        model="other",
    )
    with pytest.raises(ValueError, match="one split"):
        plot_frequency_conditional([conditional(), other])
    with pytest.raises(ValueError, match="no results"):
        plot_frequency_conditional([])
    with pytest.raises(ValueError, match="level"):
        plot_frequency_conditional(conditional(), level=1.0)


# -- tracking ------------------------------------------------------------------------------------


def tracking(values: list[float], label: str) -> RepeatTracking:
    return RepeatTracking(
        times=np.arange(1.0, len(values) + 1),
        cumulative=np.array(values),
        n_customers=10.0,
        time_unit="week",
        label=label,
    )


def check_tracking(ax: Axes, series: list[RepeatTracking], kind: str) -> None:
    for s in series:
        drawn = line(ax, s.label)
        assert_array_equal(drawn.get_xdata(), s.times)
        assert_array_equal(
            drawn.get_ydata(), s.cumulative if kind == "cumulative" else s.incremental
        )


@pytest.mark.parametrize("kind", ["cumulative", "incremental"])
def test_tracking_plot_draws_the_series(kind: str) -> None:
    actual = tracking([1.0, 3.0, 4.0], "actual")
    forecast = tracking([1.5, 2.5, 4.5], "BGNBD")
    ax = plot_tracking(actual, [forecast], kind=kind, calibration_end=2.0)  # type: ignore[arg-type]
    check_tracking(ax, [actual, forecast], kind)
    assert_array_equal(line(ax, "end of calibration").get_xdata(), [2.0, 2.0])
    assert ax.get_xlabel() == "Time since the cohort's start (weeks)"
    expected = (
        "Cumulative repeat transactions"
        if kind == "cumulative"
        else ("Repeat transactions per 1 week")
    )
    assert ax.get_ylabel() == expected
    assert "n = 10 customers" in ax.get_title()


def test_tracking_check_fails_on_a_broken_drawing() -> None:
    """Negative control: the cumulative series drawn where the incremental one belongs."""
    actual = tracking([1.0, 3.0, 4.0], "actual")
    ax = plot_tracking(actual, kind="cumulative")
    with pytest.raises(AssertionError):
        check_tracking(ax, [actual], "incremental")


def test_tracking_plot_of_cdnow_states_the_cohort() -> None:
    c = cohort_purchases(load_cdnow(sample=True, ids="sample"), end="1998-06-30")
    actual = actual_repeat_transactions(c.first_purchase, c.repeat_times, c.period_ends(78))
    ax = plot_tracking(actual, kind="incremental", calibration_end=c.time_of("1997-09-30"))
    check_tracking(ax, [actual], "incremental")
    assert line(ax, "actual").get_ydata().sum() == 4339
    assert "n = 2,357 customers" in ax.get_title()


def test_tracking_plot_irregular_times_and_refusals() -> None:
    s = RepeatTracking(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]), 5.0, "day", "actual")
    ax = plot_tracking(s, kind="incremental")
    assert ax.get_ylabel() == "Repeat transactions since the previous time"
    with pytest.raises(ValueError, match="kind"):
        plot_tracking(s, kind="weekly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nothing"):
        plot_tracking(None)


# -- comparison ----------------------------------------------------------------------------------


def check_bars(ax: Axes, c: ModelComparison, criterion: str) -> None:
    names = [t.get_text() for t in ax.get_yticklabels()]
    ranked = [n for n in c.ranking(criterion) if np.isfinite(c.values(criterion)[c.names.index(n)])]
    assert names == ranked
    widths = [p.get_width() for p in ax.patches]
    assert_array_equal(widths, [c.values(criterion)[c.names.index(n)] for n in names])


@pytest.mark.parametrize("criterion", ["mae", "rmse", "aic", "log_likelihood"])
def test_compare_plot_draws_the_criterion(criterion: str) -> None:
    c = comparison()
    ax = plot_compare(c, criterion=criterion)
    check_bars(ax, c, criterion)
    assert "n = 2,357 customers" in ax.get_title()
    if criterion in ("aic", "log_likelihood"):
        assert "1 without this figure left out" in ax.get_title()
    if criterion == "mae":
        assert ax.get_xlabel() == (
            "Mean absolute error, transactions per customer in holdout (39 weeks)"
        )


def test_compare_check_fails_on_bars_in_the_given_order() -> None:
    """Negative control: bars in the order given rather than best first."""
    c = comparison()
    ax = Figure().subplots()
    ax.barh(np.arange(3), c.mae)
    ax.set_yticks(np.arange(3), list(c.names))
    with pytest.raises(AssertionError):
        check_bars(ax, c, "mae")


def test_compare_plot_of_totals_marks_the_actual_total() -> None:
    c = comparison()
    ax = plot_compare(c, criterion="predicted_total")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ParetoNBD", "BGNBD", "given"]
    assert [p.get_width() for p in ax.patches] == [1900.0, 1800.0, 2500.0]
    assert_array_equal(line(ax, "actual").get_xdata(), [1882.0, 1882.0])
    with pytest.raises(ValueError, match="criterion"):
        plot_compare(c, criterion="accuracy")


def test_plots_draw_on_a_given_axes() -> None:
    ax = Figure().subplots()
    assert plot_compare(comparison(), ax=ax) is ax
    assert plot_frequency_conditional(conditional(), ax=ax) is ax


# -- without matplotlib --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plot_frequency_conditional(conditional()),
        lambda: plot_tracking(tracking([1.0], "actual")),
        lambda: plot_compare(comparison()),
    ],
)
def test_missing_matplotlib_names_the_plot_extra(
    monkeypatch: pytest.MonkeyPatch, draw: Any
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(MissingDependencyError, match=r"stickykit\[plot\]") as error:
        draw()
    assert isinstance(error.value, ImportError)
