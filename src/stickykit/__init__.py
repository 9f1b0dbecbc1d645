"""stickykit: customer stickiness metrics with mergeable states, intervals and plugins.

Records (:class:`Event`, :class:`Customer`, :class:`Survey`) for one-at-a-time use, columnar
frames for bulk work, and metrics registered through pluggy that compute in one pass, in
chunks or in parallel with the same result.

Examples
--------
>>> import stickykit
>>> survey = stickykit.datasets.load_npsgame()
>>> result = stickykit.compute("nps", survey)
>>> round(result.value, 1), result.n
(53.4, 13612)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stickykit.core import Customer, Event, Survey
from stickykit.errors import StickykitError, ValidationError
from stickykit.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from stickykit import datasets, testing
    from stickykit.engine import compute, compute_states
    from stickykit.frames import CustomerFrame, EventFrame, SurveyFrame
    from stickykit.io import LoadResult, load_customers, load_events, load_survey
    from stickykit.io.statefile import load_state, save_state
    from stickykit.metrics.base import MetricResult
    from stickykit.plugins.registry import (
        MetricInfo,
        Registry,
        create_registry,
        default_registry,
        get_instrument,
        get_metric,
        list_instruments,
        list_metrics,
    )

__all__ = [
    "Customer",
    "CustomerFrame",
    "Event",
    "EventFrame",
    "LoadResult",
    "MetricInfo",
    "MetricResult",
    "Registry",
    "StickykitError",
    "Survey",
    "SurveyFrame",
    "ValidationError",
    "__version__",
    "compute",
    "compute_states",
    "create_registry",
    "datasets",
    "default_registry",
    "get_instrument",
    "get_metric",
    "hookimpl",
    "list_instruments",
    "list_metrics",
    "load_customers",
    "load_events",
    "load_state",
    "load_survey",
    "save_state",
    "testing",
]

_LAZY = {
    "compute": "stickykit.engine",
    "compute_states": "stickykit.engine",
    "CustomerFrame": "stickykit.frames",
    "EventFrame": "stickykit.frames",
    "SurveyFrame": "stickykit.frames",
    "LoadResult": "stickykit.io",
    "load_customers": "stickykit.io",
    "load_events": "stickykit.io",
    "load_survey": "stickykit.io",
    "load_state": "stickykit.io.statefile",
    "save_state": "stickykit.io.statefile",
    "MetricResult": "stickykit.metrics.base",
    "MetricInfo": "stickykit.plugins.registry",
    "Registry": "stickykit.plugins.registry",
    "create_registry": "stickykit.plugins.registry",
    "default_registry": "stickykit.plugins.registry",
    "get_metric": "stickykit.plugins.registry",
    "get_instrument": "stickykit.plugins.registry",
    "list_instruments": "stickykit.plugins.registry",
    "list_metrics": "stickykit.plugins.registry",
}
_SUBMODULES = {"datasets", "testing"}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return version("stickykit")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0+unknown"
    if name in _SUBMODULES:
        return importlib.import_module(f"stickykit.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'stickykit' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
