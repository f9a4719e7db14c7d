"""Device API of devauth (/api/devices/v1/authentication): the auth request, reached without a token."""

from __future__ import annotations

from aiohttp import web

from menderlite.devauth.appkeys import SERVICE
from menderlite.web import access
from menderlite.web.json_body import read_raw_json_bytes

routes = web.RouteTableDef()
PREFIX = "/api/devices/v1/authentication"
SIGNATURE_HEADER = "X-MEN-Signature"


@routes.post(f"{PREFIX}/auth_requests")
@access("public")
async def submit_auth_request(request: web.Request) -> web.Response:
    # The signature covers the exact bytes received (the real client's trailing newline included).
    body = await read_raw_json_bytes(request)
    token = await request.app[SERVICE].submit_auth_request(body, request.headers.get(SIGNATURE_HEADER))
    # The bare token: the real client puts the body verbatim into its Authorization header.
    return web.Response(body=token.encode(), content_type="application/jwt")
