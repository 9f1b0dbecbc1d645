"""The stickykit command: sub-commands, output, exit codes, bad input, safe output files.

The commands run in-process through ``main([...])``; one test runs ``python -m stickykit`` and
one the installed console script.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stickykit import compute, load_events
from stickykit.cli import main

EVENTS = """customer_id,timestamp,amount,name
1,2024-01-05T10:00:00Z,10.5,ann
1,2024-02-07T10:00:00Z,3.0,ann
2,2024-01-09T10:00:00Z,4.0,<script>alert(1)</script>
3,2024-03-01T10:00:00Z,7.25,bob
"""
# respondents 1-5; nps 10, 9, 3, blank, 8 -> 2 promoters, 1 detractor of 4 answered, 1 missing
SURVEY = """id,nps,csat,region,name,spend
1,10,5,north,ann,300
2,9,4,south,bob,12
3,3,2,north,cy,40
4,,5,south,=1+2,5
5,8,3,north,dd,7
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return write(tmp_path / "events.csv", EVENTS)


@pytest.fixture
def survey(tmp_path: Path) -> Path:
    return write(tmp_path / "survey.csv", SURVEY)


def run(args: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> bool:
    """Exactly one line on stderr, the stickykit error prefix, no traceback."""
    return (
        err.startswith("stickykit: error: ")
        and err.count("\n") == 1
        and err.endswith("\n")
        and "Traceback" not in err
    )


def test_one_error_line_negative_control() -> None:
    assert not one_error_line("Traceback (most recent call last):\n  File ...\nValueError: x\n")
    assert not one_error_line("stickykit: error: a\nsecond line\n")
    assert one_error_line("stickykit: error: survey.csv: the file is empty\n")


# -- existing sub-commands ---------------------------------------------------------------------


def test_demo_prints_overall_and_waves(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo"], capsys)
    assert code == 0
    assert "nps = 53.4 points [95% CI 52.3 to 54.5" in out
    assert "nps[17] = " in out and "small sample" in out
    assert "registered trademarks" in out


def test_demo_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["n"] == 13612 and data["n_missing"] == 342
    assert len(data["groups"]) == 19  # waves 0-17 and the rows without a wave


def test_metrics_lists_plugins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["metrics", "--json"], capsys)
    names = {m["name"] for m in json.loads(out)}
    assert code == 0 and {"nps", "retention", "example_response_rate"} <= names


def test_bad_value_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["demo", "--alpha", "2"], capsys)
    assert code == 1 and one_error_line(err) and err.startswith("stickykit: error: alpha must be")


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        [],
        ["compute", "nps"],
        ["validate", "x.csv"],  # --kind is required
        ["compute", "nps", "x.csv", "--map", "nps"],
        ["compute", "nps", "x.csv", "--chunk-rows", "0"],
        ["report", "--lang", "fr", "--demo"],
        ["report"],
        ["report", "--demo", "--events", "x.csv"],
        ["report", "--demo", "--map", "customer_id=c"],
        ["report", "--events", "x.csv", "--items", "nps"],
        ["compute", "nps", "x.csv", "--by", "wave", "--param", "by=wave"],
    ],
)
def test_usage_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and "error:" in err


@pytest.mark.parametrize("command", ["report", "metrics", "compute", "validate", "demo"])
def test_help_of_each_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0 and out.startswith(f"usage: stickykit {command}")


def test_python_dash_m_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stickykit", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("report", "metrics", "compute", "validate"):
        assert command in out.stdout
    assert "Exit codes: 0 ok, 1 bad input, 2 usage error." in out.stdout


@pytest.mark.skipif(shutil.which("stickykit") is None, reason="console script not installed")
def test_console_script(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")
    out = subprocess.run(
        ["stickykit", "compute", "nps", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 1 and one_error_line(out.stderr)
    assert out.stderr == f"stickykit: error: {path}: the file is empty\n"


# -- compute -----------------------------------------------------------------------------------


def test_compute_table_hand_computed(survey: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compute", "nps", survey, "--map", "respondent_id=id"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "nps (points)"
    # NPS = (2 promoters - 1 detractor) / 4 answered = 25.0 points; 1 unanswered
    assert lines[2].split()[:2] == ["(overall)", "25.0"]
    assert lines[2].split()[5:7] == ["4", "1"]
    assert lines[-2] == "interval: adjusted Wald (Rocks 2016)"
    assert lines[-1].startswith("source: Reichheld (2003)")


def test_compute_json_equals_python(survey: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compute", "nps", survey, "--json", "--map", "respondent_id=id"], capsys)
    data = {"respondent_id": [1, 2, 3, 4, 5], "nps": [10, 9, 3, None, 8]}
    expected = compute("nps", data).to_dict()
    assert code == 0 and json.loads(out) == expected


def test_compute_by_any_column(survey: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compute", "nps", survey, "--by", "region", "--json"], capsys)
    groups = {g["group"]: g for g in json.loads(out)["groups"]}
    assert code == 0 and set(groups) == {"north", "south"}
    # north: 10, 3, 8 -> (1 - 1) / 3 = 0; south: 9 and a blank -> 1 promoter of 1 = 100
    assert groups["north"]["value"] == 0.0 and groups["north"]["n"] == 3
    assert groups["south"]["value"] == 100.0 and groups["south"]["n_missing"] == 1
    code, out, _ = run(["compute", "nps", survey, "--by", "region"], capsys)
    assert out.splitlines()[1].split()[0] == "region"


def test_compute_params_items_and_renames(survey: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # csat on 1-5, top-2 box: 5, 4, 5 of 5 answers -> 0.6
    code, out, _ = run(["compute", "csat", survey, "--param", "scale=[1, 5]", "--json"], capsys)
    assert code == 0 and json.loads(out)["value"] == pytest.approx(0.6)
    # the NPS read from another column: --param item=... or --map nps=COLUMN give the same
    by_param = run(["compute", "nps", survey, "--param", "item=csat", "--json"], capsys)[1]
    by_map = run(["compute", "nps", survey, "--map", "nps=csat", "--json"], capsys)[1]
    assert json.loads(by_param)["value"] == json.loads(by_map)["value"] == -100.0


def test_compute_events_map_config_and_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    renamed = write(tmp_path / "renamed.csv", EVENTS.replace("customer_id,timestamp", "cust,when"))
    config = write(
        tmp_path / "cols.toml",
        '[columns]\ncustomer_id = "cust"\n[columns.events]\ntimestamp = "when"\n',
    )
    table = pa.csv.read_csv(renamed)
    pq.write_table(table, tmp_path / "events.parquet")
    direct = json.loads(
        run(
            ["compute", "repeat_customer_rate", write(tmp_path / "e.csv", EVENTS), "--json"], capsys
        )[1]
    )
    mapped = ["--map", "customer_id=cust", "--map", "timestamp=when", "--json"]
    via_map = json.loads(run(["compute", "repeat_customer_rate", renamed, *mapped], capsys)[1])
    via_config = json.loads(
        run(["compute", "repeat_customer_rate", renamed, "--config", config, "--json"], capsys)[1]
    )
    via_parquet = json.loads(
        run(["compute", "repeat_customer_rate", tmp_path / "events.parquet", *mapped], capsys)[1]
    )
    # --map wins over the config file, even over its [columns.events] table
    wrong = write(tmp_path / "wrong.toml", '[columns.events]\ntimestamp = "nope"\n')
    overridden = ["--config", wrong, "--map", "timestamp=when", "--map", "customer_id=cust"]
    via_both = json.loads(
        run(["compute", "repeat_customer_rate", renamed, *overridden, "--json"], capsys)[1]
    )
    # 3 customers, one of whom (customer 1) bought on two days -> 1/3
    assert direct["value"] == pytest.approx(1 / 3)
    assert via_map == via_config == via_parquet == via_both == direct


def test_compute_chunks_and_workers_passed(
    survey: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = run(["compute", "nps", survey, "--json"], capsys)[1]
    chunked = run(["compute", "nps", survey, "--json", "--chunk-rows", "2"], capsys)[1]
    assert chunked == plain
    import stickykit.engine

    seen: dict[str, Any] = {}

    def spy(metric: Any, source: Any, **kw: Any) -> Any:
        seen.update(kw)
        return compute(metric, source)

    monkeypatch.setattr(stickykit.engine, "compute", spy)
    args = [
        "--workers",
        "2",
        "--chunk-rows",
        "3",
        "--errors",
        "quarantine",
        "--as-of",
        "2024-05-01",
    ]
    assert run(["compute", "nps", survey, *args], capsys)[0] == 0
    assert seen == {
        "workers": 2,
        "chunk_rows": 3,
        "errors": "quarantine",
        "as_of": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
    }


def test_compute_quarantine_counts_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "s.csv", "nps\n10\n11\n3\nabc\n")
    code, _, err = run(["compute", "nps", path], capsys)
    assert code == 1 and one_error_line(err)
    assert err.endswith(
        "row 3: 'abc' is invalid, expected an integer in [-128, 127]; use --errors quarantine to leave bad rows out\n"
    )
    code, out, _ = run(["compute", "nps", path, "--errors", "quarantine", "--json"], capsys)
    result = json.loads(out)
    # 'abc' rejected by the loader and 11 by the metric's 0-10 check: 10 and 3 remain -> 0.0
    assert code == 0 and result["n"] == 2 and result["value"] == 0.0
    assert "2 input rows quarantined" in "; ".join(result["flags"])


def test_json_is_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NaN (a curve beyond the data, an undefined figure) is printed as null."""
    code, out, _ = run(
        ["compute", "customer_survival", write(tmp_path / "e.csv", EVENTS), "--json"], capsys
    )
    assert code == 0 and "NaN" not in out
    json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


# -- validate ----------------------------------------------------------------------------------

BAD_EVENTS = """customer_id,timestamp,amount,name
1,2024-01-05T10:00:00,10.5,ann
1,2024-02-07T10:00:00,=cmd|' /C calc'!A0,"=HYPERLINK(""http://x"")"
,2024-01-09T10:00:00,4.0,@SUM(A1)
2,yesterday,-3.5,-2+3
"""


def test_validate_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "bad.csv", BAD_EVENTS)
    code, out, err = run(["validate", path, "--kind", "events", "--tz", "UTC"], capsys)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"{path}: 4 rows read, 1 accepted, 3 rejected"
    assert "amount @ row 1: \"=cmd|' /C calc'!A0\" is invalid" in out
    assert "timestamp @ row 3: 'yesterday' is invalid" in out
    assert run(["validate", path, "--kind", "events", "--tz", "UTC", "--strict"], capsys)[0] == 1


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_validate_rejected_csv_is_safe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "bad.csv", BAD_EVENTS)
    out_csv = tmp_path / "rejected.csv"
    args = ["validate", path, "--kind", "events", "--tz", "UTC", "--rejected", out_csv]
    code, out, _ = run(args, capsys)
    assert code == 0 and f"wrote 3 rejected rows with their reasons to {out_csv}" in out
    assert out_csv.read_bytes().startswith("\ufeff".encode())  # spreadsheets read UTF-8
    rows = read_csv(out_csv)
    assert rows[0] == ["row", "reasons", "customer_id", "timestamp", "amount", "name"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[1][4] == "'=cmd|' /C calc'!A0" and rows[1][5] == '\'=HYPERLINK("http://x")'
    assert rows[2][5] == "'@SUM(A1)" and rows[3][5] == "'-2+3"
    assert rows[2][2] == ""  # the missing customer id stays missing
    assert rows[3][1] == "timestamp: 'yesterday' is invalid, expected an ISO 8601 date-time"
    assert not any(formula_risk(cell) for row in rows for cell in row)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "rejected.csv"]


def test_formula_check_negative_control(tmp_path: Path) -> None:
    """The check finds the formulas of the input itself, so it can fail."""
    rows = read_csv(write(tmp_path / "bad.csv", BAD_EVENTS))
    assert sum(formula_risk(cell) for row in rows for cell in row) == 4


def test_validate_rejected_pseudonymised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "bad.csv", BAD_EVENTS.replace("\n1,", "\n1001,"))
    out_csv = tmp_path / "rejected.csv"
    args = ["validate", path, "--kind", "events", "--tz", "UTC", "--rejected", out_csv]
    assert run([*args, "--pseudonymise"], capsys)[0] == 0
    ids = [row[2] for row in read_csv(out_csv)[1:]]
    assert ids[0].startswith("c-") and len(ids[0]) == 18 and ids[1] == ""
    assert "1001" not in out_csv.read_text(encoding="utf-8-sig")
    assert run([*args[:-2], "--pseudonymise"], capsys)[0] == 2  # nothing to pseudonymise


def test_validate_survey_infers_items(survey: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["validate", survey, "--kind", "survey", "--map", "respondent_id=id"], capsys
    )
    # spend (300) is not a small integer; region and name are text
    assert code == 0 and "answer items: nps, csat" in out
    code, out, _ = run(["validate", survey, "--kind", "survey", "--items", "nps"], capsys)
    assert code == 0 and "answer items: nps\n" in out
    # a column named as a metric's item is an item even with a bad value, which is rejected
    bad = write(survey.with_name("bad.csv"), SURVEY.replace("3,3,2", "3,abc,2"))
    code, out, _ = run(["validate", bad, "--kind", "survey"], capsys)
    assert code == 0 and "answer items: nps, csat" in out and "4 accepted, 1 rejected" in out


def formula_risk(cell: str) -> bool:
    """A cell a spreadsheet would run as a formula (and that is not a plain number)."""
    if not cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


# -- bad input: one line, exit 1, nothing written ----------------------------------------------


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[Any], str]]:
    missing = tmp_path / "missing.csv"
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    empty = write(tmp_path / "empty.csv", "")
    header = write(tmp_path / "header.csv", "customer_id,timestamp\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b\ncaf\xe9,1\n".encode("latin-1"))
    xlsx = write(tmp_path / "data.xlsx", "x")
    other = write(tmp_path / "other.csv", "a,b\n1,2\n")
    write(tmp_path / "text.csv", "respondent_id,comment,spend\n1,great,250\n")
    all_bad = write(tmp_path / "allbad.csv", "customer_id,timestamp\n1,x\n2,y\n")
    survey = write(tmp_path / "s.csv", SURVEY)
    toml = write(tmp_path / "c.toml", "[columnz]\n")
    parquet = write(tmp_path / "bad.parquet", "not parquet")
    return {
        "missing": (["compute", "retention", missing], f"{missing}: no such file"),
        "folder": (["compute", "retention", folder], f"{folder}: is a directory, not a file"),
        "empty": (["compute", "retention", empty], f"{empty}: the file is empty"),
        "header only": (
            ["compute", "retention", header],
            f"{header}: no data rows, only a header line",
        ),
        "not utf-8": (
            ["compute", "retention", latin],
            f"{latin}: not UTF-8 text; save it as UTF-8 CSV",
        ),
        "suffix": (
            ["compute", "retention", xlsx],
            f"{xlsx}: unsupported file type '.xlsx'; use .csv or .parquet",
        ),
        "no column": (
            ["compute", "retention", other],
            f"{other}: no column 'customer_id' (columns: a, b); use --map customer_id=COLUMN",
        ),
        "mapped column absent": (
            ["compute", "retention", other, "--map", "customer_id=cust"],
            f"{other}: --map customer_id=cust: no column 'cust' (columns: a, b)",
        ),
        "unknown field": (
            ["compute", "retention", other, "--map", "custmer_id=a"],
            (
                "--map custmer_id: not a field of events data (fields: amount, currency, "
                "customer_id, event_id, kind, order_id, quantity, timestamp); did you mean "
                "'customer_id'?"
            ),
        ),
        "no valid rows": (
            ["compute", "retention", all_bad, "--errors", "quarantine", "--tz", "UTC"],
            (
                f"{all_bad}: no valid rows: all 2 rows rejected (first: timestamp @ row 0: 'x' is "
                f"invalid, expected an ISO 8601 date-time); see stickykit validate {all_bad} "
                "--kind events"
            ),
        ),
        "group column absent": (
            ["compute", "nps", survey, "--by", "wave"],
            (
                f"{survey}: no column 'wave' (columns: id, nps, csat, region, name, spend); "
                "use --map wave=COLUMN"
            ),
        ),
        "--by column absent": (
            ["compute", "nps", survey, "--by", "shop"],
            f"{survey}: --by shop: no column 'shop' (columns: id, nps, csat, region, name, spend)",
        ),
        "no answer columns": (
            ["validate", other.with_name("text.csv"), "--kind", "survey"],
            f"{other.with_name('text.csv')}: no answer columns (none named as a metric's item",
        ),
        "unknown metric": (
            ["compute", "npx", survey],
            "no metric named 'npx'; did you mean 'nps'?",
        ),
        "unknown parameter": (
            ["compute", "nps", survey, "--param", "alphaa=0.1"],
            (
                "metric 'nps' has no parameter 'alphaa' (parameters: item, by, detractor_max, "
                "promoter_min, scale, weighted, interval, alpha, min_n); did you mean 'alpha'?"
            ),
        ),
        "bad parameter": (
            ["compute", "nps", survey, "--param", "alpha=2"],
            "metric 'nps': bad parameter: alpha must be a number in (0, 1), got 2",
        ),
        "bad zone": (
            ["compute", "retention", all_bad, "--tz", "Mars/Olympus"],
            (
                f"{all_bad}: EventFrame.tz: 'Mars/Olympus' is invalid, expected an IANA time zone "
                "name such as 'Europe/Paris'"
            ),
        ),
        "bad config": (
            ["validate", survey, "--kind", "survey", "--config", toml],
            (
                f'{toml}: expected one [columns] table of FIELD = "COLUMN" entries; unknown tables '
                "or keys: columnz"
            ),
        ),
        "bad parquet": (
            ["compute", "retention", parquet],
            f"{parquet}: not a readable parquet file (",
        ),
    }


CASES = [
    "missing",
    "folder",
    "empty",
    "header only",
    "not utf-8",
    "suffix",
    "no column",
    "mapped column absent",
    "unknown field",
    "no valid rows",
    "group column absent",
    "--by column absent",
    "no answer columns",
    "unknown metric",
    "unknown parameter",
    "bad parameter",
    "bad zone",
    "bad config",
    "bad parquet",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line_exit_1(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, message = bad_inputs(tmp_path)[case]
    if case == "bad parquet":
        pytest.importorskip("pyarrow")
    code, out, err = run(args, capsys)
    assert code == 1 and out == "" and one_error_line(err)
    assert err.startswith(f"stickykit: error: {message}")


def test_parquet_without_pyarrow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    path = write(tmp_path / "e.parquet", "x")
    code, _, err = run(["compute", "retention", path], capsys)
    assert code == 1 and one_error_line(err)
    assert (
        "reading Parquet needs pyarrow and narwhals: pip install 'stickykit[arrow,dataframe]'"
        in err
    )
    # CSV still works, read by the standard library (naive times: it reads no UTC offsets)
    naive = write(tmp_path / "e.csv", EVENTS.replace("Z,", ","))
    code, out, _ = run(["compute", "repeat_customer_rate", naive, "--tz", "UTC", "--json"], capsys)
    assert code == 0 and json.loads(out)["value"] == pytest.approx(1 / 3)


# -- report ------------------------------------------------------------------------------------


class FakeReport:
    """The report contract, with a write that can be made to fail."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def write(self, path: Path) -> None:
        if self.fail:
            raise OSError(28, "No space left on device", str(path))
        Path(path).write_text("<!DOCTYPE html><title>report</title>", encoding="utf-8")


@pytest.fixture
def fake_report(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("stickykit.report")

    def build_report(events: Any = None, survey: Any = None, **kw: Any) -> FakeReport:
        if kw.get("title") == "bug":
            raise ZeroDivisionError("division by zero")
        calls.append({"events": events, "survey": survey, **kw})
        return FakeReport(fail=kw.get("title") == "fail")

    module.build_report = build_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stickykit.report", module)
    return calls


def test_report_passes_loaded_data(
    events: Path,
    survey: Path,
    tmp_path: Path,
    fake_report: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_html = tmp_path / "r.html"
    args = ["report", "--events", events, "--survey", survey, "-o", out_html, "--lang", "zh"]
    args += ["--pseudonymise", "--map", "survey.respondent_id=id", "--as-of", "2024-04-01"]
    code, out, err = run(args, capsys)
    assert code == 0 and err == "" and out_html.exists()
    call = fake_report[0]
    assert call["lang"] == "zh" and call["pseudonymise"] is True and call["demo"] is False
    assert call["as_of"] == dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    # quarantine by default: LoadResults, so the data-quality section can list what was left out
    assert call["events"].n_input == 4 and call["events"].n_rejected == 0
    assert call["survey"].accepted.items == ("nps", "csat")
    direct = load_events(events)
    assert np.array_equal(call["events"].accepted.amount, direct.amount)
    assert f"{events}: 4 rows read, 4 accepted, 0 quarantined" in out
    assert out.splitlines()[-1] == f"wrote {out_html}"


def test_report_demo_and_raise(
    events: Path,
    tmp_path: Path,
    fake_report: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["report", "--demo", "-o", tmp_path / "d.html"], capsys)[0] == 0
    assert fake_report[-1]["demo"] is True and fake_report[-1]["events"] is None
    assert (
        run(["report", "--events", events, "--errors", "raise", "-o", tmp_path / "e.html"], capsys)[
            0
        ]
        == 0
    )
    assert type(fake_report[-1]["events"]).__name__ == "EventFrame"


def test_report_bad_input_writes_nothing(
    events: Path,
    tmp_path: Path,
    fake_report: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_html = tmp_path / "r.html"
    empty = write(tmp_path / "empty.csv", "")
    code, _, err = run(["report", "--events", events, "--survey", empty, "-o", out_html], capsys)
    assert code == 1 and one_error_line(err) and not out_html.exists() and fake_report == []
    code, _, err = run(["report", "--events", events, "-o", tmp_path / "no" / "r.html"], capsys)
    assert code == 1 and "the folder" in err and "does not exist" in err
    code, _, err = run(["report", "--events", events, "-o", out_html, "--title", "fail"], capsys)
    assert code == 1 and one_error_line(err) and "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "events.csv"]


def test_unexpected_error_one_line_or_traceback(
    events: Path,
    tmp_path: Path,
    fake_report: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["report", "--events", events, "-o", tmp_path / "r.html", "--title", "bug"]
    code, _, err = run(args, capsys)
    assert code == 1 and one_error_line(err)
    assert "unexpected ZeroDivisionError: division by zero" in err and "--traceback" in err
    with pytest.raises(ZeroDivisionError):
        main(["--traceback", *map(str, args)])


def test_report_unavailable(
    events: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "stickykit.report", None)
    code, _, err = run(["report", "--events", events, "-o", tmp_path / "r.html"], capsys)
    assert code == 1 and one_error_line(err) and "the report is not available" in err


REPORT = importlib.util.find_spec("stickykit.report") is not None


@pytest.mark.skipif(not REPORT, reason="stickykit.report is not in this checkout yet")
def test_real_report_files(
    events: Path, survey: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real report from files (a few sections, to stay fast; the demo is covered by the
    report's own tests and, for the command, by the contract tests above)."""
    out_html = tmp_path / "r.html"
    hostile = write(
        tmp_path / "hostile.csv",
        SURVEY.replace("north", "<script>alert(1)</script>").replace("3,3,2", "3,abc,2"),
    )
    args = ["report", "--events", events, "--survey", hostile, "--map", "survey.segment=region"]
    code, out, err = run([*args, "--sections", "nps,cohorts,quality", "-o", out_html], capsys)
    assert code == 0 and err == ""
    assert f"{hostile}: 5 rows read, 4 accepted, 1 quarantined; answer items: nps, csat" in out
    page = out_html.read_text(encoding="utf-8")
    assert "<html" in page.lower() and "<script" not in page and "hostile.csv" in page
    empty = write(tmp_path / "empty.csv", "")
    code, _, err = run(["report", "--events", empty, "-o", tmp_path / "x.html"], capsys)
    assert code == 1 and one_error_line(err) and not (tmp_path / "x.html").exists()
