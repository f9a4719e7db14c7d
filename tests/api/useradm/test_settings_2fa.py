"""User settings, and two-factor login with TOTP codes computed here (pyotp)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
from aiohttp.test_utils import TestClient

from menderlite.app import CONTEXT, create_app
from tests.api.useradm.conftest import (
    PASSWORD,
    USERADM,
    MakeUser,
    bearer,
    login,
    token_for,
)

SETTINGS = f"{USERADM}/settings"
QR = f"{USERADM}/2faqr"
VERIFY = f"{USERADM}/2faverify"


async def test_settings_are_a_json_document_per_user(client: TestClient, make_user: MakeUser) -> None:
    _, alice = await make_user("alice@example.com")
    _, bob = await make_user("bob@example.com")
    empty = await client.get(SETTINGS, headers=alice)
    assert empty.status == 200 and await empty.json() == {}
    document = {"columns": ["name", "status"], "onboarding": {"complete": True}}
    assert (await client.post(SETTINGS, json=document, headers=alice)).status == 201
    assert await (await client.get(SETTINGS, headers=alice)).json() == document
    assert await (await client.get(SETTINGS, headers=bob)).json() == {}
    # POST replaces the whole document.
    assert (await client.post(SETTINGS, json={"theme": "dark"}, headers=alice)).status == 201
    assert await (await client.get(SETTINGS, headers=alice)).json() == {"theme": "dark"}


async def test_settings_bad_input(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("carol@example.com")
    for body in (b"[1, 2]", b"{", b"", b'"text"'):
        response = await client.post(SETTINGS, data=body, headers={**headers, "Content-Type": "application/json"})
        assert response.status == 400
        assert (await response.json())["error"] == "cannot parse request body as json"
    wrong_value = await client.post(SETTINGS, json={"2fa": "maybe"}, headers=headers)
    assert wrong_value.status == 400
    assert (await wrong_value.json())["error"] == '2fa: must be "enabled" or "disabled"'
    wrong_type = await client.post(SETTINGS, data=b"{}", headers={**headers, "Content-Type": "text/plain"})
    assert wrong_type.status == 415
    assert (await client.get(SETTINGS)).status == 401


def secret_of(otpauth_url: str) -> str:
    parts = urlsplit(otpauth_url)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    return parse_qs(parts.query)["secret"][0]


async def enable_two_factor(client: TestClient, headers: dict[str, str]) -> pyotp.TOTP:
    """Enable and verify 2FA as a user would: settings, QR code, then one current code."""
    assert (await client.post(SETTINGS, json={"2fa": "enabled"}, headers=headers)).status == 201
    qr = await client.get(QR, headers=headers)
    assert qr.status == 200
    document = await qr.json()
    assert base64.b64decode(document["qr"]).startswith(b"\x89PNG\r\n\x1a\n")
    totp = pyotp.TOTP(secret_of(document["url"]))
    assert (await client.put(VERIFY, json={"token2fa": totp.now()}, headers=headers)).status == 202
    return totp


async def test_two_factor_enable_verify_login_disable(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("dora@example.com")
    _, other = await make_user("eve@example.com")

    assert (await client.post(SETTINGS, json={"2fa": "enabled", "theme": "dark"}, headers=headers)).status == 201
    assert await (await client.get(SETTINGS, headers=headers)).json() == {"2fa": "enabled", "theme": "dark"}
    assert (await login(client, "dora@example.com")).status == 200  # not verified yet: no code needed

    qr = await (await client.get(QR, headers=headers)).json()
    assert qr["url"].startswith("otpauth://totp/menderlite:dora%40example.com?")
    totp = pyotp.TOTP(secret_of(qr["url"]))
    wrong = await client.put(VERIFY, json={"token2fa": "000000" if totp.now() != "000000" else "111111"}, headers=headers)
    assert wrong.status == 400
    assert (await wrong.json())["error"] == "invalid 2fa token"
    verified_code = totp.now()
    assert (await client.put(VERIFY, json={"token2fa": verified_code}, headers=headers)).status == 202
    assert (await client.get(QR, headers=headers)).status == 400  # the secret is not handed out again

    without_code = await login(client, "dora@example.com")
    assert without_code.status == 401
    assert (await without_code.json())["error"] == "2fa token required"
    assert (await login(client, "dora@example.com", token2fa="12345")).status == 401
    assert (await login(client, "dora@example.com", token2fa=verified_code)).status == 401  # already used
    next_code = totp.at(time.time() + 30)  # one step ahead is within the tolerance
    assert (await login(client, "dora@example.com", token2fa=next_code)).status == 200
    replay = await login(client, "dora@example.com", token2fa=next_code)
    assert replay.status == 401 and (await replay.json())["error"] == "unauthorized"
    wrong_password = await login(client, "dora@example.com", "wrong-password", token2fa=totp.at(time.time() + 30))
    assert wrong_password.status == 401
    assert (await login(client, "eve@example.com")).status == 200  # 2FA is per user
    assert (await client.get(SETTINGS, headers=other)).status == 200

    # The settings document keeps "2fa" when a later POST leaves it out.
    assert (await client.post(SETTINGS, json={"theme": "light"}, headers=headers)).status == 201
    assert await (await client.get(SETTINGS, headers=headers)).json() == {"2fa": "enabled", "theme": "light"}
    assert (await login(client, "dora@example.com")).status == 401

    assert (await client.post(SETTINGS, json={"2fa": "disabled"}, headers=headers)).status == 201
    assert await (await client.get(SETTINGS, headers=headers)).json() == {"2fa": "disabled"}
    assert (await login(client, "dora@example.com")).status == 200
    assert (await client.get(QR, headers=headers)).status == 400


async def test_re_enabling_makes_a_new_secret(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("fay@example.com")
    old = await enable_two_factor(client, headers)
    await client.post(SETTINGS, json={"2fa": "disabled"}, headers=headers)
    await client.post(SETTINGS, json={"2fa": "enabled"}, headers=headers)
    new = pyotp.TOTP(secret_of((await (await client.get(QR, headers=headers)).json())["url"]))
    assert new.secret != old.secret
    assert (await client.put(VERIFY, json={"token2fa": old.at(time.time() + 30)}, headers=headers)).status == 400
    assert (await client.put(VERIFY, json={"token2fa": new.now()}, headers=headers)).status == 202
    assert (await login(client, "fay@example.com", token2fa=new.at(time.time() + 30))).status == 200


async def test_two_factor_endpoints_bad_input(client: TestClient, make_user: MakeUser) -> None:
    _, headers = await make_user("gus@example.com")
    not_enabled = await client.get(QR, headers=headers)
    assert not_enabled.status == 400 and (await not_enabled.json())["error"] == "2fa is not enabled"
    assert (await client.put(VERIFY, json={"token2fa": "123456"}, headers=headers)).status == 400
    await client.post(SETTINGS, json={"2fa": "enabled"}, headers=headers)
    missing = await client.put(VERIFY, json={}, headers=headers)
    assert missing.status == 400 and (await missing.json())["error"] == "token2fa: non zero value required"
    assert (await client.put(VERIFY, json={"token2fa": 123456}, headers=headers)).status == 400
    assert (await client.get(QR)).status == 401


async def test_two_factor_needs_the_professional_plan(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any]) -> None:
    app = create_app(make_settings(tenantadm={"default_plan": "os"}))
    client = await aiohttp_client(app)
    await app[CONTEXT].useradm.create_user("", "hal@example.com", PASSWORD)
    headers = bearer(await token_for(client, "hal@example.com"))
    response = await client.post(SETTINGS, json={"2fa": "enabled"}, headers=headers)
    assert response.status == 403
    assert (await response.json())["error"] == "Feature not available in your Plan"
    assert (await client.post(SETTINGS, json={"theme": "dark"}, headers=headers)).status == 201


async def test_a_code_opens_one_login_even_when_sent_twice_at_once(client: TestClient, make_user: MakeUser) -> None:
    import asyncio

    _, headers = await make_user("ivo@example.com")
    totp = await enable_two_factor(client, headers)
    code = totp.at(time.time() + 30)
    responses = await asyncio.gather(*(login(client, "ivo@example.com", token2fa=code) for _ in range(4)))
    assert sorted(response.status for response in responses) == [200, 401, 401, 401]
