"""Bundled data sets: NPSgame and CDNOW.

Constants come from the data sources' own descriptions (``/work/shared/data/README.md``):
NPSgame (BenaventC/NPSgame, CC0 1.0), 13,954 responses; CDNOW (Fader & Hardie 2001, copy
distributed with ``lifetimes``), 23,570 customers and 69,659 purchases, the 1/10 sample 2,357
customers and 6,919 purchases. Where the reference copies exist they are read with pandas and
compared too; the tests pass on the constants alone elsewhere.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from stickykit.datasets import load_cdnow, load_npsgame, load_telco, npsgame_columns
from stickykit.frames import EventFrame, SurveyFrame

SHARED = Path("/work/shared/data")
NPS_CSV = SHARED / "npsgame" / "nps.csv"
CDNOW_MASTER = SHARED / "cdnow" / "CDNOW_master.txt"
CDNOW_SAMPLE = SHARED / "cdnow" / "CDNOW_sample.txt"


def read_reference(path: Path, **kwargs):
    """The reference file read with pandas, or a skip where it is absent."""
    if not path.exists():
        pytest.skip(f"reference copy {path} not present")
    pd = pytest.importorskip("pandas")
    return pd.read_csv(path, **kwargs)


@functools.cache
def npsgame() -> SurveyFrame:
    return load_npsgame()


@functools.cache
def cdnow(*, sample: bool) -> EventFrame:
    return load_cdnow(sample=sample)


def nps_categories(scores: np.ndarray) -> tuple[int, int, int, int]:
    """Promoters (9-10), passives (7-8), detractors (0-6) and missing, by plain numpy."""
    present = ~np.isnan(scores)
    promoters = int(np.sum(present & (scores >= 9)))
    passives = int(np.sum(present & (scores >= 7) & (scores <= 8)))
    detractors = int(np.sum(present & (scores <= 6)))
    return promoters, passives, detractors, int(np.sum(~present))


# ---------------------------------------------------------------- NPSgame


def test_npsgame_shape():
    f = npsgame()
    assert len(f) == 13_954
    assert f.items == ("nps", "satisfaction", "intention")
    assert int(f.answer_missing["nps"].sum()) == 342
    assert f.respondent_id.dtype == np.int64
    assert all(f.answers[item].dtype == np.int8 for item in f.items)
    assert all(f.answers[item].min() >= 0 and f.answers[item].max() <= 10 for item in f.items)


def test_npsgame_waves():
    f = npsgame()
    missing = f.label_missing["wave"]
    assert int(missing.sum()) == 18
    assert np.unique(f.wave[~missing]).tolist() == list(range(18))


def test_npsgame_columns_raw():
    cols = npsgame_columns()
    assert set(cols) == {
        "id",
        "nps",
        "satisfaction",
        "intention",
        "explication",
        "NbPassageKS",
        "CaTicket",
        "t",
    }
    assert all(len(col) == 13_954 for col in cols.values())
    assert int(np.isnan(cols["nps"]).sum()) == 342
    assert int(np.isnan(cols["t"]).sum()) == 18
    assert np.nanmin(cols["t"]) == 0
    assert np.nanmax(cols["t"]) == 17


def test_npsgame_categories_match_a_count_by_hand():
    by_hand = nps_categories(npsgame_columns()["nps"])
    assert sum(by_hand) == 13_954
    f = npsgame()
    answered = ~f.answer_missing["nps"]
    scores = f.answers["nps"][answered]
    from_frame = (
        int(np.sum(scores >= 9)),
        int(np.sum((scores >= 7) & (scores <= 8))),
        int(np.sum(scores <= 6)),
        int(np.sum(~answered)),
    )
    assert from_frame == by_hand
    # the frame holds every answer of the file, row by row
    raw = npsgame_columns()["nps"]
    np.testing.assert_array_equal(f.answers["nps"][answered], raw[answered].astype(np.int8))


def test_npsgame_against_the_reference_file():
    ref = read_reference(NPS_CSV, encoding="latin-1")
    f = npsgame()
    assert len(ref) == len(f) == 13_954
    np.testing.assert_array_equal(f.respondent_id, ref["id"].to_numpy())
    for item in f.items:
        expected_missing = ref[item].isna().to_numpy()
        np.testing.assert_array_equal(f.answer_missing[item], expected_missing)
        np.testing.assert_array_equal(
            f.answers[item][~expected_missing], ref[item].to_numpy()[~expected_missing]
        )
    assert nps_categories(ref["nps"].to_numpy(dtype=float)) == nps_categories(
        npsgame_columns()["nps"]
    )
    assert int(ref["t"].isna().sum()) == int(f.label_missing["wave"].sum())


# ---------------------------------------------------------------- CDNOW


def test_cdnow_master():
    f = cdnow(sample=False)
    assert len(f) == 69_659
    assert len(np.unique(f.customer_id)) == 23_570
    assert f.timestamp.min() == np.datetime64("1997-01-01T00:00", "us")
    assert f.timestamp.max() == np.datetime64("1998-06-30T00:00", "us")
    # midnight UTC of the purchase day
    assert np.all(f.timestamp == f.timestamp.astype("datetime64[D]"))
    assert f.event_id.tolist()[:3] == [0, 1, 2]
    assert set(f.kind.tolist()) == {"purchase"}
    assert set(f.currency.tolist()) == {"USD"}
    assert np.all(f.quantity >= 1)
    assert np.all(f.amount >= 0)


def test_cdnow_first_purchases_fall_in_the_first_quarter_of_1997():
    f = cdnow(sample=False)
    order = np.lexsort((f.timestamp, f.customer_id))
    ids = f.customer_id[order]
    first = np.r_[True, ids[1:] != ids[:-1]]
    assert f.timestamp[order][first].max() < np.datetime64("1997-04-01", "us")


def test_cdnow_total_amount_equals_the_file_column():
    f = cdnow(sample=False)
    total = float(f.amount.sum())
    np.testing.assert_allclose(total, 2_500_315.63, rtol=1e-12)
    assert int(f.quantity.sum()) == 167_881


def test_cdnow_against_the_reference_file():
    ref = read_reference(CDNOW_MASTER, sep=r"\s+")
    f = cdnow(sample=False)
    total = float(f.amount.sum())
    assert len(ref) == len(f)
    np.testing.assert_allclose(total, ref["dollar_value"].sum(), rtol=1e-12)
    assert ref["customer_id"].nunique() == len(np.unique(f.customer_id))
    assert int(ref["number_of_cds"].sum()) == int(f.quantity.sum())
    np.testing.assert_array_equal(f.customer_id, ref["customer_id"].to_numpy())
    np.testing.assert_array_equal(f.amount, ref["dollar_value"].to_numpy())


def test_cdnow_sample():
    f = cdnow(sample=True)
    assert len(f) == 6_919
    assert len(np.unique(f.customer_id)) == 2_357
    assert f.timestamp.min() == np.datetime64("1997-01-01", "us")
    assert f.timestamp.max() <= np.datetime64("1998-06-30", "us")
    np.testing.assert_allclose(float(f.amount.sum()), 244_091.94, rtol=1e-12)


def test_cdnow_sample_against_the_reference_file():
    ref = read_reference(
        CDNOW_SAMPLE,
        sep=r"\s+",
        header=None,
        names=["customer_id", "sample_id", "date", "cds", "amount"],
    )
    f = cdnow(sample=True)
    assert len(ref) == len(f) == 6_919
    assert ref["customer_id"].nunique() == 2_357
    np.testing.assert_allclose(float(f.amount.sum()), ref["amount"].sum(), rtol=1e-12)
    days = ref["date"].astype(str).to_numpy()
    iso = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days], dtype="datetime64[us]")
    np.testing.assert_array_equal(f.timestamp, iso)


def test_the_sample_is_a_subset_of_the_master():
    master, sample = cdnow(sample=False), cdnow(sample=True)
    assert np.isin(np.unique(sample.customer_id), master.customer_id).all()


# ---------------------------------------------------------------- IBM telco churn

TELCO_CSV = SHARED / "telco" / "Telco-Customer-Churn.csv"


@functools.cache
def telco() -> dict[str, np.ndarray]:
    return load_telco()


def test_telco_columns():
    cols = telco()
    assert len(cols) == 21
    assert all(len(col) == 7_043 for col in cols.values())
    assert len(np.unique(cols["customerID"])) == 7_043
    assert cols["tenure"].dtype == np.int64
    assert (int(cols["tenure"].min()), int(cols["tenure"].max())) == (0, 72)
    assert cols["Churn"].dtype == np.bool_
    assert int(cols["Churn"].sum()) == 1_869
    assert int(cols["SeniorCitizen"].sum()) == 1_142
    assert int(cols["PhoneService"].sum()) == 6_361
    # TotalCharges is blank exactly for the customers of tenure 0
    blank = np.isnan(cols["TotalCharges"])
    assert int(blank.sum()) == 11
    np.testing.assert_array_equal(blank, cols["tenure"] == 0)
    assert not np.isnan(cols["MonthlyCharges"]).any()
    assert sorted(set(cols["Contract"].tolist())) == ["Month-to-month", "One year", "Two year"]


def test_telco_against_the_reference_file():
    ref = read_reference(TELCO_CSV)
    cols = telco()
    assert list(ref.columns) == list(cols)
    np.testing.assert_array_equal(cols["customerID"], ref["customerID"].to_numpy(dtype=str))
    np.testing.assert_array_equal(cols["tenure"], ref["tenure"].to_numpy())
    np.testing.assert_array_equal(cols["Churn"], (ref["Churn"] == "Yes").to_numpy())
    np.testing.assert_array_equal(cols["SeniorCitizen"], ref["SeniorCitizen"].to_numpy() == 1)
    np.testing.assert_array_equal(cols["MonthlyCharges"], ref["MonthlyCharges"].to_numpy())
    total = pd_numeric(ref["TotalCharges"])
    np.testing.assert_array_equal(cols["TotalCharges"], total)
    for name in ("Contract", "PaymentMethod", "InternetService"):
        np.testing.assert_array_equal(cols[name], ref[name].to_numpy(dtype=str))


def pd_numeric(series) -> np.ndarray:
    pd = pytest.importorskip("pandas")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
