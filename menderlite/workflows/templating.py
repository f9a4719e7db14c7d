"""`${...}` expressions in task parameters, as workflows 1.2.0 expands them (no I/O here).

- `${workflow.input.NAME}`: a job input; an input the job does not have stays literally `${...}`;
- `${env.NAME}`: an environment variable of this process that `[workflows] env` lists ("" otherwise: the
  environment can hold secrets, and whoever reaches the internal networks can register definitions);
  variables named MENDERLITE_* (this server's own settings, e.g. the SMTP password) are never expanded;
- `${TASK.json.PATH}`: a value in the JSON output (http response body, cli output) of an earlier task of
  the job, PATH being dot-separated keys and list indexes (`a.b.0.c` or `a.b.[0].c`); "" if there is none;
- anything else stays as it is.

http bodies and form values then go through `render_actions`: Go `text/template` actions naming an input
(`{{.NAME}}`, `{{ .NAME }}`) are replaced by its value, as workflows does with the input map; a text with
any other action, or naming an input the job does not have, is left unchanged (Go's "template failed").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_PROTECTED_ENV_PREFIX = "MENDERLITE_"
_FIELD = re.compile(r"\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*")


def readable_environment(names: Iterable[str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables of `environ` that `names` lets definitions read."""
    return {name: environ[name] for name in names if name in environ}


@dataclass
class Scope:
    """What expressions can refer to: the job's inputs, earlier tasks' JSON outputs, the environment."""

    inputs: Mapping[str, str]
    outputs: dict[str, str] = field(default_factory=dict)  # task name -> raw output text
    environ: Mapping[str, str] = field(default_factory=dict)  # see readable_environment
    _parsed: dict[str, Any] = field(default_factory=dict, init=False, repr=False)  # task name -> parsed JSON

    def set_output(self, task: str, text: str) -> None:
        """Record a finished task's output (a later task of the same name replaces it)."""
        self.outputs[task] = text
        self._parsed.pop(task, None)

    def expand(self, text: str) -> str:
        if "${" not in text:
            return text
        parts, position = [], 0
        # str.find rather than a regular expression: linear even for a text full of unclosed "${".
        while (start := text.find("${", position)) != -1:
            end = text.find("}", start + 2)
            if end == -1:
                break
            if end == start + 2:  # "${}" is no expression
                parts.append(text[position:end + 1])
            else:
                parts += [text[position:start], self._value(text[start + 2 : end], text[start : end + 1])]
            position = end + 1
        return "".join(parts) + text[position:]

    def render_actions(self, text: str) -> str:
        if "{{" not in text:
            return text
        parts, position = [], 0
        # str.find rather than a regular expression: linear however many "{{" a body holds.
        while (start := text.find("{{", position)) != -1:
            end = text.find("}}", start + 2)
            if end == -1:
                break
            field = _FIELD.fullmatch(text, start + 2, end)
            if field is None or field.group(1) not in self.inputs:
                return text
            parts += [text[position:start], self.inputs[field.group(1)]]
            position = end + 2
        return "".join(parts) + text[position:]

    def _value(self, expression: str, literal: str) -> str:
        if expression.startswith("workflow.input."):
            value = self.inputs.get(expression[len("workflow.input.") :])
            return literal if value is None else value
        if expression.startswith("env."):
            name = expression[len("env.") :]
            return "" if name.upper().startswith(_PROTECTED_ENV_PREFIX) else self.environ.get(name, "")
        task, separator, path = expression.partition(".json.")
        if separator and task:
            return self._output_value(task, path)
        return literal

    def _output_value(self, task: str, path: str) -> str:
        if task not in self.outputs:
            return ""
        if task not in self._parsed:
            self._parsed[task] = _parse_or_missing(self.outputs[task])
        return path_value(self._parsed[task], path)


_MISSING = object()


def _parse_or_missing(document: str) -> Any:
    try:
        return json.loads(document)
    except (ValueError, RecursionError):
        return _MISSING


def json_path_value(document: str, path: str) -> str:
    """The value at `path` in a JSON text as a string (strings as they are, the rest JSON-encoded); ""
    if the text is not JSON or has nothing there."""
    return path_value(_parse_or_missing(document), path)


def path_value(value: Any, path: str) -> str:
    if value is _MISSING:
        return ""
    for key in path.split(".") if path else []:
        value = _step(value, key)
        if value is _MISSING:
            return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _step(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key, _MISSING)
    if isinstance(value, list):
        index = key[1:-1] if key.startswith("[") and key.endswith("]") else key
        if index.isdigit() and int(index) < len(value):
            return value[int(index)]
    return _MISSING
