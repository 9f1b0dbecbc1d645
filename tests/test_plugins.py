"""The plugin registry: built-ins through the hook, entry points, isolation, conflicts."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from typing import Any

import pluggy
import pytest

import stickykit
from stickykit import hookimpl
from stickykit.errors import DuplicateMetricError, UnknownMetricError
from stickykit.metrics.survey import NetPromoterScore
from stickykit.plugins import DEFAULT_PLUGINS, create_registry, get_plugin_manager
from stickykit.plugins.registry import default_registry


def test_hook_register_metrics() -> None:
    """The hook receives a register callback; registered classes become metrics."""
    seen: list[Any] = []

    class Plugin:
        @hookimpl
        def register_metrics(self, register: Any) -> None:
            seen.append(register)

    registry = create_registry(plugins=[Plugin()], builtins=False)
    assert len(seen) == 1 and callable(seen[0])
    assert len(registry) == 0


def test_builtins_use_the_same_hook() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    names = {name for name, _ in pm.list_name_plugin()}
    assert set(DEFAULT_PLUGINS) <= names
    registry = create_registry()
    assert registry.info("nps").source == "stickykit.metrics.survey.nps"
    assert registry.info("nps").factory is NetPromoterScore


def test_isolated_registry_has_no_entry_points() -> None:
    assert "example_response_rate" not in create_registry(load_entrypoints=False)


def test_installed_plugin_found_through_entry_point() -> None:
    """The example plugin under tests/plugin_pkg is installed by the README's test command."""
    registry = create_registry(load_entrypoints=True)
    info = registry.info("example_response_rate")
    assert info.source == "example"
    assert info.input_kind == "survey"
    assert info.summary.startswith("Response rate")
    result = stickykit.compute(
        "example_response_rate", {"nps": [10, None, 3, None]}, registry=registry
    )
    assert result.value == 0.5 and result.n == 4


def test_installed_plugin_obeys_the_laws() -> None:
    from stickykit.testing import check_metric

    check_metric(default_registry().get("example_response_rate", item="nps"))


def test_list_metrics() -> None:
    infos = {info.name: info for info in create_registry().list()}
    nps = infos["nps"]
    assert (nps.family, nps.input_kind) == ("survey", "survey")
    assert nps.summary.startswith("Net Promoter Score")


def test_unknown_name_suggests_close_matches() -> None:
    registry = create_registry()
    with pytest.raises(UnknownMetricError, match="did you mean 'nps'"):
        registry.get("nsp")
    with pytest.raises(UnknownMetricError, match="list_metrics"):
        registry.get("completely-different")
    with pytest.raises(KeyError):
        registry.get("nsp")


def test_duplicate_name_names_both_sources() -> None:
    class Clash:
        @hookimpl
        def register_metrics(self, register: Any) -> None:
            register(NetPromoterScore)

    with pytest.raises(DuplicateMetricError) as info:
        create_registry(plugins=[Clash()])
    assert "stickykit.metrics.survey.nps" in str(info.value)
    assert info.value.sources[0] == "stickykit.metrics.survey.nps"


def test_register_refuses_non_metrics() -> None:
    class NotAMetric:
        name = "broken"

    class Plugin:
        @hookimpl
        def register_metrics(self, register: Any) -> None:
            register(NotAMetric)

    with pytest.raises(TypeError, match="lacks"):
        create_registry(plugins=[Plugin()])


def test_misspelt_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def register_metric(self, register: Any) -> None:  # missing "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        create_registry(plugins=[Typo()])


class _FakeDist:
    """Just enough of importlib.metadata.Distribution for pluggy's entry-point loading."""

    def __init__(self, entry_points: list[importlib.metadata.EntryPoint]) -> None:
        self.entry_points = entry_points
        self.metadata = {"name": "fake-dist"}
        self.version = "1.0"


def test_entry_points_monkeypatched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entry-point discovery through importlib.metadata, without installing anything."""
    module = types.ModuleType("fake_stickykit_plugin")

    @hookimpl
    def register_metrics(register: Any) -> None:
        register(NetPromoterScore)

    module.register_metrics = register_metrics  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_stickykit_plugin", module)
    ep = importlib.metadata.EntryPoint(
        name="fake", value="fake_stickykit_plugin", group="stickykit"
    )
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [_FakeDist([ep])])
    registry = create_registry(load_entrypoints=True, builtins=False)
    assert registry.info("nps").source == "fake"
    with pytest.raises(DuplicateMetricError, match="'fake'"):
        create_registry(load_entrypoints=True)


def test_default_registry_is_cached() -> None:
    assert default_registry() is default_registry()
