"""In-memory knowledge that keeps device check-ins away from the database.

Most check-ins find nothing to do. Three caches answer those:
- `open_deployments(tenant)`: the tenant's unfinished deployments. Without any, the answer is 204 at once.
- idle devices: devices whose last check-in found nothing to do in a way that only a change to the tenant's
  deployments or to the device's own device deployments can alter (not listed in any static deployment
  that is still open for them, nothing newer than what they finished). Their next check-ins answer 204
  without the database until such a change.
- target sets: the device list of each unfinished static deployment (immutable once created), so that a
  check-in knows whether a deployment lists the device without asking the database. Bounded by
  `max_target_ids` in total; a deployment beyond the bound is looked up in the database instead.

Invalidation: every change that creates or finishes a deployment invalidates the tenant; every change to a
device's device deployments invalidates the device. Each is done twice, inside the write transaction and
again after it commits (`after_commit`), and each stamps the key with a new generation. A result computed
from reads that started before a stamp (its ticket is older) is not stored, so nothing read before a commit
can be cached after it. Stamps are dropped in bulk when they grow past the cache size (`_floor` then refuses
every older ticket).
"""

from __future__ import annotations

import asyncio
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
    phased: bool


class CheckInCache:
    def __init__(self, db: Database, max_idle_devices: int) -> None:
        self.db = db
        self.max_idle_devices = max_idle_devices
        self.max_target_ids = 2 * max_idle_devices
        self._targets: dict[str, frozenset[str] | None] = {}  # None: too large to keep
        self._target_ids = 0
        self._targets_loading: dict[str, asyncio.Future[frozenset[str] | None]] = {}
        self._open: dict[str, tuple[OpenDeployment, ...]] = {}
        self._idle: dict[str, set[str]] = {}
        self._idle_count = 0
        self._generation = 0
        self._floor = 0
        self._tenant_stamps: dict[str, int] = {}
        self._device_stamps: dict[tuple[str, str], int] = {}

    # --- reading ---------------------------------------------------------------------------------------

    def ticket(self) -> int:
        """Take before reading anything a result to be cached depends on."""
        return self._generation

    async def open_deployments(self, tenant_id: str) -> tuple[OpenDeployment, ...]:
        """The tenant's unfinished deployments, oldest first."""
        cached = self._open.get(tenant_id)
        if cached is not None:
            return cached
        ticket = self.ticket()
        async with self.db.read() as session:
            loaded = await load_open_deployments(session, tenant_id)
        if self._current(ticket, self._tenant_stamps.get(tenant_id)):
            self._open[tenant_id] = loaded
        return loaded

    async def targets(self, tenant_id: str, deployment_id: str) -> frozenset[str] | None:
        """The device list of a static deployment, or None when it is too large to keep in memory."""
        if deployment_id in self._targets:
            return self._targets[deployment_id]
        loading = self._targets_loading.get(deployment_id)
        if loading is not None:
            return await asyncio.shield(loading)
        loading = asyncio.get_running_loop().create_future()
        self._targets_loading[deployment_id] = loading
        try:
            async with self.db.read() as session:
                rows = await session.scalars(
                    select(models.DeploymentDevice.device_id).where(
                        models.DeploymentDevice.tenant_id == tenant_id,
                        models.DeploymentDevice.deployment_id == deployment_id,
                    )
                )
                devices = frozenset(rows)
            kept = self.remember_targets(deployment_id, devices)
            loading.set_result(kept)
            return kept
        except BaseException as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved: waiters get it, nobody is warned about it
            raise
        finally:
            self._targets_loading.pop(deployment_id, None)

    def kept_targets(self, deployment_id: str) -> frozenset[str] | None:
        """The device list if it is in memory (see `targets`), else None."""
        return self._targets.get(deployment_id)

    def remember_targets(self, deployment_id: str, devices: frozenset[str]) -> frozenset[str] | None:
        """Keep a static deployment's device list if it fits; returns what is kept."""
        kept = devices if self._target_ids + len(devices) <= self.max_target_ids else None
        if deployment_id not in self._targets:
            self._targets[deployment_id] = kept
            self._target_ids += len(kept or ())
        return self._targets[deployment_id]

    def forget_targets(self, deployment_id: str) -> None:
        """The deployment finished: its device list is not needed any more."""
        self._target_ids -= len(self._targets.pop(deployment_id, None) or ())

    def is_idle(self, tenant_id: str, device_id: str) -> bool:
        devices = self._idle.get(tenant_id)
        return devices is not None and device_id in devices

    def remember_idle(self, tenant_id: str, device_id: str, ticket: int) -> None:
        if self.max_idle_devices <= 0:
            return
        if not self._current(ticket, self._tenant_stamps.get(tenant_id), self._device_stamps.get((tenant_id, device_id))):
            return
        if self._idle_count >= self.max_idle_devices:
            self._idle.clear()
            self._idle_count = 0
        devices = self._idle.setdefault(tenant_id, set())
        if device_id not in devices:
            devices.add(device_id)
            self._idle_count += 1

    def _current(self, ticket: int, *stamps: int | None) -> bool:
        return ticket >= self._floor and all(stamp is None or stamp <= ticket for stamp in stamps)

    # --- invalidation ----------------------------------------------------------------------------------

    def invalidate_tenant(self, session: AsyncSession, tenant_id: str) -> None:
        """The tenant's deployments changed: forget its open list and idle devices now and after the commit."""
        self._forget_tenant(tenant_id)
        after_commit(session, lambda: self._forget_tenant(tenant_id))

    def invalidate_device(self, session: AsyncSession, tenant_id: str, device_id: str) -> None:
        """The device's device deployments changed: it is no longer known to be idle."""
        self._forget_device(tenant_id, device_id)
        after_commit(session, lambda: self._forget_device(tenant_id, device_id))

    def clear(self) -> None:
        self._generation += 1
        self._floor = self._generation
        self._open.clear()
        self._idle.clear()
        self._idle_count = 0
        self._tenant_stamps.clear()
        self._device_stamps.clear()

    def _forget_tenant(self, tenant_id: str) -> None:
        self._generation += 1
        self._tenant_stamps[tenant_id] = self._generation
        self._open.pop(tenant_id, None)
        self._idle_count -= len(self._idle.pop(tenant_id, ()))

    def _forget_device(self, tenant_id: str, device_id: str) -> None:
        self._generation += 1
        if len(self._device_stamps) >= max(self.max_idle_devices, 1000):
            self._device_stamps.clear()
            self._floor = self._generation
        self._device_stamps[(tenant_id, device_id)] = self._generation
        devices = self._idle.get(tenant_id)
        if devices is not None and device_id in devices:
            devices.discard(device_id)
            self._idle_count -= 1


async def load_open_deployments(session: AsyncSession, tenant_id: str) -> tuple[OpenDeployment, ...]:
    rows = await session.execute(
        select(
            models.Deployment.id,
            models.Deployment.seq,
            models.Deployment.dynamic,
            models.Deployment.filter,
            models.Deployment.starts_at,
            models.Deployment.phases,
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
            phased=bool(row.phases),
        )
        for row in rows
    )
