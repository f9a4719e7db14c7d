"""The deployments service layer: the logic and the queries; no aiohttp here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from menderlite.context import Context


class DeploymentsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
