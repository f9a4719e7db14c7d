"""RBAC policies: built-in roles, custom permissions, anchoring, deployment groups; the guard's grant cache."""

from __future__ import annotations

import pytest

from menderlite.useradm.grants import Grant, GrantCache
from menderlite.useradm.rbac import (
    BUILTIN_ROLES,
    FULL_ACCESS,
    InvalidRole,
    Policy,
    RoleDefinition,
    parse_permissions,
)
from menderlite.web import Identity

ARTIFACTS = "/api/management/v1/deployments/artifacts"
DEPLOYMENTS = "/api/management/v1/deployments/deployments"


def policy(*roles: str) -> Policy:
    return Policy.for_roles([BUILTIN_ROLES[name] for name in roles])


def custom(*permissions: dict) -> Policy:
    return Policy.for_roles([RoleDefinition("CUSTOM", "", parse_permissions(list(permissions)))])


def http(method: str, value: str) -> dict:
    return {"action": "http", "object": {"type": method, "value": value}}


def test_no_roles_means_full_access() -> None:
    assert Policy.for_roles(None) is FULL_ACCESS
    assert FULL_ACCESS.allows("DELETE", "/api/management/v1/useradm/users/x")
    assert FULL_ACCESS.deployment_group_restriction() is None


def test_builtin_roles() -> None:
    admin, observer, ci = policy("RBAC_ROLE_PERMIT_ALL"), policy("RBAC_ROLE_OBSERVER"), policy("RBAC_ROLE_CI")
    assert admin.allows("DELETE", "/anything") and admin.deployment_group_restriction() is None
    assert observer.allows("GET", "/api/management/v1/useradm/users")
    assert observer.allows("HEAD", "/api/management/v1/useradm/users")
    assert observer.allows("POST", "/api/management/v2/inventory/filters/search")
    assert not observer.allows("POST", "/api/management/v1/useradm/users")
    assert not observer.allows("PUT", "/api/management/v2/devauth/devices/d/auth/a/status")
    assert ci.allows("POST", ARTIFACTS) and ci.allows("GET", ARTIFACTS) and ci.allows("POST", f"{ARTIFACTS}/generate")
    assert not ci.allows("DELETE", f"{ARTIFACTS}/id") and not ci.allows("GET", f"{ARTIFACTS}/id/download")
    assert not ci.allows("POST", DEPLOYMENTS)
    # No CREATE_DEPLOYMENT permission: the guard refuses their creations, none gets as far as a group check.
    assert observer.deployment_group_restriction() is None and ci.deployment_group_restriction() is None


def test_self_service_is_always_allowed() -> None:
    nothing = Policy.for_roles([])
    assert nothing.allows("POST", "/api/management/v1/useradm/settings")
    assert nothing.allows("PUT", "/api/management/v1/useradm/2faverify")
    assert not nothing.allows("GET", "/api/management/v1/useradm/users")


def test_http_permissions_match_method_and_whole_path() -> None:
    rules = custom(http("GET", "/api/management/v1/useradm/users"), http("any", "/api/management/v1/inventory/.*"))
    assert rules.allows("GET", "/api/management/v1/useradm/users")
    assert not rules.allows("GET", "/api/management/v1/useradm/users/x")  # anchored at the end
    assert not rules.allows("GET", "/x/api/management/v1/useradm/users")  # and at the start
    assert not rules.allows("POST", "/api/management/v1/useradm/users")
    assert rules.allows("DELETE", "/api/management/v1/inventory/devices/1")


def test_union_of_roles() -> None:
    both = Policy.for_roles([BUILTIN_ROLES["RBAC_ROLE_CI"], RoleDefinition("X", "", parse_permissions([http("DELETE", f"{ARTIFACTS}/[^/]+")]))])
    assert both.allows("DELETE", f"{ARTIFACTS}/1") and both.allows("POST", ARTIFACTS)


def test_deployment_groups() -> None:
    group = {"action": "CREATE_DEPLOYMENT", "object": {"type": "DEVICE_GROUP", "value": "test"}}
    restricted = custom(group, {**group, "object": {"type": "DEVICE_GROUP", "value": "lab"}})
    assert restricted.allows("POST", DEPLOYMENTS)
    assert restricted.allows("POST", f"{DEPLOYMENTS}/group/test")
    assert restricted.allows("POST", "/api/management/v2/deployments/deployments")
    assert not restricted.allows("GET", DEPLOYMENTS)
    assert restricted.deployment_group_restriction() == frozenset({"test", "lab"})
    # A general permission to create deployments lifts the restriction.
    assert custom(group, http("POST", "/api/management/v1/deployments/.*")).deployment_group_restriction() is None
    assert custom(group, {"action": "any", "object": {"type": "any", "value": "any"}}).deployment_group_restriction() is None
    # An http permission to create deployments on one endpoint, without groups: that endpoint is unrestricted.
    group_endpoint = custom(http("POST", f"{DEPLOYMENTS}/group/.*"))
    assert group_endpoint.allows("POST", f"{DEPLOYMENTS}/group/prod") and not group_endpoint.allows("POST", DEPLOYMENTS)
    assert group_endpoint.deployment_group_restriction() is None
    assert custom(http("POST", "/api/management/v2/deployments/deployments")).deployment_group_restriction() is None
    # Mixed: the group limit stays unless the general permission covers the devices endpoint too.
    assert custom(group, http("POST", "/api/management/v2/deployments/deployments")).deployment_group_restriction() == {"test"}


@pytest.mark.parametrize(
    "raw",
    [
        "x", [1], [{"action": "nope", "object": {"type": "a", "value": "b"}}], [{"action": "http", "object": "x"}],
        [http("TRACE", ".*")], [http("GET", "(")], [{"action": "CREATE_DEPLOYMENT", "object": {"type": "GET", "value": "g"}}],
    ],
)
def test_invalid_permissions(raw: object) -> None:
    with pytest.raises(InvalidRole):
        parse_permissions(raw)


# --- the grant cache -------------------------------------------------------------------------------------


def grant(subject: str, tenant: str = "", jti: str = "j", expires_at: float = 4e9) -> Grant:
    return Grant(Identity(subject=subject, tenant_id=tenant, is_user=True, token_id=jti), FULL_ACCESS, expires_at)


def test_cache_hit_and_invalidation() -> None:
    cache = GrantCache()
    cache.put("t1", grant("u1", "a", "j1"), cache.generation)
    cache.put("t2", grant("u2", "a", "j2"), cache.generation)
    cache.put("t3", grant("u3", "b", "j3"), cache.generation)
    assert cache.get("t1") is not None
    cache.drop_user("a", "u1")
    assert cache.get("t1") is None and cache.get("t2") is not None
    cache.drop_tenant("a")
    assert cache.get("t2") is None and cache.get("t3") is not None
    cache.drop_tenant("b")
    assert len(cache) == 0


def test_a_lookup_that_raced_with_an_invalidation_is_not_cached() -> None:
    cache = GrantCache()
    generation = cache.generation
    cache.drop_user("", "someone")  # a commit happened while the lookup was running
    cache.put("t", grant("u"), generation)
    assert cache.get("t") is None


def test_entries_expire_with_the_token_and_after_the_ttl() -> None:
    clock = [1000.0]
    cache = GrantCache(ttl=10, clock=lambda: clock[0])
    cache.put("expired", grant("u", expires_at=1.0), cache.generation)
    assert cache.get("expired") is None
    cache.put("t", grant("u"), cache.generation)
    clock[0] += 9
    assert cache.get("t") is not None
    clock[0] += 2
    assert cache.get("t") is None


def test_cache_size_is_bounded() -> None:
    cache = GrantCache(max_entries=2)
    for number in range(3):
        cache.put(f"t{number}", grant(f"u{number}"), cache.generation)
    assert len(cache) == 2 and cache.get("t0") is None and cache.get("t2") is not None
