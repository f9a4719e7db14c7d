"""Checks of tenantadm's request fields (organization names, plans, statuses, API limits); no aiohttp here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from menderlite.config import PLANS
from menderlite.timeutil import parse_rfc3339
from menderlite.web.errors import ApiError

ACTIVE = "active"
SUSPENDED = "suspended"
INACTIVE = "inactive"
STATUSES = (ACTIVE, SUSPENDED, INACTIVE)
DEFAULT_PLAN = "os"  # tenants created without a plan
MAX_NAME_LENGTH = 255
API_TYPES = ("management", "devices")
MAX_BURSTS = 100


def organization_name(value: Any, field: str = "organization") -> str:
    """An organization name: required, ASCII only (as the reference says), at most 255 characters."""
    if value is None or value == "":
        raise ApiError(400, f"{field}: non zero value required")
    if not isinstance(value, str):
        raise ApiError(400, f"{field}: must be a string")
    name = value.strip()
    if not name:
        raise ApiError(400, f"{field}: non zero value required")
    if not name.isascii() or not name.isprintable():
        raise ApiError(400, f"{field}: non-ascii characters are not allowed")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, f"{field}: at most {MAX_NAME_LENGTH} characters")
    return name


def plan(value: Any, *, default: str | None = DEFAULT_PLAN) -> str:
    """A plan name; an absent or empty value is `default` (None: required)."""
    if value is None or value == "":
        if default is None:
            raise ApiError(400, "plan: non zero value required")
        return default
    if value not in PLANS:
        raise ApiError(400, f"plan: must be one of {', '.join(PLANS)}")
    return str(value)


def status(value: Any, allowed: tuple[str, ...]) -> str:
    if value is None or value == "":
        raise ApiError(400, "status: non zero value required")
    if value not in allowed:
        raise ApiError(400, f"status: must be one of {', '.join(allowed)}")
    return str(value)


def required_text(document: Mapping[str, Any], field: str) -> str:
    value = document.get(field)
    if value is None or value == "" or (isinstance(value, str) and not value.strip()):
        raise ApiError(400, f"{field}: non zero value required")
    if not isinstance(value, str):
        raise ApiError(400, f"{field}: must be a string")
    return value


def _non_negative_int(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ApiError(400, f"{field}: must be a non-negative integer")
    return value


def _object(value: Any, field: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, f"{field}: must be an object")
    unknown = [key for key in value if key not in keys]
    if unknown:
        raise ApiError(400, f"{field}: unknown key {unknown[0]!r}")
    return value


def _api_type_limits(value: Any, field: str) -> dict[str, Any]:
    document = _object(value, field, ("bursts", "quota"))
    result: dict[str, Any] = {}
    bursts = document.get("bursts")
    if bursts is not None:
        if not isinstance(bursts, list) or len(bursts) > MAX_BURSTS:
            raise ApiError(400, f"{field}.bursts: must be a list of at most {MAX_BURSTS} bursts")
        result["bursts"] = []
        for index, burst in enumerate(bursts):
            where = f"{field}.bursts[{index}]"
            item = _object(burst, where, ("action", "uri", "min_interval_sec"))
            for text_field in ("action", "uri"):
                if not isinstance(item.get(text_field, ""), str):
                    raise ApiError(400, f"{where}.{text_field}: must be a string")
            result["bursts"].append(
                {
                    "action": item.get("action", ""),
                    "uri": item.get("uri", ""),
                    "min_interval_sec": _non_negative_int(item.get("min_interval_sec", 0), f"{where}.min_interval_sec"),
                }
            )
    quota = document.get("quota")
    if quota is not None:
        item = _object(quota, f"{field}.quota", ("max_calls", "interval_sec"))
        result["quota"] = {
            name: _non_negative_int(item.get(name, 0), f"{field}.quota.{name}") for name in ("max_calls", "interval_sec")
        }
    return result


def api_limits(value: Any) -> dict[str, Any]:
    """`TenantApiLimits`: `{management?, devices?}`, each `{bursts?: [ApiBurst], quota?: ApiQuota}`."""
    document = _object(value, "api_limits", API_TYPES)
    return {name: _api_type_limits(document[name], f"api_limits.{name}") for name in API_TYPES if name in document}


def default_api_limits() -> dict[str, Any]:
    """No limits (0 means 'no limit'); menderlite stores API limits but does not enforce them."""
    return {name: {"bursts": [], "quota": {"max_calls": 0, "interval_sec": 0}} for name in API_TYPES}


def optional_bool(document: Mapping[str, Any], field: str) -> bool | None:
    value = document.get(field)
    if value is not None and not isinstance(value, bool):
        raise ApiError(400, f"{field}: must be true or false")
    return value


def optional_time(document: Mapping[str, Any], field: str) -> datetime | None:
    value = document.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{field}: must be an RFC 3339 time")
    try:
        return parse_rfc3339(value)
    except (ValueError, OverflowError):  # overflow: year 1 east of UTC, year 9999 west of it
        raise ApiError(400, f"{field}: must be an RFC 3339 time") from None
