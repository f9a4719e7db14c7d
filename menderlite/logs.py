"""Where the log goes (stderr, one format) and what keeps a line per request cheap.

The access log writes one line per request. Through `logging` as `basicConfig` sets it up, a line costs more
than the rest of a device check-in: the time is formatted with `strftime` for every record, and stderr is
line-buffered, so every line is a `write` system call of its own. Here:

- `LineFormatter` formats the date and time once per second (the output is the same);
- `BatchingStreamHandler` keeps the lines emitted during one turn of the event loop and writes them with a
  single system call at the end of that turn; outside an event loop (or from another thread) it writes at
  once. Lines are never held longer than the turn that produced them; `flush()` and logging's shutdown
  write out what is pending;
- LogRecords skip the thread, process and multiprocessing look-ups that the format does not use;
- `direct_handler(logger)` tells a caller that logs on every request (the access log) whether its lines
  would reach nothing but this handler; if so, it may hand over finished lines (`line()`, `write_line()`)
  without making a LogRecord, for the same output.
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

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return self.default_msec_format % (self._second_text, record.msecs)

    def line(self, created: float, levelname: str, name: str, message: str, end: str = "") -> str:
        """What `format()` makes of a record with these fields (no exception, no stack), plus `end`."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        msecs = int((created - second) * 1000)
        return f"{self._second_text},{msecs:03d} {levelname} {name}: {message}{end}"


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes the lines of one event-loop turn together (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write_line(line)

    def write_line(self, line: str) -> None:
        """Write a formatted line (batched as described above)."""
        self.write_text(line + self.terminator)

    def write_text(self, line: str) -> None:
        """Write a formatted line that ends with the terminator already."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]  # flush() may run in another thread
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


def direct_handler(logger: logging.Logger, level: int = logging.INFO) -> tuple[BatchingStreamHandler, LineFormatter] | None:
    """The handler (and its formatter) that alone receives `logger`'s records at `level`, if it is ours and
    nothing filters on the way; None otherwise (then log through `logging` as usual)."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.disabled or current.filters:
            return None
        found += [handler for handler in current.handlers if level >= handler.level]
        if not current.propagate:
            break
        current = current.parent
    if len(found) != 1:
        return None
    handler = found[0]
    if type(handler) is not BatchingStreamHandler or handler.filters or type(handler.formatter) is not LineFormatter:
        return None
    return handler, handler.formatter


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
