"""The device-token verdict cache (menderlite.devauth.verdicts) and the device status rule."""

from __future__ import annotations

import pytest

from menderlite.devauth.service import derive_status
from menderlite.devauth.verdicts import Verdict, VerdictCache, token_key


def verdict(device: str, tenant: str = "", expires_at: float = 1000.0) -> Verdict:
    return Verdict(tenant, device, f"jti-{device}", "enterprise", expires_at)


def test_get_put_and_expiry() -> None:
    cache = VerdictCache(10)
    key = token_key("token-a")
    assert cache.get(key, 0) is None
    cache.put(key, verdict("d1"), cache.generation)
    found = cache.get(key, 999.9)
    assert found is not None
    identity = found.identity("token-a")
    assert (identity.subject, identity.tenant_id, identity.is_device, identity.token_id, identity.token) == (
        "d1", "", True, "jti-d1", "token-a"
    )
    assert cache.get(key, 1000.0) is None  # expired entries go
    assert len(cache) == 0


def test_invalidation_by_device_and_tenant() -> None:
    cache = VerdictCache(10)
    entries = {
        "a1": verdict("d1"), "a2": verdict("d1"), "b": verdict("d2"), "c": verdict("d3", tenant="t2"),
    }
    for token, value in entries.items():
        cache.put(token_key(token), value, cache.generation)
    cache.invalidate_device("", "d1")
    assert [token for token in entries if cache.get(token_key(token), 0)] == ["b", "c"]
    cache.invalidate_device("t2", "d2")  # another tenant's device of the same id: untouched
    assert cache.get(token_key("b"), 0) is not None
    cache.invalidate_tenant("")
    assert [token for token in entries if cache.get(token_key(token), 0)] == ["c"]


def test_a_verdict_computed_before_an_invalidation_is_not_stored() -> None:
    cache = VerdictCache(10)
    generation = cache.generation  # a verification starts reading the database...
    cache.invalidate_device("", "d1")  # ...meanwhile the device is rejected
    cache.put(token_key("t"), verdict("d1"), generation)
    assert cache.get(token_key("t"), 0) is None


def test_bounded_size_and_disabled_cache() -> None:
    cache = VerdictCache(3)
    for n in range(5):
        cache.put(token_key(f"t{n}"), verdict(f"d{n}"), cache.generation)
    assert len(cache) == 3
    assert cache.get(token_key("t0"), 0) is None and cache.get(token_key("t4"), 0) is not None
    disabled = VerdictCache(0)
    disabled.put(token_key("t"), verdict("d"), disabled.generation)
    assert disabled.get(token_key("t"), 0) is None


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "noauth"),
        (["pending"], "pending"),
        (["rejected"], "rejected"),
        (["rejected", "pending"], "pending"),
        (["pending", "preauthorized"], "preauthorized"),
        (["rejected", "accepted", "pending"], "accepted"),
        (["preauthorized", "accepted"], "accepted"),
    ],
)
def test_device_status_is_derived_from_its_auth_sets(statuses: list[str], expected: str) -> None:
    assert derive_status(statuses) == expected
