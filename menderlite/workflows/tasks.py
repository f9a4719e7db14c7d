"""Running one attempt of one task (http, cli, smtp) into the result document the status API shows.

A task never raises for its own failure (bad URI, refused connection, timeout, exit status, SMTP error): it
returns a result with `success: false`, and `error` says why when the task's own fields do not.
"""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from menderlite.config import SmtpSettings
from menderlite.useradm import mail
from menderlite.workflows.definitions import CliTask, HttpTask, SmtpTask, Task
from menderlite.workflows.templating import Scope

MAX_CAPTURE_BYTES = 1024 * 1024  # of a response body, a command's output or a file body: the rest is dropped
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_HTTP_TIMEOUT_S = 60.0
DEFAULT_CLI_TIMEOUT_S = 3600
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
LOCAL_ACCESS_REFUSED = (
    "refused: cli tasks and @file bodies run on this server and are disabled ([workflows] allow_cli = false)"
)


def output_of(result: Mapping[str, Any]) -> str:
    """The text `${TASK.json.PATH}` reads: an http task's response body, a cli task's output."""
    if "httpResponse" in result:
        return str(result["httpResponse"].get("body", ""))
    if "cli" in result:
        return str(result["cli"].get("output", ""))
    return ""


def _result(task: Task, success: bool, error: str = "", **parts: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"name": task.name, "type": task.type, "success": success, **parts}
    if error:
        result["error"] = error
    return result


# --- http ------------------------------------------------------------------------------------------------


def redacted(headers: Mapping[str, str]) -> list[str]:
    """Headers as `Name: value` lines with credentials replaced (the scheme word is kept)."""
    lines = []
    for name, value in headers.items():
        if name.lower() in REDACTED_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} [redacted]" if rest else "[redacted]"
        lines.append(f"{name}: {value}")
    return lines


def redacted_uri(uri: str) -> str:
    """The URI with the password of its userinfo replaced (aiohttp sends it as Basic Authorization).
    Textual, as urlsplit reads an authority, so that URIs too broken to parse are redacted as well."""
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return uri
    end = min((index for index in (rest.find(char) for char in "/?#") if index != -1), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    return f"{scheme}://{userinfo.partition(':')[0]}:[redacted]@{host}{rest[end:]}"


async def run_http(task: Task, scope: Scope, session: aiohttp.ClientSession, *, allow_local: bool) -> dict[str, Any]:
    http = task.http
    assert http is not None
    uri = scope.expand(http.uri)
    headers = {name: scope.expand(value) for name, value in http.headers.items()}
    request: dict[str, Any] = {"uri": redacted_uri(uri), "method": http.method, "body": "", "headers": redacted(headers)}
    no_response = {"statusCode": 0, "body": ""}

    def failed(error: str) -> dict[str, Any]:
        return _result(task, False, error, httpRequest=request, httpResponse=no_response)

    if http.reads_file and not allow_local:
        return failed(LOCAL_ACCESS_REFUSED)
    try:
        body, content_type = await _http_body(http, scope)
    except OSError as exc:
        return failed(f"cannot read the body file: {exc.strerror or exc}")
    if content_type and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    request.update(body=body, headers=redacted(headers))
    if not _is_http_url(uri):
        return failed(f"invalid uri: {redacted_uri(uri)!r} (expected an http:// or https:// URL)")
    connect = http.connection_timeout_ms / 1000 or DEFAULT_CONNECT_TIMEOUT_S
    total = http.read_timeout_ms / 1000 or DEFAULT_HTTP_TIMEOUT_S
    try:
        async with session.request(
            http.method,
            uri,
            data=body.encode() if body else None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=total, connect=connect),
        ) as response:
            text = (await _read_capped(response.content)).decode("utf-8", errors="replace")
            status = response.status
    except TimeoutError:
        return failed(f"timed out (connect {connect:g} s, whole request {total:g} s)")
    except (aiohttp.ClientError, ValueError) as exc:
        return failed(f"request failed: {exc}" if str(exc) else f"request failed: {type(exc).__name__}")
    success = status in http.status_codes if http.status_codes else status < 400
    return _result(task, success, httpRequest=request, httpResponse={"statusCode": status, "body": text})


def _is_http_url(uri: str) -> bool:
    try:
        target = URL(uri)
    except (ValueError, TypeError):
        return False
    return target.absolute and target.scheme in ("http", "https") and bool(target.host)


async def _http_body(http: HttpTask, scope: Scope) -> tuple[str, str]:
    """The request body and its content type: a file's (templated), form data, or the templated body."""
    if http.reads_file:
        # Only the definition's own text names the file; inputs never can (they are expanded after reading).
        raw = await asyncio.to_thread(_read_file_capped, Path(http.body[1:]))
        return scope.render_actions(scope.expand(raw.decode("utf-8", errors="replace"))), http.content_type
    if http.form_data:
        form = {name: scope.render_actions(scope.expand(value)) for name, value in http.form_data.items()}
        return urlencode(form), http.content_type or "application/x-www-form-urlencoded"
    return scope.render_actions(scope.expand(http.body)), http.content_type


def _read_file_capped(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_CAPTURE_BYTES)


async def _read_capped(stream: aiohttp.StreamReader | asyncio.StreamReader) -> bytes:
    """Everything the stream gives, keeping the first MAX_CAPTURE_BYTES (the rest is drained and dropped)."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < MAX_CAPTURE_BYTES:
            kept += chunk[: MAX_CAPTURE_BYTES - len(kept)]
    return bytes(kept)


# --- cli -------------------------------------------------------------------------------------------------


def _child_environment() -> dict[str, str]:
    # This server's own settings (MENDERLITE_*) can hold secrets; commands do not need them.
    return {name: value for name, value in os.environ.items() if not name.upper().startswith("MENDERLITE_")}


async def run_cli(task: Task, scope: Scope, *, allow_local: bool) -> dict[str, Any]:
    cli: CliTask | None = task.cli
    assert cli is not None
    command = [scope.expand(argument) for argument in cli.command]

    def failed(error: str) -> dict[str, Any]:
        return _result(task, False, error, cli={"command": command, "output": "", "error": error, "exitCode": -1})

    if not allow_local:
        return failed(LOCAL_ACCESS_REFUSED)
    timeout = cli.execution_timeout_s or DEFAULT_CLI_TIMEOUT_S
    try:
        # No shell: the argv runs as given. A session of its own, so a timeout ends its children too.
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_child_environment(),
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        return failed(f"cannot run {command[0]!r}: {getattr(exc, 'strerror', None) or exc}")
    try:
        assert process.stdout is not None and process.stderr is not None
        output, errors, code = await asyncio.wait_for(
            asyncio.gather(_read_capped(process.stdout), _read_capped(process.stderr), process.wait()), timeout
        )
    except TimeoutError:
        _kill(process)
        await process.wait()
        return failed(f"timed out after {timeout} s")
    except asyncio.CancelledError:
        _kill(process)  # shutdown: the job resumes at the next start
        raise
    cli_result = {
        "command": command,
        "output": output.decode("utf-8", errors="replace"),
        "error": errors.decode("utf-8", errors="replace"),
        "exitCode": code,
    }
    return _result(task, code == 0, cli=cli_result)


def _kill(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- smtp ------------------------------------------------------------------------------------------------


async def run_smtp(task: Task, scope: Scope, settings: SmtpSettings) -> dict[str, Any]:
    smtp: SmtpTask | None = task.smtp
    assert smtp is not None
    sender = scope.expand(smtp.sender) or settings.sender
    to, cc, bcc = ([scope.expand(address) for address in addresses] for addresses in (smtp.to, smtp.cc, smtp.bcc))
    recipients = to + cc + bcc
    details: dict[str, Any] = {"sender": sender, "recipients": recipients, "message": "", "error": ""}

    def failed(error: str) -> dict[str, Any]:
        details["error"] = error
        return _result(task, False, error, smtp=details)

    if not settings.host:
        return failed("no SMTP server configured: set [smtp] host to send mails")
    if not recipients:
        return failed("no recipients")
    try:
        message = _message(sender, to, cc, bcc, scope.expand(smtp.subject), scope.expand(smtp.body), scope.expand(smtp.html))
        details["message"] = message.as_string()[:MAX_CAPTURE_BYTES]
        await asyncio.to_thread(mail.send, settings, message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        return failed(f"sending failed: {exc}")
    return _result(task, True, smtp=details)


def _message(sender: str, to: list[str], cc: list[str], bcc: list[str], subject: str, body: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    for header, addresses in (("To", to), ("Cc", cc), ("Bcc", bcc)):
        if addresses:
            message[header] = ", ".join(addresses)  # Bcc is sent to, but left out of the message (send_message)
    message["Subject"] = subject
    if body or not html:
        message.set_content(body)
        if html:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html, subtype="html")
    return message
