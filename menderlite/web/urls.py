"""Absolute URLs that clients (devices on the LAN included) can follow back to this server."""

from __future__ import annotations

from aiohttp import web

PUBLIC_URL = web.AppKey("public_url", str)


def base_url(request: web.BaseRequest) -> str:
    """The configured public URL, or else the scheme and Host the request came in on."""
    configured = request.app.get(PUBLIC_URL, "") if request.app is not None else ""
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def absolute_url(request: web.BaseRequest, path_and_query: str) -> str:
    return base_url(request) + path_and_query
