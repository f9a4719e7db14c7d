"""The pure rules of a rollout: status derivation, phase sizing and admission, artifact choice, log text,
group restrictions of saved filters, and request validation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from menderlite.deployments.artifacts import ArtifactRecord
from menderlite.deployments.inputs import (
    parse_list_query,
    parse_log,
    parse_new_deployment,
    parse_next_body,
    parse_next_query,
    parse_status_report,
    uuid4_or_none,
)
from menderlite.deployments.rollout import (
    PhaseState,
    choose_artifact,
    depends_satisfied,
    derive_status,
    empty_stats,
    filter_within_groups,
    format_log,
    go_time_string,
    moved_stats,
    phase_sizes,
    phase_with_room,
    shown_status,
)
from menderlite.web.errors import ApiError

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def stats(**nonzero: int) -> dict[str, int]:
    document = empty_stats()
    document.update({key.replace("_", "-"): value for key, value in nonzero.items()})
    return document


# --- status --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counters", "max_devices", "expected"),
    [
        (stats(), 3, "pending"),
        (stats(pending=3), 3, "pending"),  # handed out, nobody started: still pending
        (stats(pending=2, noartifact=1), 3, "inprogress"),
        (stats(pending=2, already_installed=1), 3, "inprogress"),
        (stats(downloading=1), 3, "inprogress"),
        (stats(success=1, failure=1, aborted=1), 3, "finished"),
        (stats(success=1, decommissioned=1, noartifact=1), 3, "finished"),
        (stats(success=2, pending=1), 3, "inprogress"),
        (stats(), 0, "finished"),
    ],
)
def test_static_deployment_status(counters: dict[str, int], max_devices: int, expected: str) -> None:
    assert derive_status(counters, max_devices, dynamic=False) == expected


def test_dynamic_deployment_status() -> None:
    assert derive_status(stats(success=50), 0, dynamic=True) == "inprogress"  # no limit: runs until aborted
    assert derive_status(stats(), 0, dynamic=True) == "pending"
    assert derive_status(stats(success=2, installing=1), 3, dynamic=True) == "inprogress"
    assert derive_status(stats(success=2, failure=1), 3, dynamic=True) == "finished"


def test_counters_move_with_the_status() -> None:
    counters = moved_stats(empty_stats(), None, "pending")
    counters = moved_stats(counters, "pending", "downloading")
    assert counters == stats(downloading=1)
    assert moved_stats(counters, "downloading", "success") == stats(success=1)


def test_scheduled_is_shown_while_the_first_phase_is_ahead() -> None:
    assert shown_status("pending", NOW + timedelta(seconds=1), NOW) == "scheduled"
    assert shown_status("pending", NOW, NOW) == "pending"
    assert shown_status("pending", None, NOW) == "pending"
    assert shown_status("finished", NOW + timedelta(days=1), NOW) == "finished"


# --- phases --------------------------------------------------------------------------------------------


def test_phase_sizes_floor_and_remainder() -> None:
    assert phase_sizes([20, 30, None], 10) == [2, 3, None]
    assert phase_sizes([10, 20, 70], 11) == [1, 2, None]  # the last takes the remainder (8)
    assert phase_sizes([33, None], 100) == [33, None]
    assert phase_sizes([None], 0) == [None]  # one phase: a plain deployment
    assert phase_sizes([], 5) == []


@pytest.mark.parametrize(
    ("batches", "total", "empty_batch"),
    [([10, 20, 5], 11, 3), ([5, None], 11, 1), ([50, 50, None], 10, 3), ([100, None], 7, 2), ([50, None], 0, 1)],
)
def test_empty_phase_is_refused(batches: list[int | None], total: int, empty_batch: int) -> None:
    with pytest.raises(ApiError) as raised:
        phase_sizes(batches, total)
    assert raised.value.status == 400
    assert f"Batch: ({empty_batch}) will be empty" in raised.value.message
    assert "Attempt to create a batch with zero devices not allowed" in raised.value.message


def test_devices_join_the_first_open_phase_with_room() -> None:
    later = NOW + timedelta(hours=1)
    phases = [PhaseState(None, 2, 0), PhaseState(later, 3, 0), PhaseState(later + timedelta(hours=1), None, 0)]
    assert phase_with_room(phases, NOW) == 0
    full_first = [PhaseState(None, 2, 2), *phases[1:]]
    assert phase_with_room(full_first, NOW) is None  # the second phase has not started
    assert phase_with_room(full_first, later) == 1
    # a phase that did not fill up still takes devices after the next one opened
    assert phase_with_room([PhaseState(None, 2, 1), PhaseState(later, 3, 0)], later) == 0
    assert phase_with_room([PhaseState(None, 2, 2), PhaseState(later, 3, 3), PhaseState(later, None, 40)], later) == 2
    assert phase_with_room([PhaseState(later, None, 0)], NOW) is None  # scheduled


# --- artifact choice -----------------------------------------------------------------------------------


def artifact(name: str, device_types: list[str], size: int, depends: dict | None = None) -> ArtifactRecord:
    return ArtifactRecord(
        id=str(uuid.uuid4()), tenant_id="", name=name, description="", device_types_compatible=device_types,
        info_format="mender", info_version=3, signed=False, updates=[], provides={"artifact_name": name},
        depends={"device_type": device_types, **(depends or {})}, clears_provides=[], size=size, modified=NOW, created=NOW,
    )


def test_smallest_compatible_artifact() -> None:
    big = artifact("r", ["rpi", "qemu"], 5000)
    small = artifact("r", ["rpi"], 3000)
    assert choose_artifact([big, small], "rpi", {}, check_depends=False) is small
    assert choose_artifact([big, small], "qemu", {}, check_depends=False) is big
    assert choose_artifact([big, small], "beagle", {}, check_depends=False) is None


def test_depends_against_provides() -> None:
    needs_v1 = artifact("r", ["rpi"], 100, {"rootfs-image.version": "v1", "artifact_name": ["base-1", "base-2"]})
    plain = artifact("r", ["rpi"], 9000)
    provides = {"device_type": "rpi", "artifact_name": "base-2", "rootfs-image.version": "v1"}
    assert depends_satisfied(needs_v1.depends, provides)
    assert not depends_satisfied(needs_v1.depends, {**provides, "artifact_name": "base-3"})
    assert not depends_satisfied(needs_v1.depends, {"device_type": "rpi", "artifact_name": "base-1"})
    assert choose_artifact([needs_v1, plain], "rpi", provides, check_depends=True) is needs_v1
    assert choose_artifact([needs_v1, plain], "rpi", {"artifact_name": "other"}, check_depends=True) is plain
    # without depends matching (GET, or plans below enterprise) the smallest by device type wins
    assert choose_artifact([needs_v1, plain], "rpi", {"artifact_name": "other"}, check_depends=False) is needs_v1


# --- logs ----------------------------------------------------------------------------------------------


def test_go_time_strings() -> None:
    assert go_time_string("2016-03-11T13:03:17.063493443Z") == "2016-03-11 13:03:17.063493443 +0000 UTC"
    assert go_time_string("2016-03-11T13:03:17.500Z") == "2016-03-11 13:03:17.5 +0000 UTC"
    assert go_time_string("2016-03-11T13:03:17Z") == "2016-03-11 13:03:17 +0000 UTC"
    assert go_time_string("2016-03-11T15:03:17.1+02:00") == "2016-03-11 13:03:17.1 +0000 UTC"
    assert go_time_string("2016-03-11T00:30:00-01:00") == "2016-03-11 01:30:00 +0000 UTC"


def test_log_text_one_line_per_message() -> None:
    messages = [
        {"timestamp": "2016-03-11T13:03:17.063493443Z", "level": "INFO", "message": "OK"},
        {"timestamp": "2016-03-11T13:03:18.023765782Z", "level": "DEBUG", "message": "successfully updated."},
    ]
    assert format_log(messages) == (
        "2016-03-11 13:03:17.063493443 +0000 UTC INFO: OK\n"
        "2016-03-11 13:03:18.023765782 +0000 UTC DEBUG: successfully updated.\n"
    )


# --- group restrictions --------------------------------------------------------------------------------


def test_filter_within_groups() -> None:
    group = {"scope": "system", "attribute": "group", "type": "$eq", "value": "test"}
    other = {"scope": "inventory", "attribute": "device_type", "type": "$eq", "value": "rpi"}
    assert filter_within_groups([other, group], frozenset({"test"}))
    assert not filter_within_groups([other], frozenset({"test"}))
    assert not filter_within_groups([{**group, "value": "prod"}], frozenset({"test"}))
    assert filter_within_groups([{**group, "type": "$in", "value": ["test", "lab"]}], frozenset({"test", "lab"}))
    assert not filter_within_groups([{**group, "type": "$in", "value": ["test", "prod"]}], frozenset({"test"}))
    assert not filter_within_groups([{**group, "type": "$ne"}], frozenset({"test"}))


# --- request values ------------------------------------------------------------------------------------


def test_new_deployment_values() -> None:
    spec = parse_new_deployment({"name": "n", "artifact_name": "a", "devices": ["d1", "d2", "d1"], "retries": 3}, "devices")
    assert spec.devices == ("d1", "d2") and spec.retries == 3 and not spec.phased
    spec = parse_new_deployment({"name": "n", "artifact_name": "a", "devices": ["d"], "phases": [{}]}, "devices")
    assert not spec.phased
    spec = parse_new_deployment(
        {"name": "n", "artifact_name": "a", "devices": ["d"],
         "phases": [{"batch_size": 10}, {"start_ts": "2030-01-01T00:00:00+02:00"}]},
        "devices",
    )
    assert spec.phases[0].start_ts is None and spec.phases[1].start_ts == datetime(2029, 12, 31, 22, tzinfo=UTC)
    group = parse_new_deployment({"name": "n", "artifact_name": "a", "devices": "ignored"}, "group")
    assert group.devices == ()
    dynamic = parse_new_deployment({"name": "n", "artifact_name": "a", "filter_id": "f", "max_devices": 5}, "filter")
    assert dynamic.filter_id == "f" and dynamic.max_devices == 5
    with pytest.raises(ApiError, match="max_devices"):
        parse_new_deployment({"name": "n", "artifact_name": "a", "filter_id": "f", "max_devices": -1}, "filter")


def test_list_query_values() -> None:
    query = parse_list_query({"status": "aborted", "search": "x", "created_after": "0", "created_before": "60"})
    assert query.status == "finished" and query.search == "x"
    assert query.created_after == datetime(1970, 1, 1, tzinfo=UTC)
    assert query.created_before == datetime(1970, 1, 1, 0, 1, tzinfo=UTC)
    assert parse_list_query({}).status is None


def test_next_request_values() -> None:
    assert parse_next_query({"artifact_name": "a", "device_type": "t"}).with_depends is False
    request = parse_next_body({"artifact_name": "a", "device_type": "t", "rootfs-image.version": "1"})
    assert request.with_depends and request.provides["rootfs-image.version"] == "1"
    with pytest.raises(ApiError, match="device_type: must be at most 255 characters"):
        parse_next_query({"artifact_name": "a", "device_type": "t" * 256})


def test_status_and_log_values() -> None:
    assert parse_status_report({"status": "installing", "substate": "x"}) == ("installing", "x")
    assert parse_status_report({"status": "already-installed"}) == ("already-installed", None)
    for status in ("pending", "aborted", "noartifact", "decommissioned", "pause_before_installing"):
        with pytest.raises(ApiError, match="unknown status value"):
            parse_status_report({"status": status})
    assert parse_log({"messages": [{"timestamp": " 2026-01-01T00:00:00Z ", "level": "", "message": ""}]}) == [
        {"timestamp": "2026-01-01T00:00:00Z", "level": "", "message": ""}
    ]


def test_uuid4_ids() -> None:
    value = uuid.uuid4()
    assert uuid4_or_none(str(value).upper()) == str(value)
    assert uuid4_or_none(str(uuid.uuid1())) is None
    assert uuid4_or_none("00000000-0000-0000-0000-000000000000") is None
    assert uuid4_or_none("x") is None
