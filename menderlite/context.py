"""Everything the service layers share, built once per application.

Each service package's `setup()` creates its service object and stores it here, so services call each other
through `ctx.<service>` (their service layer), never through another service's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from menderlite.config import Settings
from menderlite.db import Database
from menderlite.events import EventBus
from menderlite.storage import BlobStore, LocalBlobStore
from menderlite.tokens import Keys

if TYPE_CHECKING:
    from menderlite.deployments.service import DeploymentsService
    from menderlite.devauth.service import DevauthService
    from menderlite.inventory.service import InventoryService
    from menderlite.tenantadm.service import TenantadmService
    from menderlite.useradm.service import UseradmService
    from menderlite.workflows.service import WorkflowsService


@dataclass
class Context:
    settings: Settings
    db: Database
    keys: Keys
    storage: BlobStore
    events: EventBus = field(default_factory=EventBus)

    useradm: UseradmService = field(init=False)
    devauth: DevauthService = field(init=False)
    inventory: InventoryService = field(init=False)
    deployments: DeploymentsService = field(init=False)
    tenantadm: TenantadmService = field(init=False)
    workflows: WorkflowsService = field(init=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            db=Database(
                settings.database_path,
                read_connections=settings.database.read_connections,
                busy_timeout_ms=settings.database.busy_timeout_ms,
            ),
            keys=Keys.load_or_create(settings.jwt_key_path, settings.url_secret_path),
            storage=LocalBlobStore(settings.artifacts_dir),
        )
