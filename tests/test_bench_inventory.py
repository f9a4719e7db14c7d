"""The inventory benchmark stays runnable (a tiny fleet; no timing assertions)."""

from __future__ import annotations

from bench.inventory import QUERIES, run


def test_inventory_bench_runs_on_a_small_fleet() -> None:
    result = run(devices=500, rounds=1)
    assert result["devices"] == 500
    queries = result["queries"]
    assert set(queries) == {query.name for query in QUERIES} | {"device inventory PUT (mender-client)"}
    assert queries["v1 device list, page 3"]["matches"] == 500
    for figures in queries.values():
        assert figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
