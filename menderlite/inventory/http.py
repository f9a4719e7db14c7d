"""What the inventory route modules share: the service object on the application."""

from __future__ import annotations

from aiohttp import web

from menderlite.inventory.service import InventoryService
from menderlite.web import Page, paging_headers

INVENTORY = web.AppKey("inventory", InventoryService)


def inventory(request: web.Request) -> InventoryService:
    return request.app[INVENTORY]


def page_headers(request: web.Request, page: Page, total: int) -> dict[str, str]:
    """`Link` and `X-Total-Count` for a page of `total` items."""
    return paging_headers(request, page, has_next=total > page.page * page.per_page, total=total)
