"""The streams worker: a faust app whose agents only loop, call the pure steps and send.

One agent reads raw-webhooks, one each retry tier; each runs at concurrency 1 (faust acks
an event when its agent moves on, and with more than one actor per agent it could commit
past an event still being processed). Guarantees:

- at least once: faust flushes the producer before it commits input offsets, so every
  output of a committed record is on the broker. A crash re-reads uncommitted records;
  `streams.dedupe` recognises them (`replay`) and sends their outputs again, which the
  idempotent sink absorbs;
- one apply per event across deliveries (dedupe table, then the state machine's own check);
- per-payment order through the key lock; retries wait in `streams.gate` without
  blocking anything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Final, cast

import faust
import mode.loop
from faust.types import TP
from mode import CrashingSupervisor
from prometheus_client import start_http_server

from common.errors import PermanentError
from common.kafka import make_admin
from common.logging import correlation_id
from common.metrics import REGISTRY
from common.settings import PipelineSettings
from ops.topics import create_topics, mismatched_partitions
from schemas import headers as h
from schemas.headers import header_map
from streams import route
from streams.gate import DueGate
from streams.observe import (
    DELIVERY_FAILURES,
    EVENT_SECONDS,
    EVENTS,
    RETRY_LATENESS_SECONDS,
    Source,
    observe_hops,
)
from streams.parse import parse
from streams.placement import forward
from streams.process import process
from streams.records import Inbound, Outbound
from streams.resume import RewindUnsought
from streams.retry import seconds_late, seconds_until_due
from streams.route import Policy, Step
from streams.tables import ChangelogRecord, Tables, changelog_topic_specs

log = logging.getLogger("streams.worker")

Clock = Callable[[], float]

PRODUCER_LINGER_SECONDS: Final = 0.01
#: Per partition; below the producer's 1 MB request limit and the broker's message limit.
PRODUCER_MAX_BATCH_BYTES: Final = 256 * 1024
#: How often the tables' stores learn their changelogs' written offsets (`Tables.on_sent`).
PERSIST_OFFSETS_SECONDS: Final = 1.0


def app_id(settings: PipelineSettings) -> str:
    """The consumer group, and the prefix of the tables' changelog topics."""
    return f"{settings.topic_prefix}{settings.worker_group_id}"


def make_app(settings: PipelineSettings) -> faust.App:
    servers = settings.kafka_bootstrap_servers.split(",")
    return faust.App(
        app_id(settings),
        broker=[f"kafka://{server.strip()}" for server in servers],
        store="rocksdb://",
        datadir=str(settings.worker_data_dir / settings.worker_id),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Each event produces its output and two or three changelog records. With no linger
        # the producer sends a request per handful of records (profiled: a socket send per
        # event, a third of the CPU in request building and ack handling); a short linger and
        # room for bigger batches cut the CPU per event by a third. Durability is unchanged:
        # acks=all, and faust flushes the producer before it commits input offsets.
        producer_linger=PRODUCER_LINGER_SECONDS,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.worker_session_timeout_seconds,
        broker_heartbeat_interval=settings.worker_session_timeout_seconds / 4,
        # A held tier partition legitimately commits nothing for a whole tier delay.
        broker_commit_livelock_soft_timeout=max(settings.retry_delays_seconds) + 60,
        web_enabled=False,
        autodiscover=False,
    )


class StreamsWorker:
    """Declares the app's tables and agents. `clock` (epoch seconds) is injectable so that
    due times and dedupe expiry can be tested without sleeping."""

    def __init__(self, settings: PipelineSettings, *, clock: Clock = time.time) -> None:
        settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
        self.app = make_app(settings)
        self.tables = Tables(self.app, settings)
        self.policy = Policy.from_settings(settings)
        self._clock = clock
        self._gate = DueGate(self.app.consumer)
        self._crashing: asyncio.Future[None] | None = None
        self._topics = topics = settings.topics
        self._topic_prefix = settings.topic_prefix
        self._partitions = settings.topic_partitions
        self._agent(topics.raw_webhooks, self._consume_raw)
        for tier in topics.retry:
            self._agent(tier, self._consume_tier)
        self.app.on_partitions_revoked.connect(self._on_revoked)
        self.app.on_partitions_assigned.connect(self._on_assigned)
        self.app.sensors.add(RewindUnsought(self.app, self._gate, topics.retry))
        self.app.timer(PERSIST_OFFSETS_SECONDS)(self._persist_offsets)

    def _agent(self, topic: str, consume: Callable[[Any], Any]) -> None:
        channel = self.app.topic(topic, key_serializer="raw", value_serializer="raw")
        # An agent that raises stops the worker: faust's default supervisor would restart
        # it on the same record forever.
        self.app.agent(
            channel,
            name=f"consume-{topic}",
            concurrency=1,
            supervisor_strategy=CrashingSupervisor,
        )(consume)

    async def _consume_raw(self, stream: Any) -> None:
        async for event in stream.events():
            await self._handle(_inbound(event), "raw")

    async def _consume_tier(self, stream: Any) -> None:
        # Acks are manual: a record skipped by the gate must stay unacknowledged.
        async for event in stream.noack().events():
            record = _inbound(event)
            wait = seconds_until_due(record, self._now_ms())
            # faust's TP, not the driver's: faust's resume_partitions stores what it is given
            # and its fetcher asserts on anything else.
            tp = TP(record.topic, record.partition)
            if self._gate.admit(tp, record.offset, wait):
                late = seconds_late(record, self._now_ms())
                if late is not None:
                    RETRY_LATENESS_SECONDS.observe(late)
                await self._handle(record, "retry")
                event.ack()
            else:
                # Held: the gate seeks back to it, so it is delivered again when due. faust
                # must stop waiting for its ack, or every rebalance and stop waits for it
                # (`stream_wait_empty`) until the member is thrown out. Commits still stop
                # before it: its offset is never acked.
                cast(Any, self.app.consumer)._unacked_messages.discard(event.message)

    async def _handle(self, record: Inbound, source: Source) -> None:
        started = time.perf_counter()
        token = correlation_id.set(record.headers.get(h.CORRELATION_ID))
        try:
            step, changes = self._step(record)
            for change in changes:
                await self._send_change(change)
            for out in step.outputs:
                await self._send(out)
            for tombstone in self.tables.maybe_sweep(record.partition, self._now_ms()):
                await self._send_change(tombstone)
        finally:
            correlation_id.reset(token)
        EVENTS.labels(source, step.outcome).inc()
        EVENT_SECONDS.observe(time.perf_counter() - started)
        observe_hops(step.outputs, self._topics, self._topic_prefix)

    def _step(self, record: Inbound) -> tuple[Step, list[ChangelogRecord]]:
        now_ms = self._now_ms()
        changes: list[ChangelogRecord] = []
        moved = forward(record, self._partitions)
        if moved is not None:  # written before a partition increase: its tables moved on
            return Step("forwarded", (moved,)), changes
        try:
            event = parse(record)
        except PermanentError as error:
            step = route.rejected(record, error, now_ms, self.policy)
        else:
            view = self.tables.view(record.partition, event)
            step = process(record, event, view, now_ms, self.policy)
            changes = self.tables.write(record.partition, event, step.writes)
        if step.outcome in ("parked", "queued", "dead_lettered"):
            log.info(step.outcome, extra={"origin": record.origin, "to": step.outputs[0].topic})
        return step, changes

    async def _send(self, out: Outbound) -> None:
        # Not awaited one by one (a broker round trip per record): faust flushes the
        # producer before it commits the input offsets.
        sent = await self.app.producer.send(
            out.topic, out.key, out.value, out.partition, None, list(out.headers)
        )
        cast("asyncio.Future[Any]", sent).add_done_callback(self._delivered)

    async def _send_change(self, change: ChangelogRecord) -> None:
        sent = await self.app.producer.send(
            change.topic, change.key, change.value, change.partition, None, None
        )
        future = cast("asyncio.Future[Any]", sent)
        future.add_done_callback(partial(self._change_delivered, change))

    def _change_delivered(self, change: ChangelogRecord, future: asyncio.Future[Any]) -> None:
        if self._delivered(future):
            self.tables.on_sent(change, future.result().offset)

    def _delivered(self, future: asyncio.Future[Any]) -> bool:
        error = None if future.cancelled() else future.exception()
        if error is None:
            return True
        # The input offset must not be committed past a lost output: stop the worker.
        DELIVERY_FAILURES.inc()
        log.error("delivery failed, stopping", extra={"error": repr(error)})
        self._crashing = asyncio.ensure_future(self.app.crash(error))
        return False

    async def _persist_offsets(self) -> None:
        self.tables.persist_offsets()

    async def _on_revoked(self, _app: Any, /, *revoked: Any, **_: Any) -> None:
        for tps in revoked:
            self._gate.forget(tps)

    async def _on_assigned(self, _app: Any, /, *assigned: Any, **_: Any) -> None:
        for tps in assigned:
            self._gate.forget_unassigned(tps)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _inbound(event: Any) -> Inbound:
    message = event.message
    return Inbound(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int((message.timestamp or 0) * 1000),
        key=message.key or b"",
        value=message.value or b"",
        headers=header_map(message.headers),
    )


def run(settings: PipelineSettings, metrics_host: str) -> None:
    """Serve `/metrics` and run one worker until a signal stops it (`payments worker`)."""
    from ops.lag_exporter import ConsumerLagExporter

    ConsumerLagExporter(
        settings, app_id(settings), [settings.topics.raw_webhooks, *settings.topics.retry]
    ).start()
    # uvloop: the worker is bound by the event loop's per-message overhead.
    mode.loop.use("uvloop")
    admin = make_admin(settings)
    changelogs = changelog_topic_specs(app_id(settings), settings)
    create_topics(admin, changelogs)
    # faust compares the live counts of a source topic and its changelog, not the count the
    # tables are declared with: a worker left at the old TOPIC_PARTITIONS after a scale would
    # run, and forward records to the wrong partitions.
    inputs = [settings.topics.raw_webhooks, *settings.topics.retry, *(c.name for c in changelogs)]
    if wrong := mismatched_partitions(admin, inputs, settings.topic_partitions):
        raise SystemExit(f"TOPIC_PARTITIONS is {settings.topic_partitions}, but {', '.join(wrong)}")
    worker = StreamsWorker(settings)
    start_http_server(settings.worker_metrics_port, addr=metrics_host, registry=REGISTRY)
    faust.Worker(
        worker.app, loglevel=settings.log_level, override_logging=False
    ).execute_from_commandline()
