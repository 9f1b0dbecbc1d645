"""Every registered metric, built-in or plugin, obeys the laws (no list to keep up to date)."""

from __future__ import annotations

import pytest

from stickykit.plugins.registry import default_registry
from stickykit.testing import check_metric

NAMES = default_registry().names()


@pytest.mark.parametrize("name", NAMES)
def test_registered_metric_laws(name: str) -> None:
    check_metric(default_registry().get(name))


@pytest.mark.parametrize("name", NAMES)
def test_registered_metric_documents_itself(name: str) -> None:
    info = default_registry().info(name)
    assert info.summary, f"{name} has no docstring summary"
    metric = default_registry().get(name)
    assert metric.fingerprint == default_registry().get(name).fingerprint
    assert info.input_kind in ("survey", "events", "customers")
