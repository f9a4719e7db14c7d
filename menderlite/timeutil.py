"""Timestamps as the API shows them: RFC 3339 in UTC with a `Z` (what Go clients parse)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (`Z` or an offset); raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without time zone: {text!r}")
    return moment.astimezone(UTC)
