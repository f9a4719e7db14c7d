"""An in-memory cache of device-token verdicts, so that a device's check-ins skip the JWT and database work.

Only positive verdicts are kept, keyed by a digest of the whole token (a token string that verified once
verifies again until its `exp`, unless something revoked it). Every change that can revoke a token
(reject, auth-set deletion, decommission, token revocation) invalidates the device's entries twice: when
the change is made inside the write transaction and again after it commits (`after_commit`). A verification
that read the database before the commit cannot store its stale verdict afterwards: `put` refuses entries
computed under an older generation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from menderlite.web.guards import Identity


@dataclass(frozen=True, slots=True)
class Verdict:
    tenant_id: str
    device_id: str
    token_id: str
    plan: str
    expires_at: float  # Unix seconds (the token's `exp`)
    # The identity last handed out for this verdict (a cache hit repeats it: building one costs more than
    # the rest of the look-up). Reused only for the very same token string.
    _identity: Identity | None = field(default=None, compare=False, repr=False)

    def identity(self, token: str) -> Identity:
        last = self._identity
        if last is not None and last.token == token:
            return last
        identity = Identity(
            subject=self.device_id,
            tenant_id=self.tenant_id,
            is_device=True,
            plan=self.plan,
            token_id=self.token_id,
            token=token,
        )
        object.__setattr__(self, "_identity", identity)  # a memo, not a change of the verdict
        return identity


def token_key(token: str) -> bytes:
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


class VerdictCache:
    """Bounded (oldest entries go first); `max_entries` 0 disables caching."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: dict[bytes, Verdict] = {}
        self._by_device: dict[tuple[str, str], set[bytes]] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key: bytes, now: float) -> Verdict | None:
        verdict = self._entries.get(key)
        if verdict is not None and now >= verdict.expires_at:
            self._drop(key, verdict)
            return None
        return verdict

    def put(self, key: bytes, verdict: Verdict, generation: int) -> None:
        if self.max_entries <= 0 or generation != self._generation:
            return
        while len(self._entries) >= self.max_entries:
            oldest = next(iter(self._entries))
            self._drop(oldest, self._entries[oldest])
        self._entries[key] = verdict
        self._by_device.setdefault((verdict.tenant_id, verdict.device_id), set()).add(key)

    def invalidate_device(self, tenant_id: str, device_id: str) -> None:
        self._generation += 1
        for key in self._by_device.pop((tenant_id, device_id), ()):
            self._entries.pop(key, None)

    def invalidate_tenant(self, tenant_id: str) -> None:
        self._generation += 1
        for device in [device for device in self._by_device if device[0] == tenant_id]:
            for key in self._by_device.pop(device, ()):
                self._entries.pop(key, None)

    def _drop(self, key: bytes, verdict: Verdict) -> None:
        self._entries.pop(key, None)
        device = (verdict.tenant_id, verdict.device_id)
        keys = self._by_device.get(device)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_device[device]
