"""MetricResult in notebooks: tidy frames (pandas and polars), a readable repr, escaped HTML."""

from __future__ import annotations

import html
import importlib.util
import math
import re
import sys
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit import compute, get_metric
from stickykit.errors import MissingDependencyError
from stickykit.metrics.base import MetricResult

COLUMNS = [
    "metric",
    "group",
    "value",
    "se",
    "ci_low",
    "ci_high",
    "level",
    "n",
    "n_missing",
    "unit",
    "method",
    "flags",
]


def _result(metric: str = "m", value: float = 1.0, **kw: Any) -> MetricResult:
    base: dict[str, Any] = {
        "metric": metric,
        "value": value,
        "n": 10,
        "n_missing": 0,
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "level": None,
        "method": "no interval",
        "reference": "-",
        "params": {},
        "as_of": None,
        "version": "0",
    }
    base.update(kw)
    return MetricResult(**base)


@pytest.fixture(scope="module")
def grouped() -> MetricResult:
    # wave 1: 10, 9, 3 -> 2 promoters, 1 detractor of 3 -> NPS = (2 - 1) / 3 = 33.3
    # wave 2: 8, 10, 0, missing -> 1 promoter, 1 detractor of 3 answered -> 0.0, 1 missing
    # overall: 3 promoters, 2 detractors of 6 -> 16.7, 1 missing
    data = {"nps": [10, 9, 3, 8, 10, 0, None], "wave": [1, 1, 1, 2, 2, 2, 2]}
    return compute(get_metric("nps", by="wave"), data)


# -- to_records / to_frame ---------------------------------------------------------------------


def test_records_hand_computed(grouped: MetricResult) -> None:
    rows = grouped.to_records()
    assert [r["group"] for r in rows] == [None, "1", "2"]
    assert [r["n"] for r in rows] == [6, 3, 3]
    assert [r["n_missing"] for r in rows] == [1, 0, 1]
    np.testing.assert_allclose([r["value"] for r in rows], [100 / 6, 100 / 3, 0.0], rtol=1e-12)
    assert all(r["method"] == "adjusted Wald (Rocks 2016)" for r in rows)
    assert all("small sample" in r["flags"] for r in rows)
    assert list(rows[0]) == COLUMNS


def _frame_rows(frame: Any) -> list[dict[str, Any]]:
    """Rows of a pandas or polars frame as dicts with NaN/None both as None."""
    rows = frame.to_dicts() if hasattr(frame, "to_dicts") else frame.to_dict(orient="records")

    def plain(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    return [{k: plain(v) for k, v in row.items()} for row in rows]


def _same_rows(frame: Any, result: MetricResult) -> bool:
    expected = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in result.to_records()
    ]
    return _frame_rows(frame) == expected


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_frame_matches_records(grouped: MetricResult, backend: str) -> None:
    pytest.importorskip(backend)
    frame = grouped.to_frame(backend)  # type: ignore[arg-type]
    assert type(frame).__module__.split(".")[0] == backend
    assert list(frame.columns) == COLUMNS
    assert _same_rows(frame, grouped)


def test_frame_negative_control(grouped: MetricResult) -> None:
    """The comparison notices a frame whose interval columns are swapped."""
    pytest.importorskip("polars")
    frame = grouped.to_frame("polars").rename({"ci_low": "ci_high", "ci_high": "ci_low"})
    assert not _same_rows(frame.select(COLUMNS), grouped)


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_missing_interval_is_missing_not_zero(backend: str) -> None:
    pytest.importorskip(backend)
    r = _result(value=float("nan"), groups=(_result(group=3, value=2.0),))
    rows = _frame_rows(r.to_frame(backend))  # type: ignore[arg-type]
    assert rows[0]["value"] is None and rows[0]["ci_low"] is None and rows[0]["se"] is None
    assert rows[1]["group"] == "3" and rows[1]["value"] == 2.0


def test_frame_of_tables() -> None:
    pytest.importorskip("polars")
    curve = {"times": np.array([0.0, 1.0, 2.0]), "survival": np.array([1.0, 0.8, 0.5])}
    r = _result(tables={**curve, "matrix": np.zeros((2, 2)), "short": np.ones(2)})
    frame = r.to_frame("polars", tables=["times", "survival"])
    assert frame.columns == ["times", "survival"]
    assert frame["survival"].to_list() == [1.0, 0.8, 0.5]
    with pytest.raises(ValueError, match=r"no table 'nope' \(tables: times, survival, matrix"):
        r.to_frame("polars", tables=["nope"])
    with pytest.raises(ValueError, match="'matrix' of m is 2 x 2, not 1-D"):
        r.to_frame("polars", tables=["matrix"])
    with pytest.raises(ValueError, match="different lengths"):
        r.to_frame("polars", tables=["times", "short"])


def test_bad_backend() -> None:
    with pytest.raises(ValueError, match="backend must be 'pandas' or 'polars', got 'spark'"):
        _result().to_frame("spark")  # type: ignore[arg-type]


def test_missing_narwhals_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "narwhals" or m.startswith("narwhals.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "narwhals", None)
    with pytest.raises(MissingDependencyError, match=r"stickykit\[dataframe\]"):
        _result().to_frame()


def test_missing_backend_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "polars" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingDependencyError, match="needs polars: pip install polars"):
        _result().to_frame("polars")


# -- repr ---------------------------------------------------------------------------------------


def _readable(text: str, max_lines: int = 25) -> bool:
    """Short, no numpy array dumps, no attrs field-by-field listing."""
    return (
        len(text.splitlines()) <= max_lines
        and "array(" not in text
        and "reference=" not in text
        and len(max(text.splitlines(), key=len)) < 400
    )


def test_repr_grouped(grouped: MetricResult) -> None:
    text = repr(grouped)
    assert text.startswith("<MetricResult nps = 16.7 points [95% CI") and text.endswith(">")
    assert [line.split(" =")[0].strip() for line in text.splitlines()[1:]] == ["nps[1]", "nps[2]"]
    assert _readable(text)


def test_repr_caps_groups_and_lists_tables() -> None:
    groups = tuple(_result(group=i, value=float(i)) for i in range(45))
    r = _result(groups=groups, tables={"curve": np.arange(212.0), "cells": np.zeros((5, 5, 5))})
    text = repr(r)
    assert "m[19] = 19.0" in text and "m[20]" not in text
    assert "... 25 more groups (to_frame() lists them all)" in text
    assert text.splitlines()[-1] == "  tables: curve (212), cells (5 x 5 x 5)>"
    assert _readable(text)


def test_readable_negative_control() -> None:
    """attrs' generated repr of the same result (field by field, arrays dumped) is not readable."""
    r = _result(tables={"curve": np.arange(300.0)})
    generated = attrs.make_class("MetricResult", [f.name for f in attrs.fields(MetricResult)])
    assert not _readable(repr(generated(**attrs.asdict(r, recurse=False))))


# -- HTML -----------------------------------------------------------------------------------------

HOSTILE = ["<script>alert(1)</script>", "say \"hi\" & 'bye'", "=cmd|' /C calc'!A0", "a<b>c"]


def _escaped(page: str, label: str) -> bool:
    """The label appears escaped, and no raw markup of it does."""
    if html.escape(label) not in page:
        return False
    return not re.search(r"[<>]", label) or label not in page


def test_html_escapes_hostile_labels() -> None:
    data = {"nps": [10, 0, 9, 5], "segment": HOSTILE}
    page = compute(get_metric("nps", by="segment"), data)._repr_html_()
    for label in HOSTILE:
        assert _escaped(page, label)
    assert "<script>" not in page
    assert page.count("<tr>") == 1 + 1 + len(HOSTILE)


@given(st.text(min_size=1, max_size=20))
def test_html_escapes_any_label(label: str) -> None:
    page = _result(groups=(_result(group=label),), metric=label, unit=label)._repr_html_()
    assert _escaped(page, label)


def test_html_escape_negative_control() -> None:
    """An unescaped rendering of a hostile label fails the check."""
    label = HOSTILE[0]
    assert not _escaped(f"<table><tr><td>{label}</td></tr></table>", label)


def test_html_digits_caps_and_tables() -> None:
    share = _result(unit="share", value=0.1234, ci_low=0.1, ci_high=0.15, level=0.9)
    page = share._repr_html_()
    assert "<td>0.123</td>" in page and "0.100 to 0.150" in page and "90% CI" in page
    many = _result(groups=tuple(_result(group=i) for i in range(60)), tables={"t": np.ones(3)})
    page = many._repr_html_()
    assert page.count("<tr>") == 1 + 1 + 50 + 1
    assert "... 10 more groups" in page and "<code>t</code> (3)" in page


def test_plot_draws_groups_with_intervals_and_curves():
    from matplotlib.figure import Figure

    import stickykit

    r = stickykit.compute(
        stickykit.get_metric("nps", by="wave"),
        {"nps": [10, 9, 3, 10, 0, 8, 10, 10], "wave": [1, 1, 1, 1, 2, 2, 2, 2]},
    )
    ax = Figure().subplots()
    assert r.plot(ax) is ax
    # one point per group at its value (wave 1: 3 promoters, 1 detractor of 4 = +50)
    points = ax.lines[0].get_ydata()
    assert list(points) == [g.value for g in r.groups] == [50.0, 25.0]
    survival = stickykit.compute("customer_survival", stickykit.datasets.load_cdnow(sample=True))
    curve = survival.plot(Figure().subplots(), x="times", y="survival")
    assert len(curve.lines[0].get_xdata()) == len(survival.tables["times"])
    with pytest.raises(KeyError, match="tables"):
        r.plot(Figure().subplots(), x="day", y="ratio")
