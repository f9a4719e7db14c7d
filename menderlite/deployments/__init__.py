"""The deployments service: its models, service layer and route tables (devices / management / internal),
plus the public download route of signed artifact links."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from menderlite.context import Context
from menderlite.deployments import (
    routes_devices,
    routes_download,
    routes_internal,
    routes_management,
    routes_management_v2,
)
from menderlite.deployments.appkeys import SERVICE
from menderlite.deployments.service import DeploymentsService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.deployments = DeploymentsService(ctx)
    app[SERVICE] = ctx.deployments
    app.router.add_routes(routes_management.routes)
    app.router.add_routes(routes_management_v2.routes)
    app.router.add_routes(routes_devices.routes)
    app.router.add_routes(routes_internal.routes)
    app.router.add_routes(routes_download.routes)
    app.cleanup_ctx.append(_generation_worker(ctx))


def _generation_worker(ctx: Context) -> Callable[[web.Application], AsyncIterator[None]]:
    async def worker(app: web.Application) -> AsyncIterator[None]:
        await ctx.deployments.artifacts.start_worker()
        yield
        await ctx.deployments.artifacts.stop_worker()

    return worker
