"""Liveness and health handlers that each service mounts on its own paths."""

from __future__ import annotations

import logging

from aiohttp import web

from menderlite.db import Database
from menderlite.web.errors import error_response

log = logging.getLogger(__name__)

DATABASE = web.AppKey("database", Database)


async def alive(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[DATABASE].ping()
    except Exception as exc:  # any database failure means "unhealthy", never a 500
        log.warning("health check failed: %s", exc)
        return error_response(request, 503, "error reaching the database")
    return web.Response(status=204)
