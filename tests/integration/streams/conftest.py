"""A pipeline per test for the streams worker: its own topics, data dir and metrics port;
workers run as `payments worker` subprocesses (as in production, and so they can be
SIGKILLed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from common.kafka import make_admin, make_confluent_producer
from common.settings import PipelineSettings
from ops.processes import spawn, terminate_group
from ops.topics import create_topics, pipeline_topic_specs
from schemas.headers import header_map
from streams.bench import worker_env
from streams.samples import raw_headers
from tests.support.ports import free_port

WAIT_SECONDS = 60.0
TEST_SETTINGS: dict[str, Any] = {
    # A tiny ladder: three retries of half a second each, then dlq.
    "retry_delays_seconds": (0.5, 0.5, 0.5),
    "retry_attempts": (1, 1, 1),
    # A killed worker's partitions move on after the broker's minimum session.
    "worker_session_timeout_seconds": 6,
    "log_level": "INFO",
}


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None  # None: a tombstone
    headers: dict[str, str]


@dataclass
class Worker:
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        terminate_group(self.process.pid, 20.0, self.process)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Pipeline:
    settings: PipelineSettings
    workdir: Path
    metrics_port: int = field(default_factory=free_port)
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._producer = make_confluent_producer(self.settings)

    def produce(
        self,
        key: str,
        body: bytes,
        event_id: str,
        *,
        topic: str | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        event_type: str = "payment_intent.succeeded",
    ) -> None:
        values: list[tuple[str, str | bytes | None]] = [
            *(headers if headers is not None else raw_headers(event_id, event_type))
        ]
        self._producer.produce(
            topic or self.settings.topics.raw_webhooks,
            key=key.encode(),
            value=body,
            headers=values,
            partition=partition if partition is not None else -1,  # -1: by key
        )
        assert self._producer.flush(15) == 0

    def start_worker(self, worker_id: str = "w1", metrics_port: int | None = None) -> Worker:
        """A `payments worker` process; a second one at a time needs a `metrics_port` of its
        own (`Pipeline.metric` reads the pipeline's)."""
        port = self.metrics_port if metrics_port is None else metrics_port
        # The child writes to its own copy of the descriptor.
        with (self.workdir / f"{worker_id}.log").open("ab") as log:
            argv = [sys.executable, "-m", "ops.cli", "worker"]
            env = worker_env(self.settings, self.workdir / "data", worker_id, port)
            worker = Worker(spawn(argv, log=log, env=env))
        self.workers.append(worker)
        return worker

    def reader(self, topic: str) -> Reader:
        return Reader(self.settings, topic)

    def metric(self, name: str, port: int | None = None, **labels: str) -> float:
        """A sample of the worker's /metrics (0 when absent); `port`: another worker's."""
        url = f"http://127.0.0.1:{self.metrics_port if port is None else port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            families = text_string_to_metric_families(response.read().decode())
        samples = (s for family in families for s in family.samples)
        return next((s.value for s in samples if s.name == name and s.labels == labels), 0.0)


class Reader:
    """Everything on one topic, from the beginning, as it arrives."""

    def __init__(self, settings: PipelineSettings, topic: str) -> None:
        self.records: list[Record] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"reader-{topic}",
                "enable.auto.commit": False,
            }
        )
        self._consumer.assign(
            [TopicPartition(topic, p, 0) for p in range(settings.topic_partitions)]
        )

    def poll(self, seconds: float = 0.2) -> list[Record]:
        for message in self._consumer.consume(num_messages=500, timeout=seconds):
            assert message.error() is None, message.error()
            self.records.append(
                Record(
                    message.topic() or "",
                    message.partition() or 0,
                    message.offset() or 0,
                    message.timestamp()[1],
                    message.key(),
                    message.value(),
                    header_map(message.headers()),
                )
            )
        return self.records

    def wait_for(
        self, done: Callable[[list[Record]], bool], seconds: float = WAIT_SECONDS
    ) -> list[Record]:
        deadline = time.monotonic() + seconds
        while not done(self.poll()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; have {len(self.records)} records")
        return self.records

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def make_pipeline(
    make_settings: Callable[..., PipelineSettings], tmp_path: Path
) -> Iterator[Callable[..., Pipeline]]:
    pipelines: list[Pipeline] = []

    def make(**overrides: Any) -> Pipeline:
        settings = make_settings(**{**TEST_SETTINGS, **overrides})
        create_topics(make_admin(settings), pipeline_topic_specs(settings))
        pipeline = Pipeline(settings, tmp_path)
        pipelines.append(pipeline)
        return pipeline

    yield make
    for pipeline in pipelines:
        for worker in pipeline.workers:
            worker.stop()
