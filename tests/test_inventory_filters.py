"""Pure logic of inventory filters and attribute values: parsing, regex handling, value rules."""

from __future__ import annotations

import pytest

from menderlite.db.engine import sql_regexp
from menderlite.inventory.filters import (
    CREATED_KEY,
    EARLIEST,
    LATEST,
    MAX_CONDITIONS,
    MAX_LIST_VALUES,
    MAX_PER_PAGE,
    VIRTUAL_COLUMNS,
    Predicate,
    SortKey,
    literal_prefix,
    parse_predicate,
    parse_predicates,
    parse_regex,
    parse_search_request,
    parse_sort_query,
    parse_sort_terms,
    prefix_upper_bound,
    query_predicate,
)
from menderlite.inventory.values import (
    INVALID_TYPE,
    MIXED_ARRAY,
    NAME_MISSING,
    normalize_value,
    parse_attribute,
    rows_of,
    to_json,
    value_of,
)
from menderlite.web import ApiError


def regex_matches(text: str, value: str) -> bool:
    compiled = parse_regex(text)
    assert compiled is not None
    return bool(sql_regexp(compiled.pattern, value))


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("abc", "abcdef", True),
        ("bcd", "abcdef", False),  # anchored at the start
        ("a|x", "xyz", True),  # the anchor covers every alternative
        ("a|x", "zx", False),
        ("/ABC/i", "abcdef", True),
        ("/ABC/", "abcdef", False),
        ("/^b/m", "a\nb", False),  # re.match semantics: only the start of the value, even multi-line
        ("/a.b/s", "a\nb", True),
        ("/a.b/", "a\nb", False),
        ("/a b # comment/x", "ab", True),
        ("[0-9]+$", "123", True),
        ("dev-0[0-4]", "dev-05", False),
    ],
)
def test_regex_is_anchored_and_honours_flags(pattern: str, value: str, expected: bool) -> None:
    assert regex_matches(pattern, value) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("(?i)gamma", "GAMMA-1", True),  # PCRE's leading inline flags
        ("/(?s)a.b/i", "A\nB", True),
        ("(?i)amma", "GAMMA", False),  # still anchored
    ],
)
def test_leading_inline_flags(pattern: str, value: str, expected: bool) -> None:
    assert regex_matches(pattern, value) is expected


@pytest.mark.parametrize("pattern", ["(", "[a-", "/abc/q", "a{2,1}", "*x", "x)|(a", "a)(b"])
def test_invalid_regex_compiles_to_nothing(pattern: str) -> None:
    assert parse_regex(pattern) is None


def test_sql_regexp_tolerates_bad_input() -> None:
    assert sql_regexp("(", "abc") is False
    assert sql_regexp("a", None) is None
    assert sql_regexp("1", 1.0) is False  # only strings match


@pytest.mark.parametrize(
    ("body", "prefix"),
    [
        ("abc", "abc"),
        ("^abc", "abc"),
        ("ab*c", "a"),
        ("ab?c", "a"),
        ("ab{2}", "a"),
        ("ab+c", "ab"),
        ("a.c", "a"),
        (r"a\.b", "a.b"),
        (r"\d+", ""),
        ("a|b", ""),
        ("(ab)", ""),
        ("release-1", "release-1"),
    ],
)
def test_literal_prefix_is_conservative(body: str, prefix: str) -> None:
    assert literal_prefix(body) == prefix


def test_regex_prefix_not_used_for_case_insensitive_patterns() -> None:
    assert parse_regex("/abc/i").prefix == ""  # type: ignore[union-attr]
    assert parse_regex("abc").prefix == "abc"  # type: ignore[union-attr]


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound("release-1") == "release-2"
    assert prefix_upper_bound("a\U0010ffff") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nope", "invalid filter: each filter must be a JSON object"),
        ({"attribute": "a", "type": "$eq", "value": 1}, "invalid filter: scope must be a non-empty string"),
        ({"scope": "inventory", "type": "$eq", "value": 1}, "invalid filter: attribute must be a non-empty string"),
        ({"scope": "inventory", "attribute": "a", "value": 1}, "invalid filter: type must be a non-empty string"),
        ({"scope": "inventory", "attribute": "a", "type": "$eq"}, "invalid filter: value must be provided"),
        (
            {"scope": "inventory", "attribute": "a", "type": "$eq", "value": None},
            "invalid filter: value must be provided",
        ),
        (
            {"scope": "inventory", "attribute": "a", "type": "$in", "value": "x"},
            "invalid filter: the value of $in must be an array",
        ),
        (
            {"scope": "inventory", "attribute": "a", "type": "$nin", "value": 3},
            "invalid filter: the value of $nin must be an array",
        ),
        (
            {"scope": "inventory", "attribute": "a", "type": "$exists", "value": "yes"},
            "invalid filter: the value of $exists must be a boolean",
        ),
        (
            {"scope": "inventory", "attribute": "a", "type": "$regex", "value": 5},
            "invalid filter: the value of $regex must be a string",
        ),
    ],
)
def test_bad_predicates_are_rejected(raw: object, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_predicate(raw)
    assert caught.value.status == 400
    assert caught.value.message == message


def test_unknown_operator_is_rejected() -> None:
    with pytest.raises(ApiError) as caught:
        parse_predicate({"scope": "inventory", "attribute": "a", "type": "$ltne", "value": 1})
    assert caught.value.status == 400
    assert "$ltne" in caught.value.message


def test_every_operator_parses() -> None:
    values = {"$in": [1], "$nin": [1], "$exists": True, "$regex": "x"}
    for operator in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists", "$in", "$nin", "$regex"):
        predicate = parse_predicate(
            {"scope": "s", "attribute": "a", "type": operator, "value": values.get(operator, 1)}
        )
        assert predicate.operator == operator


def test_v1_sort_parameter() -> None:
    assert parse_sort_query("a:asc,identity/mac,b:desc") == [
        SortKey("inventory", "a", False),
        SortKey("identity", "mac", True),  # desc by default
        SortKey("inventory", "b", True),
    ]
    assert parse_sort_query("") == []
    with pytest.raises(ApiError) as caught:
        parse_sort_query("a:up")
    assert caught.value.message == "invalid sort order"


def test_v2_sort_terms() -> None:
    assert parse_sort_terms([{"scope": "inventory", "attribute": "a", "order": "desc"}]) == [
        SortKey("inventory", "a", True)
    ]
    with pytest.raises(ApiError) as caught:
        parse_sort_terms([{"scope": "inventory", "attribute": "a", "order": "down"}])
    assert caught.value.message == "invalid sort order"


def test_v1_query_filters() -> None:
    assert query_predicate("device_type", "rpi") == Predicate("inventory", "device_type", "$eq", "rpi")
    assert query_predicate("device_type", "eq:rpi") == Predicate("inventory", "device_type", "$eq", "rpi")
    assert query_predicate("identity/mac", "aa") == Predicate("identity", "mac", "$eq", "aa")
    assert query_predicate("mem", "512") == Predicate("inventory", "mem", "$in", ["512", 512.0])
    assert query_predicate("x", "nan") == Predicate("inventory", "x", "$eq", "nan")
    assert query_predicate("x", "-1.5e3") == Predicate("inventory", "x", "$in", ["-1.5e3", -1500.0])
    assert query_predicate("x", ".5") == Predicate("inventory", "x", "$in", [".5", 0.5])
    for not_a_number in (" 512", "1_000", "inf", "0x10", "1e400", ""):  # Python's float() takes some of these
        assert query_predicate("x", not_a_number) == Predicate("inventory", "x", "$eq", not_a_number)


def test_search_request_defaults_and_bounds() -> None:
    assert parse_search_request(None).page == 1
    request = parse_search_request({"page": 0, "per_page": -3})
    assert (request.page, request.per_page) == (1, 20)
    assert parse_search_request({"per_page": 100000}).per_page == MAX_PER_PAGE
    with pytest.raises(ApiError):
        parse_search_request({"page": "two"})
    with pytest.raises(ApiError):
        parse_search_request({"device_ids": "abc"})
    with pytest.raises(ApiError):
        parse_search_request([1])
    assert parse_search_request({"page": 10**30}).page == 10**30  # an empty page, not an error
    for page in (2.5, "1", True, [1], {"n": 1}):
        with pytest.raises(ApiError):
            parse_search_request({"page": page})


def filters(count: int, value: object = "x", operator: str = "$eq") -> list[dict[str, object]]:
    return [{"scope": "inventory", "attribute": "a", "type": operator, "value": value}] * count


def test_query_size_bounds() -> None:
    assert len(parse_predicates(filters(MAX_CONDITIONS))) == MAX_CONDITIONS
    parse_predicates(filters(1, ["x"] * (MAX_CONDITIONS - 1)))  # an array counts one per element, plus one
    parse_predicates(filters(1, [str(n) for n in range(MAX_LIST_VALUES)], "$in"))
    too_big = [
        filters(MAX_CONDITIONS + 1),
        filters(1, ["x"] * MAX_CONDITIONS),
        filters(1, [["x", "y"]] * MAX_CONDITIONS, "$nin"),
        filters(1, list(range(MAX_LIST_VALUES + 1)), "$in"),
    ]
    for terms in too_big:
        with pytest.raises(ApiError) as caught:
            parse_predicates(terms)
        assert caught.value.status == 400
    with pytest.raises(ApiError) as caught:
        parse_search_request({"device_ids": [str(n) for n in range(MAX_LIST_VALUES + 1)]})
    assert "too many values" in caught.value.message
    with pytest.raises(ApiError) as caught:
        parse_sort_terms([{"scope": "inventory", "attribute": "a"}] * 33)
    assert caught.value.message == "invalid sort: at most 32 sort criteria"
    with pytest.raises(ApiError):
        parse_sort_query(",".join(["a:asc"] * 33))


@pytest.mark.parametrize("value", [10**400, [1, 10**400], [[10**309]], {"a": -(10**400)}])
def test_numbers_beyond_float64_are_rejected(value: object) -> None:
    with pytest.raises(ApiError) as caught:
        parse_predicate({"scope": "inventory", "attribute": "a", "type": "$eq", "value": value})
    assert caught.value.message == "invalid filter: numbers must fit a 64-bit float"


def test_times_beyond_the_datetime_range_are_clamped() -> None:
    coerce = VIRTUAL_COLUMNS[CREATED_KEY].coerce
    assert coerce("0001-01-01T00:00:00+14:00") == EARLIEST
    assert coerce("9999-12-31T23:59:59-14:00") == LATEST
    assert coerce("2020-01-01T01:00:00+01:00").isoformat() == "2020-01-01T00:00:00+00:00"
    assert coerce("yesterday") is None


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("x", "x"),
        ("", ""),
        (3, 3.0),
        (2.5, 2.5),
        (["a", "b"], ("a", "b")),
        ([1, 2.5], (1.0, 2.5)),
        ([], ()),
    ],
)
def test_allowed_values(raw: object, stored: object) -> None:
    assert normalize_value(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, INVALID_TYPE),
        (True, INVALID_TYPE),
        ({"a": 1}, INVALID_TYPE),
        (float("nan"), INVALID_TYPE),
        (["a", 1], MIXED_ARRAY),
        ([True], MIXED_ARRAY),
        ([["a"]], MIXED_ARRAY),
    ],
)
def test_rejected_values(raw: object, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        normalize_value(raw)
    assert caught.value.status == 400
    assert caught.value.message == message
    assert "supported types are string, float64, and arrays thereof" in INVALID_TYPE


def test_attribute_needs_a_name() -> None:
    with pytest.raises(ApiError) as caught:
        parse_attribute({"value": "x"})
    assert caught.value.message == NAME_MISSING
    with pytest.raises(ApiError):
        parse_attribute({"name": "", "value": "x"})


@pytest.mark.parametrize("value", ["s", 4.0, ("a", "b"), (1.0, 2.0, 3.0), ()])
def test_values_round_trip_through_rows(value: object) -> None:
    rows = list(rows_of(value))  # type: ignore[arg-type]
    assert value_of(list(reversed(rows))) == value


def test_whole_numbers_render_without_fraction() -> None:
    assert to_json(3.0) == 3
    assert to_json(2.5) == 2.5
    assert to_json((1.0, 2.5)) == [1, 2.5]


def test_catastrophic_regex_runs_in_linear_time() -> None:
    assert regex_matches("(a+)+$", "a" * 100_000 + "b") is False
    assert regex_matches("/ (a+)+ # verbose/x", "a" * 100_000) is True
