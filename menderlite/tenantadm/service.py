"""The tenantadm service layer: the logic and the queries; no aiohttp here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from menderlite.context import Context


class TenantadmService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def plan_of(self, tenant_id: str) -> str:
        """The plan of a tenant (os, professional, enterprise); the default tenant's comes from settings.

        Until tenant accounts exist (tenantadm), every tenant has the default tenant's plan.
        """
        return self.ctx.settings.tenantadm.default_plan
