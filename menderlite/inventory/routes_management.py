"""Management API v1 of inventory (/api/management/v1/inventory): devices and groups."""

from __future__ import annotations

from aiohttp import web

from menderlite.inventory.filters import parse_query_filters, parse_sort_query
from menderlite.inventory.http import inventory, offset_of, page_headers
from menderlite.web import ApiError, identity_of, json_response, parse_paging
from menderlite.web.json_body import read_json, read_json_object

routes = web.RouteTableDef()
PREFIX = "/api/management/v1/inventory"

# Query parameters of the device list that are not attribute filters.
LIST_PARAMETERS = frozenset({"page", "per_page", "sort", "has_group", "group"})
TRUE_WORDS = frozenset({"1", "t", "T", "true", "TRUE", "True"})
FALSE_WORDS = frozenset({"0", "f", "F", "false", "FALSE", "False"})
GROUP_DATA = "failed to decode device group data"


def parse_bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.rel_url.query.get(name)
    if raw is None or raw == "":
        return None
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ApiError(400, f"Can't parse param {name}")


@routes.get(f"{PREFIX}/devices")
async def list_devices(request: web.Request) -> web.Response:
    page = parse_paging(request)
    query = request.rel_url.query
    predicates = parse_query_filters((name, value) for name, value in query.items() if name not in LIST_PARAMETERS)
    devices, total = await inventory(request).list_devices(
        identity_of(request).tenant_id,
        predicates=predicates,
        sort=parse_sort_query(query.get("sort", "")),
        group=query.get("group") or None,
        has_group=parse_bool_param(request, "has_group"),
        offset=offset_of(page),
        limit=page.limit,
    )
    return json_response(devices, headers=page_headers(request, page, total))


@routes.get(PREFIX + "/devices/{id}")
async def get_device(request: web.Request) -> web.Response:
    device = await inventory(request).get_device(identity_of(request).tenant_id, request.match_info["id"])
    return json_response(device)


@routes.delete(PREFIX + "/devices/{id}")
async def delete_device(request: web.Request) -> web.Response:
    await inventory(request).delete_device(identity_of(request).tenant_id, request.match_info["id"])
    return web.Response(status=204)


@routes.get(PREFIX + "/devices/{id}/group")
async def get_device_group(request: web.Request) -> web.Response:
    group = await inventory(request).get_device_group(identity_of(request).tenant_id, request.match_info["id"])
    return json_response({"group": group})


@routes.put(PREFIX + "/devices/{id}/group")
async def set_device_group(request: web.Request) -> web.Response:
    body = await read_json_object(request, GROUP_DATA)
    await inventory(request).set_device_group(
        identity_of(request).tenant_id, request.match_info["id"], body.get("group")
    )
    return web.Response(status=204)


@routes.delete(PREFIX + "/devices/{id}/group/{name}")
async def clear_device_group(request: web.Request) -> web.Response:
    await inventory(request).clear_device_group(
        identity_of(request).tenant_id, request.match_info["id"], request.match_info["name"]
    )
    return web.Response(status=204)


@routes.get(f"{PREFIX}/groups")
async def list_groups(request: web.Request) -> web.Response:
    status = request.rel_url.query.get("status") or None
    return json_response(await inventory(request).list_groups(identity_of(request).tenant_id, status))


@routes.get(PREFIX + "/groups/{name}/devices")
async def list_group_devices(request: web.Request) -> web.Response:
    page = parse_paging(request)
    ids, total = await inventory(request).list_group_devices(
        identity_of(request).tenant_id, request.match_info["name"], offset_of(page), page.limit
    )
    return json_response(ids, headers=page_headers(request, page, total))


@routes.patch(PREFIX + "/groups/{name}/devices")
async def add_devices_to_group(request: web.Request) -> web.Response:
    counts = await inventory(request).add_devices_to_group(
        identity_of(request).tenant_id, request.match_info["name"], await read_json(request, GROUP_DATA)
    )
    return json_response(counts)


@routes.delete(PREFIX + "/groups/{name}/devices")
async def remove_devices_from_group(request: web.Request) -> web.Response:
    counts = await inventory(request).remove_devices_from_group(
        identity_of(request).tenant_id, request.match_info["name"], await read_json(request, GROUP_DATA)
    )
    return json_response(counts)
