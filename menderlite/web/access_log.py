"""One line per request: method, path (never the query: signed links carry secrets), status, duration, id."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from menderlite.web.request_id import HEADER


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # The record is made directly (logging.Logger.info would also look up the calling frame, which no
        # format here shows) with the message already formatted: this runs for every request.
        message = f"{request.method} {request.path} {response.status} {time * 1000:.1f}ms {response.headers.get(HEADER, '-')}"
        logger = self.logger
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, None, None))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
