"""Imports every service's models so that `Base.metadata` describes the whole schema (Alembic, tests)."""

from menderlite.db.base import Base
from menderlite.deployments import models as _deployments_models  # noqa: F401
from menderlite.devauth import models as _devauth_models  # noqa: F401
from menderlite.inventory import models as _inventory_models  # noqa: F401
from menderlite.tenantadm import models as _tenantadm_models  # noqa: F401
from menderlite.useradm import models as _useradm_models  # noqa: F401
from menderlite.workflows import models as _workflows_models  # noqa: F401

metadata = Base.metadata
