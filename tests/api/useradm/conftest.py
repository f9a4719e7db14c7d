"""Helpers for the useradm API tests: users made through the service layer, logins through HTTP."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT
from menderlite.context import Context
from menderlite.web.guards import ACCESS_ATTRIBUTE

USERADM = "/api/management/v1/useradm"
INTERNAL = "/api/internal/v1/useradm"
LOGIN = f"{USERADM}/auth/login"
PASSWORD = "correct-horse-1"
PLACEHOLDER = re.compile(r"\{[^}]+\}")


def basic(email: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, without checking it (what a client would look at)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def login(client: TestClient, email: str, password: str = PASSWORD, token2fa: str | None = None) -> Any:
    body = json.dumps({"token2fa": token2fa}) if token2fa is not None else None
    return await client.post(LOGIN, data=body, headers={**basic(email, password), "Content-Type": "application/json"})


async def token_for(client: TestClient, email: str, password: str = PASSWORD, token2fa: str | None = None) -> str:
    response = await login(client, email, password, token2fa)
    assert response.status == 200, await response.text()
    return await response.text()


MakeUser = Callable[..., Awaitable[tuple[str, dict[str, str]]]]


@pytest.fixture
def make_user(client: TestClient) -> MakeUser:
    """`user_id, headers = await make_user(email, roles=[...], tenant_id="")`: a user, logged in."""

    async def make(email: str, roles: Sequence[str] = (), tenant_id: str = "", password: str = PASSWORD) -> tuple[str, dict[str, str]]:
        ctx: Context = client.app[CONTEXT]
        user = await ctx.useradm.create_user(tenant_id, email, password, roles=roles)
        return user.id, bearer(await token_for(client, email, password))

    return make


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # the route as registered, e.g. /api/management/v1/useradm/users/{id}
    path: str  # a concrete path for it

    def __str__(self) -> str:
        return f"{self.method} {self.pattern}"


def management_routes(client: TestClient) -> list[Route]:
    """Every guarded management route of the app (HEAD follows GET; login and password reset are public)."""
    routes = []
    for route in client.app.router.routes():
        pattern = route.resource.canonical if route.resource is not None else ""
        if not pattern.startswith("/api/management/") or route.method in ("HEAD", "*"):
            continue
        if getattr(route.handler, ACCESS_ATTRIBUTE, None) == "public":
            continue
        routes.append(Route(route.method, pattern, PLACEHOLDER.sub(str(uuid.uuid4()), pattern)))
    return sorted(set(routes), key=str)
