"""Where the route handlers find the workflows service object (a look-up per request, no import)."""

from __future__ import annotations

from aiohttp import web

from menderlite.workflows.service import WorkflowsService

SERVICE = web.AppKey("workflows_service", WorkflowsService)
