"""The streams worker: a faust app whose agents take records, run the pure steps
(`streams.process`) and send what they say.

One agent reads raw-webhooks in takes, one each retry tier record by record; each runs at
concurrency 1 (they write the table). Guarantees:

- at least once: a record's offset becomes committable only once its outputs and its
  payment's changelog record are acknowledged by the broker (`engine.hold`); a crash
  re-reads uncommitted records, dedupe recognises them (`replay`) and their outputs are
  sent again, which the idempotent sink absorbs;
- one apply per event across deliveries (the payment record's `seen` ids);
- any order of a payment's events gives the same state (`streams.state_machine`), so
  nothing waits: the retry tiers carry failures only, and wait in `streams.gate` without
  blocking anything else.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

import faust
import mode.loop
from mode import CrashingSupervisor
from prometheus_client import start_http_server

from common.kafka import header_map, make_admin
from common.logging import correlation_id
from common.metrics import REGISTRY
from common.settings import PipelineSettings
from common.topics import create_topics, mismatched_partitions
from schemas import headers as h
from streams import engine, local_state
from streams.engine import app_id
from streams.gate import DueGate
from streams.legacy_layout import refuse_legacy_layout
from streams.observe import (
    BATCH_RECORDS,
    BATCH_SECONDS,
    DELIVERY_FAILURES,
    EVENTS,
    INPUT_AGE_SECONDS,
    RETRY_LATENESS_SECONDS,
    Source,
    observe_hops,
)
from streams.placement import home_partition
from streams.process import step
from streams.records import Inbound, Outbound
from streams.retry import seconds_late, seconds_overdue, seconds_until_due
from streams.route import Policy, Step, StepOutcome
from streams.tables import TABLE_NAMES, ChangelogRecord, PaymentTable, changelog_topic_specs

log = logging.getLogger("streams.worker")

Clock = Callable[[], float]

#: Records taken from raw-webhooks at once, and how long a take waits to fill up. A take
#: costs nearly as much for a few records as for hundreds, so at a steady trickle a longer
#: wait buys the worker the CPU it needs to keep up, for a few milliseconds of latency.
TAKE_RECORDS: Final = 500
TAKE_SECONDS: Final = 0.02
#: The longest the broker holds a fetch that has nothing to return yet: as long a wait as
#: a record may spend behind a fetch of quiet partitions.
FETCH_MAX_WAIT_MS: Final = 50
#: Takes whose outputs may be on their way to the broker at once; the next take waits.
TAKES_IN_FLIGHT: Final = 4
#: How often the table's stores learn their changelogs' written offsets.
PERSIST_OFFSETS_SECONDS: Final = 1.0
#: Exit status when the broker refuses an output: the input must be read again.
DELIVERY_FAILED_EXIT: Final = 70

__all__ = ["StreamsWorker", "app_id", "run"]


class StreamsWorker:
    """Declares the app's table and agents. `clock` (epoch seconds) is injectable so that
    due times and dedupe expiry can be tested without sleeping."""

    def __init__(self, settings: PipelineSettings, *, clock: Clock = time.time) -> None:
        self.app = engine.make_app(settings)
        self.table = PaymentTable(self.app, settings)
        self.policy = Policy.from_settings(settings)
        self._clock = clock
        self._topics = topics = settings.topics
        engine.guard_rebalances(self.app, topics.worker_sources())
        engine.bound_fetch_wait(self.app, FETCH_MAX_WAIT_MS)
        self._gate = DueGate(self.app.consumer)
        self._topic_prefix = settings.topic_prefix
        self._in_flight: deque[asyncio.Future[None]] = deque()
        self._agent(topics.raw_webhooks, self._consume_raw)
        for tier in topics.retry:
            self._agent(tier, self._consume_tier)
        self.app.on_partitions_revoked.connect(self._on_revoked)
        self.app.on_partitions_assigned.connect(self._on_assigned)
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
        async for events in stream.take_events(TAKE_RECORDS, within=TAKE_SECONDS):
            messages = [event.message for event in events]
            for message in messages:
                engine.hold(message)
            await self._admit(self._process(messages, "raw"))

    async def _consume_tier(self, stream: Any) -> None:
        # Acks are manual: a record skipped by the gate must stay unacknowledged.
        async for event in stream.noack().events():
            message = event.message
            record = _inbound(message)
            wait = seconds_until_due(record, self._now_ms())
            if self._gate.admit(engine.tp(record.topic, record.partition), record.offset, wait):
                late = seconds_late(record, self._now_ms())
                if late is not None:
                    RETRY_LATENESS_SECONDS.observe(late)
                await self._admit(self._process([message], "retry"))
            else:
                # Held: the gate seeks back to it, so it is delivered again when due.
                engine.stop_waiting_for(self.app, message)

    async def _admit(self, sending: asyncio.Future[None]) -> None:
        """Back-pressure: wait for the oldest take's delivery once too many are on their way."""
        self._in_flight.append(sending)
        while self._in_flight and self._in_flight[0].done():
            self._in_flight.popleft()
        if len(self._in_flight) > TAKES_IN_FLIGHT:
            await self._in_flight.popleft()

    def _process(self, messages: Sequence[Any], source: Source) -> asyncio.Future[None]:
        """Run the steps over `messages`, write the table, and send everything; the
        messages are released (committable) once the broker has all of it."""
        started = time.perf_counter()
        now_ms = self._now_ms()
        batch = self.table.batch()
        outputs: list[Outbound] = []
        outcomes: Counter[StepOutcome] = Counter()
        input_age = INPUT_AGE_SECONDS.labels(source)
        for message in messages:
            record = _inbound(message)
            input_age.observe((now_ms - record.timestamp_ms) / 1000)
            token = correlation_id.set(record.headers.get(h.CORRELATION_ID))
            try:
                done = step(record, batch.reader(record.partition), now_ms, self.policy)
            finally:
                correlation_id.reset(token)
            if done.write is not None:
                batch.put(record.partition, *done.write)
            outputs.extend(done.outputs)
            outcomes[done.outcome] += 1
            if done.outcome in ("retried", "dead_lettered"):
                self._observe_hop(done, record)
        changes = batch.commit()
        sent = engine.send_batches(self.app, self._batches(outputs, changes))
        sending = asyncio.ensure_future(self._release_when_sent(messages, sent))
        for outcome, count in outcomes.items():
            EVENTS.labels(source, outcome).inc(count)
        BATCH_SECONDS.labels(source).observe(time.perf_counter() - started)
        BATCH_RECORDS.labels(source).observe(len(messages))
        return sending

    def _batches(
        self, outputs: list[Outbound], changes: list[ChangelogRecord]
    ) -> dict[tuple[str, int], list[tuple[bytes, bytes | None, Any]]]:
        batches: defaultdict[tuple[str, int], list[tuple[bytes, bytes | None, Any]]]
        batches = defaultdict(list)
        for out in outputs:
            partition = out.partition
            if partition is None:  # as the Java client's partitioner places a keyed record
                partition = home_partition(out.key, self.policy.partitions)
            batches[(out.topic, partition)].append((out.key, out.value, list(out.headers)))
        changelog = self.table.changelog_topic
        for change in changes:
            batches[(changelog, change.partition)].append((change.key, change.value, []))
        return batches

    async def _release_when_sent(
        self, messages: Sequence[Any], sent: list[asyncio.Future[Any]]
    ) -> None:
        results = await asyncio.gather(*sent, return_exceptions=True)
        changelog = self.table.changelog_topic
        for result in results:
            if isinstance(result, BaseException):
                _delivery_failed(result)
            if result.topic == changelog:
                self.table.on_sent(result.partition, result.offset)
        for message in messages:
            engine.release(self.app, message)

    def _observe_hop(self, done: Step, record: Inbound) -> None:
        log.info(done.outcome, extra={"origin": record.origin, "to": done.outputs[0].topic})
        observe_hops(done.outputs, self._topics, self._topic_prefix)

    async def _persist_offsets(self) -> None:
        self.table.persist_offsets()

    async def _on_revoked(self, _app: Any, /, *revoked: Any, **_: Any) -> None:
        for tps in revoked:
            self._gate.forget(tps)

    async def _on_assigned(self, _app: Any, /, *assigned: Any, **_: Any) -> None:
        for tps in assigned:
            self._gate.forget_unassigned(tps)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _delivery_failed(error: BaseException) -> NoReturn:
    """Stop at once, committing nothing: a graceful stop would commit offsets of records
    whose outputs the broker refused. The records are read again after the restart."""
    DELIVERY_FAILURES.inc()
    log.critical("delivery failed, exiting", extra={"error": repr(error)})
    logging.shutdown()
    os._exit(DELIVERY_FAILED_EXIT)


def _inbound(message: Any) -> Inbound:
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
    from common.lag_exporter import ConsumerLagExporter

    admin = make_admin(settings)
    refuse_legacy_layout(admin, app_id(settings), TABLE_NAMES)
    sources = settings.topics.worker_sources()
    ConsumerLagExporter(settings, app_id(settings), sources, overdue=seconds_overdue).start()
    # uvloop: the worker is bound by the event loop's per-message overhead.
    mode.loop.use("uvloop")
    changelogs = changelog_topic_specs(app_id(settings), settings)
    create_topics(admin, changelogs)
    # faust compares the live counts of a source topic and its changelog, not the count the
    # table is declared with: a worker left at the old TOPIC_PARTITIONS after a scale would
    # run, and forward records to the wrong partitions.
    inputs = [*sources, *(c.name for c in changelogs)]
    if wrong := mismatched_partitions(admin, inputs, settings.topic_partitions):
        raise SystemExit(f"TOPIC_PARTITIONS is {settings.topic_partitions}, but {', '.join(wrong)}")
    tables = dict(zip(TABLE_NAMES, (c.name for c in changelogs), strict=True))
    local_state.discard_stores_ahead(settings, tables)
    worker = StreamsWorker(settings)
    start_http_server(settings.worker_metrics_port, addr=metrics_host, registry=REGISTRY)
    faust.Worker(
        worker.app, loglevel=settings.log_level, override_logging=False
    ).execute_from_commandline()
