"""The sink's loop: fetch a batch, write it in one transaction, dead-letter what can never be
written, then commit the batch's offsets.

The order is the guarantee. Offsets move only after the database committed (and dlq
acknowledged the rejects), so a crash at any point redelivers the batch, and the writes
are idempotent, so the redelivery leaves the rows a run without the crash would have.

While the database is unavailable the sink pauses its partitions and keeps polling (so the
group does not evict it), retries the same batch with capped backoff, and resumes when a
write succeeds. Nothing is dead-lettered for an outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from common.kafka import header_map
from common.logging import correlation_id
from schemas import headers as h
from sinks import metrics
from sinks.batching import BatchLimits, backoff_seconds
from sinks.db_errors import classify
from sinks.records import (
    KafkaRecord,
    Prepared,
    Rejected,
    dlq_headers,
    error_text,
    next_offsets,
    prepare,
)
from sinks.store import Store

log = logging.getLogger("payments.sink")

FIRST_RETRY_SECONDS = 0.5


class SinkStopped(Exception):
    """A stop was requested while the sink waited for the database; the batch stays
    uncommitted and is redelivered to whoever consumes next."""


@dataclass(frozen=True)
class SinkOptions:
    limits: BatchLimits
    dlq_topic: str
    retry_cap_seconds: float


class Sink:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        store: Store,
        options: SinkOptions,
        *,
        before_offset_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._store = store
        self._options = options
        # A fault-injection point: the crash tests kill the process here.
        self._before_offset_commit = before_offset_commit

    async def run(self, stop: asyncio.Event) -> None:
        """While the database writes one batch, fetch and prepare the next (decoding and
        building rows are this process's CPU, the write mostly the server's), settle the
        one before (dlq, offset commit) and record its metrics. Batches are written one at
        a time, in order, and their offsets committed in the same order."""
        writing: asyncio.Task[Stored] | None = None
        settling: asyncio.Task[Stored] | None = None
        try:
            while not stop.is_set():
                batch = prepare(await self._fetch_batch(), datetime.now(UTC))
                settled = await settling if settling is not None else None
                settling = None
                if writing is not None:
                    settling = asyncio.create_task(self._settle(await writing))
                    writing = None
                if batch.records and not stop.is_set():  # else redelivered to the next consumer
                    writing = asyncio.create_task(self._store_batch(batch, stop))
                    await asyncio.sleep(0)  # the write starts before the metrics below
                if settled is not None:
                    settled.observe()
            if settling is not None:
                (await settling).observe()
            if writing is not None:
                (await self._settle(await writing)).observe()
        except SinkStopped:
            log.info("stopped while waiting for the database; the batch will be redelivered")
        finally:
            for task in (writing, settling):
                if task is not None:
                    task.cancel()  # only when something failed: the process is going down

    async def _fetch_batch(self) -> list[KafkaRecord]:
        records: list[KafkaRecord] = []
        opened = time.monotonic()
        limits = self._options.limits
        while fetch := limits.next_fetch(len(records), time.monotonic() - opened):
            max_records, wait = fetch
            fetched = await self._consumer.getmany(
                timeout_ms=max(1, int(wait * 1000)), max_records=max_records
            )
            records.extend(record for batch in fetched.values() for record in batch)
        return records

    async def _store_batch(self, batch: Prepared, stop: asyncio.Event) -> Stored:
        started = time.monotonic()
        rejected = batch.rejected + await self._write(batch, stop)
        return Stored(batch, rejected, datetime.now(UTC), started)

    async def _settle(self, stored: Stored) -> Stored:
        await self._dead_letter(stored.rejected)
        self._before_offset_commit()
        await self._commit(next_offsets(stored.batch.records))
        metrics.BATCH_SIZE.observe(len(stored.batch.records))
        metrics.BATCH_SECONDS.observe(time.monotonic() - stored.started)
        return stored

    async def _write(self, batch: Prepared, stop: asyncio.Event) -> list[Rejected]:
        attempt = 0
        try:
            while True:
                # A retry after an outage builds the rows again, with its own time.
                written_at, rows = (
                    (batch.prepared_at, batch.rows) if attempt == 0 else (datetime.now(UTC), None)
                )
                try:
                    rejected = await asyncio.to_thread(
                        self._store.write, batch.decoded, written_at, rows
                    )
                except Exception as error:
                    if classify(error) != "unavailable":
                        raise
                    attempt += 1
                    await self._wait_for_database(attempt, error, stop)
                    continue
                if rejected:
                    metrics.DB_ERRORS.labels("data").inc()
                return rejected
        finally:
            if attempt:
                self._resume(attempt)

    async def _wait_for_database(self, attempt: int, error: Exception, stop: asyncio.Event) -> None:
        metrics.DB_ERRORS.labels("unavailable").inc()
        metrics.PAUSED.set(1)
        delay = backoff_seconds(attempt, FIRST_RETRY_SECONDS, self._options.retry_cap_seconds)
        log.warning(
            "database unavailable; paused",
            extra={"attempt": attempt, "retry_in_s": delay, "error": error_text(error)},
        )
        if stop.is_set():
            raise SinkStopped
        await self._idle(delay)

    async def _idle(self, seconds: float) -> None:
        """Poll with every partition paused: the group sees a live member, nothing is
        fetched. A partition assigned meanwhile arrives unpaused, so whatever it returned
        is rewound to be fetched again after the batch in hand."""
        self._consumer.pause(*self._consumer.assignment())
        fetched = await self._consumer.getmany(timeout_ms=int(seconds * 1000))
        for partition, records in fetched.items():
            self._consumer.seek(partition, records[0].offset)

    def _resume(self, attempts: int) -> None:
        self._consumer.resume(*self._consumer.assignment())
        metrics.PAUSED.set(0)
        log.info("database back; resumed", extra={"failed_attempts": attempts})

    async def _dead_letter(self, rejected: list[Rejected]) -> None:
        now_ms = int(time.time() * 1000)
        sends = []
        for item in rejected:
            record = item.record
            correlation_id.set(header_map(list(record.headers)).get(h.CORRELATION_ID))
            log.error(
                "payment-event dead-lettered",
                extra={
                    "reason": item.reason,
                    "error": error_text(item.error),
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )
            metrics.DEAD_LETTERED.labels(item.reason).inc()
            sends.append(
                await self._producer.send(
                    self._options.dlq_topic,
                    record.value,
                    key=record.key,
                    headers=dlq_headers(item, now_ms),
                )
            )
        correlation_id.set(None)
        await asyncio.gather(*sends)  # acknowledged before the offsets move past them

    async def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        try:
            await self._consumer.commit(
                {TopicPartition(topic, partition): o for (topic, partition), o in offsets.items()}
            )
        except (CommitFailedError, IllegalStateError) as error:
            # A rebalance took partitions away mid-batch: their new owner redelivers the
            # records, and the writes are idempotent.
            log.warning("offset commit refused after a rebalance", extra={"error": str(error)})


@dataclass(frozen=True, slots=True)
class Stored:
    """A batch whose rows are committed (its offsets are, once settled)."""

    batch: Prepared
    rejected: list[Rejected]
    committed_at: datetime
    started: float  # time.monotonic() when its write began

    def observe(self) -> None:
        failed = {id(item.record) for item in self.rejected}
        written = [item for item in self.batch.decoded if id(item.record) not in failed]
        metrics.EVENTS_WRITTEN.inc(len(written))  # once per batch: each inc() takes a lock
        committed_ms = self.committed_at.timestamp() * 1000
        for item in written:
            age = self.committed_at - item.event.received_at
            metrics.END_TO_END_SECONDS.observe(age.total_seconds())
            metrics.INPUT_AGE_SECONDS.observe((committed_ms - item.record.timestamp) / 1000)
