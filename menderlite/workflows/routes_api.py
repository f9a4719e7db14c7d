"""The workflows API: `/status` and `/health` at the root (public), the rest under /api/v1 (internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.web import health
from menderlite.web.errors import json_response

routes = web.RouteTableDef()


@routes.get("/status")
async def status(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


routes.get("/health")(health.health)
routes.get("/api/v1/health")(health.health)
