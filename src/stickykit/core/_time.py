"""Time-zone handling shared by records and loaders.

stickykit stores every instant in UTC with microsecond resolution (``datetime64[us]``).
A naive datetime (no ``tzinfo``) is refused unless the caller names its zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
from numpy.typing import NDArray

__all__ = ["as_utc", "check_zone", "datetime_to_us", "localize", "us_to_datetime"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def check_zone(record: str, tz: str | dt.tzinfo | None) -> dt.tzinfo | None:
    """The zone named by ``tz`` (an IANA name or a tzinfo); an unknown name is a ValidationError.

    Examples
    --------
    >>> check_zone("Event", "Mars/Olympus")
    Traceback (most recent call last):
    ...
    stickykit.errors.ValidationError: Event.tz: 'Mars/Olympus' is invalid, expected an IANA time zone name such as 'Europe/Paris'
    """
    if tz is None or isinstance(tz, dt.tzinfo):
        return tz
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        from stickykit.errors import ValidationError  # noqa: PLC0415

        raise ValidationError(
            record=record,
            field="tz",
            row=None,
            value=tz,
            expected="an IANA time zone name such as 'Europe/Paris'",
        ) from None


def localize(value: dt.datetime, tz: str | dt.tzinfo | None) -> dt.datetime:
    """Attach the zone ``tz`` to a naive datetime; aware datetimes pass unchanged.

    Examples
    --------
    >>> localize(dt.datetime(2024, 3, 1, 12), "Europe/Paris").utcoffset()
    datetime.timedelta(seconds=3600)
    """
    if value.tzinfo is not None or tz is None:
        return value
    zone = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
    return value.replace(tzinfo=zone)


def as_utc(value: object) -> object:
    """Convert an aware datetime to UTC; leave anything else for the validators to judge.

    Examples
    --------
    >>> as_utc(dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def datetime_to_us(value: dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime.

    Examples
    --------
    >>> datetime_to_us(dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
    1000000
    """
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def us_to_datetime(value: int) -> dt.datetime:
    """Aware UTC datetime from microseconds since the Unix epoch.

    Examples
    --------
    >>> us_to_datetime(0)
    datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return _EPOCH + dt.timedelta(microseconds=int(value))


def datetimes_to_array(values: list[dt.datetime | None]) -> NDArray[np.datetime64]:
    """Aware datetimes (or ``None``) to a ``datetime64[us]`` UTC array, ``None`` as NaT."""
    out = np.full(len(values), np.datetime64("NaT", "us"))
    present = [i for i, v in enumerate(values) if v is not None]
    if present:
        micros = np.array([datetime_to_us(values[i]) for i in present], dtype=np.int64)  # type: ignore[arg-type]
        out[present] = micros.astype("datetime64[us]")
    return out
