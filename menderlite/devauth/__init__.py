"""The devauth service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.devauth import routes_internal
from menderlite.devauth.service import DevauthService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.devauth = DevauthService(ctx)
    app.router.add_routes(routes_internal.routes)
