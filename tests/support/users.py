"""A real admin user for tests: created through the useradm service layer, logged in over HTTP."""

from __future__ import annotations

import base64

from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"


async def login(client: TestClient, email: str, password: str) -> str:
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    response = await client.post("/api/management/v1/useradm/auth/login", headers={"Authorization": f"Basic {credentials}"})
    assert response.status == 200, await response.text()
    return await response.text()


async def admin_headers(client: TestClient, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    """Authorization headers of an admin (no roles: full access) in the default tenant; creates it once."""
    useradm = client.app[CONTEXT].useradm
    if email.lower() not in {user.email for user in await useradm.list_users("")}:
        await useradm.create_user("", email, password)
    return {"Authorization": f"Bearer {await login(client, email, password)}"}
