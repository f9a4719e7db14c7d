"""The workflows service: definitions, durable jobs and their in-process runner, and the route table
(/api/v1/..., /status, /health)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from menderlite.context import Context
from menderlite.workflows import routes_api
from menderlite.workflows.appkeys import SERVICE
from menderlite.workflows.service import WorkflowsService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.workflows = WorkflowsService(ctx)
    app[SERVICE] = ctx.workflows
    app.router.add_routes(routes_api.routes)
    app.cleanup_ctx.append(_runner(ctx.workflows))
    app.on_shutdown.append(_begin_stop(ctx.workflows))


def _runner(workflows: WorkflowsService) -> Callable[[web.Application], AsyncIterator[None]]:
    async def runner(app: web.Application) -> AsyncIterator[None]:
        await workflows.runner.start()
        yield
        await workflows.runner.stop()

    return runner


def _begin_stop(workflows: WorkflowsService) -> Callable[[web.Application], Awaitable[None]]:
    async def begin_stop(app: web.Application) -> None:
        workflows.runner.begin_stop()

    return begin_stop
