"""Devices API of deployments (/api/devices/v1/deployments): check for an update, report status, upload logs.

The real client first tries `POST /api/devices/v2/.../next` and falls back to these only on 404, so no v2
path is registered (the router answers it 404).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from menderlite.deployments.appkeys import SERVICE
from menderlite.deployments.inputs import (
    NextRequest,
    parse_log,
    parse_next_body,
    parse_next_query,
    parse_status_report,
    require_uuid4,
)
from menderlite.timeutil import rfc3339
from menderlite.web import identity_of, json_response, read_json, read_json_object
from menderlite.web.urls import base_url

if TYPE_CHECKING:
    from menderlite.deployments.service import DeploymentsService

routes = web.RouteTableDef()
PREFIX = "/api/devices/v1/deployments/device/deployments"


def deployments_service(request: web.Request) -> DeploymentsService:
    return request.app[SERVICE]


@routes.get(f"{PREFIX}/next")
async def next_update(request: web.Request) -> web.Response:
    return await _answer_next(request, parse_next_query(request.query))


@routes.post(f"{PREFIX}/next")
async def next_update_with_provides(request: web.Request) -> web.Response:
    return await _answer_next(request, parse_next_body(await read_json(request)))


async def _answer_next(request: web.Request, next_request: NextRequest) -> web.Response:
    identity = identity_of(request)
    service = deployments_service(request)
    instructions = await service.next_for_device(identity.tenant_id, identity.subject, next_request, identity.plan)
    if instructions is None:
        return web.Response(status=204)
    artifact = instructions.artifact
    uri, expire = service.artifacts.device_download_link(identity.tenant_id, artifact.id, base_url(request))
    return json_response(
        {
            "id": instructions.deployment_id,
            "artifact": {
                "id": artifact.id,
                "artifact_name": artifact.name,
                "source": {"uri": uri, "expire": rfc3339(expire)},
                "device_types_compatible": artifact.device_types_compatible,
            },
        }
    )


@routes.put(f"{PREFIX}/{{id}}/status")
async def report_status(request: web.Request) -> web.Response:
    deployment_id = require_uuid4(request.match_info["id"])
    status, substate = parse_status_report(await read_json_object(request))
    identity = identity_of(request)
    await deployments_service(request).report_status(identity.tenant_id, identity.subject, deployment_id, status, substate)
    return web.Response(status=204)


@routes.put(f"{PREFIX}/{{id}}/log")
async def upload_log(request: web.Request) -> web.Response:
    deployment_id = require_uuid4(request.match_info["id"])
    messages = parse_log(await read_json_object(request))
    identity = identity_of(request)
    await deployments_service(request).save_log(identity.tenant_id, identity.subject, deployment_id, messages)
    return web.Response(status=204)
