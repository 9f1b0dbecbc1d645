"""Bundled data sets: CDNOW transactions and NPSgame survey responses.

Both are public copies bundled with the package (see ``stickykit/data/ATTRIBUTION.md`` for
sources and licences). They are unrelated: CDNOW is a US online music retailer (1997-98),
NPSgame a French garden-centre chain; their ids overlap by chance and must never be joined.

Examples
--------
>>> survey = load_npsgame()
>>> len(survey), survey.items
(13954, ('nps', 'satisfaction', 'intention'))
>>> events = load_cdnow()
>>> len(events), len(np.unique(events.customer_id))
(69659, 23570)
"""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.frames import EventFrame, SurveyFrame
from stickykit.io import load_events, load_survey

__all__ = ["load_cdnow", "load_npsgame", "npsgame_columns"]

_NA = ("NA", "")


def _open_text(name: str, encoding: str) -> io.StringIO:
    packed = resources.files("stickykit.data").joinpath(name).read_bytes()
    return io.StringIO(gzip.decompress(packed).decode(encoding), newline="")


def _numeric(text: NDArray[np.str_]) -> NDArray[np.float64]:
    missing = np.isin(text, _NA)
    out = np.full(len(text), np.nan)
    out[~missing] = text[~missing].astype(np.float64)
    return out


def npsgame_columns() -> dict[str, NDArray[Any]]:
    """The NPSgame responses as raw numpy columns, every one of the file's columns.

    ``id``, ``NbPassageKS`` (visits) as int64; ``nps``, ``satisfaction``, ``intention``
    (0-10), ``CaTicket`` (spend per ticket) and ``t`` (wave) as float64 with NaN where the file
    says ``NA``; ``explication`` (comment) as text with ``None`` where empty.

    Source: BenaventC/NPSgame ``nps.csv`` (CC0 1.0), 13,954 responses, read as Latin-1.

    Examples
    --------
    >>> cols = npsgame_columns()
    >>> int(np.isnan(cols["nps"]).sum()), int(np.nanmax(cols["t"]))
    (342, 17)
    """
    with _open_text("npsgame.csv.gz", "latin-1") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    columns = dict(
        zip(header, (np.array(col, dtype=str) for col in zip(*rows[1:], strict=True)), strict=True)
    )
    comments = np.array(columns["explication"], dtype=object)
    comments[np.isin(columns["explication"], _NA)] = None
    return {
        "id": columns["id"].astype(np.int64),
        "nps": _numeric(columns["nps"]),
        "satisfaction": _numeric(columns["satisfaction"]),
        "intention": _numeric(columns["intention"]),
        "explication": comments,
        "NbPassageKS": columns["NbPassageKS"].astype(np.int64),
        "CaTicket": _numeric(columns["CaTicket"]),
        "t": _numeric(columns["t"]),
    }


def load_npsgame() -> SurveyFrame:
    """The NPSgame responses as a :class:`~stickykit.frames.SurveyFrame`.

    Items ``nps`` (likelihood to recommend), ``satisfaction`` and ``intention`` (repurchase
    intention), all 0-10 with missing answers masked; ``wave`` is the file's ``t`` (18 rows have
    none), ``respondent_id`` its ``id``, ``comment`` its ``explication``.

    Examples
    --------
    >>> f = load_npsgame()
    >>> int(f.answer_missing["nps"].sum()), sorted(set(f.wave.tolist()))[:3]
    (342, [0, 1, 2])
    """
    cols = npsgame_columns()
    frame: SurveyFrame = load_survey(
        cols,
        items=["nps", "satisfaction", "intention"],
        columns={"respondent_id": "id", "wave": "t", "comment": "explication"},
        scales=(0, 10),
    )
    return frame


def load_cdnow(*, sample: bool = False) -> EventFrame:
    """CDNOW purchases as an :class:`~stickykit.frames.EventFrame`.

    Parameters
    ----------
    sample : bool
        ``False``: the whole cohort (23,570 customers who first bought in Q1 1997, purchases to
        30 June 1998, 69,659 rows). ``True``: the 1/10 sample of the BTYD papers (2,357
        customers, 6,919 rows).

    Returns
    -------
    EventFrame
        ``customer_id`` int64, ``timestamp`` at midnight UTC of the purchase day,
        ``quantity`` (CDs), ``amount`` (US dollars), ``event_id`` the row number, kind
        ``"purchase"``, currency ``"USD"``.

    Notes
    -----
    Fader, P. S. and Hardie, B. G. S. (2001). Forecasting repeat sales at CDNOW: a case study.
    *Interfaces* 31(3), S94-S107. Copy distributed with the ``lifetimes`` package (MIT).

    Examples
    --------
    >>> f = load_cdnow(sample=True)
    >>> len(f), str(f.timestamp.min())[:10]
    (6919, '1997-01-01')
    """
    name = "cdnow_sample.txt.gz" if sample else "cdnow_master.txt.gz"
    with _open_text(name, "ascii") as handle:
        table = np.loadtxt(handle, skiprows=0 if sample else 1, dtype=np.float64)
    if sample:
        table = table[:, [0, 2, 3, 4]]
    customer = table[:, 0].astype(np.int64)
    ymd = table[:, 1].astype(np.int64)
    months = (ymd // 10000 - 1970) * 12 + (ymd // 100 % 100 - 1)
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (ymd % 100 - 1)
    n = len(customer)
    frame: EventFrame = load_events(
        {
            "customer_id": customer,
            "timestamp": days.astype("datetime64[us]"),
            "quantity": table[:, 2].astype(np.int64),
            "amount": table[:, 3],
            "kind": np.full(n, "purchase"),
            "currency": np.full(n, "USD"),
        },
        tz="UTC",
    )
    return frame
