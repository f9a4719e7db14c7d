"""The deployments service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.deployments import routes_internal
from menderlite.deployments.service import DeploymentsService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.deployments = DeploymentsService(ctx)
    app.router.add_routes(routes_internal.routes)
