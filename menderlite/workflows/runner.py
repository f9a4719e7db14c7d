"""The durable job runner inside the menderlite process.

Jobs live in the database, so nothing is lost with the process: at start-up, jobs an earlier run left
`processing` go back to `pending`, and pending jobs run oldest first, at most `[workflows] concurrency` at
a time. A job's result list grows by one task result per write, so a resumed job goes on with the first
task that has no result yet (a task interrupted mid-way runs again). At shutdown running jobs get
`[workflows] stop_timeout_seconds` to finish; the others are cancelled and resume at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import Select, select, update

from menderlite.workflows import tasks
from menderlite.workflows.definitions import Task, parse_definition
from menderlite.workflows.models import (
    DONE,
    FAILED,
    PENDING,
    PROCESSING,
    WorkflowDefinition,
    WorkflowJob,
)
from menderlite.workflows.templating import Scope, readable_environment

if TYPE_CHECKING:
    from menderlite.context import Context

log = logging.getLogger(__name__)

LOOP_ERROR_PAUSE_S = 1.0


def any_job_with_status(status: str) -> Select[tuple[str]]:
    return select(WorkflowJob.id).where(WorkflowJob.status == status).limit(1)


def oldest_pending_jobs(count: int) -> Select[tuple[str]]:
    """The queue, in the order jobs were started (the index holds it: no sort)."""
    return (
        select(WorkflowJob.id)
        .where(WorkflowJob.status == PENDING)
        .order_by(WorkflowJob.insert_time, WorkflowJob.id)
        .limit(count)
    )


class JobRunner:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.workflows
        self._wakeup = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._http: aiohttp.ClientSession | None = None
        self._writes: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        resumed = await self._requeue_interrupted()
        if resumed:
            log.info("resuming %d workflow job(s) interrupted by the last shutdown", resumed)
        self._loop_task = asyncio.create_task(self._loop(), name="workflow-runner")

    def begin_stop(self) -> None:
        """The server is shutting down: take no new jobs, and record no task failure from now on (the
        server's own API may already be gone); such a job stays `processing` and runs again after the
        next start."""
        self._stopping = True
        self._wakeup.set()

    async def stop(self) -> None:
        """Stop taking jobs, give running ones a bounded time, cancel the rest (they stay `processing`)."""
        self.begin_stop()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        running = list(self._running.values())
        if running:
            _, unfinished = await asyncio.wait(running, timeout=self.settings.stop_timeout_seconds)
            for job in unfinished:
                job.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            if unfinished:
                log.info("%d workflow job(s) stopped; they resume at the next start", len(unfinished))
        await asyncio.gather(*self._writes, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def wake(self) -> None:
        """A job was queued: look for work."""
        self._wakeup.set()

    @property
    def running_jobs(self) -> int:
        return len(self._running)

    # --- the queue -------------------------------------------------------------------------------------

    async def _requeue_interrupted(self) -> int:
        async with self.ctx.db.read() as session:
            interrupted = await session.scalar(any_job_with_status(PROCESSING))
        if interrupted is None:
            return 0  # the usual start: no write
        async with self.ctx.db.write() as session:
            result = await session.execute(
                update(WorkflowJob).where(WorkflowJob.status == PROCESSING).values(status=PENDING)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before looking, so a job queued while we look sets it again: no lost wake-up.
            self._wakeup.clear()
            try:
                claimed = await self._claim(self.settings.concurrency - len(self._running))
            except Exception:
                log.exception("workflow runner: cannot read the job queue")
                await asyncio.sleep(LOOP_ERROR_PAUSE_S)
                continue
            for job_id in claimed:
                job = asyncio.create_task(self._run_job(job_id), name=f"workflow-job-{job_id}")
                self._running[job_id] = job
                job.add_done_callback(lambda _, job_id=job_id: self._finished(job_id))
            if not claimed:
                await self._wakeup.wait()

    def _finished(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self._wakeup.set()

    async def _claim(self, count: int) -> list[str]:
        """Mark up to `count` of the oldest pending jobs `processing` and return their ids."""
        if count <= 0 or self._stopping:
            return []
        async with self.ctx.db.read() as session:
            if await session.scalar(any_job_with_status(PENDING)) is None:
                return []  # an idle server writes nothing
        async with self.ctx.db.write() as session:
            ids = list(await session.scalars(oldest_pending_jobs(count)))
            if ids:
                await session.execute(update(WorkflowJob).where(WorkflowJob.id.in_(ids)).values(status=PROCESSING))
        return ids

    # --- one job ---------------------------------------------------------------------------------------

    async def _run_job(self, job_id: str) -> None:
        try:
            await self._run_tasks(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("workflow job %s: unexpected error; the job is marked failed", job_id)
            try:
                await self._save(job_id, None, FAILED)
            except Exception:
                log.exception("workflow job %s: cannot mark it failed", job_id)

    async def _run_tasks(self, job_id: str) -> None:
        async with self.ctx.db.read() as session:
            job = await session.get(WorkflowJob, job_id)
            if job is None:
                return
            definition = await session.get(WorkflowDefinition, (job.tenant_id, job.workflow_name, job.workflow_version))
        if definition is None:
            log.warning("workflow job %s: definition %s v%d is gone", job_id, job.workflow_name, job.workflow_version)
            await self._save(job_id, None, FAILED)
            return
        workflow = parse_definition(definition.definition)
        results: list[dict[str, Any]] = list(job.results)
        scope = Scope(
            inputs={parameter["name"]: parameter["value"] for parameter in job.input_parameters},
            environ=readable_environment(self.settings.env),
        )
        for done_task, result in zip(workflow.tasks, results):
            scope.set_output(done_task.name, tasks.output_of(result))
        remaining = workflow.tasks[len(results) :]
        if not remaining:
            await self._save(job_id, None, DONE)
        for position, task in enumerate(remaining, start=1):
            if self._stopping:
                return  # no new task during shutdown: the job goes on after the next start
            result = await self._attempts(task, scope)
            if not result["success"] and self._stopping:
                return  # left `processing`: the task runs again after the next start
            results.append(result)
            scope.set_output(task.name, tasks.output_of(result))
            if not result["success"]:
                await self._save(job_id, results, FAILED)
                log.warning(
                    "workflow job %s (%s): task %s failed after %d attempt(s)%s",
                    job_id, workflow.name, task.name, task.retries + 1, _why(result),
                )
                return
            await self._save(job_id, results, DONE if position == len(remaining) else PROCESSING)
        log.info("workflow job %s (%s) done", job_id, workflow.name)

    async def _attempts(self, task: Task, scope: Scope) -> dict[str, Any]:
        """Up to `retries + 1` attempts; the result of the last one counts."""
        for attempt in range(task.retries + 1):
            if attempt:
                await asyncio.sleep(self.settings.retry_delay_seconds)
            result = await self._attempt(task, scope)
            if result["success"] or self._stopping:
                break
        return result

    async def _attempt(self, task: Task, scope: Scope) -> dict[str, Any]:
        allow_local = self.settings.allow_cli
        if task.type == "http":
            return await tasks.run_http(task, scope, self._http_session(), allow_local=allow_local)
        if task.type == "cli":
            return await tasks.run_cli(task, scope, allow_local=allow_local)
        return await tasks.run_smtp(task, scope, self.ctx.settings.smtp)

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(trust_env=False)
        return self._http

    async def _save(self, job_id: str, results: list[dict[str, Any]] | None, status: str) -> None:
        """Store a job's progress. A job cancelled at shutdown stops here only after the write (stop() waits
        for it), so its transaction is never torn in the middle."""
        values: dict[str, Any] = {"status": status}
        if results is not None:
            values["results"] = list(results)
        write = asyncio.create_task(self._write(job_id, values))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        await asyncio.shield(write)

    async def _write(self, job_id: str, values: dict[str, Any]) -> None:
        async with self.ctx.db.write() as session:
            await session.execute(update(WorkflowJob).where(WorkflowJob.id == job_id).values(**values))


def _why(result: dict[str, Any]) -> str:
    """A log-safe reason: the status code or the error text, never headers or bodies."""
    if result.get("error"):
        # http errors can quote the URI, which may carry a token: only their kind is logged
        error = result["error"].split(":", 1)[0] if "httpResponse" in result else result["error"]
        return f": {error}"
    if "httpResponse" in result:
        return f": HTTP status {result['httpResponse']['statusCode']}"
    if "cli" in result:
        return f": exit code {result['cli']['exitCode']}"
    return ""
