"""Internal API of tenantadm (/api/internal/v1/tenantadm): only peers in the configured networks reach it."""

from __future__ import annotations

from aiohttp import web

from menderlite.tenantadm.appkeys import service
from menderlite.tokens import bearer_token
from menderlite.web import (
    health,
    json_response,
    paging_headers,
    parse_paging,
    read_json_object,
)

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/tenantadm"

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)


@routes.post(f"{PREFIX}/tenants/verify")
async def verify(request: web.Request) -> web.Response:
    tenant = await service(request).verify_tenant_token(bearer_token(request.headers.get("Authorization")))
    return json_response(tenant.to_json())


@routes.get(f"{PREFIX}/tenants")
async def list_tenants(request: web.Request) -> web.Response:
    page = parse_paging(request)
    tenants, has_next = await service(request).list_tenants(
        q=request.query.get("q") or None,
        username=request.query.get("username") or None,
        offset=page.offset,
        limit=page.limit,
    )
    return json_response([tenant.to_json() for tenant in tenants], headers=paging_headers(request, page, has_next=has_next))


@routes.get(PREFIX + "/tenants/{tenant_id}")
async def show_tenant(request: web.Request) -> web.Response:
    tenant = await service(request).get_tenant(request.match_info["tenant_id"])
    return json_response(tenant.to_json())


@routes.put(PREFIX + "/tenants/{tenant_id}")
async def update_tenant(request: web.Request) -> web.Response:
    await service(request).update_tenant(request.match_info["tenant_id"], await read_json_object(request))
    return web.Response(status=204)


@routes.put(PREFIX + "/tenants/{tenant_id}/status")
async def set_status(request: web.Request) -> web.Response:
    document = await read_json_object(request)
    await service(request).set_status(request.match_info["tenant_id"], document.get("status"))
    return web.Response(status=200)


@routes.post(f"{PREFIX}/users")
async def create_user(request: web.Request) -> web.Response:
    user_id = await service(request).create_user(await read_json_object(request))
    return web.Response(status=201, headers={"Location": f"users/{user_id}"})


@routes.get(f"{PREFIX}/users")
async def list_users(request: web.Request) -> web.Response:
    page = parse_paging(request)
    if request.query.getall("login", []):  # no alternative login schemes (OAuth) exist here
        return json_response([], headers=paging_headers(request, page, has_next=False))
    users, has_next = await service(request).list_users(
        name=request.query.get("name") or None,
        tenant_id=request.query.get("tenant_id"),
        user_id=request.query.get("id") or None,
        offset=page.offset,
        limit=page.limit,
    )
    return json_response(users, headers=paging_headers(request, page, has_next=has_next))


@routes.put(PREFIX + "/tenants/{tenant_id}/users/{user_id}")
async def update_user(request: web.Request) -> web.Response:
    document = await read_json_object(request)
    await service(request).update_user(request.match_info["tenant_id"], request.match_info["user_id"], document)
    return web.Response(status=204)


@routes.delete(PREFIX + "/tenants/{tenant_id}/users/{user_id}")
async def delete_user(request: web.Request) -> web.Response:
    await service(request).delete_user(request.match_info["tenant_id"], request.match_info["user_id"])
    return web.Response(status=204)
