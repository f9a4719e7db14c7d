"""Request values of the deployment endpoints, validated into plain dataclasses with the real service's
messages. Routes decode JSON and query strings and hand the result here; no aiohttp, no database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from menderlite.deployments.rollout import REPORTABLE_STATUSES, parse_log_timestamp
from menderlite.timeutil import parse_rfc3339
from menderlite.web.errors import ApiError

MAX_NAME = 4096
MAX_DEVICE_ID = 255
MAX_DEVICE_TYPE = 255
MAX_SUBSTATE = 200
MAX_RETRIES = 100
MAX_DEVICES = 2**31 - 1  # a 32-bit integer column
MSG_BAD_ID = "ID is not UUIDv4"
MSG_UNKNOWN_STATUS = "unknown status value"

Target = Literal["devices", "group", "filter"]


def uuid4_or_none(text: str) -> str | None:
    """The canonical (lowercase) form of a version-4 UUID, or None."""
    try:
        value = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
    return str(value) if value.version == 4 else None


def require_uuid4(text: str) -> str:
    value = uuid4_or_none(text)
    if value is None:
        raise ApiError(400, MSG_BAD_ID)
    return value


# --- creating a deployment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPhase:
    batch_size: int | None = None
    start_ts: datetime | None = None


@dataclass(frozen=True)
class NewDeployment:
    name: str
    artifact_name: str
    devices: tuple[str, ...] = ()  # static deployments (deduplicated, in request order)
    filter_id: str | None = None  # dynamic deployments (v2)
    phases: tuple[NewPhase, ...] = ()  # empty: one phase, open now
    retries: int = 0
    max_devices: int = 0  # dynamic only; 0: no limit

    @property
    def phased(self) -> bool:
        return bool(self.phases)


class _Errors:
    """Collects field errors into `Validating request body: a: ...;b: ...;` (govalidator's shape)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append(f"{field_name}: {message};")

    def raise_any(self) -> None:
        if self.items:
            raise ApiError(400, "Validating request body: " + "".join(self.items))


def _name_field(body: Mapping[str, Any], key: str, errors: _Errors) -> str:
    value = body.get(key)
    if value is None or value == "":
        errors.add(key, "non zero value required")
        return ""
    if not isinstance(value, str):
        errors.add(key, "must be a string")
        return ""
    if len(value) > MAX_NAME:
        errors.add(key, f"the length must be between 1 and {MAX_NAME}")
    return value


def _int_field(body: Mapping[str, Any], key: str, errors: _Errors, maximum: int | None = None) -> int:
    value = body.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (maximum is not None and value > maximum):
        bound = f" between 0 and {maximum}" if maximum is not None else " that is not negative"
        errors.add(key, f"must be an integer{bound}")
        return 0
    return value


def _devices_field(body: Mapping[str, Any], errors: _Errors) -> tuple[str, ...]:
    value = body.get("devices")
    if value is None or value == []:
        errors.add("devices", "non zero value required")
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        errors.add("devices", "must be a list of non-empty device IDs")
        return ()
    if any(len(item) > MAX_DEVICE_ID for item in value):
        errors.add("devices", f"device IDs must be at most {MAX_DEVICE_ID} characters")
        return ()
    return tuple(dict.fromkeys(value))


def _phases_field(body: Mapping[str, Any], errors: _Errors) -> tuple[NewPhase, ...]:
    value = body.get("phases")
    if value is None or value == []:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.add("phases", "must be a list of objects")
        return ()
    if value == [{}]:
        return ()  # the same as a plain deployment
    phases: list[NewPhase] = []
    for number, item in enumerate(value, start=1):
        last = number == len(value)
        batch_size = item.get("batch_size")
        if batch_size is None:
            if not last:
                errors.add("phases", f"batch_size is required in phase {number} (only the last phase may omit it)")
                return ()
        elif not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 100:
            errors.add("phases", f"batch_size of phase {number} must be an integer between 1 and 100")
            return ()
        start_ts = item.get("start_ts")
        start: datetime | None = None
        if start_ts is None:
            if number > 1:
                errors.add("phases", f"start_ts is required in phase {number} (only the first phase may omit it)")
                return ()
        else:
            try:
                start = parse_rfc3339(start_ts) if isinstance(start_ts, str) else None
            except (ValueError, OverflowError):  # overflow: a date beyond year 1..9999 once in UTC
                start = None
            if start is None:
                errors.add("phases", f"start_ts of phase {number} must be an RFC 3339 date-time")
                return ()
            if phases and phases[-1].start_ts is not None and start < phases[-1].start_ts:
                errors.add("phases", f"start_ts of phase {number} is before the start of phase {number - 1}")
                return ()
        phases.append(NewPhase(batch_size=batch_size, start_ts=start))
    if sum(phase.batch_size or 0 for phase in phases) > 100:
        errors.add("phases", "the batch sizes add up to more than 100 percent")
        return ()
    return tuple(phases)


def parse_new_deployment(body: Mapping[str, Any], target: Target) -> NewDeployment:
    """The body of `POST /deployments` (devices), `/deployments/group/{name}` (group) or v2 (filter)."""
    errors = _Errors()
    name = _name_field(body, "name", errors)
    artifact_name = _name_field(body, "artifact_name", errors)
    devices = _devices_field(body, errors) if target == "devices" else ()
    filter_id: str | None = None
    if target == "filter":
        raw_filter = body.get("filter_id")
        if raw_filter is None or raw_filter == "":
            errors.add("filter_id", "non zero value required")
        elif not isinstance(raw_filter, str):
            errors.add("filter_id", "must be a string")
        else:
            filter_id = raw_filter
    phases = _phases_field(body, errors)
    retries = _int_field(body, "retries", errors, MAX_RETRIES)
    max_devices = _int_field(body, "max_devices", errors, MAX_DEVICES) if target == "filter" else 0
    errors.raise_any()
    return NewDeployment(
        name=name,
        artifact_name=artifact_name,
        devices=devices,
        filter_id=filter_id,
        phases=phases,
        retries=retries,
        max_devices=max_devices,
    )


# --- listing -------------------------------------------------------------------------------------------

_LIST_STATUSES = {"pending": "pending", "inprogress": "inprogress", "finished": "finished", "scheduled": "scheduled", "aborted": "finished"}


@dataclass(frozen=True)
class ListQuery:
    status: str | None = None  # pending, inprogress, finished, scheduled
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _timestamp_param(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ApiError(400, f"timestamp parsing failed for {name} parameter: invalid timestamp: {raw}") from None


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    status = query.get("status") or None
    if status is not None:
        if status not in _LIST_STATUSES:
            raise ApiError(400, f"unknown status {status}")
        status = _LIST_STATUSES[status]
    return ListQuery(
        status=status,
        search=query.get("search") or None,
        created_after=_timestamp_param(query, "created_after"),
        created_before=_timestamp_param(query, "created_before"),
    )


# --- the device's side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextRequest:
    """What a device told about itself when asking for its next update."""

    device_type: str
    artifact_name: str
    provides: Mapping[str, str] = field(default_factory=dict)  # POST only: every key the device sent
    with_depends: bool = False  # POST: match the artifacts' depends against `provides`


def _required_text(values: Mapping[str, Any], errors: _Errors) -> tuple[str, str]:
    artifact_name, device_type = values.get("artifact_name"), values.get("device_type")
    if artifact_name and device_type and len(device_type) <= MAX_DEVICE_TYPE:  # every check-in
        return str(artifact_name), str(device_type)
    for key, value in (("artifact_name", artifact_name), ("device_type", device_type)):
        if not value:
            errors.items.append(f"{key}: non zero value required;")
        elif key == "device_type" and len(value) > MAX_DEVICE_TYPE:
            errors.items.append(f"device_type: must be at most {MAX_DEVICE_TYPE} characters;")
    if errors.items:
        raise ApiError(400, "".join(errors.items).rstrip(";"))
    return str(artifact_name), str(device_type)


def parse_next_query(query: Mapping[str, str]) -> NextRequest:
    """`GET /device/deployments/next?artifact_name=&device_type=` (both required)."""
    artifact_name, device_type = _required_text(query, _Errors())
    return NextRequest(device_type=device_type, artifact_name=artifact_name)


def parse_next_body(body: Any) -> NextRequest:
    """`POST /device/deployments/next`: the device's provides, `device_type` and `artifact_name` required."""
    if not isinstance(body, dict):
        raise ApiError(400, "failed to decode request body: expected a JSON object")
    if not all(isinstance(value, str) for value in body.values()):
        bad = sorted(key for key, value in body.items() if not isinstance(value, str))
        raise ApiError(400, f"failed to decode request body: values must be strings: {', '.join(bad)}")
    artifact_name, device_type = _required_text(body, _Errors())
    # `body` is the caller's freshly parsed document: kept as it is, not copied.
    return NextRequest(device_type=device_type, artifact_name=artifact_name, provides=body, with_depends=True)


def parse_status_report(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """(status, substate) of `PUT /device/deployments/{id}/status`."""
    status = body.get("status")
    if not isinstance(status, str) or status not in REPORTABLE_STATUSES:
        raise ApiError(400, MSG_UNKNOWN_STATUS)
    substate = body.get("substate")
    if substate is not None:
        if not isinstance(substate, str):
            raise ApiError(400, "substate: must be a string")
        if len(substate) > MAX_SUBSTATE:
            raise ApiError(400, f"substate: must be at most {MAX_SUBSTATE} characters")
    return status, substate


def parse_log(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """The messages of `PUT /device/deployments/{id}/log`, each {timestamp, level, message}."""
    messages = body.get("messages")
    if messages is None or messages == []:
        raise ApiError(400, "invalid deployment log: no messages")
    if not isinstance(messages, list):
        raise ApiError(400, "invalid deployment log: messages: must be a list")
    parsed = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise ApiError(400, f"invalid deployment log: message {number}: must be an object")
        for key in ("timestamp", "level", "message"):
            if not isinstance(message.get(key), str):
                raise ApiError(400, f"invalid deployment log: message {number}: {key}: non zero value required")
        try:
            parse_log_timestamp(message["timestamp"])
        except ValueError:
            raise ApiError(400, f"invalid deployment log: message {number}: timestamp: must be an RFC 3339 date-time") from None
        parsed.append({"timestamp": message["timestamp"].strip(), "level": message["level"], "message": message["message"]})
    return parsed
