"""The stickykit command: exit codes, output, JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stickykit.cli import main


def test_demo_prints_overall_and_waves(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "nps = 53.4 points [95% CI 52.3 to 54.5" in out
    assert "nps[17] = " in out and "small sample" in out
    assert "registered trademarks" in out


def test_demo_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 13612 and data["n_missing"] == 342
    assert len(data["groups"]) == 19  # waves 0-17 and the rows without a wave


def test_metrics_lists_plugins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--json"]) == 0
    names = {m["name"] for m in json.loads(capsys.readouterr().out)}
    assert {"nps", "example_response_rate"} <= names


def test_bad_value_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--alpha", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("stickykit: error: alpha must be") and err.count("\n") == 1


def test_usage_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stickykit", "metrics"], capture_output=True, text=True, check=True
    )
    assert "nps" in out.stdout
