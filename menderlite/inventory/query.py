"""Device queries over the condition trees of `filters`: which index drives a query, how the other
conditions are probed, MongoDB-ordered sorting, and sorted pages read straight off the value indexes.

Without statistics SQLite cannot know that "device_type = rpi" selects 10% of a fleet and "status =
accepted" 90%; the plan counts each positive filter's index rows (up to a cap) and lets the smallest drive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from menderlite.inventory.filters import (
    DEVICES,
    TRUE,
    VALUES,
    VIRTUAL_COLUMNS,
    AllOf,
    AnyOf,
    Condition,
    Constant,
    DeviceColumn,
    Match,
    Not,
    SortKey,
)
from menderlite.inventory.models import KIND_MULTI, KIND_NUMBER, KIND_STRING


def match_rows(match: Match, tenant_id: str, *, index_only: bool = False) -> Select[Any]:
    """The device pks of `match`, through the (tenant, attribute, value) indexes."""
    values = VALUES.alias("v")
    condition = match.index_rows if index_only and match.index_rows is not None else match.rows
    return select(values.c.device_pk).where(
        values.c.tenant_id == tenant_id, values.c.attribute_id == match.attribute_id, condition(values)
    )


def match_exists(match: Match, device_pk: Any = DEVICES.c.pk) -> ColumnElement[bool]:
    """`match` checked for one device (`device_pk`: the correlated column), through the (device, attribute)
    primary key.

    The device is already restricted to the tenant. A tenant term here would tempt SQLite (without
    statistics) into walking the (tenant, attribute, value) index once per device instead.
    """
    values = VALUES.alias("v")
    return exists().where(
        values.c.device_pk == device_pk,
        values.c.attribute_id == match.attribute_id,
        match.rows(values),
    )


def to_sql(condition: Condition, device_pk: Any = DEVICES.c.pk) -> ColumnElement[bool]:
    """A condition as a clause correlated to `device_pk` (never NULL)."""
    if isinstance(condition, Constant):
        return true() if condition.value else false()
    if isinstance(condition, Match):
        return match_exists(condition, device_pk)
    if isinstance(condition, DeviceColumn):
        return condition.clause
    if isinstance(condition, Not):
        return not_(to_sql(condition.inner, device_pk))
    if isinstance(condition, AllOf):
        return and_(*(to_sql(part, device_pk) for part in condition.parts))
    if isinstance(condition, AnyOf):
        return or_(*(to_sql(part, device_pk) for part in condition.parts))
    raise TypeError(f"unknown condition {condition!r}")


def uses_device_columns(condition: Condition) -> bool:
    if isinstance(condition, DeviceColumn):
        return True
    if isinstance(condition, Not):
        return uses_device_columns(condition.inner)
    if isinstance(condition, (AllOf, AnyOf)):
        return any(uses_device_columns(part) for part in condition.parts)
    return False


def top_level_parts(condition: Condition) -> list[Condition]:
    if isinstance(condition, AllOf):
        return list(condition.parts)
    return [] if condition is TRUE else [condition]


def is_narrow(parts: Sequence[Condition]) -> bool:
    """Whether a part selects a handful of devices by id (then probing beats any index walk)."""
    return any(isinstance(part, DeviceColumn) and part.narrow for part in parts)


def driver_candidates(parts: Sequence[Condition]) -> list[Match]:
    """Positive top-level matches: any of them can drive the query."""
    return [part for part in parts if isinstance(part, Match)]


# A positive filter whose index range holds fewer rows than this is a selective driver; counting stops here.
ESTIMATE_CAP = 2000


@dataclass
class QueryPlan:
    """How to evaluate a conjunction over the devices of one tenant.

    The driver (the positive filter with the fewest index rows) yields candidate devices; every other part is
    probed per candidate. When even the driver is broad, the first pages are cheaper to find by walking the
    devices in insertion order and probing every part until the page is full (`where(walk=True)`).
    """

    tenant_id: str
    parts: list[Condition]
    driver: Match | None = None
    estimate: int = 0
    narrow: bool = False
    empty: bool = False

    @property
    def broad(self) -> bool:
        """The driver is known to yield many devices (a `$regex` without literal prefix is of unknown
        selectivity: walking the devices for a rare match could visit all of them)."""
        return self.driver is not None and self.driver.index_rows is not None and self.estimate >= ESTIMATE_CAP

    @property
    def walkable(self) -> bool:
        """Whether walking the devices in some order fills a page after few probes: no filter at all, or
        only positive filters that each hold many devices. (A negation or a group could be rare, and then
        a walk would visit the whole fleet.)"""
        return not self.parts or (self.broad and all(isinstance(part, Match) for part in self.parts))

    def driver_count(self) -> Select[Any] | None:
        """Count the matches from the driver's index rows, probing the other parts per row, without
        touching the devices table; possible when the driver's attribute has one row per device (`single`)
        and no part reads the devices table."""
        driver = self.driver
        if driver is None or self.empty or any(uses_device_columns(part) for part in self.parts):
            return None
        rows = VALUES.alias("drv")
        others = [to_sql(part, rows.c.device_pk) for part in self.parts if part is not driver]
        return select(func.count()).where(
            rows.c.tenant_id == self.tenant_id, rows.c.attribute_id == driver.attribute_id, driver.rows(rows), *others
        )

    def where(self, *, walk: bool = False) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [DEVICES.c.tenant_id == self.tenant_id]
        if self.empty:
            return [*clauses, false()]
        scan_negatives = self.driver is None and not self.narrow and not walk
        for part in self.parts:
            if part is self.driver and not walk:
                clauses.append(DEVICES.c.pk.in_(match_rows(part, self.tenant_id)))
            elif scan_negatives and isinstance(part, Not) and isinstance(part.inner, Match):
                # Nothing narrows the devices: one pass over the attribute's index beats a probe per device.
                clauses.append(DEVICES.c.pk.not_in(match_rows(part.inner, self.tenant_id)))
            else:
                clauses.append(to_sql(part))
        return clauses


@dataclass(frozen=True)
class StoredKey:
    """An attribute's key id and the kinds of values it has held (bits of `models.KIND_*`)."""

    id: int
    kinds: int

    @property
    def strings(self) -> bool:
        return bool(self.kinds & KIND_STRING)

    @property
    def numbers(self) -> bool:
        return bool(self.kinds & KIND_NUMBER)

    @property
    def multi(self) -> bool:
        return bool(self.kinds & KIND_MULTI)


@dataclass
class Ordering:
    """ORDER BY clauses, and the outer joins they read from."""

    clauses: list[Any]
    joins: list[tuple[Any, ColumnElement[bool]]]

    def apply(self, query: Select[Any]) -> Select[Any]:
        source: Any = DEVICES
        for alias, on in self.joins:
            source = source.outerjoin(alias, on)
        return query.select_from(source).order_by(*self.clauses)


def order_by(sort: Sequence[SortKey], keys: Mapping[tuple[str, str], StoredKey]) -> Ordering:
    """MongoDB order: missing < numbers < strings; arrays sort by their least (asc) or greatest (desc)
    element; ties by insertion order.

    Strings NULL first (asc) puts missing and numeric values before strings, then numbers NULL first puts
    missing before numbers; descending mirrors it. An attribute that never held an array of two or more
    elements has one value row per device: one outer join reads it. Otherwise a probe per candidate
    aggregates the elements.
    """
    ordering = Ordering([], [])
    for number, key in enumerate(sort):
        virtual = VIRTUAL_COLUMNS.get((key.scope, key.attribute))
        if virtual is not None:
            ordering.clauses.append(_ordered(virtual.column, key.descending, virtual.nullable))
            continue
        stored = keys.get((key.scope, key.attribute))
        if stored is None or not (stored.strings or stored.numbers):
            continue  # no device has a value: every device ties
        values = VALUES.alias(f"sort{number}")
        owned = and_(values.c.device_pk == DEVICES.c.pk, values.c.attribute_id == stored.id)
        for present, column in ((stored.strings, values.c.str_value), (stored.numbers, values.c.num_value)):
            if not present:
                continue
            if stored.multi:
                aggregate = func.max if key.descending else func.min
                column = select(aggregate(column)).where(owned).scalar_subquery()
            ordering.clauses.append(_ordered(column, key.descending, nullable=True))
        if not stored.multi:
            ordering.joins.append((values, owned))
    # Ties keep insertion order, reversed when the (last) key descends: exactly the order in which the value
    # indexes hold equal values, so a page can be read off an index without sorting.
    ordering.clauses.append(DEVICES.c.pk.desc() if sort and sort[-1].descending else DEVICES.c.pk.asc())
    return ordering


def sorts_by_device_index(sort: Sequence[SortKey]) -> bool:
    """Whether an index of the devices table serves `sort` in order: one key on a column that is never NULL
    (the device id, the system timestamps: each indexed after the tenant)."""
    if len(sort) != 1:
        return False
    virtual = VIRTUAL_COLUMNS.get((sort[0].scope, sort[0].attribute))
    return virtual is not None and not virtual.nullable


@dataclass(frozen=True)
class Segment:
    """Part of a sorted result, read in index order; `upper_bound` (if any) cheaply bounds its size."""

    rows: Select[Any]
    upper_bound: Select[Any] | None = None


def sort_segments(plan: QueryPlan, key: StoredKey, descending: bool) -> list[Segment]:
    """The devices matching `plan` in the order of one single-valued attribute, as consecutive segments each
    read in index order: devices lacking a value, then numbers, then strings (reversed when descending)."""
    parts = [to_sql(part) for part in plan.parts]
    typed: list[Segment] = []
    for present, name in ((key.numbers, "num_value"), (key.strings, "str_value")):
        if not present:
            continue
        values = VALUES.alias("seg")
        column = values.c[name]
        segment = (
            select(values.c.device_pk)
            .select_from(values.join(DEVICES, DEVICES.c.pk == values.c.device_pk))
            .where(
                DEVICES.c.tenant_id == plan.tenant_id,
                values.c.tenant_id == plan.tenant_id,
                values.c.attribute_id == key.id,
                column.is_not(None),
                *parts,
            )
        )
        if descending:
            typed.append(Segment(segment.order_by(column.desc(), values.c.device_pk.desc())))
        else:
            typed.append(Segment(segment.order_by(column.asc(), values.c.device_pk.asc())))
    lacking = _lacking_segment(plan, key, parts, descending)
    return [*reversed(typed), lacking] if descending else [lacking, *typed]


def _lacking_segment(plan: QueryPlan, key: StoredKey, parts: list[Any], descending: bool) -> Segment:
    """Devices without a value have no index of their own: set apart those with one, in one index pass. As
    most attributes are on every device, first compare two index counts."""
    values = VALUES.alias("has")
    typed_value = [
        values.c[name].is_not(None)
        for present, name in ((key.strings, "str_value"), (key.numbers, "num_value"))
        if present
    ]
    having = select(values.c.device_pk).where(
        values.c.tenant_id == plan.tenant_id, values.c.attribute_id == key.id, or_(*typed_value)
    )
    devices = select(func.count()).where(DEVICES.c.tenant_id == plan.tenant_id).scalar_subquery()
    valued = select(func.count()).select_from(having.subquery()).scalar_subquery()
    lacking = select(DEVICES.c.pk).where(DEVICES.c.tenant_id == plan.tenant_id, DEVICES.c.pk.not_in(having), *parts)
    order = DEVICES.c.pk.desc() if descending else DEVICES.c.pk.asc()
    return Segment(lacking.order_by(order), upper_bound=select(devices - valued))


def _ordered(column: Any, descending: bool, nullable: bool) -> Any:
    if not nullable:  # the plain order, which an index on the column can serve
        return column.desc() if descending else column.asc()
    return column.desc().nulls_last() if descending else column.asc().nulls_first()
