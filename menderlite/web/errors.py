"""Errors as values: services raise `ApiError`; the front middleware renders every error as JSON."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from menderlite.web.request_id import request_id_of

log = logging.getLogger("menderlite.errors")

JSON_CONTENT_TYPE = "application/json"

# What the real services answer for errors the router or the HTTP layer raises.
_HTTP_MESSAGES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "Resource not found",
    405: "Method not allowed",
    413: "request body too large",
    412: "precondition failed",
    415: "Bad Content-Type or charset, expected 'application/json'",
    416: "requested range not satisfiable",
    429: "too many requests",
}


class ApiError(Exception):
    """An error with the HTTP status and message the API catalogue gives for it.

    `body` replaces the standard `{"error", "request_id"}` document where the reference documents another
    shape (e.g. a 409 that returns the conflicting object).
    """

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.body = body


def error_response(request: web.Request, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    document: dict[str, str] = {"error": message}
    request_id = request_id_of(request)
    if request_id:
        document["request_id"] = request_id
    return json_response(document, status=status, headers=headers)


def render_error(request: web.Request, exc: Exception) -> web.Response:
    """The JSON answer for an exception a guard or handler raised (see front.py, which re-raises
    cancellations, dropped connections and HTTP redirects before coming here)."""
    if isinstance(exc, ApiError):
        if exc.body is not None:
            return json_response(exc.body, status=exc.status, headers=exc.headers)
        return error_response(request, exc.status, exc.message, exc.headers)
    if isinstance(exc, web.HTTPException):
        headers = {name: value for name, value in exc.headers.items() if name.lower() in ("allow", "retry-after")}
        message = _HTTP_MESSAGES.get(exc.status) or exc.reason
        return error_response(request, exc.status, message, headers)
    log.error(
        "unhandled error in %s %s (request %s)", request.method, request.path, request_id_of(request), exc_info=exc
    )
    return error_response(request, 500, "internal error")


class _JsonErrorBody(web.StreamResponse):
    """Placed between `web.FileResponse` and `web.StreamResponse` in the MRO (see `FileResponse`): the file
    response decides its error statuses (416 Range Not Satisfiable, 412, 404 for a file deleted meanwhile)
    only while it is prepared, after the middleware has returned, and starts them through
    `StreamResponse.prepare`; here they get the JSON error body instead of an empty one."""

    async def prepare(self, request: web.BaseRequest) -> Any:
        if self.status < 400 or self.prepared:
            return await super().prepare(request)
        document: dict[str, str] = {"error": _HTTP_MESSAGES.get(self.status) or self.reason}
        request_id = request_id_of(request)
        if request_id:
            document["request_id"] = request_id
        body = json_dumps(document).encode()
        self.headers.pop("Content-Disposition", None)
        self.content_type, self.charset = JSON_CONTENT_TYPE, "utf-8"
        self.content_length = len(body)
        writer = await super().prepare(request)
        if request.method != "HEAD":
            await self.write(body)
        return writer


class FileResponse(web.FileResponse, _JsonErrorBody):
    """`web.FileResponse` (sendfile, Range, conditional requests) whose error answers are JSON too."""


def passes_through(exc: BaseException) -> bool:
    """Exceptions that are not errors to render: cancellation, a dropped connection, an HTTP redirect."""
    return isinstance(exc, (asyncio.CancelledError, ConnectionResetError)) or (
        isinstance(exc, web.HTTPException) and exc.status < 400
    )


def json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """`application/json; charset=utf-8`, compact."""
    return web.json_response(data, status=status, headers=headers, dumps=json_dumps)
