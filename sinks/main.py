"""`payments sink`: wire settings to the Kafka clients, the database and the metrics port."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from prometheus_client import start_http_server

from common.kafka import make_aiokafka_consumer, make_aiokafka_producer
from common.lag_exporter import ConsumerLagExporter
from common.runtime import first_generation_threshold, thread_switch_interval
from common.settings import PipelineSettings
from sinks.batching import BatchLimits
from sinks.database import make_engine
from sinks.migrate import upgrade
from sinks.service import Sink, SinkOptions
from sinks.store import Store

log = logging.getLogger("payments.sink")

#: The garbage collector's first-generation threshold while a sink runs: each batch
#: allocates tens of thousands of short-lived objects (decoded events, rows).
SINK_GC_THRESHOLD = 10_000
#: The broker answers a fetch once it has this much or SINK_BATCH_MAX_WAIT_MS has passed:
#: far more than a quiet stream brings in that time, so it answers once per batch.
SINK_FETCH_MIN_BYTES = 512 * 1024
#: How soon the thread decoding the next batch hands the interpreter lock to the thread
#: writing this one, back from a database round trip (`common.runtime`).
SINK_THREAD_SWITCH_SECONDS = 0.0005


def sink_options(settings: PipelineSettings) -> SinkOptions:
    return SinkOptions(
        limits=BatchLimits(settings.sink_batch_size, settings.sink_batch_max_wait_ms / 1000),
        dlq_topic=settings.topics.dlq,
        retry_cap_seconds=settings.sink_retry_max_seconds,
    )


@asynccontextmanager
async def running_sink(
    settings: PipelineSettings, before_offset_commit: Callable[[], None] = lambda: None
) -> AsyncIterator[Sink]:
    """A sink subscribed to payment-events with its clients started; stopped on exit."""
    engine = make_engine(settings.database_url)
    consumer = make_aiokafka_consumer(
        settings,
        settings.topics.payment_events,
        group_id=settings.sink_group_id,
        max_poll_records=settings.sink_batch_size,
        fetch_max_wait_ms=settings.sink_batch_max_wait_ms,
        fetch_min_bytes=SINK_FETCH_MIN_BYTES,
    )
    producer = make_aiokafka_producer(settings)
    try:
        await producer.start()
        await consumer.start()
        options = sink_options(settings)
        with (
            first_generation_threshold(SINK_GC_THRESHOLD),
            thread_switch_interval(SINK_THREAD_SWITCH_SECONDS),
        ):
            yield Sink(
                consumer,
                producer,
                Store(engine),
                options,
                before_offset_commit=before_offset_commit,
            )
    finally:
        await consumer.stop()
        await producer.stop()
        engine.dispose()


async def run_sink(
    settings: PipelineSettings,
    *,
    stop: asyncio.Event | None = None,
    before_offset_commit: Callable[[], None] = lambda: None,
) -> None:
    """Migrate, then consume until `stop` is set (or SIGTERM / SIGINT arrives)."""
    stop = stop or _stop_on_signals()
    # Additive migrations: safe while other sink replicas still run the previous schema.
    await asyncio.to_thread(upgrade, settings.database_url)
    metrics_server, _ = start_http_server(settings.sink_metrics_port)
    topics = [settings.topics.payment_events]
    lag = ConsumerLagExporter(settings, settings.sink_group_id, topics).start()
    try:
        async with running_sink(settings, before_offset_commit) as sink:
            log.info("sink started", extra={"group": settings.sink_group_id})
            await sink.run(stop)
    finally:
        lag.stop()
        metrics_server.shutdown()
        metrics_server.server_close()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
