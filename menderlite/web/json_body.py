"""Reading JSON request bodies: 415 for the wrong type, 413 above the limit, 400 for bad JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from menderlite.web.errors import ApiError

EMPTY = "JSON payload is empty"
# What clients send (mender-client, mender-cli, browsers): accepted without parsing the header.
_COMMON_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8"})


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
    if not raw.strip():
        raise ApiError(400, f"{context}: {EMPTY}")
    try:
        # UTF-8 only (the content type says so), like the real services: no BOM, no UTF-16/32 guessing.
        return json.loads(raw.decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"{context}: {exc}") from None


async def read_json_object(request: web.Request, context: str = "failed to decode request body") -> dict[str, Any]:
    value = await read_json(request, context)
    if not isinstance(value, dict):
        raise ApiError(400, f"{context}: expected a JSON object")
    return value
