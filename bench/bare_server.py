"""The ceiling: a bare aiohttp app on the same machine and event-loop policy as menderlite.

`python -m bench.bare_server PORT [FILE]` answers GET and POST /json with a small JSON body (a POST body is
read, not parsed) and GET /file with FILE through aiohttp's FileResponse (sendfile).
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web


def make_app(file_path: Path | None) -> web.Application:
    app = web.Application()

    async def small_json(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "ok"})

    async def file(request: web.Request) -> web.FileResponse:
        assert file_path is not None
        return web.FileResponse(file_path)

    app.router.add_get("/json", small_json)
    app.router.add_post("/json", small_json)
    if file_path is not None:
        app.router.add_get("/file", file)
    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    served = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    web.run_app(make_app(served), host="127.0.0.1", port=port, access_log=None, print=None)
