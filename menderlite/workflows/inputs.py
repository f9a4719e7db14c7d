"""The input parameters of a workflow start: the body as the real service takes it (a JSON object) or as the
reference documents it (a list of `{"name", "value"}`), made into `[{name, value}]` with string values."""

from __future__ import annotations

import json
from typing import Any


class InputError(ValueError):
    """A start body that cannot be read as input parameters."""


def input_parameters(body: Any) -> list[dict[str, str]]:
    if isinstance(body, dict):
        return [{"name": name, "value": _as_text(value)} for name, value in body.items()]
    if isinstance(body, list):
        return [_name_value(item) for item in body]
    raise InputError("expected a JSON object")


def _name_value(item: Any) -> dict[str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise InputError('expected a list of {"name", "value"} objects')
    return {"name": item["name"], "value": _as_text(item.get("value"))}


def _as_text(value: Any) -> str:
    """Strings as they are; lists as their items' texts joined with ","; anything else JSON-encoded."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(item if isinstance(item, str) else _json(item) for item in value)
    return _json(value)


def _json(value: Any) -> str:
    # Go decodes JSON numbers into float64 and prints 3.0 as "3": do the same for integral floats.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        value = int(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def missing_inputs(required: tuple[str, ...], parameters: list[dict[str, str]]) -> list[str]:
    given = {parameter["name"] for parameter in parameters}
    return [name for name in required if name not in given]
