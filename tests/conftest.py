"""Shared fixtures: a migrated SQLite file per test (copied from a session template), shared keys, the app."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite import tokens
from menderlite.app import CONTEXT, create_app
from menderlite.config import Settings, load
from menderlite.context import Context
from menderlite.db import migrate
from menderlite.tokens import load_or_create_rsa_key, load_or_create_secret
from tests.support.devices import SimulatedDevice, admit
from tests.support.users import admin_headers

# Fixtures defined in support modules, shared by every test module.
pytest_plugins = ["tests.support.query_plans"]


@pytest.fixture(scope="session")
def shared_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """RSA 3072 generation is slow: one key pair for the whole session."""
    directory = tmp_path_factory.mktemp("keys")
    key, secret = directory / "jwt-private.pem", directory / "url-secret"
    load_or_create_rsa_key(key)
    load_or_create_secret(secret)
    return {"jwt_private_key": key, "url_secret": secret}


@pytest.fixture(scope="session", autouse=True)
def reuse_loaded_rsa_keys() -> Iterator[None]:
    """Loading a 3072-bit RSA key validates it (about 0.2 s); every app of the session loads the same shared
    key file, so load it once. Files that do not exist yet are still created (and checked) as usual."""
    original = tokens.load_or_create_rsa_key
    loaded: dict[tuple[str, int], Any] = {}

    def load_once(path: Path, bits: int = tokens.JWT_KEY_BITS) -> Any:
        if not path.exists():
            return original(path, bits)
        identity = (str(path.resolve()), path.stat().st_mtime_ns)
        if identity not in loaded:
            loaded[identity] = original(path, bits)
        return loaded[identity]

    tokens.load_or_create_rsa_key = load_once  # type: ignore[assignment]
    yield
    tokens.load_or_create_rsa_key = original  # type: ignore[assignment]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "menderlite.db"
    migrate.upgrade(path)
    return path


@pytest.fixture
def make_settings(tmp_path: Path, shared_keys: dict[str, Path], migrated_template: Path) -> Callable[..., Settings]:
    """Settings for a fresh data directory holding a migrated database; keyword overrides per section."""

    def factory(**overrides: dict[str, Any]) -> Settings:
        data_dir = tmp_path / "data"
        data_dir.mkdir(exist_ok=True)
        database = data_dir / "menderlite.db"
        if not database.exists():
            shutil.copyfile(migrated_template, database)
        base = load(
            environ={},
            flags={
                "server": {"data_dir": str(data_dir), "access_log": False},
                "keys": {name: str(path) for name, path in shared_keys.items()},
                "useradm": {"bcrypt_rounds": 4},  # the minimum: hashing stays fast in tests
            },
        )
        return base.with_overrides(overrides)

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
def ctx(app: web.Application) -> Context:
    return app[CONTEXT]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], app: web.Application) -> TestClient:
    return await aiohttp_client(app)


@pytest.fixture
async def user_headers(client: TestClient) -> dict[str, str]:
    """Authorization headers of an admin user (no roles: full access) in the default tenant."""
    return await admin_headers(client)


DeviceHeaders = Callable[..., Any]


@pytest.fixture
def device_headers(client: TestClient) -> DeviceHeaders:
    """`await device_headers(device_id)`: Authorization headers of an accepted device in the default tenant."""

    admitted: dict[str, SimulatedDevice] = {}

    async def make(device_id: str) -> dict[str, str]:
        # A real device (Ed25519: instant keys), preauthorized with this id and authenticated over HTTP.
        device = admitted.get(device_id)
        if device is None:
            device, _ = await admit(client, device_id)
            admitted[device_id] = device
        else:
            result = await device.authenticate(client)
            assert result.status == 200, f"device {device_id} lost its admission: {result.status} {result.body}"
        return device.auth_headers()

    return make
