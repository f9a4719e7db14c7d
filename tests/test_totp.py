"""TOTP (RFC 6238) codes, clock tolerance and replay refusal."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pyotp

from menderlite.useradm import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # the RFC 6238 SHA1 test key


def test_rfc_6238_test_vectors() -> None:
    # RFC 6238 appendix B gives 8-digit codes; ours are their last 6 digits.
    for unix_time, eight_digits in [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")]:
        assert totp.code_for_step(RFC_SECRET, totp.step_at(unix_time)) == eight_digits[-6:]


def test_agrees_with_pyotp() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret)) == 20
    assert totp.code_for_step(secret, totp.step_at(1700000000)) == pyotp.TOTP(secret).at(1700000000)


def test_one_step_of_tolerance_either_side() -> None:
    secret = totp.new_secret()
    now = 1700000015.0
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_for_step(secret, step + offset)
        assert totp.accepted_step(secret, code, now, last_used_step=0) == step + offset
    for offset in (-2, 2):
        code = totp.code_for_step(secret, step + offset)
        if code not in {totp.code_for_step(secret, step + o) for o in (-1, 0, 1)}:
            assert totp.accepted_step(secret, code, now, last_used_step=0) is None


def test_a_used_step_is_not_accepted_again() -> None:
    secret = totp.new_secret()
    now = 1700000015.0
    step = totp.step_at(now)
    code = totp.code_for_step(secret, step)
    assert totp.accepted_step(secret, code, now, last_used_step=step - 1) == step
    assert totp.accepted_step(secret, code, now, last_used_step=step) is None
    older = totp.code_for_step(secret, step - 1)
    if older != code:
        assert totp.accepted_step(secret, older, now, last_used_step=step) is None


def test_malformed_codes_are_refused() -> None:
    secret = totp.new_secret()
    for code in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦", " 12345"):
        assert totp.accepted_step(secret, code, 1700000000.0, 0) is None


def test_provisioning_uri_and_qr_code() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, "user@example.com")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    query = parse_qs(parts.query)
    assert query["secret"] == [secret] and query["issuer"] == ["menderlite"]
    assert base64.b64decode(totp.qr_png_base64(uri)).startswith(b"\x89PNG\r\n\x1a\n")
