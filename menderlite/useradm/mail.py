"""Sending mail over SMTP (blocking smtplib: callers run it in a thread)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from menderlite.config import SmtpSettings


def build_message(sender: str, recipient: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    return message


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Deliver one message; raises OSError / smtplib.SMTPException on failure."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.ssl:
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    with client:
        if settings.starttls and not settings.ssl:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password)
        client.send_message(message)


def password_reset_message(sender: str, recipient: str, link: str, valid_minutes: int) -> EmailMessage:
    body = (
        "Someone (hopefully you) asked to reset the password of your account on this Mender server.\n\n"
        f"To choose a new password, open this link within {valid_minutes} minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n"
    )
    return build_message(sender, recipient, "Reset your password", body)
