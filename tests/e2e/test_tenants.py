"""Multi-tenancy with the real client: a tenant created with `menderlite tenant create`, a `mender-client`
configured with that tenant's `TenantToken` is accepted into the tenant by its admin, reports its inventory
there, and stays invisible to the default tenant's admin."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.harness.api import ManagementApi

pytestmark = pytest.mark.e2e

OPERATOR = ("tenants-operator@example.com", "operator-password")
TENANT_ADMIN = ("acme-admin@example.com", "acme-password")


def test_a_client_with_a_tenant_token_joins_its_tenant_only(make_device: Any, server: Any) -> None:
    created = server.menderlite(
        "tenant", "create", "--name", "Acme", "--username", TENANT_ADMIN[0], "--password", TENANT_ADMIN[1], "--plan", "professional"
    )
    assert created.returncode == 0, created.stderr
    tenant_id = created.stdout.strip()
    shown = server.menderlite("tenant", "show", tenant_id)
    assert shown.returncode == 0, shown.stderr
    tenant_token = json.loads(shown.stdout)["tenant_token"]
    assert server.menderlite("user", "create", "--email", OPERATOR[0], "--password", OPERATOR[1]).returncode == 0

    acme = ManagementApi.login(server.http(), *TENANT_ADMIN)
    operator = ManagementApi.login(server.http(), *OPERATOR)
    assert acme.http.get("/api/management/v1/tenantadm/user/tenant").expect(200).json()["tenant_token"] == tenant_token

    device = make_device(server, tenant_token=tenant_token)
    device_id = acme.accept_device(mac=device.mac)
    acme.wait_for_inventory(device_id, artifact_name="e2e-initial", device_type="qemux86-64")
    assert acme.devices(status="accepted")[0]["id"] == device_id

    # the default tenant's admin sees nothing of it
    assert operator.device_with_identity(mac=device.mac) is None
    assert operator.http.get(f"/api/management/v2/devauth/devices/{device_id}").status == 404
    assert operator.http.get(f"/api/management/v1/inventory/devices/{device_id}").status == 404
    assert operator.devices() == []
