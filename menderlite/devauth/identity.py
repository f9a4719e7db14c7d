"""Identity normalisation: the same identity always gives the same text, hence the same device.

The real deviceauth parses `id_data` into a map and re-encodes it with Go's encoding/json (`utils.JsonSort`):
keys sorted, no whitespace, numbers as float64 (`1.0` -> `1`, `1e21` -> `1e+21`), `<`, `>`, `&`, U+2028
and U+2029 escaped as `\\u003c`..., other non-ASCII text kept as UTF-8. The SHA-256 of that text is the
device key. Preauthorized `identity_data` (an object) goes through the same encoder, so a device whose
auth request carries an equivalent `id_data` string finds its preauthorized set.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML_AND_SEPARATORS = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class IdentityError(ValueError):
    """`id_data` is not a JSON object."""


def parse_id_data(text: str) -> dict[str, Any]:
    """Parse an `id_data` string; raises IdentityError unless it holds a JSON object."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer too long to convert
        raise IdentityError(f"id_data is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise IdentityError("id_data must be a JSON object")
    return value


def normalise(identity: dict[str, Any]) -> str:
    """The canonical text of an identity object; raises IdentityError for what JSON cannot hold."""
    try:
        return _encode(identity)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise IdentityError(f"id_data cannot be encoded: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def identity_hash(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{_encode_string(key)}:{_encode(item)}" for key, item in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, str):
        return _encode_string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return _encode_number(float(value))
    raise TypeError(f"cannot encode {type(value).__name__}")


def _encode_string(text: str) -> str:
    parts = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            parts.append(_SHORT_ESCAPES[char])
        elif char in _HTML_AND_SEPARATORS:
            parts.append(_HTML_AND_SEPARATORS[char])
        elif ord(char) < 0x20:
            parts.append(f"\\u{ord(char):04x}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            parts.append("\ufffd")  # a lone surrogate is invalid UTF-8: Go writes the replacement character
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def _encode_number(number: float) -> str:
    """Go's float64 encoding: shortest digits, fixed notation unless < 1e-6 or >= 1e21."""
    if not math.isfinite(number):
        raise ValueError("numbers must be finite")
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = repr(number).partition("e")
        sign = exponent[0] if exponent[:1] in "+-" else "+"
        digits = exponent.lstrip("+-").lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    return format(Decimal(repr(number)).normalize(), "f")
