"""The useradm service: users, tokens, roles and RBAC, settings, 2FA, password reset; its route tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from menderlite.context import Context
from menderlite.useradm import routes_internal, routes_management
from menderlite.useradm.routes_common import SERVICE
from menderlite.useradm.service import UseradmService
from menderlite.web.guards import USER_VERIFIER


def setup(app: web.Application, ctx: Context) -> None:
    ctx.useradm = UseradmService(ctx)
    app[SERVICE] = ctx.useradm
    app[USER_VERIFIER] = ctx.useradm.verify_request
    app.router.add_routes(routes_management.routes)
    app.router.add_routes(routes_internal.routes)
    app.cleanup_ctx.append(_lifecycle(ctx.useradm))


def _lifecycle(useradm: UseradmService) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await useradm.warn_if_no_users()
        yield
        await useradm.close()

    return lifecycle
