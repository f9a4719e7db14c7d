"""The workflows service: its models, service layer and route table (/api/v1/..., /status, /health)."""

from __future__ import annotations

from aiohttp import web

from menderlite.context import Context
from menderlite.workflows import routes_api
from menderlite.workflows.service import WorkflowsService


def setup(app: web.Application, ctx: Context) -> None:
    ctx.workflows = WorkflowsService(ctx)
    app.router.add_routes(routes_api.routes)
