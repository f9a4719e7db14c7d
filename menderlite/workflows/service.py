"""The workflows service layer: definitions, jobs and the runner that carries them out; no aiohttp here.

The workflows API has no caller identity (it is internal-network only), so its rows belong to the default
tenant (""); as in Mender, tenant-specific work passes the tenant as a job input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from menderlite.db import after_commit, new_object_id, utcnow
from menderlite.timeutil import rfc3339
from menderlite.web.errors import ApiError
from menderlite.workflows.definitions import DefinitionError, Workflow, parse_definition
from menderlite.workflows.inputs import InputError, input_parameters, missing_inputs
from menderlite.workflows.models import PENDING, WorkflowDefinition, WorkflowJob
from menderlite.workflows.runner import JobRunner

if TYPE_CHECKING:
    from menderlite.context import Context

TENANT = ""
def latest_definition(name: str) -> Select[tuple[WorkflowDefinition]]:
    return (
        select(WorkflowDefinition)
        .where(WorkflowDefinition.tenant_id == TENANT, WorkflowDefinition.name == name)
        .order_by(WorkflowDefinition.version.desc())
        .limit(1)
    )


def all_definitions() -> Select[tuple[str, dict[str, Any]]]:
    """Every version of every definition by name, the highest version of each name last (the primary key's
    order: no sort)."""
    return (
        select(WorkflowDefinition.name, WorkflowDefinition.definition)
        .where(WorkflowDefinition.tenant_id == TENANT)
        .order_by(WorkflowDefinition.name, WorkflowDefinition.version)
    )


def job_of_workflow(name: str, job_id: str) -> Select[tuple[WorkflowJob]]:
    return select(WorkflowJob).where(
        WorkflowJob.id == job_id, WorkflowJob.tenant_id == TENANT, WorkflowJob.workflow_name == name
    )


class WorkflowsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.runner = JobRunner(ctx)

    # --- definitions -----------------------------------------------------------------------------------

    async def register_definition(self, document: Any) -> Workflow:
        """POST /metadata/workflows: 400 for a bad or refused definition; 409 unless its version is higher
        than every registered version of the name (the highest version is the one jobs start with)."""
        try:
            workflow = parse_definition(document)
        except DefinitionError as exc:
            message = str(exc)
            raise ApiError(400, message if message == "Workflow missing name" else f"Invalid workflow: {message}") from None
        if not self.ctx.settings.workflows.allow_cli:
            refused = [task.name for task in workflow.tasks if task.needs_local_access]
            if refused:
                raise ApiError(
                    400,
                    f"Invalid workflow: task {refused[0]!r} runs a command or reads a file on this server, "
                    "which is disabled ([workflows] allow_cli = false)",
                )
        try:
            async with self.ctx.db.write() as session:
                latest = await session.scalar(latest_definition(workflow.name))
                if latest is not None and latest.version >= workflow.version:
                    raise ApiError(409, "Workflow already exists")
                session.add(
                    WorkflowDefinition(
                        tenant_id=TENANT,
                        name=workflow.name,
                        version=workflow.version,
                        definition=dict(document),
                        created=utcnow(),
                    )
                )
        except IntegrityError:
            raise ApiError(409, "Workflow already exists") from None
        return workflow

    async def list_definitions(self) -> list[dict[str, Any]]:
        """GET /metadata/workflows: the highest version of each definition, by name."""
        async with self.ctx.db.read() as session:
            rows = await session.execute(all_definitions())
            latest = {name: definition for name, definition in rows}  # the last version of a name stays
        return list(latest.values())

    # --- jobs ------------------------------------------------------------------------------------------

    async def start_workflow(self, name: str, body: Any) -> str:
        """POST /workflow/{name}: queue a job of the workflow's highest version; returns the job id.

        `body` is the parsed JSON: an object of inputs (non-string values JSON-encoded, lists joined with
        ",") or a list of `{"name", "value"}`.
        """
        try:
            parameters = input_parameters(body)
        except InputError as exc:
            raise ApiError(400, f"Unable to parse the input parameters: {exc}") from None
        job_id = new_object_id()
        async with self.ctx.db.write() as session:
            row = await session.scalar(latest_definition(name))
            if row is None:
                raise ApiError(404, "Workflow not found")
            missing = missing_inputs(parse_definition(row.definition).input_parameters, parameters)
            if missing:
                raise ApiError(400, f"Missing input parameters: [{' '.join(missing)}]")
            session.add(
                WorkflowJob(
                    id=job_id,
                    tenant_id=TENANT,
                    workflow_name=name,
                    workflow_version=row.version,
                    input_parameters=parameters,
                    status=PENDING,
                    results=[],
                    insert_time=utcnow(),
                )
            )
            after_commit(session, self.runner.wake)
        return job_id

    async def job_status(self, name: str, job_id: str) -> dict[str, Any]:
        """GET /workflow/{name}/{id}: the job document; 404 `not found` for another workflow's job too."""
        async with self.ctx.db.read() as session:
            job = await session.scalar(job_of_workflow(name, job_id))
        if job is None:
            raise ApiError(404, "not found")
        return {
            "id": job.id,
            "workflowName": job.workflow_name,
            "inputParameters": job.input_parameters,
            "status": job.status,
            "results": [_shown_result(result) for result in job.results],
            "insert_time": rfc3339(job.insert_time),
        }


def _shown_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A stored task result as the API shows it: workflows names the http parts `httpRequest` and
    `httpResponse`, the reference `request` and `response`; both are given."""
    shown = dict(result)
    if "httpRequest" in shown:
        shown["request"] = shown["httpRequest"]
    if "httpResponse" in shown:
        shown["response"] = shown["httpResponse"]
    return shown
