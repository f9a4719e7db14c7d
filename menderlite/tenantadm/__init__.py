"""The tenantadm service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.tenantadm import routes_internal
from menderlite.tenantadm.service import TenantadmService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.tenantadm = TenantadmService(ctx)
    app.router.add_routes(routes_internal.routes)
