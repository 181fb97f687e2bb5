"""OutputBatch: a take's records go out per topic partition in the order they were added:
as one batch from `BATCH_MIN_RECORDS` on (a full batch followed by another), one by one
below; a refused send reports a failure; a delivered changelog send tells the tables its
partition's written end."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams.outputs import BATCH_MIN_RECORDS, OutputBatch
from streams.records import Outbound
from streams.tables import ChangelogRecord

pytestmark = pytest.mark.unit

Sent = tuple[str, str, int, list[bytes]]  # (how, topic, partition, keys)


@dataclass
class FakeBatch:
    room: int
    records: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)
    closed: bool = False

    def append(
        self, *, key: bytes, value: bytes | None, timestamp: None, headers: list[tuple[str, bytes]]
    ) -> object | None:
        if self.records and len(self.records) == self.room:
            return None  # as aiokafka's: the first record always fits
        self.records.append((key, value, headers))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Batches of `room` records; each send is delivered at offset 100, 200, … or refused."""

    def __init__(self, room: int = 100, refuse: bool = False) -> None:
        self.room, self.refuse = room, refuse
        self.sent: list[Sent] = []
        self.headers: list[list[tuple[str, bytes]]] = []
        self.metadata_for: list[str] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.room)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        assert batch.closed
        self.headers += [headers for _, _, headers in batch.records]
        return self._sent("batch", topic, partition, [key for key, _, _ in batch.records])

    async def send(
        self, topic: str, value: bytes | None, *, key: bytes, partition: int, headers: Any
    ) -> Any:
        self.headers.append(headers)
        return self._sent("record", topic, partition, [key])

    async def partitions_for(self, topic: str) -> set[int]:
        self.metadata_for.append(topic)
        return {0, 1}

    def _sent(self, how: str, topic: str, partition: int, keys: list[bytes]) -> Any:
        self.sent.append((how, topic, partition, keys))
        future = asyncio.get_running_loop().create_future()
        if self.refuse:
            future.set_exception(RuntimeError("refused"))
        else:
            future.set_result(type("Metadata", (), {"offset": 100 * len(self.sent)})())
        return future


class FakeTable:
    class changelog_topic:  # faust's attribute name
        @staticmethod
        def get_topic_name() -> str:
            return "app-payments-changelog"


def out(topic: str, key: bytes, partition: int | None = None) -> Outbound:
    return Outbound(topic, key, b"v-" + key, (("provider", b"stripe"),), partition)


def change(partition: int, key: bytes) -> ChangelogRecord:
    return ChangelogRecord(FakeTable(), partition, key, b"state")


def keys(count: int, prefix: bytes = b"k") -> list[bytes]:
    return [prefix + bytes([48 + n]) for n in range(count)]


async def send(
    producer: FakeProducer, *items: Outbound | ChangelogRecord
) -> tuple[list[BaseException], list[tuple[int, int]]]:
    failures: list[BaseException] = []
    written: list[tuple[int, int]] = []
    batch = OutputBatch(
        producer,
        lambda topic, key: len(key) % 2,
        failures.append,
        lambda record, offset: written.append((record.partition, offset)),
    )
    for item in items:
        if isinstance(item, Outbound):
            batch.add(item)
        else:
            batch.add_change(item)
    await batch.send()
    await asyncio.sleep(0)  # delivery callbacks
    return failures, written


async def test_a_partition_with_enough_records_gets_one_batch_in_the_order_added() -> None:
    producer = FakeProducer()
    many = keys(BATCH_MIN_RECORDS)
    failures, _ = await send(producer, *(out("dlq", key, 1) for key in many))
    assert failures == []
    assert producer.sent == [("batch", "dlq", 1, many)]
    assert producer.headers == [[("provider", b"stripe")]] * BATCH_MIN_RECORDS


async def test_a_few_records_of_a_partition_go_one_by_one_in_order() -> None:
    producer = FakeProducer()
    few = keys(BATCH_MIN_RECORDS - 1)
    await send(producer, *(out("dlq", key, 1) for key in few), out("retry-1m", b"r", 0))
    assert producer.sent == [
        *(("record", "dlq", 1, [key]) for key in few),
        ("record", "retry-1m", 0, [b"r"]),
    ]


async def test_a_record_without_a_partition_is_placed_by_the_partitioner() -> None:
    producer = FakeProducer()
    await send(producer, out("payment-events", b"odd"), out("payment-events", b"even"))
    assert producer.metadata_for == ["payment-events"]
    assert [(p, k) for _, _, p, k in producer.sent] == [(1, [b"odd"]), (0, [b"even"])]


async def test_a_full_batch_is_sent_and_the_rest_follows_in_order() -> None:
    producer = FakeProducer(room=2)
    five = keys(5)
    await send(producer, *(out("dlq", key, 0) for key in five))
    assert [k for _, _, _, k in producer.sent] == [five[:2], five[2:4], five[4:]]


async def test_a_refused_send_reports_a_failure() -> None:
    failures, written = await send(FakeProducer(refuse=True), change(0, b"k"))
    assert [str(error) for error in failures] == ["refused"]
    assert written == []


async def test_a_delivered_changelog_send_reports_its_last_offset() -> None:
    # A batch of four lands at base offset 100 (ends at 103); the single record at 200.
    batch = [change(0, key) for key in keys(4)]
    _, written = await send(FakeProducer(), *batch, change(1, b"d"), out("dlq", b"x", 0))
    assert sorted(written) == [(0, 103), (1, 200)]
