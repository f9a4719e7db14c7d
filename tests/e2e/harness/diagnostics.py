"""Polling with timeouts, and the log tails shown when an end-to-end test fails.

Every process the harness starts (server, devices) registers itself as a log source while it is in use.
`wait_for` fails with the tails of the given sources (all registered ones by default), and the conftest
attaches the same tails to the report of any failing test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import pytest

T = TypeVar("T")

DEFAULT_TAIL_LINES = 60


class LogSource(Protocol):
    @property
    def log_title(self) -> str: ...

    def log_tail(self, lines: int = DEFAULT_TAIL_LINES) -> str: ...


_sources: list[LogSource] = []


def register(source: LogSource) -> None:
    if source not in _sources:
        _sources.append(source)


def unregister(source: LogSource) -> None:
    if source in _sources:
        _sources.remove(source)


def active_sources() -> list[LogSource]:
    return list(_sources)


def tail(text: str, lines: int = DEFAULT_TAIL_LINES) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


def describe(sources: Iterable[LogSource], lines: int = DEFAULT_TAIL_LINES) -> str:
    parts = []
    for source in sources:
        try:
            text = source.log_tail(lines)
        except OSError as exc:
            text = f"(log unreadable: {exc})"
        parts.append(f"----- {source.log_title} (last {lines} lines) -----\n{text or '(empty)'}")
    return "\n".join(parts)


def wait_for(
    predicate: Callable[[], T | None],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.2,
    sources: Iterable[LogSource] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail the test on timeout.

    The failure message names `what` and shows the tails of `sources` (default: every active process).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            shown = list(sources) if sources is not None else active_sources()
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{describe(shown)}", pytrace=False)
        time.sleep(interval)
