"""The useradm service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.useradm import routes_internal
from menderlite.useradm.service import UseradmService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.useradm = UseradmService(ctx)
    app.router.add_routes(routes_internal.routes)
