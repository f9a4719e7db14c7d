"""Where the log goes (stderr, one format) and what keeps a line per request cheap.

The access log writes one line per request. Through `logging` as `basicConfig` sets it up, a line costs more
than the rest of a device check-in: the time is formatted with `strftime` for every record, and stderr is
line-buffered, so every line is a `write` system call of its own. Here:

- `LineFormatter` formats the date and time once per second (the output is the same);
- `BatchingStreamHandler` keeps the lines emitted during one turn of the event loop and writes them with a
  single system call at the end of that turn; outside an event loop (or from another thread) it writes at
  once. Lines are never held longer than the turn that produced them; `flush()` and logging's shutdown
  write out what is pending;
- LogRecords skip the thread, process and multiprocessing look-ups that the format does not use.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LineFormatter(logging.Formatter):
    """`FORMAT` with logging's default time format, the date and time part computed once per second."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return self.default_msec_format % (self._second_text, record.msecs)


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes the lines of one event-loop turn together (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._pending.append(line)
            self.flush()
            return
        if not self._pending:
            loop.call_soon(self.flush)  # after the callbacks of this turn that are ready now
        self._pending.append(line)

    def flush(self) -> None:
        self.acquire()
        try:
            if self._pending:
                text = "".join(self._pending)
                self._pending.clear()
                try:
                    self.stream.write(text)
                except Exception:
                    pass  # like StreamHandler: a broken stderr must not break the server
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()


def configure(level: str | int, stream: TextIO | None = None) -> None:
    """Root logger to `stream` (stderr) at `level`, replacing any handler set up before."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):
        logging.logAsyncioTasks = False  # Python 3.12+
    handler = BatchingStreamHandler(stream or sys.stderr)
    handler.setFormatter(LineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
