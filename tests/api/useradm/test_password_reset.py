"""Password reset end to end: by mail through a local SMTP server, and by the logged link without SMTP."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import update

from menderlite.app import CONTEXT, create_app
from menderlite.context import Context
from menderlite.db import utcnow
from menderlite.useradm.models import PasswordReset
from tests.api.useradm.conftest import PASSWORD, USERADM, bearer, login, token_for
from tests.support.server import free_port

START = f"{USERADM}/auth/password-reset/start"
COMPLETE = f"{USERADM}/auth/password-reset/complete"
NEW_PASSWORD = "a-brand-new-password"
LINK = re.compile(r"(\S+/ui/#/password/([0-9a-f]+))")


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.logins: list[str] = []
        options: dict[str, Any] = {}
        if credentials:
            options = {"authenticator": self._authenticator(credentials), "auth_require_tls": False, "auth_required": True}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)

    def _authenticator(self, credentials: tuple[str, str]) -> Callable[..., AuthResult]:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == credentials
            if ok:
                self.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        return authenticate


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()


async def app_with(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], **overrides: Any) -> tuple[TestClient, Context]:
    app: web.Application = create_app(make_settings(**overrides))
    client = await aiohttp_client(app)
    return client, app[CONTEXT]


def link_in(text: str) -> tuple[str, str]:
    match = LINK.search(text)
    assert match, text
    return match.group(1), match.group(2)


async def test_reset_by_mail_end_to_end(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], smtp_server: SmtpServer) -> None:
    client, ctx = await app_with(
        aiohttp_client, make_settings, smtp={"host": "127.0.0.1", "port": smtp_server.port, "sender": "noreply@menderlite.test"}
    )
    await ctx.useradm.create_user("", "ann@example.com", PASSWORD)
    old_token = bearer(await token_for(client, "ann@example.com"))

    response = await client.post(START, json={"email": "Ann@Example.com"})
    assert response.status == 202
    await ctx.useradm.flush_background()
    assert len(smtp_server.inbox.messages) == 1
    recipients, message = smtp_server.inbox.messages[0]
    assert recipients == ["ann@example.com"]
    assert message["From"] == "noreply@menderlite.test" and message["To"] == "ann@example.com"
    link, secret = link_in(message.get_payload(decode=True).decode())
    assert link == f"http://127.0.0.1:{client.port}/ui/#/password/{secret}"

    assert (await client.post(COMPLETE, json={"secret": secret, "password": NEW_PASSWORD})).status == 202
    assert (await login(client, "ann@example.com", NEW_PASSWORD)).status == 200
    assert (await login(client, "ann@example.com", PASSWORD)).status == 401
    assert (await client.get(f"{USERADM}/users", headers=old_token)).status == 401  # tokens revoked
    again = await client.post(COMPLETE, json={"secret": secret, "password": "yet-another-one"})
    assert again.status == 400  # single use
    assert (await again.json())["error"] == "invalid or expired password reset secret"


async def test_unknown_email_answers_the_same_and_sends_nothing(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], smtp_server: SmtpServer
) -> None:
    client, ctx = await app_with(aiohttp_client, make_settings, smtp={"host": "127.0.0.1", "port": smtp_server.port})
    response = await client.post(START, json={"email": "ghost@example.com"})
    assert response.status == 202
    assert await response.read() == b""
    await ctx.useradm.flush_background()
    assert smtp_server.inbox.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_reset_by_mail_with_smtp_login(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any]) -> None:
    server = SmtpServer(credentials=("mailer", "mail-secret"))
    server.controller.start()
    try:
        client, ctx = await app_with(
            aiohttp_client, make_settings,
            smtp={"host": "127.0.0.1", "port": server.port, "username": "mailer", "password": "mail-secret"},
            useradm={"password_reset_url": "https://gui.example.com/reset?secret={secret}"},
        )
        await ctx.useradm.create_user("", "bea@example.com", PASSWORD)
        assert (await client.post(START, json={"email": "bea@example.com"})).status == 202
        await ctx.useradm.flush_background()
        assert server.logins == ["mailer"]
        body = server.inbox.messages[0][1].get_payload(decode=True).decode()
        secret = re.search(r"https://gui\.example\.com/reset\?secret=([0-9a-f]+)", body).group(1)  # type: ignore[union-attr]
        assert (await client.post(COMPLETE, json={"secret_hash": secret, "password": NEW_PASSWORD})).status == 202
        assert (await login(client, "bea@example.com", NEW_PASSWORD)).status == 200
    finally:
        server.controller.stop()


async def test_unreachable_smtp_server_is_logged_without_the_secret(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, ctx = await app_with(aiohttp_client, make_settings, smtp={"host": "127.0.0.1", "port": free_port(), "timeout_seconds": 5.0})
    await ctx.useradm.create_user("", "cal@example.com", PASSWORD)
    with caplog.at_level(logging.INFO, logger="menderlite.useradm"):
        assert (await client.post(START, json={"email": "cal@example.com"})).status == 202
        await ctx.useradm.flush_background()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "could not send the password-reset mail to cal@example.com" in errors[0].getMessage()
    assert "/password/" not in caplog.text


async def test_reset_without_smtp_logs_the_link(client: TestClient, ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    await ctx.useradm.create_user("", "dan@example.com", PASSWORD)
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        assert (await client.post(START, json={"email": "dan@example.com"})).status == 202
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING and "password reset" in record.getMessage()]
    assert len(warnings) == 1
    link, secret = link_in(warnings[0].getMessage())
    assert link.startswith(f"http://127.0.0.1:{client.port}/ui/#/password/")
    assert (await client.post(COMPLETE, json={"secret": secret, "password": NEW_PASSWORD})).status == 202
    assert (await login(client, "dan@example.com", NEW_PASSWORD)).status == 200
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        assert (await client.post(START, json={"email": "nobody@example.com"})).status == 202
    assert "password reset" not in caplog.text


async def test_expired_and_wrong_secrets_are_refused(client: TestClient, ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    await ctx.useradm.create_user("", "eli@example.com", PASSWORD)
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        await client.post(START, json={"email": "eli@example.com"})
    _, secret = link_in(caplog.text)
    wrong = await client.post(COMPLETE, json={"secret": "0" * len(secret), "password": NEW_PASSWORD})
    assert wrong.status == 400
    async with ctx.db.write() as session:
        await session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await client.post(COMPLETE, json={"secret": secret, "password": NEW_PASSWORD})
    assert expired.status == 400
    assert (await expired.json())["error"] == "invalid or expired password reset secret"
    assert (await login(client, "eli@example.com")).status == 200


async def test_a_too_short_password_keeps_the_secret_usable(client: TestClient, ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    await ctx.useradm.create_user("", "fin@example.com", PASSWORD)
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        await client.post(START, json={"email": "fin@example.com"})
    _, secret = link_in(caplog.text)
    short = await client.post(COMPLETE, json={"secret": secret, "password": "short"})
    assert short.status == 422
    assert (await short.json())["error"] == "password too short"
    assert (await client.post(COMPLETE, json={"secret": secret, "password": NEW_PASSWORD})).status == 202


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        (START, {}, "email: non zero value required"),
        (START, {"email": ""}, "email: non zero value required"),
        (START, {"email": 42}, "email: must be a string"),
        (START, {"email": "not an email"}, "email: not an email does not validate as email"),
        (COMPLETE, {"password": NEW_PASSWORD}, "secret: non zero value required"),
        (COMPLETE, {"secret": 123, "password": NEW_PASSWORD}, "secret: must be a string"),
        (COMPLETE, {"secret": "abc"}, "password: non zero value required"),
        (COMPLETE, {"secret": "abc", "password": NEW_PASSWORD}, "invalid or expired password reset secret"),
    ],
)
async def test_bad_input(client: TestClient, path: str, body: dict, error: str) -> None:
    response = await client.post(path, json=body)
    assert response.status == 400
    assert (await response.json())["error"] == error


async def test_malformed_bodies(client: TestClient) -> None:
    for path in (START, COMPLETE):
        bad = await client.post(path, data=b"{", headers={"Content-Type": "application/json"})
        assert bad.status == 400
        assert (await client.post(path, data=b"x", headers={"Content-Type": "text/plain"})).status == 415


async def test_the_secret_lives_as_long_as_configured(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import select

    client, ctx = await app_with(aiohttp_client, make_settings, useradm={"password_reset_expiration_seconds": 120})
    await ctx.useradm.create_user("", "gil@example.com", PASSWORD)
    default_lifetime = make_settings().useradm.password_reset_expiration_seconds
    assert default_lifetime == 3600
    before = utcnow()
    with caplog.at_level(logging.WARNING, logger="menderlite.useradm"):
        assert (await client.post(START, json={"email": "gil@example.com"})).status == 202
    async with ctx.db.read() as session:
        expires_at = await session.scalar(select(PasswordReset.expires_at))
    assert before + timedelta(seconds=119) <= expires_at <= utcnow() + timedelta(seconds=120)
    _, secret = link_in(caplog.text)
    assert len(secret) >= 32  # unguessable; only its hash is stored
    async with ctx.db.read() as session:
        assert await session.scalar(select(PasswordReset.secret_hash)) != secret
