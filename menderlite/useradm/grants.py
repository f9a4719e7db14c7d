"""The management guard's cache: token text -> what the token grants (identity and RBAC policy).

Verifying a cached token needs no signature check and no query. Entries are dropped after every commit that
could change the answer (revocation, user deletion, password or role changes: `after_commit`), and live at
most `ttl` seconds, which bounds how long a change made by another process (the `menderlite user` CLI)
can go unnoticed. A generation counter keeps a lookup that raced with an invalidation from being cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from menderlite.useradm.rbac import Policy
from menderlite.web.guards import Identity

DEFAULT_TTL_SECONDS = 10.0
DEFAULT_MAX_ENTRIES = 1024


@dataclass(frozen=True)
class Grant:
    identity: Identity
    policy: Policy
    expires_at: float  # the token's exp (Unix time)


class GrantCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[str, tuple[Grant, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Grant | None:
        cached = self._entries.get(token)
        if cached is None:
            return None
        grant, stored_at = cached
        if self._clock() - stored_at > self.ttl or time.time() >= grant.expires_at:
            self._entries.pop(token, None)
            return None
        return grant

    def put(self, token: str, grant: Grant, generation: int) -> None:
        """Store unless something was invalidated since `generation` was read (the lookup may be stale)."""
        if generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))  # the oldest entry
        self._entries[token] = (grant, self._clock())

    def _drop(self, matches: Callable[[Identity], bool]) -> None:
        self.generation += 1
        for token in [token for token, (grant, _) in self._entries.items() if matches(grant.identity)]:
            del self._entries[token]

    def drop_user(self, tenant_id: str, user_id: str) -> None:
        self._drop(lambda identity: identity.tenant_id == tenant_id and identity.subject == user_id)

    def drop_tenant(self, tenant_id: str) -> None:
        self._drop(lambda identity: identity.tenant_id == tenant_id)
