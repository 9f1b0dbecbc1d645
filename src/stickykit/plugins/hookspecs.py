"""Hook specifications of the ``stickykit`` plugin project.

Compatibility promise: a hookspec keeps its name and its arguments for the life of a major
version. New arguments may be added (pluggy lets an implementation take only the arguments it
names), none is removed or renamed, and every hook is called with keywords only.

Examples
--------
A plugin module registers metrics like this (``Shout`` is any metric class):

>>> from stickykit import hookimpl
>>> @hookimpl
... def register_metrics(register):
...     pass

and report sections like this (see :class:`stickykit.report.ReportSection`):

>>> @hookimpl
... def register_report_sections(register):
...     pass
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = [
    "PROJECT",
    "hookimpl",
    "hookspec",
    "register_instruments",
    "register_metrics",
    "register_report_sections",
]

#: The pluggy project name, also the entry-point group third-party plugins use.
PROJECT = "stickykit"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Marker for plugin hook implementations (re-exported as ``stickykit.hookimpl``).
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_metrics(register: Callable[[type[Any]], None]) -> None:
    """Register metric classes.

    Parameters
    ----------
    register : callable
        Call ``register(MetricClass)`` once per metric class. The class must satisfy the
        :class:`stickykit.metrics.base.Metric` protocol (``name``, ``family``, ``input_kind``,
        ``init``, ``update``, ``merge``, ``finalize``); the registry checks it, records the
        plugin it came from, and refuses a name already taken, naming both plugins.

    Returns
    -------
    None
    """


@hookspec
def register_instruments(register: Callable[[Any], None]) -> None:
    """Register questionnaires (instruments).

    Parameters
    ----------
    register : callable
        Call ``register(instrument)`` once per :class:`stickykit.instruments.Instrument`
        (typically loaded with ``Instrument.from_toml``). The registry records the plugin it
        came from and refuses a name already taken, naming both plugins.

    Returns
    -------
    None
    """


@hookspec
def register_report_sections(register: Callable[[Any], None]) -> None:
    """Register sections of the HTML report.

    Parameters
    ----------
    register : callable
        Call ``register(section)`` once per :class:`stickykit.report.ReportSection` (a key,
        a title, ``build(context) -> SectionContent``, a position and the data it needs).
        The report's section registry checks the object, records the plugin it came from,
        and refuses a key already taken, naming both plugins. The built-in sections are
        registered through this same hook (:mod:`stickykit.report.sections`).

    Returns
    -------
    None
    """
