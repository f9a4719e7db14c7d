"""Where the route handlers find the deployments service object (a look-up per request, no import)."""

from __future__ import annotations

from aiohttp import web

from menderlite.deployments.service import DeploymentsService

SERVICE = web.AppKey("deployments_service", DeploymentsService)
