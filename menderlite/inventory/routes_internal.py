"""Internal API of inventory (/api/internal/v1/inventory): only peers in the configured networks reach it."""

from __future__ import annotations

from aiohttp import web

from menderlite.inventory.http import inventory
from menderlite.inventory.models import MAX_NAME_LENGTH
from menderlite.inventory.values import parse_attribute_list
from menderlite.web import ApiError, health
from menderlite.web.json_body import read_json_object

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/inventory"

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)


@routes.post(f"{PREFIX}/tenants")
async def create_tenant(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    tenant_id = body.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ApiError(400, "tenant_id must be provided")
    await inventory(request).provision_tenant(tenant_id)
    return web.Response(status=201)


@routes.post(f"{PREFIX}/devices")
async def create_device(request: web.Request) -> web.Response:
    """Upsert a device (the `provision_device` workflow); the tenant comes from `?tenant_id=`."""
    body = await read_json_object(request)
    device_id = body.get("id")
    if not isinstance(device_id, str) or not device_id:
        raise ApiError(400, "device id must be provided")
    if len(device_id) > MAX_NAME_LENGTH:
        raise ApiError(400, f"device id can have at most {MAX_NAME_LENGTH} characters")
    attributes = parse_attribute_list(body.get("attributes") or [])
    tenant_id = request.rel_url.query.get("tenant_id", "")
    await inventory(request).create_device(tenant_id, device_id, attributes)
    return web.Response(status=201, headers={"Location": f"devices/{device_id}"})
