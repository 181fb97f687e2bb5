"""A pipeline per test: its own topics and scratch database on the session's broker and
PostgreSQL, and a `payments worker` subprocess (as in production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from tests.support.databases import scratch_database
from tests.support.workers import SECRET, Workers


@pytest.fixture
def pipeline_settings(
    make_settings: Callable[..., PipelineSettings], postgres_server_url: str
) -> Iterator[PipelineSettings]:
    with scratch_database(postgres_server_url) as database_url:
        yield make_settings(
            stripe_webhook_secrets=SECRET,
            database_url=database_url,
            retry_delays_seconds=(0.5, 0.5, 0.5),
            retry_attempts=(2, 2, 2),
            worker_session_timeout_seconds=6,
            sink_metrics_port=0,  # any free one: the sink runs in the test's process
        )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    running = Workers(tmp_path)
    try:
        yield running
    finally:
        for worker_id in list(running.running):
            running.stop(worker_id)


@pytest.fixture
def topics(pipeline_settings: PipelineSettings) -> None:
    create_topics(make_admin(pipeline_settings), pipeline_topic_specs(pipeline_settings))


@pytest.fixture
def worker(pipeline_settings: PipelineSettings, workers: Workers, topics: None) -> None:
    workers.start(pipeline_settings, "e2e")
