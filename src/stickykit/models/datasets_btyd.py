"""Data sets of the buy-till-you-die literature: the donations data of the BG/BB model.

Examples
--------
>>> d = load_donations()
>>> int(d["weight"].sum()), len(d["frequency"])
(11104, 22)
"""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources

import numpy as np
from numpy.typing import NDArray

__all__ = ["load_donations"]


def load_donations() -> dict[str, NDArray[np.int64]]:
    """The donations data of Fader, Hardie & Shang (2010): 11,104 donors in 22 weighted rows.

    First-time supporters of a nonprofit organisation in 1995, and whether they gave again
    in each of the six years 1996-2001 (one transaction opportunity a year). Each row is one
    distinct history with the number of donors who share it.

    Returns
    -------
    dict of str to numpy.ndarray of int64
        ``frequency`` (:math:`x`, years with a repeat donation, 0-6), ``recency``
        (:math:`t_x`, the last such year, 1-6, or 0 without any), ``periods`` (:math:`n = 6`
        opportunities) and ``weight`` (donors with that history; column ``weights`` of the
        file).

    Notes
    -----
    Source: the file ``donations.csv`` distributed with the ``lifetimes`` Python package (MIT
    licence), after Fader, P. S., Hardie, B. G. S. and Shang, J. (2010), "Customer-base
    analysis in a discrete-time noncontractual setting", *Marketing Science* 29(6),
    1086-1108; see ``stickykit/data/ATTRIBUTION.md``.

    Examples
    --------
    >>> d = load_donations()
    >>> d["frequency"][:3].tolist(), d["recency"][:3].tolist(), d["weight"][:3].tolist()
    ([0, 1, 1], [0, 1, 2], [3464, 1091, 277])
    """
    packed = resources.files("stickykit.data").joinpath("donations.csv.gz").read_bytes()
    with io.StringIO(gzip.decompress(packed).decode("ascii"), newline="") as handle:
        rows = list(csv.reader(handle))
    header, table = rows[0], np.array(rows[1:], dtype=np.int64)
    columns = {name: table[:, j] for j, name in enumerate(header)}
    return {
        "frequency": columns["frequency"],
        "recency": columns["recency"],
        "periods": columns["periods"],
        "weight": columns["weights"],
    }
