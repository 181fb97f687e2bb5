"""`payments bench e2e` on a short, slow run: the measurement holds together, not a speed."""

from __future__ import annotations

from collections.abc import Callable

from common.settings import PipelineSettings
from ops.bench.e2e import bench_e2e
from ops.bench.ingress import Load


def test_a_short_run_writes_every_accepted_webhook_once_and_reports_each_figure(
    make_settings: Callable[..., PipelineSettings], postgres_server_url: str
) -> None:
    settings = make_settings(database_url=postgres_server_url, worker_session_timeout_seconds=6)
    load = Load(requests=200, duration=5, connections=4, workers=1, rate=40)

    result = bench_e2e(settings, load, workers=1)

    assert result.accepted >= 150  # a few may be cut off by the window's end
    assert result.exactly_once, result.report()
    p50, p95, p99 = result.e2e_seconds
    assert 0 < p50 <= p95 <= p99 < 30
    assert set(result.cpu_seconds) >= {"ingress", "worker", "sink", "broker", "postgresql"}
    assert all(lag >= 0 for lag in result.lag_at_stop.values())
    assert "duplicates" in result.report()
