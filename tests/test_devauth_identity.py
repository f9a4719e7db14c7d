"""Identity normalisation, compatible with the real deviceauth's Go JSON re-encoding."""

from __future__ import annotations

import json

import pytest

from menderlite.devauth.identity import (
    IdentityError,
    identity_hash,
    normalise,
    parse_id_data,
)


def norm(text: str) -> str:
    return normalise(parse_id_data(text))


def test_keys_sorted_and_compact() -> None:
    assert norm('{ "sn": "A1",\n "mac": "02:00:00:00:00:01" }') == '{"mac":"02:00:00:00:00:01","sn":"A1"}'
    assert norm('{"b": {"z": 1, "a": [3, 2, {"y": null, "x": true}]}, "a": false}') == (
        '{"a":false,"b":{"a":[3,2,{"x":true,"y":null}],"z":1}}'
    )


@pytest.mark.parametrize(
    ("number", "go"),
    [
        ("1", "1"), ("1.0", "1"), ("-0.0", "-0"), ("0", "0"), ("2.50", "2.5"), ("100", "100"),
        ("1e20", "100000000000000000000"), ("1e21", "1e+21"), ("123456789012345678901234", "1.2345678901234569e+23"),
        ("12345678901234567890", "12345678901234567000"), ("0.000001", "0.000001"), ("0.0000001", "1e-7"),
        ("1.5e-7", "1.5e-7"), ("1e-10", "1e-10"), ("-2.5e300", "-2.5e+300"), ("0.1", "0.1"),
    ],
)
def test_numbers_are_encoded_like_go_float64(number: str, go: str) -> None:
    assert norm(f'{{"n": {number}}}') == f'{{"n":{go}}}'


def test_strings_are_escaped_like_go() -> None:
    assert norm(r'{"s": "<a href=\"x\">&amp;</a>"}') == r'{"s":"\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e"}'
    assert norm(r'{"s": "tab\there\nnl\u0001\b\f\\ \u2028 \u2029 é 漢 😀"}') == (
        '{"s":"tab\\there\\nnl\\u0001\\u0008\\u000c\\\\ \\u2028 \\u2029 é 漢 😀"}'
    )
    assert norm(r'{"s": "\ud800"}') == '{"s":"\ufffd"}'


def test_equivalent_identities_hash_alike() -> None:
    a = norm('{"mac": "02:00:00:00:00:01", "n": 1}')
    b = normalise({"n": 1.0, "mac": "02:00:00:00:00:01"})
    assert a == b
    assert identity_hash(a) == identity_hash(b)
    assert len(identity_hash(a)) == 64
    assert identity_hash(a) != identity_hash(norm('{"mac": "02:00:00:00:00:02", "n": 1}'))


def test_normalised_text_parses_back_to_the_same_object() -> None:
    identity = {"mac": ["02:00:00:00:00:01", "02:00:00:00:00:02"], "cpu": {"cores": 4}, "name": "ünïcødé <x>"}
    assert json.loads(normalise(identity)) == identity


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "id_data is not valid JSON"), ("{mac", "id_data is not valid JSON"),
        ('{"n": NaN}', "id_data is not valid JSON"), ('{"n": Infinity}', "id_data is not valid JSON"),
        ("[1]", "id_data must be a JSON object"), ('"x"', "id_data must be a JSON object"),
        ("null", "id_data must be a JSON object"), ("5", "id_data must be a JSON object"),
        ("[" * 100000 + "]" * 100000, "id_data is not valid JSON"),
        ('{"n": ' + "1" * 5000 + "}", "id_data is not valid JSON"),  # beyond Python's integer conversion limit
    ],
)
def test_bad_id_data(text: str, message: str) -> None:
    with pytest.raises(IdentityError, match=message):
        parse_id_data(text)


def test_numbers_beyond_float64_cannot_be_encoded() -> None:
    with pytest.raises(IdentityError):
        norm('{"n": 1' + "0" * 400 + "}")
    with pytest.raises(IdentityError):
        normalise({"n": float("nan")})
