"""Reading JSON request bodies: 415 for the wrong type, 413 above the limit, 400 for bad JSON."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

from menderlite.web.errors import ApiError

EMPTY = "JSON payload is empty"
# What clients send (mender-client, mender-cli, browsers): accepted without parsing the header.
_COMMON_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8"})
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def is_json_content_type(request: web.BaseRequest) -> bool:
    if request.headers.get("Content-Type") in _COMMON_JSON_TYPES:
        return True
    if request.content_type != "application/json":
        return False
    charset = request.charset
    return charset is None or charset.lower().replace("-", "") == "utf8"


def require_json_content_type(request: web.BaseRequest) -> None:
    if not is_json_content_type(request):
        raise ApiError(415, "Bad Content-Type or charset, expected 'application/json'")


async def read_raw_json_bytes(request: web.Request) -> bytes:
    """The body of a JSON request, exactly as received (e.g. for signature checks). Read once per request."""
    if request.body_exists:
        require_json_content_type(request)
        content = request.content
        if content.is_eof():
            # The whole body has arrived with the request (small bodies: every device request): take it
            # as it is instead of request.read()'s loop, which costs more than parsing the JSON.
            body = content.read_nowait()
            if request.client_max_size and len(body) > request.client_max_size:
                raise web.HTTPRequestEntityTooLarge(max_size=request.client_max_size, actual_size=len(body))
            return body
    # request.read() enforces the application's client_max_size and raises 413, rendered as JSON.
    return await request.read()


async def read_json(request: web.Request, context: str = "failed to decode request body") -> Any:
    """Parse the JSON body; errors read `<context>: <reason>` as the real services word them."""
    raw = await read_raw_json_bytes(request)
    return parse_json(raw, context)


def parse_json(raw: bytes, context: str = "failed to decode request body") -> Any:
    """Strict JSON, as Go decodes it: NaN/Infinity, numbers beyond Python's digit limit and too-deep nesting
    are 400s like any other malformed body (never a 500); lone surrogates become U+FFFD."""
    if not raw.strip():
        raise ApiError(400, f"{context}: {EMPTY}")
    try:
        # As Go's decoder: UTF-8 only (no BOM, no UTF-16/32 guessing), no NaN/Infinity, no number beyond
        # float64 (they would come back as invalid JSON).
        value = json.loads(raw.decode(), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, too-long integers, too-deep nesting
        raise ApiError(400, f"{context}: {exc}") from None
    return _without_lone_surrogates(value) if _SURROGATE_ESCAPE.search(raw) else value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _without_lone_surrogates(value: Any) -> Any:
    """Lone UTF-16 surrogates (`"\\ud800"`) become U+FFFD, as Go's decoder does: such strings cannot be
    encoded as UTF-8, so they would fail wherever they are stored or sent back."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
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
