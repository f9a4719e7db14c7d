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


class _RequestIds:
    """Request ids in UUIDv4 form: a random prefix per process and a counter in the last group.

    They only correlate log lines with answers (no secret, no guessing to prevent) and must not repeat;
    making a random UUID for every request cost several times more than this.
    """

    def __init__(self) -> None:
        digits = f"{random.SystemRandom().getrandbits(128):032x}"
        variant = "89ab"[int(digits[16], 16) & 3]
        self.prefix = f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-"
        self.start = int(digits[20:], 16)
        self.count = 0

    def new(self) -> str:
        self.count += 1
        return f"{self.prefix}{(self.start + self.count) & 0xFFFFFFFFFFFF:012x}"


_ids = _RequestIds()


def new_request_id() -> str:
    return _ids.new()


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
