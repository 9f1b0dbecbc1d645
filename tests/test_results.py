"""MetricResult: readable text, plain dict, HTML for notebooks, provenance."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import stickykit
from stickykit import compute, get_metric
from stickykit.metrics.base import MetricResult


@pytest.fixture(scope="module")
def grouped() -> MetricResult:
    data = {"nps": [10, 9, 3, 8, 10, 0], "wave": [1, 1, 1, 2, 2, 2]}
    return compute(get_metric("nps", by="wave", alpha=0.1), data)


def test_text(grouped: MetricResult) -> None:
    text = str(grouped)
    first, *rest = text.splitlines()
    assert first.startswith("nps = 16.7 points [90% CI")  # 3 promoters, 2 detractors of 6
    assert "adjusted Wald (Rocks 2016)" in first
    assert "n = 6, missing = 0" in first
    assert [line.split(" =")[0].strip() for line in rest] == ["nps[1]", "nps[2]"]
    assert all("small sample: n = 3 < 30" in line for line in rest)


def test_dict_is_json_ready(grouped: MetricResult) -> None:
    d = grouped.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["level"] == pytest.approx(0.9)
    assert d["params"]["by"] == "wave"
    assert d["version"] == stickykit.__version__
    assert [g["group"] for g in d["groups"]] == [1, 2]
    assert d["reference"].startswith("Reichheld (2003)")


def test_html_escapes_and_lists_groups() -> None:
    data = {"nps": [10, 0], "segment": ["<script>alert(1)</script>", "ok"]}
    html = compute(get_metric("nps", by="segment"), data)._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert html.count("<tr>") == 4  # header, overall, two groups


def test_as_of_recorded() -> None:
    t = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    records = [stickykit.Survey(respondent_id=1, answers={"nps": 9}, answered_at=t)]
    r = compute("nps", records)
    assert r.as_of == t + dt.timedelta(microseconds=1)
    assert r.to_dict()["as_of"] == "2024-05-01T12:00:00.000001+00:00"


def test_result_without_interval_prints_na() -> None:
    r = MetricResult(
        metric="m",
        value=float("nan"),
        n=0,
        n_missing=3,
        se=None,
        ci_low=None,
        ci_high=None,
        level=None,
        method="no interval",
        reference="-",
        params={},
        as_of=None,
        version="0",
    )
    assert str(r) == "m = n/a; n = 0, missing = 3"
