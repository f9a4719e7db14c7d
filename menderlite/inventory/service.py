"""The inventory service layer: the logic and the queries; no aiohttp here."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import after_commit, new_id, utcnow
from menderlite.events import DeviceAppeared, DeviceDecommissioned, DeviceStatusChanged, EventBus
from menderlite.inventory.filters import (
    DEVICES,
    FALSE,
    VALUES,
    Condition,
    DeviceColumn,
    Match,
    Predicate,
    QueryPlan,
    SortKey,
    ValueTypes,
    all_of,
    condition_for,
    driver_candidates,
    match_rows,
    order_by,
    parse_predicates,
    stored_keys,
    top_level_parts,
    value_types_query,
)
from menderlite.inventory.models import MAX_NAME_LENGTH, AttributeKey, SavedFilter
from menderlite.inventory.values import (
    SCOPE_IDENTITY,
    SCOPE_INVENTORY,
    SCOPE_SYSTEM,
    Attribute,
    Value,
    ValueRow,
    identity_value,
    rows_of,
    to_json,
    value_of,
)
from menderlite.timeutil import rfc3339
from menderlite.web import ApiError

if TYPE_CHECKING:
    from menderlite.context import Context

KEYS = AttributeKey.__table__
FILTERS = SavedFilter.__table__

DEVICE_NOT_FOUND = "Device not found"
GROUP_NOT_FOUND = "group not found"
FILTER_NOT_FOUND = "filter not found"
NO_DEVICE_IDS = "no device IDs present in payload"
GROUP_NAME_RULE = re.compile(r"[A-Za-z0-9_-]*")
STATUS_ATTRIBUTE = "status"

# A positive filter whose index range holds fewer rows than this is a good driver; counting stops here.
ESTIMATE_CAP = 2000
CHUNK = 500  # bound parameters per IN (...) list
SCOPE_ORDER = {SCOPE_IDENTITY: 0, SCOPE_INVENTORY: 1, SCOPE_SYSTEM: 3}

T = TypeVar("T")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


@dataclass(frozen=True)
class StoredAttribute:
    value: Value
    description: str | None


@dataclass(frozen=True)
class DeviceQuery:
    """What to list: filters (ANDed), sort keys, device-table conditions, and the page."""

    predicates: Sequence[Predicate] = ()
    sort: Sequence[SortKey] = ()
    conditions: Sequence[Condition] = ()
    offset: int = 0
    limit: int | None = None


class InventoryService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # (tenant, scope, name) -> attribute key id; keys are never deleted, so entries never go stale.
        self._key_ids: dict[tuple[str, str, str], int] = {}

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
        await self._write_attributes(
            session, event.tenant_id, SCOPE_IDENTITY, {event.device_id: attributes}, replace=True
        )

    async def on_device_status_changed(self, event: DeviceStatusChanged, session: AsyncSession) -> None:
        status = [Attribute(STATUS_ATTRIBUTE, event.status)]
        updates = {device_id: status for device_id in dict.fromkeys(event.device_ids)}
        await self._write_attributes(session, event.tenant_id, SCOPE_IDENTITY, updates, replace=False)

    async def on_device_decommissioned(self, event: DeviceDecommissioned, session: AsyncSession) -> None:
        await self._delete_devices(session, event.tenant_id, [event.device_id])

    # -----------------------------------------------------------------------------------------------------
    # Writes

    async def upload_attributes(
        self, tenant_id: str, device_id: str, attributes: Sequence[Attribute], *, replace: bool
    ) -> None:
        """A device reports its `inventory` attributes: PATCH merges, PUT (`replace`) also drops the rest."""
        async with self.ctx.db.write() as session:
            await self._write_attributes(
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
                await self._write_attributes(session, tenant_id, scope, updates, replace=False)
            if group is not None:
                await self._assign_group(session, tenant_id, validate_group_name(group), list(devices))

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
                await self._ensure_devices(session, tenant_id, [device_id], utcnow())
            for scope, scoped in by_scope.items():
                await self._write_attributes(session, tenant_id, scope, {device_id: scoped}, replace=False)

    async def provision_tenant(self, tenant_id: str) -> None:
        """Internal API: nothing is kept per tenant beyond its rows, so there is nothing to set up."""

    async def delete_device(self, tenant_id: str, device_id: str) -> None:
        async with self.ctx.db.write() as session:
            await self._delete_devices(session, tenant_id, [device_id])

    async def _delete_devices(self, session: AsyncSession, tenant_id: str, device_ids: Sequence[str]) -> None:
        for chunk in chunked(device_ids):
            pks = select(DEVICES.c.pk).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
            await session.execute(delete(VALUES).where(VALUES.c.device_pk.in_(pks)))
            await session.execute(
                delete(DEVICES).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
            )

    async def _ensure_devices(
        self, session: AsyncSession, tenant_id: str, device_ids: Sequence[str], now: datetime
    ) -> tuple[dict[str, int], set[int]]:
        """Device id -> pk for every id, creating missing devices; bumps `updated_ts`. Also returns the
        pks created now."""
        pks: dict[str, int] = {}
        for chunk in chunked(device_ids):
            found = await session.execute(
                select(DEVICES.c.device_id, DEVICES.c.pk).where(
                    DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk)
                )
            )
            pks.update({device_id: pk for device_id, pk in found})
            await session.execute(
                update(DEVICES)
                .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
                .values(updated_ts=now)
            )
        missing = [device_id for device_id in device_ids if device_id not in pks]
        created: set[int] = set()
        if missing:
            rows = [{"tenant_id": tenant_id, "device_id": d, "created_ts": now, "updated_ts": now} for d in missing]
            result = await session.execute(insert(DEVICES).returning(DEVICES.c.device_id, DEVICES.c.pk), rows)
            for device_id, pk in result:
                pks[device_id] = pk
                created.add(pk)
        return pks, created

    async def _ensure_keys(self, session: AsyncSession, tenant_id: str, scope: str, names: Iterable[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        missing = []
        for name in dict.fromkeys(names):
            cached = self._key_ids.get((tenant_id, scope, name))
            if cached is None:
                missing.append(name)
            else:
                ids[name] = cached
        if not missing:
            return ids
        learned: dict[str, int] = {}
        for chunk in chunked(missing):
            found = await session.execute(
                select(KEYS.c.name, KEYS.c.id).where(
                    KEYS.c.tenant_id == tenant_id, KEYS.c.scope == scope, KEYS.c.name.in_(chunk)
                )
            )
            learned.update({name: key_id for name, key_id in found})
        new = [name for name in missing if name not in learned]
        if new:
            result = await session.execute(
                insert(KEYS).returning(KEYS.c.name, KEYS.c.id),
                [{"tenant_id": tenant_id, "scope": scope, "name": name} for name in new],
            )
            learned.update({name: key_id for name, key_id in result})

        def remember() -> None:  # only committed keys enter the cache
            for name, key_id in learned.items():
                self._key_ids[(tenant_id, scope, name)] = key_id

        after_commit(session, remember)
        return {**ids, **learned}

    async def _load_scope(
        self, session: AsyncSession, tenant_id: str, scope: str, pks: Sequence[int]
    ) -> dict[int, dict[int, StoredAttribute]]:
        rows: dict[int, dict[int, list[tuple[ValueRow, str | None]]]] = defaultdict(lambda: defaultdict(list))
        for chunk in chunked(pks):
            result = await session.execute(
                select(
                    VALUES.c.device_pk,
                    VALUES.c.attribute_id,
                    VALUES.c.element,
                    VALUES.c.str_value,
                    VALUES.c.num_value,
                    VALUES.c.description,
                )
                .join(KEYS, KEYS.c.id == VALUES.c.attribute_id)
                .join(DEVICES, DEVICES.c.pk == VALUES.c.device_pk)
                .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.pk.in_(chunk), KEYS.c.scope == scope)
            )
            for pk, attribute_id, element, text, number, description in result:
                rows[pk][attribute_id].append((ValueRow(element, text, number), description))
        return {
            pk: {attribute_id: _stored(value_rows) for attribute_id, value_rows in attributes.items()}
            for pk, attributes in rows.items()
        }

    async def _write_attributes(
        self,
        session: AsyncSession,
        tenant_id: str,
        scope: str,
        updates: Mapping[str, Sequence[Attribute]],
        *,
        replace: bool,
    ) -> None:
        """Upsert attributes of one scope for many devices (creating devices); `replace` drops the scope's
        attributes that are not listed. Unchanged attributes are not rewritten."""
        pks, created = await self._ensure_devices(session, tenant_id, list(updates), utcnow())
        key_ids = await self._ensure_keys(session, tenant_id, scope, (a.name for attrs in updates.values() for a in attrs))
        existing = [pk for pk in pks.values() if pk not in created]
        current = await self._load_scope(session, tenant_id, scope, existing) if existing else {}
        stale: list[dict[str, int]] = []
        fresh: list[dict[str, Any]] = []
        for device_id, attributes in updates.items():
            pk = pks[device_id]
            before = current.get(pk, {})
            wanted = {key_ids[attribute.name]: attribute for attribute in attributes}  # the last one wins
            for attribute_id, attribute in wanted.items():
                old = before.get(attribute_id)
                description = attribute.description if attribute.description is not None else (old and old.description)
                if old is not None and old.value == attribute.value and old.description == description:
                    continue
                if old is not None:
                    stale.append({"pk": pk, "attribute": attribute_id})
                fresh.extend(_value_rows(tenant_id, pk, attribute_id, attribute.value, description))
            if replace:
                stale.extend({"pk": pk, "attribute": gone} for gone in before.keys() - wanted.keys())
        if stale:
            await session.execute(
                delete(VALUES).where(
                    VALUES.c.device_pk == bindparam("pk"), VALUES.c.attribute_id == bindparam("attribute")
                ),
                stale,
            )
        if fresh:
            await session.execute(insert(VALUES), fresh)

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
                matched += await session.scalar(
                    select(func.count()).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
                ) or 0
            updated = await self._assign_group(session, tenant_id, name, ids)
        return {"matched_count": matched, "updated_count": updated}

    async def _assign_group(self, session: AsyncSession, tenant_id: str, group: str, device_ids: Sequence[str]) -> int:
        updated = 0
        for chunk in chunked(device_ids):
            result = await session.execute(
                update(DEVICES)
                .where(
                    DEVICES.c.tenant_id == tenant_id,
                    DEVICES.c.device_id.in_(chunk),
                    (DEVICES.c.group_name.is_(None)) | (DEVICES.c.group_name != group),
                )
                .values(group_name=group, updated_ts=utcnow())
            )
            updated += result.rowcount
        return updated

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
            groups = (
                select(DEVICES.c.group_name)
                .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.group_name.is_not(None))
                .distinct()
                .subquery("g")
            )
            query = select(groups.c.group_name).order_by(groups.c.group_name)
            if status is not None:
                status_key = await self._status_key(session, tenant_id, status)
                if status_key is None:
                    return []
                member = DEVICES.alias("member")
                values = VALUES.alias("v")
                query = query.where(
                    exists().where(
                        member.c.tenant_id == tenant_id,
                        member.c.group_name == groups.c.group_name,
                        exists().where(
                            values.c.device_pk == member.c.pk,
                            values.c.attribute_id == status_key,
                            values.c.str_value == status,
                        ),
                    )
                )
            return list((await session.scalars(query)).all())

    async def _status_key(self, session: AsyncSession, tenant_id: str, status: str) -> int | None:
        ids = await self._attribute_ids(session, tenant_id, {(SCOPE_IDENTITY, STATUS_ATTRIBUTE)})
        return ids.get((SCOPE_IDENTITY, STATUS_ATTRIBUTE))

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
            return (await self._render(session, tenant_id, [pk]))[0]

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
            pks, total = await self._find(session, tenant_id, query)
            return await self._render(session, tenant_id, pks), total

    async def _attribute_ids(
        self, session: AsyncSession, tenant_id: str, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        ids: dict[tuple[str, str], int] = {}
        unknown: list[tuple[str, str]] = []
        for scope, name in keys:
            cached = self._key_ids.get((tenant_id, scope, name))
            if cached is None:
                unknown.append((scope, name))
            else:
                ids[(scope, name)] = cached
        for scope, name in unknown:  # filters name a handful of attributes
            key_id = await session.scalar(
                select(KEYS.c.id).where(KEYS.c.tenant_id == tenant_id, KEYS.c.scope == scope, KEYS.c.name == name)
            )
            if key_id is not None:
                ids[(scope, name)] = key_id
                self._key_ids[(tenant_id, scope, name)] = key_id
        return ids

    async def _value_types(
        self,
        session: AsyncSession,
        tenant_id: str,
        sort: Sequence[SortKey],
        ids: Mapping[tuple[str, str], int],
    ) -> dict[int, ValueTypes]:
        types: dict[int, ValueTypes] = {}
        for key in sort:
            attribute_id = ids.get((key.scope, key.attribute))
            if attribute_id is not None and attribute_id not in types:
                strings, numbers = (await session.execute(value_types_query(tenant_id, attribute_id))).one()
                if strings or numbers:
                    types[attribute_id] = ValueTypes(bool(strings), bool(numbers))
        return types

    async def _plan(self, session: AsyncSession, tenant_id: str, condition: Condition) -> QueryPlan:
        """Pick the positive filter with the fewest index rows to drive the query (counting up to a cap)."""
        plan = QueryPlan(tenant_id, top_level_parts(condition))
        if condition is FALSE:
            plan.empty = True
            return plan
        best: tuple[int, Match] | None = None
        for match in driver_candidates(plan.parts):
            if match.index_rows is None:
                estimate = ESTIMATE_CAP + 1  # only a full walk could tell: drive with it as a last resort
            else:
                capped = match_rows(match, tenant_id, index_only=True).limit(ESTIMATE_CAP).subquery()
                estimate = await session.scalar(select(func.count()).select_from(capped)) or 0
                if estimate == 0:
                    plan.empty = True  # a conjunct that nothing satisfies
                    return plan
            if best is None or estimate < best[0]:
                best = (estimate, match)
        plan.driver = best[1] if best else None
        return plan

    async def _find(self, session: AsyncSession, tenant_id: str, query: DeviceQuery) -> tuple[list[int], int]:
        """Device pks of the requested page (all matches when `limit` is None) and the number of matches."""
        ids = await self._attribute_ids(session, tenant_id, stored_keys(query.predicates, query.sort))
        condition = all_of([*(condition_for(p, ids) for p in query.predicates), *query.conditions])
        plan = await self._plan(session, tenant_id, condition)
        if plan.empty:
            return [], 0
        where = plan.where()
        ordering = order_by(query.sort, ids, await self._value_types(session, tenant_id, query.sort, ids))
        if query.limit is None:
            pks = list((await session.scalars(select(DEVICES.c.pk).where(*where).order_by(*ordering))).all())
            return pks, len(pks)
        if not plan.parts:  # every device of the tenant: the index answers both cheaply
            total = await session.scalar(select(func.count()).where(*where)) or 0
            page = await session.scalars(
                select(DEVICES.c.pk).where(*where).order_by(*ordering).offset(query.offset).limit(query.limit)
            )
            return list(page.all()), total
        # Filtered: evaluate the filters once for both the page and the total.
        rows = (
            await session.execute(
                select(DEVICES.c.pk, func.count().over().label("total"))
                .where(*where)
                .order_by(*ordering)
                .offset(query.offset)
                .limit(query.limit)
            )
        ).all()
        if rows:
            return [row.pk for row in rows], rows[0].total
        total = await session.scalar(select(func.count()).where(*where)) if query.offset else 0
        return [], total or 0

    async def _render(self, session: AsyncSession, tenant_id: str, pks: Sequence[int]) -> list[dict[str, Any]]:
        """Devices as the API shows them, in the order of `pks`."""
        if not pks:
            return []
        devices = {
            row.pk: row
            for row in await session.execute(
                select(
                    DEVICES.c.pk, DEVICES.c.device_id, DEVICES.c.group_name, DEVICES.c.created_ts, DEVICES.c.updated_ts
                ).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.pk.in_(list(pks)))
            )
        }
        collected: dict[int, dict[tuple[str, str], list[tuple[ValueRow, str | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        result = await session.execute(
            select(
                VALUES.c.device_pk,
                KEYS.c.scope,
                KEYS.c.name,
                VALUES.c.element,
                VALUES.c.str_value,
                VALUES.c.num_value,
                VALUES.c.description,
            )
            .join(KEYS, KEYS.c.id == VALUES.c.attribute_id)
            .join(DEVICES, DEVICES.c.pk == VALUES.c.device_pk)
            .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.pk.in_(list(pks)))
        )
        for pk, scope, name, element, text, number, description in result:
            collected[pk][(scope, name)].append((ValueRow(element, text, number), description))
        return [_device_json(devices[pk], collected.get(pk, {})) for pk in pks if pk in devices]

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
            pks, _ = await self._find(session, tenant_id, DeviceQuery(parse_predicates(filters)))
            return await self._device_ids(session, tenant_id, pks)

    async def count_matching(self, tenant_id: str, filters: list[dict[str, Any]]) -> int:
        async with self.ctx.db.read() as session:
            return await self._count(session, tenant_id, parse_predicates(filters), ())

    async def device_matches(self, tenant_id: str, device_id: str, filters: list[dict[str, Any]]) -> bool:
        """Whether one device matches all filters (cheap: checked through that device's rows only)."""
        narrow = DeviceColumn(DEVICES.c.device_id == device_id, narrow=True)
        async with self.ctx.db.read() as session:
            return await self._count(session, tenant_id, parse_predicates(filters), (narrow,)) > 0

    async def device_ids_in_group(self, tenant_id: str, group: str, status: str | None = None) -> list[str]:
        """Ids of the group's devices, oldest first; `status` keeps those whose identity/status equals it."""
        predicates = [Predicate(SCOPE_IDENTITY, STATUS_ATTRIBUTE, "$eq", status)] if status is not None else []
        in_group = DeviceColumn(DEVICES.c.group_name == group)
        async with self.ctx.db.read() as session:
            pks, _ = await self._find(session, tenant_id, DeviceQuery(predicates, conditions=(in_group,)))
            return await self._device_ids(session, tenant_id, pks)

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

    async def _count(
        self, session: AsyncSession, tenant_id: str, predicates: Sequence[Predicate], conditions: Sequence[Condition]
    ) -> int:
        ids = await self._attribute_ids(session, tenant_id, stored_keys(predicates))
        condition = all_of([*(condition_for(p, ids) for p in predicates), *conditions])
        plan = await self._plan(session, tenant_id, condition)
        if plan.empty:
            return 0
        return await session.scalar(select(func.count()).where(*plan.where())) or 0

    async def _device_ids(self, session: AsyncSession, tenant_id: str, pks: Sequence[int]) -> list[str]:
        by_pk: dict[int, str] = {}
        for chunk in chunked(pks):
            rows = await session.execute(
                select(DEVICES.c.pk, DEVICES.c.device_id).where(
                    DEVICES.c.tenant_id == tenant_id, DEVICES.c.pk.in_(chunk)
                )
            )
            by_pk.update({pk: device_id for pk, device_id in rows})
        return [by_pk[pk] for pk in pks if pk in by_pk]


def _stored(rows: list[tuple[ValueRow, str | None]]) -> StoredAttribute:
    description = next((text for _, text in sorted(rows, key=lambda r: r[0].element) if text is not None), None)
    return StoredAttribute(value_of(row for row, _ in rows), description)


def _value_rows(tenant_id: str, pk: int, attribute_id: int, value: Value, description: str | None) -> Iterator[dict[str, Any]]:
    for index, row in enumerate(rows_of(value)):
        yield {
            "device_pk": pk,
            "attribute_id": attribute_id,
            "element": row.element,
            "tenant_id": tenant_id,
            "str_value": row.str_value,
            "num_value": row.num_value,
            "description": description if index == 0 else None,
        }


def _device_json(device: Any, attributes: Mapping[tuple[str, str], list[tuple[ValueRow, str | None]]]) -> dict[str, Any]:
    rendered = []
    for (scope, name), rows in sorted(attributes.items(), key=lambda item: (SCOPE_ORDER.get(item[0][0], 2), item[0])):
        stored = _stored(rows)
        attribute: dict[str, Any] = {"name": name, "value": to_json(stored.value), "scope": scope}
        if stored.description:
            attribute["description"] = stored.description
        rendered.append(attribute)
    updated = rfc3339(device.updated_ts)
    if device.group_name is not None:
        rendered.append({"name": "group", "value": device.group_name, "scope": SCOPE_SYSTEM})
    rendered.append({"name": "created_ts", "value": rfc3339(device.created_ts), "scope": SCOPE_SYSTEM})
    rendered.append({"name": "updated_ts", "value": updated, "scope": SCOPE_SYSTEM})
    return {"id": device.device_id, "attributes": rendered, "updated_ts": updated}


def _filter_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "terms": json.loads(row.terms)}
