"""tenantadm's pure logic: field checks, API limits, tenant ids, plan limits, sign-up parsing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from menderlite.db import new_object_id
from menderlite.tenantadm import inputs
from menderlite.tenantadm.service import (
    PLAN_DEVICE_LIMITS,
    TenantadmService,
)
from menderlite.web.errors import ApiError


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as raised:
        call(*args, **kwargs)
    return raised.value.status, raised.value.message


def test_tenant_ids_look_like_object_ids_and_differ() -> None:
    ids = {new_object_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{24}", tenant_id) for tenant_id in ids)


def test_plan_limits() -> None:
    assert PLAN_DEVICE_LIMITS == {"os": 50, "professional": 250, "enterprise": 0}


def test_organization_names() -> None:
    assert inputs.organization_name("  Acme Inc.  ") == "Acme Inc."
    assert error_of(inputs.organization_name, None) == (400, "organization: non zero value required")
    assert error_of(inputs.organization_name, "   ") == (400, "organization: non zero value required")
    assert error_of(inputs.organization_name, 7) == (400, "organization: must be a string")
    assert error_of(inputs.organization_name, "Ac\u00e9me") == (400, "organization: non-ascii characters are not allowed")
    assert error_of(inputs.organization_name, "tab\there") == (400, "organization: non-ascii characters are not allowed")
    assert error_of(inputs.organization_name, "x" * 256)[1] == "organization: at most 255 characters"


def test_plans_and_statuses() -> None:
    assert inputs.plan(None) == "os" and inputs.plan("") == "os" and inputs.plan("enterprise") == "enterprise"
    assert error_of(inputs.plan, None, default=None) == (400, "plan: non zero value required")
    assert error_of(inputs.plan, "gold")[0] == 400
    assert inputs.status("suspended", ("active", "suspended")) == "suspended"
    assert error_of(inputs.status, "inactive", ("active", "suspended")) == (400, "status: must be one of active, suspended")


def test_api_limits_are_normalised() -> None:
    limits = inputs.api_limits({"devices": {"bursts": [{"action": "POST", "uri": "/x"}], "quota": {"max_calls": 5}}})
    assert limits == {
        "devices": {
            "bursts": [{"action": "POST", "uri": "/x", "min_interval_sec": 0}],
            "quota": {"max_calls": 5, "interval_sec": 0},
        }
    }
    assert inputs.api_limits({}) == {}
    assert set(inputs.default_api_limits()) == {"management", "devices"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x", "api_limits: must be an object"),
        ({"devices": []}, "api_limits.devices: must be an object"),
        ({"devices": {"other": 1}}, "api_limits.devices: unknown key 'other'"),
        ({"devices": {"bursts": {}}}, "api_limits.devices.bursts: must be a list of at most 100 bursts"),
        ({"devices": {"bursts": [{}] * 101}}, "api_limits.devices.bursts: must be a list of at most 100 bursts"),
        ({"devices": {"bursts": ["x"]}}, "api_limits.devices.bursts[0]: must be an object"),
        ({"devices": {"bursts": [{"min_interval_sec": True}]}}, "api_limits.devices.bursts[0].min_interval_sec: must be a non-negative integer"),
        ({"management": {"quota": {"interval_sec": 2**63}}}, "api_limits.management.quota.interval_sec: must be a non-negative integer"),
    ],
)
def test_bad_api_limits(value: Any, message: str) -> None:
    assert error_of(inputs.api_limits, value) == (400, message)


def test_sign_up_parsing() -> None:
    account = TenantadmService.parse_new_account(
        {"organization": "Acme", "email": "Admin@Acme.Example", "password": "long-enough", "plan": ""}
    )
    assert (account.name, account.email, account.plan) == ("Acme", "admin@acme.example", "os")
    trial = TenantadmService.parse_new_account(
        {"organization": "Acme", "email": "a@acme.example", "password": "long-enough"}, default_plan="enterprise"
    )
    assert trial.plan == "enterprise"
    short = {"organization": "Acme", "email": "a@acme.example", "password": "short"}
    assert error_of(TenantadmService.parse_new_account, short) == (400, "password too short")


def test_times() -> None:
    assert inputs.optional_time({}, "t") is None
    assert inputs.optional_time({"t": "2030-01-01T00:00:00Z"}, "t").year == 2030  # type: ignore[union-attr]
    assert error_of(inputs.optional_time, {"t": "2030-01-01T00:00:00"}, "t") == (400, "t: must be an RFC 3339 time")
