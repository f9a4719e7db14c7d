"""Where the route handlers find the devauth service object."""

from __future__ import annotations

from aiohttp import web

from menderlite.devauth.service import DevauthService

SERVICE = web.AppKey("devauth_service", DevauthService)
