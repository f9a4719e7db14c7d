"""Roles and permissions: validation, the built-in roles, and the policy the management guard evaluates.

A permission is `{action, object: {type, value}}`:
- `any`: everything (the admin role);
- `http`: `type` is an HTTP method or `any`, `value` a regular expression that must match the WHOLE request
  path (anchored, so `/api/management/v1/deployments/artifacts` does not also grant `.../artifacts/generate`);
- `CREATE_DEPLOYMENT` on `DEVICE_GROUP` `value`: may create deployments, only for devices of that group.

A user with no roles has full access; a user with roles may do what one of them permits, plus the
self-service calls on their own account (their settings and 2FA set-up).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from menderlite.regex import Pattern, RegexError, compile_pattern, try_compile

ACTION_ANY = "any"
ACTION_HTTP = "http"
ACTION_CREATE_DEPLOYMENT = "CREATE_DEPLOYMENT"
ACTIONS = (ACTION_ANY, ACTION_HTTP, ACTION_CREATE_DEPLOYMENT)
OBJECT_DEVICE_GROUP = "DEVICE_GROUP"
ANY_METHOD = "any"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

MAX_ROLE_NAME_LENGTH = 255
MAX_PERMISSIONS = 1000

USERADM = "/api/management/v1/useradm"
# Calls every logged-in user may make on their own account, whatever their roles.
SELF_SERVICE = frozenset(
    {
        ("GET", f"{USERADM}/settings"),
        ("POST", f"{USERADM}/settings"),
        ("GET", f"{USERADM}/2faqr"),
        ("PUT", f"{USERADM}/2faverify"),
        ("GET", f"{USERADM}/users/me"),
    }
)
# What CREATE_DEPLOYMENT grants over HTTP (the group check itself happens in the deployments service).
DEPLOYMENT_CREATION = re.compile(
    r"/api/management/v1/deployments/deployments(/group/[^/]+)?|/api/management/v2/deployments/deployments"
)
DEPLOYMENT_CREATION_PROBE = "/api/management/v1/deployments/deployments"


class InvalidRole(ValueError):
    """A role document that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Permission:
    action: str
    type: str
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "object": {"type": self.type, "value": self.value}}


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    description: str
    permissions: tuple[Permission, ...]
    builtin: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "permissions": [permission.to_json() for permission in self.permissions],
        }


def _http(method: str, path_regex: str) -> Permission:
    return Permission(ACTION_HTTP, method, path_regex)


BUILTIN_ROLES: dict[str, RoleDefinition] = {
    role.name: role
    for role in (
        RoleDefinition(
            "RBAC_ROLE_PERMIT_ALL",
            "Admin: full access",
            (Permission(ACTION_ANY, ANY_METHOD, ANY_METHOD),),
            builtin=True,
        ),
        RoleDefinition(
            "RBAC_ROLE_OBSERVER",
            "Read only: may view everything and change nothing",
            (
                _http("GET", ".*"),
                # Device searches are reads sent as POST.
                _http("POST", r"/api/management/v[12]/inventory/filters/search"),
                _http("POST", r"/api/management/v2/inventory/filters/[^/]+/search"),
            ),
            builtin=True,
        ),
        RoleDefinition(
            "RBAC_ROLE_CI",
            "CI: may upload and list artifacts",
            (
                _http("GET", r"/api/management/v1/deployments/artifacts(/[^/]+)?"),
                _http("POST", r"/api/management/v1/deployments/artifacts(/generate)?"),
            ),
            builtin=True,
        ),
    )
}


# --- validation ------------------------------------------------------------------------------------------


def validate_role_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRole("name: non zero value required")
    if len(name) > MAX_ROLE_NAME_LENGTH:
        raise InvalidRole(f"name: longer than {MAX_ROLE_NAME_LENGTH} characters")
    if "/" in name or not name.isprintable():
        raise InvalidRole("name: must not contain '/' or control characters")
    return name


def parse_permission(raw: Any) -> Permission:
    if not isinstance(raw, Mapping):
        raise InvalidRole("permissions: each permission must be an object")
    action = raw.get("action")
    if action not in ACTIONS:
        raise InvalidRole(f"permissions: action must be one of {', '.join(ACTIONS)}")
    target = raw.get("object")
    if not isinstance(target, Mapping):
        raise InvalidRole("permissions: object must be an object with type and value")
    kind, value = target.get("type"), target.get("value")
    if not isinstance(kind, str) or not isinstance(value, str) or not kind or not value:
        raise InvalidRole("permissions: object type and value must be non-empty strings")
    if action == ACTION_HTTP:
        method = kind.upper() if kind.lower() != ANY_METHOD else ANY_METHOD
        if method != ANY_METHOD and method not in HTTP_METHODS:
            raise InvalidRole(f"permissions: object type of an http permission must be any or one of {', '.join(HTTP_METHODS)}")
        try:
            compile_pattern(value)
        except RegexError as exc:
            raise InvalidRole(f"permissions: invalid regular expression {value!r}: {exc}") from None
        return Permission(action, method, value)
    if action == ACTION_CREATE_DEPLOYMENT and kind != OBJECT_DEVICE_GROUP:
        raise InvalidRole(f"permissions: object type of {ACTION_CREATE_DEPLOYMENT} must be {OBJECT_DEVICE_GROUP}")
    return Permission(action, kind, value)


def parse_permissions(raw: Any) -> tuple[Permission, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRole("permissions: must be a list")
    if len(raw) > MAX_PERMISSIONS:
        raise InvalidRole(f"permissions: at most {MAX_PERMISSIONS} permissions")
    return tuple(parse_permission(item) for item in raw)


def permissions_from_json(stored: Iterable[Mapping[str, Any]]) -> tuple[Permission, ...]:
    """Permissions as stored (already validated when written)."""
    return tuple(
        Permission(item["action"], item["object"]["type"], item["object"]["value"]) for item in stored
    )


# --- evaluation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HttpRule:
    method: str  # an HTTP method or ANY_METHOD
    path: Pattern

    def allows(self, method: str, path: str) -> bool:
        if self.method != ANY_METHOD and self.method != method:
            return False
        return self.path.fullmatch(path) is not None


@dataclass(frozen=True)
class Policy:
    """What a user may do: compiled once from their roles (and cached by the guard)."""

    unrestricted: bool
    rules: tuple[_HttpRule, ...] = ()
    deployment_groups: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_roles(cls, roles: Iterable[RoleDefinition] | None) -> Policy:
        """`None` (no roles assigned) means full access; an empty iterable means nothing beyond self-service."""
        if roles is None:
            return FULL_ACCESS
        rules: list[_HttpRule] = []
        groups: set[str] = set()
        for role in roles:
            for permission in role.permissions:
                if permission.action == ACTION_ANY:
                    return FULL_ACCESS
                if permission.action == ACTION_HTTP and (path := try_compile(permission.value)) is not None:
                    rules.append(_HttpRule(permission.type, path))
                elif permission.action == ACTION_CREATE_DEPLOYMENT:
                    groups.add(permission.value)
        if groups:
            rules.append(_HttpRule("POST", DEPLOYMENT_CREATION))
        return cls(unrestricted=False, rules=tuple(rules), deployment_groups=frozenset(groups))

    def allows(self, method: str, path: str) -> bool:
        if self.unrestricted:
            return True
        method = method.upper()
        if method == "HEAD":
            method = "GET"
        if (method, path) in SELF_SERVICE:
            return True
        return any(rule.allows(method, path) for rule in self.rules)

    def deployment_group_restriction(self) -> frozenset[str] | None:
        """For a deployment creation the guard let through: None when it may target any device, else only
        devices in these groups. Without CREATE_DEPLOYMENT permissions, only an http permission can have let
        the request through, and that one allows the creation outright (e.g. POST .../group/.* alone)."""
        if self.unrestricted or not self.deployment_groups:
            return None
        general = (rule for rule in self.rules if rule.path is not DEPLOYMENT_CREATION)
        if any(rule.allows("POST", DEPLOYMENT_CREATION_PROBE) for rule in general):
            return None
        return self.deployment_groups


FULL_ACCESS = Policy(unrestricted=True)
