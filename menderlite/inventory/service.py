"""The inventory service layer: the logic and the queries; no aiohttp here."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import CTE, and_, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import new_id, utcnow
from menderlite.events import (
    DeviceAppeared,
    DeviceDecommissioned,
    DeviceStatusChanged,
    EventBus,
)
from menderlite.inventory.filters import (
    DEVICES,
    VALUES,
    Condition,
    DeviceColumn,
    Predicate,
    SortKey,
    parse_predicates,
)
from menderlite.inventory.models import MAX_NAME_LENGTH, SavedFilter
from menderlite.inventory.store import DeviceQuery, DeviceStore, chunked
from menderlite.inventory.values import (
    SCOPE_IDENTITY,
    SCOPE_INVENTORY,
    SCOPE_SYSTEM,
    Attribute,
    identity_value,
)
from menderlite.web import ApiError

if TYPE_CHECKING:
    from menderlite.context import Context

FILTERS = SavedFilter.__table__

DEVICE_NOT_FOUND = "Device not found"
GROUP_NOT_FOUND = "group not found"
FILTER_NOT_FOUND = "filter not found"
NO_DEVICE_IDS = "no device IDs present in payload"
GROUP_NAME_RULE = re.compile(r"[A-Za-z0-9_-]*")
STATUS_ATTRIBUTE = "status"
DECOMMISSIONED = "decommissioned"


def validate_group_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ApiError(400, "Group name cannot be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, f"Group name can at most have {MAX_NAME_LENGTH} characters")
    if not GROUP_NAME_RULE.fullmatch(name):
        raise ApiError(400, "Group name can only contain: upper/lowercase alphanum, -(dash), _(underscore)")
    return name


def validate_device_ids(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ApiError(400, "invalid payload schema: expected a JSON array of device IDs")
    if not raw:
        raise ApiError(400, NO_DEVICE_IDS)
    return list(dict.fromkeys(raw))


def distinct_groups(tenant_id: str) -> CTE:
    """The tenant's group names in order, one index seek per group (a skip scan, also on 100,000 devices):
    each step asks for the least name greater than the previous one."""
    in_tenant = and_(DEVICES.c.tenant_id == tenant_id, DEVICES.c.group_name.is_not(None))
    first = select(func.min(DEVICES.c.group_name).label("name")).where(in_tenant)
    groups = first.cte("groups", recursive=True)
    following = (
        select(func.min(DEVICES.c.group_name)).where(in_tenant, DEVICES.c.group_name > groups.c.name).scalar_subquery()
    )
    return groups.union_all(select(following).where(groups.c.name.is_not(None)))


class InventoryService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = DeviceStore()

    # -----------------------------------------------------------------------------------------------------
    # Reactions to devauth's events (they run inside devauth's write transaction)

    def subscribe(self, events: EventBus) -> None:
        events.subscribe(DeviceAppeared, self.on_device_appeared)
        events.subscribe(DeviceStatusChanged, self.on_device_status_changed)
        events.subscribe(DeviceDecommissioned, self.on_device_decommissioned)

    async def on_device_appeared(self, event: DeviceAppeared, session: AsyncSession) -> None:
        attributes = [
            Attribute(str(name), value)
            for name, raw in event.identity.items()
            if name != STATUS_ATTRIBUTE and (value := identity_value(raw)) is not None
        ]
        attributes.append(Attribute(STATUS_ATTRIBUTE, event.status))
        await self.store.write_attributes(
            session, event.tenant_id, SCOPE_IDENTITY, {event.device_id: attributes}, replace=True
        )

    async def on_device_status_changed(self, event: DeviceStatusChanged, session: AsyncSession) -> None:
        if event.status == DECOMMISSIONED:  # as the real update_device_status workflow does
            await self.store.delete_devices(session, event.tenant_id, list(event.device_ids))
            return
        status = [Attribute(STATUS_ATTRIBUTE, event.status)]
        updates = {device_id: status for device_id in dict.fromkeys(event.device_ids)}
        await self.store.write_attributes(session, event.tenant_id, SCOPE_IDENTITY, updates, replace=False)

    async def on_device_decommissioned(self, event: DeviceDecommissioned, session: AsyncSession) -> None:
        await self.store.delete_devices(session, event.tenant_id, [event.device_id])

    # -----------------------------------------------------------------------------------------------------
    # Writes

    async def upload_attributes(
        self, tenant_id: str, device_id: str, attributes: Sequence[Attribute], *, replace: bool
    ) -> None:
        """A device reports its `inventory` attributes: PATCH merges, PUT (`replace`) also drops the rest."""
        async with self.ctx.db.write() as session:
            await self.store.write_attributes(
                session, tenant_id, SCOPE_INVENTORY, {device_id: list(attributes)}, replace=replace
            )

    async def import_devices(
        self, tenant_id: str, devices: Mapping[str, Mapping[str, Sequence[Attribute]]], *, group: str | None = None
    ) -> None:
        """Bulk upsert: device id -> scope -> attributes (merged). Used by tooling, e.g. the benchmark."""
        async with self.ctx.db.write() as session:
            scopes: dict[str, dict[str, list[Attribute]]] = defaultdict(dict)
            for device_id, by_scope in devices.items():
                for scope, attributes in by_scope.items():
                    scopes[scope][device_id] = list(attributes)
            for scope, updates in scopes.items():
                await self.store.write_attributes(session, tenant_id, scope, updates, replace=False)
            if group is not None:
                await self.store.assign_group(session, tenant_id, validate_group_name(group), list(devices))

    async def create_device(
        self, tenant_id: str, device_id: str, attributes: Sequence[tuple[str | None, Attribute]]
    ) -> None:
        """Internal API: upsert a device with optional attributes (scope as sent, default `inventory`)."""
        by_scope: dict[str, list[Attribute]] = defaultdict(list)
        for scope, attribute in attributes:
            scope = scope or SCOPE_INVENTORY
            if scope == SCOPE_SYSTEM:
                raise ApiError(400, "attributes of scope system are maintained by the inventory service")
            by_scope[scope].append(attribute)
        async with self.ctx.db.write() as session:
            if not by_scope:
                await self.store.ensure_devices(session, tenant_id, [device_id], utcnow())
            for scope, scoped in by_scope.items():
                await self.store.write_attributes(session, tenant_id, scope, {device_id: scoped}, replace=False)

    async def provision_tenant(self, tenant_id: str) -> None:
        """Internal API: nothing is kept per tenant beyond its rows, so there is nothing to set up."""

    async def delete_device(self, tenant_id: str, device_id: str) -> None:
        async with self.ctx.db.write() as session:
            await self.store.delete_devices(session, tenant_id, [device_id])

    # -----------------------------------------------------------------------------------------------------
    # Groups

    async def get_device_group(self, tenant_id: str, device_id: str) -> str | None:
        async with self.ctx.db.read() as session:
            row = (
                await session.execute(
                    select(DEVICES.c.group_name).where(
                        DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id == device_id
                    )
                )
            ).first()
        if row is None:
            raise ApiError(404, DEVICE_NOT_FOUND)
        return row.group_name

    async def set_device_group(self, tenant_id: str, device_id: str, group: Any) -> None:
        name = validate_group_name(group)
        async with self.ctx.db.write() as session:
            result = await session.execute(
                update(DEVICES)
                .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id == device_id)
                .values(group_name=name, updated_ts=utcnow())
            )
            if result.rowcount == 0:
                raise ApiError(404, DEVICE_NOT_FOUND)

    async def clear_device_group(self, tenant_id: str, device_id: str, group: str) -> None:
        async with self.ctx.db.write() as session:
            result = await session.execute(
                update(DEVICES)
                .where(
                    DEVICES.c.tenant_id == tenant_id,
                    DEVICES.c.device_id == device_id,
                    DEVICES.c.group_name == group,
                )
                .values(group_name=None, updated_ts=utcnow())
            )
            if result.rowcount == 0:
                raise ApiError(404, DEVICE_NOT_FOUND)

    async def add_devices_to_group(self, tenant_id: str, group: Any, device_ids: Any) -> dict[str, int]:
        """`matched_count`: listed devices that exist; `updated_count`: those that changed group."""
        name = validate_group_name(group)
        ids = validate_device_ids(device_ids)
        async with self.ctx.db.write() as session:
            matched = 0
            for chunk in chunked(ids):
                matched += (
                    await session.scalar(
                        select(func.count()).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
                    )
                    or 0
                )
            updated = await self.store.assign_group(session, tenant_id, name, ids)
        return {"matched_count": matched, "updated_count": updated}

    async def remove_devices_from_group(self, tenant_id: str, group: str, device_ids: Any) -> dict[str, int]:
        """Clears the group of the listed devices that are in `group`."""
        ids = validate_device_ids(device_ids)
        async with self.ctx.db.write() as session:
            updated = 0
            for chunk in chunked(ids):
                result = await session.execute(
                    update(DEVICES)
                    .where(
                        DEVICES.c.tenant_id == tenant_id,
                        DEVICES.c.device_id.in_(chunk),
                        DEVICES.c.group_name == group,
                    )
                    .values(group_name=None, updated_ts=utcnow())
                )
                updated += result.rowcount
        return {"matched_count": updated, "updated_count": updated}

    async def list_groups(self, tenant_id: str, status: str | None = None) -> list[str]:
        """Distinct group names (sorted); with `status`, only groups holding a device in that status."""
        async with self.ctx.db.read() as session:
            groups = distinct_groups(tenant_id)
            query = select(groups.c.name).where(groups.c.name.is_not(None))
            if status is not None:
                status_key = await self._status_key(session, tenant_id)
                if status_key is None:
                    return []
                member = DEVICES.alias("member")
                values = VALUES.alias("v")
                query = query.where(
                    exists().where(
                        member.c.tenant_id == tenant_id,
                        member.c.group_name == groups.c.name,
                        exists().where(
                            values.c.device_pk == member.c.pk,
                            values.c.attribute_id == status_key,
                            values.c.str_value == status,
                        ),
                    )
                )
            return list((await session.scalars(query)).all())

    async def _status_key(self, session: AsyncSession, tenant_id: str) -> int | None:
        keys = await self.store.attribute_keys(session, tenant_id, {(SCOPE_IDENTITY, STATUS_ATTRIBUTE)})
        key = keys.get((SCOPE_IDENTITY, STATUS_ATTRIBUTE))
        return key.id if key is not None else None

    async def list_group_devices(self, tenant_id: str, group: str, offset: int, limit: int) -> tuple[list[str], int]:
        """Device ids of a group in insertion order, and the group's size; 404 for a group without devices."""
        in_group = and_(DEVICES.c.tenant_id == tenant_id, DEVICES.c.group_name == group)
        async with self.ctx.db.read() as session:
            total = await session.scalar(select(func.count()).where(in_group)) or 0
            if total == 0:
                raise ApiError(404, GROUP_NOT_FOUND)
            ids = await session.scalars(
                select(DEVICES.c.device_id).where(in_group).order_by(DEVICES.c.pk).offset(offset).limit(limit)
            )
            return list(ids.all()), total

    # -----------------------------------------------------------------------------------------------------
    # Devices: show, list, search

    async def get_device(self, tenant_id: str, device_id: str) -> dict[str, Any]:
        async with self.ctx.db.read() as session:
            pk = await session.scalar(
                select(DEVICES.c.pk).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id == device_id)
            )
            if pk is None:
                raise ApiError(404, DEVICE_NOT_FOUND)
            return (await self.store.render(session, tenant_id, [pk]))[0]

    async def list_devices(
        self,
        tenant_id: str,
        *,
        predicates: Sequence[Predicate] = (),
        sort: Sequence[SortKey] = (),
        group: str | None = None,
        has_group: bool | None = None,
        device_ids: Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of rendered devices matching everything given, and the number of matches."""
        conditions: list[Condition] = []
        if group is not None:
            conditions.append(DeviceColumn(DEVICES.c.group_name == group))
        if has_group is not None:
            column = DEVICES.c.group_name
            conditions.append(DeviceColumn(column.is_not(None) if has_group else column.is_(None)))
        if device_ids is not None:
            conditions.append(DeviceColumn(DEVICES.c.device_id.in_(list(device_ids)), narrow=True))
        query = DeviceQuery(predicates, sort, conditions, offset, limit)
        async with self.ctx.db.read() as session:
            pks, total = await self.store.find(session, tenant_id, query)
            return await self.store.render(session, tenant_id, pks), total

    # -----------------------------------------------------------------------------------------------------
    # Saved filters

    async def create_filter(self, tenant_id: str, name: Any, terms: Any) -> str:
        if not isinstance(name, str) or not name:
            raise ApiError(400, "invalid filter: name must be a non-empty string")
        if len(name) > MAX_NAME_LENGTH:
            raise ApiError(400, f"invalid filter: name can have at most {MAX_NAME_LENGTH} characters")
        if terms is None or terms == []:
            raise ApiError(400, "at least one filter term must be provided")
        predicates = parse_predicates(terms)
        filter_id = new_id()
        async with self.ctx.db.write() as session:
            taken = await session.scalar(
                select(FILTERS.c.id).where(FILTERS.c.tenant_id == tenant_id, FILTERS.c.name == name)
            )
            if taken is not None:
                raise ApiError(409, "a filter with this name already exists")
            await session.execute(
                insert(FILTERS).values(
                    id=filter_id,
                    tenant_id=tenant_id,
                    name=name,
                    terms=json.dumps([p.as_json() for p in predicates]),
                    created_ts=utcnow(),
                )
            )
        return filter_id

    async def list_filters(self, tenant_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        async with self.ctx.db.read() as session:
            total = await session.scalar(select(func.count()).where(FILTERS.c.tenant_id == tenant_id)) or 0
            rows = await session.execute(
                select(FILTERS.c.id, FILTERS.c.name, FILTERS.c.terms)
                .where(FILTERS.c.tenant_id == tenant_id)
                .order_by(FILTERS.c.created_ts, FILTERS.c.id)
                .offset(offset)
                .limit(limit)
            )
            return [_filter_json(row) for row in rows], total

    async def get_filter(self, tenant_id: str, filter_id: str) -> dict[str, Any] | None:
        """`{"id", "name", "terms"}` of a saved filter, or None."""
        async with self.ctx.db.read() as session:
            row = (
                await session.execute(
                    select(FILTERS.c.id, FILTERS.c.name, FILTERS.c.terms).where(
                        FILTERS.c.tenant_id == tenant_id, FILTERS.c.id == filter_id
                    )
                )
            ).first()
        return _filter_json(row) if row is not None else None

    async def delete_filter(self, tenant_id: str, filter_id: str) -> None:
        async with self.ctx.db.write() as session:
            await session.execute(delete(FILTERS).where(FILTERS.c.tenant_id == tenant_id, FILTERS.c.id == filter_id))

    async def execute_filter(
        self, tenant_id: str, filter_id: str, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        saved = await self.get_filter(tenant_id, filter_id)
        if saved is None:
            raise ApiError(404, FILTER_NOT_FOUND)
        return await self.list_devices(
            tenant_id, predicates=parse_predicates(saved["terms"]), offset=offset, limit=limit
        )

    # -----------------------------------------------------------------------------------------------------
    # For other services (deployments): filters in the v2 `{scope, attribute, type, value}` form

    async def search_device_ids(self, tenant_id: str, filters: list[dict[str, Any]]) -> list[str]:
        """Ids of every device matching all filters, oldest first."""
        async with self.ctx.db.read() as session:
            pks, _ = await self.store.find(session, tenant_id, DeviceQuery(parse_predicates(filters)))
            return await self.store.device_ids(session, tenant_id, pks)

    async def count_matching(self, tenant_id: str, filters: list[dict[str, Any]]) -> int:
        async with self.ctx.db.read() as session:
            return await self.store.count(session, tenant_id, parse_predicates(filters), ())

    async def device_matches(self, tenant_id: str, device_id: str, filters: list[dict[str, Any]]) -> bool:
        """Whether one device matches all filters (cheap: checked through that device's rows only)."""
        narrow = DeviceColumn(DEVICES.c.device_id == device_id, narrow=True)
        async with self.ctx.db.read() as session:
            return await self.store.count(session, tenant_id, parse_predicates(filters), (narrow,)) > 0

    async def device_ids_in_group(self, tenant_id: str, group: str, status: str | None = None) -> list[str]:
        """Ids of the group's devices, oldest first; `status` keeps those whose identity/status equals it."""
        predicates = [Predicate(SCOPE_IDENTITY, STATUS_ATTRIBUTE, "$eq", status)] if status is not None else []
        in_group = DeviceColumn(DEVICES.c.group_name == group)
        async with self.ctx.db.read() as session:
            pks, _ = await self.store.find(session, tenant_id, DeviceQuery(predicates, conditions=(in_group,)))
            return await self.store.device_ids(session, tenant_id, pks)

    async def groups_of(self, tenant_id: str, device_ids: list[str]) -> dict[str, str | None]:
        """The group of each listed device (None: no group, or no such device)."""
        groups: dict[str, str | None] = dict.fromkeys(device_ids)
        async with self.ctx.db.read() as session:
            for chunk in chunked(list(groups)):
                rows = await session.execute(
                    select(DEVICES.c.device_id, DEVICES.c.group_name).where(
                        DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk)
                    )
                )
                groups.update({device_id: group for device_id, group in rows})
        return groups


def _filter_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "terms": json.loads(row.terms)}
