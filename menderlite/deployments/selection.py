"""The next-update decision of one device check-in (SEMANTICS §4 "Next-update algorithm").

1. The device's oldest active device deployment, if any, is served (again).
2. Otherwise the unfinished deployments created after the device's latest finished one are walked oldest
   first; the first that targets the device (its device list, or for a dynamic deployment its saved filter
   while below `max_devices`) wins, and the device joins it when an open phase has room (else 204).
3. A pending device deployment whose artifact name the device already runs becomes `already-installed`.
4. Otherwise the smallest compatible artifact is assigned (once, and again if the device type changes);
   none fits: `noartifact`. 5. Instructions for that artifact.

`CheckIn` runs the decision on a session. In read mode it answers when nothing needs writing (the common
case: no write lock for a device with nothing to do) and returns NEEDS_WRITE as soon as the outcome would
change data. In write mode, inside the serialized write transaction (a batch of the write combiner), it
decides again on current data and records the outcome, so a decision and its effect are one atomic step:
two devices cannot take the same phase slot and `max_devices` cannot be exceeded.

Whatever needs another session (the inventory's filter matches, the device lists of static deployments) is
fetched before a session is opened, never while one is held: nested sessions could exhaust the read pool
under load and then wait for each other forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import new_id
from menderlite.deployments import models
from menderlite.deployments.artifacts import ArtifactRecord
from menderlite.deployments.checkin_cache import OpenDeployment
from menderlite.deployments.inputs import NextRequest
from menderlite.deployments.rollout import (
    ALREADY_INSTALLED,
    DEPLOYMENT_FINISHED,
    NOARTIFACT,
    PENDING,
    choose_artifact,
    phase_states,
    phase_with_room,
    with_device_joined,
)

if TYPE_CHECKING:
    from menderlite.deployments.service import DeploymentsService


def device_state_statement(tenant_id: str, device_id: str) -> Select[tuple[str | None, int | None]]:
    """(id of the device's oldest active device deployment, seq of its latest finished one): one statement,
    two probes of the check-in index."""
    dd = models.DeviceDeployment
    mine = (dd.tenant_id == tenant_id, dd.device_id == device_id)
    oldest_active = select(dd.id).where(*mine, dd.active.is_(True)).order_by(dd.deployment_seq).limit(1)
    latest_finished = select(func.max(dd.deployment_seq)).where(*mine, dd.active.is_(False))
    return select(oldest_active.scalar_subquery(), latest_finished.scalar_subquery())


def listed_statement(tenant_id: str, device_id: str, deployment_ids: Sequence[str]) -> Select[tuple[str]]:
    """Which of these static deployments list the device (when their lists are not kept in memory)."""
    target = models.DeploymentDevice
    return select(target.deployment_id).where(
        target.tenant_id == tenant_id, target.device_id == device_id, target.deployment_id.in_(list(deployment_ids))
    )


class NeedsWrite:
    """The read-only pass found something to record: decide again inside the write transaction."""


NEEDS_WRITE: Final = NeedsWrite()


@dataclass(frozen=True)
class Instructions:
    deployment_id: str
    artifact: ArtifactRecord


Outcome = Instructions | None | NeedsWrite


class CheckIn:
    def __init__(
        self,
        service: DeploymentsService,
        session: AsyncSession,
        *,
        tenant_id: str,
        device_id: str,
        request: NextRequest,
        check_depends: bool,
        open_deployments: Sequence[OpenDeployment],
        now: datetime,
        matches: dict[str, bool],
        write: bool,
    ) -> None:
        self.service = service
        self.session = session
        self.tenant_id = tenant_id
        self.device_id = device_id
        self.request = request
        self.check_depends = check_depends
        self.open_deployments = open_deployments
        self.now = now
        self.matches = matches  # dynamic deployment id -> the device matches its saved filter (asked beforehand)
        self.write = write
        # Whether a "nothing to do" answer can be cached until the tenant's deployments or the device's own
        # device deployments change: not when it depended on time (phases), on other devices (phase slots,
        # max_devices) or on inventory (dynamic filters), nor when the device has an active deployment.
        self.idle_is_lasting = True

    async def decide(self) -> Outcome:
        active_id, last_finished_seq = await self._device_state()
        if active_id is not None:
            self.idle_is_lasting = False
            device_deployment = await self.session.get(models.DeviceDeployment, active_id)
            assert device_deployment is not None
            deployment = await self._deployment(device_deployment.deployment_id)
            assert deployment is not None
            return await self._serve(device_deployment, deployment)
        return await self._join_next(last_finished_seq or 0)

    # --- the device's own records ----------------------------------------------------------------------

    async def _device_state(self) -> tuple[str | None, int | None]:
        row = (await self.session.execute(device_state_statement(self.tenant_id, self.device_id))).one()
        return row[0], row[1]

    async def _deployment(self, deployment_id: str) -> models.Deployment | None:
        # By primary key: inside a write batch, a deployment an earlier operation loaded costs no query.
        deployment = await self.session.get(models.Deployment, deployment_id)
        return deployment if deployment is not None and deployment.tenant_id == self.tenant_id else None

    # --- joining a deployment --------------------------------------------------------------------------

    async def _join_next(self, last_finished_seq: int) -> Outcome:
        candidates = [deployment for deployment in self.open_deployments if deployment.seq > last_finished_seq]
        if not candidates:
            return None
        listed = await self._listed_in([candidate.id for candidate in candidates if not candidate.dynamic])
        for candidate in candidates:
            if candidate.dynamic:
                self.idle_is_lasting = False
                if not self._matches_filter(candidate):
                    continue
            elif candidate.id not in listed:
                continue
            self.idle_is_lasting = False
            if candidate.starts_at is not None and candidate.starts_at > self.now:
                return None  # the deployment that targets the device has not started yet
            deployment = await self._deployment(candidate.id)
            if deployment is None or deployment.status == DEPLOYMENT_FINISHED:
                continue  # finished since the list was read
            if deployment.dynamic and 0 < deployment.max_devices <= deployment.device_count:
                continue  # a dynamic deployment hands out at most max_devices device deployments
            return await self._join(deployment)
        return None

    async def _listed_in(self, deployment_ids: list[str]) -> set[str]:
        """Which of these static deployments list the device (from the kept device lists where possible)."""
        listed, unknown = set(), []
        for deployment_id in deployment_ids:
            targets = self.service.cache.kept_targets(deployment_id)
            if targets is None:
                unknown.append(deployment_id)
            elif self.device_id in targets:
                listed.add(deployment_id)
        if unknown:
            listed.update(await self.session.scalars(listed_statement(self.tenant_id, self.device_id, unknown)))
        return listed

    def _matches_filter(self, candidate: OpenDeployment) -> bool:
        return self.matches.get(candidate.id, False)

    async def _join(self, deployment: models.Deployment) -> Outcome:
        phase_index = None
        if deployment.phases:
            phase_index = phase_with_room(phase_states(deployment.phases), self.now)
            if phase_index is None:
                return None  # no open phase has room: wait
        if not self.write:
            return NEEDS_WRITE
        device_deployment = models.DeviceDeployment(
            id=new_id(),
            tenant_id=self.tenant_id,
            deployment_id=deployment.id,
            device_id=self.device_id,
            deployment_seq=deployment.seq,
            created=deployment.created,
            started=self.now,
            status=PENDING,
            active=True,
            attempts=1,
            phase=phase_index,
            has_log=False,
        )
        self.session.add(device_deployment)
        if phase_index is not None:
            deployment.phases = with_device_joined(deployment.phases, phase_index)
        self.service.count_new_device_deployment(self.session, deployment, self.device_id, PENDING, self.now)
        return await self._serve(device_deployment, deployment)

    # --- serving a device deployment -------------------------------------------------------------------

    async def _serve(self, device_deployment: models.DeviceDeployment, deployment: models.Deployment) -> Outcome:
        if device_deployment.status == PENDING and self.request.artifact_name == deployment.artifact_name:
            if not self.write:
                return NEEDS_WRITE
            self.service.move_device_deployment(self.session, deployment, device_deployment, ALREADY_INSTALLED, self.now)
            return None
        artifact = None
        if device_deployment.artifact_id is not None and device_deployment.device_type == self.request.device_type:
            artifact = await self._artifact(device_deployment.artifact_id)
        if artifact is not None:
            return Instructions(deployment.id, artifact)
        if not self.write:
            return NEEDS_WRITE
        artifact = choose_artifact(
            await self._artifacts(deployment.artifact_ids),
            self.request.device_type,
            self.request.provides,
            self.check_depends,
        )
        device_deployment.device_type = self.request.device_type
        if artifact is None:
            self.service.move_device_deployment(self.session, deployment, device_deployment, NOARTIFACT, self.now)
            return None
        device_deployment.artifact_id = artifact.id
        return Instructions(deployment.id, artifact)

    async def _artifact(self, artifact_id: str) -> ArtifactRecord | None:
        found = await self._artifacts([artifact_id])
        return found[0] if found else None

    async def _artifacts(self, artifact_ids: Sequence[str]) -> list[ArtifactRecord]:
        return await self.service.artifact_records(self.session, self.tenant_id, artifact_ids)
