"""Internal API of deployments (/api/internal/v1/deployments): only peers in the configured networks reach it.

Tenant ids in paths: "default" (and the empty string) mean the default tenant.
"""

from __future__ import annotations

import re

from aiohttp import web

from menderlite.deployments.routes_management import ARTIFACT_LOCATION, artifacts_service, receive_artifact_upload
from menderlite.web import ApiError, health, json_response, read_json_object  # noqa: F401

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/deployments"
_TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)


def tenant_id_of(text: str) -> str:
    if text in ("", "default"):
        return ""
    if not _TENANT_ID.match(text):
        raise ApiError(400, "invalid tenant id")
    return text


def tenant_param(request: web.Request) -> str:
    return tenant_id_of(request.match_info["id"])


@routes.get(f"{PREFIX}/tenants/{{id}}/limits/storage")
async def get_storage_usage(request: web.Request) -> web.Response:
    usage = await artifacts_service(request).storage_usage(tenant_param(request))
    return json_response({"limit": usage.limit, "usage": usage.usage})


@routes.put(f"{PREFIX}/tenants/{{id}}/limits/storage")
async def set_storage_limit(request: web.Request) -> web.Response:
    tenant_id = tenant_param(request)
    body = await read_json_object(request)
    limit = body.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ApiError(400, "limit: must be a non-negative integer")
    await artifacts_service(request).set_storage_limit(tenant_id, limit)
    return web.Response(status=204)


@routes.post(f"{PREFIX}/tenants")
async def create_tenant(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    tenant_id = body.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ApiError(400, "tenant_id must be provided")
    await artifacts_service(request).provision_tenant(tenant_id_of(tenant_id))
    return web.Response(status=201)


@routes.post(f"{PREFIX}/tenants/{{id}}/artifacts")
async def upload_tenant_artifact(request: web.Request) -> web.Response:
    artifact_id = await receive_artifact_upload(request, tenant_param(request), allow_artifact_id=True)
    return web.Response(status=201, headers={"Location": ARTIFACT_LOCATION.format(id=artifact_id)})
