"""CORS: answers preflight OPTIONS requests and adds the allow headers to every response (see front.py)."""

from __future__ import annotations

from aiohttp import web

CORS_ORIGINS = web.AppKey("cors_origins", tuple)
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSED_HEADERS = "X-MEN-RequestID, X-Total-Count, Link, Location, Content-Disposition, Content-Range"


def allowed_origin(request: web.BaseRequest) -> str | None:
    origin = request.headers.get("Origin")
    if not origin:
        return None
    origins = request.app.get(CORS_ORIGINS, ())
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def is_preflight(request: web.BaseRequest) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_response(request: web.BaseRequest) -> web.Response:
    headers = {
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": request.headers.get(
            "Access-Control-Request-Headers", "Authorization, Content-Type, X-MEN-RequestID"
        ),
        "Access-Control-Max-Age": "600",
    }
    return web.Response(status=204, headers=headers)


def add_cors_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    origin = allowed_origin(request)
    if origin is None:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if origin != "*":
        response.headers["Vary"] = "Origin"
