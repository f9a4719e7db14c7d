"""What the useradm route modules share: the app key of the service and request parsing helpers."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import hdrs, web

from menderlite.useradm.service import UseradmService
from menderlite.web.errors import ApiError
from menderlite.web.json_body import parse_json, read_raw_json_bytes

SERVICE = web.AppKey("useradm", UseradmService)


def service(request: web.Request) -> UseradmService:
    return request.app[SERVICE]


def basic_credentials(request: web.Request) -> tuple[str, str]:
    """(email, password) of an `Authorization: Basic` header, else 401 as the real useradm answers."""
    scheme, _, encoded = request.headers.get(hdrs.AUTHORIZATION, "").strip().partition(" ")
    try:
        if scheme.lower() != "basic":
            raise ValueError("not Basic")
        login, colon, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise ApiError(401, "invalid or missing auth header") from None
    if not colon or not login:
        raise ApiError(401, "invalid or missing auth header")
    return login, password


async def optional_json_object(request: web.Request) -> dict[str, Any]:
    """A JSON object body, or {} when the body is empty (login: mender-cli sends no body)."""
    raw = await read_raw_json_bytes(request)
    if not raw.strip():
        return {}
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise ApiError(400, "failed to decode request body: expected a JSON object")
    return value
