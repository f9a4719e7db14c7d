"""smtp tasks send through the `[smtp]` settings, and fail clearly without an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient

from tests.api.workflows.conftest import AppFactory, definition, run_job
from tests.api.workflows.mailbox import Mailbox

MAIL = {
    "name": "mail",
    "type": "smtp",
    "smtp": {
        "from": "ops@menderlite.test",
        "to": ["${workflow.input.email}"],
        "cc": ["cc@example.com"],
        "bcc": ["hidden@example.com"],
        "subject": "Device ${workflow.input.device_id} accepted",
        "body": "Hello,\\ndevice ${workflow.input.device_id} is in.",
        "html": "<p>device ${workflow.input.device_id} is in</p>",
    },
}


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    server = Mailbox()
    server.controller.start()
    yield server
    server.controller.stop()


async def test_a_mail_is_sent_to_every_recipient(app_with: AppFactory, smtp_server: Mailbox) -> None:
    client = await app_with(smtp={"host": "127.0.0.1", "port": smtp_server.port})
    document = await run_job(client, definition("mail", [MAIL], inputs=["email", "device_id"]), {"email": "ann@example.com", "device_id": "d-1"})
    assert document["status"] == "done", document
    [(recipients, message)] = smtp_server.messages
    assert sorted(recipients) == ["ann@example.com", "cc@example.com", "hidden@example.com"]
    assert message["From"] == "ops@menderlite.test"
    assert message["To"] == "ann@example.com"
    assert message["Bcc"] is None
    assert message["Subject"] == "Device d-1 accepted"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()}
    assert "device d-1 is in" in parts["text/plain"]
    assert parts["text/html"].strip() == "<p>device d-1 is in</p>"
    smtp = document["results"][0]["smtp"]
    assert smtp["sender"] == "ops@menderlite.test" and smtp["error"] == ""
    assert smtp["recipients"] == ["ann@example.com", "cc@example.com", "hidden@example.com"]


async def test_without_an_smtp_host_the_task_fails_clearly(client: TestClient) -> None:
    document = await run_job(client, definition("mail", [MAIL], inputs=["email", "device_id"]), {"email": "ann@example.com", "device_id": "d-1"})
    assert document["status"] == "failed"
    [result] = document["results"]
    assert result["success"] is False
    assert result["error"] == "no SMTP server configured: set [smtp] host to send mails"
    assert result["smtp"]["error"] == result["error"]


async def test_a_header_injection_attempt_fails_the_task(app_with: AppFactory, smtp_server: Mailbox) -> None:
    client = await app_with(smtp={"host": "127.0.0.1", "port": smtp_server.port})
    inputs = {"email": "ann@example.com", "device_id": "d-1\r\nBcc: victim@example.com"}
    document = await run_job(client, definition("mail", [MAIL], inputs=["email", "device_id"]), inputs)
    assert document["status"] == "failed"
    assert smtp_server.messages == []
