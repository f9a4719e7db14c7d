"""Management API of devauth (/api/management/v2/devauth): users admit, inspect and remove devices."""

from __future__ import annotations

from aiohttp import web

from menderlite.devauth.appkeys import SERVICE
from menderlite.devauth.service import PREAUTH_DECODE
from menderlite.web import (
    identity_of,
    json_response,
    paging_headers,
    parse_paging,
    read_json_object,
)

routes = web.RouteTableDef()
PREFIX = "/api/management/v2/devauth"


def _tenant(request: web.Request) -> str:
    return identity_of(request).tenant_id


@routes.get(f"{PREFIX}/devices")
async def list_devices(request: web.Request) -> web.Response:
    page = parse_paging(request)
    devices, has_next = await request.app[SERVICE].list_devices(
        _tenant(request),
        status=request.query.get("status") or None,
        ids=request.query.getall("id", []),
        offset=page.offset,
        limit=page.limit,
    )
    return json_response([device.document() for device in devices], headers=paging_headers(request, page, has_next=has_next))


@routes.post(f"{PREFIX}/devices")
async def preauthorize(request: web.Request) -> web.Response:
    body = await read_json_object(request, PREAUTH_DECODE)
    device_id = await request.app[SERVICE].preauthorize(_tenant(request), body.get("identity_data"), body.get("pubkey"))
    return web.Response(status=201, headers={"Location": f"devices/{device_id}"})


@routes.get(f"{PREFIX}/devices/count")
async def count_devices(request: web.Request) -> web.Response:
    count = await request.app[SERVICE].count_devices(_tenant(request), request.query.get("status") or None)
    return json_response({"count": count})


@routes.get(f"{PREFIX}/devices/{{id}}")
async def get_device(request: web.Request) -> web.Response:
    device = await request.app[SERVICE].get_device(_tenant(request), request.match_info["id"])
    return json_response(device.document())


@routes.delete(f"{PREFIX}/devices/{{id}}")
async def decommission(request: web.Request) -> web.Response:
    await request.app[SERVICE].decommission(_tenant(request), request.match_info["id"])
    return web.Response(status=204)


@routes.delete(f"{PREFIX}/devices/{{id}}/auth/{{aid}}")
async def delete_auth_set(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_auth_set(_tenant(request), request.match_info["id"], request.match_info["aid"])
    return web.Response(status=204)


@routes.put(f"{PREFIX}/devices/{{id}}/auth/{{aid}}/status")
async def set_auth_set_status(request: web.Request) -> web.Response:
    body = await read_json_object(request, "failed to decode status data")
    await request.app[SERVICE].set_auth_set_status(
        _tenant(request), request.match_info["id"], request.match_info["aid"], body.get("status")
    )
    return web.Response(status=204)


@routes.get(f"{PREFIX}/devices/{{id}}/auth/{{aid}}/status")
async def get_auth_set_status(request: web.Request) -> web.Response:
    status = await request.app[SERVICE].get_auth_set_status(
        _tenant(request), request.match_info["id"], request.match_info["aid"]
    )
    return json_response({"status": status})


@routes.delete(f"{PREFIX}/tokens/{{id}}")
async def revoke_token(request: web.Request) -> web.Response:
    await request.app[SERVICE].revoke_token(_tenant(request), request.match_info["id"])
    return web.Response(status=204)


@routes.get(f"{PREFIX}/limits/{{name}}")
async def get_limit(request: web.Request) -> web.Response:
    limit = await request.app[SERVICE].get_limit(_tenant(request), request.match_info["name"])
    return json_response({"limit": limit})
