"""The check-in and listing queries use their indexes: no scan of a table that grows with the fleet or the
number of deployments (checked with SQLite's EXPLAIN QUERY PLAN on the migrated schema)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from menderlite.deployments import models
from menderlite.deployments.inputs import ListQuery
from menderlite.deployments.selection import device_state_statement, listed_statement
from menderlite.deployments.service import DeploymentsService
from tests.support.query_plans import plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)






def test_device_state_probes_the_check_in_index(database: sqlite3.Connection) -> None:
    text = plan(database, device_state_statement("", "device-1"))
    assert text.count("USING COVERING INDEX ix_device_deployments_check_in") + text.count("USING INDEX ix_device_deployments_check_in") == 2
    assert "SCAN device_deployments" not in text


def test_device_list_membership_uses_the_primary_key(database: sqlite3.Connection) -> None:
    text = plan(database, listed_statement("", "device-1", ["a", "b"]))
    assert "SEARCH deployment_devices" in text and "SCAN deployment_devices" not in text


@pytest.mark.parametrize("status", [None, "pending", "inprogress", "finished", "scheduled"])
def test_listing_pages_walk_an_index(database: sqlite3.Connection, status: str | None) -> None:
    conditions = DeploymentsService.list_conditions("", ListQuery(status=status, search="x" if status == "finished" else None), NOW)
    page = select(models.Deployment).where(*conditions).order_by(models.Deployment.seq.desc()).limit(21)
    text = plan(database, page)
    assert "SEARCH deployments USING INDEX ix_deployments_tenant_id" in text, text
    assert "TEMP B-TREE" not in text, text  # no sort of all matching rows
    count = plan(database, select(func.count()).select_from(models.Deployment).where(*conditions))
    assert "SEARCH deployments USING" in count and "SCAN deployments" not in count, count


MONTH_AGO = datetime(2025, 12, 1, tzinfo=UTC)
COMBINED = [
    ListQuery(status="inprogress", search="release", created_after=MONTH_AGO, created_before=NOW),
    ListQuery(status="finished", created_after=MONTH_AGO),
    ListQuery(status="scheduled", search="x", created_before=NOW),
    ListQuery(search="release", created_after=MONTH_AGO),
    ListQuery(created_after=MONTH_AGO, created_before=NOW),
]


@pytest.mark.parametrize("query", COMBINED, ids=lambda query: f"{query.status}-{bool(query.search)}-{bool(query.created_after)}")
def test_listing_with_combined_filters_walks_an_index(database: sqlite3.Connection, query: ListQuery) -> None:
    """The GUI's deployment lists at scale: newest first, filtered by status, name and creation time."""
    conditions = DeploymentsService.list_conditions("", query, NOW)
    text = plan(database, select(models.Deployment).where(*conditions).order_by(models.Deployment.seq.desc()).limit(21))
    assert "SEARCH deployments USING INDEX ix_deployments_tenant_id" in text, text
    assert "TEMP B-TREE" not in text and "SCAN deployments" not in text, text
    count = plan(database, select(func.count()).select_from(models.Deployment).where(*conditions))
    assert "SEARCH deployments USING" in count and "SCAN deployments" not in count, count
