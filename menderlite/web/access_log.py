"""One line per request: method, path (never the query: signed links carry secrets), status, duration, id."""

from __future__ import annotations

import logging
import time as clock

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from menderlite import logs
from menderlite.web.request_id import HEADER


class AccessLogger(AbstractAccessLogger):
    """aiohttp makes one per connection. When the lines go only to the stderr handler of `menderlite.logs`
    (as `menderlite serve` sets logging up), they are handed over finished, without a LogRecord: this runs
    for every request. Otherwise (other handlers, filters) they go through `logging`."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        self._direct = logs.direct_handler(logger)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        message = f"{request.method} {request.path} {response.status} {time * 1000:.1f}ms {response.headers.get(HEADER, '-')}"
        if self._direct is not None:
            handler, formatter = self._direct
            handler.write_text(formatter.line(clock.time(), "INFO", self.logger.name, message, handler.terminator))
            return
        logger = self.logger
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, None, None))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


