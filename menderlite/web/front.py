"""The one middleware every request passes through: in-flight count, request id, CORS, access guard, errors.

One middleware rather than one per concern: each aiohttp middleware layer costs a coroutine and a wrapped
call per request, which for a device check-in added up to several microseconds (see bench/). The steps
keep the order the separate middlewares had, outermost first:

    in-flight count > request id > CORS (a preflight is answered here) > errors as JSON > guard > handler

so every response, errors included, carries `X-MEN-RequestID` and the CORS headers, and every error a guard
or handler raises is rendered as `{"error", "request_id"}` (web/errors.py).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from menderlite.web.cors import add_cors_headers, is_preflight, preflight_response
from menderlite.web.errors import passes_through, render_error
from menderlite.web.guards import check_access
from menderlite.web.inflight import InFlight
from menderlite.web.request_id import HEADER, assign_request_id


def front_middleware(in_flight: InFlight) -> Middleware:
    @web.middleware
    async def front(request: web.Request, handler: Handler) -> web.StreamResponse:
        in_flight.enter()
        try:
            request_id = assign_request_id(request)
            if is_preflight(request):
                response: web.StreamResponse = preflight_response(request)
            else:
                try:
                    await check_access(request)
                    response = await handler(request)
                except Exception as exc:
                    if passes_through(exc):
                        raise
                    response = render_error(request, exc)
            if not response.prepared:
                response.headers[HEADER] = request_id
                add_cors_headers(request, response)
            return response
        finally:
            in_flight.leave()

    return front
