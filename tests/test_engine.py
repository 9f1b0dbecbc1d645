"""compute(): sources, chunks, worker processes, as_of, quarantine and several metrics at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from stickykit import Survey, compute, get_metric
from stickykit.engine import fold, tree_merge
from stickykit.errors import UnpicklableMetricError, ValidationError
from stickykit.frames import SurveyFrame
from stickykit.metrics.base import states_equal
from stickykit.metrics.survey import NetPromoterScore
from stickykit.testing import results_close

UTC = dt.UTC


def _survey(n: int = 5_000, seed: int = 3) -> SurveyFrame:
    rng = np.random.default_rng(seed)
    answers = rng.integers(0, 11, n).astype(np.int8)
    missing = rng.random(n) < 0.05
    times = np.datetime64("2024-01-01", "us") + rng.integers(0, 365 * 86_400_000_000, n).astype(
        "timedelta64[us]"
    )
    return SurveyFrame(
        answers={"nps": answers},
        answer_missing={"nps": missing},
        wave=rng.integers(0, 5, n),
        weight=rng.uniform(0.5, 2, n),
        answered_at=times,
    )


@pytest.mark.parametrize("chunk_rows", [1, 7, 999, 5_000, 10_000])
def test_chunked_equals_one_pass(chunk_rows: int) -> None:
    frame = _survey(2_000 if chunk_rows == 1 else 5_000)
    metric = get_metric("nps", by="wave", weighted=True)
    assert results_close(compute(metric, frame, chunk_rows=chunk_rows), compute(metric, frame))


def test_worker_processes_equal_serial() -> None:
    frame = _survey()
    metric = NetPromoterScore(by="wave")
    serial = compute(metric, frame)
    parallel = compute(metric, frame, workers=2, chunk_rows=700)
    assert results_close(serial, parallel)
    # integer state: bit for bit
    chunks = [frame.slice(i, i + 700) for i in range(0, len(frame), 700)]
    states = [metric.update(metric.init(), c) for c in chunks]
    assert np.array_equal(tree_merge(metric, states).counts, fold(metric, chunks).counts)


def test_unpicklable_metric_named() -> None:
    class Local(NetPromoterScore):  # a local class cannot be pickled
        pass

    with pytest.raises(UnpicklableMetricError, match="'nps'"):
        compute(Local(), _survey(100), workers=2)


def test_as_of_is_exclusive_and_defaults_to_latest() -> None:
    t0 = dt.datetime(2024, 3, 1, tzinfo=UTC)
    records = [
        Survey(respondent_id=i, answers={"nps": score}, answered_at=t0 + dt.timedelta(days=i))
        for i, score in enumerate([10, 10, 0, 0])
    ]
    full = compute("nps", records)
    assert full.value == 0 and full.as_of == t0 + dt.timedelta(days=3, microseconds=1)
    cut = compute("nps", records, as_of=t0 + dt.timedelta(days=2))
    assert cut.value == 100 and cut.n == 2 and cut.as_of == t0 + dt.timedelta(days=2)


def test_as_of_must_be_aware() -> None:
    with pytest.raises(ValidationError, match="as_of"):
        compute("nps", {"nps": [1]}, as_of=dt.datetime(2024, 1, 1))


def test_several_metrics_share_one_read() -> None:
    frame = _survey(1_000)
    out = compute([get_metric("nps"), get_metric("example_response_rate")], frame)
    assert set(out) == {"nps", "example_response_rate"}
    assert out["nps"].n + out["nps"].n_missing == out["example_response_rate"].n


def test_sources_agree() -> None:
    """Records, a mapping of columns, a frame and a LoadResult give the same score."""
    from stickykit.io import load_survey

    scores = [10, 9, 8, 3, None, 10]
    records = [Survey(respondent_id=i, answers={"nps": s}) for i, s in enumerate(scores)]
    mapping = {"respondent_id": list(range(6)), "nps": scores}
    frame = SurveyFrame.from_records(records)
    loaded = load_survey(mapping, items=["nps"], errors="quarantine")
    values = {compute("nps", src).value for src in (records, mapping, frame, loaded)}
    assert values == {40.0}  # 3 promoters, 1 detractor, 5 answers


def test_wrong_input_kind() -> None:
    from stickykit.datasets import load_cdnow

    with pytest.raises(TypeError, match="survey"):
        compute("nps", load_cdnow(sample=True))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="workers"):
        compute("nps", {"nps": [1]}, workers=0)
    with pytest.raises(ValueError, match="at least one"):
        compute([], {"nps": [1]})
    with pytest.raises(ValueError, match="chunk_rows"):
        compute("nps", {"nps": [1, 2, 3]}, chunk_rows=0)
    with pytest.raises(ValueError, match="errors"):
        compute("nps", {"nps": [1]}, errors="ignore")


def test_tree_merge_shapes() -> None:
    metric = NetPromoterScore()
    frame = _survey(300)
    states = [metric.update(metric.init(), frame.slice(i, i + 10)) for i in range(0, 300, 10)]
    whole = metric.update(metric.init(), frame)
    for fan_in in (2, 3, 8):
        assert states_equal(tree_merge(metric, states, fan_in), whole)
    assert states_equal(tree_merge(metric, []), metric.init())
    with pytest.raises(ValueError, match="fan_in"):
        tree_merge(metric, states, 1)


def test_progress_bar(capsys: Any) -> None:
    pytest.importorskip("tqdm")
    r = compute("nps", _survey(100), chunk_rows=10, progress=True)
    assert r.n > 0
