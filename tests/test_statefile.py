"""Safe state files: round trips, incremental runs, and every refusal."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stickykit import get_metric, load_events, load_survey
from stickykit.errors import StateFileError
from stickykit.io import statefile
from stickykit.io.statefile import load_arrays, load_state, read_header, save_arrays, save_state
from stickykit.metrics.base import states_equal


def _survey(scores: list[int]) -> object:
    return load_survey({"nps": scores}, items=["nps"])


def test_arrays_round_trip(tmp_path: Path) -> None:
    arrays = {
        "f": np.array([1.5, np.nan]),
        "i": np.arange(3, dtype=np.int32),
        "u": np.array([2**63], dtype=np.uint64),
        "s": np.array(["a", "bc"]),
        "t": np.array(["2024-01-01"], dtype="datetime64[us]"),
    }
    save_arrays(tmp_path / "a.npz", kind="model", name="M", fingerprint="x", arrays=arrays)
    loaded, meta = load_arrays(tmp_path / "a.npz", kind="model", name="M", fingerprint="x")
    assert meta == {}
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="object dtype"):
        save_arrays(
            tmp_path / "a.npz",
            kind="model",
            name="M",
            fingerprint="x",
            arrays={"o": np.array([{}, 1], dtype=object)},
        )
    assert not list(tmp_path.iterdir()), "a refused write leaves no file behind"


@pytest.mark.parametrize(
    ("kind", "name", "fingerprint", "message"),
    [
        ("metric-state", "M", "x", "holds model"),
        ("model", "Other", "x", "not 'Other'"),
        ("model", "M", "y", "other parameters"),
    ],
)
def test_mismatches_are_refused(
    tmp_path: Path, kind: str, name: str, fingerprint: str, message: str
) -> None:
    save_arrays(tmp_path / "a.npz", kind="model", name="M", fingerprint="x", arrays={})
    with pytest.raises(StateFileError, match=message):
        load_arrays(tmp_path / "a.npz", kind=kind, name=name, fingerprint=fingerprint)


def test_another_version_or_format_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_arrays(tmp_path / "a.npz", kind="model", name="M", fingerprint="x", arrays={})
    monkeypatch.setattr(statefile, "_package_version", lambda: "99.0")
    with pytest.raises(StateFileError, match="written by stickykit"):
        load_arrays(tmp_path / "a.npz", kind="model", name="M")
    monkeypatch.setattr(statefile, "FILE_FORMAT", 2)
    with pytest.raises(StateFileError, match="file format 1"):
        load_arrays(tmp_path / "a.npz", kind="model", name="M")


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    save_arrays(path, kind="model", name="M", fingerprint="x", arrays={"v": np.ones(1000)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateFileError):
        load_arrays(path, kind="model", name="M")
    (tmp_path / "b.npz").write_bytes(b"not a zip file")
    with pytest.raises(StateFileError, match="cannot be read"):
        read_header(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", v=np.ones(2))
    with pytest.raises(StateFileError, match="no header"):
        read_header(tmp_path / "c.npz")


def test_a_dtype_that_differs_from_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    save_arrays(path, kind="model", name="M", fingerprint="x", arrays={"v": np.ones(2)})
    with np.load(path) as archive:
        header = json.loads(str(archive["__header__"][()]))
    header["dtypes"]["v"] = "<i8"
    np.savez(path, v=np.ones(2), __header__=np.array(json.dumps(header)))
    with pytest.raises(StateFileError, match="dtype"):
        load_arrays(path, kind="model", name="M")


def test_loading_never_unpickles(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    header = {
        "format": 1,
        "package_version": statefile._package_version(),
        "kind": "model",
        "name": "M",
        "fingerprint": "x",
        "dtypes": {"v": "|O"},
        "meta": {},
    }
    np.savez(
        path,
        v=np.array([object()], dtype=object),
        __header__=np.array(json.dumps(header)),
        allow_pickle=True,
    )
    with pytest.raises(StateFileError):
        load_arrays(path, kind="model", name="M")


def test_the_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.npz"
    save_arrays(path, kind="model", name="M", fingerprint="x", arrays={"v": np.zeros(3)})
    before = path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        save_arrays(path, kind="model", name="M", fingerprint="x", arrays={"v": np.ones(3)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]
    assert zipfile.is_zipfile(path)


def test_state_round_trip_with_string_group_labels(tmp_path: Path) -> None:
    nps = get_metric("nps")
    frame = load_survey({"nps": [10, 3, 9, 9], "segment": ["a", "b", "a", "c"]}, items=["nps"])
    metric = attrs.evolve(nps, by="segment")
    state = metric.update(metric.init(), frame)
    save_state(metric, state, tmp_path / "s.npz")
    loaded = load_state(metric, tmp_path / "s.npz")
    assert states_equal(loaded, state)
    assert metric.finalize(loaded) == metric.finalize(state)


def test_a_state_of_other_parameters_is_refused(tmp_path: Path) -> None:
    nps = get_metric("nps")
    save_state(nps, nps.init(), tmp_path / "s.npz")
    with pytest.raises(StateFileError, match="other parameters"):
        load_state(attrs.evolve(nps, alpha=0.1), tmp_path / "s.npz")
    with pytest.raises(StateFileError, match="does not belong"):
        save_state(get_metric("csat"), nps.init(), tmp_path / "t.npz")


def test_a_nested_state_round_trips(tmp_path: Path) -> None:
    events = load_events(
        {
            "customer_id": [1, 2, 1],
            "timestamp": np.array(["2024-01-02", "2024-02-03", "2024-03-04"], "datetime64[us]"),
            "amount": [10.0, 5.0, 7.5],
        },
        tz="UTC",
    )
    metric = get_metric("historical_clv")
    state = metric.update(metric.init(), events)
    save_state(metric, state, tmp_path / "s.npz")
    assert states_equal(load_state(metric, tmp_path / "s.npz"), state)


@given(
    scores=st.lists(st.integers(0, 10), min_size=1, max_size=60),
    cut=st.integers(0, 60),
)
def test_daily_job_equals_full_recomputation(scores: list[int], cut: int) -> None:
    """Yesterday's saved state plus today's rows gives the full recomputation."""
    import tempfile

    nps = get_metric("nps")
    cut = min(cut, len(scores))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nps.npz"
        yesterday = nps.update(nps.init(), _survey(scores[:cut])) if cut else nps.init()
        save_state(nps, yesterday, path)
        today = _survey(scores[cut:]) if cut < len(scores) else None
        resumed = load_state(nps, path)
        if today is not None:
            resumed = nps.update(resumed, today)
    full = nps.update(nps.init(), _survey(scores))
    assert states_equal(resumed, full)


def test_negative_control_a_lossy_save_breaks_the_daily_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If saving dropped a field's values, the incremental law would catch it."""
    real = statefile._plain_array

    def lossy(key: str, array: np.ndarray) -> tuple[np.ndarray, str | None]:
        out, tag = real(key, array)
        return (out[:0] if key == "counts" else out), tag

    monkeypatch.setattr(statefile, "_plain_array", lossy)
    nps = get_metric("nps")
    state = nps.update(nps.init(), _survey([10, 9, 0]))
    save_state(nps, state, tmp_path / "s.npz")
    assert not states_equal(load_state(nps, tmp_path / "s.npz"), state)
