"""`${...}` expressions in task parameters, as workflows 1.2.0 expands them (no I/O here).

- `${workflow.input.NAME}`: a job input; an input the job does not have stays literally `${...}`;
- `${env.NAME}`: an environment variable of this process ("" when unset); variables named MENDERLITE_*
  (this server's own settings, which can hold secrets such as the SMTP password) are never expanded;
- `${TASK.json.PATH}`: a value in the JSON output (http response body, cli output) of an earlier task of
  the job, PATH being dot-separated keys and list indexes (`a.b.0.c` or `a.b.[0].c`); "" if there is none;
- anything else stays as it is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_EXPRESSION = re.compile(r"\$\{([^}]+)\}")
_PROTECTED_ENV_PREFIX = "MENDERLITE_"


@dataclass
class Scope:
    """What expressions can refer to: the job's inputs, earlier tasks' JSON outputs, the environment."""

    inputs: Mapping[str, str]
    outputs: dict[str, str] = field(default_factory=dict)  # task name -> raw output text
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def expand(self, text: str) -> str:
        return _EXPRESSION.sub(self._replacement, text) if "${" in text else text

    def _replacement(self, match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("workflow.input."):
            value = self.inputs.get(expression[len("workflow.input.") :])
            return match.group(0) if value is None else value
        if expression.startswith("env."):
            name = expression[len("env.") :]
            return "" if name.upper().startswith(_PROTECTED_ENV_PREFIX) else self.environ.get(name, "")
        task, separator, path = expression.partition(".json.")
        if separator and task:
            if task not in self.outputs:
                return ""
            return json_path_value(self.outputs[task], path)
        return match.group(0)


_MISSING = object()


def json_path_value(document: str, path: str) -> str:
    """The value at `path` in a JSON text as a string (strings as they are, the rest JSON-encoded); ""
    if the text is not JSON or has nothing there."""
    try:
        value: Any = json.loads(document)
    except (ValueError, RecursionError):
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
