"""Internal API of tenantadm (/api/internal/v1/tenantadm): only peers in the configured networks reach it."""

from __future__ import annotations

from aiohttp import web

from menderlite.web import health

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/tenantadm"

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)
