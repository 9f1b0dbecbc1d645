"""The report's sections, as registered through the ``register_report_sections`` hook."""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Iterable, Iterator
from typing import Any

import pluggy

from stickykit.errors import StickykitError
from stickykit.plugins.hookspecs import PROJECT
from stickykit.plugins.manager import get_plugin_manager
from stickykit.report._content import ReportSection

__all__ = [
    "BUILTIN_SECTIONS_MODULE",
    "DuplicateSectionError",
    "SectionRegistry",
    "create_section_registry",
]

#: The module registering the built-in sections through the hook.
BUILTIN_SECTIONS_MODULE = "stickykit.report.sections"


class DuplicateSectionError(StickykitError, ValueError):
    """Two plugins registered a report section under the same key.

    Examples
    --------
    >>> print(DuplicateSectionError("nps", "stickykit.report.sections", "acme"))
    report section 'nps' is registered twice: by 'stickykit.report.sections' and by 'acme'
    """

    def __init__(self, key: str, first_source: str, second_source: str) -> None:
        self.key = key
        self.sources = (first_source, second_source)
        super().__init__(
            f"report section {key!r} is registered twice: by {first_source!r} and by "
            f"{second_source!r}"
        )


class SectionRegistry:
    """The report sections registered by the plugins of one plugin manager.

    Examples
    --------
    >>> registry = create_section_registry(load_entrypoints=False)
    >>> registry.keys()[:3]
    ['nps', 'csat', 'loyalty_curve']
    >>> registry.source("nps")
    'stickykit.report.sections'
    """

    def __init__(self, plugin_manager: pluggy.PluginManager) -> None:
        self.plugin_manager = plugin_manager
        self._sections: dict[str, tuple[ReportSection, str]] = {}
        for impl in plugin_manager.hook.register_report_sections.get_hookimpls():
            impl.function(register=functools.partial(self._register, source=impl.plugin_name))

    def _register(self, section: object, *, source: str) -> None:
        if not isinstance(section, ReportSection):
            msg = f"plugin {source!r} registered {section!r}, which is not a ReportSection"
            raise TypeError(msg)
        if section.key in self._sections:
            raise DuplicateSectionError(section.key, self._sections[section.key][1], source)
        self._sections[section.key] = (section, source)

    def sections(self) -> list[ReportSection]:
        """Every section in page order (by ``order``, then key)."""
        found = [entry[0] for entry in self._sections.values()]
        return sorted(found, key=lambda s: (s.order, s.key))

    def keys(self) -> list[str]:
        """Section keys in page order."""
        return [s.key for s in self.sections()]

    def get(self, key: str) -> ReportSection:
        """The section registered as ``key``; an unknown key suggests close matches."""
        try:
            return self._sections[key][0]
        except KeyError:
            close = difflib.get_close_matches(key, self._sections, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            msg = f"no report section {key!r}{hint} (sections: {', '.join(self.keys())})"
            raise KeyError(msg) from None

    def source(self, key: str) -> str:
        """The plugin that registered section ``key``."""
        self.get(key)
        return self._sections[key][1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self._sections

    def __len__(self) -> int:
        return len(self._sections)


def plugin_manager(
    *, load_entrypoints: bool = True, plugins: Iterable[Any] = (), builtins: bool = True
) -> pluggy.PluginManager:
    """The plugin manager of a report: built-ins (sections included), ``plugins``, entry points.

    The built-ins are registered first, as :func:`~stickykit.plugins.get_plugin_manager`
    does, so that a duplicate key names the built-in section first.
    """
    pm = get_plugin_manager(load_entrypoints=False, builtins=builtins)
    if builtins and pm.get_plugin(BUILTIN_SECTIONS_MODULE) is None:
        # until the sections module is listed in DEFAULT_PLUGINS, register it here, by the
        # same hook and under the same name as DEFAULT_PLUGINS would
        pm.register(importlib.import_module(BUILTIN_SECTIONS_MODULE), name=BUILTIN_SECTIONS_MODULE)
    for plugin in plugins:
        pm.register(plugin)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(PROJECT)
    pm.check_pending()
    return pm


def create_section_registry(
    *, load_entrypoints: bool = True, plugins: Iterable[Any] = (), builtins: bool = True
) -> SectionRegistry:
    """A registry of the built-in sections, ``plugins`` and (optionally) installed plugins.

    Parameters
    ----------
    load_entrypoints : bool
        Also load the plugins installed under the entry-point group ``stickykit``.
    plugins : iterable
        Plugin objects (modules, or instances of classes with ``@hookimpl`` methods).
    builtins : bool
        Register the built-in sections (and metric families).

    Examples
    --------
    >>> from stickykit import hookimpl
    >>> from stickykit.report import ReportSection, SkipSection
    >>> def build(context):
    ...     raise SkipSection("demo")
    >>> class Acme:
    ...     @hookimpl
    ...     def register_report_sections(self, register):
    ...         register(ReportSection(key="acme", title="Acme", build=build, order=950))
    >>> registry = create_section_registry(plugins=[Acme()], load_entrypoints=False)
    >>> registry.keys()[-2:], registry.source("quality")
    (['quality', 'acme'], 'stickykit.report.sections')
    """
    return SectionRegistry(
        plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins, builtins=builtins)
    )
