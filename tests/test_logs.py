"""The log set-up of the commands (menderlite.logs): same lines as logging's formatter, batched writes."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest

from menderlite import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Logging as `menderlite serve` sets it up, writing to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()
    logs.configure("INFO", buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def without_pytest_capture() -> None:
    """pytest adds its capturing handlers to the root logger for each test phase: take them off."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, logs.BatchingStreamHandler):
            root.removeHandler(handler)


def test_a_finished_line_reads_like_a_formatted_record(stream: io.StringIO) -> None:
    without_pytest_capture()
    logger = logging.getLogger("aiohttp.access")
    direct = logs.direct_handler(logger)
    assert direct is not None
    _, formatter = direct
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5004):
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "GET /x 204 0.1ms id", None, None)
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert formatter.line(created, "INFO", logger.name, "GET /x 204 0.1ms id") == formatter.format(record)


def test_lines_go_through_logging_when_another_handler_listens(stream: io.StringIO) -> None:
    without_pytest_capture()
    logger = logging.getLogger("aiohttp.access")
    extra = logging.StreamHandler(io.StringIO())
    logger.addHandler(extra)
    try:
        assert logs.direct_handler(logger) is None
    finally:
        logger.removeHandler(extra)
    logger.addFilter(lambda record: True)
    try:
        assert logs.direct_handler(logger) is None
    finally:
        logger.filters.clear()
    assert logs.direct_handler(logger) is not None


def test_lines_of_one_loop_turn_are_written_together_at_its_end(stream: io.StringIO) -> None:
    without_pytest_capture()
    log = logging.getLogger("menderlite.test")

    async def main() -> tuple[str, str]:
        log.info("one")
        log.info("two")
        during = stream.getvalue()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return during, stream.getvalue()

    during, after = asyncio.run(main())
    assert during == ""
    assert [line.split(": ", 1)[1] for line in after.splitlines()] == ["one", "two"]


def test_outside_an_event_loop_lines_are_written_at_once(stream: io.StringIO) -> None:
    without_pytest_capture()
    logging.getLogger("menderlite.test").warning("now")
    assert stream.getvalue().endswith("WARNING menderlite.test: now\n")
