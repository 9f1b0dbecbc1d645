"""The built-in instruments: every ``.toml`` file in ``stickykit/instruments/data``.

Examples
--------
>>> from stickykit.plugins import create_registry
>>> all(inst.reference for inst in create_registry().instruments())
True
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from stickykit.instruments._model import Instrument
from stickykit.plugins.hookspecs import hookimpl

__all__ = ["builtin_instruments", "register_instruments"]


def builtin_instruments() -> list[Instrument]:
    """Load every instrument file shipped with stickykit, sorted by file name."""
    folder = resources.files("stickykit.instruments.data")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    return [Instrument.from_toml(entry.read_text(encoding="utf-8")) for entry in files]


@hookimpl
def register_instruments(register: Callable[[Instrument], None]) -> None:
    """Register the built-in instruments."""
    for instrument in builtin_instruments():
        register(instrument)
