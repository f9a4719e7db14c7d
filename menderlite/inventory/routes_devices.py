"""Device API of inventory (/api/devices/v1/inventory): a device reports its attributes.

The documented call is PATCH (merge). mender-client 3.4 sends PUT first and only falls back to PATCH on a
405, so PUT is served too, replacing the device's `inventory` attributes. Both answer 200 with an empty body
(the client counts only a 200 as success).
"""

from __future__ import annotations

from aiohttp import web

from menderlite.inventory.http import inventory
from menderlite.inventory.values import parse_attribute_list
from menderlite.web import identity_of
from menderlite.web.json_body import read_json

routes = web.RouteTableDef()
PATH = "/api/devices/v1/inventory/device/attributes"


async def _upload(request: web.Request, *, replace: bool) -> web.Response:
    identity = identity_of(request)
    attributes = [attribute for _scope, attribute in parse_attribute_list(await read_json(request))]
    await inventory(request).upload_attributes(identity.tenant_id, identity.subject, attributes, replace=replace)
    return web.Response(status=200)


@routes.patch(PATH)
async def patch_attributes(request: web.Request) -> web.Response:
    return await _upload(request, replace=False)


@routes.put(PATH)
async def put_attributes(request: web.Request) -> web.Response:
    return await _upload(request, replace=True)
