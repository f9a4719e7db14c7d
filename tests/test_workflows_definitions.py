"""Workflow definition documents checked into typed tasks."""

from __future__ import annotations

from typing import Any

import pytest

from menderlite.workflows.definitions import (
    CliTask,
    DefinitionError,
    HttpTask,
    SmtpTask,
    parse_definition,
)

# The 2020 built-in `decommission_device` (workflows 1.2.0, worker/decommission_device.json), abridged.
DECOMMISSION: dict[str, Any] = {
    "name": "decommission_device",
    "description": "Removes device info from all services.",
    "version": 4,
    "tasks": [
        {
            "name": "delete_device_inventory",
            "type": "http",
            "retries": 3,
            "http": {
                "uri": "http://mender-inventory:8080/api/0.1.0/devices/${workflow.input.device_id}",
                "method": "DELETE",
                "headers": {"X-MEN-RequestID": "${workflow.input.request_id}", "Authorization": "${workflow.input.authorization}"},
                "connectionTimeOut": 8000,
                "readTimeOut": 8000,
            },
        }
    ],
    "inputParameters": ["device_id", "request_id", "authorization"],
}


def test_a_real_definition_parses() -> None:
    workflow = parse_definition(DECOMMISSION)
    assert (workflow.name, workflow.version, workflow.input_parameters) == ("decommission_device", 4, ("device_id", "request_id", "authorization"))
    [task] = workflow.tasks
    assert (task.name, task.type, task.retries) == ("delete_device_inventory", "http", 3)
    assert task.http == HttpTask(
        uri="http://mender-inventory:8080/api/0.1.0/devices/${workflow.input.device_id}",
        method="DELETE",
        headers={"X-MEN-RequestID": "${workflow.input.request_id}", "Authorization": "${workflow.input.authorization}"},
        connection_timeout_ms=8000,
        read_timeout_ms=8000,
    )
    assert not task.needs_local_access


def test_defaults_are_go_zero_values() -> None:
    workflow = parse_definition({"name": "w", "tasks": [{"name": "t", "type": "http", "http": {"uri": "http://x", "method": "post"}}]})
    assert workflow.version == 0 and workflow.description == "" and workflow.input_parameters == ()
    assert workflow.tasks[0].retries == 0
    assert workflow.tasks[0].http == HttpTask(uri="http://x", method="POST")
    assert parse_definition({"name": "w"}).tasks == ()


def test_cli_and_smtp_tasks() -> None:
    workflow = parse_definition(
        {
            "name": "w",
            "tasks": [
                {"name": "c", "type": "cli", "cli": {"command": ["create-artifact", "--x"], "executionTimeOut": 30}},
                {"name": "m", "type": "smtp", "smtp": {"from": "a@b", "to": ["c@d"], "subject": "s", "body": "b"}},
                {"name": "f", "type": "http", "http": {"uri": "http://x", "body": "@/tmp/body"}},
            ],
        }
    )
    cli, mail, file_body = workflow.tasks
    assert cli.cli == CliTask(command=("create-artifact", "--x"), execution_timeout_s=30) and cli.needs_local_access
    assert mail.smtp == SmtpTask(sender="a@b", to=("c@d",), subject="s", body="b") and not mail.needs_local_access
    assert file_body.needs_local_access


@pytest.mark.parametrize(
    "document, message",
    [
        ({}, "Workflow missing name"),
        ({"name": ""}, "Workflow missing name"),
        ({"name": ["w"]}, "workflow.name: expected a string"),
        ("w", "expected a JSON object"),
        ({"name": "w", "version": True}, "workflow.version: expected a non-negative integer"),
        ({"name": "w", "version": 2**40}, "workflow.version: expected a non-negative integer"),
        ({"name": "w", "tasks": [{"name": "c", "type": "cli", "cli": {"command": []}}]}, "task 'c': cli.command: must name a program"),
        ({"name": "w", "tasks": [{"name": "c", "type": "cli", "cli": {"command": "ls -l"}}]}, "task 'c': cli.command: expected a list of strings"),
        ({"name": "w", "tasks": [{"name": "c", "type": "cli", "cli": []}]}, "task 'c'.cli: expected an object"),
        ({"name": "w", "tasks": [{"name": "h", "type": "http", "http": {"uri": "u", "readTimeOut": -1}}]}, "task 'h': http.readTimeOut: expected a non-negative integer"),
        ({"name": "w", "tasks": [{"name": 1, "type": "http"}]}, "task #1.name: expected a string"),
    ],
)
def test_bad_definitions(document: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        parse_definition(document)
    assert str(error.value) == message
