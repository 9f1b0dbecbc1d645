"""Questionnaires as data: :class:`Instrument` and :class:`Item`, loaded from TOML files.

Built-in instruments and a company's own register through the ``register_instruments`` hook;
look them up with :func:`stickykit.get_instrument`.

Examples
--------
>>> from stickykit.instruments import Instrument, Item
>>> inst = Instrument(name="demo", version="1", title="Demo", reference="-",
...                   items=[Item(id="q1", text="Overall satisfaction", dimension="overall")])
>>> inst.item_ids
('q1',)
"""

from stickykit.instruments._model import Instrument, Item

__all__ = ["Instrument", "Item"]
