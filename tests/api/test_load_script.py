"""The load script behind the issue's latency figures keeps working (tiny size: it is a smoke test)."""

from __future__ import annotations

from benchmarks.load_engine_pull import measure


def test_load_script_serves_pulls_and_reports_latency_and_cpu() -> None:
    first, second = measure(None, clients=4, pulls=3, items=20, intervals=[0.0, 0.05], workers=1)
    for report in (first, second):
        assert report["errors"] == 0 and report["requests"] == 12
        assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]  # type: ignore[operator]
        assert report["server_cpu_ms_per_pull"] > 0 and report["client_cpu_ms_per_pull"] > 0  # type: ignore[operator]
    assert first["offered_rps"] is None and second["offered_rps"] == 80.0
