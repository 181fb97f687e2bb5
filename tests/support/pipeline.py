"""Streams worker pipelines for the integration tests: their own topics, data dir and
metrics port; workers run as `payments worker` subprocesses (as in production, and so they
can be SIGKILLed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from common.kafka import make_confluent_producer
from common.settings import PipelineSettings
from ops.bench.worker import worker_env
from ops.processes import spawn, terminate_group
from ops.samples import raw_headers
from tests.support.ports import free_port
from tests.support.topic_reader import Reader


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

    def start_worker(
        self, worker_id: str = "w1", *, module: str = "ops.cli", metrics_port: int | None = None
    ) -> Worker:
        """`module`: another entry point with the worker's command line (a faulty worker); a
        second worker at a time needs a `metrics_port` of its own (`metric` reads the
        pipeline's)."""
        port = self.metrics_port if metrics_port is None else metrics_port
        # The child writes to its own copy of the descriptor.
        with (self.workdir / f"{worker_id}.log").open("ab") as log:
            argv = [sys.executable, "-m", module, "worker"]
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
