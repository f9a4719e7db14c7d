"""The workflows queries use their indexes (SQLite's EXPLAIN QUERY PLAN on the migrated schema): the
runner's queue probe and claim, the job look-up and the definition look-ups never scan or sort a table."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.sql import Select

from menderlite.workflows.models import PENDING, PROCESSING
from menderlite.workflows.runner import any_job_with_status, oldest_pending_jobs
from menderlite.workflows.service import (
    all_definitions,
    job_of_workflow,
    latest_definition,
)
from tests.support.query_plans import plan


@pytest.mark.parametrize("statement", [any_job_with_status(PENDING), any_job_with_status(PROCESSING), oldest_pending_jobs(4)])
def test_the_queue_is_read_from_its_covering_index(database: sqlite3.Connection, statement: Select) -> None:  # type: ignore[type-arg]
    text = plan(database, statement)
    assert "SEARCH workflow_jobs USING COVERING INDEX ix_workflow_jobs_queue (status=?)" in text, text
    assert "TEMP B-TREE" not in text, text


def test_a_job_is_found_by_its_primary_key(database: sqlite3.Connection) -> None:
    text = plan(database, job_of_workflow("w", "0123456789abcdef01234567"))
    assert "SEARCH workflow_jobs USING INDEX sqlite_autoindex_workflow_jobs_1 (id=?)" in text, text


def test_definitions_are_read_through_the_primary_key(database: sqlite3.Connection) -> None:
    latest = plan(database, latest_definition("w"))
    assert "SEARCH workflow_definitions USING INDEX sqlite_autoindex_workflow_definitions_1 (tenant_id=? AND name=?)" in latest, latest
    listing = plan(database, all_definitions())
    assert "SEARCH workflow_definitions USING INDEX sqlite_autoindex_workflow_definitions_1 (tenant_id=?)" in listing, listing
    assert "TEMP B-TREE" not in latest + listing
