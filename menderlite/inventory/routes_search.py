"""Management API v2 of inventory (/api/management/v2/inventory): search and saved filters."""

from __future__ import annotations

from aiohttp import web

from menderlite.inventory.filters import parse_search_request
from menderlite.inventory.http import inventory, offset_of, page_headers
from menderlite.inventory.service import FILTER_NOT_FOUND
from menderlite.web import ApiError, Page, identity_of, json_response, parse_paging
from menderlite.web.json_body import parse_json, read_json_object, read_raw_json_bytes

routes = web.RouteTableDef()
PREFIX = "/api/management/v2/inventory"


@routes.post(f"{PREFIX}/filters/search")
async def search(request: web.Request) -> web.Response:
    raw = await read_raw_json_bytes(request)
    body = parse_search_request(parse_json(raw) if raw.strip() else None)
    page = Page(body.page, body.per_page)
    devices, total = await inventory(request).list_devices(
        identity_of(request).tenant_id,
        predicates=body.predicates,
        sort=body.sort,
        device_ids=body.device_ids,
        offset=offset_of(page),
        limit=page.limit,
    )
    return json_response(devices, headers=page_headers(request, page, total))


@routes.get(f"{PREFIX}/filters")
async def list_filters(request: web.Request) -> web.Response:
    page = parse_paging(request)
    filters, total = await inventory(request).list_filters(identity_of(request).tenant_id, offset_of(page), page.limit)
    return json_response(filters, headers=page_headers(request, page, total))


@routes.post(f"{PREFIX}/filters")
async def create_filter(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    filter_id = await inventory(request).create_filter(
        identity_of(request).tenant_id, body.get("name"), body.get("terms")
    )
    return web.Response(status=201, headers={"Location": f"{PREFIX}/filters/{filter_id}"})


@routes.get(PREFIX + "/filters/{id}")
async def show_filter(request: web.Request) -> web.Response:
    saved = await inventory(request).get_filter(identity_of(request).tenant_id, request.match_info["id"])
    if saved is None:
        raise ApiError(404, FILTER_NOT_FOUND)
    return json_response(saved)


@routes.delete(PREFIX + "/filters/{id}")
async def delete_filter(request: web.Request) -> web.Response:
    await inventory(request).delete_filter(identity_of(request).tenant_id, request.match_info["id"])
    return web.Response(status=204)


@routes.get(PREFIX + "/filters/{id}/search")
async def execute_filter(request: web.Request) -> web.Response:
    page = parse_paging(request)
    devices, total = await inventory(request).execute_filter(
        identity_of(request).tenant_id, request.match_info["id"], offset_of(page), page.limit
    )
    return json_response(devices, headers=page_headers(request, page, total))
