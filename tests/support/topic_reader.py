"""Everything on one topic, from the beginning, as it arrives."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from common.kafka import header_map
from common.settings import PipelineSettings

WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None  # None: a tombstone
    headers: dict[str, str]


class Reader:
    """Everything on one topic, from the beginning, as it arrives."""

    def __init__(self, settings: PipelineSettings, topic: str) -> None:
        self.records: list[Record] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"reader-{topic}",
                "enable.auto.commit": False,
            }
        )
        self._consumer.assign(
            [TopicPartition(topic, p, 0) for p in range(settings.topic_partitions)]
        )

    def poll(self, seconds: float = 0.2) -> list[Record]:
        for message in self._consumer.consume(num_messages=500, timeout=seconds):
            assert message.error() is None, message.error()
            self.records.append(
                Record(
                    message.topic() or "",
                    message.partition() or 0,
                    message.offset() or 0,
                    message.timestamp()[1],
                    message.key(),
                    message.value(),
                    header_map(message.headers()),
                )
            )
        return self.records

    def wait_for(
        self, done: Callable[[list[Record]], bool], seconds: float = WAIT_SECONDS
    ) -> list[Record]:
        deadline = time.monotonic() + seconds
        while not done(self.poll()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; have {len(self.records)} records")
        return self.records

    def close(self) -> None:
        self._consumer.close()
