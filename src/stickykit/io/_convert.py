"""Permissive conversion of one input column to the strict frame dtype, with its violations.

Each converter takes a column as numpy gives it (ints, floats with NaN, strings, objects with
``None``, ``datetime64``) and returns the typed array, a missing mask (or ``None``) and the
violations found. Nothing here loops over rows in Python.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stickykit.frames import TEXT_DTYPE
from stickykit.io.validate import Violation, violation

__all__ = [
    "Converted",
    "to_answers",
    "to_float",
    "to_id",
    "to_int",
    "to_text",
    "to_time",
]

Converted = tuple[NDArray[Any], NDArray[np.bool_] | None, list[Violation]]

_MISSING_TEXT = ("", "nan", "NaN", "None", "NA", "<NA>", "NaT", "null", "NULL")
#: Rows per block when an integer column's range is checked (as the NPS kernel's BLOCK_ROWS).
_BLOCK_ROWS = 1 << 20


def _keep(v: Violation | None, out: list[Violation]) -> None:
    if v is not None:
        out.append(v)


def _text_missing(text: NDArray[Any]) -> NDArray[np.bool_]:
    stripped = np.strings.strip(text)
    return np.isin(stripped, _MISSING_TEXT)


def _as_text(values: NDArray[Any]) -> NDArray[np.str_]:
    """Object or string column to a unicode array ("None"/"nan" mark missing values)."""
    return values.astype(str)


def _float_missing(values: NDArray[Any]) -> NDArray[np.bool_]:
    missing: NDArray[np.bool_] = np.isnan(values)
    return missing


def _rows_outside(values: NDArray[Any], lo: int, hi: int) -> NDArray[np.intp] | None:
    """Rows of an integer column outside ``[lo, hi]``, or ``None`` when every row is inside.

    The column is read in cache-sized blocks and a block's mask is built only when its
    minimum or maximum falls outside, so a clean column costs no full-length temporary.
    When ``lo`` is 0, a signed column is read through its unsigned view, where every negative
    value exceeds any ``hi`` the signed type holds: one ``max()`` per block checks both ends.
    """
    info = np.iinfo(values.dtype)
    if lo <= info.min and info.max <= hi:
        return None  # the dtype itself cannot hold a value outside
    probe = values
    if values.dtype.kind == "i" and lo == 0 and hi <= np.iinfo(values.dtype).max:
        probe = values.view(values.dtype.str.replace("i", "u"))
    check_min = not (probe.dtype.kind == "u" and lo <= 0)
    found: list[NDArray[np.intp]] = []
    for start in range(0, len(values), _BLOCK_ROWS):
        block = probe[start : start + _BLOCK_ROWS]
        if (check_min and int(block.min()) < lo) or int(block.max()) > hi:
            block = values[start : start + _BLOCK_ROWS]
            found.append(start + np.flatnonzero((block < lo) | (block > hi)))
    return np.concatenate(found) if found else None


def to_int(
    values: NDArray[Any],
    field: str,
    *,
    dtype: type[np.integer[Any]] = np.int64,
    lo: int | None = None,
    hi: int | None = None,
    allow_missing: bool = True,
    expected: str | None = None,
) -> Converted:
    """Convert to an integer dtype; NaN/None/empty text is missing; non-integers are violations.

    An integer column is range-checked in cache-sized blocks; one already of ``dtype`` with
    every value in range is returned as it is, without a copy.

    Examples
    --------
    >>> import numpy as np
    >>> out, missing, bad = to_int(np.array([1.0, np.nan, 7.5]), "q", dtype=np.int8, lo=0, hi=10)
    >>> out.tolist(), missing.tolist(), bad[0].rows.tolist()
    ([1, 0, 0], [False, True, False], [2])
    >>> scores = np.array([0, 9, 10], np.int8)
    >>> out, missing, bad = to_int(scores, "q", dtype=np.int8, lo=0, hi=10)
    >>> out is scores, missing, bad
    (True, None, [])
    >>> to_int(np.array([], dtype=object), "q")[0].tolist()
    []
    """
    info = np.iinfo(dtype)
    lo_ = info.min if lo is None else lo
    hi_ = info.max if hi is None else hi
    what = expected or f"an integer in [{lo_}, {hi_}]"
    out_violations: list[Violation] = []
    values = np.asarray(values)
    if len(values) == 0:
        return np.zeros(0, dtype), None, out_violations
    if values.dtype.kind == "b":
        _keep(violation(field, np.ones(len(values), bool), values, what), out_violations)
        return np.zeros(len(values), dtype), None, out_violations
    if values.dtype.kind in "iu":
        outside = _rows_outside(values, lo_, hi_)
        if outside is None:
            return values.astype(dtype, copy=False), None, out_violations
        rows = outside.astype(np.int64)
        out_violations.append(Violation(field=field, rows=rows, values=values[rows], expected=what))
        safe = values.astype(dtype)
        safe[outside] = 0
        return safe, None, out_violations
    if values.dtype.kind == "f":
        absent = _float_missing(values)
        finite = np.isfinite(values)
        bad_type = finite & (np.floor(values) != values) | (~finite & ~absent)
        whole = np.where(finite & ~bad_type, values, 0)
    else:
        text = np.strings.strip(_as_text(values))
        absent = _text_missing(text)
        unsigned = np.strings.lstrip(text, "+-")
        # a leading sign may appear once; digits only after it
        numeric = np.strings.isdecimal(unsigned) & (
            np.strings.str_len(text) - np.strings.str_len(unsigned) <= 1
        )
        whole = np.zeros(len(values), dtype=np.int64)
        one_sign = np.strings.str_len(text) - np.strings.str_len(unsigned) <= 1
        plain = np.strings.find(np.strings.lower(text), "e") < 0  # no exponent: "1e1" is no answer
        decimal_point = ~numeric & ~absent & one_sign & plain & _looks_numeric(text)
        if decimal_point.any():
            # "5.0" (a whole float written as text, as object columns print them) is 5
            as_float = text[decimal_point].astype(np.float64)
            is_whole = np.isfinite(as_float) & (np.floor(as_float) == as_float)
            is_whole &= np.abs(as_float) < 2.0**53
            rows = np.flatnonzero(decimal_point)[is_whole]
            whole[rows] = as_float[is_whole].astype(np.int64)
            numeric = numeric.copy()
            numeric[rows] = True
        bad_type = ~numeric & ~absent
        ok = numeric & ~bad_type & ~decimal_point
        if ok.any():
            digits = np.strings.str_len(unsigned[ok])
            long = digits > 18
            parsed = np.zeros(int(ok.sum()), dtype=np.int64)
            parsed[~long] = text[ok][~long].astype(np.int64)
            parsed[long] = np.iinfo(np.int64).max
            whole[ok] = parsed
    _keep(violation(field, bad_type, values, what), out_violations)
    valid = ~absent & ~bad_type
    out_of_range = valid & ((whole < lo_) | (whole > hi_))
    _keep(violation(field, out_of_range, values, what), out_violations)
    if not allow_missing:
        _keep(violation(field, absent, values, what), out_violations)
    missing = absent if absent.any() else None
    if whole.dtype == dtype and not out_of_range.any():
        return whole, missing, out_violations
    safe = np.where(valid & ~out_of_range, whole, 0)
    return safe.astype(dtype), missing, out_violations


def to_answers(
    values: NDArray[Any], field: str, scale: tuple[int, int] | None, missing_codes: tuple[int, ...]
) -> Converted:
    """Survey answers to ``int8``; ``missing_codes`` (e.g. ``-99``) count as unanswered.

    Examples
    --------
    >>> import numpy as np
    >>> out, missing, bad = to_answers(np.array([9, -99, 4]), "q", (1, 5), (-99,))
    >>> out.tolist(), missing.tolist(), bad[0].describe(0)
    ([0, 0, 4], [False, True, False], 'q @ row 0: 9 is invalid, expected an integer in [1, 5]')
    """
    values = np.asarray(values)
    lo, hi = scale if scale is not None else (None, None)
    out, missing, bad = to_int(values, field, dtype=np.int8, lo=lo, hi=hi)
    coded = _coded_rows(values, missing_codes)
    if coded is None:
        return out, missing, bad
    # a missing code is "not answered": never an answer, never an out-of-scale error
    kept = [_drop_rows(v, coded) for v in bad]
    out = np.where(coded, 0, out).astype(np.int8)
    missing = coded if missing is None else (missing | coded)
    return out, missing, [v for v in kept if v is not None]


def _coded_rows(values: NDArray[Any], codes: tuple[int, ...]) -> NDArray[np.bool_] | None:
    """Rows holding one of the missing ``codes`` (as numbers, or as text such as "-99")."""
    if not codes:
        return None
    if values.dtype.kind in "iuf":
        coded = np.isin(values, codes)
    else:
        text = np.strings.strip(_as_text(values))
        spellings = [str(c) for c in codes] + [str(float(c)) for c in codes]
        coded = np.isin(text, spellings)
    return coded if coded.any() else None


def _drop_rows(v: Violation, drop: NDArray[np.bool_]) -> Violation | None:
    keep = ~drop[v.rows]
    if not keep.any():
        return None
    return Violation(field=v.field, rows=v.rows[keep], values=v.values[keep], expected=v.expected)


def to_float(
    values: NDArray[Any], field: str, *, lo: float | None = None, allow_missing: bool = False
) -> Converted:
    """Convert to float64; non-numbers and non-finite values are violations.

    Examples
    --------
    >>> import numpy as np
    >>> out, _, bad = to_float(np.array(["1.5", "x", "inf"], dtype=object), "amount")
    >>> out.tolist(), bad[0].rows.tolist()
    ([1.5, 0.0, 0.0], [1, 2])
    """
    values = np.asarray(values)
    expected = "a finite number" if lo is None else f"a finite number >= {lo:g}"
    found: list[Violation] = []
    if values.dtype.kind in "iuf":
        numbers = values.astype(np.float64, copy=False)
        missing = np.isnan(numbers)
        bad = ~np.isfinite(numbers) & ~missing
    elif values.dtype.kind == "b":
        numbers = np.zeros(len(values))
        missing = np.zeros(len(values), bool)
        bad = np.ones(len(values), bool)
    else:
        text = np.strings.strip(_as_text(values))
        missing = _text_missing(text)
        numbers = np.zeros(len(values))
        parsable = ~missing & _looks_numeric(text)
        numbers[parsable] = text[parsable].astype(np.float64)
        bad = (~parsable & ~missing) | (parsable & ~np.isfinite(numbers))
    if lo is not None:
        bad |= ~missing & np.isfinite(numbers) & (numbers < lo)
    if not allow_missing:
        bad |= missing
    _keep(violation(field, bad, values, expected), found)
    clean = np.where(bad | missing, 0.0 if not allow_missing else np.nan, numbers)
    has_missing = allow_missing and bool(missing.any())
    return clean.astype(np.float64, copy=False), missing if has_missing else None, found


def _looks_numeric(text: NDArray[np.str_]) -> NDArray[np.bool_]:
    body = np.strings.lstrip(text, "+-")
    body = np.strings.replace(body, ".", "", 1)
    mantissa = np.strings.partition(np.strings.lower(body), "e")
    head, sep, tail = mantissa[0], mantissa[1], mantissa[2]
    tail = np.strings.lstrip(tail, "+-")
    ok_head = np.strings.isdecimal(head)
    ok_tail = (sep == "") | np.strings.isdecimal(tail)
    special = np.isin(np.strings.lower(np.strings.lstrip(text, "+-")), ("inf", "infinity", "nan"))
    numeric: NDArray[np.bool_] = (ok_head & ok_tail) | special
    return numeric


def to_id(values: NDArray[Any], field: str, *, allow_missing: bool = False) -> Converted:
    """Ids to int64 (integers, or floats that are whole) or unicode (anything else).

    Examples
    --------
    >>> import numpy as np
    >>> to_id(np.array([3.0, 4.0]), "customer_id")[0].dtype
    dtype('int64')
    >>> to_id(np.array([" a", "b"], dtype=object), "customer_id")[0].tolist()
    ['a', 'b']
    """
    values = np.asarray(values)
    found: list[Violation] = []
    expected = "a non-empty id" if not allow_missing else "an id"
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False), None, found
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        bad = ~missing & ((np.floor(values) != values) | ~np.isfinite(values))
        _keep(violation(field, bad, values, "an integer or text id"), found)
        if not allow_missing:
            _keep(violation(field, missing, values, expected), found)
        ids = np.where(missing | bad, 0, values).astype(np.int64)
        return ids, missing if missing.any() else None, found
    if values.dtype.kind == "b":
        _keep(violation(field, np.ones(len(values), bool), values, "an integer or text id"), found)
        return np.zeros(len(values), np.int64), None, found
    text = np.strings.strip(_as_text(values))
    missing = _text_missing(text)
    if not allow_missing:
        _keep(violation(field, missing, values, expected), found)
    if values.dtype.kind == "O":
        # a bool would pass as the text id "True": look only at the rows that read so
        maybe = np.flatnonzero(np.isin(text, ("True", "False")))
        is_bool = np.zeros(len(values), bool)
        is_bool[maybe] = [isinstance(v, bool | np.bool_) for v in values[maybe]]
        _keep(violation(field, is_bool, values, "an integer or text id"), found)
    if not missing.any():
        return text, None, found
    # blank the masked rows: "nan", "None" or "<NA>" depending on where the column came from
    return np.where(missing, "", text), missing, found


def to_text(values: NDArray[Any]) -> NDArray[Any]:
    """Free text to numpy ``StringDType`` with ``None`` where missing."""
    values = np.asarray(values)
    if values.dtype == TEXT_DTYPE:
        return values
    if values.dtype.kind == "O":
        text = values.astype(TEXT_DTYPE)
        is_missing = _text_missing(values.astype(str))
        text[is_missing] = None
        return text
    text = values.astype(TEXT_DTYPE)
    text[_text_missing(values.astype(str))] = None
    return text


def _offsets_us(zone: dt.tzinfo, local: NDArray[Any]) -> NDArray[np.int64]:
    """UTC offset in microseconds of each (few, distinct) wall-clock time in ``zone``."""
    return np.array(
        [
            int(zone.utcoffset(t.astype(dt.datetime)) // dt.timedelta(microseconds=1))  # type: ignore[operator]
            for t in local
        ],
        dtype=np.int64,
    )


def _localize(naive_us: NDArray[np.datetime64], tz: str | dt.tzinfo) -> NDArray[np.datetime64]:
    """Wall-clock times in zone ``tz`` to UTC, computing the offset once per distinct hour.

    An hour whose first and last microsecond have different offsets holds a transition that is
    not on the hour (Lord Howe's half-hour DST, historical local mean times); its rows get the
    offset of each distinct value. Ambiguous times at a DST fall-back take the first occurrence
    (``fold=0``), as :meth:`datetime.datetime.astimezone` does.
    """
    zone = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
    if zone in (dt.UTC, zoneinfo.ZoneInfo("UTC")):
        return naive_us
    present = ~np.isnat(naive_us)
    local = naive_us[present]
    unique_hours, inverse = np.unique(local.astype("datetime64[h]"), return_inverse=True)
    starts = unique_hours.astype("datetime64[us]")
    at_start = _offsets_us(zone, starts)
    at_end = _offsets_us(zone, starts + np.timedelta64(3_599_999_999, "us"))
    offsets = at_start[inverse]
    split = (at_start != at_end)[inverse]
    if split.any():
        distinct, back = np.unique(local[split], return_inverse=True)
        offsets[split] = _offsets_us(zone, distinct)[back]
    out = naive_us.copy()
    out[present] = local - offsets.astype("timedelta64[us]")
    return out


def _has_offset(text: NDArray[np.str_]) -> NDArray[np.bool_]:
    """ISO date-time text carrying a UTC offset (``Z``, ``+hh:mm`` or ``-hh:mm`` after the time)."""
    timed = (np.strings.find(text, "T", 10, 11) == 10) | (np.strings.find(text, " ", 10, 11) == 10)
    offset: NDArray[np.bool_] = timed & (
        np.strings.endswith(np.strings.upper(text), "Z")
        | (np.strings.find(text, "+", 10) >= 0)
        | (np.strings.find(text, "-", 10) >= 0)
    )
    return offset


def _split_offset(
    text: NDArray[np.str_],
) -> tuple[NDArray[np.str_], NDArray[np.int64], NDArray[np.bool_]]:
    """ISO text with a UTC offset to (wall-clock text, offset in minutes, offset malformed).

    Accepts ``Z``, ``+hh:mm``, ``+hhmm`` and ``+hh`` (and ``-``), as ISO 8601 does.
    """
    upper = np.strings.upper(text)
    zulu = np.strings.endswith(upper, "Z")
    sign_at = np.maximum(np.strings.rfind(text, "+"), np.strings.rfind(text, "-"))
    cut = np.where(zulu, np.strings.str_len(text) - 1, sign_at)
    base = np.strings.slice(text, 0, cut)
    tail = np.strings.replace(np.strings.slice(text, cut + 1, None), ":", "")
    digits = np.where(zulu, "0000", tail)
    ok = np.strings.isdecimal(digits) & np.isin(np.strings.str_len(digits), (2, 4))
    digits = np.where(ok, np.strings.ljust(digits, 4, "0"), "0000")
    hours = np.strings.slice(digits, 0, 2).astype(np.int64)
    minutes = np.strings.slice(digits, 2, 4).astype(np.int64)
    ok &= (hours <= 23) & (minutes <= 59)
    sign = np.where(np.strings.slice(text, sign_at, sign_at + 1) == "-", -1, 1)
    offset = np.where(zulu, 0, sign * (hours * 60 + minutes)).astype(np.int64)
    return base, offset, ~ok


def _parse_distinct(text: NDArray[np.str_]) -> tuple[NDArray[np.datetime64], NDArray[np.bool_]]:
    """Parse ISO text one distinct value at a time: the slow path, taken only when one is bad."""
    distinct, back = np.unique(text, return_inverse=True)
    stamps = np.full(len(distinct), np.datetime64("NaT", "us"))
    bad = np.zeros(len(distinct), bool)
    for i, value in enumerate(distinct):
        try:
            stamps[i] = np.datetime64(value, "us")
        except ValueError:
            bad[i] = True
    return stamps[back], bad[back]


def to_time(
    values: NDArray[Any],
    field: str,
    *,
    tz: str | dt.tzinfo | None,
    aware: bool,
    allow_missing: bool,
) -> Converted:
    """Times to ``datetime64[us]`` UTC.

    ``aware`` says the values are already UTC instants (a timezone-aware dataframe column).
    ISO text with a UTC offset (``Z``, ``+02:00``, ``-0530``) is an instant too. Naive values
    (numpy ``datetime64``, ISO text without offset) need ``tz``; without it every such row is a
    violation that says to name the zone.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array(["2024-01-01T12:00"], dtype="datetime64[m]")
    >>> to_time(t, "timestamp", tz="Asia/Shanghai", aware=False, allow_missing=False)[0]
    array(['2024-01-01T04:00:00.000000'], dtype='datetime64[us]')
    >>> text = np.array(["2024-01-01T12:00+08:00", "2024-01-01T04:00:00Z"])
    >>> to_time(text, "timestamp", tz=None, aware=False, allow_missing=False)[0]
    array(['2024-01-01T04:00:00.000000', '2024-01-01T04:00:00.000000'],
          dtype='datetime64[us]')
    """
    values = np.asarray(values)
    found: list[Violation] = []
    if values.dtype.kind == "M":
        stamps = values.astype("datetime64[us]")
        bad_text = np.zeros(len(values), bool)
    else:
        text = np.strings.strip(_as_text(values))
        missing_text = _text_missing(text)
        stamps = np.full(len(values), np.datetime64("NaT", "us"))
        # numpy would read "+02:00"/"Z" with a warning and ignore it: offsets are split off
        # here and applied, so such rows are UTC instants; "now"/"today" are refused
        with_offset = ~missing_text & _has_offset(text)
        minutes = np.zeros(0, dtype=np.int64)
        bad_text = np.isin(np.strings.lower(text), ("now", "today"))
        if with_offset.any():
            base, minutes, malformed = _split_offset(text[with_offset])
            text = text.copy()
            text[with_offset] = base
            bad_text[with_offset] = malformed
        parsable = ~missing_text & ~bad_text
        if parsable.any():
            try:
                stamps[parsable] = text[parsable].astype("datetime64[us]")
            except ValueError:
                stamps[parsable], bad_text[parsable] = _parse_distinct(text[parsable])
        if with_offset.any():
            stamps[with_offset] -= (minutes * 60_000_000).astype("timedelta64[us]")
            aware_rows = with_offset & ~bad_text
        _keep(violation(field, bad_text, values, "an ISO 8601 date-time"), found)
    missing = np.isnat(stamps) & ~bad_text
    if not allow_missing:
        _keep(violation(field, missing, values, "a date-time"), found)
    if not aware and values.dtype.kind != "M" and with_offset.any():
        # rows with an offset are instants already; only the others need a zone
        instants = stamps[aware_rows]
        naive = ~aware_rows
        if tz is None:
            _keep(
                violation(
                    field,
                    naive & ~np.isnat(stamps),
                    values,
                    "a timezone-aware time (these are naive: pass tz='UTC' or the zone they "
                    "were recorded in)",
                ),
                found,
            )
        else:
            stamps = _localize(stamps, tz)
            stamps[aware_rows] = instants
        return stamps, missing if missing.any() else None, found
    if not aware:
        if tz is None:
            present = ~np.isnat(stamps)
            _keep(
                violation(
                    field,
                    present,
                    values,
                    "a timezone-aware time (these are naive: pass tz='UTC' or the zone they "
                    "were recorded in)",
                ),
                found,
            )
        else:
            stamps = _localize(stamps, tz)
    return stamps, missing if missing.any() else None, found
