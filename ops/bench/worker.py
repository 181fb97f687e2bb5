"""`payments bench worker`: events/s through one streams worker, next to two baselines over
the same pre-loaded raw-webhooks records, in the same run: a bare aiokafka
consume→produce loop, and a bare faust relay (`ops.bench.faust_relay`: the worker's faust app
doing nothing but forward), which shows how much of the worker's cost is faust's own.

Everything is scratch: topics with a prefix of their own (deleted after, the worker's
changelogs too) and a temporary data dir. The worker runs as `payments worker` would, in
its own process; its rate is read from its /metrics, from the first record processed to the
last, so the seconds it takes to join the group and restore its tables do not count. The
bare loop does what any at-least-once relay must: consume, produce, flush, commit.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from common.kafka import (
    make_admin,
    make_aiokafka_consumer,
    make_aiokafka_producer,
    make_confluent_producer,
)
from common.settings import PipelineSettings
from common.topics import ADMIN_TIMEOUT_SECONDS, create_topics, pipeline_topic_specs
from ops.bench.ingress import process_tree_cpu_seconds
from ops.processes import free_port, spawn, terminate_group
from ops.samples import raw_headers, stripe_capture

#: Scrapes cost the worker CPU (each one serialises every metric): not too often.
POLL_SECONDS = 0.25
TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Rate:
    """Records per second, and CPU microseconds per record (every thread of the process)."""

    per_second: float
    cpu_us: float

    def __str__(self) -> str:
        return f"{self.per_second:,.0f} records/s, {self.cpu_us:,.0f} µs CPU per record"


@dataclass(frozen=True)
class BenchResult:
    events: int
    duplicates: int
    worker: Rate
    bare_per_second: float
    relay: Rate

    def report(self) -> str:
        return (
            f"worker: {self.worker} over {self.events} records ({self.duplicates} duplicates; "
            f"dedupe and state in one RocksDB record per payment, payment-events out)\n"
            f"bare aiokafka consume→produce→commit of the same records: "
            f"{self.bare_per_second:,.0f} records/s\n"
            f"bare faust relay (the worker's app, one agent forwarding each record): "
            f"{self.relay}\n"
            f"worker / bare: {self.worker.per_second / self.bare_per_second:.2f}, "
            f"worker / faust relay: {self.worker.per_second / self.relay.per_second:.2f} "
            f"(CPU per record: {self.worker.cpu_us / self.relay.cpu_us:.2f})"
        )


def bench(settings: PipelineSettings, events: int, duplicate_share: float) -> BenchResult:
    run_id = uuid.uuid4().hex[:8]
    with _scratch(settings, run_id) as scratch, tempfile.TemporaryDirectory() as workdir:
        duplicates = _preload(scratch, events, duplicate_share)
        bare = asyncio.run(_bare_loop(scratch, events, f"bench-{run_id}-bare"))
        relay = _through_faust_relay(scratch, events, Path(workdir))
        worker = _through_worker(scratch, events, Path(workdir))
    return BenchResult(events, duplicates, worker, bare, relay)


def worker_env(
    settings: PipelineSettings, data_dir: Path, worker_id: str, metrics_port: int
) -> dict[str, str]:
    """The environment of a `payments worker` process that runs with `settings`."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "RETRY_DELAYS_SECONDS": ",".join(map(str, settings.retry_delays_seconds)),
        "RETRY_ATTEMPTS": ",".join(map(str, settings.retry_attempts)),
        "DEDUPE_RETENTION_SECONDS": str(settings.dedupe_retention_seconds),
        "WORKER_SESSION_TIMEOUT_SECONDS": str(settings.worker_session_timeout_seconds),
        "WORKER_DATA_DIR": str(data_dir),
        "WORKER_ID": worker_id,
        "WORKER_METRICS_PORT": str(metrics_port),
        "LOG_LEVEL": settings.log_level,
    }


def metric_total(port: int, name: str) -> float:
    """The sum of every sample of a counter on a /metrics endpoint on this machine."""
    url = f"http://127.0.0.1:{port}/metrics"  # a fixed scheme and host: loopback http only
    with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


@contextmanager
def _scratch(settings: PipelineSettings, run_id: str) -> Iterator[PipelineSettings]:
    scratch = settings.model_copy(
        update={"topic_prefix": f"bench-{run_id}-", "log_level": "WARNING"}
    )
    admin = make_admin(scratch)
    try:
        create_topics(admin, pipeline_topic_specs(scratch))
        yield scratch
    finally:
        # Every topic of the run: the pipeline's, the worker's changelogs, and the topics
        # faust makes for each app (`…-__assignor-__leader`).
        listed = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).topics
        topics = [name for name in listed if name.startswith(scratch.topic_prefix)]
        for deleted in admin.delete_topics(topics, request_timeout=ADMIN_TIMEOUT_SECONDS).values():
            deleted.result()


def _preload(settings: PipelineSettings, events: int, duplicate_share: float) -> int:
    """`events` raw-webhooks records, every payment one capture; a `duplicate_share` of them
    are provider redeliveries of an earlier one. Returns how many are duplicates."""
    producer = make_confluent_producer(settings, **{"linger.ms": 20})
    every = round(1 / duplicate_share) if duplicate_share else 0
    duplicates = 0
    for n in range(events):
        is_duplicate = bool(every) and n % every == every - 1
        number = n - 1 if is_duplicate else n
        duplicates += is_duplicate
        intent, event_id = f"pi_bench{number}", f"evt_bench{number}"
        producer.produce(
            settings.topics.raw_webhooks,
            key=f"stripe:{intent}".encode(),
            value=stripe_capture(event_id, intent),
            headers=[*raw_headers(event_id)],
        )
        producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("the broker did not acknowledge every pre-loaded record")
    return duplicates


async def _bare_loop(settings: PipelineSettings, events: int, group: str) -> float:
    topics = settings.topics
    consumer = make_aiokafka_consumer(settings, topics.raw_webhooks, group_id=group)
    producer = make_aiokafka_producer(settings, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        seen, started = 0, 0.0
        while seen < events:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            started = started or time.perf_counter()
            for record in (r for records in batch.values() for r in records):
                await producer.send(
                    topics.payment_events,
                    record.value,
                    key=record.key,
                    headers=list(record.headers),
                )
                seen += 1
            await producer.flush()
            await consumer.commit()
        return events / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def _through_worker(settings: PipelineSettings, events: int, workdir: Path) -> Rate:
    port = free_port()
    argv = [sys.executable, "-m", "ops.cli", "worker"]
    process = spawn(argv, env=worker_env(settings, workdir / "data", "bench", port))
    try:
        first = _processed_reaching(port, 1)
        if first >= events:
            raise RuntimeError(f"the worker took all {events} records between two looks: use more")
        started, cpu_started = time.perf_counter(), _cpu_seconds(process.pid)
        _processed_reaching(port, events)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds(process.pid) - cpu_started
        return Rate((events - first) / seconds, cpu / (events - first) * 1e6)
    finally:
        terminate_group(process.pid, 20.0, process)


def _cpu_seconds(pid: int) -> float:
    cpu = process_tree_cpu_seconds(pid)
    if cpu is None:
        raise RuntimeError(f"no CPU time for process {pid}: /proc is needed")
    return cpu


def _through_faust_relay(settings: PipelineSettings, events: int, workdir: Path) -> Rate:
    result = workdir / "relay-rate"
    argv = [sys.executable, "-m", "ops.bench.faust_relay", str(events), str(result)]
    process = spawn(argv, env=worker_env(settings, workdir / "relay", "relay", free_port()))
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not result.exists() and process.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the faust relay forwarded fewer than {events} records in time")
            time.sleep(POLL_SECONDS)
        if not result.exists():
            raise RuntimeError(f"the faust relay exited with {process.returncode}")
        per_second, cpu_us = map(float, result.read_text().split())
        return Rate(per_second, cpu_us)
    finally:
        terminate_group(process.pid, 20.0, process)


def _processed_reaching(port: int, at_least: float) -> float:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            processed = metric_total(port, "payments_worker_events_total")
        except OSError:  # not serving yet
            processed = 0
        if processed >= at_least:
            return processed
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"the worker processed fewer than {at_least} records in time")
