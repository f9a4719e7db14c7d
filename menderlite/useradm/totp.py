"""Time-based one-time passwords (RFC 6238: SHA1, 6 digits, 30 s steps) for two-factor login.

A code is accepted for the current step and one step either side (clock drift), and only for a step later
than the last one the user already used, so an observed code cannot be replayed.
"""

from __future__ import annotations

import base64
import hmac
import io

import pyotp

STEP_SECONDS = 30
DIGITS = 6
TOLERANCE_STEPS = 1
ISSUER = "menderlite"


def new_secret() -> str:
    """160 random bits, base32 (what authenticator apps expect)."""
    return pyotp.random_base32(32)


def step_at(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def accepted_step(secret: str, code: str, unix_time: float, last_used_step: int) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_used_step`; else None."""
    if not (isinstance(code, str) and len(code) == DIGITS and code.isascii() and code.isdigit()):
        return None
    current = step_at(unix_time)
    matched = None
    # Compare against every candidate (no early exit) so timing does not tell which step matched.
    for step in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(code_for_step(secret, step), code) and step > last_used_step:
            matched = step
    return matched


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_png_base64(text: str) -> str:
    import segno  # only when a user sets up two-factor authentication: ~1 MiB a server need not hold

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=5, border=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
