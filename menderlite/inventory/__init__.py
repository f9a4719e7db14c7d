"""The inventory service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.inventory import routes_internal
from menderlite.inventory.service import InventoryService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.inventory = InventoryService(ctx)
    app.router.add_routes(routes_internal.routes)
