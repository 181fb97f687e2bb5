"""Sending what a run of events produced: one record batch per topic partition.

The worker collects the outputs and changelog records of a take of events here and hands
each topic partition's records to aiokafka as one batch (`send_batch`): one future and one
delivery callback per batch instead of one per record, which the profile showed cost more
than the records themselves. Order within a partition is the order of `add`.

At least once is unchanged: `send` returns once every batch is queued in the producer,
faust acknowledges the take's events only after that, and it flushes the producer before
it commits their offsets. A batch the broker refuses stops the worker (`on_failure`)
before any later commit can pass its records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, Final, Protocol

from streams.records import Headers, Outbound
from streams.tables import ChangelogRecord

#: A topic partition's records of one take go out as a batch from this many on.
BATCH_MIN_RECORDS: Final = 4
#: (key, value, headers) of one record; value None is a tombstone.
Record = tuple[bytes, bytes | None, Headers]


class BatchProducer(Protocol):
    """The part of aiokafka's producer used here."""

    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...

    async def partitions_for(self, topic: str) -> Any: ...

    async def send(
        self, topic: str, value: bytes | None, *, key: bytes, partition: int, headers: Any
    ) -> Any: ...


class OutputBatch:
    """Records to send, grouped by topic partition. `partition_of(topic, key)` places a
    record whose partition is not set (the producer's partitioner, from its metadata)."""

    def __init__(
        self,
        producer: BatchProducer,
        partition_of: Callable[[str, bytes], int],
        on_failure: Callable[[BaseException], None],
        on_written: Callable[[ChangelogRecord, int], None],
    ) -> None:
        self._producer = producer
        self._partition_of = partition_of
        self._on_failure = on_failure
        self._on_written = on_written
        self._unplaced: list[Outbound] = []
        self._records: dict[tuple[str, int], list[Record]] = {}
        self._last_change: dict[tuple[str, int], ChangelogRecord] = {}

    def add(self, out: Outbound) -> None:
        if out.partition is None:
            self._unplaced.append(out)
        else:
            self._group(out.topic, out.partition).append((out.key, out.value, out.headers))

    def add_change(self, change: ChangelogRecord) -> None:
        topic = change.topic
        self._group(topic, change.partition).append((change.key, change.value, ()))
        self._last_change[topic, change.partition] = change

    async def send(self) -> None:
        """Queue every record in the producer (not waiting for the broker)."""
        for topic in {out.topic for out in self._unplaced}:
            await self._producer.partitions_for(topic)  # metadata for `partition_of`
        for out in self._unplaced:
            partition = self._partition_of(out.topic, out.key)
            self._group(out.topic, partition).append((out.key, out.value, out.headers))
        for (topic, partition), records in self._records.items():
            await self._send_partition(topic, partition, records)

    def _group(self, topic: str, partition: int) -> list[Record]:
        return self._records.setdefault((topic, partition), [])

    async def _send_partition(self, topic: str, partition: int, records: list[Record]) -> None:
        if len(records) < BATCH_MIN_RECORDS:
            # `send_batch` waits until the partition's previous batch is on the wire (one
            # request in flight per broker); a few records join the open batch instead,
            # so a trickle (a retry tier, light traffic) does not wait a round trip each.
            for key, value, headers in records:
                sent = await self._producer.send(
                    topic, value, key=key, partition=partition, headers=[*headers]
                )
                self._on_queued(sent, topic, partition, 1)
            return
        batch, count = self._producer.create_batch(), 0
        for key, value, headers in records:
            record = {"key": key, "value": value, "timestamp": None, "headers": [*headers]}
            if batch.append(**record) is None:  # full (a batch's first record always fits)
                await self._submit(batch, topic, partition, count)
                batch, count = self._producer.create_batch(), 0
                batch.append(**record)
            count += 1
        if count:
            await self._submit(batch, topic, partition, count)

    async def _submit(self, batch: Any, topic: str, partition: int, count: int) -> None:
        batch.close()
        sent = await self._producer.send_batch(batch, topic, partition=partition)
        self._on_queued(sent, topic, partition, count)

    def _on_queued(self, sent: asyncio.Future[Any], topic: str, partition: int, count: int) -> None:
        change = self._last_change.get((topic, partition))
        sent.add_done_callback(partial(self._delivered, change, count))

    def _delivered(
        self, change: ChangelogRecord | None, count: int, future: asyncio.Future[Any]
    ) -> None:
        error = None if future.cancelled() else future.exception()
        if error is not None or future.cancelled():
            self._on_failure(error or asyncio.CancelledError())
        elif change is not None:
            # The base offset of `count` records: the last is the partition's written end
            # (`change` only names the changelog; any change of that partition would do).
            self._on_written(change, future.result().offset + count - 1)
