"""Checks of the request documents' fields, with the messages the real service uses (govalidator style)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from menderlite.web.errors import ApiError

MAX_EMAIL_LENGTH = 254
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively: `Admin@Example.com` and `admin@example.com` are one account."""
    return email.strip().lower()


def email_field(document: Mapping[str, Any], name: str = "email") -> str:
    value = document.get(name)
    if value is None or value == "":
        raise ApiError(400, f"{name}: non zero value required")
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: must be a string")
    email = normalize_email(value)
    if len(email) > MAX_EMAIL_LENGTH or EMAIL.fullmatch(email) is None:
        raise ApiError(400, f"{name}: {value} does not validate as email")
    return email


def optional_string(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: must be a string")
    return value


def string_list(document: Mapping[str, Any], name: str) -> list[str] | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(400, f"{name}: must be a list of strings")
    return list(dict.fromkeys(value))  # without duplicates, order kept


def optional_bool(document: Mapping[str, Any], name: str, default: bool) -> bool:
    value = document.get(name, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name}: must be true or false")
    return value
