"""An HTTP proxy between devices and `menderlite serve` that can break or slow matching responses.

Point a device at `proxy.url` instead of the server. The proxy forwards every request unchanged, Host
header included, so the links the server builds from Host (artifact downloads) lead back through the proxy.

    proxy = FaultProxy(server.url)              # HTTP upstream only
    proxy.cut(r"/api/devices/v1/deployments/download/.*", after_bytes=100_000)    # break the next download once
    proxy.throttle(r".*/download/.*", bytes_per_second=50_000)                     # make downloads slow
    ... proxy.requests ...   # (method, path, status, Range header) of everything forwarded

For scenarios like "a download interrupted mid-way resumes with Range" (note: mender-client 3.4 waits one
minute before resuming) and "abort while downloading".
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from tests.e2e.harness.background import BackgroundApp

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "content-length"}
_CHUNK = 16 * 1024


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    path: str
    status: int
    range: str | None
    bytes_sent: int
    cut: bool


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    cut_after: int | None = None
    times: int | None = None  # how many more responses the rule applies to (None: always)
    bytes_per_second: float | None = None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        assert upstream.startswith("http://"), "the fault proxy forwards to plain HTTP only"
        self.upstream = upstream.rstrip("/")
        self._rules: list[_Rule] = []
        self._requests: list[ProxiedRequest] = []
        self._lock = threading.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._background: BackgroundApp | None = None

    @property
    def url(self) -> str:
        assert self._background is not None, "start() the proxy first"
        return self._background.url

    @property
    def requests(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self._requests)

    def cut(self, path_regex: str, after_bytes: int, times: int = 1) -> None:
        """Drop the connection after `after_bytes` body bytes of the next `times` responses to paths
        matching `path_regex` (full match); the full Content-Length is announced."""
        with self._lock:
            self._rules.append(_Rule(re.compile(path_regex), cut_after=after_bytes, times=times))

    def throttle(self, path_regex: str, bytes_per_second: float) -> None:
        """Send response bodies of matching paths at about `bytes_per_second`."""
        with self._lock:
            self._rules.append(_Rule(re.compile(path_regex), bytes_per_second=bytes_per_second))

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def _rules_for(self, path: str) -> tuple[int | None, float | None]:
        cut_after, rate = None, None
        with self._lock:
            for rule in self._rules:
                if not rule.pattern.fullmatch(path):
                    continue
                if rule.cut_after is not None and cut_after is None and (rule.times is None or rule.times > 0):
                    cut_after = rule.cut_after
                    if rule.times is not None:
                        rule.times -= 1
                if rule.bytes_per_second is not None:
                    rate = rule.bytes_per_second
        return cut_after, rate

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        body = await request.read()
        target = URL(self.upstream + request.raw_path, encoded=True)
        async with self._session.request(request.method, target, headers=headers, data=body or None,
                                         allow_redirects=False, auto_decompress=False) as upstream:
            cut_after, rate = self._rules_for(request.path)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    response.headers.add(name, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            sent, cut = 0, False
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                if cut_after is not None and sent + len(chunk) >= cut_after:
                    await response.write(chunk[: cut_after - sent])
                    sent, cut = cut_after, True
                    break
                await response.write(chunk)
                sent += len(chunk)
                if rate:
                    await asyncio.sleep(len(chunk) / rate)
            with self._lock:
                self._requests.append(ProxiedRequest(request.method, request.path, upstream.status,
                                                     request.headers.get("Range"), sent, cut))
            if cut:
                assert request.transport is not None
                request.transport.close()
                return response
            await response.write_eof()
            return response

    def start(self) -> FaultProxy:
        app = web.Application(client_max_size=1 << 34)
        app.router.add_route("*", "/{tail:.*}", self._forward)

        async def open_session(app: web.Application) -> None:
            self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None))

        async def close_session() -> None:
            if self._session is not None:
                await self._session.close()

        app.on_startup.append(open_session)
        self._background = BackgroundApp(app, on_cleanup=close_session)
        self._background.start()
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._background = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
