"""The inventory service: its models, service layer and route tables (devices / management / internal)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.inventory import (
    routes_devices,
    routes_internal,
    routes_management,
    routes_search,
)
from menderlite.inventory.http import INVENTORY
from menderlite.inventory.service import InventoryService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.inventory = InventoryService(ctx)
    ctx.inventory.subscribe(ctx.events)
    app[INVENTORY] = ctx.inventory
    for table in (routes_devices, routes_management, routes_search, routes_internal):
        app.router.add_routes(table.routes)
