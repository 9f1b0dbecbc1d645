r"""Safe exports: pseudonymised customer ids and CSV cells that a spreadsheet will not execute.

**Pseudonyms.** With ``pseudonymise=True`` every customer id the report shows or exports is
replaced by a keyed hash, :math:`\mathrm{HMAC\text{-}SHA256}(k, \mathrm{id})` (Krawczyk,
Bellare & Canetti 1997, RFC 2104; SHA-256 from FIPS 180-4), cut to its first 16 hexadecimal
digits (64 bits) and prefixed ``c-``. The same key gives the same pseudonym for the same id,
so two reports built with one key can be compared; without the key a pseudonym cannot be
traced back by hashing candidate ids, as it could with a plain hash. By default the key is 32
random bytes drawn for each report and never stored.

**CSV cells.** A spreadsheet reads a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in
some, a tab or carriage return) as a formula, so ``=cmd|' /C calc'!A0`` in a customer name
runs a command when the export is opened. Following OWASP's "CSV Injection" guidance, every
text cell starting with one of those characters (also after leading spaces, and their
full-width forms U+FF1D, U+FF0B, U+FF0D and U+FF20, and NUL as OWASP ASVS 5.0 requirement 1.2.10 lists) is prefixed
with a single quote, which spreadsheets read as "this is text", and every text cell is
written in double quotes with embedded quotes doubled (RFC 4180). Numbers stay numbers: a
negative amount is written as ``-3.5``, unquoted.

Examples
--------
>>> import numpy as np
>>> neutralise(np.array(["=cmd|' /C calc'!A0", "Alice", " +1", "-2"])).tolist()
["'=cmd|' /C calc'!A0", 'Alice', "' +1", "'-2"]
>>> print(to_csv({"name": np.array(["=1+1", 'a "b" c']), "amount": np.array([-3.5, 2.0])}),
...       end="")
"name","amount"
"'=1+1",-3.5
"a ""b"" c",2.0
>>> p = Pseudonymiser(key=b"\x0b" * 20)  # RFC 4231 test case 1: HMAC-SHA256 = b0344c61d8db3853...
>>> p(np.array(["Hi There", "Hi There"])).tolist()
['c-b0344c61d8db3853', 'c-b0344c61d8db3853']
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import math
import secrets
from collections.abc import Mapping
from typing import Any, Final

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["FORMULA_PREFIXES", "MIN_KEY_BYTES", "Pseudonymiser", "neutralise", "to_csv"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV Injection).
FORMULA_PREFIXES: Final = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\0",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
)
#: Shortest key accepted for the pseudonyms (RFC 2104 advises at least the hash length, 32).
MIN_KEY_BYTES: Final = 16
_DIGITS: Final = 16


def _text(values: ArrayLike) -> NDArray[np.str_]:
    array = np.asarray(values)
    if array.dtype == object:
        array = np.array(["" if v is None else str(v) for v in array.ravel()], dtype=np.str_)
    return np.asarray(array.astype(np.str_), dtype=np.str_)


def _first_characters(text: NDArray[np.str_]) -> NDArray[np.uint32]:
    """The code point of each string's first character (0 for an empty string)."""
    width = max(1, text.dtype.itemsize // 4)
    fixed = np.ascontiguousarray(text, dtype=f"<U{width}").reshape(-1)
    return np.asarray(fixed.view(np.uint32).reshape(len(fixed), width)[:, 0])


_PREFIX_CODES = np.array([ord(c) for c in FORMULA_PREFIXES], dtype=np.uint32)


def neutralise(values: ArrayLike) -> NDArray[np.str_]:
    r"""Text cells made safe to open in a spreadsheet: a formula start gets a leading ``'``.

    Vectorised: the first character of every cell (and of the cell without its leading
    spaces) is read as a code point and looked up, never a loop over cells.

    Examples
    --------
    >>> import numpy as np
    >>> neutralise(np.array(["@SUM(A1)", "\tx", "ok", "\uff1d1", ""])).tolist()
    ["'@SUM(A1)", "'\tx", 'ok', "'\uff1d1", '']
    """
    text = _text(values)
    if text.size == 0:
        return text
    shape = text.shape
    flat = text.reshape(-1)
    stripped = np.strings.lstrip(flat, " ")
    present = np.strings.str_len(flat) > 0
    # a string ending in NUL characters loses them in numpy's fixed-width arrays: "\0" alone
    # reads as "" and cannot start a formula here; a NUL followed by text is caught below
    risky = present & (
        np.isin(_first_characters(flat), _PREFIX_CODES)
        | np.isin(_first_characters(stripped), _PREFIX_CODES)
    )
    out = np.where(risky, np.strings.add("'", flat), flat)
    return np.asarray(out, dtype=np.str_).reshape(shape)


def _cells(values: NDArray[Any]) -> list[Any]:
    """One column as CSV cells: numbers as numbers (NaN empty), everything else as safe text."""
    kind = values.dtype.kind
    if kind in "iub":
        return [int(v) for v in values.astype(np.int64)]
    if kind == "f":
        return ["" if not math.isfinite(v) else float(v) for v in values.tolist()]
    if kind == "M":
        text = np.datetime_as_string(values, unit="auto")
        text[np.isnat(values)] = ""
        return list(neutralise(text))
    return list(neutralise(values))


def to_csv(columns: Mapping[str, ArrayLike]) -> str:
    r"""Columns as CSV text (RFC 4180: CRLF line ends, text quoted), safe against formulas.

    Parameters
    ----------
    columns : Mapping[str, array_like]
        Column name to equal-length values; integer, float and bool columns are written as
        numbers, dates in ISO 8601, everything else as neutralised text (:func:`neutralise`).
        Headings are neutralised too.

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> to_csv({"+id": np.array([1, 2])}).splitlines()
    ['"\'+id"', '1', '2']
    """
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        msg = f"columns differ in length: {sorted(lengths)}"
        raise ValueError(msg)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(list(neutralise(np.array(list(arrays), dtype=np.str_))))
    cells = [_cells(a) for a in arrays.values()]
    writer.writerows(zip(*cells, strict=True))
    return buffer.getvalue()


def _key(value: bytes | str) -> bytes:
    key = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(key) < MIN_KEY_BYTES:
        msg = (
            f"a pseudonym key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}; "
            "leave it out for a random key"
        )
        raise ValueError(msg)
    return key


@attrs.frozen
class Pseudonymiser:
    """Customer ids to keyed pseudonyms, ``c-`` and 16 hex digits of HMAC-SHA256.

    Parameters
    ----------
    key : bytes or str
        At least :data:`MIN_KEY_BYTES` bytes (text is UTF-8 encoded). Keep it secret:
        anyone with the key can test whether a pseudonym belongs to a given id.

    Examples
    --------
    >>> import numpy as np
    >>> p = Pseudonymiser.random()
    >>> a, b = p(np.array(["x", "y"]))
    >>> a != b and a.startswith("c-") and len(a) == 18
    True
    """

    key: bytes = attrs.field(converter=_key, repr=False)

    @classmethod
    def random(cls) -> Pseudonymiser:
        """A pseudonymiser with a fresh random 32-byte key."""
        return cls(key=secrets.token_bytes(32))

    def __call__(self, ids: ArrayLike) -> NDArray[np.str_]:
        """Pseudonyms of ``ids`` (same shape); equal ids get equal pseudonyms.

        Each distinct id is hashed once; the number of distinct ids a report shows or
        exports is bounded by what it lists, never by the rows of the data.
        """
        values = np.asarray(ids)
        if values.size == 0:
            return np.empty(values.shape, dtype="<U18")
        unique, inverse = np.unique(values.ravel(), return_inverse=True)
        base = hmac.new(self.key, digestmod=hashlib.sha256)
        out = []
        for value in unique.tolist():  # distinct ids shown, not rows
            h = base.copy()
            h.update(str(value).encode("utf-8"))
            out.append("c-" + h.hexdigest()[:_DIGITS])
        return np.asarray(out, dtype=np.str_)[inverse.reshape(-1)].reshape(values.shape)
