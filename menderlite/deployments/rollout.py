"""The rules of a rollout, as pure functions: statuses and statistics, phase sizing and phase admission,
artifact choice for a device, and the text form of deployment logs. No database, no aiohttp."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from menderlite.deployments.artifacts import ArtifactRecord
from menderlite.web.errors import ApiError

# --- statuses ------------------------------------------------------------------------------------------

PENDING = "pending"
DOWNLOADING = "downloading"
INSTALLING = "installing"
REBOOTING = "rebooting"
SUCCESS = "success"
FAILURE = "failure"
NOARTIFACT = "noartifact"
ALREADY_INSTALLED = "already-installed"
ABORTED = "aborted"
DECOMMISSIONED = "decommissioned"

# Device-deployment statuses in the order the statistics document lists them.
STATS_KEYS = (
    PENDING, DOWNLOADING, INSTALLING, REBOOTING, SUCCESS, FAILURE, NOARTIFACT, ALREADY_INSTALLED, ABORTED, DECOMMISSIONED,
)
ACTIVE_STATUSES = frozenset({PENDING, DOWNLOADING, INSTALLING, REBOOTING})
FINAL_STATUSES = frozenset({SUCCESS, FAILURE, NOARTIFACT, ALREADY_INSTALLED, ABORTED, DECOMMISSIONED})
# What a device may report (PUT .../status); anything else is 400 `unknown status value`.
REPORTABLE_STATUSES = frozenset({DOWNLOADING, INSTALLING, REBOOTING, SUCCESS, FAILURE, ALREADY_INSTALLED})

# Deployment statuses (`scheduled` is shown, never stored: a pending deployment whose first phase is ahead).
DEPLOYMENT_PENDING = "pending"
DEPLOYMENT_INPROGRESS = "inprogress"
DEPLOYMENT_FINISHED = "finished"
DEPLOYMENT_SCHEDULED = "scheduled"


def empty_stats() -> dict[str, int]:
    return dict.fromkeys(STATS_KEYS, 0)


def moved_stats(stats: Mapping[str, int], old: str | None, new: str) -> dict[str, int]:
    """The counters after one device deployment went from `old` (None: a new record) to `new`."""
    moved = {key: int(stats.get(key, 0)) for key in STATS_KEYS}
    if old is not None:
        moved[old] -= 1
    moved[new] += 1
    return moved


def derive_status(stats: Mapping[str, int], max_devices: int, dynamic: bool) -> str:
    """The deployment status its counters imply (SEMANTICS §4 "Deployment status and statistics").

    A static deployment finishes once as many devices as it targets reached a final status. A dynamic one
    runs until aborted, or, with `max_devices`, once that many devices finished and none is still active
    (it never hands out more than `max_devices` device deployments).
    """
    finished = sum(stats.get(key, 0) for key in FINAL_STATUSES)
    active = sum(stats.get(key, 0) for key in ACTIVE_STATUSES)
    if dynamic:
        if max_devices > 0 and finished >= max_devices and active == 0:
            return DEPLOYMENT_FINISHED
    elif max_devices <= 0 or finished >= max_devices:
        return DEPLOYMENT_FINISHED
    if any(count > 0 for key, count in stats.items() if key != PENDING):
        return DEPLOYMENT_INPROGRESS
    return DEPLOYMENT_PENDING


def shown_status(status: str, starts_at: datetime | None, now: datetime) -> str:
    """The status the API shows: `scheduled` while an unfinished deployment's first phase is ahead."""
    if status != DEPLOYMENT_FINISHED and starts_at is not None and starts_at > now:
        return DEPLOYMENT_SCHEDULED
    return status


# --- phases --------------------------------------------------------------------------------------------

ZERO_BATCH = "Attempt to create a batch with zero devices not allowed"


def phase_sizes(batch_sizes: Sequence[int | None], total: int) -> list[int | None]:
    """Devices per phase: floor(batch_size% of `total`), the last phase takes the rest (None: no limit).

    A phase that comes out empty is refused with the enterprise server's message and its 1-based number.
    A single phase without a batch size is a plain deployment and is never empty.
    """
    if len(batch_sizes) <= 1 and (not batch_sizes or batch_sizes[0] is None):
        return [None] * len(batch_sizes)
    sizes: list[int | None] = []
    assigned = 0
    for number, batch_size in enumerate(batch_sizes, start=1):
        size = batch_size * total // 100 if batch_size is not None else None
        if size == 0:
            raise ApiError(400, f"Batch: ({number}) will be empty: {ZERO_BATCH}")
        if number == len(batch_sizes):
            if total - assigned <= 0:
                raise ApiError(400, f"Batch: ({number}) will be empty: {ZERO_BATCH}")
            sizes.append(None)
        else:
            assert size is not None  # batch_size is required for every phase but the last
            sizes.append(size)
            assigned += size
    return sizes


@dataclass(frozen=True)
class PhaseState:
    start_ts: datetime | None  # None: open since the deployment's creation
    size: int | None  # None: no limit
    device_count: int


def new_phases(ids: Sequence[str], batch_sizes: Sequence[int | None], starts: Sequence[datetime | None], sizes: Sequence[int | None]) -> list[dict[str, Any]]:
    """The stored form of a deployment's phases (a JSON list on the deployment row)."""
    return [
        {
            "id": phase_id,
            "batch_size": batch_size,
            "start_ts": start.isoformat() if start is not None else None,
            "size": size,
            "device_count": 0,
        }
        for phase_id, batch_size, start, size in zip(ids, batch_sizes, starts, sizes)
    ]


def phase_states(phases: Sequence[Mapping[str, Any]]) -> list[PhaseState]:
    return [
        PhaseState(
            start_ts=datetime.fromisoformat(phase["start_ts"]) if phase.get("start_ts") else None,
            size=phase.get("size"),
            device_count=int(phase.get("device_count", 0)),
        )
        for phase in phases
    ]


def with_device_joined(phases: Sequence[Mapping[str, Any]], index: int) -> list[dict[str, Any]]:
    """The phases after one device joined phase `index` (a new list: JSON columns change by assignment)."""
    return [
        {**phase, "device_count": int(phase.get("device_count", 0)) + (1 if number == index else 0)}
        for number, phase in enumerate(phases)
    ]


def phase_with_room(phases: Sequence[PhaseState], now: datetime) -> int | None:
    """The index of the first open phase (start_ts reached) that still has room, else None.

    Phases start in order, so the first one that has not started ends the search. Devices go to the
    earliest open phase with room, so slots a phase left unused are still handed out later.
    """
    for index, phase in enumerate(phases):
        if phase.start_ts is not None and phase.start_ts > now:
            return None
        if phase.size is None or phase.device_count < phase.size:
            return index
    return None


# --- artifact choice -----------------------------------------------------------------------------------


def depends_satisfied(depends: Mapping[str, Any], provides: Mapping[str, str]) -> bool:
    """Every depends key but `device_type` is provided by the device with an accepted value."""
    for key, wanted in depends.items():
        if key == "device_type" or wanted in (None, []):
            continue
        have = provides.get(key)
        if have is None:
            return False
        if isinstance(wanted, list):
            if have not in wanted:
                return False
        elif have != wanted:
            return False
    return True


def choose_artifact(
    artifacts: Sequence[ArtifactRecord], device_type: str, provides: Mapping[str, str], check_depends: bool
) -> ArtifactRecord | None:
    """The smallest artifact compatible with the device type (and, when asked, whose depends all hold)."""
    compatible = [
        artifact
        for artifact in artifacts
        if device_type in artifact.device_types_compatible
        and (not check_depends or depends_satisfied(artifact.depends, provides))
    ]
    return min(compatible, key=lambda artifact: (artifact.size, artifact.created, artifact.id), default=None)


# --- deployment logs -----------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_log_timestamp(text: str) -> tuple[datetime, str]:
    """(UTC time to the second, fraction digits) of an RFC 3339 timestamp, nanoseconds kept; ValueError."""
    match = _RFC3339.match(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    date, clock, fraction, zulu, sign, hours, minutes = match.groups()
    moment = datetime.fromisoformat(f"{date}T{clock}").replace(tzinfo=UTC)
    if not zulu:
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        try:
            moment = moment - offset if sign == "+" else moment + offset
        except OverflowError:
            raise ValueError(f"not a representable time: {text!r}") from None
    return moment, fraction or ""


def go_time_string(text: str) -> str:
    """A timestamp as Go's `time.Time.String()` prints it in UTC: `2016-03-11 13:03:17.063493443 +0000 UTC`."""
    moment, fraction = parse_log_timestamp(text)
    fraction = fraction.rstrip("0")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "") + " +0000 UTC"


def format_log(messages: Sequence[Mapping[str, str]]) -> str:
    """The management API's text form of a deployment log: one `<time> <level>: <message>` line each."""
    return "".join(
        f"{go_time_string(message['timestamp'])} {message['level']}: {message['message']}\n" for message in messages
    )


# --- group restrictions --------------------------------------------------------------------------------


def filter_within_groups(terms: Sequence[Mapping[str, Any]], groups: frozenset[str] | set[str]) -> bool:
    """Whether a saved filter's terms confine the devices to `groups` (a `group` $eq/$in term on them)."""
    for term in terms:
        if term.get("scope") != "system" or term.get("attribute") != "group":
            continue
        value = term.get("value")
        if term.get("type") == "$eq" and isinstance(value, str) and value in groups:
            return True
        if term.get("type") == "$in" and isinstance(value, list) and value and all(item in groups for item in value):
            return True
    return False
