"""A local HTTP server (127.0.0.1) for http tasks to call: it records every request it gets."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str


@dataclass
class Target:
    requests: list[Seen] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/token", self.token)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_get("/flaky/{failures}", self.flaky)
        app.router.add_get("/hold", self.hold)
        return app

    async def _record(self, request: web.Request) -> None:
        self.requests.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers), await request.text())
        )
        self.calls[request.path] += 1

    async def echo(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"method": request.method, "body": self.requests[-1].body, "query": dict(request.query)})

    async def token(self, request: web.Request) -> web.Response:
        await self._record(request)
        document: dict[str, Any] = {"auth": {"token": "tok-123", "expires": 60}, "devices": [{"id": "dev-a"}, {"id": "dev-b"}]}
        return web.json_response(document)

    async def status(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=int(request.match_info["code"]), text=f"status {request.match_info['code']}")

    async def flaky(self, request: web.Request) -> web.Response:
        """Fails (503) the first `failures` calls, then answers 200."""
        await self._record(request)
        if self.calls[request.path] <= int(request.match_info["failures"]):
            return web.Response(status=503, text="try again")
        return web.Response(text="ok")

    async def hold(self, request: web.Request) -> web.Response:
        """Answers only once `release` is set (a task that is running when the server stops)."""
        await self._record(request)
        self.held.set()
        await self.release.wait()
        return web.Response(text="released")
