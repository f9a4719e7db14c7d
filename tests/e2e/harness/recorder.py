"""A scriptable HTTP server that records every request: for checking what a real client sends, and for
driving a client through a flow the server under test cannot do yet (harness self-tests).

    recorder = RecordingServer()            # every request gets 404 until routes are added
    recorder.route("POST", AUTH_PATH, Reply(200, "token"))
    recorder.route("GET", "/artifact.mender", lambda request: Reply(200, artifact_bytes))
    with recorder: ... recorder.requests ...
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.e2e.harness import diagnostics
from tests.e2e.harness.background import BackgroundApp

AUTH_PATH = "/api/devices/v1/authentication/auth_requests"
INVENTORY_PATH = "/api/devices/v1/inventory/device/attributes"
NEXT_V2_PATH = "/api/devices/v2/deployments/device/deployments/next"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: CIMultiDict[str]  # case-insensitive (Go sends X-Men-Signature)
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """A canned response. `body` may be bytes, text or a JSON value. `cut_after=N` announces the full
    Content-Length but drops the connection after N body bytes (an interrupted download)."""

    status: int
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None

    def body_bytes(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        return (body.encode() if isinstance(body, str) else body), headers

    async def send(self, request: web.Request) -> web.StreamResponse:
        body, headers = self.body_bytes()
        if self.cut_after is None:
            return web.Response(status=self.status, body=body, headers=headers)
        response = web.StreamResponse(status=self.status, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: self.cut_after])
        assert request.transport is not None
        request.transport.close()
        return response


Handler = Callable[[RecordedRequest], Reply]


class RecordingServer:
    def __init__(self, default: Reply = Reply(404, {"error": "not found"})) -> None:
        self.default = default
        self._routes: dict[tuple[str, str], Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._background: BackgroundApp | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, reply: Reply | Handler) -> None:
        if isinstance(reply, Reply):
            fixed = reply

            def always(request: RecordedRequest) -> Reply:
                return fixed

            self._routes[(method, path)] = always
        else:
            self._routes[(method, path)] = reply

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def find(self, method: str, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == method and request.path == path]

    def wait_for_request(self, method: str, path: str, predicate: Callable[[RecordedRequest], bool] = lambda r: True,
                         timeout: float = 30) -> RecordedRequest:
        found = diagnostics.wait_for(lambda: [r for r in self.find(method, path) if predicate(r)],
                                     what=f"{method} {path} at the recording server", timeout=timeout)
        return found[0]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = RecordedRequest(request.method, request.path, request.query_string, CIMultiDict(request.headers), await request.read())
        with self._lock:
            self._requests.append(recorded)
        handler = self._routes.get((request.method, request.path))
        return await (handler(recorded) if handler else self.default).send(request)

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> RecordingServer:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._background = BackgroundApp(app)
        self._background.start()
        self.port = self._background.port
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._background = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
