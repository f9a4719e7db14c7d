"""Attribute values: what devices may send, how a value becomes typed rows, and how rows become JSON again.

Allowed values are a string, a number, an array of strings or an array of numbers (empty arrays and empty
strings included). Numbers are kept as floats (like the real service's float64) and rendered without a
fraction when they are whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from menderlite.inventory.models import EMPTY_ARRAY, MAX_NAME_LENGTH, SCALAR
from menderlite.web import ApiError

Value = str | float | tuple[str, ...] | tuple[float, ...]

SCOPE_INVENTORY = "inventory"
SCOPE_IDENTITY = "identity"
SCOPE_SYSTEM = "system"

INVALID_TYPE = "invalid attribute value: supported types are string, float64, and arrays thereof"
MIXED_ARRAY = "array values must be of consistent type: string or float64"
NAME_MISSING = "attribute name not present"
NAME_TOO_LONG = f"attribute name can have at most {MAX_NAME_LENGTH} characters"
SCOPE_TOO_LONG = f"attribute scope can have at most {MAX_NAME_LENGTH} characters"
BAD_DESCRIPTION = "attribute description must be a string"


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Value
    description: str | None = None


@dataclass(frozen=True)
class ValueRow:
    element: int
    str_value: str | None
    num_value: float | None


def is_number(value: Any) -> bool:
    """A JSON number that fits a float64 (what the real service decodes numbers into)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def normalize_value(raw: Any) -> Value:
    """The stored form of a JSON value, or ApiError 400 with the catalogue's messages."""
    if isinstance(raw, str):
        return raw
    if is_number(raw):
        return float(raw)
    if isinstance(raw, list):
        if all(isinstance(item, str) for item in raw):
            return tuple(raw)
        if all(is_number(item) for item in raw):
            return tuple(float(item) for item in raw)
        raise ApiError(400, MIXED_ARRAY)
    raise ApiError(400, INVALID_TYPE)


def parse_attribute(raw: Any, *, name_only: bool = False) -> tuple[str | None, Attribute]:
    """One `{name, value, scope?, description?}` object; returns (scope as sent or None, attribute)."""
    if not isinstance(raw, dict):
        raise ApiError(400, "failed to decode request body: attributes must be JSON objects")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(400, NAME_MISSING)
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, NAME_TOO_LONG)
    scope = raw.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise ApiError(400, "attribute scope must be a string")
    if scope is not None and len(scope) > MAX_NAME_LENGTH:
        raise ApiError(400, SCOPE_TOO_LONG)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ApiError(400, BAD_DESCRIPTION)
    return scope or None, Attribute(name=name, value=normalize_value(raw.get("value")), description=description)


def parse_attribute_list(raw: Any) -> list[tuple[str | None, Attribute]]:
    if not isinstance(raw, list):
        raise ApiError(400, "failed to decode request body: expected a JSON array of attributes")
    return [parse_attribute(item) for item in raw]


def identity_value(raw: Any) -> Value | None:
    """An id_data value as an identity attribute; anything not storable is skipped (returns None)."""
    try:
        return normalize_value(raw)
    except ApiError:
        return None


def rows_of(value: Value) -> Iterator[ValueRow]:
    if isinstance(value, str):
        yield ValueRow(SCALAR, value, None)
    elif isinstance(value, float):
        yield ValueRow(SCALAR, None, value)
    elif not value:
        yield ValueRow(EMPTY_ARRAY, None, None)
    else:
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield ValueRow(index, item, None)
            else:
                yield ValueRow(index, None, item)


def value_of(rows: Sequence[ValueRow]) -> Value:
    """Rebuild a value from its rows (in any order)."""
    first = rows[0] if len(rows) == 1 else min(rows, key=lambda row: row.element)
    if first.element == EMPTY_ARRAY:
        return ()
    if first.element == SCALAR:
        return first.str_value if first.str_value is not None else float(first.num_value or 0.0)
    ordered = sorted(rows, key=lambda row: row.element)
    if first.str_value is not None:
        return tuple(row.str_value or "" for row in ordered)
    return tuple(float(row.num_value or 0.0) for row in ordered)


def json_number(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def to_json(value: Value) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return json_number(value)
    return [item if isinstance(item, str) else json_number(item) for item in value]
