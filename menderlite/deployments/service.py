"""The deployments service layer: deployments, device deployments, statistics and logs (artifacts live in
`artifacts.py`). No aiohttp here: routes hand over validated values (`inputs.py`).

Every change to a device deployment adjusts its deployment's counters and status in the same write
transaction, so statistics stay exact however many devices report at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import after_commit, new_id, utcnow
from menderlite.deployments import models
from menderlite.deployments.artifacts import ArtifactRecord, ArtifactsService
from menderlite.deployments.batching import WriteCombiner
from menderlite.deployments.checkin_cache import CheckInCache, OpenDeployment
from menderlite.deployments.inputs import ListQuery, NewDeployment, NextRequest
from menderlite.deployments.rollout import (
    ABORTED,
    ACTIVE_STATUSES,
    DECOMMISSIONED,
    DEPLOYMENT_FINISHED,
    DEPLOYMENT_INPROGRESS,
    DEPLOYMENT_PENDING,
    DEPLOYMENT_SCHEDULED,
    FAILURE,
    FINAL_STATUSES,
    PENDING,
    STATS_KEYS,
    derive_status,
    empty_stats,
    filter_within_groups,
    format_log,
    moved_stats,
    new_phases,
    phase_sizes,
    phase_states,
    shown_status,
)
from menderlite.deployments.selection import CheckIn, Instructions, NeedsWrite
from menderlite.events import DeviceDecommissioned
from menderlite.timeutil import rfc3339
from menderlite.web.errors import ApiError
from menderlite.web.paging import Page

if TYPE_CHECKING:
    from menderlite.context import Context
    from menderlite.web.guards import Identity

MSG_NOT_FOUND = "Resource not found"
MSG_DEPLOYMENT_NOT_FOUND = "Deployment not found"
MSG_NO_ARTIFACT = "No artifact for the deployment"
MSG_NO_DEVICES = "No devices for the deployment"
MSG_ALREADY_FINISHED = "Deployment already finished"
MSG_ABORTED = "Deployment aborted"
MSG_DECOMMISSIONED = "Device decommissioned"
MSG_DEVICE_DEPLOYMENT_FINISHED = "Device deployment already finished"
MSG_PLAN = "Feature not available in your Plan"
MSG_GROUPS = "the deployment targets devices outside the device groups you may deploy to"
MSG_FILTER_NOT_FOUND = "filter not found"

PLANS_WITH_PHASES_AND_RETRIES = frozenset({"professional", "enterprise"})
PLANS_WITH_DYNAMIC_DEPLOYMENTS = frozenset({"enterprise"})
PLANS_WITH_DEPENDS = frozenset({"enterprise"})
MAX_CACHED_ARTIFACTS = 4096


# --- values handed out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseView:
    id: str
    batch_size: int | None
    start_ts: datetime | None
    device_count: int

    def to_api(self) -> dict[str, Any]:
        document: dict[str, Any] = {"id": self.id}
        if self.batch_size is not None:
            document["batch_size"] = self.batch_size
        if self.start_ts is not None:
            document["start_ts"] = rfc3339(self.start_ts)
        document["device_count"] = self.device_count
        return document


@dataclass(frozen=True)
class DeploymentView:
    id: str
    name: str
    artifact_name: str
    created: datetime
    finished: datetime | None
    status: str  # as shown: scheduled, pending, inprogress or finished
    device_count: int
    max_devices: int
    retries: int
    dynamic: bool
    filter: dict[str, Any] | None
    initial_device_count: int | None
    artifacts: tuple[str, ...]
    phases: tuple[PhaseView, ...]
    statistics: Mapping[str, int]

    @classmethod
    def from_row(cls, row: models.Deployment, now: datetime) -> DeploymentView:
        return cls(
            id=row.id,
            name=row.name,
            artifact_name=row.artifact_name,
            created=row.created,
            finished=row.finished,
            status=shown_status(row.status, row.starts_at, now),
            device_count=row.device_count,
            max_devices=row.max_devices,
            retries=row.retries,
            dynamic=row.dynamic,
            filter=row.filter,
            initial_device_count=row.initial_device_count,
            artifacts=tuple(row.artifact_ids),
            phases=tuple(
                PhaseView(phase["id"], phase.get("batch_size"), state.start_ts, state.device_count)
                for phase, state in zip(row.phases, phase_states(row.phases))
            ),
            statistics=statistics_document(row.stats),
        )

    def to_api(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "artifact_name": self.artifact_name,
            "created": rfc3339(self.created),
        }
        if self.finished is not None:
            document["finished"] = rfc3339(self.finished)
        document.update(
            status=self.status,
            device_count=self.device_count,
            artifacts=list(self.artifacts),
            retries=self.retries,
            dynamic=self.dynamic,
        )
        if self.max_devices > 0:
            document["max_devices"] = self.max_devices
        if self.phases:
            document["phases"] = [phase.to_api() for phase in self.phases]
        if self.dynamic:
            document["filter"] = self.filter
            document["initial_device_count"] = self.initial_device_count or 0
        return document


@dataclass(frozen=True)
class DeviceDeploymentView:
    device_id: str
    created: datetime
    finished: datetime | None
    status: str
    device_type: str | None
    log: bool
    substate: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: models.DeviceDeployment) -> DeviceDeploymentView:
        return cls(row.device_id, row.created, row.finished, row.status, row.device_type, row.has_log, row.substate, row.attempts)

    def to_api(self) -> dict[str, Any]:
        document: dict[str, Any] = {"id": self.device_id, "created": rfc3339(self.created)}
        if self.finished is not None:
            document["finished"] = rfc3339(self.finished)
        document["status"] = self.status
        if self.device_type is not None:
            document["device_type"] = self.device_type
        document["log"] = self.log
        if self.substate is not None:
            document["substate"] = self.substate
        return document


@dataclass(frozen=True)
class _Targets:
    """Who a new deployment is for: a device list, or (dynamic) a saved filter and its matches now."""

    devices: Sequence[str]
    saved_filter: dict[str, Any] | None = None
    initial_device_count: int | None = None

    @property
    def total(self) -> int:
        """The device count phases are sized from."""
        return self.initial_device_count or 0 if self.saved_filter is not None else len(self.devices)


def statistics_document(stats: Mapping[str, int]) -> dict[str, int]:
    return {key: int(stats.get(key, 0)) for key in STATS_KEYS}


# --- the service ---------------------------------------------------------------------------------------


class DeploymentsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.artifacts = ArtifactsService(ctx)
        self.cache = CheckInCache(ctx.db, ctx.settings.deployments.check_in_cache_size)
        self.writes = WriteCombiner(ctx.db)
        self.clock: Callable[[], datetime] = utcnow  # tests move time forward to open later phases
        # Artifact records by (tenant, id) for check-ins. An artifact frozen into an unfinished deployment
        # cannot change or be deleted; ids a new deployment freezes are evicted, in case an id was reused.
        self._artifact_records: dict[tuple[str, str], ArtifactRecord] = {}
        ctx.events.subscribe(DeviceDecommissioned, self._on_device_decommissioned)

    # --- creating ---------------------------------------------------------------------------------------

    async def create_deployment(self, identity: Identity, spec: NewDeployment, *, group: str | None = None) -> str:
        """Create a deployment to `spec.devices`, to the accepted devices of `group`, or (with
        `spec.filter_id`) to the devices matching a saved filter when they check in; returns its id."""
        tenant_id = identity.tenant_id
        self._check_plan(identity.plan, spec)
        targets = await self._targets(tenant_id, spec, group)
        await self._check_group_restriction(identity, targets)
        sizes = phase_sizes([phase.batch_size for phase in spec.phases], targets.total) if spec.phases else []
        deployment_id = new_id()
        async with self.ctx.db.write() as session:
            artifact_ids = list(
                await session.scalars(
                    select(models.Artifact.id)
                    .where(models.Artifact.tenant_id == tenant_id, models.Artifact.name == spec.artifact_name)
                    .order_by(models.Artifact.created, models.Artifact.id)
                )
            )
            if not artifact_ids:
                raise ApiError(422, MSG_NO_ARTIFACT)
            seq = (await session.scalar(select(func.max(models.Deployment.seq))) or 0) + 1
            session.add(self._new_deployment(deployment_id, tenant_id, seq, spec, targets, sizes, artifact_ids))
            await session.flush()
            await self._add_parts(session, tenant_id, deployment_id, seq, artifact_ids, targets.devices)
            self.cache.invalidate_tenant(session, tenant_id)
            if targets.devices:
                device_set = frozenset(targets.devices)
                after_commit(session, lambda: self.cache.remember_targets(deployment_id, device_set))
            self._forget_artifacts(tenant_id, artifact_ids)
            after_commit(session, lambda: self._forget_artifacts(tenant_id, artifact_ids))
        return deployment_id

    async def _targets(self, tenant_id: str, spec: NewDeployment, group: str | None) -> _Targets:
        if spec.filter_id is not None:
            saved = await self.ctx.inventory.get_filter(tenant_id, spec.filter_id)
            if saved is None:
                raise ApiError(400, MSG_FILTER_NOT_FOUND)
            saved_filter = {"id": saved["id"], "name": saved["name"], "terms": list(saved.get("terms") or [])}
            matching = await self.ctx.inventory.count_matching(tenant_id, saved_filter["terms"])
            return _Targets(devices=(), saved_filter=saved_filter, initial_device_count=matching)
        if group is not None:
            devices = tuple(dict.fromkeys(await self.ctx.inventory.device_ids_in_group(tenant_id, group, status="accepted")))
            if not devices:
                raise ApiError(400, MSG_NO_DEVICES)
            return _Targets(devices=devices)
        return _Targets(devices=spec.devices)

    def _new_deployment(
        self,
        deployment_id: str,
        tenant_id: str,
        seq: int,
        spec: NewDeployment,
        targets: _Targets,
        sizes: Sequence[int | None],
        artifact_ids: list[str],
    ) -> models.Deployment:
        dynamic = targets.saved_filter is not None
        return models.Deployment(
            id=deployment_id,
            tenant_id=tenant_id,
            seq=seq,
            name=spec.name,
            artifact_name=spec.artifact_name,
            created=self.clock(),
            finished=None,
            status=DEPLOYMENT_PENDING,
            starts_at=spec.phases[0].start_ts if spec.phases else None,
            device_count=0,
            max_devices=spec.max_devices if dynamic else len(targets.devices),
            retries=spec.retries,
            dynamic=dynamic,
            filter=targets.saved_filter,
            initial_device_count=targets.initial_device_count,
            artifact_ids=artifact_ids,
            stats=empty_stats(),
            phases=new_phases(
                [new_id() for _ in spec.phases],
                [phase.batch_size for phase in spec.phases],
                [phase.start_ts for phase in spec.phases],
                sizes,
            ),
        )

    @staticmethod
    async def _add_parts(
        session: AsyncSession,
        tenant_id: str,
        deployment_id: str,
        seq: int,
        artifact_ids: Sequence[str],
        devices: Sequence[str],
    ) -> None:
        session.add_all(
            models.DeploymentArtifact(deployment_id=deployment_id, artifact_id=artifact_id, tenant_id=tenant_id)
            for artifact_id in artifact_ids
        )
        await session.flush()
        if devices:
            await session.execute(
                insert(models.DeploymentDevice),
                [
                    {"deployment_id": deployment_id, "device_id": device_id, "tenant_id": tenant_id, "deployment_seq": seq, "position": position}
                    for position, device_id in enumerate(devices)
                ],
            )

    @staticmethod
    def _check_plan(plan: str, spec: NewDeployment) -> None:
        if (spec.phased or spec.retries > 0) and plan not in PLANS_WITH_PHASES_AND_RETRIES:
            raise ApiError(403, MSG_PLAN)
        if spec.filter_id is not None and plan not in PLANS_WITH_DYNAMIC_DEPLOYMENTS:
            raise ApiError(403, MSG_PLAN)

    async def _check_group_restriction(self, identity: Identity, targets: _Targets) -> None:
        """A user whose roles allow deployments only to some device groups may target only their devices
        (for a dynamic deployment: the filter must itself limit the devices to those groups)."""
        allowed = await self.ctx.useradm.deployment_group_restriction(identity)
        if allowed is None:
            return
        if targets.saved_filter is not None:
            if not filter_within_groups(targets.saved_filter["terms"], allowed):
                raise ApiError(403, MSG_GROUPS)
            return
        groups = await self.ctx.inventory.groups_of(identity.tenant_id, list(targets.devices))
        if any(groups.get(device_id) not in allowed for device_id in targets.devices):
            raise ApiError(403, MSG_GROUPS)

    # --- reading ----------------------------------------------------------------------------------------

    async def list_deployments(
        self, tenant_id: str, query: ListQuery, page: Page | None = None
    ) -> tuple[list[DeploymentView], int, bool]:
        """(a page of deployments newest first, total matching, whether another page follows)."""
        now = self.clock()
        conditions = self.list_conditions(tenant_id, query, now)
        statement = select(models.Deployment).where(*conditions).order_by(models.Deployment.seq.desc())
        if page is not None:
            statement = statement.offset(page.offset).limit(page.limit + 1)
        async with self.ctx.db.read() as session:
            total = await session.scalar(select(func.count()).select_from(models.Deployment).where(*conditions)) or 0
            rows = list(await session.scalars(statement))
            has_next = page is not None and len(rows) > page.limit
            rows = rows[: page.limit] if page is not None else rows
        return [DeploymentView.from_row(row, now) for row in rows], total, has_next

    @staticmethod
    def list_conditions(tenant_id: str, query: ListQuery, now: datetime) -> list[ColumnElement[bool]]:
        deployment = models.Deployment
        conditions: list[ColumnElement[bool]] = [deployment.tenant_id == tenant_id]
        started = or_(deployment.starts_at.is_(None), deployment.starts_at <= now)
        if query.status == DEPLOYMENT_SCHEDULED:
            conditions += [deployment.status != DEPLOYMENT_FINISHED, deployment.starts_at > now]
        elif query.status in (DEPLOYMENT_PENDING, DEPLOYMENT_INPROGRESS):
            conditions += [deployment.status == query.status, started]
        elif query.status == DEPLOYMENT_FINISHED:
            conditions.append(deployment.status == DEPLOYMENT_FINISHED)
        if query.search:
            term = query.search.lower()
            conditions.append(
                or_(
                    func.lower(deployment.name).contains(term, autoescape=True),
                    func.lower(deployment.artifact_name).contains(term, autoescape=True),
                )
            )
        if query.created_after is not None:
            conditions.append(deployment.created >= query.created_after)
        if query.created_before is not None:
            conditions.append(deployment.created <= query.created_before)
        return conditions

    async def get_deployment(self, tenant_id: str, deployment_id: str, *, not_found: str = MSG_NOT_FOUND) -> DeploymentView:
        async with self.ctx.db.read() as session:
            row = await self._deployment_row(session, tenant_id, deployment_id)
            if row is None:
                raise ApiError(404, not_found)
        return DeploymentView.from_row(row, self.clock())

    async def statistics(self, tenant_id: str, deployment_id: str) -> dict[str, int]:
        return dict((await self.get_deployment(tenant_id, deployment_id)).statistics)

    async def device_deployments(
        self, tenant_id: str, deployment_id: str, page: Page | None = None
    ) -> tuple[list[DeviceDeploymentView], int]:
        """The deployment's device deployments in the order they were made (all, or one page), and the total."""
        dd = models.DeviceDeployment
        async with self.ctx.db.read() as session:
            if await self._deployment_row(session, tenant_id, deployment_id) is None:
                raise ApiError(404, MSG_DEPLOYMENT_NOT_FOUND)
            mine = (dd.tenant_id == tenant_id, dd.deployment_id == deployment_id)
            statement = select(dd).where(*mine).order_by(dd.started, dd.id)
            if page is not None:
                statement = statement.offset(page.offset).limit(page.limit)
            rows = list(await session.scalars(statement))
            total = len(rows) if page is None else await session.scalar(select(func.count()).select_from(dd).where(*mine)) or 0
        return [DeviceDeploymentView.from_row(row) for row in rows], total

    async def device_list(self, tenant_id: str, deployment_id: str) -> list[str]:
        """The device IDs a static deployment targets, as given (a dynamic deployment has none)."""
        target = models.DeploymentDevice
        async with self.ctx.db.read() as session:
            if await self._deployment_row(session, tenant_id, deployment_id) is None:
                raise ApiError(404, MSG_NOT_FOUND)
            rows = await session.scalars(
                select(target.device_id)
                .where(target.tenant_id == tenant_id, target.deployment_id == deployment_id)
                .order_by(target.position)
            )
            return list(rows)

    async def device_log(self, tenant_id: str, deployment_id: str, device_id: str) -> str:
        """The device's last uploaded log for the deployment as text, one line per message."""
        async with self.ctx.db.read() as session:
            messages = await session.scalar(
                select(models.DeviceDeploymentLog.messages)
                .join(models.DeviceDeployment, models.DeviceDeployment.id == models.DeviceDeploymentLog.device_deployment_id)
                .where(
                    models.DeviceDeployment.tenant_id == tenant_id,
                    models.DeviceDeployment.deployment_id == deployment_id,
                    models.DeviceDeployment.device_id == device_id,
                )
            )
        if messages is None:
            raise ApiError(404, MSG_NOT_FOUND)
        return format_log(messages)

    @staticmethod
    async def _deployment_row(session: AsyncSession, tenant_id: str, deployment_id: str) -> models.Deployment | None:
        return await session.scalar(
            select(models.Deployment).where(models.Deployment.tenant_id == tenant_id, models.Deployment.id == deployment_id)
        )

    # --- abort and decommission -------------------------------------------------------------------------

    async def abort_deployment(self, tenant_id: str, deployment_id: str) -> None:
        """Active device deployments become `aborted` and the deployment finishes; devices that have not
        checked in yet never get it. An unknown id is 404 as the reference documents (the real service
        answers 422 there); an already finished deployment is 422."""
        async with self.ctx.db.write() as session:
            deployment = await self._deployment_row(session, tenant_id, deployment_id)
            if deployment is None:
                raise ApiError(404, MSG_NOT_FOUND)
            if deployment.status == DEPLOYMENT_FINISHED:
                raise ApiError(422, MSG_ALREADY_FINISHED)
            now = self.clock()
            dd = models.DeviceDeployment
            await session.execute(
                update(dd)
                .where(dd.tenant_id == tenant_id, dd.deployment_id == deployment_id, dd.active.is_(True))
                .values(status=ABORTED, active=False, finished=now)
                .execution_options(synchronize_session=False)
            )
            counts = await session.execute(
                select(dd.status, func.count()).where(dd.tenant_id == tenant_id, dd.deployment_id == deployment_id).group_by(dd.status)
            )
            stats = empty_stats()
            stats.update({status: count for status, count in counts})
            deployment.stats = stats
            deployment.status = DEPLOYMENT_FINISHED
            deployment.finished = now
            self.cache.invalidate_tenant(session, tenant_id)
            after_commit(session, lambda: self.cache.forget_targets(deployment_id))

    async def decommission_device(self, tenant_id: str, device_id: str) -> None:
        """`DELETE /deployments/devices/{id}`: take the device out of every unfinished deployment."""
        async with self.ctx.db.write() as session:
            await self._decommission(session, tenant_id, device_id)

    async def _on_device_decommissioned(self, event: DeviceDecommissioned, session: AsyncSession) -> None:
        await self._decommission(session, event.tenant_id, event.device_id)

    async def _decommission(self, session: AsyncSession, tenant_id: str, device_id: str) -> None:
        """Active device deployments become `decommissioned`; so does the device's part in every unfinished
        deployment that lists it but that it never joined, so that those deployments can still finish."""
        now = self.clock()
        dd = models.DeviceDeployment
        active = list(
            await session.scalars(
                select(dd).where(dd.tenant_id == tenant_id, dd.device_id == device_id, dd.active.is_(True)).order_by(dd.deployment_seq)
            )
        )
        for device_deployment in active:
            deployment = await self._deployment_row(session, tenant_id, device_deployment.deployment_id)
            assert deployment is not None
            self.move_device_deployment(session, deployment, device_deployment, DECOMMISSIONED, now)
        target = models.DeploymentDevice
        unjoined = await session.scalars(
            select(models.Deployment)
            .join(target, target.deployment_id == models.Deployment.id)
            .outerjoin(dd, and_(dd.deployment_id == target.deployment_id, dd.device_id == target.device_id))
            .where(
                target.tenant_id == tenant_id,
                target.device_id == device_id,
                models.Deployment.status != DEPLOYMENT_FINISHED,
                dd.id.is_(None),
            )
            .order_by(models.Deployment.seq)
        )
        for deployment in list(unjoined):
            session.add(
                dd(
                    id=new_id(),
                    tenant_id=tenant_id,
                    deployment_id=deployment.id,
                    device_id=device_id,
                    deployment_seq=deployment.seq,
                    created=deployment.created,
                    started=now,
                    finished=now,
                    status=DECOMMISSIONED,
                    active=False,
                    attempts=0,
                    has_log=False,
                )
            )
            self.count_new_device_deployment(session, deployment, device_id, DECOMMISSIONED, now)

    # --- the device's side ------------------------------------------------------------------------------

    async def next_for_device(
        self, tenant_id: str, device_id: str, request: NextRequest, plan: str = "enterprise"
    ) -> Instructions | None:
        """The device's next update (None: nothing to do, 204). Decides read-only first and takes the write
        path only when the answer changes data (see selection.py)."""
        if self.cache.is_idle(tenant_id, device_id):
            return None
        ticket = self.cache.ticket()
        open_deployments = await self.cache.open_deployments(tenant_id)
        if not open_deployments:
            return None
        matches = await self._prepare_check_in(tenant_id, device_id, open_deployments)
        check_depends = request.with_depends and plan in PLANS_WITH_DEPENDS

        def check_in(session: AsyncSession, write: bool) -> CheckIn:
            # In the write pass the list read before is good enough: a deployment it lacks is newer than all
            # it holds (it could only win where the device gets 204 now, and it will next time), and each
            # deployment it holds is re-read before the device joins it.
            return CheckIn(
                self, session, tenant_id=tenant_id, device_id=device_id, request=request, check_depends=check_depends,
                open_deployments=open_deployments, now=self.clock(), matches=matches, write=write,
            )

        if not self._likely_to_join(device_id, open_deployments):
            async with self.ctx.db.read() as session:
                reading = check_in(session, write=False)
                outcome = await reading.decide()
            if outcome is None and reading.idle_is_lasting:
                self.cache.remember_idle(tenant_id, device_id, ticket)
            if not isinstance(outcome, NeedsWrite):
                return outcome

        async def decide_and_record(session: AsyncSession) -> tuple[Instructions | None, bool]:
            writing = check_in(session, write=True)
            decided = await writing.decide()
            assert not isinstance(decided, NeedsWrite)
            return decided, writing.idle_is_lasting

        outcome, lasting = await self.writes.run((tenant_id, device_id), decide_and_record)
        if outcome is None and lasting:
            self.cache.remember_idle(tenant_id, device_id, ticket)
        return outcome

    async def _prepare_check_in(
        self, tenant_id: str, device_id: str, open_deployments: Sequence[OpenDeployment]
    ) -> dict[str, bool]:
        """What the decision needs from other sessions, fetched before it opens its own: the device lists of
        static deployments (kept in memory once loaded) and whether the device matches each dynamic one."""
        matches = {}
        for deployment in open_deployments:
            if deployment.dynamic:
                matches[deployment.id] = await self.ctx.inventory.device_matches(tenant_id, device_id, list(deployment.filter_terms))
            else:
                await self.cache.targets(tenant_id, deployment.id)
        return matches

    def _likely_to_join(self, device_id: str, open_deployments: Sequence[OpenDeployment]) -> bool:
        """A plain static deployment lists the device: the check-in most likely writes, so the read-only pass
        would only be repeated inside the write transaction."""
        for deployment in open_deployments:
            if deployment.dynamic or deployment.phased:
                continue
            targets = self.cache.kept_targets(deployment.id)
            if targets is not None and device_id in targets:
                return True
        return False

    async def report_status(
        self, tenant_id: str, device_id: str, deployment_id: str, status: str, substate: str | None = None
    ) -> None:
        """A device's progress report. Any change between the reportable statuses is accepted while the
        device deployment is active; a finished one is final (409), as are aborted and decommissioned ones.
        A failure with attempts left puts the device deployment back to pending: the device gets it again."""

        async def record(session: AsyncSession) -> None:
            # Every check comes before the first change (required by the write combiner).
            device_deployment, deployment = await self._device_deployment_with_deployment(session, tenant_id, deployment_id, device_id)
            current = device_deployment.status
            if current == ABORTED:
                raise ApiError(409, MSG_ABORTED)
            if current == DECOMMISSIONED:
                raise ApiError(409, MSG_DECOMMISSIONED)
            if status != current and current in FINAL_STATUSES:
                raise ApiError(409, MSG_DEVICE_DEPLOYMENT_FINISHED)
            if substate is not None:
                device_deployment.substate = substate
            if status == current:
                return
            now = self.clock()
            if status == FAILURE and device_deployment.attempts <= deployment.retries:
                device_deployment.attempts += 1
                self.move_device_deployment(session, deployment, device_deployment, PENDING, now)
                return
            self.move_device_deployment(session, deployment, device_deployment, status, now)

        await self.writes.run((tenant_id, device_id), record)

    async def save_log(self, tenant_id: str, device_id: str, deployment_id: str, messages: list[dict[str, str]]) -> None:
        """Store (replace) the device's deployment log."""

        async def record(session: AsyncSession) -> None:
            device_deployment = await self._device_deployment(session, tenant_id, deployment_id, device_id)
            stored = await session.get(models.DeviceDeploymentLog, device_deployment.id)
            if stored is None:
                session.add(models.DeviceDeploymentLog(device_deployment_id=device_deployment.id, tenant_id=tenant_id, messages=messages))
            else:
                stored.messages = messages
            device_deployment.has_log = True

        await self.writes.run((tenant_id, device_id), record)

    @staticmethod
    async def _device_deployment_with_deployment(
        session: AsyncSession, tenant_id: str, deployment_id: str, device_id: str
    ) -> tuple[models.DeviceDeployment, models.Deployment]:
        dd = models.DeviceDeployment
        row = (
            await session.execute(
                select(dd, models.Deployment)
                .join(models.Deployment, models.Deployment.id == dd.deployment_id)
                .where(dd.tenant_id == tenant_id, dd.deployment_id == deployment_id, dd.device_id == device_id)
            )
        ).one_or_none()
        if row is None:
            raise ApiError(404, MSG_DEPLOYMENT_NOT_FOUND)
        return row[0], row[1]

    @staticmethod
    async def _device_deployment(session: AsyncSession, tenant_id: str, deployment_id: str, device_id: str) -> models.DeviceDeployment:
        dd = models.DeviceDeployment
        row = await session.scalar(
            select(dd).where(dd.tenant_id == tenant_id, dd.deployment_id == deployment_id, dd.device_id == device_id)
        )
        if row is None:
            raise ApiError(404, MSG_DEPLOYMENT_NOT_FOUND)
        return row

    # --- counters and status (inside a write transaction) -----------------------------------------------

    def count_new_device_deployment(
        self, session: AsyncSession, deployment: models.Deployment, device_id: str, status: str, now: datetime
    ) -> None:
        self.cache.invalidate_device(session, deployment.tenant_id, device_id)
        deployment.device_count += 1
        deployment.stats = moved_stats(deployment.stats, None, status)
        self._refresh_status(session, deployment, now)

    def move_device_deployment(
        self, session: AsyncSession, deployment: models.Deployment, device_deployment: models.DeviceDeployment, status: str, now: datetime
    ) -> None:
        self.cache.invalidate_device(session, deployment.tenant_id, device_deployment.device_id)
        deployment.stats = moved_stats(deployment.stats, device_deployment.status, status)
        device_deployment.status = status
        device_deployment.active = status in ACTIVE_STATUSES
        device_deployment.finished = now if status in FINAL_STATUSES else None
        self._refresh_status(session, deployment, now)

    def _refresh_status(self, session: AsyncSession, deployment: models.Deployment, now: datetime) -> None:
        if deployment.status == DEPLOYMENT_FINISHED:
            return  # finished (or aborted) is final
        status = derive_status(deployment.stats, deployment.max_devices, deployment.dynamic)
        if status == deployment.status:
            return
        deployment.status = status
        if status == DEPLOYMENT_FINISHED:
            deployment.finished = now
            self.cache.invalidate_tenant(session, deployment.tenant_id)
            finished_id = deployment.id
            after_commit(session, lambda: self.cache.forget_targets(finished_id))

    # --- artifact records for check-ins -----------------------------------------------------------------

    async def artifact_records(self, session: AsyncSession, tenant_id: str, artifact_ids: Sequence[str]) -> list[ArtifactRecord]:
        """The existing artifacts among `artifact_ids`, from memory when possible."""
        records = [self._artifact_records.get((tenant_id, artifact_id)) for artifact_id in artifact_ids]
        missing = [artifact_id for artifact_id, record in zip(artifact_ids, records) if record is None]
        if missing:
            rows = await session.scalars(
                select(models.Artifact).where(models.Artifact.tenant_id == tenant_id, models.Artifact.id.in_(missing))
            )
            if len(self._artifact_records) > MAX_CACHED_ARTIFACTS:
                self._artifact_records.clear()
            for row in rows:
                self._artifact_records[(tenant_id, row.id)] = ArtifactRecord.from_row(row)
            records = [self._artifact_records.get((tenant_id, artifact_id)) for artifact_id in artifact_ids]
        return [record for record in records if record is not None]

    def _forget_artifacts(self, tenant_id: str, artifact_ids: Sequence[str]) -> None:
        for artifact_id in artifact_ids:
            self._artifact_records.pop((tenant_id, artifact_id), None)

    # --- for the artifacts ------------------------------------------------------------------------------

    async def artifact_in_use(
        self, tenant_id: str, artifact_id: str, unfinished_only: bool, session: AsyncSession | None = None
    ) -> bool:
        """Whether a deployment froze the artifact (`unfinished_only`: a deployment not finished yet).
        Artifacts refuse an edit once any deployment used the artifact (422) and a delete while an unfinished
        one does (409); pass the write session to decide inside the deleting transaction."""
        link = models.DeploymentArtifact
        statement = select(link.deployment_id).where(link.tenant_id == tenant_id, link.artifact_id == artifact_id)
        if unfinished_only:
            statement = statement.join(models.Deployment, models.Deployment.id == link.deployment_id).where(
                models.Deployment.status != DEPLOYMENT_FINISHED
            )
        statement = statement.limit(1)
        if session is not None:
            return await session.scalar(statement) is not None
        async with self.ctx.db.read() as read_session:
            return await read_session.scalar(statement) is not None

