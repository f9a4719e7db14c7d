"""The artifact benchmark stays runnable (a small artifact; no timing assertions)."""

from __future__ import annotations

from bench.artifacts import run


def test_artifact_bench_uploads_and_downloads_a_small_artifact() -> None:
    result = run(True, size_mib=8)
    assert result["artifact_bytes"] > 8 * 1024 * 1024
    assert result["download_status"] == 200 and result["download_complete"]
    assert result["range_status"] == 206
    assert result["range_bytes"] == result["artifact_bytes"] - result["artifact_bytes"] // 2
    assert 0 <= result["upload_peak_rss_growth_mib"] < 64
    assert result["upload_mb_per_second"] > 0 and result["download_mb_per_second"] > 0
