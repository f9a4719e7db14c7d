"""Run an aiohttp application on a free loopback port in a background thread (for synchronous tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


class BackgroundApp:
    def __init__(self, app: web.Application, on_cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        self.app = app
        self.port = 0
        self._on_cleanup = on_cleanup
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._runner = web.AppRunner(self.app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = self._runner.addresses[0][1]

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(serve())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"background-{type(self).__name__}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10) or failure:
            raise RuntimeError(f"background server did not start: {failure}")

    def call(self, coroutine: Awaitable[Any], timeout: float = 10) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            self.call(self._runner.cleanup())
        if self._on_cleanup is not None:
            self.call(self._on_cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
