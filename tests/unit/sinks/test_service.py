"""The sink's loop against fakes: each batch's offsets are committed only after its own
transaction, in order, also when the database was away for a while; the next batch is
fetched while the database writes one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
from aiokafka import TopicPartition

from sinks.batching import BatchLimits
from sinks.records import Decoded, Rejected
from sinks.service import Sink, SinkOptions
from tests.support.payment_events import FakeRecord, payment_event, record_of

WRITE_SECONDS = 0.05
PARTITION = TopicPartition("payment-events", 0)
Log = list[tuple[str, int]]


class FakeConsumer:
    """Hands out the given batches (one per fetch, none while paused), then nothing."""

    def __init__(self, batches: list[list[FakeRecord]], log: Log) -> None:
        self._batches = batches
        self._log = log
        self.last_offset = batches[-1][-1].offset + 1
        self.all_committed = asyncio.Event()
        self._paused = False

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[FakeRecord]]:
        if self._batches and not self._paused:
            batch = self._batches.pop(0)
            self._log.append(("fetched", batch[-1].offset))
            return {PARTITION: batch}
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._log.append(("commit", offsets[PARTITION]))
        if offsets[PARTITION] == self.last_offset:
            self.all_committed.set()

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused = True
        self._log.append(("pause", 0))

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused = False
        self._log.append(("resume", 0))


class FakeStore:
    """A slow write (the database's time), failing with an outage `outages` times first."""

    def __init__(self, log: Log, outages: int = 0) -> None:
        self._log = log
        self._outages = outages

    def write(
        self, batch: Sequence[Decoded], written_at: datetime, rows: object = None
    ) -> list[Rejected]:
        last = batch[-1].record.offset
        self._log.append(("write", last))
        time.sleep(WRITE_SECONDS)
        if self._outages:
            self._outages -= 1
            raise psycopg.OperationalError("connection refused")
        self._log.append(("written", last))
        return []


def batches(count: int, size: int = 2) -> list[list[FakeRecord]]:
    return [
        [
            record_of(payment_event(f"evt_{n}", f"pi_{n}"), offset=n)
            for n in range(b * size, (b + 1) * size)
        ]
        for b in range(count)
    ]


async def run_until_committed(consumer: FakeConsumer, store: FakeStore) -> None:
    options = SinkOptions(BatchLimits(max_size=2, max_wait=0.02), "dlq", retry_cap_seconds=0.1)
    producer: Any = None  # nothing is dead-lettered here
    sink = Sink(cast(Any, consumer), producer, cast(Any, store), options)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    await asyncio.wait_for(consumer.all_committed.wait(), 10)
    stop.set()
    await task


async def test_offsets_are_committed_after_each_batch_commits_in_order() -> None:
    log: Log = []
    await run_until_committed(FakeConsumer(batches(3), log), FakeStore(log))

    for first, then in [
        (("written", 1), ("commit", 2)),
        (("commit", 2), ("write", 3)),  # one batch at a time
        (("written", 3), ("commit", 4)),
        (("written", 5), ("commit", 6)),
    ]:
        assert log.index(first) < log.index(then), (first, then, log)


async def test_the_next_batch_is_fetched_while_one_is_written() -> None:
    log: Log = []
    await run_until_committed(FakeConsumer(batches(3), log), FakeStore(log))

    assert log.index(("fetched", 3)) < log.index(("written", 1))
    assert log.index(("fetched", 5)) < log.index(("written", 3))


async def test_an_outage_pauses_then_commits_in_order() -> None:
    log: Log = []
    await run_until_committed(FakeConsumer(batches(2), log), FakeStore(log, outages=2))

    commits = [entry for entry in log if entry[0] == "commit"]
    assert commits == [("commit", 2), ("commit", 4)]
    assert log.index(("pause", 0)) < log.index(("written", 1)) < log.index(("commit", 2))
    assert log.index(("resume", 0)) < log.index(("commit", 2))
