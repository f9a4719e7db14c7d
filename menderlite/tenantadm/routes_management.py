"""Management API of tenantadm (/api/management/v1/tenantadm and /api/management/v2/tenantadm).

Who may do what (the reference leaves it to the gateway; menderlite decides):
- creating an account (v1 and v2 `POST /tenants`, `POST /tenants/trial`): anyone when `[tenantadm] signup`
  is on; otherwise only users of the default tenant whose roles allow the request (the server's
  operators). Without a token and with sign-up off the answer is 403.
- activating, deleting an inactive account, completing an upgrade (which sets the plan: payments are not
  implemented, so nothing proves an upgrade was paid): operators only (403 for tenant users).
- cancelling, starting or cancelling an upgrade: operators, and users of that tenant (404 for another one).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from menderlite.tenantadm.appkeys import service
from menderlite.tenantadm.inputs import ACTIVE, INACTIVE
from menderlite.tokens import bearer_token
from menderlite.web import (
    ApiError,
    Identity,
    access,
    identity_of,
    json_response,
    read_json_object,
)
from menderlite.web.json_body import is_json_content_type

routes = web.RouteTableDef()
V1 = "/api/management/v1/tenantadm"
V2 = "/api/management/v2/tenantadm"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TRIAL_PLAN = "enterprise"


async def read_form(request: web.Request) -> dict[str, Any]:
    """The sign-up fields: form-encoded as documented (multipart and JSON objects are accepted too)."""
    if request.content_type in FORM_TYPES:
        try:
            form = await request.post()
        except (ValueError, LookupError) as exc:  # LookupError: an unknown charset (of the body or of a part)
            raise ApiError(400, f"failed to decode request body: {exc}") from None
        fields: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                fields.setdefault(key, value)
        return fields
    if is_json_content_type(request):
        return await read_json_object(request)
    if not request.body_exists:
        return {}
    raise ApiError(415, "Bad Content-Type, expected 'application/x-www-form-urlencoded'")


async def _may_create_accounts(request: web.Request) -> None:
    token = bearer_token(request.headers.get("Authorization"))
    await service(request).authorize_account_creation(token, request.method, request.path)


def _operator_only(identity: Identity) -> None:
    if identity.tenant_id:
        raise ApiError(403, "forbidden")


def _operator_or_member(identity: Identity, tenant_id: str) -> None:
    if identity.tenant_id and identity.tenant_id != tenant_id:
        raise ApiError(404, "tenant not found")


# --- v1 ----------------------------------------------------------------------------------------------


@routes.get(f"{V1}/user/tenant")
async def user_tenant(request: web.Request) -> web.Response:
    tenant = await service(request).tenant_of_user(identity_of(request))
    return json_response(tenant.to_json())


@routes.post(f"{V1}/tenants")
@access("public")
async def create_account(request: web.Request) -> web.Response:
    await _may_create_accounts(request)
    tenantadm = service(request)
    account = tenantadm.parse_new_account(await read_form(request))
    await tenantadm.create_tenant(account, status=ACTIVE)
    return web.Response(status=202)


# --- v2 ----------------------------------------------------------------------------------------------


@routes.post(f"{V2}/tenants")
@access("public")
async def create_account_v2(request: web.Request) -> web.Response:
    """An inactive account: its admin cannot log in until it is activated."""
    await _may_create_accounts(request)
    tenantadm = service(request)
    account = tenantadm.parse_new_account(await read_form(request))
    tenant = await tenantadm.create_tenant(account, status=INACTIVE)
    return json_response({"id": tenant.id, "secret": await tenantadm.checkout_secret(tenant.id)})


@routes.post(f"{V2}/tenants/trial")
@access("public")
async def create_trial_account(request: web.Request) -> web.Response:
    await _may_create_accounts(request)
    tenantadm = service(request)
    account = tenantadm.parse_new_account(await read_form(request), default_plan=TRIAL_PLAN)
    await tenantadm.create_tenant(account, status=ACTIVE, trial=True)
    return web.Response(status=202)


@routes.delete(V2 + "/tenants/{id}")
async def delete_inactive_account(request: web.Request) -> web.Response:
    _operator_only(identity_of(request))
    await service(request).delete_inactive(request.match_info["id"])
    return web.Response(status=204)


@routes.put(V2 + "/tenants/{id}/status")
async def activate_account(request: web.Request) -> web.Response:
    _operator_only(identity_of(request))
    document = await read_json_object(request)
    await service(request).activate(request.match_info["id"], document.get("status"))
    return web.Response(status=202)


@routes.post(V2 + "/tenants/{id}/cancel")
async def cancel_account(request: web.Request) -> web.Response:
    tenant_id = request.match_info["id"]
    _operator_or_member(identity_of(request), tenant_id)
    await service(request).cancel(tenant_id, await read_json_object(request))
    return web.Response(status=202)


@routes.post(V2 + "/tenants/{id}/upgrade/start")
async def start_upgrade(request: web.Request) -> web.Response:
    tenant_id = request.match_info["id"]
    _operator_or_member(identity_of(request), tenant_id)
    secret = await service(request).checkout_secret(tenant_id)
    return json_response({"id": tenant_id, "secret": secret})


@routes.post(V2 + "/tenants/{id}/upgrade/complete")
async def complete_upgrade(request: web.Request) -> web.Response:
    _operator_only(identity_of(request))
    await service(request).complete_upgrade(request.match_info["id"], await read_json_object(request))
    return web.Response(status=202)


@routes.post(V2 + "/tenants/{id}/upgrade/cancel")
async def cancel_upgrade(request: web.Request) -> web.Response:
    tenant_id = request.match_info["id"]
    _operator_or_member(identity_of(request), tenant_id)
    await service(request).cancel_upgrade(tenant_id)
    return web.Response(status=202)


@routes.post(f"{V2}/secret")
async def stripe_secret(request: web.Request) -> web.Response:
    """The caller's tenant's checkout secret (a stand-in: payments are not implemented)."""
    tenant = await service(request).tenant_of_user(identity_of(request))
    return json_response({"secret": await service(request).checkout_secret(tenant.id)})
