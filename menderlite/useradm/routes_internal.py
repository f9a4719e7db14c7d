"""Internal API of useradm (/api/internal/v1/useradm): only peers in the configured networks reach it."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from menderlite.tokens import bearer_token
from menderlite.useradm.routes_common import service
from menderlite.web import health, read_json_object
from menderlite.web.errors import ApiError

routes = web.RouteTableDef()
PREFIX = "/api/internal/v1/useradm"

routes.get(f"{PREFIX}/alive")(health.alive)
routes.get(f"{PREFIX}/health")(health.health)


def _forwarded_path(request: web.Request) -> str | None:
    uri = request.headers.get("X-Original-URI") or request.headers.get("X-Forwarded-URI")
    if not uri:
        return None
    try:
        return URL(uri).path
    except ValueError:
        raise ApiError(400, "X-Original-URI is not a valid URI") from None


async def verify(request: web.Request) -> web.Response:
    """200 when the bearer token may make the forwarded request (X-Original-URI, X-Original-Method)."""
    token = bearer_token(request.headers.get("Authorization"))
    method = request.headers.get("X-Original-Method") or request.headers.get("X-Forwarded-Method")
    await service(request).verify_forwarded(token, method, _forwarded_path(request))
    return web.Response(status=200)


routes.post(f"{PREFIX}/auth/verify")(verify)
routes.get(f"{PREFIX}/auth/verify")(verify)


@routes.post(f"{PREFIX}/plan/verify")
async def verify_plan(request: web.Request) -> web.Response:
    token = bearer_token(request.headers.get("Authorization"))
    await service(request).verify_plan(token, request.headers.get("X-Mender-Required-Minimal-Plan"))
    return web.Response(status=200)


@routes.post(f"{PREFIX}/tenants")
async def create_tenant(request: web.Request) -> web.Response:
    tenant_id = (await read_json_object(request)).get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ApiError(400, "tenant_id: non zero value required")
    await service(request).create_tenant(tenant_id)
    return web.Response(status=201)


@routes.post(PREFIX + "/tenants/{tenant_id}/users")
async def create_tenant_user(request: web.Request) -> web.Response:
    document = await read_json_object(request)
    await service(request).create_tenant_user(request.match_info["tenant_id"], document)
    return web.Response(status=201)


@routes.delete(f"{PREFIX}/tokens")
async def revoke_tokens(request: web.Request) -> web.Response:
    tenant_id = request.query.get("tenant_id")
    if not tenant_id:
        raise ApiError(400, "tenant_id must be provided")
    await service(request).revoke_tokens(tenant_id, request.query.get("user_id") or None)
    return web.Response(status=204)
