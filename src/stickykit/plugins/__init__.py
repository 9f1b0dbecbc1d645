"""Plugins: hook specifications, the plugin manager and the metric registry.

Examples
--------
>>> from stickykit.plugins import create_registry
>>> "nps" in create_registry()
True
"""

from stickykit.plugins.hookspecs import hookimpl
from stickykit.plugins.manager import DEFAULT_PLUGINS, get_plugin_manager
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
    "DEFAULT_PLUGINS",
    "MetricInfo",
    "Registry",
    "create_registry",
    "default_registry",
    "get_instrument",
    "get_metric",
    "get_plugin_manager",
    "hookimpl",
    "list_instruments",
    "list_metrics",
]
