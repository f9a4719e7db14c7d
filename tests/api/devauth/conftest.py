"""Fixtures for the devauth API tests: the app with a probe device route, and a management client."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from menderlite.config import Settings
from tests.api.devauth.helpers import Management, build_app


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return build_app(settings)


@pytest.fixture
def management(client: TestClient, user_headers: dict[str, str]) -> Management:
    return Management(client, user_headers)
