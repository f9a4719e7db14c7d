"""Row-level work on the inventory tables inside a caller's session: writing attribute values, planning and
running device queries, rendering devices. The service layer owns the transactions and the validation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import after_commit, utcnow
from menderlite.inventory.filters import (
    DEVICES,
    FALSE,
    VALUES,
    Condition,
    Match,
    Predicate,
    SortKey,
    all_of,
    condition_for,
    stored_keys,
)
from menderlite.inventory.models import (
    EMPTY_ARRAY,
    KIND_MULTI,
    KIND_NUMBER,
    KIND_STRING,
    SCALAR,
    AttributeKey,
)
from menderlite.inventory.query import (
    ESTIMATE_CAP,
    QueryPlan,
    Segment,
    StoredKey,
    driver_candidates,
    is_narrow,
    match_rows,
    order_by,
    sort_segments,
    sorts_by_device_index,
    top_level_parts,
)
from menderlite.inventory.values import (
    SCOPE_IDENTITY,
    SCOPE_INVENTORY,
    SCOPE_SYSTEM,
    Attribute,
    Value,
    ValueRow,
    json_number,
    rows_of,
    value_of,
)
from menderlite.timeutil import rfc3339

KEYS = AttributeKey.__table__

# Pages up to this deep of a query without a selective filter are found by walking the devices in order.
WALK_LIMIT = 1000
CHUNK = 500  # bound parameters per IN (...) list
SCOPE_ORDER = {SCOPE_IDENTITY: 0, SCOPE_INVENTORY: 1, SCOPE_SYSTEM: 3}

T = TypeVar("T")

# The statements of a device's inventory upload, built once: building (and keying for the compiled cache) a
# statement costs more than SQLite takes to run it. Tenant filters are bound parameters like the rest.
_TOUCH_DEVICE = (
    update(DEVICES)
    .where(DEVICES.c.tenant_id == bindparam("tenant"), DEVICES.c.device_id == bindparam("device"))
    .values(updated_ts=bindparam("now", type_=DEVICES.c.updated_ts.type))
    .returning(DEVICES.c.device_id, DEVICES.c.pk)
)
_TOUCH_DEVICES = (
    update(DEVICES)
    .where(DEVICES.c.tenant_id == bindparam("tenant"), DEVICES.c.device_id.in_(bindparam("devices", expanding=True)))
    .values(updated_ts=bindparam("now", type_=DEVICES.c.updated_ts.type))
    .returning(DEVICES.c.device_id, DEVICES.c.pk)
)
_SCOPE_COLUMNS = (
    VALUES.c.device_pk,
    VALUES.c.attribute_id,
    VALUES.c.element,
    VALUES.c.str_value,
    VALUES.c.num_value,
    VALUES.c.description,
)
_SCOPE_VALUES_OF_DEVICE = (
    select(*_SCOPE_COLUMNS)
    .join(KEYS, KEYS.c.id == VALUES.c.attribute_id)
    .where(VALUES.c.tenant_id == bindparam("tenant"), VALUES.c.device_pk == bindparam("pk"), KEYS.c.scope == bindparam("scope"))
)
_SCOPE_VALUES = (
    select(*_SCOPE_COLUMNS)
    .join(KEYS, KEYS.c.id == VALUES.c.attribute_id)
    .where(
        VALUES.c.tenant_id == bindparam("tenant"),
        VALUES.c.device_pk.in_(bindparam("pks", expanding=True)),
        KEYS.c.scope == bindparam("scope"),
    )
)
_DELETE_VALUE = delete(VALUES).where(VALUES.c.device_pk == bindparam("pk"), VALUES.c.attribute_id == bindparam("attribute"))
_INSERT_VALUE = insert(VALUES)


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


class DeviceStore:
    def __init__(self) -> None:
        # (tenant, scope, name) -> key. Keys are never deleted and their kinds only widen; a cached entry is
        # widened after the commit that widened its row.
        self._keys: dict[tuple[str, str, str], StoredKey] = {}

    async def ensure_devices(
        self, session: AsyncSession, tenant_id: str, device_ids: Sequence[str], now: datetime
    ) -> tuple[dict[str, int], set[int]]:
        """Device id -> pk for every id, creating missing devices; bumps `updated_ts`. Also returns the
        pks created now."""
        pks: dict[str, int] = {}
        if len(device_ids) == 1:  # a device's own upload
            found = await session.execute(_TOUCH_DEVICE, {"tenant": tenant_id, "device": device_ids[0], "now": now})
            pks.update({device_id: pk for device_id, pk in found})
        else:
            for chunk in chunked(device_ids):
                found = await session.execute(_TOUCH_DEVICES, {"tenant": tenant_id, "devices": list(chunk), "now": now})
                pks.update({device_id: pk for device_id, pk in found})
        missing = [device_id for device_id in device_ids if device_id not in pks]
        created: set[int] = set()
        if missing:
            rows = [{"tenant_id": tenant_id, "device_id": d, "created_ts": now, "updated_ts": now} for d in missing]
            result = await session.execute(insert(DEVICES).returning(DEVICES.c.device_id, DEVICES.c.pk), rows)
            for device_id, pk in result:
                pks[device_id] = pk
                created.add(pk)
        return pks, created

    async def ensure_keys(
        self, session: AsyncSession, tenant_id: str, scope: str, names: Iterable[str]
    ) -> dict[str, StoredKey]:
        """The key of each name in `scope`, creating missing ones."""
        keys: dict[str, StoredKey] = {}
        missing = []
        for name in dict.fromkeys(names):
            cached = self._keys.get((tenant_id, scope, name))
            if cached is None:
                missing.append(name)
            else:
                keys[name] = cached
        if not missing:
            return keys
        learned: dict[str, StoredKey] = {}
        for chunk in chunked(missing):
            found = await session.execute(
                select(KEYS.c.name, KEYS.c.id, KEYS.c.kinds).where(
                    KEYS.c.tenant_id == tenant_id, KEYS.c.scope == scope, KEYS.c.name.in_(chunk)
                )
            )
            learned.update({name: StoredKey(key_id, kinds) for name, key_id, kinds in found})
        new = [name for name in missing if name not in learned]
        if new:
            result = await session.execute(
                insert(KEYS).returning(KEYS.c.name, KEYS.c.id),
                [{"tenant_id": tenant_id, "scope": scope, "name": name, "kinds": 0} for name in new],
            )
            learned.update({name: StoredKey(key_id, 0) for name, key_id in result})

        def remember() -> None:  # only committed keys enter the cache
            for name, key in learned.items():
                self._keys.setdefault((tenant_id, scope, name), key)

        after_commit(session, remember)
        return {**keys, **learned}

    async def widen_kinds(
        self, session: AsyncSession, tenant_id: str, scope: str, keys: Mapping[str, StoredKey], kinds: Mapping[int, int]
    ) -> None:
        """Record value kinds an attribute holds for the first time (`kinds`: key id -> KIND_* bits)."""
        widened = {name: kinds[key.id] for name, key in keys.items() if kinds.get(key.id, 0) & ~key.kinds}
        if not widened:
            return
        await session.execute(
            update(KEYS).where(KEYS.c.id == bindparam("key_id")).values(kinds=KEYS.c.kinds.op("|")(bindparam("bits"))),
            [{"key_id": keys[name].id, "bits": bits} for name, bits in widened.items()],
        )

        def remember() -> None:
            for name, bits in widened.items():
                cached = self._keys.get((tenant_id, scope, name)) or keys[name]
                self._keys[(tenant_id, scope, name)] = StoredKey(cached.id, cached.kinds | bits)

        after_commit(session, remember)

    async def load_scope(
        self, session: AsyncSession, tenant_id: str, scope: str, pks: Sequence[int]
    ) -> dict[int, dict[int, StoredAttribute]]:
        rows: dict[int, dict[int, list[tuple[ValueRow, str | None]]]] = defaultdict(lambda: defaultdict(list))
        for chunk in chunked(pks):
            if len(chunk) == 1:
                parameters: dict[str, Any] = {"tenant": tenant_id, "scope": scope, "pk": chunk[0]}
                result = await session.execute(_SCOPE_VALUES_OF_DEVICE, parameters)
            else:
                result = await session.execute(_SCOPE_VALUES, {"tenant": tenant_id, "scope": scope, "pks": list(chunk)})
            for pk, attribute_id, element, text, number, description in result:
                rows[pk][attribute_id].append((ValueRow(element, text, number), description))
        return {
            pk: {attribute_id: _stored(value_rows) for attribute_id, value_rows in attributes.items()}
            for pk, attributes in rows.items()
        }

    async def write_attributes(
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
        pks, created = await self.ensure_devices(session, tenant_id, list(updates), utcnow())
        keys = await self.ensure_keys(session, tenant_id, scope, (a.name for attrs in updates.values() for a in attrs))
        existing = [pk for pk in pks.values() if pk not in created]
        current = await self.load_scope(session, tenant_id, scope, existing) if existing else {}
        stale: list[dict[str, int]] = []
        fresh: list[dict[str, Any]] = []
        kinds: dict[int, int] = defaultdict(int)
        for device_id, attributes in updates.items():
            pk = pks[device_id]
            before = current.get(pk, {})
            wanted = {keys[attribute.name].id: attribute for attribute in attributes}  # the last one wins
            for attribute_id, attribute in wanted.items():
                old = before.get(attribute_id)
                description = attribute.description if attribute.description is not None else (old and old.description)
                if old is not None and old.value == attribute.value and old.description == description:
                    continue
                if old is not None:
                    stale.append({"pk": pk, "attribute": attribute_id})
                fresh.extend(_value_rows(tenant_id, pk, attribute_id, attribute.value, description))
                kinds[attribute_id] |= kinds_of(attribute.value)
            if replace:
                stale.extend({"pk": pk, "attribute": gone} for gone in before.keys() - wanted.keys())
        if stale:
            await session.execute(_DELETE_VALUE, stale)
        if fresh:
            await session.execute(_INSERT_VALUE, fresh)
        await self.widen_kinds(session, tenant_id, scope, keys, kinds)

    async def delete_devices(self, session: AsyncSession, tenant_id: str, device_ids: Sequence[str]) -> None:
        for chunk in chunked(device_ids):
            pks = select(DEVICES.c.pk).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
            await session.execute(delete(VALUES).where(VALUES.c.device_pk.in_(pks)))
            await session.execute(
                delete(DEVICES).where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.device_id.in_(chunk))
            )

    async def assign_group(self, session: AsyncSession, tenant_id: str, group: str, device_ids: Sequence[str]) -> int:
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

    async def attribute_keys(
        self, session: AsyncSession, tenant_id: str, names: set[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredKey]:
        """The keys of the (scope, name) pairs that exist in the tenant."""
        keys: dict[tuple[str, str], StoredKey] = {}
        for scope, name in names:  # filters and sorts name a handful of attributes
            cached = self._keys.get((tenant_id, scope, name))
            if cached is None:
                row = (
                    await session.execute(
                        select(KEYS.c.id, KEYS.c.kinds).where(
                            KEYS.c.tenant_id == tenant_id, KEYS.c.scope == scope, KEYS.c.name == name
                        )
                    )
                ).first()
                if row is None:
                    continue
                cached = self._keys.setdefault((tenant_id, scope, name), StoredKey(row.id, row.kinds))
            keys[(scope, name)] = cached
        return keys

    async def plan(self, session: AsyncSession, tenant_id: str, condition: Condition) -> QueryPlan:
        """Pick the positive filter with the fewest index rows to drive the query (counting up to a cap)."""
        plan = QueryPlan(tenant_id, top_level_parts(condition), narrow=is_narrow(top_level_parts(condition)))
        if condition is FALSE:
            plan.empty = True
            return plan
        if plan.narrow:
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
        if best is not None:
            plan.estimate, plan.driver = best
        return plan

    async def find(self, session: AsyncSession, tenant_id: str, query: DeviceQuery) -> tuple[list[int], int]:
        """Device pks of the requested page (all matches when `limit` is None) and the number of matches."""
        keys = await self.attribute_keys(session, tenant_id, stored_keys(query.predicates, query.sort))
        plan = await self.plan(session, tenant_id, self.condition(keys, query.predicates, query.conditions))
        if plan.empty:
            return [], 0
        where = plan.where()
        ordering = order_by(query.sort, keys)
        if query.limit is None:
            pks = (await session.scalars(ordering.apply(select(DEVICES.c.pk).where(*where)))).all()
            return list(pks), len(pks)
        shallow = query.offset + query.limit <= WALK_LIMIT
        segmented = self.segmented_sort_key(query.sort, keys)
        if segmented is not None and shallow and plan.walkable:
            total = await self.total(session, plan, keys)
            segments = sort_segments(plan, segmented, query.sort[0].descending)
            return await self.read_segments(session, segments, query.offset, query.limit), total
        walk = plan.walkable and shallow and (not query.sort or sorts_by_device_index(query.sort))
        if not plan.parts or walk:  # the page by walking the devices in (index) order, the total apart
            total = await self.total(session, plan, keys)
            page = await session.scalars(
                ordering.apply(select(DEVICES.c.pk).where(*plan.where(walk=walk)))
                .offset(query.offset)
                .limit(query.limit)
            )
            return list(page.all()), total
        # Selective filters or a sort: evaluate the filters once for both the page and the total.
        windowed = select(DEVICES.c.pk, func.count().over().label("total")).where(*where)
        rows = (await session.execute(ordering.apply(windowed).offset(query.offset).limit(query.limit))).all()
        if rows:
            return [row.pk for row in rows], rows[0].total
        total = await self.total(session, plan, keys) if query.offset else 0
        return [], total

    @staticmethod
    def segmented_sort_key(sort: Sequence[SortKey], keys: Mapping[tuple[str, str], StoredKey]) -> StoredKey | None:
        """The key of a sort that index order can serve: one stored attribute with one value per device."""
        if len(sort) != 1:
            return None
        key = keys.get((sort[0].scope, sort[0].attribute))
        return key if key is not None and not key.multi and (key.strings or key.numbers) else None

    async def read_segments(
        self, session: AsyncSession, segments: Sequence[Segment], offset: int, limit: int
    ) -> list[int]:
        """A page of the concatenated segments, reading each only as far as the page needs."""
        page: list[int] = []
        skip = offset
        for segment in segments:
            wanted = limit - len(page)
            if wanted == 0:
                break
            if segment.upper_bound is not None and (await session.scalar(segment.upper_bound) or 0) <= 0:
                continue
            rows = (await session.scalars(segment.rows.offset(skip).limit(wanted))).all()
            page.extend(rows)
            if rows:
                skip = 0
            elif skip:  # the page starts beyond this segment: skip what it holds
                held = select(func.count()).select_from(segment.rows.limit(skip).subquery())
                skip -= await session.scalar(held) or 0
        return page

    async def total(self, session: AsyncSession, plan: QueryPlan, keys: Mapping[tuple[str, str], StoredKey]) -> int:
        """The number of devices matching `plan`."""
        single_valued = {key.id for key in keys.values() if not key.multi}
        from_driver = plan.driver_count() if plan.driver and plan.driver.attribute_id in single_valued else None
        if from_driver is not None:  # one index row per matching device: no need to visit the devices
            return await session.scalar(from_driver) or 0
        return await session.scalar(select(func.count()).where(*plan.where())) or 0

    @staticmethod
    def condition(
        keys: Mapping[tuple[str, str], StoredKey], predicates: Sequence[Predicate], conditions: Sequence[Condition]
    ) -> Condition:
        ids = {name: key.id for name, key in keys.items()}
        return all_of([*(condition_for(predicate, ids) for predicate in predicates), *conditions])

    async def count(
        self, session: AsyncSession, tenant_id: str, predicates: Sequence[Predicate], conditions: Sequence[Condition]
    ) -> int:
        keys = await self.attribute_keys(session, tenant_id, stored_keys(predicates))
        plan = await self.plan(session, tenant_id, self.condition(keys, predicates, conditions))
        return 0 if plan.empty else await self.total(session, plan, keys)

    async def render(self, session: AsyncSession, tenant_id: str, pks: Sequence[int]) -> list[dict[str, Any]]:
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
        collected: dict[int, dict[tuple[str, str], list[RenderRow]]] = defaultdict(lambda: defaultdict(list))
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
            collected[pk][(scope, name)].append((element, text, number, description))
        return [_device_json(devices[pk], collected.get(pk, {})) for pk in pks if pk in devices]

    async def device_ids(self, session: AsyncSession, tenant_id: str, pks: Sequence[int]) -> list[str]:
        by_pk: dict[int, str] = {}
        for chunk in chunked(pks):
            rows = await session.execute(
                select(DEVICES.c.pk, DEVICES.c.device_id).where(
                    DEVICES.c.tenant_id == tenant_id, DEVICES.c.pk.in_(chunk)
                )
            )
            by_pk.update({pk: device_id for pk, device_id in rows})
        return [by_pk[pk] for pk in pks if pk in by_pk]


def kinds_of(value: Value) -> int:
    if isinstance(value, str):
        return KIND_STRING
    if isinstance(value, float):
        return KIND_NUMBER
    if not value:
        return 0
    multi = KIND_MULTI if len(value) > 1 else 0
    return multi | (KIND_STRING if isinstance(value[0], str) else KIND_NUMBER)


def _stored(rows: list[tuple[ValueRow, str | None]]) -> StoredAttribute:
    if len(rows) == 1:  # scalars: the common case
        return StoredAttribute(value_of([rows[0][0]]), rows[0][1])
    ordered = sorted(rows, key=lambda row: row[0].element)
    description = next((text for _, text in ordered if text is not None), None)
    return StoredAttribute(value_of([row for row, _ in ordered]), description)


def _value_rows(
    tenant_id: str, pk: int, attribute_id: int, value: Value, description: str | None
) -> Iterator[dict[str, Any]]:
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


RenderRow = tuple[int, str | None, float | None, str | None]  # element, string, number, description


def _device_json(device: Any, attributes: Mapping[tuple[str, str], list[RenderRow]]) -> dict[str, Any]:
    rendered = []
    for (scope, name), rows in sorted(attributes.items(), key=lambda item: (SCOPE_ORDER.get(item[0][0], 2), item[0])):
        value, description = _rendered_value(rows)
        attribute: dict[str, Any] = {"name": name, "value": value, "scope": scope}
        if description:
            attribute["description"] = description
        rendered.append(attribute)
    updated = rfc3339(device.updated_ts)
    if device.group_name is not None:
        rendered.append({"name": "group", "value": device.group_name, "scope": SCOPE_SYSTEM})
    rendered.append({"name": "created_ts", "value": rfc3339(device.created_ts), "scope": SCOPE_SYSTEM})
    rendered.append({"name": "updated_ts", "value": updated, "scope": SCOPE_SYSTEM})
    return {"id": device.device_id, "attributes": rendered, "updated_ts": updated}


def _rendered_value(rows: list[RenderRow]) -> tuple[Any, str | None]:
    """The JSON value of an attribute from its rows, and its description (kept on the first row)."""
    if len(rows) == 1:  # scalars: the common case
        element, text, number, description = rows[0]
        if element == EMPTY_ARRAY:
            return [], description
        item = text if text is not None else json_number(number or 0.0)
        return (item if element == SCALAR else [item]), description
    rows.sort(key=lambda row: row[0])
    items = [text if text is not None else json_number(number or 0.0) for _, text, number, _ in rows]
    return items, next((description for *_, description in rows if description is not None), None)
