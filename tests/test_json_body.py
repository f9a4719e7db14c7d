"""The one JSON body parser of every service: strict as Go's decoder, and a 400 (never a 500) for bad input."""

from __future__ import annotations

import pytest

from menderlite.web import ApiError
from menderlite.web.json_body import parse_json


@pytest.mark.parametrize(
    "raw",
    [
        b"[NaN]",
        b'{"page": Infinity}',
        b"[-Infinity]",
        b"[1e400]",  # beyond float64
        b"[" + b"1" * 5000 + b"]",  # beyond Python's integer digit limit
        b"[" * 100_000 + b"]" * 100_000,  # nesting beyond the recursion limit
        b"\xff",
        b"{nope",
        b"   ",
    ],
    ids=["nan", "infinity", "-infinity", "1e400", "5000-digits", "deep-nesting", "not-utf8", "broken", "blank"],
)
def test_malformed_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(raw)
    assert caught.value.status == 400
    assert caught.value.message.startswith("failed to decode request body: ")


def test_context_names_the_body() -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(b"", "failed to decode device group data")
    assert caught.value.message == "failed to decode device group data: JSON payload is empty"


def test_valid_documents_are_kept() -> None:
    assert parse_json(b'["\\ud83d\\ude00", "\\\\ud800"]') == ["\U0001f600", "\\ud800"]
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_lone_surrogates_become_replacement_characters_like_go() -> None:
    assert parse_json(b'{"\\udc00": ["\\ud800 is text", "\\ud800"]}') == {"\ufffd": ["\ufffd is text", "\ufffd"]}
