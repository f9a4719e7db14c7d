"""Counts requests whose handler is running, so that shutdown can wait for them.

aiohttp's own graceful shutdown stops reading from connections at once, which would cut off a request whose
body is still arriving (an artifact upload); `serve` first stops listening, then waits here, then shuts down.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when no handler is running any more, False if `timeout` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def enter(self) -> None:
        """A handler starts (the front middleware calls this for every request)."""
        if self.count == 0:
            self._idle.clear()
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()


IN_FLIGHT = web.AppKey("in_flight", InFlight)
