"""Search filters: parsing, and MongoDB semantics as condition trees over SQL (operators -> SQL).

The ten operators behave as MongoDB's do on the real service's documents (SEMANTICS.md §3): comparisons are
type-strict (a string never equals a number), an array attribute matches when ANY element matches, `$ne`,
`$nin` and `$exists: false` also match devices that lack the attribute, `$regex` is anchored at the start.

A predicate becomes a small condition tree whose leaves are either a `Match` ("the device has a value row
of this attribute that satisfies ...") or a `DeviceColumn` condition (the device id, group and timestamps
live on the devices table). `query.QueryPlan` turns a tree into SQL: the most selective positive `Match`
drives the query through the (tenant, attribute, value) indexes, every other leaf is checked per candidate
through the primary key (device, attribute). No per-request table scans.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, true

from menderlite.inventory.models import (
    EMPTY_ARRAY,
    AttributeValue,
    InventoryDevice,
)
from menderlite.inventory.values import (
    SCOPE_IDENTITY,
    SCOPE_INVENTORY,
    SCOPE_SYSTEM,
    is_number,
)
from menderlite.regex import strip_verbose, try_compile
from menderlite.timeutil import parse_rfc3339
from menderlite.web import ApiError

DEVICES = InventoryDevice.__table__
VALUES = AttributeValue.__table__

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists", "$in", "$nin", "$regex")
RANGE_OPERATORS = {"$gt": "__gt__", "$gte": "__ge__", "$lt": "__lt__", "$lte": "__le__"}
INVALID_SORT_ORDER = "invalid sort order"

# Bounds on one query, so that any accepted request stays within SQLite's limits (expression depth 1000,
# 64 tables in a join, bound parameters) instead of failing with a 500. MongoDB itself caps sort keys at 32.
MAX_CONDITIONS = 100  # weight of all filters together; see `condition_weight`
MAX_SORT_KEYS = 32
MAX_LIST_VALUES = 10_000  # scalar members of all `$in`/`$nin` lists, and `device_ids`
TOO_COMPLEX = f"invalid filter: too many conditions (at most {MAX_CONDITIONS}; an array value counts one per element)"
TOO_MANY_VALUES = f"invalid filter: too many values in $in/$nin lists (at most {MAX_LIST_VALUES})"
TOO_MANY_SORT_KEYS = f"invalid sort: at most {MAX_SORT_KEYS} sort criteria"

# Attributes that are columns of the devices table rather than value rows.
ID_KEY = (SCOPE_IDENTITY, "id")
GROUP_KEY = (SCOPE_SYSTEM, "group")
CREATED_KEY = (SCOPE_SYSTEM, "created_ts")
UPDATED_KEY = (SCOPE_SYSTEM, "updated_ts")


# ---------------------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Predicate:
    scope: str
    attribute: str
    operator: str
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "attribute": self.attribute, "type": self.operator, "value": self.value}


@dataclass(frozen=True)
class SortKey:
    scope: str
    attribute: str
    descending: bool


def _required_string(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"invalid {what}: {key} must be a non-empty string")
    return value


def parse_predicate(raw: Any) -> Predicate:
    """One `{scope, attribute, type, value}` term; 400 for anything malformed."""
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid filter: each filter must be a JSON object")
    scope = _required_string(raw, "scope", "filter")
    attribute = _required_string(raw, "attribute", "filter")
    operator = raw.get("type")
    if not isinstance(operator, str) or not operator:
        raise ApiError(400, "invalid filter: type must be a non-empty string")
    if operator not in OPERATORS:
        raise ApiError(400, f"invalid filter: unknown type {operator!r}; supported: {', '.join(OPERATORS)}")
    if "value" not in raw or raw["value"] is None:
        raise ApiError(400, "invalid filter: value must be provided")
    value = raw["value"]
    if operator in ("$in", "$nin") and not isinstance(value, list):
        raise ApiError(400, f"invalid filter: the value of {operator} must be an array")
    if operator == "$exists" and not isinstance(value, bool):
        raise ApiError(400, "invalid filter: the value of $exists must be a boolean")
    if operator == "$regex" and not isinstance(value, str):
        raise ApiError(400, "invalid filter: the value of $regex must be a string")
    if _has_out_of_range_number(value):
        raise ApiError(400, "invalid filter: numbers must fit a 64-bit float")
    return Predicate(scope, attribute, operator, value)


def _has_out_of_range_number(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, (int, float)) and not isinstance(item, bool) and not is_number(item):
            return True
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return False


def condition_weight(predicate: Predicate) -> tuple[int, int]:
    """(conditions, list values) a predicate turns into: an array value is matched element by element,
    the scalar members of `$in`/`$nin` form one list each (strings, numbers)."""
    value = predicate.value
    if not isinstance(value, list):
        return 1, 0
    if predicate.operator in ("$eq", "$ne"):
        return len(value) + 1, 0
    if predicate.operator not in ("$in", "$nin"):
        return 1, 0
    arrays = [item for item in value if isinstance(item, list)]
    return 2 + sum(len(item) + 1 for item in arrays), len(value) - len(arrays)


def check_query_size(predicates: Sequence[Predicate], device_ids: int = 0) -> None:
    """400 for a conjunction too big to evaluate in one SQL statement."""
    conditions = 1 if device_ids else 0
    values = device_ids
    for predicate in predicates:
        weight, listed = condition_weight(predicate)
        conditions += weight
        values += listed
    if conditions > MAX_CONDITIONS:
        raise ApiError(400, TOO_COMPLEX)
    if values > MAX_LIST_VALUES:
        raise ApiError(400, TOO_MANY_VALUES)


def parse_predicates(raw: Any) -> list[Predicate]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "invalid filter: filters must be an array")
    if len(raw) > MAX_CONDITIONS:
        raise ApiError(400, TOO_COMPLEX)
    predicates = [parse_predicate(item) for item in raw]
    check_query_size(predicates)
    return predicates


def parse_sort_terms(raw: Any) -> list[SortKey]:
    """v2 `sort`: a list of `{scope, attribute, order}`."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "invalid sort: sort must be an array")
    if len(raw) > MAX_SORT_KEYS:
        raise ApiError(400, TOO_MANY_SORT_KEYS)
    keys = []
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError(400, "invalid sort: each sort criterion must be a JSON object")
        scope = _required_string(item, "scope", "sort")
        attribute = _required_string(item, "attribute", "sort")
        order = item.get("order", "asc")
        if order not in ("asc", "desc"):
            raise ApiError(400, INVALID_SORT_ORDER)
        keys.append(SortKey(scope, attribute, order == "desc"))
    return keys


DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 500


@dataclass(frozen=True)
class SearchRequest:
    """The body of a v2 search: `{page, per_page, filters, sort, device_ids}`."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    predicates: tuple[Predicate, ...] = ()
    sort: tuple[SortKey, ...] = ()
    device_ids: tuple[str, ...] | None = None


def _page_number(raw: Mapping[str, Any], key: str, default: int) -> int:
    value = raw.get(key)
    if value is None:
        return default
    if not is_number(value) or value != int(value):
        raise ApiError(400, f"failed to decode request body: {key} must be an integer")
    return int(value) if value >= 1 else default


def parse_search_request(raw: Any) -> SearchRequest:
    """Pages below 1 fall back to the defaults (as the real service does); `per_page` is capped at 500."""
    if raw is None:
        return SearchRequest()
    if not isinstance(raw, dict):
        raise ApiError(400, "failed to decode request body: expected a JSON object")
    device_ids = raw.get("device_ids")
    if device_ids is not None and (
        not isinstance(device_ids, list) or not all(isinstance(item, str) for item in device_ids)
    ):
        raise ApiError(400, "failed to decode request body: device_ids must be an array of strings")
    predicates = parse_predicates(raw.get("filters"))
    check_query_size(predicates, len(device_ids or ()))
    return SearchRequest(
        page=_page_number(raw, "page", 1),
        per_page=min(_page_number(raw, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE),
        predicates=tuple(predicates),
        sort=tuple(parse_sort_terms(raw.get("sort"))),
        device_ids=tuple(device_ids) if device_ids else None,  # an empty list restricts nothing
    )


def split_scoped_name(text: str) -> tuple[str, str]:
    """`name` (scope inventory) or `scope/name`."""
    scope, slash, name = text.partition("/")
    if slash and scope and name:
        return scope, name
    return SCOPE_INVENTORY, text


def parse_sort_query(text: str) -> list[SortKey]:
    """v1 `sort=attr[:asc|desc][,attr[:asc|desc]...]`; the order defaults to desc."""
    keys = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, colon, order = part.rpartition(":")
        if not colon:
            name, order = part, "desc"
        if order not in ("asc", "desc") or not name:
            raise ApiError(400, INVALID_SORT_ORDER)
        scope, attribute = split_scoped_name(name)
        keys.append(SortKey(scope, attribute, order == "desc"))
    if len(keys) > MAX_SORT_KEYS:
        raise ApiError(400, TOO_MANY_SORT_KEYS)
    return keys


def parse_query_filters(parameters: Iterable[tuple[str, str]]) -> list[Predicate]:
    """The attribute filters of a v1 device list (query parameters other than paging, sort and group)."""
    predicates = [query_predicate(name, value) for name, value in parameters]
    check_query_size(predicates)
    return predicates


DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def query_predicate(name: str, raw_value: str) -> Predicate:
    """A v1 list filter `name=value`: equality; a value that reads as a number also matches the number."""
    scope, attribute = split_scoped_name(name)
    value = raw_value.removeprefix("eq:")
    number = float(value) if DECIMAL.fullmatch(value) else math.nan  # not Python's " 1_0" or "inf"
    if math.isfinite(number):
        return Predicate(scope, attribute, "$in", [value, number])
    return Predicate(scope, attribute, "$eq", value)


# ---------------------------------------------------------------------------------------------------------
# Regular expressions: `/re/flags` form, anchored at the start (re.match semantics), run by RE2

REGEX_FLAGS = frozenset("imsx")
# PCRE's `(?i)` at the start of a pattern: collected with the `/re/flags` flags.
LEADING_FLAGS = re.compile(r"\(\?([imsx]+)\)")
_META = frozenset(".^$*+?{}[]()|\\")


@dataclass(frozen=True)
class Regex:
    pattern: str  # anchored, with inline flags: what the REGEXP SQL function receives
    prefix: str  # literal text every match starts with ("" if unknown)


def parse_regex(text: str) -> Regex | None:
    """The SQL pattern for a `$regex` value, or None when it does not compile (the filter matches nothing)."""
    body, flags = text, ""
    if len(text) >= 2 and text.startswith("/") and text.rfind("/") > 0:
        end = text.rfind("/")
        body, flags = text[1:end], text[end + 1 :]
        if not set(flags) <= REGEX_FLAGS:
            return None
    while leading := LEADING_FLAGS.match(body):
        flags, body = flags + leading.group(1), body[leading.end() :]
    if "x" in flags:
        body = strip_verbose(body)
    inline_flags = "".join(sorted(set(flags) - {"x"}))
    inline = f"(?{inline_flags})" if inline_flags else ""
    pattern = rf"{inline}\A(?:{body})"
    # The body on its own must compile too: "a)|(b" would otherwise escape the anchor.
    if try_compile(inline + body) is None or try_compile(pattern) is None:
        return None
    prefix = "" if "i" in flags else literal_prefix(body)
    return Regex(pattern, prefix)


def literal_prefix(body: str) -> str:
    """Literal characters every match of `body` (anchored) must start with; conservative."""
    if "|" in body:
        return ""
    chars: list[str] = []
    index = 1 if body.startswith("^") else 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            if index + 1 >= len(body) or body[index + 1].isalnum() or body[index + 1] == "_":
                break
            literal, width = body[index + 1], 2
        elif char in _META:
            break
        else:
            literal, width = char, 1
        following = body[index + width : index + width + 1]
        if following in ("*", "?", "{"):
            break
        chars.append(literal)
        index += width
        if following == "+":
            break
    return "".join(chars)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (code point order)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF or 0xD7FF <= last < 0xE000:
        return None
    return prefix[:-1] + chr(last + 1)


# ---------------------------------------------------------------------------------------------------------
# Conditions

RowCondition = Callable[[Any], ColumnElement[bool]]  # built over an alias of the values table


class Condition:
    """A node of a condition tree over one device."""


@dataclass(frozen=True, eq=False)
class Match(Condition):
    """The device has a value row of `attribute_id` satisfying `rows`.

    `index_rows` is the part of `rows` an index can evaluate cheaply (used to estimate selectivity);
    None when only a full walk over the attribute's values could tell (a `$regex` without literal prefix).
    """

    attribute_id: int
    rows: RowCondition
    index_rows: RowCondition | None


@dataclass(frozen=True, eq=False)
class DeviceColumn(Condition):
    """A condition on the devices table itself; `narrow` when it selects a handful of devices by id."""

    clause: ColumnElement[bool]
    narrow: bool = False


@dataclass(frozen=True, eq=False)
class Not(Condition):
    inner: Condition


@dataclass(frozen=True, eq=False)
class AllOf(Condition):
    parts: tuple[Condition, ...]


@dataclass(frozen=True, eq=False)
class AnyOf(Condition):
    parts: tuple[Condition, ...]


@dataclass(frozen=True, eq=False)
class Constant(Condition):
    value: bool


TRUE = Constant(True)
FALSE = Constant(False)


def negate(condition: Condition) -> Condition:
    if isinstance(condition, Constant):
        return FALSE if condition.value else TRUE
    if isinstance(condition, Not):
        return condition.inner
    return Not(condition)


def all_of(parts: Iterable[Condition]) -> Condition:
    kept: list[Condition] = []
    for part in parts:
        if part is FALSE:
            return FALSE
        if part is not TRUE:
            kept.append(part)
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else AllOf(tuple(kept))


def any_of(parts: Iterable[Condition]) -> Condition:
    kept: list[Condition] = []
    for part in parts:
        if part is TRUE:
            return TRUE
        if part is not FALSE:
            kept.append(part)
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


def _is_string_list(items: Sequence[Any]) -> bool:
    return all(isinstance(item, str) for item in items)


def _is_number_list(items: Sequence[Any]) -> bool:
    return all(is_number(item) for item in items)


class AttributeConditions:
    """Operator semantics over the value rows of one attribute (`attribute_id` None: no device has it)."""

    def __init__(self, attribute_id: int | None) -> None:
        self.attribute_id = attribute_id

    def match(self, rows: RowCondition, index_rows: RowCondition | None | bool = True) -> Condition:
        if self.attribute_id is None:
            return FALSE
        indexable = rows if index_rows is True else (index_rows or None)
        return Match(self.attribute_id, rows, indexable)  # type: ignore[arg-type]

    def equals(self, value: Any) -> Condition:
        if isinstance(value, str):
            return self.match(lambda v: v.c.str_value == value)
        if is_number(value):
            number = float(value)
            return self.match(lambda v: and_(v.c.num_value.is_not(None), v.c.num_value == number))
        if isinstance(value, list):
            return self.array_equals(value)
        return FALSE  # booleans and objects are never stored

    def array_equals(self, items: list[Any]) -> Condition:
        if not items:
            return self.match(lambda v: v.c.element == EMPTY_ARRAY, lambda v: v.c.str_value.is_(None))
        if _is_string_list(items):
            column = "str_value"
        elif _is_number_list(items):
            column, items = "num_value", [float(item) for item in items]
        else:
            return FALSE
        parts: list[Condition] = [
            self.match(lambda v, i=index, x=item: and_(v.c[column] == x, v.c.element == i))
            for index, item in enumerate(items)
        ]
        length = len(items)
        parts.append(negate(self.match(lambda v: v.c.element == length, False)))  # no element beyond the last
        return all_of(parts)

    def compare(self, operator: str, value: Any) -> Condition:
        method = RANGE_OPERATORS[operator]
        if isinstance(value, str):
            return self.match(lambda v: getattr(v.c.str_value, method)(value))
        if is_number(value):
            number = float(value)
            return self.match(lambda v: and_(v.c.num_value.is_not(None), getattr(v.c.num_value, method)(number)))
        return FALSE  # no cross-type matches; arrays, booleans and objects compare with nothing stored

    def member_of(self, members: list[Any]) -> Condition:
        strings = sorted({item for item in members if isinstance(item, str)})
        numbers = sorted({float(item) for item in members if is_number(item)})
        parts: list[Condition] = []
        if strings:
            parts.append(self.match(lambda v: v.c.str_value.in_(strings)))
        if numbers:
            parts.append(self.match(lambda v: and_(v.c.num_value.is_not(None), v.c.num_value.in_(numbers))))
        parts.extend(self.array_equals(item) for item in members if isinstance(item, list))
        if None in members:  # MongoDB: null matches a missing attribute
            parts.append(negate(self.exists()))
        return any_of(parts)

    def exists(self) -> Condition:
        return self.match(lambda v: true())

    def regex(self, text: str) -> Condition:
        compiled = parse_regex(text)
        if compiled is None:
            return FALSE
        pattern, prefix = compiled.pattern, compiled.prefix
        if not prefix:
            return self.match(lambda v: v.c.str_value.regexp_match(pattern), None)
        upper = prefix_upper_bound(prefix)

        def in_range(v: Any) -> ColumnElement[bool]:
            lower_bound = v.c.str_value >= prefix
            return and_(lower_bound, v.c.str_value < upper) if upper is not None else lower_bound

        return self.match(lambda v: and_(in_range(v), v.c.str_value.regexp_match(pattern)), in_range)


ColumnCoercer = Callable[[Any], Any]


def _as_string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None
    except OverflowError:  # year 1 east of UTC or year 9999 west of it: before or after every stored time
        return EARLIEST if value.strip().startswith("0001") else LATEST


@dataclass(frozen=True)
class VirtualColumn:
    """An attribute kept as a column of the devices table."""

    column: Any
    coerce: ColumnCoercer
    nullable: bool
    is_text: bool
    narrow_on_equality: bool = False


VIRTUAL_COLUMNS: dict[tuple[str, str], VirtualColumn] = {
    ID_KEY: VirtualColumn(DEVICES.c.device_id, _as_string, nullable=False, is_text=True, narrow_on_equality=True),
    GROUP_KEY: VirtualColumn(DEVICES.c.group_name, _as_string, nullable=True, is_text=True),
    CREATED_KEY: VirtualColumn(DEVICES.c.created_ts, _as_time, nullable=False, is_text=False),
    UPDATED_KEY: VirtualColumn(DEVICES.c.updated_ts, _as_time, nullable=False, is_text=False),
}


class ColumnConditions:
    """The same operator semantics over a column of the devices table (NULL = the attribute is missing)."""

    def __init__(self, virtual: VirtualColumn) -> None:
        self.virtual = virtual
        self.column = virtual.column

    def _present(self, clause: ColumnElement[bool], narrow: bool = False) -> Condition:
        if self.virtual.nullable:  # NULL-safe, so that negation also matches devices lacking the value
            clause = and_(self.column.is_not(None), clause)
        return DeviceColumn(clause, narrow)

    def equals(self, value: Any) -> Condition:
        coerced = self.virtual.coerce(value)
        if coerced is None:
            return FALSE
        return self._present(self.column == coerced, self.virtual.narrow_on_equality)

    def compare(self, operator: str, value: Any) -> Condition:
        coerced = self.virtual.coerce(value)
        if coerced is None:
            return FALSE
        return self._present(getattr(self.column, RANGE_OPERATORS[operator])(coerced))

    def member_of(self, members: list[Any]) -> Condition:
        coerced = sorted({c for c in (self.virtual.coerce(item) for item in members) if c is not None})
        parts = [self._present(self.column.in_(coerced), self.virtual.narrow_on_equality)] if coerced else []
        if None in members:  # MongoDB: null matches a missing attribute
            parts.append(negate(self.exists()))
        return any_of(parts)

    def exists(self) -> Condition:
        return self._present(true()) if self.virtual.nullable else TRUE

    def regex(self, text: str) -> Condition:
        compiled = parse_regex(text)
        if compiled is None or not self.virtual.is_text:
            return FALSE
        return self._present(self.column.regexp_match(compiled.pattern))


def condition_for(predicate: Predicate, attribute_ids: Mapping[tuple[str, str], int]) -> Condition:
    """The condition tree of one predicate; `attribute_ids` maps the (scope, name) pairs that exist."""
    key = (predicate.scope, predicate.attribute)
    virtual = VIRTUAL_COLUMNS.get(key)
    ops: AttributeConditions | ColumnConditions = (
        ColumnConditions(virtual) if virtual is not None else AttributeConditions(attribute_ids.get(key))
    )
    operator, value = predicate.operator, predicate.value
    if operator == "$eq":
        return ops.equals(value)
    if operator == "$ne":
        return negate(ops.equals(value))
    if operator in RANGE_OPERATORS:
        return ops.compare(operator, value)
    if operator == "$in":
        return ops.member_of(value)
    if operator == "$nin":
        return negate(ops.member_of(value))
    if operator == "$exists":
        return ops.exists() if value else negate(ops.exists())
    if operator == "$regex":
        return ops.regex(value)
    raise ApiError(400, f"invalid filter: unknown type {operator!r}")


def stored_keys(predicates: Iterable[Predicate], sort: Iterable[SortKey] = ()) -> set[tuple[str, str]]:
    """The (scope, name) pairs that must be looked up in the attribute-key table."""
    keys = {(p.scope, p.attribute) for p in predicates} | {(s.scope, s.attribute) for s in sort}
    return {key for key in keys if key not in VIRTUAL_COLUMNS}


# ---------------------------------------------------------------------------------------------------------
# SQL
