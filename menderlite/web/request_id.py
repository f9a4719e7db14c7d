"""X-MEN-RequestID: echoed when the client sends one, otherwise a new UUIDv4, on every response."""

from __future__ import annotations

import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

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


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: every response (errors included) carries the id.

    A handler that prepares a streamed response itself sets the header first with `set_request_id_header`.
    (A middleware rather than an on_response_prepare signal: signals cost far more per request.)
    """
    request_id = _from_client(request) or str(uuid.uuid4())
    request[_KEY] = request_id
    response = await handler(request)
    if not response.prepared:
        response.headers[HEADER] = request_id
    return response


def set_request_id_header(request: web.BaseRequest, response: web.StreamResponse) -> None:
    request_id = request.get(_KEY)
    if request_id:
        response.headers[HEADER] = request_id
