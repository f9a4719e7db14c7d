"""Internal API of deployments (/api/internal/v1/deployments): only peers in the configured networks reach it.

Tenant ids in paths: "default" (and the empty string) mean the default tenant.
"""

from __future__ import annotations

import re

from aiohttp import web

from menderlite.deployments.inputs import parse_list_query
from menderlite.deployments.routes_devices import deployments_service
from menderlite.deployments.routes_management import (
    ARTIFACT_LOCATION,
    artifacts_service,
    receive_artifact_upload,
)
from menderlite.web import (
    ApiError,
    health,
    json_response,
    paging_headers,
    parse_paging,
    read_json_object,
)

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/deployments"
_TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STORAGE_LIMIT = 2**63 - 1  # a 64-bit column

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
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_STORAGE_LIMIT:
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


@routes.get(f"{PREFIX}/tenants/{{id}}/deployments")
async def list_tenant_deployments(request: web.Request) -> web.Response:
    """Same filters as the management list; everything unless `page` or `per_page` is given; X-Total-Count."""
    tenant_id = tenant_param(request)
    query = parse_list_query(request.query)
    paged = "page" in request.query or "per_page" in request.query
    page = parse_paging(request) if paged else None
    views, total, has_next = await deployments_service(request).list_deployments(tenant_id, query, page)
    headers = paging_headers(request, page, has_next=has_next, total=total) if page else {"X-Total-Count": str(total)}
    return json_response([view.to_api() for view in views], headers=headers)
