"""Reading JSON request bodies: 415 for the wrong type, 413 above the limit, 400 for bad JSON."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

from menderlite.web.errors import ApiError

EMPTY = "JSON payload is empty"
# A `\uD800`..`\uDFFF` escape: the only way a lone surrogate (not encodable as UTF-8) gets into a value.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_json_content_type(request: web.BaseRequest) -> bool:
    if request.content_type != "application/json":
        return False
    charset = request.charset
    return charset is None or charset.lower().replace("-", "") == "utf8"


def require_json_content_type(request: web.BaseRequest) -> None:
    if not is_json_content_type(request):
        raise ApiError(415, "Bad Content-Type or charset, expected 'application/json'")


async def read_raw_json_bytes(request: web.Request) -> bytes:
    """The body of a JSON request, exactly as received (e.g. for signature checks)."""
    if request.body_exists:
        require_json_content_type(request)
    # request.read() enforces the application's client_max_size and raises 413, rendered as JSON.
    return await request.read()


async def read_json(request: web.Request, context: str = "failed to decode request body") -> Any:
    """Parse the JSON body; errors read `<context>: <reason>` as the real services word them."""
    raw = await read_raw_json_bytes(request)
    return parse_json(raw, context)


def parse_json(raw: bytes, context: str = "failed to decode request body") -> Any:
    if not raw.strip():
        raise ApiError(400, f"{context}: {EMPTY}")
    try:
        return loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, f"{context}: {exc}") from None


def loads(raw: bytes) -> Any:
    """`json.loads` that accepts what Go's decoder accepts: no NaN/Infinity and no number beyond float64
    (ValueError); lone surrogates become U+FFFD, as Go decodes them (they cannot be stored or sent as UTF-8)."""
    value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    return _without_lone_surrogates(value) if _SURROGATE_ESCAPE.search(raw) else value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value


async def read_json_object(request: web.Request, context: str = "failed to decode request body") -> dict[str, Any]:
    value = await read_json(request, context)
    if not isinstance(value, dict):
        raise ApiError(400, f"{context}: expected a JSON object")
    return value
