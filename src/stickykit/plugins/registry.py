"""The metric registry: what plugins registered, looked up by name.

Examples
--------
>>> reg = create_registry(load_entrypoints=False)
>>> "nps" in [info.name for info in reg.list()]
True
>>> reg.get("nps", promoter_min=10).promoter_min
10
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from typing import Any

import attrs
import pluggy

from stickykit.errors import (
    DuplicateInstrumentError,
    DuplicateMetricError,
    UnknownInstrumentError,
    UnknownMetricError,
)
from stickykit.instruments._model import Instrument
from stickykit.metrics.base import Metric
from stickykit.plugins.manager import get_plugin_manager

__all__ = [
    "MetricInfo",
    "Registry",
    "create_registry",
    "default_registry",
    "get_instrument",
    "get_metric",
    "list_instruments",
    "list_metrics",
]

_REQUIRED = ("name", "family", "input_kind", "init", "update", "merge", "finalize")
_INPUT_KINDS = ("survey", "events", "customers")


@attrs.frozen
class MetricInfo:
    """One registered metric.

    Parameters
    ----------
    name : str
        Registered name.
    family : str
        Metric family (``"survey"``, ``"behaviour"``...).
    input_kind : str
        ``"survey"``, ``"events"`` or ``"customers"``: the frame it reads.
    summary : str
        First line of the class docstring.
    source : str
        The plugin that registered it.
    factory : type
        The metric class; call it with parameters to get a metric.
    """

    name: str
    family: str
    input_kind: str
    summary: str
    source: str
    factory: type[Any] = attrs.field(repr=False)


def _summary(cls: type[Any]) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class Registry:
    """Metrics registered by the plugins of one plugin manager.

    Build one with :func:`create_registry` (isolated: for embedding apps and tests) or use
    :func:`default_registry` (built-ins plus installed plugins, built once).
    """

    def __init__(self, plugin_manager: pluggy.PluginManager) -> None:
        self.plugin_manager = plugin_manager
        self._metrics: dict[str, MetricInfo] = {}
        self._instruments: dict[str, tuple[Instrument, str]] = {}
        for impl in plugin_manager.hook.register_metrics.get_hookimpls():
            impl.function(register=functools.partial(self._register, source=impl.plugin_name))
        for impl in plugin_manager.hook.register_instruments.get_hookimpls():
            impl.function(
                register=functools.partial(self._register_instrument, source=impl.plugin_name)
            )

    def _register_instrument(self, instrument: object, *, source: str) -> None:
        if not isinstance(instrument, Instrument):
            msg = f"plugin {source!r} registered {instrument!r}, which is not an Instrument"
            raise TypeError(msg)
        if instrument.name in self._instruments:
            raise DuplicateInstrumentError(
                instrument.name, self._instruments[instrument.name][1], source
            )
        self._instruments[instrument.name] = (instrument, source)

    def instruments(self) -> list[Instrument]:
        """Every registered instrument, sorted by name."""
        return [self._instruments[name][0] for name in sorted(self._instruments)]

    def instrument(self, name: str) -> Instrument:
        """The instrument registered as ``name``; an unknown name suggests close matches."""
        try:
            return self._instruments[name][0]
        except KeyError:
            close = difflib.get_close_matches(name, self._instruments, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            msg = f"no instrument named {name!r}{hint}"
            raise UnknownInstrumentError(msg) from None

    def instrument_source(self, name: str) -> str:
        """The plugin that registered instrument ``name``."""
        self.instrument(name)
        return self._instruments[name][1]

    def _register(self, cls: type[Any], *, source: str) -> None:
        missing = [attr for attr in _REQUIRED if not hasattr(cls, attr)]
        if missing:
            msg = (
                f"plugin {source!r} registered {cls!r}, which lacks {', '.join(missing)} of "
                "the metric protocol"
            )
            raise TypeError(msg)
        name = cls.name
        if not isinstance(name, str) or not name:
            msg = f"plugin {source!r} registered {cls!r} with an invalid name {name!r}"
            raise TypeError(msg)
        if cls.input_kind not in _INPUT_KINDS:
            msg = (
                f"plugin {source!r} registered metric {name!r} with input_kind "
                f"{cls.input_kind!r}; expected one of {_INPUT_KINDS}"
            )
            raise TypeError(msg)
        if name in self._metrics:
            raise DuplicateMetricError(name, self._metrics[name].source, source)
        self._metrics[name] = MetricInfo(
            name=name,
            family=cls.family,
            input_kind=cls.input_kind,
            summary=_summary(cls),
            source=source,
            factory=cls,
        )

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __len__(self) -> int:
        return len(self._metrics)

    def names(self) -> list[str]:
        """Registered metric names, sorted."""
        return sorted(self._metrics)

    def list(self) -> list[MetricInfo]:
        """Every registered metric, sorted by name."""
        return [self._metrics[name] for name in self.names()]

    def info(self, name: str) -> MetricInfo:
        """The entry for ``name``; an unknown name suggests close matches."""
        try:
            return self._metrics[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._metrics, n=3, cutoff=0.5)
            raise UnknownMetricError(name, close) from None

    def get(self, name: str, **params: Any) -> Metric:
        """A metric instance of ``name`` with the given parameters."""
        metric: Metric = self.info(name).factory(**params)
        return metric


def create_registry(
    *, load_entrypoints: bool = False, plugins: Iterable[Any] = (), builtins: bool = True
) -> Registry:
    """A new, isolated registry (entry points off by default).

    Examples
    --------
    >>> from stickykit import hookimpl
    >>> from stickykit.metrics.survey import NetPromoterScore
    >>> class Twice:
    ...     @hookimpl
    ...     def register_metrics(self, register):
    ...         register(NetPromoterScore)
    >>> create_registry(plugins=[Twice()])
    Traceback (most recent call last):
    ...
    stickykit.errors.DuplicateMetricError: metric 'nps' is registered twice: ...
    """
    return Registry(
        get_plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins, builtins=builtins)
    )


@functools.cache
def default_registry() -> Registry:
    """The registry of built-in metrics and installed plugins, built on first use.

    Examples
    --------
    >>> "nps" in default_registry()
    True
    """
    return create_registry(load_entrypoints=True)


def get_metric(name: str, /, *, registry: Registry | None = None, **params: Any) -> Metric:
    """A metric by name, with parameters.

    Examples
    --------
    >>> get_metric("nps", promoter_min=10, detractor_max=7).detractor_max
    7
    >>> get_metric("npx")
    Traceback (most recent call last):
    ...
    stickykit.errors.UnknownMetricError: no metric named 'npx'; did you mean 'nps'?
    """
    return (registry or default_registry()).get(name, **params)


def list_metrics(registry: Registry | None = None) -> list[MetricInfo]:
    """Every registered metric with its family, input kind, summary and source.

    Examples
    --------
    >>> info = [m for m in list_metrics() if m.name == "nps"][0]
    >>> info.input_kind, info.summary
    ('survey', 'Net Promoter Score: the share of promoters minus the share of detractors, in points.')
    """
    return (registry or default_registry()).list()


def get_instrument(name: str, /, *, registry: Registry | None = None) -> Instrument:
    """A registered instrument by name.

    Examples
    --------
    >>> get_instrument("no-such-instrument")
    Traceback (most recent call last):
    ...
    stickykit.errors.UnknownInstrumentError: no instrument named 'no-such-instrument'
    """
    return (registry or default_registry()).instrument(name)


def list_instruments(registry: Registry | None = None) -> list[Instrument]:
    """Every registered instrument, sorted by name.

    Examples
    --------
    >>> isinstance(list_instruments(), list)
    True
    """
    return (registry or default_registry()).instruments()
