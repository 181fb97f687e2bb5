"""SIGKILL between the database commit and the offset commit, then a restart: the rows are
those of a run without the crash. Both runs are real `payments sink` processes."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from common.settings import PipelineSettings
from common.topics import describe_topics
from ops.processes import spawn, terminate_group
from tests.support.payment_events import payment_event
from tests.support.ports import free_port
from tests.support.sink import (
    WAIT_SECONDS,
    eventually,
    payment_rows,
    produce,
    row_counts,
)

ROOT = Path(__file__).resolve().parents[3]
PAYMENTS = 10
VERSIONS = 4


def sink_env(settings: PipelineSettings, metrics_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "DATABASE_URL": settings.database_url,
        "SINK_GROUP_ID": settings.sink_group_id,
        "SINK_BATCH_MAX_WAIT_MS": str(settings.sink_batch_max_wait_ms),
        "SINK_METRICS_PORT": str(metrics_port),
    }


def committed(settings: PipelineSettings) -> int:
    reports = describe_topics(settings, [settings.topics.payment_events], [settings.sink_group_id])
    return sum(r.committed.get(settings.sink_group_id, 0) for r in reports)


async def test_sigkill_between_db_commit_and_offset_commit_then_restart(
    sink_settings: PipelineSettings,
) -> None:
    events = [
        payment_event(f"evt_{p}_{v}", f"pi_{p}", v, amount=100 * v)
        for v in range(1, VERSIONS + 1)
        for p in range(PAYMENTS)
    ]
    produce(sink_settings, events)
    port = free_port()
    env = sink_env(sink_settings, port)

    crashing = [sys.executable, "-m", "tests.support.crashing_sink"]
    crashed = await asyncio.to_thread(
        subprocess.run, crashing, env=env, cwd=ROOT, timeout=WAIT_SECONDS, check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    url = sink_settings.database_url
    assert row_counts(url)["webhook_events"] > 0  # its batch was committed...
    assert committed(sink_settings) == 0  # ...and its offsets were not

    sink = spawn([sys.executable, "-m", "ops.cli", "sink"], env=env, cwd=ROOT)
    try:
        await eventually(lambda: committed(sink_settings), lambda n: n == len(events))
        async with httpx.AsyncClient() as client:
            exposition = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        terminate_group(sink.pid, WAIT_SECONDS, sink)
    assert sink.returncode == 0  # SIGTERM: a clean stop

    count = len(events)
    assert row_counts(url) == {
        "webhook_events": count,
        "payment_transitions": count,
        "payments": PAYMENTS,
    }
    assert {(p["version"], p["amount"]) for p in payment_rows(url).values()} == {
        (VERSIONS, 100 * VERSIONS)
    }
    for metric in (
        "payments_sink_events_written_total",
        "payments_sink_batch_seconds_bucket",
        "payments_sink_end_to_end_seconds_bucket",
        "payments_sink_paused",
    ):
        assert metric in exposition
