"""Stand-in token verifiers for a service that has not registered its real one.

They exist so that services can be built and tested in parallel: `user_headers` / `device_headers` in
conftest use them only when useradm / devauth did not install a real verifier.
"""

from __future__ import annotations

from aiohttp import web

from menderlite.web import ApiError, Identity
from menderlite.web.guards import DEVICE_VERIFIER, USER_VERIFIER

FAKE_ADMIN_TOKEN = "fake-admin-token"
FAKE_DEVICE_PREFIX = "fake-device:"


async def fake_user_verifier(token: str | None, method: str, path: str) -> Identity:
    if token != FAKE_ADMIN_TOKEN:
        raise ApiError(401, "unauthorized")
    return Identity(subject="fake-admin", is_user=True, token=token)


async def fake_device_verifier(token: str | None, method: str, path: str) -> Identity:
    if not token or not token.startswith(FAKE_DEVICE_PREFIX):
        raise ApiError(401, "unauthorized")
    return Identity(subject=token[len(FAKE_DEVICE_PREFIX):], is_device=True, token=token)


fake_user_verifier.is_fake = True  # type: ignore[attr-defined]
fake_device_verifier.is_fake = True  # type: ignore[attr-defined]


def install_missing_verifiers(app: web.Application) -> None:
    app.setdefault(USER_VERIFIER, fake_user_verifier)
    app.setdefault(DEVICE_VERIFIER, fake_device_verifier)


def is_fake(verifier: object) -> bool:
    return bool(getattr(verifier, "is_fake", False))
