"""Read a topic's records from its start to its current end: for the admin API (the dlq
summary, a payment's retried / dead-lettered steps), reconciliation and the dlq tool.

Bodies are kept only when asked for (`with_values`, the dlq tool): they are the providers'
raw payloads, full of PII.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from common.kafka import header_map
from common.settings import PipelineSettings

SCAN_TIMEOUT_SECONDS = 10.0
_LOG = logging.getLogger("librdkafka")


@dataclass(frozen=True, slots=True)
class TopicEntry:
    topic: str
    key: str
    timestamp_ms: int
    headers: dict[str, str]
    partition: int = 0
    offset: int = 0
    value: bytes | None = None


def scan_topics(
    settings: PipelineSettings, topics: Sequence[str], *, with_values: bool = False
) -> list[TopicEntry]:
    """What the topics hold, as far as it can be read in `SCAN_TIMEOUT_SECONDS`."""
    messages = read_messages(settings, topics, SCAN_TIMEOUT_SECONDS, complete=False)
    return [_entry(message, with_values) for message in messages]


def read_messages(
    settings: PipelineSettings, topics: Sequence[str], timeout: float, *, complete: bool
) -> Iterator[Message]:
    """Every record of `topics` up to the end each partition had when the read began.
    Past `timeout` seconds the read stops, or, when it must be `complete`, fails
    (`TimeoutError`)."""
    consumer = _reader(settings)
    try:
        ends = _assign_non_empty(consumer, topics)
        yield from _read_until(consumer, ends, time.monotonic() + timeout)
        if ends and complete:
            raise TimeoutError(f"read {sorted(ends)} only in part in {timeout:.0f}s")
    finally:
        consumer.close()


def end_offsets(
    settings: PipelineSettings, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The offset the next record of each `(topic, partition)` will get (its high
    watermark); the partitions must exist."""
    consumer = _reader(settings)
    try:
        return {
            (topic, partition): _watermarks(consumer, TopicPartition(topic, partition))[1]
            for topic, partition in partitions
        }
    finally:
        consumer.close()


def read_record(
    settings: PipelineSettings, topic: str, partition: int, offset: int
) -> TopicEntry | None:
    """One record with its body; None when there is no such partition, or it holds no record
    at `offset` (never written, or already removed)."""
    consumer = _reader(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=SCAN_TIMEOUT_SECONDS).topics.get(topic)
        if metadata is None or metadata.error is not None or partition not in metadata.partitions:
            return None
        low, high = _watermarks(consumer, TopicPartition(topic, partition))
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + SCAN_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                return _entry(message, with_value=True) if message.offset() == offset else None
    finally:
        consumer.close()
    raise TimeoutError(f"{topic}:{partition}:{offset} not read in {SCAN_TIMEOUT_SECONDS:.0f}s")


def read_records(
    settings: PipelineSettings, wanted: Sequence[tuple[str, int, int]]
) -> dict[tuple[str, int, int], TopicEntry]:
    """The records at each (topic, partition, offset) of `wanted`, with their bodies; what
    is not there any more, or not read in `SCAN_TIMEOUT_SECONDS`, is left out."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for topic, partition, offset in wanted:
        first, last = spans.get((topic, partition), (offset, offset))
        spans[(topic, partition)] = (min(first, offset), max(last, offset))
    found: dict[tuple[str, int, int], TopicEntry] = {}
    if not spans:
        return found
    consumer = _reader(settings)
    try:
        consumer.assign([TopicPartition(t, p, first) for (t, p), (first, _) in spans.items()])
        todo, deadline = set(wanted), time.monotonic() + SCAN_TIMEOUT_SECONDS
        # As many as the spans hold: `consume` returns as soon as it has them.
        span = min(500, sum(last - first + 1 for first, last in spans.values()))
        while todo and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=span, timeout=0.5):
                where = (message.topic() or "", message.partition() or 0, message.offset() or 0)
                if message.error() is None and where in todo:
                    todo.discard(where)
                    found[where] = _entry(message, with_value=True)
    finally:
        consumer.close()
    return found


def read_heads(
    settings: PipelineSettings, positions: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], TopicEntry]:
    """For each (topic, partition) → offset of `positions`, the first record there or after
    it, without its body; what cannot be read in `SCAN_TIMEOUT_SECONDS` is left out."""
    consumer = _reader(settings)
    try:
        consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in positions.items()])
        return _first_of_each(consumer, len(positions), time.monotonic() + SCAN_TIMEOUT_SECONDS)
    finally:
        consumer.close()


def _reader(settings: PipelineSettings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            # assign() without commits: the group id is required but never joined
            "group.id": "payments-admin-scan",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "logger": _LOG,
        }
    )


def _first_of_each(
    consumer: Consumer, partitions: int, deadline: float
) -> dict[tuple[str, int], TopicEntry]:
    firsts: dict[tuple[str, int], TopicEntry] = {}
    while len(firsts) < partitions and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=500, timeout=0.5):
            where = (message.topic() or "", message.partition() or 0)
            if message.error() is None and where not in firsts:
                firsts[where] = _entry(message, with_value=False)
    return firsts


def _assign_non_empty(consumer: Consumer, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Assign each partition that holds records at its first one; return their ends."""
    starts: list[TopicPartition] = []
    ends: dict[tuple[str, int], int] = {}
    metadata = consumer.list_topics(timeout=SCAN_TIMEOUT_SECONDS)
    for topic in topics:
        for partition in metadata.topics[topic].partitions if topic in metadata.topics else ():
            low, high = _watermarks(consumer, TopicPartition(topic, partition))
            if high > low:
                starts.append(TopicPartition(topic, partition, low))
                ends[(topic, partition)] = high
    consumer.assign(starts)
    return ends


def _watermarks(consumer: Consumer, partition: TopicPartition) -> tuple[int, int]:
    """(low, high), retrying for a while what the broker says is passing (a leader moving,
    a topic that was just created and whose leader a loaded broker has yet to elect)."""
    deadline = time.monotonic() + SCAN_TIMEOUT_SECONDS
    pause = 0.1
    while True:
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=SCAN_TIMEOUT_SECONDS)
            return low, high
        except KafkaException as exc:
            if time.monotonic() > deadline or not _passing(exc.args[0]):
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


#: Errors a new topic or a moving leader gives for a while; librdkafka does not flag them
#: retriable for a watermark query.
_PASSING_CODES = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)


def _passing(error: KafkaError) -> bool:
    return bool(error.retriable()) or error.code() in _PASSING_CODES


def _read_until(
    consumer: Consumer, ends: dict[tuple[str, int], int], deadline: float
) -> Iterator[Message]:
    """Yields the records; removes each partition from `ends` once read to its end."""
    while ends and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=500, timeout=0.5):
            where = (message.topic() or "", message.partition() or 0)
            error = message.error()
            if error is None:
                yield message
            elif error.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(f"reading {where}: {error}")
            # Records may arrive after the scan began: stop at the end seen at its start.
            if error is not None or (message.offset() or 0) >= ends.get(where, 0) - 1:
                ends.pop(where, None)


def _entry(message: Message, with_value: bool) -> TopicEntry:
    return TopicEntry(
        topic=message.topic() or "",
        key=(message.key() or b"").decode("utf-8", "replace"),
        timestamp_ms=message.timestamp()[1],
        headers=header_map(message.headers() or []),
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        value=message.value() if with_value else None,
    )
