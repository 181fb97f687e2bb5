"""A pipeline per test: its own topics and scratch database on the session's broker and
PostgreSQL, and a `payments worker` subprocess (as in production)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from ops.processes import spawn, terminate_group
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


@dataclass
class Workers:
    """`payments worker` subprocesses, each with its data dir under `directory/data` and its
    log at `directory/<worker id>.log`."""

    directory: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def start(self, settings: PipelineSettings, worker_id: str) -> None:
        port = self.metrics_ports[worker_id] = free_port()
        env = worker_env(settings, self.directory / "data", worker_id, port)
        # The child writes to its own copy of the descriptor.
        with (self.directory / f"{worker_id}.log").open("ab") as log:
            argv = [sys.executable, "-m", "ops.cli", "worker"]
            self.running[worker_id] = spawn(argv, log=log, env=env)

    def stop(self, worker_id: str) -> None:
        """SIGTERM, as an orderly shutdown would send it (killed after 20 s)."""
        process = self.running.pop(worker_id)
        terminate_group(process.pid, 20.0, process)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    running = Workers(tmp_path)
    try:
        yield running
    finally:
        for worker_id in list(running.running):
            running.stop(worker_id)


@pytest.fixture
def worker(pipeline_settings: PipelineSettings, workers: Workers) -> None:
    create_topics(make_admin(pipeline_settings), pipeline_topic_specs(pipeline_settings))
    workers.start(pipeline_settings, "e2e")
