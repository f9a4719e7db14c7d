"""Group commit for the device-side writes (check-ins that join or update a deployment, status reports, logs).

Under load many devices wait for the single writer at once. Instead of one transaction each, the waiting
operations run one after the other inside one `db.write()` transaction, which flushes and commits once; each
caller gets its own result (or its own ApiError) after that commit. Semantics stay those of separate
serialized transactions:
- a batch holds at most one operation per key (a device): what an operation reads about its own device
  cannot depend on a batch-mate's changes that are not flushed yet; rows shared between devices (the
  deployment with its counters) are the same ORM objects for all of them, so each operation sees the
  in-memory effects of the ones before it, and the row is written once at the end;
- an operation that raises ApiError must do so before changing anything (the device-side operations check
  first and write last), so its batch-mates are unaffected;
- any other failure rolls the whole batch back and every operation of it is retried alone, so one broken
  operation cannot take the others down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.db import Database
from menderlite.web.errors import ApiError

log = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[AsyncSession], Awaitable[Any]]


class _Pending(Generic[T]):
    __slots__ = ("future", "key", "operation")

    def __init__(self, key: Hashable, operation: Operation, future: asyncio.Future[Any]) -> None:
        self.key = key
        self.operation = operation
        self.future = future


class WriteCombiner:
    def __init__(self, db: Database, max_batch: int = 64) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[_Pending[Any]] = []
        self._worker: asyncio.Task[None] | None = None

    async def run(self, key: Hashable, operation: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `operation(session)` in a write transaction shared with other waiting operations of other keys."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(key, operation, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="deployments-write-combiner")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = self._next_batch()
            if batch:
                await self._run_batch(batch)

    def _next_batch(self) -> list[_Pending[Any]]:
        """Up to max_batch waiting operations in arrival order, one per key; the others keep waiting."""
        batch: list[_Pending[Any]] = []
        keys: set[Hashable] = set()
        waiting: list[_Pending[Any]] = []
        for pending in self._queue:
            if pending.future.cancelled():
                continue
            if len(batch) < self.max_batch and pending.key not in keys:
                keys.add(pending.key)
                batch.append(pending)
            else:
                waiting.append(pending)
        self._queue = waiting
        return batch

    async def _run_batch(self, batch: list[_Pending[Any]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            async with self.db.write() as session:
                for pending in batch:
                    try:
                        outcomes.append((True, await pending.operation(session)))
                    except ApiError as exc:
                        outcomes.append((False, exc))
        except asyncio.CancelledError:
            for pending in batch:
                if not pending.future.done():
                    pending.future.cancel()
            raise
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            log.warning("a batch of %d device writes failed; retrying them one by one", len(batch), exc_info=True)
            for pending in batch:
                await self._run_batch([pending])
            return
        for pending, (ok, value) in zip(batch, outcomes):
            if pending.future.done():
                continue
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)

