"""Management API of deployments (/api/management/v1/deployments): artifacts, releases, storage limits and
deployments.

Route order matters for aiohttp: `/deployments/releases` is registered before any `/deployments/{id}`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from menderlite.deployments.appkeys import SERVICE
from menderlite.deployments.artifacts import (
    GenerateRequest,
    UploadMeta,
    canonical_uuid,
    safe_file_name,
)
from menderlite.deployments.forms import file_chunks, optional_size, read_form
from menderlite.deployments.inputs import (
    parse_list_query,
    parse_new_deployment,
    require_uuid4,
)
from menderlite.deployments.routes_devices import deployments_service
from menderlite.timeutil import rfc3339
from menderlite.web import (
    ApiError,
    identity_of,
    json_response,
    paging_headers,
    parse_paging,
    read_json_object,
)
from menderlite.web.urls import base_url

if TYPE_CHECKING:
    from menderlite.deployments.artifacts import ArtifactsService

routes = web.RouteTableDef()
PREFIX = "/api/management/v1/deployments"
ARTIFACT_LOCATION = PREFIX + "/artifacts/{id}"


def artifacts_service(request: web.Request) -> ArtifactsService:
    return request.app[SERVICE].artifacts


def artifact_id_param(request: web.Request) -> str:
    artifact_id = canonical_uuid(request.match_info["id"])
    if artifact_id is None:
        raise ApiError(400, "ID is not UUIDv4")
    return artifact_id


# --- releases and artifacts ----------------------------------------------------------------------------


@routes.get(f"{PREFIX}/deployments/releases")
async def list_releases(request: web.Request) -> web.Response:
    name = request.query.get("name") or None
    releases = await artifacts_service(request).releases(identity_of(request).tenant_id, name)
    return json_response(
        [{"name": release, "artifacts": [record.to_api() for record in records]} for release, records in releases]
    )


@routes.get(f"{PREFIX}/artifacts")
async def list_artifacts(request: web.Request) -> web.Response:
    records = await artifacts_service(request).list(identity_of(request).tenant_id)
    return json_response([record.to_api() for record in records])


@routes.post(f"{PREFIX}/artifacts")
async def upload_artifact(request: web.Request) -> web.Response:
    tenant_id = identity_of(request).tenant_id
    artifact_id = await receive_artifact_upload(request, tenant_id, allow_artifact_id=False)
    return web.Response(status=201, headers={"Location": ARTIFACT_LOCATION.format(id=artifact_id)})


async def receive_artifact_upload(request: web.Request, tenant_id: str, *, allow_artifact_id: bool) -> str:
    """Shared by the management and the internal upload: fields, then the artifact part streamed."""
    form = await read_form(request, "artifact")
    artifact_id = None
    if allow_artifact_id and form.get("artifact_id"):
        artifact_id = canonical_uuid(form.get("artifact_id") or "")
        if artifact_id is None:
            raise ApiError(400, "artifact_id is not a valid UUID")
    if form.file is None:
        raise ApiError(400, "request does not contain the artifact file")
    meta = UploadMeta(
        description=form.get("description") or "",
        declared_size=optional_size(form),
        content_length=request.content_length,
        artifact_id=artifact_id,
    )
    return await artifacts_service(request).upload(tenant_id, meta, file_chunks(form.file))


@routes.post(f"{PREFIX}/artifacts/generate")
async def generate_artifact(request: web.Request) -> web.Response:
    form = await read_form(request, "file")
    device_types = [
        item.strip() for value in form.fields.get("device_types_compatible", []) for item in value.split(",") if item.strip()
    ]
    generate = GenerateRequest(
        name=(form.get("name") or "").strip(),
        description=form.get("description") or "",
        device_types=device_types,
        type=(form.get("type") or "").strip(),
        args=_generate_args(form.get("args")),
        file_name=safe_file_name(form.file.filename or "file") if form.file is not None else "",
    )
    chunks = file_chunks(form.file) if form.file is not None else None
    artifact_id = await artifacts_service(request).generate(
        identity_of(request).tenant_id, generate, chunks, declared_size=optional_size(form)
    )
    return web.Response(status=201, headers={"Location": ARTIFACT_LOCATION.format(id=artifact_id)})


def _generate_args(text: str | None) -> dict[str, object]:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise ApiError(400, "args: must be a JSON object, e.g. {\"dest_dir\": \"/opt/app\"}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "args: must be a JSON object, e.g. {\"dest_dir\": \"/opt/app\"}")
    return value


@routes.get(f"{PREFIX}/artifacts/{{id}}")
async def show_artifact(request: web.Request) -> web.Response:
    artifact_id = artifact_id_param(request)
    record = await artifacts_service(request).get(identity_of(request).tenant_id, artifact_id)
    if record is None:
        raise ApiError(404, "Resource not found")
    return json_response(record.to_api())


@routes.put(f"{PREFIX}/artifacts/{{id}}")
async def update_artifact(request: web.Request) -> web.Response:
    artifact_id = artifact_id_param(request)
    body = await read_json_object(request)
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ApiError(400, "description: must be a string")
    await artifacts_service(request).update_description(identity_of(request).tenant_id, artifact_id, description)
    return web.Response(status=204)


@routes.delete(f"{PREFIX}/artifacts/{{id}}")
async def delete_artifact(request: web.Request) -> web.Response:
    artifact_id = artifact_id_param(request)
    await artifacts_service(request).delete(identity_of(request).tenant_id, artifact_id)
    return web.Response(status=204)


@routes.get(f"{PREFIX}/artifacts/{{id}}/download")
async def artifact_download_link(request: web.Request) -> web.Response:
    artifact_id = artifact_id_param(request)
    tenant_id = identity_of(request).tenant_id
    service = artifacts_service(request)
    if await service.get(tenant_id, artifact_id) is None:
        raise ApiError(404, "Resource not found")
    uri, expire = service.management_download_link(tenant_id, artifact_id, base_url(request))
    return json_response({"uri": uri, "expire": rfc3339(expire)})


# --- limits --------------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/limits/storage")
async def storage_usage(request: web.Request) -> web.Response:
    usage = await artifacts_service(request).storage_usage(identity_of(request).tenant_id)
    return json_response({"limit": usage.limit, "usage": usage.usage})


# --- deployments (registered after /deployments/releases) ----------------------------------------------

DEPLOYMENT_LOCATION = PREFIX + "/deployments/{id}"


def _tenant(request: web.Request) -> str:
    return identity_of(request).tenant_id


@routes.get(f"{PREFIX}/deployments")
async def list_deployments(request: web.Request) -> web.Response:
    query = parse_list_query(request.query)
    page = parse_paging(request)
    views, total, has_next = await deployments_service(request).list_deployments(_tenant(request), query, page)
    return json_response(
        [view.to_api() for view in views], headers=paging_headers(request, page, has_next=has_next, total=total)
    )


@routes.post(f"{PREFIX}/deployments")
async def create_deployment(request: web.Request) -> web.Response:
    spec = parse_new_deployment(await read_json_object(request), "devices")
    deployment_id = await deployments_service(request).create_deployment(identity_of(request), spec)
    return web.Response(status=201, headers={"Location": DEPLOYMENT_LOCATION.format(id=deployment_id)})


@routes.post(f"{PREFIX}/deployments/group/{{name}}")
async def create_group_deployment(request: web.Request) -> web.Response:
    spec = parse_new_deployment(await read_json_object(request), "group")
    deployment_id = await deployments_service(request).create_deployment(
        identity_of(request), spec, group=request.match_info["name"]
    )
    return web.Response(status=201, headers={"Location": DEPLOYMENT_LOCATION.format(id=deployment_id)})


@routes.delete(f"{PREFIX}/deployments/devices/{{id}}")
async def remove_device_from_deployments(request: web.Request) -> web.Response:
    await deployments_service(request).decommission_device(_tenant(request), request.match_info["id"])
    return web.Response(status=204)


@routes.get(f"{PREFIX}/deployments/{{id}}")
async def show_deployment(request: web.Request) -> web.Response:
    view = await deployments_service(request).get_deployment(_tenant(request), require_uuid4(request.match_info["id"]))
    return json_response(view.to_api())


@routes.put(f"{PREFIX}/deployments/{{id}}/status")
async def abort_deployment(request: web.Request) -> web.Response:
    deployment_id = require_uuid4(request.match_info["id"])
    body = await read_json_object(request)
    if body.get("status") != "aborted":
        raise ApiError(400, "Unexpected deployment status")
    await deployments_service(request).abort_deployment(_tenant(request), deployment_id)
    return web.Response(status=204)


@routes.get(f"{PREFIX}/deployments/{{id}}/statistics")
async def deployment_statistics(request: web.Request) -> web.Response:
    stats = await deployments_service(request).statistics(_tenant(request), require_uuid4(request.match_info["id"]))
    return json_response(stats)


@routes.get(f"{PREFIX}/deployments/{{id}}/devices")
async def deployment_devices(request: web.Request) -> web.Response:
    """All device deployments; paged (Link, X-Total-Count) only when `page` or `per_page` is given."""
    deployment_id = require_uuid4(request.match_info["id"])
    paged = "page" in request.query or "per_page" in request.query
    page = parse_paging(request) if paged else None
    views, total = await deployments_service(request).device_deployments(_tenant(request), deployment_id, page)
    headers = paging_headers(request, page, has_next=page.offset + len(views) < total, total=total) if page else None
    return json_response([view.to_api() for view in views], headers=headers)


@routes.get(f"{PREFIX}/deployments/{{id}}/device_list")
async def deployment_device_list(request: web.Request) -> web.Response:
    device_ids = await deployments_service(request).device_list(_tenant(request), require_uuid4(request.match_info["id"]))
    return json_response(device_ids)


@routes.get(f"{PREFIX}/deployments/{{id}}/devices/{{device_id}}/log")
async def device_deployment_log(request: web.Request) -> web.Response:
    deployment_id = require_uuid4(request.match_info["id"])
    text = await deployments_service(request).device_log(_tenant(request), deployment_id, request.match_info["device_id"])
    return web.Response(text=text, content_type="text/plain")
