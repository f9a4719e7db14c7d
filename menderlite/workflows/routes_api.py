"""The workflows API: `/status` and `/health` at the root (public), the rest under /api/v1 (internal).

As the real service (gin) does, JSON bodies are read whatever their Content-Type says.
"""

from __future__ import annotations

from aiohttp import web

from menderlite.web import health
from menderlite.web.errors import json_response
from menderlite.web.json_body import parse_json
from menderlite.workflows.appkeys import SERVICE

routes = web.RouteTableDef()


@routes.get("/status")
async def status(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


routes.get("/health")(health.health)
routes.get("/api/v1/health")(health.health)


@routes.post("/api/v1/workflow/{name}")
async def start_workflow(request: web.Request) -> web.Response:
    body = parse_json(await request.read(), "Unable to parse the input parameters")
    name = request.match_info["name"]
    job_id = await request.app[SERVICE].start_workflow(name, body)
    return json_response({"id": job_id, "name": name}, status=201)


@routes.get("/api/v1/workflow/{name}/{id}")
async def workflow_status(request: web.Request) -> web.Response:
    job = await request.app[SERVICE].job_status(request.match_info["name"], request.match_info["id"])
    return json_response(job)


@routes.get("/api/v1/metadata/workflows")
async def list_workflows(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICE].list_definitions())


@routes.post("/api/v1/metadata/workflows")
async def register_workflow(request: web.Request) -> web.Response:
    document = parse_json(await request.read(), "Error parsing JSON data")
    await request.app[SERVICE].register_definition(document)
    return web.Response(status=201)
