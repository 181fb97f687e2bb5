"""`payments_consumer_lag` read from the real broker: produced minus committed, per partition;
`payments_retry_overdue_seconds`: how long past due the record a group reads next on a
retry tier is."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

import common.lag_exporter
from common.kafka import make_admin, make_confluent_producer
from common.lag_exporter import ConsumerLagExporter
from common.metrics import REGISTRY
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from schemas import headers as h
from streams.retry import seconds_overdue


def lag(group: str, topic: str, partition: int) -> float | None:
    labels = {"group": group, "topic": topic, "partition": str(partition)}
    return REGISTRY.get_sample_value("payments_consumer_lag", labels)


def overdue(group: str, topic: str, partition: int) -> float | None:
    labels = {"group": group, "topic": topic, "partition": str(partition)}
    return REGISTRY.get_sample_value("payments_retry_overdue_seconds", labels)


def produce(settings: PipelineSettings, topic: str, counts: dict[int, int]) -> None:
    producer = make_confluent_producer(settings)
    for partition, count in counts.items():
        for number in range(count):
            producer.produce(topic, key=b"k", value=str(number).encode(), partition=partition)
    assert producer.flush(15) == 0


def commit(settings: PipelineSettings, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": group})
    try:
        tps = [TopicPartition(topic, p, offset) for p, offset in offsets.items()]
        consumer.commit(offsets=tps, asynchronous=False)
    finally:
        consumer.close()


def test_lag_is_end_offset_minus_committed_per_partition(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(topic_partitions=3)
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    topic, group = settings.topics.raw_webhooks, f"lag-{uuid.uuid4().hex[:8]}"
    produce(settings, topic, {0: 10, 1: 3})
    commit(settings, group, topic, {0: 4})
    exporter = ConsumerLagExporter(settings, group, [topic, settings.topics.retry[0]])

    exporter.refresh()
    assert [lag(group, topic, p) for p in range(3)] == [6, 3, 0]  # 1: never committed
    assert lag(group, settings.topics.retry[0], 0) == 0

    produce(settings, topic, {0: 5})
    commit(settings, group, topic, {1: 3})
    exporter.refresh()
    assert [lag(group, topic, p) for p in range(3)] == [11, 0, 0]


def test_a_tier_record_due_and_not_read_is_overdue_until_the_group_reads_past_it(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(topic_partitions=2)
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    tier, group = settings.topics.retry[1], f"lag-{uuid.uuid4().hex[:8]}"
    now_ms = 1_900_000_000_000
    producer = make_confluent_producer(settings)
    for due_ms in (now_ms - 3_600_000, now_ms - 90_000, now_ms + 3_600_000):
        producer.produce(tier, b"body", b"k", 0, headers=[(h.RETRY_DUE_AT, str(due_ms))])
    assert producer.flush(15) == 0
    commit(settings, group, tier, {0: 1})  # the first one read, the second one due since 90 s
    exporter = ConsumerLagExporter(
        settings,
        group,
        [settings.topics.raw_webhooks, tier],
        clock=lambda: now_ms / 1000,
        overdue=seconds_overdue,
    )

    exporter.refresh()
    assert [overdue(group, tier, p) for p in range(2)] == [90.0, 0.0]
    assert overdue(group, settings.topics.raw_webhooks, 0) is None  # not a retry tier

    commit(settings, group, tier, {0: 2})  # the next one is not due
    exporter.refresh()
    assert overdue(group, tier, 0) == 0.0
    commit(settings, group, tier, {0: 3})
    exporter.refresh()
    assert overdue(group, tier, 0) == 0.0


def test_the_thread_refreshes_and_a_failing_broker_removes_the_series(
    make_settings: Callable[..., PipelineSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(topic_partitions=1)
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    topic, group = settings.topics.payment_events, f"lag-{uuid.uuid4().hex[:8]}"
    produce(settings, topic, {0: 2})

    exporter = ConsumerLagExporter(settings, group, [topic], interval=0.1).start()
    try:
        assert wait_until(lambda: lag(group, topic, 0) == 2)
        produce(settings, topic, {0: 1})
        assert wait_until(lambda: lag(group, topic, 0) == 3)

        def broker_gone(*_: object) -> None:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))

        monkeypatch.setattr(common.lag_exporter, "describe_topics", broker_gone)
        assert wait_until(lambda: lag(group, topic, 0) is None)  # a gap, not a stale value
        assert exporter.running
    finally:
        exporter.stop()
    assert not exporter.running


def wait_until(done: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
