"""X-MEN-RequestID: echoed when the client sends one, otherwise a new UUIDv4, on every response."""

from __future__ import annotations

import random

from aiohttp import web

HEADER = "X-MEN-RequestID"
_KEY = web.RequestKey("request_id", str)
_MAX_LENGTH = 128


def request_id_of(request: web.BaseRequest) -> str:
    return request.get(_KEY, "")


def _from_client(request: web.Request) -> str | None:
    value = request.headers.get(HEADER, "").strip()
    # Echo only something that is safe to put back into a header and a log line.
    if value and len(value) <= _MAX_LENGTH and value.isprintable():
        return value
    return None


def new_request_id() -> str:
    """A random UUIDv4 in its text form. Request ids only correlate log lines with answers and are no
    secret, so the non-cryptographic generator does (uuid.uuid4() costs several times more per request)."""
    digits = f"{random.getrandbits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def assign_request_id(request: web.Request) -> str:
    """The id of this request (the client's, or a new one), remembered on the request.

    Every response carries it (see `front.py`); a handler that prepares a streamed response itself sets the
    header first with `set_request_id_header`.
    """
    request_id = _from_client(request) or new_request_id()
    request[_KEY] = request_id
    return request_id


def set_request_id_header(request: web.BaseRequest, response: web.StreamResponse) -> None:
    request_id = request.get(_KEY)
    if request_id:
        response.headers[HEADER] = request_id
