"""Typed in-process events between services.

A service announces what happened to its own data (devauth: a device appeared, changed status, was
decommissioned); other services react in their own tables. Handlers run inside the publisher's write
transaction, so the change and every reaction commit together or not at all: nothing is lost between them.
Making these durable workflow jobs later means a handler that records a job row in that same transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    tenant_id: str


@dataclass(frozen=True)
class DeviceAppeared(Event):
    """A device is known for the first time (first auth request or preauthorization)."""

    device_id: str
    identity: dict[str, Any]
    status: str


@dataclass(frozen=True)
class DeviceStatusChanged(Event):
    """The devauth status of devices changed (pending, accepted, rejected, preauthorized, noauth)."""

    device_ids: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class DeviceDecommissioned(Event):
    """A device was removed: its inventory record and unfinished deployments go too."""

    device_id: str


@dataclass(frozen=True)
class TenantCreated(Event):
    """A tenant was provisioned; services set up whatever they keep per tenant."""

    name: str = ""
    plan: str = "os"
    extra: dict[str, Any] = field(default_factory=dict)


E = TypeVar("E", bound=Event)
Handler = Callable[[Any, AsyncSession], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E, AsyncSession], Awaitable[None]]) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, event: Event, session: AsyncSession) -> None:
        """Run every handler of `type(event)` in the caller's write transaction `session`."""
        for handler in self._handlers.get(type(event), ()):
            await handler(event, session)
