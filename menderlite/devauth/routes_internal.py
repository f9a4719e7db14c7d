"""Internal API of devauth (/api/internal/v1/devauth): only peers in the configured networks reach it.

Tenant ids come from the path or the query; the default tenant is the empty string (e.g.
`/tenant//limits/max_devices`, `?tenant_id=`).
"""

from __future__ import annotations

from aiohttp import web

from menderlite.devauth.appkeys import SERVICE
from menderlite.tokens import bearer_token
from menderlite.web import (
    ApiError,
    health,
    json_response,
    paging_headers,
    parse_paging,
    read_json_object,
)

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/devauth"
TENANT = "{tenant_id:[^/]*}"  # may be empty: the default tenant

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)


@routes.post(f"{PREFIX}/tokens/verify")
async def verify_token(request: web.Request) -> web.Response:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise ApiError(401, "no authorization header")
    await request.app[SERVICE].verify_request(
        token, request.headers.get("X-Original-Method", request.method), request.headers.get("X-Original-URI", "")
    )
    return web.Response(status=200)


@routes.delete(f"{PREFIX}/tokens")
async def delete_tokens(request: web.Request) -> web.Response:
    if "tenant_id" not in request.query:
        raise ApiError(400, "tenant_id must be provided")
    await request.app[SERVICE].delete_tokens(request.query["tenant_id"], request.query.get("device_id") or None)
    return web.Response(status=204)


@routes.get(f"{PREFIX}/tenant/{TENANT}/limits/{{name}}")
async def get_limit(request: web.Request) -> web.Response:
    limit = await request.app[SERVICE].get_limit(request.match_info["tenant_id"], request.match_info["name"])
    return json_response({"limit": limit})


@routes.put(f"{PREFIX}/tenant/{TENANT}/limits/{{name}}")
async def set_limit(request: web.Request) -> web.Response:
    body = await read_json_object(request, "failed to decode limit request")
    await request.app[SERVICE].set_limit(request.match_info["tenant_id"], request.match_info["name"], body.get("limit"))
    return web.Response(status=204)


@routes.delete(f"{PREFIX}/tenant/{TENANT}/limits/{{name}}")
async def clear_limit(request: web.Request) -> web.Response:
    await request.app[SERVICE].clear_limit(request.match_info["tenant_id"], request.match_info["name"])
    return web.Response(status=204)


@routes.post(f"{PREFIX}/tenants")
async def provision_tenant(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    await request.app[SERVICE].provision_tenant(body.get("tenant_id"))
    return web.Response(status=201)


@routes.get(f"{PREFIX}/tenants/{TENANT}/devices/{{device_id}}/status")
async def device_status(request: web.Request) -> web.Response:
    status = await request.app[SERVICE].device_status(request.match_info["tenant_id"], request.match_info["device_id"])
    if status is None:
        raise ApiError(404, "device not found")
    return json_response({"status": status})


@routes.get(f"{PREFIX}/tenants/{TENANT}/devices")
async def list_devices(request: web.Request) -> web.Response:
    page = parse_paging(request)
    devices, has_next = await request.app[SERVICE].list_devices(
        request.match_info["tenant_id"],
        status=request.query.get("status") or None,
        ids=request.query.getall("id", []),
        offset=page.offset,
        limit=page.limit,
    )
    return json_response([device.document() for device in devices], headers=paging_headers(request, page, has_next=has_next))
