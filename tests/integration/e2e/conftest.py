"""A pipeline per test: its own topics and scratch database on the session's broker and
PostgreSQL, and a `payments worker` subprocess (as in production)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from ops.processes import spawn, terminate_group
from ops.topics import create_topics, pipeline_topic_specs
from streams.bench import worker_env
from tests.support.databases import scratch_database
from tests.support.ports import free_port

SECRET = "whsec_end_to_end"


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
        )


@pytest.fixture
def worker(pipeline_settings: PipelineSettings, tmp_path: Path) -> Iterator[None]:
    create_topics(make_admin(pipeline_settings), pipeline_topic_specs(pipeline_settings))
    env = worker_env(pipeline_settings, tmp_path / "worker", "e2e", free_port())
    with (tmp_path / "worker.log").open("ab") as log:
        process = spawn([sys.executable, "-m", "ops.cli", "worker"], log=log, env=env)
    try:
        yield
    finally:
        terminate_group(process.pid, 20.0, process)
