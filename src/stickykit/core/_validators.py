"""attrs validators that name the record type, the field, the value and what was expected."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import attrs

from stickykit.errors import ValidationError

__all__ = [
    "aware_datetime",
    "finite_number",
    "identifier",
    "non_negative_number",
    "optional",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _fail(instance: object, attribute: attrs.Attribute[Any], value: Any, expected: str) -> None:
    raise ValidationError(
        record=type(instance).__name__,
        field=attribute.name,
        row=None,
        value=value,
        expected=expected,
    )


def identifier(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept a non-empty string or an integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        _fail(instance, attribute, value, "a non-empty string or an integer id")
    if isinstance(value, str) and not value:
        _fail(instance, attribute, value, "a non-empty string or an integer id")


def aware_datetime(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept a timezone-aware datetime (converted to UTC by the converter)."""
    if not isinstance(value, dt.datetime):
        _fail(instance, attribute, value, "a timezone-aware datetime")
    elif value.tzinfo is None or value.utcoffset() is None:
        _fail(
            instance,
            attribute,
            value,
            f"a timezone-aware datetime (name the zone of naive times: "
            f"{type(instance).__name__}.from_mapping(..., tz='Europe/Paris'))",
        )


def finite_number(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept a finite int or float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(instance, attribute, value, "a finite number")


def non_negative_number(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept a finite number >= 0."""
    finite_number(instance, attribute, value)
    if value < 0:
        _fail(instance, attribute, value, "a finite number >= 0")


def integer(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept an int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(instance, attribute, value, "an integer")


def non_empty_text(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept a non-empty string."""
    if not isinstance(value, str) or not value:
        _fail(instance, attribute, value, "a non-empty string")


def label(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Accept a group label: a non-empty string or an integer."""
    identifier(instance, attribute, value)


def optional(validator: Validator) -> Validator:
    """Let ``None`` pass, otherwise apply ``validator``."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


def strip_text(value: object) -> object:
    """Strip surrounding white space from strings; leave other values alone."""
    return value.strip() if isinstance(value, str) else value


def optional_text(value: object) -> object:
    """Strip strings and turn an empty string into ``None``."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value
