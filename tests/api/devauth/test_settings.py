"""The [devauth] settings: token issuer and lifetime, smallest RSA key."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
from aiohttp.test_utils import TestClient

from menderlite.config import Settings
from menderlite.context import Context
from tests.api.devauth.helpers import Management, probe
from tests.support.devices import SimulatedDevice


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(devauth={"jwt_issuer": "my-fleet", "jwt_expiration_seconds": 3600, "min_rsa_key_bits": 1024})


async def test_issuer_lifetime_and_smaller_rsa_keys(client: TestClient, ctx: Context, management: Management) -> None:
    device = SimulatedDevice.create("rsa", rsa_bits=1024)
    assert (await device.authenticate(client)).status == 401
    await management.accept(device)
    token = (await device.authenticate(client)).token
    assert token is not None
    claims = jwt.decode(token, ctx.keys.public_key, algorithms=["RS256"], issuer="my-fleet")
    assert claims["exp"] - claims["iat"] == 3600
    assert (await probe(client, token)).status == 200
    # A token of another issuer (e.g. the default "Mender") is refused.
    assert (await probe(client, ctx.keys.issue_jwt({**claims, "iss": "Mender"}))).status == 401
