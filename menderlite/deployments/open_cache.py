"""An in-memory list of each tenant's unfinished deployments, for the device check-in.

Most check-ins find nothing to do. With this list a tenant without unfinished deployments answers 204
without touching the database, and a tenant with some only asks the database about the device itself.

Every change that creates or finishes a deployment invalidates the tenant's entry twice: inside the write
transaction and again after it commits (`after_commit`). A load that read the database before such a commit
cannot store its stale result afterwards: `_store` refuses results computed under an older generation.
Entries are only a hint: the write path re-reads each deployment it acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import Database, after_commit
from menderlite.deployments import models
from menderlite.deployments.rollout import DEPLOYMENT_FINISHED


@dataclass(frozen=True, slots=True)
class OpenDeployment:
    id: str
    seq: int
    dynamic: bool
    filter_terms: tuple[Any, ...]  # dynamic deployments: the saved filter's terms at creation
    starts_at: datetime | None  # the first phase's start; None: open since creation


class OpenDeployments:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_tenant: dict[str, tuple[OpenDeployment, ...]] = {}
        self._generation = 0

    async def of_tenant(self, tenant_id: str) -> tuple[OpenDeployment, ...]:
        """The tenant's unfinished deployments, oldest first."""
        cached = self._by_tenant.get(tenant_id)
        if cached is not None:
            return cached
        generation = self._generation
        async with self.db.read() as session:
            loaded = await self.load(session, tenant_id)
        if generation == self._generation:
            self._by_tenant[tenant_id] = loaded
        return loaded

    @staticmethod
    async def load(session: AsyncSession, tenant_id: str) -> tuple[OpenDeployment, ...]:
        rows = await session.execute(
            select(
                models.Deployment.id,
                models.Deployment.seq,
                models.Deployment.dynamic,
                models.Deployment.filter,
                models.Deployment.starts_at,
            )
            .where(models.Deployment.tenant_id == tenant_id, models.Deployment.status != DEPLOYMENT_FINISHED)
            .order_by(models.Deployment.seq)
        )
        return tuple(
            OpenDeployment(
                id=row.id,
                seq=row.seq,
                dynamic=row.dynamic,
                filter_terms=tuple((row.filter or {}).get("terms") or ()),
                starts_at=row.starts_at,
            )
            for row in rows
        )

    def invalidate(self, session: AsyncSession, tenant_id: str) -> None:
        """Forget the tenant's list now and once `session` commits."""
        self._forget(tenant_id)
        after_commit(session, lambda: self._forget(tenant_id))

    def clear(self) -> None:
        self._generation += 1
        self._by_tenant.clear()

    def _forget(self, tenant_id: str) -> None:
        self._generation += 1
        self._by_tenant.pop(tenant_id, None)
