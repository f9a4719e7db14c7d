"""Reading the multipart forms of artifact upload and generate: small fields first, then the file part,
handed on as an async iterator of chunks (never the whole file in memory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, ClientError, web
from aiohttp.http_exceptions import HttpProcessingError

from menderlite.web.errors import ApiError

MULTIPART = "multipart/form-data"
MAX_FIELD_BYTES = 64 << 10
MAX_FIELDS = 64  # text parts before the file part: the forms have at most six
CHUNK = 1 << 20
_READ_ERRORS = (ValueError, AssertionError, ConnectionError, asyncio.IncompleteReadError, EOFError, ClientError, HttpProcessingError)


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    file: BodyPartReader | None = None

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


async def read_form(request: web.Request, file_field: str) -> Form:
    """Read the text fields up to the `file_field` part (which must come last, per the reference)."""
    if request.content_type != MULTIPART:
        raise ApiError(415, "Bad Content-Type, expected 'multipart/form-data'")
    form = Form()
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return form
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "nested multipart bodies are not supported")
            if part.name == file_field:
                form.file = part
                return form
            if sum(map(len, form.fields.values())) >= MAX_FIELDS:
                raise ApiError(400, f"too many form fields before the {file_field} part")
            form.fields.setdefault(part.name or "", []).append(await _read_text(part))
    except ApiError:
        raise
    except _READ_ERRORS:
        raise ApiError(400, "malformed multipart/form-data body") from None


async def _read_text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise ApiError(400, f"form field {part.name} is too large")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"form field {part.name} is not UTF-8 text") from None


async def file_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    """The file part's bytes; a broken or truncated body becomes a 400."""
    try:
        while chunk := await part.read_chunk(CHUNK):
            yield chunk
    except _READ_ERRORS:
        raise ApiError(400, "the upload ended before the file was complete") from None


def optional_size(form: Form) -> int | None:
    text = form.get("size")
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ApiError(400, "size: must be an integer") from None
    if value < 0:
        raise ApiError(400, "size: must not be negative")
    return value
