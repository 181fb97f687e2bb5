"""`payments bench e2e` on a short, slow run: the measurement holds together, not a speed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from common.settings import PipelineSettings
from ops.bench.e2e import bench_e2e
from ops.bench.ingress import Load
from ops.bench.stages import STAGES
from ops.local_postgres import Durability, LocalPostgres, PostgresError
from ops.recording import from_lines

COMPONENTS = {"ingress", "worker", "sink", "broker", "postgresql"}


def test_a_short_run_writes_every_accepted_webhook_once_and_reports_each_figure(
    make_settings: Callable[..., PipelineSettings], durable_postgres: LocalPostgres, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url=durable_postgres.admin_url, worker_session_timeout_seconds=6
    )
    # Signed as it goes, as a soak is.
    load = Load(requests=200, duration=5, connections=4, workers=1, rate=40, presign_seconds=0)

    recording = tmp_path / "run.jsonl"
    result = bench_e2e(settings, load, workers=1, record=recording)

    report = result.report()
    assert result.accepted >= 150  # a few may be cut off by the window's end
    assert result.exactly_once, report
    p50, p95, p99 = result.e2e_seconds
    assert 0 < p50 <= p95 <= p99 < 30
    assert set(result.cpu_seconds) >= COMPONENTS
    assert all(lag >= 0 for lag in result.lag_at_stop.values())
    assert "duplicates" in report
    assert result.durability == Durability("on", "on", "on")
    assert report.splitlines()[0] == (
        "PostgreSQL durability: fsync=on, synchronous_commit=on, full_page_writes=on (production's)"
    )
    start, end = result.rss_bytes
    assert set(start) >= COMPONENTS
    assert set(end) >= COMPONENTS
    assert all(rss > 10 * 1024 * 1024 for rss in end.values())
    assert "memory (RSS MiB, load start → end): ingress " in report
    assert set(result.stages) == {stage.title for stage in STAGES}, report
    for title, (p50, p99) in result.stages.items():
        assert 0 < p50 <= p99 < 60, title
        assert title in report
    # the recording covers the load: the sink's rows appear in it, from every component
    with recording.open() as lines:
        scrapes = from_lines(lines)
    assert {scrape.job for scrape in scrapes} == {"ingress", "worker", "sink"}
    written = [
        sample.value
        for scrape in scrapes
        for sample in scrape.samples
        if sample.name == "payments_sink_events_written_total"
    ]
    assert max(written) >= result.accepted


def test_a_server_without_production_durability_is_refused_unless_asked_for(
    make_settings: Callable[..., PipelineSettings], own_postgres: LocalPostgres
) -> None:
    settings = make_settings(database_url=own_postgres.admin_url)
    load = Load(requests=10, duration=5, connections=1, workers=1, rate=10)

    with pytest.raises(PostgresError, match=r"NOT PRODUCTION DURABILITY.*--no-fsync"):
        bench_e2e(settings, load, workers=1)

    with psycopg.connect(own_postgres.admin_url) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_e2e_%'")
        assert left.fetchall() == []  # the scratch database is dropped all the same
