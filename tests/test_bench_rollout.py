"""The rollout benchmark stays runnable (a tiny fleet and short polls; no timing assertions)."""

from __future__ import annotations

from bench.rollout import run


def test_rollout_bench_runs_on_a_small_fleet() -> None:
    result = run(True, devices=12, poll_interval=0.2, idle_check_ins=100)
    assert result["devices"] == 12
    [scenario] = result["scenarios"]
    assert scenario["errors"] == 0, scenario["first_error"]
    assert scenario["succeeded"] == 12 and scenario["downloads"] == 12 and scenario["reports"] == 36
    assert scenario["statistics"]["success"] == 12
    assert result["idle"]["errors"] == 0 and result["idle"]["check_ins"] == 100
    assert result["idle"]["cpu_us_per_check_in"] > 0
