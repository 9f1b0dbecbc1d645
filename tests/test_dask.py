"""stickykit.dask on a real distributed.LocalCluster: every registered metric, any partitioning.

One cluster of two worker processes (one thread each) serves the whole module; tests that need
no cluster use dask's synchronous scheduler. Metric classes defined here are built inside a
function, so distributed sends them by value (cloudpickle, with this module registered by
value for the helpers they call) and the workers never import this module. The scheduler
allows one worker death per task (``distributed.scheduler.allowed-failures = 1``, read when
the scheduler starts): a task whose worker dies once runs again; a second death is final.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import cloudpickle
import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import stickykit.dask as sdask
from stickykit.dask import DaskRunError, dask_run
from stickykit.datasets import programme_events
from stickykit.engine._compute import compute, compute_states
from stickykit.errors import (
    InsufficientDataError,
    MissingDependencyError,
    UnpicklableMetricError,
    ValidationError,
)
from stickykit.metrics.base import states_equal
from stickykit.metrics.survey.nps import NetPromoterScore
from stickykit.plugins.registry import default_registry, get_metric
from stickykit.testing import results_close

cloudpickle.register_pickle_by_value(sys.modules[__name__])

REGISTRY = default_registry()
NAMES = REGISTRY.names()
KINDS = {name: REGISTRY.get(name).input_kind for name in NAMES}

#: Cut points of the fixed splits: 1 partition; 3; 7 with an empty one and one-row ones.
SPLITS = {1: [], 3: [20, 41], 7: [1, 2, 17, 17, 40, 59]}


# --------------------------------------------------------------------------- data


def _survey_items() -> dict[str, tuple[int, int]]:
    scales: dict[str, tuple[int, int]] = {}
    for name in NAMES:
        metric = REGISTRY.get(name)
        if metric.input_kind == "survey":
            declared = getattr(metric, "scales", None)
            scales.update(declared or dict.fromkeys(getattr(metric, "requires", ()), (0, 10)))
    return scales


def survey_data(n: int = 60, seed: int = 7) -> pd.DataFrame:
    """Answers to every registered survey item; respondents answer in wave 1 and again in 2."""
    rng = np.random.default_rng(seed)
    half = n // 2
    columns: dict[str, Any] = {
        "respondent_id": 100 + np.arange(n) % half,
        "customer_id": rng.integers(0, 20, n),
        "answered_at": pd.to_datetime(
            1_700_000_000 + rng.integers(0, 200 * 86_400, n), unit="s", utc=True
        ),
        "weight": rng.uniform(0.5, 2.0, n).round(2),
        "wave": np.where(np.arange(n) < half, 1, 2),
        "segment": rng.choice(["north", "south"], n),
    }
    for item, (lo, hi) in _survey_items().items():
        answers = rng.integers(lo, hi + 1, n).astype(float)
        answers[rng.random(n) < 0.1] = np.nan
        columns[item] = answers
    return pd.DataFrame(columns)


def event_data(n: int = 80, seed: int = 11) -> pd.DataFrame:
    """Purchases and visits of 15 customers over 400 days, then the programme events
    (enrollments, points, tiers, complaints) of 150 other customers, so that every
    registered events metric has something to compute."""
    rng = np.random.default_rng(seed)
    seconds = 1_700_000_000 + rng.integers(0, 400 * 86_400, n)
    shop = pd.DataFrame(
        {
            "event_id": np.arange(n),
            "customer_id": rng.integers(0, 15, n),
            "timestamp": pd.to_datetime(seconds, unit="s", utc=True),
            "kind": rng.choice(["purchase", "visit"], n),
            "amount": rng.integers(0, 100_000, n) / 100,
            "quantity": rng.integers(1, 6, n),
            "order_id": (5_000 + np.arange(n)).astype(str),
            "currency": "USD",
        }
    )
    programme = programme_events(150, seed=seed)
    members = pd.DataFrame(
        {
            "event_id": n + np.arange(len(programme)),
            "customer_id": 1_000 + programme.customer_id,
            "timestamp": pd.to_datetime(programme.timestamp).tz_localize("UTC"),
            "kind": programme.kind,
            "amount": programme.amount,
            "quantity": programme.quantity,
            "order_id": programme.order_id,
            "currency": "USD",
        }
    )
    return pd.concat([shop, members], ignore_index=True)


def customer_data(n: int = 40, seed: int = 13) -> pd.DataFrame:
    """Customers with acquisition times and segments."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "acquired_at": pd.to_datetime(
                1_600_000_000 + rng.integers(0, 900 * 86_400, n), unit="s", utc=True
            ),
            "segment": rng.choice(["a", "b", "c"], n),
        }
    )


DATA = {"survey": survey_data, "events": event_data, "customers": customer_data}


def partitioned(frame: pd.DataFrame, cuts: list[int]) -> Any:
    """A dask DataFrame whose partitions are ``frame`` cut at ``cuts`` (empty ones kept).

    Text columns become pyarrow strings, as ``dd.from_pandas`` and ``dd.read_parquet`` make
    them, while the single-process runs read the original object columns.
    """
    text = {name: "string[pyarrow]" for name in frame.columns if frame[name].dtype == object}
    frame = frame.astype(text)
    pieces = [frame.iloc[a:b] for a, b in itertools.pairwise([0, *cuts, len(frame)])]
    ddf = dd.from_delayed(
        [dask.delayed(piece) for piece in pieces], meta=frame.iloc[:0], verify_meta=False
    )
    assert ddf.npartitions == len(pieces)
    return ddf


def same_states(expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Integer fields exactly, floats to rtol 1e-12 and atol 1e-12 x max(1, max |x|)."""
    assert set(expected) == set(got)
    for name, state in expected.items():
        assert states_equal(state, got[name], rtol=1e-12, atol=1e-12), f"{name}: states differ"


def same_counts(expected: Any, got: Any) -> None:
    """Read summaries agree on every count (row numbers differ: dask numbers them per partition)."""
    assert got.n_accepted + got.n_rejected == got.n_read
    assert (got.n_read, got.n_accepted, got.n_rejected) == (
        expected.n_read,
        expected.n_accepted,
        expected.n_rejected,
    )
    assert got.rejected_by_field == expected.rejected_by_field


def finalized(metric: Any, state: Any) -> Any:
    try:
        return metric.finalize(state)
    except InsufficientDataError:
        return None


# --------------------------------------------------------------------------- test metrics


def _in_worker() -> bool:
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def _test_metrics() -> tuple[Any, Any]:
    """Test metric classes, built in a function so that workers receive them by value.

    The standard pickle refuses local classes, so distributed falls back to cloudpickle, which
    sends the class itself (and, with this module registered by value, the helpers it calls):
    the workers never import this test module (which would import pytest and hypothesis there).
    """

    @attrs.frozen
    class KillingNPS(NetPromoterScore):
        """The NPS, but ``update`` ends its worker process (never the test process).

        With ``poison_wave`` set, every update of a frame holding answers of that wave kills
        the worker; otherwise only the first update anywhere does (the one creating ``marker``).
        """

        name: ClassVar[str] = "killing_nps"
        marker: str = ""
        poison_wave: int | None = None

        def update(self, state: Any, frame: Any) -> Any:
            if _in_worker():
                if self.poison_wave is not None:
                    if np.any(frame.wave == self.poison_wave):
                        os._exit(1)
                else:
                    try:
                        handle = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                    except FileExistsError:
                        pass
                    else:
                        os.close(handle)
                        os._exit(1)
            return NetPromoterScore.update(self, state, frame)

    @attrs.frozen
    class DoubleRightNPS(NetPromoterScore):
        """Broken on purpose: ``merge`` counts the right state twice (not associative).

        The NPS ``update`` merges each frame's counts into the state, so updates double too;
        what matters is that the result depends on the shape of the merge tree.
        """

        name: ClassVar[str] = "double_right_nps"

        def merge(self, a: Any, b: Any) -> Any:
            return NetPromoterScore.merge(self, a, NetPromoterScore.merge(self, b, b))

    return KillingNPS, DoubleRightNPS


KillingNPS, DoubleRightNPS = _test_metrics()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    # the scheduler reads allowed-failures when it starts
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        )
    with cluster, Client(cluster) as started:
        yield started


@pytest.fixture
def cluster_client(client: Client) -> Client:
    """The module's client, with both workers up (a test may have killed one)."""
    client.wait_for_workers(2, timeout=60)
    return client


@pytest.fixture(scope="module")
def runs(client: Client) -> Any:
    """States of every registered metric by input kind, serial and on the cluster (cached)."""
    cache: dict[tuple[Any, ...], Any] = {}

    def get(kind: str, parts: int | None, split_every: int = 8, errors: str = "raise") -> Any:
        key = (kind, parts, split_every, errors)
        if key not in cache:
            names = [name for name in NAMES if KINDS[name] == kind]
            data = DATA[kind]()
            if errors == "quarantine":
                data = with_bad_values(kind, data)
            source = data if parts is None else partitioned(data, SPLITS[parts])
            client.wait_for_workers(2, timeout=60)
            cache[key] = compute_states(names, source, errors=errors, split_every=split_every)
        return cache[key]

    return get


def with_bad_values(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Values the loaders or the metrics refuse, in several partitions of every split."""
    frame = frame.copy()
    if kind == "survey":
        frame.loc[[3, 18, 44], "nps"] = 11.0
        frame.loc[[18, 50], "weight"] = -1.0
    elif kind == "events":
        frame.loc[[5, 42], "amount"] = np.nan
        frame.loc[[42, 70], "quantity"] = -2
    else:
        frame.loc[[4, 30], "acquired_at"] = pd.NaT
    return frame


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize("parts", sorted(SPLITS))
@pytest.mark.parametrize("name", NAMES)
def test_every_metric_equals_serial(runs: Any, name: str, parts: int) -> None:
    kind = KINDS[name]
    serial, distributed = runs(kind, None), runs(kind, parts)
    same_states({name: serial.states[name]}, {name: distributed.states[name]})
    metric = REGISTRY.get(name)
    expected, got = (
        finalized(metric, serial.states[name]),
        finalized(metric, distributed.states[name]),
    )
    assert expected is not None, f"{name}: the test data give no result to compare"
    assert got is not None and results_close(expected, got)
    assert distributed.summary.n_batches == parts
    same_counts(serial.summary, distributed.summary)


@pytest.mark.parametrize("name", NAMES)
def test_split_every_does_not_change_the_result(runs: Any, name: str) -> None:
    kind = KINDS[name]
    wide, narrow = runs(kind, 7, split_every=8), runs(kind, 7, split_every=2)
    assert states_equal(wide.states[name], narrow.states[name]), f"{name}: states differ"


@pytest.mark.parametrize("name", NAMES)
def test_quarantine_counts_equal_serial(runs: Any, name: str) -> None:
    kind = KINDS[name]
    serial = runs(kind, None, errors="quarantine")
    distributed = runs(kind, 7, errors="quarantine")
    assert serial.summary.n_rejected > 0
    same_counts(serial.summary, distributed.summary)
    same_states({name: serial.states[name]}, {name: distributed.states[name]})


def test_fixed_splits_have_an_empty_partition() -> None:
    ddf = partitioned(survey_data(), SPLITS[7])
    with dask.config.set(scheduler="synchronous"):
        sizes = ddf.map_partitions(len).compute().tolist()
    assert sizes == [1, 1, 15, 0, 23, 19, 1]


def test_tree_shape_dependence_is_caught(cluster_client: Client) -> None:
    """Negative control: a merge that is not associative gives different results by fan-in."""
    ddf = partitioned(survey_data(), SPLITS[7])
    metric = DoubleRightNPS()
    wide = compute_states(metric, ddf, split_every=8).states
    narrow = compute_states(metric, ddf, split_every=2).states
    with pytest.raises(AssertionError, match="states differ"):
        same_states(wide, narrow)


def test_lost_partitions_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a merge tree that drops partial results fails both checks."""

    def drop_right(metrics: Any, parts: Any) -> Any:
        return parts[0]

    data = with_bad_values("survey", survey_data())
    serial = compute_states("nps", data, errors="quarantine")
    monkeypatch.setattr(sdask, "_merge_parts", drop_right)
    with dask.config.set(scheduler="synchronous"):
        broken = compute_states("nps", partitioned(data, SPLITS[3]), errors="quarantine")
    with pytest.raises(AssertionError, match="states differ"):
        same_states(serial.states, broken.states)
    with pytest.raises(AssertionError):
        same_counts(serial.summary, broken.summary)


def test_hand_computed_nps_on_the_cluster(cluster_client: Client) -> None:
    answers = pd.DataFrame({"nps": [10, 9, 3, 7, 0, 10, 9, 8]})
    result = compute("nps", partitioned(answers, [3, 3, 6]))  # partitions of 3, 0, 3, 2 rows
    # promoters 10, 9, 10, 9; passives 7, 8; detractors 3, 0: 100 * (4 - 2) / 8 = 25
    assert (result.value, result.n) == (25.0, 8)


def test_compute_results_match(cluster_client: Client) -> None:
    data = survey_data()
    metric = get_metric("nps", by="wave")
    assert results_close(compute(metric, partitioned(data, SPLITS[7])), compute(metric, data))


# --------------------------------------------------------------------------- bad input


def test_bad_value_names_partition_and_row(cluster_client: Client) -> None:
    data = survey_data()
    ddf = partitioned(data, SPLITS[3])
    compute("nps", ddf)  # clean data: no error
    data.loc[20 + 3, "nps"] = 12.0  # partition 1 starts at row 20
    with pytest.raises(ValidationError, match=r"^dask partition 1 of 3: .*nps @ row 3: 12") as err:
        compute("nps", partitioned(data, SPLITS[3]))
    assert (err.value.field, err.value.row, err.value.source) == ("nps", 3, "dask partition 1 of 3")


def test_bad_event_names_partition_and_row(cluster_client: Client) -> None:
    data = event_data()
    data["quantity"] = data["quantity"].astype(float)
    data.loc[41 + 2, "quantity"] = 1.5  # partition 2 starts at row 41
    with pytest.raises(ValidationError, match=r"^dask partition 2 of 3: .*quantity @ row 2") as err:
        compute("rfm", partitioned(data, SPLITS[3]))
    assert err.value.row == 2


def test_quarantine_reasons_name_partitions(runs: Any) -> None:
    summary = runs("survey", 7, errors="quarantine").summary
    sources = {reason.source for reason in summary.reasons}
    # partitions start at rows 0, 1, 2, 17, 17, 40, 59: bad rows 3, 18, 44 and 50 are rows
    # 3 - 2 = 1 of partition 2, 18 - 17 = 1 of partition 4, 44 - 40 = 4 and 50 - 40 = 10 of 5
    assert sources == {f"dask partition {i} of 7" for i in (2, 4, 5)}
    assert sorted({(r.source, r.row) for r in summary.reasons}) == [
        ("dask partition 2 of 7", 1),
        ("dask partition 4 of 7", 1),
        ("dask partition 5 of 7", 4),
        ("dask partition 5 of 7", 10),
    ]


# --------------------------------------------------------------------------- dask specifics


def test_only_wanted_columns_are_computed() -> None:
    def explode(part: pd.DataFrame) -> pd.Series:
        msg = "an unwanted column was computed"
        raise RuntimeError(msg)

    ddf = partitioned(survey_data(), SPLITS[3])
    ddf = ddf.assign(unwanted=ddf["nps"].map_partitions(explode, meta=("unwanted", "f8")))
    with dask.config.set(scheduler="synchronous"):
        assert compute("nps", ddf[["nps"]]).n == compute("nps", ddf).n
        with pytest.raises(RuntimeError, match="unwanted column"):
            dask_run([get_metric("nps")], ddf, columns={"nps", "unwanted"})


def test_index_read_as_column() -> None:
    data = event_data()
    ddf = dd.from_pandas(data.set_index("customer_id"), npartitions=3)
    with dask.config.set(scheduler="synchronous"):
        got = compute_states("rfm", ddf).states["rfm"]
    expected = compute_states("rfm", data).states["rfm"]
    assert len(got) == data["customer_id"].nunique()
    assert states_equal(expected, got), "rfm: states differ"


def test_renamed_columns() -> None:
    data = event_data().rename(columns={"customer_id": "client", "timestamp": "at"})
    names = {"customer_id": "client", "timestamp": "at"}
    with dask.config.set(scheduler="synchronous"):
        got = compute_states("rfm", partitioned(data, SPLITS[3]), columns=names).states["rfm"]
    expected = compute_states("rfm", data, columns=names).states["rfm"]
    assert len(got) == data["client"].nunique()
    assert states_equal(expected, got), "rfm: states differ"


def test_unpicklable_metric_named() -> None:
    @attrs.frozen
    class Locked(NetPromoterScore):
        lock: Any = attrs.field(factory=threading.Lock)

    with pytest.raises(UnpicklableMetricError, match="metric 'nps'"):
        dask_run([Locked()], partitioned(survey_data(), SPLITS[3]))


def test_as_of_cutoff_like_serial() -> None:
    data = event_data()
    as_of = pd.Timestamp("2024-06-01", tz="UTC").to_pydatetime()
    with dask.config.set(scheduler="synchronous"):
        got = compute_states("rfm", partitioned(data, SPLITS[3]), as_of=as_of).states
    same_states(compute_states("rfm", data, as_of=as_of).states, got)
    with pytest.raises(AssertionError):  # negative control: the cutoff changes the state
        same_states(compute_states("rfm", data).states, got)


def test_bad_arguments() -> None:
    ddf = partitioned(survey_data(), SPLITS[3])
    nps = get_metric("nps")
    for split_every in (1, 0, True):
        with pytest.raises(ValueError, match="split_every"):
            dask_run([nps], ddf, split_every=split_every)
    with pytest.raises(ValueError, match="errors"):
        dask_run([nps], ddf, errors="ignore")
    with pytest.raises(ValueError, match="one input kind"):
        dask_run([nps, get_metric("rfm")], ddf)
    with pytest.raises(TypeError, match="dask DataFrame"):
        dask_run([nps], ddf["nps"])
    with pytest.raises(ValidationError, match="as_of"):
        dask_run([nps], ddf, as_of=pd.Timestamp("2024-01-01").to_pydatetime())


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(MissingDependencyError, match=r"stickykit\[dask\]"):
        dask_run([get_metric("nps")], object())


def test_run_error_pickles_and_names_merges() -> None:
    err = DaskRunError(
        metrics=["nps", "csat"],
        task="('stickykit-merge-ab', 1, 0)",
        partitions=(0, 1),
        n_partitions=3,
        attempts=2,
        worker=None,
    )
    assert "metrics 'nps', 'csat' failed on the merge of dask partitions 0 to 1 of 3" in str(err)
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


# --------------------------------------------------------------------------- killed workers
# last in the module: the nannies take a moment to restart the killed workers


def test_killed_worker_is_retried(cluster_client: Client, tmp_path: Any) -> None:
    data = survey_data()
    marker = tmp_path / "killed"
    metric = KillingNPS(marker=str(marker))
    got = compute_states(metric, partitioned(data, SPLITS[3])).states
    assert marker.exists(), "no worker was killed: the test proves nothing"
    same_states(compute_states(metric, data).states, got)


def test_task_that_always_kills_raises(cluster_client: Client) -> None:
    data = survey_data()
    metric = KillingNPS(poison_wave=2)  # rows 30 to 59: partition 1 of 2
    with pytest.raises(DaskRunError, match=r"metric 'killing_nps' failed on dask partition 1 of 2"):
        compute_states(metric, partitioned(data, [30]))
