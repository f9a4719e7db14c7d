"""`page`/`per_page` parsing with the catalogue's messages, and absolute `Link` headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from menderlite.web.errors import ApiError
from menderlite.web.urls import base_url

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 500
MAX_OFFSET = 2**63 - 1  # offsets are signed 64-bit integers in SQL: a page beyond them is out of bounds, not a 500


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        return self.per_page


def _int_param(query: Mapping[str, str], name: str, default: int, maximum: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Can't parse param {name}") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise ApiError(400, f"Param {name} is out of bounds")
    return value


def parse_paging(request: web.BaseRequest, *, default_per_page: int = DEFAULT_PER_PAGE, max_per_page: int = MAX_PER_PAGE) -> Page:
    query = request.rel_url.query
    page = Page(
        page=_int_param(query, "page", 1, None),
        per_page=_int_param(query, "per_page", default_per_page, max_per_page),
    )
    if page.offset > MAX_OFFSET:
        raise ApiError(400, "Param page is out of bounds")
    return page


def link_header(request: web.BaseRequest, page: Page, has_next: bool) -> str:
    """Links in the order prev, next, first; other query parameters are kept."""
    kept = [(key, value) for key, value in request.rel_url.query.items() if key not in ("page", "per_page")]
    prefix = base_url(request) + request.path

    def link(number: int, rel: str) -> str:
        query = urlencode([*kept, ("page", str(number)), ("per_page", str(page.per_page))])
        return f'<{prefix}?{query}>; rel="{rel}"'

    links = []
    if page.page > 1:
        links.append(link(page.page - 1, "prev"))
    if has_next:
        links.append(link(page.page + 1, "next"))
    links.append(link(1, "first"))
    return ", ".join(links)


def paging_headers(request: web.BaseRequest, page: Page, *, has_next: bool, total: int | None = None) -> dict[str, str]:
    headers = {"Link": link_header(request, page, has_next)}
    if total is not None:
        headers["X-Total-Count"] = str(total)
    return headers
