"""A tenant's plan travels in its users' and devices' tokens and gates features; concurrent sign-ups with one
email create one tenant."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT
from menderlite.tenantadm.service import NewAccount
from menderlite.web.errors import ApiError
from tests.api.tenantadm.helpers import INTERNAL, PASSWORD, TenantAccount

ROLES = "/api/management/v1/useradm/roles"
ROLE = {"name": "READER", "permissions": [{"action": "http", "object": {"type": "GET", "value": "/api/management/.*"}}]}


async def test_plan_gating_follows_the_tenant_plan(
    client: TestClient, user_headers: dict[str, str], tenant_a: TenantAccount, tenant_b: TenantAccount
) -> None:
    # roles (RBAC) need enterprise: the default tenant has it (settings), os and professional do not
    assert (await client.post(ROLES, json=ROLE, headers=user_headers)).status == 201
    for tenant in (tenant_a, tenant_b):
        response = await client.post(ROLES, json=ROLE, headers=tenant.headers)
        assert response.status == 403
        assert (await response.json())["error"] == "Feature not available in your Plan"
    # upgraded to enterprise, the admin's next login may
    assert (await client.put(f"{INTERNAL}/tenants/{tenant_b.id}", json={"plan": "enterprise"})).status == 204
    from tests.support.users import login

    headers = {"Authorization": f"Bearer {await login(client, tenant_b.email, tenant_b.password)}"}
    assert (await client.post(ROLES, json=ROLE, headers=headers)).status == 201


async def test_concurrent_sign_ups_with_one_email_make_one_tenant(client: TestClient) -> None:
    tenantadm = client.app[CONTEXT].tenantadm
    accounts = [NewAccount(f"Org {n}", "same@org.example", PASSWORD, "os") for n in range(4)]
    results = await asyncio.gather(*(tenantadm.create_tenant(account) for account in accounts), return_exceptions=True)
    created = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, ApiError)]
    assert len(created) == 1 and len(refused) == 3
    assert {(error.status, error.message) for error in refused} == {(409, "user with a given email already exists")}
    tenants, _ = await tenantadm.list_tenants()
    assert [tenant.id for tenant in tenants] == [created[0].id]


async def test_health_and_alive(client: TestClient) -> None:
    assert (await client.get(f"{INTERNAL}/health")).status == 204
    assert (await client.get(f"{INTERNAL}/alive")).status == 204
