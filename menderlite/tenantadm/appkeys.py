"""Where the route handlers find the tenantadm service object."""

from __future__ import annotations

from aiohttp import web

from menderlite.tenantadm.service import TenantadmService

SERVICE = web.AppKey("tenantadm_service", TenantadmService)


def service(request: web.Request) -> TenantadmService:
    return request.app[SERVICE]
