"""Who may call what: management routes need a user JWT, device routes a device JWT, internal routes a peer
in the configured networks. useradm and devauth plug in the token checks (`USER_VERIFIER`,
`DEVICE_VERIFIER`); until they do, the guard refuses (fail closed).

The access class of a route comes from its path prefix, unless the handler is marked with `@access(...)`
(e.g. login and device auth requests are `public`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from aiohttp import web

from menderlite.tokens import bearer_token
from menderlite.web.errors import ApiError

Access = Literal["public", "user", "device", "internal"]
ACCESS_ATTRIBUTE = "__menderlite_access__"


@dataclass(frozen=True, slots=True)
class Identity:
    """The verified caller: a user or a device, in a tenant ("" is the default tenant)."""

    subject: str
    tenant_id: str = ""
    is_user: bool = False
    is_device: bool = False
    plan: str = "enterprise"
    token_id: str = ""
    token: str = ""


# A verifier takes (token or None, HTTP method, path) and returns the identity or raises ApiError.
Verifier = Callable[[str | None, str, str], Awaitable[Identity]]
USER_VERIFIER = web.AppKey("user_verifier", Verifier)
DEVICE_VERIFIER = web.AppKey("device_verifier", Verifier)
INTERNAL_NETWORKS = web.AppKey("internal_networks", tuple)

_IDENTITY_KEY = web.RequestKey("identity", Identity)

F = TypeVar("F", bound=Callable[..., Awaitable[web.StreamResponse]])


def access(kind: Access) -> Callable[[F], F]:
    """Mark a handler's access class explicitly (put it below the route decorator)."""

    def mark(handler: F) -> F:
        setattr(handler, ACCESS_ATTRIBUTE, kind)
        return handler

    return mark


def access_of(request: web.Request) -> Access:
    explicit = getattr(request.match_info.handler, ACCESS_ATTRIBUTE, None)
    if explicit is not None:
        return explicit
    path = request.path
    if path.startswith("/api/management/"):
        return "user"
    if path.startswith("/api/devices/"):
        return "device"
    if path.startswith(("/api/internal/", "/api/v1/")):
        return "internal"
    return "public"


def identity_of(request: web.Request) -> Identity:
    """The caller's identity; only routes behind the user or device guard have one."""
    identity = request.get(_IDENTITY_KEY)
    if identity is None:
        raise ApiError(401, "unauthorized")
    return identity


def parse_networks(networks: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def peer_allowed(remote: str | None, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


async def _verify(request: web.Request, key: web.AppKey[Verifier]) -> None:
    verifier = request.app.get(key)
    if verifier is None:
        raise ApiError(401, "unauthorized")
    token = bearer_token(request.headers.get("Authorization"))
    request[_IDENTITY_KEY] = await verifier(token, request.method, request.path)


async def check_access(request: web.Request) -> None:
    """Let the request through to its handler or raise ApiError (run by the front middleware)."""
    if request.match_info.http_exception is not None:
        return  # unknown route or method: the router's 404/405
    kind = access_of(request)
    if kind == "user":
        await _verify(request, USER_VERIFIER)
    elif kind == "device":
        await _verify(request, DEVICE_VERIFIER)
    elif kind == "internal" and not peer_allowed(request.remote, request.app[INTERNAL_NETWORKS]):
        raise ApiError(403, "access to internal APIs is restricted to the configured networks")
