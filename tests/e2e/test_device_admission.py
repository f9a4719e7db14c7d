"""Issue 4 with the real client: a `mender-client` goes pending, a user accepts it through the management API,
and `mender bootstrap` then obtains a token; rejecting it takes the token away again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness.api import ManagementApi

pytestmark = pytest.mark.e2e

ADMIN = ("admission-admin@example.com", "admission-password")


@pytest.fixture(scope="module")
def management(server: Any) -> ManagementApi:
    created = server.menderlite("user", "create", "--email", ADMIN[0], "--password", ADMIN[1])
    assert created.returncode == 0, created.stderr
    return ManagementApi.login(server.http(), *ADMIN)


def test_pending_device_is_accepted_through_the_api_and_bootstraps(make_device: Any, server: Any, management: ManagementApi) -> None:
    device = make_device(server, start=False)
    pending = device.bootstrap()
    assert pending.returncode != 0  # 401 while pending
    record = management.wait_for_device(status="pending", mac=device.mac)
    assert record["identity_data"]["mac"] == device.mac

    management.accept(record)
    accepted = device.bootstrap()
    assert accepted.returncode == 0, accepted.stderr
    [auth_set] = management.device_with_identity(mac=device.mac)["auth_sets"]
    assert auth_set["status"] == "accepted"

    management.set_auth_status(record["id"], auth_set["id"], "rejected")
    assert device.bootstrap().returncode != 0
