"""The deployments service layer: the logic and the queries; no aiohttp here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from menderlite.deployments.artifacts import ArtifactsService

if TYPE_CHECKING:
    from menderlite.context import Context


class DeploymentsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.artifacts = ArtifactsService(ctx)

    async def artifact_in_use(self, tenant_id: str, artifact_id: str, unfinished_only: bool) -> bool:
        """Whether a deployment uses the artifact (`unfinished_only`: only deployments not yet finished).

        Placeholder until deployments exist: the deployments issue implements it. Artifacts call it before an
        edit (any deployment: 422) and a delete (unfinished deployments: 409).
        """
        return False
