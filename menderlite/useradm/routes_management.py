"""Management API of useradm (/api/management/v1/useradm): login, users, roles, settings, 2FA, reset."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from menderlite.useradm.routes_common import (
    basic_credentials,
    optional_json_object,
    service,
)
from menderlite.web import access, identity_of, json_response, read_json_object
from menderlite.web.errors import ApiError
from menderlite.web.json_body import parse_json, read_raw_json_bytes
from menderlite.web.urls import base_url

routes = web.RouteTableDef()
PREFIX = "/api/management/v1/useradm"
JWT_CONTENT_TYPE = "application/jwt"


# --- login and password reset (public) -------------------------------------------------------------------


@routes.post(f"{PREFIX}/auth/login")
@access("public")
async def login(request: web.Request) -> web.Response:
    email, password = basic_credentials(request)
    token2fa = (await optional_json_object(request)).get("token2fa")
    if token2fa is not None and not isinstance(token2fa, str):
        raise ApiError(400, "token2fa: must be a string")
    token = await service(request).login(email, password, token2fa)
    # The bare JWT: mender-cli stores the body verbatim (no quotes, no newline).
    return web.Response(body=token.encode("ascii"), headers={"Content-Type": JWT_CONTENT_TYPE})


@routes.post(f"{PREFIX}/auth/password-reset/start")
@access("public")
async def password_reset_start(request: web.Request) -> web.Response:
    await service(request).start_password_reset(await read_json_object(request), base_url(request))
    return web.Response(status=202)


@routes.post(f"{PREFIX}/auth/password-reset/complete")
@access("public")
async def password_reset_complete(request: web.Request) -> web.Response:
    await service(request).complete_password_reset(await read_json_object(request))
    return web.Response(status=202)


# --- users -----------------------------------------------------------------------------------------------


def _user_id(request: web.Request) -> str:
    user_id = request.match_info["id"]
    return identity_of(request).subject if user_id == "me" else user_id


@routes.get(f"{PREFIX}/users")
async def list_users(request: web.Request) -> web.Response:
    users = await service(request).list_users(identity_of(request).tenant_id)
    return json_response([user.to_json() for user in users])


@routes.post(f"{PREFIX}/users")
async def create_user(request: web.Request) -> web.Response:
    user = await service(request).create_user_from(identity_of(request), await read_json_object(request))
    return web.Response(status=201, headers={"Location": f"users/{user.id}"})


@routes.get(PREFIX + "/users/{id}")
async def show_user(request: web.Request) -> web.Response:
    user = await service(request).get_user(identity_of(request).tenant_id, _user_id(request))
    return json_response(user.to_json())


@routes.put(PREFIX + "/users/{id}")
async def update_user(request: web.Request) -> web.Response:
    await service(request).update_user(identity_of(request), _user_id(request), await read_json_object(request))
    return web.Response(status=204)


@routes.delete(PREFIX + "/users/{id}")
async def delete_user(request: web.Request) -> web.Response:
    await service(request).delete_user(identity_of(request).tenant_id, _user_id(request))
    return web.Response(status=204)


# --- roles -----------------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/roles")
async def list_roles(request: web.Request) -> web.Response:
    return json_response(await service(request).list_roles(identity_of(request)))


@routes.post(f"{PREFIX}/roles")
async def create_role(request: web.Request) -> web.Response:
    name = await service(request).create_role(identity_of(request), await read_json_object(request))
    return web.Response(status=201, headers={"Location": f"roles/{quote(name, safe='')}"})


@routes.get(PREFIX + "/roles/{id}")
async def show_role(request: web.Request) -> web.Response:
    return json_response(await service(request).get_role(identity_of(request), request.match_info["id"]))


@routes.put(PREFIX + "/roles/{id}")
async def update_role(request: web.Request) -> web.Response:
    document = await read_json_object(request)
    await service(request).update_role(identity_of(request), request.match_info["id"], document)
    return web.Response(status=202)


@routes.delete(PREFIX + "/roles/{id}")
async def delete_role(request: web.Request) -> web.Response:
    await service(request).delete_role(identity_of(request), request.match_info["id"])
    return web.Response(status=204)


# --- settings and 2FA ------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/settings")
async def show_settings(request: web.Request) -> web.Response:
    return json_response(await service(request).get_settings(identity_of(request)))


@routes.post(f"{PREFIX}/settings")
async def save_settings(request: web.Request) -> web.Response:
    raw = await read_raw_json_bytes(request)
    try:
        document = parse_json(raw)
    except ApiError:
        document = None
    if not isinstance(document, dict):
        raise ApiError(400, "cannot parse request body as json")
    await service(request).save_settings(identity_of(request), document)
    return web.Response(status=201)


@routes.get(f"{PREFIX}/2faqr")
async def two_factor_qr(request: web.Request) -> web.Response:
    return json_response(await service(request).two_factor_qr(identity_of(request)))


@routes.put(f"{PREFIX}/2faverify")
async def two_factor_verify(request: web.Request) -> web.Response:
    document = await read_json_object(request)
    await service(request).verify_two_factor(identity_of(request), document.get("token2fa"))
    return web.Response(status=202)
