"""Storage: declarative base, engine and the single write path."""

from menderlite.db.base import (
    Base,
    UTCDateTime,
    new_id,
    new_object_id,
    tenant_column,
    utcnow,
)
from menderlite.db.engine import Database, after_commit

__all__ = ["Base", "Database", "UTCDateTime", "after_commit", "new_id", "new_object_id", "tenant_column", "utcnow"]
