"""One line per request: method, path (never the query: signed links carry secrets), status, duration, id."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from menderlite.web.request_id import HEADER


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %d %.1fms %s",
            request.method,
            request.path,
            response.status,
            time * 1000,
            response.headers.get(HEADER, "-"),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(20)
