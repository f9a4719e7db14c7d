"""The application factory: the front middleware, one route table per service and API, resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from menderlite import deployments, devauth, inventory, tenantadm, useradm, workflows
from menderlite.config import Settings
from menderlite.context import Context
from menderlite.web.cors import CORS_ORIGINS
from menderlite.web.front import front_middleware
from menderlite.web.guards import INTERNAL_NETWORKS, parse_networks
from menderlite.web.health import DATABASE
from menderlite.web.inflight import IN_FLIGHT, InFlight
from menderlite.web.urls import PUBLIC_URL

log = logging.getLogger(__name__)

CONTEXT = web.AppKey("context", Context)

# Order matters only where a service's setup reads another's service object at construction time.
SERVICES = (workflows, tenantadm, useradm, devauth, inventory, deployments)


def create_app(settings: Settings, ctx: Context | None = None) -> web.Application:
    """Build the application; the database schema must already be migrated (see `db.migrate`)."""
    ctx = ctx or Context.from_settings(settings)
    in_flight = InFlight()
    app = web.Application(
        middlewares=[front_middleware(in_flight)],
        client_max_size=settings.server.max_json_body_bytes,
    )
    app[IN_FLIGHT] = in_flight
    app[CONTEXT] = ctx
    app[PUBLIC_URL] = settings.server.public_url
    app[CORS_ORIGINS] = tuple(settings.server.cors_origins)
    app[INTERNAL_NETWORKS] = parse_networks(settings.server.internal_networks)
    app[DATABASE] = ctx.db
    app.cleanup_ctx.append(_database(ctx))
    for service in SERVICES:
        service.setup(app, ctx)
    return app


def _database(ctx: Context):  # type: ignore[no-untyped-def]
    async def database(app: web.Application) -> AsyncIterator[None]:
        removed = ctx.storage.remove_orphan_temp_files()
        if removed:
            log.info("removed %d unfinished upload(s) left by an earlier run", removed)
        yield
        await ctx.db.close()

    return database
