"""What the inventory route modules share: the service object on the application, JSON bodies, paging."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from menderlite.inventory.service import InventoryService
from menderlite.web import ApiError, Page, paging_headers
from menderlite.web.json_body import EMPTY, read_raw_json_bytes

INVENTORY = web.AppKey("inventory", InventoryService)
DECODE = "failed to decode request body"

# Any page beyond this is empty; SQLite's OFFSET only takes 64-bit integers.
MAX_OFFSET = 2**53

# A `\uD800`-`\uDFFF` escape: the only way a lone surrogate (not storable as UTF-8) gets into a body.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def inventory(request: web.Request) -> InventoryService:
    return request.app[INVENTORY]


def page_headers(request: web.Request, page: Page, total: int) -> dict[str, str]:
    """`Link` and `X-Total-Count` for a page of `total` items."""
    return paging_headers(request, page, has_next=total > page.page * page.per_page, total=total)


def offset_of(page: Page) -> int:
    return min(page.offset, MAX_OFFSET)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON value {name}")


def parse_body(raw: bytes, context: str = DECODE) -> Any:
    """A JSON body, strictly: 400 (never a 500) for NaN/Infinity, numbers beyond Python's digit limit, deep
    nesting and strings holding lone surrogates, as for any other malformed JSON."""
    if not raw.strip():
        raise ApiError(400, f"{context}: {EMPTY}")
    try:
        document = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ApiError(400, f"{context}: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw) and _holds_lone_surrogate(document):
        raise ApiError(400, f"{context}: invalid Unicode: lone surrogate in a string")
    return document


def _holds_lone_surrogate(document: Any) -> bool:
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
    return False


async def read_body(request: web.Request, context: str = DECODE) -> Any:
    return parse_body(await read_raw_json_bytes(request), context)


async def read_body_object(request: web.Request, context: str = DECODE) -> dict[str, Any]:
    body = await read_body(request, context)
    if not isinstance(body, dict):
        raise ApiError(400, f"{context}: expected a JSON object")
    return body
