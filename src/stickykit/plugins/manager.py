"""Building the pluggy plugin manager.

Examples
--------
>>> pm = get_plugin_manager(load_entrypoints=False)
>>> "stickykit.metrics.survey.nps" in {name for name, _ in pm.list_name_plugin()}
True
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import pluggy

from stickykit.plugins import hookspecs

__all__ = ["DEFAULT_PLUGINS", "get_plugin_manager"]

#: Built-in metric families, registered through the same hook as third-party plugins.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "stickykit.instruments.builtin",
    "stickykit.metrics.survey.nps",
    "stickykit.metrics.survey.csat",
    "stickykit.metrics.survey.ces",
    "stickykit.metrics.survey.compare",
    "stickykit.metrics.survey.loyalty_curve",
    "stickykit.metrics.survey.drivers",
    "stickykit.metrics.survey.switching_costs",
    "stickykit.metrics.survey.relationship_benefits",
    "stickykit.metrics.survey.delivered_value",
    "stickykit.metrics.survey.reliability",
    "stickykit.metrics.survey.response_quality",
    "stickykit.metrics.survey.servqual",
    "stickykit.metrics.behaviour.summary",
    "stickykit.metrics.behaviour.survival",
    "stickykit.metrics.behaviour.retention",
    "stickykit.metrics.behaviour.cohorts",
    "stickykit.metrics.behaviour.rfm",
    "stickykit.metrics.behaviour.clv",
    "stickykit.metrics.behaviour.tiers",
    "stickykit.metrics.behaviour.repurchase",
    "stickykit.metrics.behaviour.engagement",
    "stickykit.models.data",
    "stickykit.metrics.programme.points",
    "stickykit.metrics.programme.tiers",
    "stickykit.metrics.programme.complaints",
    "stickykit.metrics.programme.recovery",
    "stickykit.metrics.programme.lifecycle",
    "stickykit.metrics.effect",
    "stickykit.metrics.profile",
    "stickykit.report.sections",
)


def get_plugin_manager(
    *, load_entrypoints: bool = True, plugins: Iterable[Any] = (), builtins: bool = True
) -> pluggy.PluginManager:
    """A new plugin manager with the built-in plugins and, optionally, the installed ones.

    Parameters
    ----------
    load_entrypoints : bool
        Load third-party plugins from the entry-point group ``stickykit``.
    plugins : iterable
        Extra plugin objects (modules or classes with ``@hookimpl`` functions) to register.
    builtins : bool
        Register the built-in metric families.

    Returns
    -------
    pluggy.PluginManager
        With every hook implementation checked against the specs (``check_pending``), so a
        misspelt hook fails loudly.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if builtins:
        for module_name in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
    for plugin in plugins:
        pm.register(plugin)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    pm.check_pending()
    return pm
