"""The report's charts: matplotlib on the Agg canvas, embedded in the page as SVG data.

Each ``plot_*`` function draws on a matplotlib ``Axes`` it is given and returns it; the labels
it receives are already in the report's language. :func:`render` makes the figure, lets a
drawing function fill it, and returns a :class:`~stickykit.report.Chart` holding the SVG as
a ``data:`` URI, so the page needs no file and no network. Text is drawn as glyph outlines
(``svg.fonttype = "path"``), so the chart looks the same whatever fonts the reader has; for
Chinese a CJK font found on the system is put first in the font list (:func:`cjk_font`), so
that no label is drawn as empty boxes.

matplotlib is part of the ``report`` extra and is imported only when a chart is drawn.

Examples
--------
>>> chart = render(lambda ax: plot_bars(ax, ["a", "b"], [3.0, 5.0], xlabel="customers"),
...                lang="en", alt="Customers per segment")
>>> chart.data_uri.startswith("data:image/svg+xml;base64,")
True
"""

from __future__ import annotations

import base64
import functools
import io
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stickykit.errors import MissingDependencyError
from stickykit.report._content import Chart

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CJK_FAMILIES",
    "PALETTE",
    "cjk_font",
    "missing_glyphs",
    "plot_bars",
    "plot_heatmap",
    "plot_histogram",
    "plot_lorenz",
    "plot_loyalty_curve",
    "plot_step",
    "plot_trend",
    "render",
]

#: Font families tried, in order, for Chinese labels.
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
)
_CJK_FILE = re.compile(
    r"cjk|sourcehansans|wqy|wenquanyi|yahei|pingfang|simhei|notosanssc", re.IGNORECASE
)
#: Colour-blind safe colours (Okabe & Ito 2008), the main series first.
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
_GREY: Final = "#8c8c8c"
_PX_PER_INCH: Final = 96.0


def _matplotlib() -> Any:
    try:
        import matplotlib as mpl  # noqa: PLC0415
    except ImportError as exc:
        msg = "the report's charts need matplotlib: pip install 'stickykit[report]'"
        raise MissingDependencyError(msg) from exc
    return mpl


@functools.cache
def cjk_font() -> str:
    """The name of a font family with Chinese glyphs known to matplotlib.

    Fonts installed after matplotlib built its font cache are found by scanning the system
    font folders and added.

    Raises
    ------
    MissingDependencyError
        No CJK font is installed (Debian: ``apt-get install fonts-noto-cjk``).

    Examples
    --------
    >>> cjk_font() in CJK_FAMILIES
    True
    """
    _matplotlib()
    from matplotlib import font_manager  # noqa: PLC0415

    def known() -> str | None:
        names = {entry.name for entry in font_manager.fontManager.ttflist}
        return next((family for family in CJK_FAMILIES if family in names), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # pragma: no cover - broken file
                    continue
        found = known()
    if found is None:
        msg = (
            "Chinese chart labels need a CJK font and none is installed: install one, for "
            "example Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk)"
        )
        raise MissingDependencyError(msg)
    return found


def _style(lang: str) -> dict[str, Any]:
    families = [cjk_font(), "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans"]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "font.size": 9.0,
        "axes.titlesize": 10.0,
        "axes.labelsize": 9.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.axisbelow": True,
        "legend.frameon": False,
        "legend.fontsize": 8.0,
        "svg.fonttype": "path",
        "svg.hashsalt": "stickykit-report",
        "path.simplify": True,
        "figure.dpi": 100.0,
        "savefig.dpi": 100.0,
    }


_SVG_CLUTTER = re.compile(
    r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->|<metadata>.*?</metadata>", re.DOTALL
)


def render(
    draw: Callable[[Axes], Any],
    *,
    lang: str,
    alt: str,
    caption: str = "",
    size: tuple[float, float] = (6.4, 3.2),
) -> Chart:
    """Draw a chart and embed it as SVG data.

    Parameters
    ----------
    draw : callable
        ``draw(ax)``: fills the axes (a ``plot_*`` function of this module, or your own).
    lang : {"en", "zh"}
        The language of the labels; ``"zh"`` puts a CJK font first (:func:`cjk_font`).
    alt : str
        What the chart shows, in words (the image's text alternative).
    caption : str
        Shown under the chart.
    size : (float, float)
        Width and height in inches (96 CSS pixels each).

    Returns
    -------
    Chart

    Examples
    --------
    >>> chart = render(lambda ax: ax.plot([0, 1], [1, 0]), lang="zh", alt="一条线")
    >>> round(chart.width), round(chart.height)
    (614, 307)
    """
    mpl = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    with mpl.rc_context(_style(lang)):
        figure = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure.subplots())
        buffer = io.BytesIO()
        metadata = {"Creator": None, "Date": None, "Format": None, "Type": None}
        figure.savefig(buffer, format="svg", metadata=metadata)
    svg = _SVG_CLUTTER.sub("", buffer.getvalue().decode("utf-8")).strip()
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return Chart(
        data_uri="data:image/svg+xml;base64," + encoded,
        alt=alt,
        caption=caption,
        width=size[0] * _PX_PER_INCH,
        height=size[1] * _PX_PER_INCH,
    )


def _array(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def plot_trend(
    ax: Axes,
    labels: Sequence[str],
    values: ArrayLike,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    *,
    small: ArrayLike | None = None,
    xlabel: str = "",
    ylabel: str = "",
    legend: tuple[str, str] | None = None,
    ymin: float | None = None,
) -> Axes:
    """A value per group or period with its interval as a band; small groups as open markers.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    labels : sequence of str
        Group or period labels, in order.
    values, low, high : array_like
        Estimates and interval bounds (NaN where undefined).
    small : array_like of bool, optional
        Groups too small to read on their own, drawn as open markers.
    xlabel, ylabel : str
    legend : (str, str), optional
        Legend texts of the line and the small-group markers.
    ymin : float, optional
        Lower end of the value axis (``0`` for a share, so that small changes do not look
        large).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_trend(Figure().subplots(), ["1", "2", "3"], [50, 52, 49], [45, 47, 40],
    ...                 [55, 57, 58], small=[False, False, True])
    >>> len(ax.lines), len(ax.collections)
    (2, 1)
    """
    y = _array(values)
    x = np.arange(len(y))
    is_small = np.zeros(len(y), bool) if small is None else np.asarray(small, dtype=bool)
    if low is not None and high is not None:
        ax.fill_between(x, _array(low), _array(high), color=PALETTE[0], alpha=0.18, lw=0)
    line_label, small_label = legend or ("", "")
    ax.plot(x, y, marker="o", ms=4, color=PALETTE[0], label=line_label or None)
    ax.plot(
        x[is_small],
        y[is_small],
        ls="none",
        marker="o",
        ms=6,
        mfc="white",
        mec=PALETTE[3],
        label=small_label or None,
    )
    widest = max((len(str(label)) for label in labels), default=1)
    step = max(1, -(-len(x) // max(4, 64 // max(widest + 2, 4))))
    ax.set_xticks(x[::step], [labels[i] for i in range(0, len(x), step)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ymin is not None:
        ax.set_ylim(bottom=ymin)
    if legend is not None and is_small.any():
        ax.legend(loc="best")
    return ax


def plot_bars(
    ax: Axes,
    labels: Sequence[str],
    values: ArrayLike,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    *,
    xlabel: str = "",
    zero_line: bool = False,
) -> Axes:
    """Horizontal bars, first label on top, with interval whiskers when given.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_bars(Figure().subplots(), ["a", "b"], [-0.5, 0.2], [-0.7, 0.0], [-0.3, 0.4],
    ...                zero_line=True)
    >>> len(ax.patches)
    2
    """
    v = _array(values)
    y = np.arange(len(v))[::-1]
    colours = [PALETTE[3] if value < 0 else PALETTE[0] for value in v]
    if low is not None and high is not None:
        lo, hi = _array(low), _array(high)
        err = np.vstack([np.maximum(v - lo, 0), np.maximum(hi - v, 0)])
        ax.barh(y, v, color=colours, xerr=err, ecolor="#333333", capsize=3)
    else:
        ax.barh(y, v, color=colours)
    ax.set_yticks(y, list(labels))
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    if zero_line:
        ax.axvline(0.0, color="#333333", lw=0.8)
    return ax


def plot_heatmap(
    ax: Axes,
    matrix: ArrayLike,
    mask: ArrayLike,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    xlabel: str = "",
    ylabel: str = "",
    colorbar_label: str = "",
) -> Axes:
    """A matrix of shares (0-1) as colours; masked cells (unobservable) left blank.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> m = np.array([[1.0, 0.3], [1.0, np.nan]])
    >>> ax = plot_heatmap(Figure().subplots(), m, np.isnan(m), ["Jan", "Feb"], ["0", "1"])
    >>> ax.images[0].get_array().mask.tolist()
    [[False, False], [False, True]]
    """
    values = np.ma.masked_array(_array(matrix), mask=np.asarray(mask, dtype=bool))
    image = ax.imshow(
        values, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest"
    )
    rows, cols = values.shape
    row_step, col_step = max(1, rows // 18), max(1, cols // 18)
    ax.set_yticks(np.arange(0, rows, row_step), [row_labels[i] for i in range(0, rows, row_step)])
    ax.set_xticks(np.arange(0, cols, col_step), [col_labels[i] for i in range(0, cols, col_step)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(visible=False)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.set_label(colorbar_label)
    return ax


def plot_step(
    ax: Axes,
    times: ArrayLike,
    values: ArrayLike,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    *,
    xlabel: str = "",
    ylabel: str = "",
    max_points: int = 1000,
) -> Axes:
    """A step curve (a Kaplan-Meier survival curve) with its pointwise band.

    A curve with more than ``max_points`` steps (one per distinct time, a million for a
    million customers with exact times) is read at ``max_points`` evenly spaced times, where
    the right-continuous step function is exact; the chart keeps its shape and its size.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_step(Figure().subplots(), [0, 1, 2], [1.0, 0.8, 0.5], [1.0, 0.7, 0.4],
    ...                [1.0, 0.9, 0.6])
    >>> bool(ax.get_ylim()[0] <= 0.0)
    True
    >>> t = np.linspace(0, 100, 100_001)
    >>> ax = plot_step(Figure().subplots(), t, np.exp(-t / 50), max_points=500)
    >>> len(ax.lines[0].get_xdata())
    500
    """
    t = _array(times)
    s = _array(values)
    lo = None if low is None else _array(low)
    hi = None if high is None else _array(high)
    if len(t) > max_points:
        grid = np.linspace(t[0], t[-1], max_points)
        at = np.searchsorted(t, grid, side="right") - 1
        t, s = grid, s[at]
        lo = None if lo is None else lo[at]
        hi = None if hi is None else hi[at]
    if lo is not None and hi is not None:
        ax.fill_between(t, lo, hi, step="post", color=PALETTE[0], alpha=0.2)
    ax.step(t, s, where="post", color=PALETTE[0])
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_lorenz(
    ax: Axes,
    customers: ArrayLike,
    value: ArrayLike,
    *,
    xlabel: str = "",
    ylabel: str = "",
    legend: tuple[str, str] = ("", ""),
    max_points: int = 800,
) -> Axes:
    """A Lorenz curve (cumulative value share against customer share) and the equality line.

    The curve is thinned to at most ``max_points`` points (evenly in customer share), which
    keeps the chart small without a visible change.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> x = np.linspace(0, 1, 5001)
    >>> ax = plot_lorenz(Figure().subplots(), x, x**3)
    >>> len(ax.lines[0].get_xdata()) <= 801
    True
    """
    x, y = _array(customers), _array(value)
    if len(x) > max_points:
        keep = np.unique(np.linspace(0, len(x) - 1, max_points + 1).round().astype(np.intp))
        x, y = x[keep], y[keep]
    curve_label, equal_label = legend
    ax.plot(x, y, color=PALETTE[0], label=curve_label or None)
    ax.plot([0, 1], [0, 1], color=_GREY, ls="--", lw=0.8, label=equal_label or None)
    ax.fill_between(x, y, x, color=PALETTE[0], alpha=0.12)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if curve_label or equal_label:
        ax.legend(loc="upper left")
    return ax


def plot_histogram(
    ax: Axes,
    values: ArrayLike,
    *,
    bins: int = 40,
    upper_quantile: float = 0.99,
    xlabel: str = "",
    ylabel: str = "",
    marker: float | None = None,
    marker_label: str = "",
) -> Axes:
    """A histogram of the values up to a quantile (the long right tail is cut for legibility).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_histogram(Figure().subplots(), np.arange(100.0), bins=10, marker=49.5)
    >>> len(ax.patches), len(ax.lines)
    (10, 1)
    """
    v = _array(values)
    v = v[np.isfinite(v)]
    top = float(np.quantile(v, upper_quantile)) if len(v) else 1.0
    low = float(v.min()) if len(v) else 0.0
    ax.hist(v[v <= top], bins=bins, range=(low, max(top, low + 1e-9)), color=PALETTE[0])
    if marker is not None:
        ax.axvline(marker, color=PALETTE[3], lw=1.2, label=marker_label or None)
        if marker_label:
            ax.legend(loc="upper right")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_loyalty_curve(
    ax: Axes,
    level: ArrayLike,
    rate: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    fit: ArrayLike,
    zone: ArrayLike,
    *,
    zone_names: Sequence[str] = ("", "", ""),
    xlabel: str = "",
    ylabel: str = "",
    fit_label: str = "",
) -> Axes:
    """Loyalty rate per satisfaction level with intervals, the fitted line and shaded zones.

    ``zone`` holds 0, 1 or 2 per level (the bottom, middle and top segment of the fit);
    each zone's span is shaded and named.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_loyalty_curve(Figure().subplots(), [1, 2, 3], [0.1, 0.5, 0.9],
    ...                         [0.0, 0.4, 0.8], [0.2, 0.6, 1.0], [0.1, 0.5, 0.9], [0, 1, 2],
    ...                         zone_names=("defection", "indifference", "affection"))
    >>> len(ax.patches)
    3
    """
    lv, r = _array(level), _array(rate)
    z = np.asarray(zone, dtype=np.float64)
    shades = ("#fde0dd", "#f0f0f0", "#e0f3db")
    for k in range(3):
        inside = lv[z == k]
        if len(inside):
            ax.axvspan(inside.min() - 0.5, inside.max() + 0.5, color=shades[k], lw=0)
            if zone_names[k]:
                ax.text(
                    (inside.min() + inside.max()) / 2,
                    1.02,
                    zone_names[k],
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    transform=ax.get_xaxis_transform(),
                )
    err = np.vstack([np.maximum(r - _array(low), 0), np.maximum(_array(high) - r, 0)])
    ax.errorbar(lv, r, yerr=err, fmt="o", ms=4, color=PALETTE[0], ecolor=PALETTE[0], capsize=2)
    ax.plot(lv, _array(fit), color=PALETTE[3], lw=1.4, label=fit_label or None)
    ax.set_ylim(0.0, 1.0)
    ax.set_xticks(lv)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if fit_label:
        ax.legend(loc="lower right")
    return ax


def missing_glyphs(draw: Callable[[], Any]) -> list[str]:
    """Run ``draw`` and return matplotlib's missing-glyph warnings (empty when none).

    Examples
    --------
    >>> missing_glyphs(lambda: render(lambda ax: ax.set_title("净推荐值"), lang="zh", alt="t"))
    []
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]
