"""Management API of tenantadm: who may create accounts, the v1/v2 sign-up forms, the tenant's own view, and
the v2 account life cycle (activate, delete inactive, cancel, upgrade, checkout secret)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT
from menderlite.config import Settings, TenantadmSettings, WorkflowsSettings, load
from tests.api.tenantadm.helpers import PASSWORD, V1, V2, TenantAccount, claims_of
from tests.support.users import login

LOGIN = "/api/management/v1/useradm/auth/login"


def signup_form(email: str = "new@org.example", **overrides: str) -> dict[str, str]:
    form = {"organization": "New Org", "email": email, "password": PASSWORD, "g-recaptcha-response": "stub"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


async def login_status(client: TestClient, email: str, password: str = PASSWORD) -> tuple[int, str]:
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    response = await client.post(LOGIN, headers={"Authorization": f"Basic {credentials}"})
    return response.status, await response.text()


async def tenant_named(client: TestClient, email: str) -> Any:
    tenants, _ = await client.app[CONTEXT].tenantadm.list_tenants(username=email)
    assert len(tenants) == 1
    return tenants[0]


@pytest.fixture
async def signup_client(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]) -> TestClient:
    from menderlite.app import create_app

    return await aiohttp_client(create_app(make_settings(tenantadm={"signup": True})))


# --- GET /user/tenant ------------------------------------------------------------------------------------


async def test_user_tenant_shows_the_callers_tenant_with_its_token(client: TestClient, tenant_a: TenantAccount) -> None:
    response = await client.get(f"{V1}/user/tenant", headers=tenant_a.headers)
    assert response.status == 200
    document = await response.json()
    assert document["id"] == tenant_a.id and len(document["id"]) == 24
    int(document["id"], 16)
    assert document["name"] == "Acme"
    assert document["status"] == "active" and document["plan"] == "os"
    assert document["tenant_token"] == tenant_a.token
    assert claims_of(document["tenant_token"])["mender.tenant"] == tenant_a.id


async def test_user_tenant_of_a_default_tenant_user_is_404(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.get(f"{V1}/user/tenant", headers=user_headers)
    assert response.status == 404
    assert (await response.json())["error"] == "user is not a part of any tenant organization"


async def test_user_tenant_needs_a_valid_token(client: TestClient) -> None:
    assert (await client.get(f"{V1}/user/tenant")).status == 401
    assert (await client.get(f"{V1}/user/tenant", headers={"Authorization": "Bearer nonsense"})).status == 401


# --- who may create accounts -----------------------------------------------------------------------------


def test_signup_and_cli_tasks_are_off_by_default() -> None:
    assert TenantadmSettings().signup is False and WorkflowsSettings().allow_cli is False
    settings = load(environ={})
    assert settings.tenantadm.signup is False and settings.workflows.allow_cli is False


async def test_without_signup_anonymous_account_creation_is_refused(client: TestClient) -> None:
    for path in (f"{V1}/tenants", f"{V2}/tenants", f"{V2}/tenants/trial"):
        response = await client.post(path, data=signup_form())
        assert response.status == 403, path
        assert "sign-up is disabled" in (await response.json())["error"]
    assert await client.app[CONTEXT].tenantadm.list_tenants() == ([], False)


async def test_without_signup_a_tenant_user_cannot_create_accounts(client: TestClient, tenant_a: TenantAccount) -> None:
    response = await client.post(f"{V1}/tenants", data=signup_form(), headers=tenant_a.headers)
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"


async def test_without_signup_a_bad_token_is_401(client: TestClient) -> None:
    response = await client.post(f"{V1}/tenants", data=signup_form(), headers={"Authorization": "Bearer forged"})
    assert response.status == 401


async def test_an_observer_of_the_default_tenant_cannot_create_accounts(client: TestClient) -> None:
    useradm = client.app[CONTEXT].useradm
    await useradm.create_user("", "observer@example.com", "observer-password", roles=["RBAC_ROLE_OBSERVER"])
    headers = {"Authorization": f"Bearer {await login(client, 'observer@example.com', 'observer-password')}"}
    response = await client.post(f"{V1}/tenants", data=signup_form(), headers=headers)
    assert response.status == 403


async def test_an_admin_of_the_default_tenant_creates_an_account_v1(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(f"{V1}/tenants", data=signup_form(plan="professional", token="tok_stub"), headers=user_headers)
    assert response.status == 202, await response.text()
    tenant = await tenant_named(client, "new@org.example")
    assert (tenant.name, tenant.status, tenant.plan) == ("New Org", "active", "professional")
    # the admin logs in and the token carries the tenant and its plan
    token = await login(client, "new@org.example", PASSWORD)
    claims = claims_of(token)
    assert claims["mender.tenant"] == tenant.id and claims["mender.plan"] == "professional"
    assert await client.app[CONTEXT].devauth.get_limit(tenant.id, "max_devices") == 250


async def test_signup_lets_anyone_create_an_account(signup_client: TestClient) -> None:
    response = await signup_client.post(f"{V1}/tenants", data=signup_form())
    assert response.status == 202, await response.text()
    tenant = await tenant_named(signup_client, "new@org.example")
    assert tenant.plan == "os"
    assert await signup_client.app[CONTEXT].devauth.get_limit(tenant.id, "max_devices") == 50


async def test_signup_also_takes_multipart_and_json(signup_client: TestClient) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for key, value in signup_form("multi@org.example").items():
        form.add_field(key, value)
    form.add_field("ignored_file", b"x", filename="x.bin")
    assert (await signup_client.post(f"{V1}/tenants", data=form)).status == 202
    assert (await signup_client.post(f"{V1}/tenants", json=signup_form("json@org.example"))).status == 202


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        (signup_form(organization=""), 400, "organization: non zero value required"),
        (signup_form(organization="Caf\u00e9"), 400, "organization: non-ascii characters are not allowed"),
        (signup_form(organization="x" * 256), 400, "organization: at most 255 characters"),
        (signup_form(email=""), 400, "email: non zero value required"),
        (signup_form(email="not-an-email"), 400, "email: not-an-email does not validate as email"),
        (signup_form(password=""), 400, "password: non zero value required"),
        (signup_form(password="short"), 400, "password too short"),
        (signup_form(plan="gold"), 400, "plan: must be one of os, professional, enterprise"),
    ],
)
async def test_bad_signup_forms_are_400(signup_client: TestClient, form: dict[str, str], status: int, message: str) -> None:
    response = await signup_client.post(f"{V1}/tenants", data=form)
    assert response.status == status
    assert (await response.json())["error"] == message
    assert await signup_client.app[CONTEXT].tenantadm.list_tenants() == ([], False)


async def test_signup_with_another_content_type_is_415(signup_client: TestClient) -> None:
    response = await signup_client.post(f"{V1}/tenants", data=b"organization=x", headers={"Content-Type": "text/plain"})
    assert response.status == 415


async def test_duplicate_admin_email_is_409_and_creates_nothing(signup_client: TestClient) -> None:
    assert (await signup_client.post(f"{V1}/tenants", data=signup_form("dup@org.example"))).status == 202
    response = await signup_client.post(f"{V1}/tenants", data=signup_form("Dup@Org.example", organization="New Org"))
    assert response.status == 409
    assert (await response.json())["error"] == "user with a given email already exists"
    tenants, _ = await signup_client.app[CONTEXT].tenantadm.list_tenants()
    assert len(tenants) == 1  # duplicate org names are fine; this one failed on the email only


async def test_duplicate_organization_names_are_allowed(signup_client: TestClient) -> None:
    assert (await signup_client.post(f"{V1}/tenants", data=signup_form("one@org.example"))).status == 202
    assert (await signup_client.post(f"{V1}/tenants", data=signup_form("two@org.example"))).status == 202
    tenants, _ = await signup_client.app[CONTEXT].tenantadm.list_tenants(q="New Org")
    assert len(tenants) == 2 and tenants[0].id != tenants[1].id


async def test_an_email_of_the_default_tenant_is_taken_too(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(f"{V1}/tenants", data=signup_form("admin@example.com"), headers=user_headers)
    assert response.status == 409


# --- v2: inactive until activated --------------------------------------------------------------------------


async def test_v2_account_is_inactive_until_activated(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(f"{V2}/tenants", data=signup_form("v2@org.example"), headers=user_headers)
    assert response.status == 200, await response.text()
    document = await response.json()
    assert set(document) == {"id", "secret"} and document["secret"]
    tenant_id = document["id"]
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_id)).status == "inactive"
    status, _ = await login_status(client, "v2@org.example")
    assert status == 401

    response = await client.put(f"{V2}/tenants/{tenant_id}/status", json={"status": "active"}, headers=user_headers)
    assert response.status == 202
    status, token = await login_status(client, "v2@org.example")
    assert status == 200 and claims_of(token)["mender.tenant"] == tenant_id


async def test_v2_devices_cannot_join_an_inactive_account(client: TestClient, user_headers: dict[str, str]) -> None:
    from tests.support.devices import SimulatedDevice

    response = await client.post(f"{V2}/tenants", data=signup_form("v2dev@org.example"), headers=user_headers)
    tenant = await client.app[CONTEXT].tenantadm.get_tenant((await response.json())["id"])
    device = SimulatedDevice.create()
    device.tenant_token = tenant.tenant_token
    result = await device.authenticate(client)
    assert result.status == 401 and result.json()["error"] == "Account inactive"


async def test_trial_account_is_active_on_enterprise(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(f"{V2}/tenants/trial", data=signup_form("trial@org.example"), headers=user_headers)
    assert response.status == 202, await response.text()
    tenant = await tenant_named(client, "trial@org.example")
    assert (tenant.status, tenant.plan, tenant.trial) == ("active", "enterprise", True)
    assert (await login_status(client, "trial@org.example"))[0] == 200


async def test_activate_refuses_other_statuses_unknown_and_suspended_tenants(
    client: TestClient, user_headers: dict[str, str], tenant_a: TenantAccount
) -> None:
    path = f"{V2}/tenants/{tenant_a.id}/status"
    for body, message in (({"status": "suspended"}, "status: must be one of active"), ({}, "status: non zero value required")):
        response = await client.put(path, json=body, headers=user_headers)
        assert response.status == 400 and (await response.json())["error"] == message
    assert (await client.put(f"{V2}/tenants/{'0' * 24}/status", json={"status": "active"}, headers=user_headers)).status == 404
    await client.app[CONTEXT].tenantadm.set_status(tenant_a.id, "suspended")
    response = await client.put(path, json={"status": "active"}, headers=user_headers)
    assert response.status == 409
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_a.id)).status == "suspended"


async def test_tenant_users_cannot_activate_delete_or_upgrade(client: TestClient, tenant_a: TenantAccount) -> None:
    headers = tenant_a.headers
    assert (await client.put(f"{V2}/tenants/{tenant_a.id}/status", json={"status": "active"}, headers=headers)).status == 403
    assert (await client.delete(f"{V2}/tenants/{tenant_a.id}", headers=headers)).status == 403
    response = await client.post(f"{V2}/tenants/{tenant_a.id}/upgrade/complete", json={"plan": "enterprise"}, headers=headers)
    assert response.status == 403
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_a.id)).plan == "os"


async def test_delete_inactive_account_removes_it_and_its_admin(client: TestClient, user_headers: dict[str, str]) -> None:
    response = await client.post(f"{V2}/tenants", data=signup_form("gone@org.example"), headers=user_headers)
    tenant_id = (await response.json())["id"]
    assert (await client.delete(f"{V2}/tenants/{tenant_id}", headers=user_headers)).status == 204
    assert (await client.app[CONTEXT].useradm.find_users(email="gone@org.example")) == []
    assert (await client.get(f"/api/internal/v1/tenantadm/tenants/{tenant_id}")).status == 404
    assert (await client.delete(f"{V2}/tenants/{tenant_id}", headers=user_headers)).status == 404


async def test_an_active_account_cannot_be_deleted(client: TestClient, user_headers: dict[str, str], tenant_a: TenantAccount) -> None:
    response = await client.delete(f"{V2}/tenants/{tenant_a.id}", headers=user_headers)
    assert response.status == 405
    assert (await response.json())["error"] == "only inactive tenants can be removed"


# --- cancel, upgrade, checkout secret ----------------------------------------------------------------------


async def test_a_tenant_admin_asks_to_cancel(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    path = f"{V2}/tenants/{tenant_a.id}/cancel"
    assert (await client.post(path, json={}, headers=tenant_a.headers)).status == 400
    assert (await client.post(path, json={"reason": 5}, headers=tenant_a.headers)).status == 400
    assert (await client.post(path, json={"reason": "too expensive"}, headers=tenant_b.headers)).status == 404
    assert (await client.post(path, json={"reason": "too expensive"}, headers=tenant_a.headers)).status == 202
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_a.id)).status == "active"  # recorded only


async def test_cancel_of_an_unknown_or_inactive_tenant(client: TestClient, user_headers: dict[str, str]) -> None:
    assert (await client.post(f"{V2}/tenants/{'0' * 24}/cancel", json={"reason": "x"}, headers=user_headers)).status == 404
    response = await client.post(f"{V2}/tenants", data=signup_form("inactive@org.example"), headers=user_headers)
    tenant_id = (await response.json())["id"]
    response = await client.post(f"{V2}/tenants/{tenant_id}/cancel", json={"reason": "x"}, headers=user_headers)
    assert response.status == 409


async def test_upgrade_start_complete_and_cancel(client: TestClient, user_headers: dict[str, str], tenant_a: TenantAccount) -> None:
    start = await client.post(f"{V2}/tenants/{tenant_a.id}/upgrade/start", headers=tenant_a.headers)
    assert start.status == 200
    started = await start.json()
    assert started["id"] == tenant_a.id and started["secret"]
    secret = await client.post(f"{V2}/secret", headers=tenant_a.headers)
    assert secret.status == 200 and (await secret.json()) == {"secret": started["secret"]}  # the same, consistently
    assert (await client.post(f"{V2}/tenants/{tenant_a.id}/upgrade/cancel", headers=tenant_a.headers)).status == 202

    path = f"{V2}/tenants/{tenant_a.id}/upgrade/complete"
    assert (await client.post(path, json={"plan": "gold"}, headers=user_headers)).status == 400
    assert (await client.post(path, json={}, headers=user_headers)).status == 400
    assert (await client.post(f"{V2}/tenants/{'0' * 24}/upgrade/complete", json={"plan": "os"}, headers=user_headers)).status == 404
    assert (await client.post(path, json={"plan": "enterprise"}, headers=user_headers)).status == 202
    assert (await client.app[CONTEXT].tenantadm.get_tenant(tenant_a.id)).plan == "enterprise"
    assert await client.app[CONTEXT].devauth.get_limit(tenant_a.id, "max_devices") == 0


async def test_upgrade_of_another_tenant_is_404(client: TestClient, tenant_a: TenantAccount, tenant_b: TenantAccount) -> None:
    assert (await client.post(f"{V2}/tenants/{tenant_b.id}/upgrade/start", headers=tenant_a.headers)).status == 404
    assert (await client.post(f"{V2}/tenants/{tenant_b.id}/upgrade/cancel", headers=tenant_a.headers)).status == 404


async def test_stripe_secret_of_the_default_tenant_is_404(client: TestClient, user_headers: dict[str, str]) -> None:
    assert (await client.post(f"{V2}/secret", headers=user_headers)).status == 404
    assert (await client.post(f"{V2}/secret")).status == 401
