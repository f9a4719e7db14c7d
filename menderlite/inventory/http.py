"""What the inventory route modules share: the service object on the application and paging."""

from __future__ import annotations

from aiohttp import web

from menderlite.inventory.service import InventoryService
from menderlite.web import Page, paging_headers

INVENTORY = web.AppKey("inventory", InventoryService)

# Any page beyond this is empty; SQLite's OFFSET only takes 64-bit integers.
MAX_OFFSET = 2**53


def inventory(request: web.Request) -> InventoryService:
    return request.app[INVENTORY]


def page_headers(request: web.Request, page: Page, total: int) -> dict[str, str]:
    """`Link` and `X-Total-Count` for a page of `total` items."""
    return paging_headers(request, page, has_next=total > page.page * page.per_page, total=total)


def offset_of(page: Page) -> int:
    return min(page.offset, MAX_OFFSET)
