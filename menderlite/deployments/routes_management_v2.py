"""Management API v2 of deployments: dynamic deployments to the devices matching a saved filter."""

from __future__ import annotations

from aiohttp import web

from menderlite.deployments.inputs import parse_new_deployment
from menderlite.deployments.routes_devices import deployments_service
from menderlite.deployments.routes_management import DEPLOYMENT_LOCATION
from menderlite.web import identity_of, read_json_object

routes = web.RouteTableDef()
PREFIX = "/api/management/v2/deployments"


@routes.post(f"{PREFIX}/deployments")
async def create_dynamic_deployment(request: web.Request) -> web.Response:
    spec = parse_new_deployment(await read_json_object(request), "filter")
    deployment_id = await deployments_service(request).create_deployment(identity_of(request), spec)
    return web.Response(status=201, headers={"Location": DEPLOYMENT_LOCATION.format(id=deployment_id)})
