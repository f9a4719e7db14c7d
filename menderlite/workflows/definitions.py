"""Workflow definitions: the JSON document checked field by field into typed values (no I/O here).

The format is workflows 1.2.0's (`{"name", "description", "version", "inputParameters", "tasks": [...]}`
with `http`, `cli` and `smtp` tasks). Every field a task runner reads is type-checked at registration, so a
stored definition always parses and a bad one is a 400, never a failure later in the runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TASK_TYPES = ("http", "cli", "smtp")
MAX_RETRIES = 255  # retries is a uint8 in workflows


class DefinitionError(ValueError):
    """A definition that cannot be registered; the message says which field is wrong."""


@dataclass(frozen=True)
class HttpTask:
    uri: str
    method: str = "GET"
    content_type: str = ""
    body: str = ""
    form_data: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    status_codes: tuple[int, ...] = ()
    connection_timeout_ms: int = 0
    read_timeout_ms: int = 0

    @property
    def reads_file(self) -> bool:
        """A body starting with `@` is the content of a file of this server."""
        return self.body.startswith("@")


@dataclass(frozen=True)
class CliTask:
    command: tuple[str, ...]
    execution_timeout_s: int = 0


@dataclass(frozen=True)
class SmtpTask:
    sender: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    html: str = ""


@dataclass(frozen=True)
class Task:
    name: str
    type: str
    retries: int = 0
    http: HttpTask | None = None
    cli: CliTask | None = None
    smtp: SmtpTask | None = None

    @property
    def needs_local_access(self) -> bool:
        """Runs a command or reads a file of this server: allowed only with `[workflows] allow_cli`."""
        return self.cli is not None or (self.http is not None and self.http.reads_file)


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    description: str
    input_parameters: tuple[str, ...]
    tasks: tuple[Task, ...]


def parse_definition(document: Any) -> Workflow:
    """The workflow a definition document describes; raises DefinitionError (`Workflow missing name` first)."""
    if not isinstance(document, Mapping):
        raise DefinitionError("expected a JSON object")
    name = document.get("name")
    if name is None or name == "":
        raise DefinitionError("Workflow missing name")
    fields = _Fields(document, "workflow")
    tasks = fields.list_of("tasks", Mapping)
    return Workflow(
        name=fields.string("name", required=True),
        version=fields.integer("version"),
        description=fields.string("description"),
        input_parameters=tuple(fields.list_of("inputParameters", str)),
        tasks=tuple(_parse_task(task, index) for index, task in enumerate(tasks)),
    )


def _parse_task(document: Mapping[str, Any], index: int) -> Task:
    label = f'task {document.get("name")!r}' if isinstance(document.get("name"), str) else f"task #{index + 1}"
    fields = _Fields(document, label)
    name = fields.string("name", required=True)
    kind = fields.string("type", required=True)
    if kind not in TASK_TYPES:
        raise DefinitionError(f"{label}: type must be one of {', '.join(TASK_TYPES)}, got {kind!r}")
    retries = fields.integer("retries")
    if retries > MAX_RETRIES:
        raise DefinitionError(f"{label}: retries must be at most {MAX_RETRIES}")
    parameters = fields.object(kind, required=True)
    parsers = {"http": _parse_http, "cli": _parse_cli, "smtp": _parse_smtp}
    task_parameters = parsers[kind](_Fields(parameters, f"{label}: {kind}"))
    return Task(name=name, type=kind, retries=retries, **{kind: task_parameters})


def _parse_http(fields: _Fields) -> HttpTask:
    return HttpTask(
        uri=fields.string("uri", required=True),
        method=fields.string("method").upper() or "GET",
        content_type=fields.string("contentType"),
        body=fields.string("body"),
        form_data=fields.string_map("formdata"),
        headers=fields.string_map("headers"),
        status_codes=tuple(fields.list_of("statusCodes", int)),
        connection_timeout_ms=fields.integer("connectionTimeOut"),
        read_timeout_ms=fields.integer("readTimeOut"),
    )


def _parse_cli(fields: _Fields) -> CliTask:
    command = fields.list_of("command", str)
    if not command:
        raise DefinitionError(f"{fields.label}.command: must name a program")
    return CliTask(command=tuple(command), execution_timeout_s=fields.integer("executionTimeOut"))


def _parse_smtp(fields: _Fields) -> SmtpTask:
    return SmtpTask(
        sender=fields.string("from"),
        to=tuple(fields.list_of("to", str)),
        cc=tuple(fields.list_of("cc", str)),
        bcc=tuple(fields.list_of("bcc", str)),
        subject=fields.string("subject"),
        body=fields.string("body"),
        html=fields.string("html"),
    )


class _Fields:
    """Typed access to the keys of one JSON object; absent keys (or null) take the zero value, as in Go."""

    def __init__(self, document: Mapping[str, Any], label: str) -> None:
        self.document = document
        self.label = label

    def _error(self, key: str, expected: str) -> DefinitionError:
        return DefinitionError(f"{self.label}.{key}: expected {expected}")

    def string(self, key: str, *, required: bool = False) -> str:
        value = self.document.get(key)
        if value is None or value == "":
            if required:
                raise DefinitionError(f"{self.label}.{key}: required")
            return ""
        if not isinstance(value, str):
            raise self._error(key, "a string")
        return value

    def integer(self, key: str) -> int:
        value = self.document.get(key)
        if value is None:
            return 0
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31 - 1:
            raise self._error(key, "a non-negative integer")
        return value

    def object(self, key: str, *, required: bool = False) -> Mapping[str, Any]:
        value = self.document.get(key)
        if value is None:
            if required:
                raise DefinitionError(f"{self.label}: the {key!r} parameters are required")
            return {}
        if not isinstance(value, Mapping):
            raise self._error(key, "an object")
        return value

    def string_map(self, key: str) -> dict[str, str]:
        value = self.object(key)
        if not all(isinstance(item, str) for item in value.values()):
            raise self._error(key, "an object of strings")
        return dict(value)

    def list_of(self, key: str, item_type: type) -> list[Any]:
        value = self.document.get(key)
        if value is None:
            return []
        ok = isinstance(value, list) and all(
            isinstance(item, item_type) and not (item_type is int and isinstance(item, bool)) for item in value
        )
        if not ok:
            names = {str: "strings", int: "integers"}
            raise self._error(key, f"a list of {names.get(item_type, 'objects')}")
        return value
