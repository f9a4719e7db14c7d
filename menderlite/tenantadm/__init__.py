"""The tenantadm service: its models, service layer and route tables (management / internal)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from menderlite.context import Context
from menderlite.tenantadm import routes_internal, routes_management
from menderlite.tenantadm.appkeys import SERVICE
from menderlite.tenantadm.service import TenantadmService

# How often the server looks for tenants suspended by another process (the `menderlite tenant` command).
SUSPENSION_POLL_SECONDS = 5.0


def setup(app: web.Application, ctx: Context) -> None:
    ctx.tenantadm = TenantadmService(ctx)
    app[SERVICE] = ctx.tenantadm
    app.router.add_routes(routes_management.routes)
    app.router.add_routes(routes_internal.routes)
    app.cleanup_ctx.append(_suspension_watch(ctx.tenantadm))


def _suspension_watch(tenantadm: TenantadmService) -> Callable[[web.Application], AsyncIterator[None]]:
    async def watch(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(tenantadm.watch_suspensions(SUSPENSION_POLL_SECONDS))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return watch
