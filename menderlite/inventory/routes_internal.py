"""Internal API of inventory (/api/internal/v1/inventory): only peers in the configured networks reach it."""

from __future__ import annotations

from aiohttp import web

from menderlite.web import health

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/inventory"

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)
