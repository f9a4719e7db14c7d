"""The devauth service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.devauth import routes_devices, routes_internal, routes_management
from menderlite.devauth.appkeys import SERVICE
from menderlite.devauth.service import DevauthService
from menderlite.web.guards import DEVICE_VERIFIER


def setup(app: web.Application, ctx: Context) -> None:
    ctx.devauth = DevauthService(ctx)
    app[SERVICE] = ctx.devauth
    app[DEVICE_VERIFIER] = ctx.devauth.verify_request
    app.router.add_routes(routes_devices.routes)
    app.router.add_routes(routes_management.routes)
    app.router.add_routes(routes_internal.routes)
