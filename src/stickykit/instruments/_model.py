"""Questionnaires as data: items, dimensions, scales, reverse keying, missing codes."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from stickykit.errors import ValidationError

__all__ = ["Instrument", "Item"]

_INSTRUMENT_KEYS = {
    "name",
    "version",
    "title",
    "reference",
    "scale",
    "missing_codes",
    "dimensions",
    "notes",
    "item",
}
_ITEM_KEYS = {"id", "text", "dimension", "facet", "battery", "scale", "reverse", "missing_codes"}


def _fail(record: str, field: str, value: Any, expected: str) -> None:
    raise ValidationError(record=record, field=field, row=None, value=value, expected=expected)


def _check_scale(instance: Any, attribute: Any, value: tuple[int, int]) -> None:
    lo, hi = value
    if not (type(lo) is int and type(hi) is int and -128 <= lo < hi <= 127):
        _fail(
            type(instance).__name__,
            attribute.name,
            value,
            "two integers lo < hi within [-128, 127]",
        )


@attrs.frozen
class Item:
    """One question of an instrument.

    Parameters
    ----------
    id : str
        Column name of the answers (``"E1"``, ``"P1"``, ``"switch_econ_1"``...).
    text : str
        The wording shown to respondents (or a paraphrase, as the instrument file says).
    dimension : str
        The dimension or type it measures (``"reliability"``, ``"procedural"``...).
    facet : str or None
        A finer grouping inside the dimension, where the instrument has one.
    battery : str
        Which battery the item belongs to: ``"perception"``, ``"expectation"``,
        ``"importance"``, or ``"main"`` for single-battery instruments.
    scale : (int, int)
        Lowest and highest answer.
    reverse : bool
        Reverse-keyed: a high answer means less of the construct; scored as lo + hi - x.
    missing_codes : tuple of int
        Answer codes that mean "not answered" (e.g. ``-99``, ``0`` = not applicable).

    Examples
    --------
    >>> item = Item(id="Q1", text="Easy to handle my issue", dimension="effort", scale=(1, 7))
    >>> item.keyed(2)
    2
    >>> attrs.evolve(item, reverse=True).keyed(2)
    6
    """

    id: str = attrs.field(validator=attrs.validators.min_len(1))
    text: str
    dimension: str = attrs.field(validator=attrs.validators.min_len(1))
    facet: str | None = None
    battery: str = "main"
    scale: tuple[int, int] = attrs.field(default=(1, 5), converter=tuple, validator=_check_scale)
    reverse: bool = False
    missing_codes: tuple[int, ...] = attrs.field(default=(), converter=tuple)

    def keyed(self, answer: int) -> int:
        """The answer as scored: reversed (lo + hi - x) for reverse-keyed items."""
        lo, hi = self.scale
        return lo + hi - answer if self.reverse else answer


def _item_tuple(items: Iterable[Item]) -> tuple[Item, ...]:
    return tuple(items)


def _text_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class Instrument:
    """A versioned questionnaire: an ordered tuple of items grouped into dimensions.

    Build one in code, or load a TOML file with :meth:`from_toml`; register it through the
    ``register_instruments`` hook so metrics can look it up by name.

    Parameters
    ----------
    name : str
        Registry name (``"servqual-1988"``).
    version : str
        Version of the instrument file.
    title : str
        Human-readable title.
    reference : str
        Source of the instrument (authors, year, venue).
    items : tuple of Item
        The questions, in order.
    dimensions : tuple of str
        Dimension names in reporting order (default: order of first appearance).
    notes : str
        Anything a user must know (paraphrased wording, licence of the wording...).

    Examples
    --------
    >>> text = '''
    ... name = "effort"
    ... version = "1"
    ... title = "Effort"
    ... reference = "Example"
    ... scale = [1, 7]
    ... [[item]]
    ... id = "ease"
    ... text = "It was easy to handle my issue"
    ... dimension = "effort"
    ... '''
    >>> inst = Instrument.from_toml(text)
    >>> inst.item("ease").scale, inst.dimensions
    ((1, 7), ('effort',))
    """

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    version: str
    title: str
    reference: str
    items: tuple[Item, ...] = attrs.field(converter=_item_tuple)
    dimensions: tuple[str, ...] = attrs.field(default=(), converter=_text_tuple)
    notes: str = ""

    def __attrs_post_init__(self) -> None:
        record = f"Instrument {self.name!r}"
        if not self.items:
            _fail(record, "items", [], "at least one item")
        ids = [item.id for item in self.items]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            _fail(record, "items", duplicates, "unique item ids")
        seen = tuple(dict.fromkeys(item.dimension for item in self.items))
        if not self.dimensions:
            object.__setattr__(self, "dimensions", seen)
        elif set(self.dimensions) != set(seen):
            _fail(
                record,
                "dimensions",
                list(self.dimensions),
                f"exactly the item dimensions {list(seen)}",
            )

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids in order."""
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> Item:
        """The item with this id."""
        for item in self.items:
            if item.id == item_id:
                return item
        msg = f"instrument {self.name!r} has no item {item_id!r}"
        raise KeyError(msg)

    def select(
        self, *, battery: str | None = None, dimension: str | None = None, facet: str | None = None
    ) -> tuple[Item, ...]:
        """Items of one battery, dimension and/or facet, in order."""
        return tuple(
            item
            for item in self.items
            if (battery is None or item.battery == battery)
            and (dimension is None or item.dimension == dimension)
            and (facet is None or item.facet == facet)
        )

    def scales(self, items: Sequence[Item] | None = None) -> dict[str, tuple[int, int]]:
        """Item id to answer range (for loading and for generating test data)."""
        return {item.id: item.scale for item in (self.items if items is None else items)}

    @classmethod
    def from_toml(cls, source: str | Path) -> Instrument:
        """Load an instrument from TOML text or a ``.toml`` file.

        Top-level keys: ``name``, ``version``, ``title``, ``reference``, optional ``scale``
        and ``missing_codes`` (defaults for every item), ``dimensions`` and ``notes``; then one
        ``[[item]]`` table per item with ``id``, ``text``, ``dimension`` and optional
        ``facet``, ``battery``, ``scale``, ``reverse``, ``missing_codes``. Unknown keys are
        errors (a misspelt ``revers`` must not pass silently).
        """
        if isinstance(source, Path) or (source.endswith(".toml") and "\n" not in source):
            text = Path(source).read_text(encoding="utf-8")
        else:
            text = str(source)
        data = tomllib.loads(text)
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Instrument:
        """Build an instrument from parsed TOML (or any mapping of the same shape)."""
        name = str(data.get("name", ""))
        record = f"Instrument {name!r}"
        unknown = sorted(set(data) - _INSTRUMENT_KEYS)
        if unknown:
            _fail(record, unknown[0], data[unknown[0]], f"one of {sorted(_INSTRUMENT_KEYS)}")
        defaults = {
            "scale": tuple(data.get("scale", (1, 5))),
            "missing_codes": tuple(data.get("missing_codes", ())),
        }
        items = []
        for position, raw in enumerate(data.get("item", [])):
            unknown = sorted(set(raw) - _ITEM_KEYS)
            if unknown:
                _fail(
                    record,
                    f"item[{position}].{unknown[0]}",
                    raw[unknown[0]],
                    f"one of {sorted(_ITEM_KEYS)}",
                )
            items.append(Item(**{**defaults, **raw}))
        return cls(
            name=name,
            version=str(data.get("version", "")),
            title=str(data.get("title", "")),
            reference=str(data.get("reference", "")),
            items=tuple(items),
            dimensions=tuple(data.get("dimensions", ())),
            notes=str(data.get("notes", "")),
        )
