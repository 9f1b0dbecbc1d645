"""Instruments as data: the model, TOML loading, and the register_instruments hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from stickykit import hookimpl
from stickykit.errors import DuplicateInstrumentError, UnknownInstrumentError, ValidationError
from stickykit.instruments import Instrument, Item
from stickykit.plugins import create_registry

TOML = """
name = "acme-effort"
version = "2024.1"
title = "Acme effort check"
reference = "Acme internal questionnaire, 2024"
scale = [1, 7]
missing_codes = [-99]

[[item]]
id = "easy"
text = "Handling my issue was easy"
dimension = "effort"

[[item]]
id = "hassle"
text = "It was a hassle"
dimension = "effort"
reverse = true

[[item]]
id = "staff"
text = "Staff knew what they were doing"
dimension = "competence"
scale = [1, 5]
"""


def test_from_toml_text_and_file(tmp_path: Path) -> None:
    inst = Instrument.from_toml(TOML)
    assert inst.item_ids == ("easy", "hassle", "staff")
    assert inst.dimensions == ("effort", "competence")
    assert inst.item("hassle").reverse
    assert inst.item("easy").missing_codes == (-99,)
    assert inst.scales() == {"easy": (1, 7), "hassle": (1, 7), "staff": (1, 5)}
    assert [i.id for i in inst.select(dimension="effort")] == ["easy", "hassle"]
    path = tmp_path / "effort.toml"
    path.write_text(TOML, encoding="utf-8")
    assert Instrument.from_toml(path) == inst
    assert Instrument.from_toml(str(path)) == inst


def test_reverse_keying_twice_is_identity() -> None:
    item = Item(id="q", text="", dimension="d", scale=(1, 7), reverse=True)
    assert [item.keyed(item.keyed(x)) for x in range(1, 8)] == list(range(1, 8))
    assert [item.keyed(x) for x in range(1, 8)] == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("revers = true\n", "revers"),
        ('colour = "red"\n', "colour"),
    ],
)
def test_unknown_keys_are_errors(change: str, field: str) -> None:
    broken = TOML.replace("reverse = true\n", change) if field == "revers" else change + TOML
    with pytest.raises(ValidationError, match=field):
        Instrument.from_toml(broken)


def test_bad_instruments() -> None:
    with pytest.raises(ValidationError, match="unique item ids"):
        Instrument.from_toml(TOML.replace('id = "hassle"', 'id = "easy"'))
    with pytest.raises(ValidationError, match="lo < hi"):
        Item(id="q", text="", dimension="d", scale=(5, 1))
    with pytest.raises(ValidationError, match="at least one item"):
        Instrument(name="x", version="1", title="", reference="", items=())
    with pytest.raises(ValidationError, match="dimensions"):
        attrs.evolve(Instrument.from_toml(TOML), dimensions=("effort",))
    with pytest.raises(KeyError, match="no item"):
        Instrument.from_toml(TOML).item("nope")


def test_hook_register_instruments() -> None:
    """A plugin registers its own questionnaire beside the built-ins."""
    acme = Instrument.from_toml(TOML)

    class Plugin:
        @hookimpl
        def register_instruments(self, register: Any) -> None:
            register(acme)

    registry = create_registry(plugins=[Plugin()])
    assert registry.instrument("acme-effort") is acme
    assert "acme-effort" in [inst.name for inst in registry.instruments()]
    with pytest.raises(UnknownInstrumentError, match="did you mean 'acme-effort'"):
        registry.instrument("acme-efort")

    class Clash:
        @hookimpl
        def register_instruments(self, register: Any) -> None:
            register(acme)

    with pytest.raises(DuplicateInstrumentError, match="registered twice"):
        create_registry(plugins=[Plugin(), Clash()])

    class NotAnInstrument:
        @hookimpl
        def register_instruments(self, register: Any) -> None:
            register({"name": "x"})

    with pytest.raises(TypeError, match="not an Instrument"):
        create_registry(plugins=[NotAnInstrument()])


def test_builtin_instruments_load_and_cite_sources() -> None:
    for inst in create_registry().instruments():
        assert inst.reference, inst.name
        assert inst.items, inst.name
