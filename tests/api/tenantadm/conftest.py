"""Fixtures for the tenantadm API tests: two tenants (A on plan os, B on professional) with logged-in admins."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.api.tenantadm.helpers import TenantAccount, make_tenant


@pytest.fixture
async def tenant_a(client: TestClient) -> TenantAccount:
    return await make_tenant(client, "Acme", "admin@acme.example")


@pytest.fixture
async def tenant_b(client: TestClient) -> TenantAccount:
    return await make_tenant(client, "Bolt Inc.", "admin@bolt.example", plan="professional")
