"""Create and describe the pipeline's topics.

Every topic is created with the same partition count: the worker's tables are
co-partitioned with raw-webhooks and the retry tiers, so a count that differs would send a
payment's retries to another partition than its dedupe and state entries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

from common.kafka import make_admin
from common.settings import PipelineSettings

ADMIN_TIMEOUT_SECONDS = 15.0

CreateOutcome = Literal["created", "exists", "exists-differs"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


@dataclass(frozen=True)
class CreateResult:
    spec: TopicSpec
    outcome: CreateOutcome
    detail: str = ""


@dataclass(frozen=True)
class PartitionReport:
    topic: str
    partition: int
    low: int
    high: int
    committed: dict[str, int]  # group id -> committed offset

    def lag(self, group: str) -> int:
        """Records the group has yet to consume (all of them when it never committed)."""
        return self.high - self.committed.get(group, self.low)


def pipeline_topic_specs(settings: PipelineSettings) -> list[TopicSpec]:
    """The desired state of every pipeline topic."""
    min_isr = str(min(2, settings.topic_replication_factor))
    config = {
        "retention.ms": str(settings.topic_retention_ms),
        "cleanup.policy": "delete",
        # acks=all only protects a record when more than one replica must have it.
        "min.insync.replicas": min_isr,
    }
    return [
        TopicSpec(name, settings.topic_partitions, settings.topic_replication_factor, dict(config))
        for name in settings.topics.all()
    ]


def create_topics(admin: AdminClient, specs: Iterable[TopicSpec]) -> list[CreateResult]:
    """Create what is missing; report what exists (and whether it differs). Idempotent."""
    specs = list(specs)
    existing = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).topics
    missing = [spec for spec in specs if spec.name not in existing]
    futures = (
        admin.create_topics(
            [
                NewTopic(s.name, s.partitions, s.replication_factor, config=s.config)
                for s in missing
            ],
            request_timeout=ADMIN_TIMEOUT_SECONDS,
            # wait until the brokers serve the new topics, so producers never see them missing
            operation_timeout=ADMIN_TIMEOUT_SECONDS,
        )
        if missing
        else {}
    )
    results = []
    for spec in specs:
        if spec.name not in futures:
            results.append(_compare(spec, len(existing[spec.name].partitions)))
        elif _created(futures[spec.name]):
            results.append(CreateResult(spec, "created"))
        else:  # our metadata was stale, or another `topics create` won the race
            results.append(_compare(spec, _partition_count(admin, spec.name)))
    return results


def _partition_count(admin: AdminClient, name: str) -> int:
    """Partitions of a topic that exists, waiting out metadata that lags its creation."""
    deadline = time.monotonic() + ADMIN_TIMEOUT_SECONDS
    while True:
        topic = admin.list_topics(name, timeout=ADMIN_TIMEOUT_SECONDS).topics[name]
        if (topic.error is None and topic.partitions) or time.monotonic() > deadline:
            return len(topic.partitions)
        time.sleep(0.1)


def _created(future: object) -> bool:
    """True when the topic was created, False when it already existed."""
    try:
        future.result()  # type: ignore[attr-defined]
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return False
    return True


def _compare(spec: TopicSpec, partitions: int) -> CreateResult:
    if partitions == spec.partitions:
        return CreateResult(spec, "exists")
    return CreateResult(
        spec,
        "exists-differs",
        f"has {partitions} partitions, TOPIC_PARTITIONS is {spec.partitions}; "
        "use `payments topics scale` to change it",
    )


def partition_counts(admin: AdminClient, topics: Iterable[str]) -> dict[str, int | None]:
    """Each topic's partition count; None for a topic that does not exist."""
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).topics
    return {
        topic: len(metadata[topic].partitions) if topic in metadata else None for topic in topics
    }


def mismatched_partitions(admin: AdminClient, topics: Iterable[str], expected: int) -> list[str]:
    """`topic: has N partitions` for each existing topic whose count is not `expected`."""
    counts = partition_counts(admin, topics)
    return [
        f"{topic} has {count} partitions"
        for topic, count in counts.items()
        if count is not None and count != expected
    ]


def increase_partitions(admin: AdminClient, topics: Iterable[str], partitions: int) -> None:
    """Raise each topic to `partitions` and wait until metadata shows it everywhere."""
    names = list(topics)
    if not names:
        return
    futures = admin.create_partitions(
        [NewPartitions(name, partitions) for name in names],
        request_timeout=ADMIN_TIMEOUT_SECONDS,
        operation_timeout=ADMIN_TIMEOUT_SECONDS,
    )
    for future in futures.values():
        future.result()
    deadline = time.monotonic() + ADMIN_TIMEOUT_SECONDS
    while any(count != partitions for count in partition_counts(admin, names).values()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"metadata does not show {partitions} partitions of {names}")
        time.sleep(0.1)


def delete_topics(admin: AdminClient, topics: Iterable[str]) -> None:
    """Delete `topics` and wait until metadata no longer shows them (a worker started right
    after must not find them)."""
    names = list(topics)
    if not names:
        return
    futures = admin.delete_topics(names, request_timeout=ADMIN_TIMEOUT_SECONDS)
    for future in futures.values():
        future.result()
    deadline = time.monotonic() + ADMIN_TIMEOUT_SECONDS
    while any(count is not None for count in partition_counts(admin, names).values()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"metadata still shows {names}")
        time.sleep(0.1)


def describe_topics(
    settings: PipelineSettings, topics: Iterable[str], groups: Iterable[str] | None = None
) -> list[PartitionReport]:
    """Offsets of every partition of `topics`, and each consumer group's committed offset."""
    admin = make_admin(settings)
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).topics
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        if topic in metadata
        for p in sorted(metadata[topic].partitions)
    ]
    if not partitions:
        return []
    group_ids = list(groups) if groups is not None else _group_ids(admin)
    # Committed offsets before the ends: a group committing meanwhile then shows a lag a
    # little high, never below zero.
    committed = {group: _committed(settings, group, partitions) for group in group_ids}
    low = _offsets(admin, partitions, OffsetSpec.earliest())
    high = _offsets(admin, partitions, OffsetSpec.latest())
    return [
        PartitionReport(
            tp.topic,
            tp.partition,
            low[(tp.topic, tp.partition)],
            high[(tp.topic, tp.partition)],
            {
                group: offsets[(tp.topic, tp.partition)]
                for group, offsets in committed.items()
                if (tp.topic, tp.partition) in offsets
            },
        )
        for tp in partitions
    ]


def _offsets(
    admin: AdminClient, partitions: list[TopicPartition], spec: OffsetSpec
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets(
        {tp: spec for tp in partitions}, request_timeout=ADMIN_TIMEOUT_SECONDS
    )
    return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}


def _group_ids(admin: AdminClient) -> list[str]:
    listing = admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_SECONDS).result()
    return sorted(group.group_id for group in listing.valid)


def _committed(
    settings: PipelineSettings, group: str, partitions: list[TopicPartition]
) -> dict[tuple[str, int], int]:
    """The group's committed offsets, read through a consumer of the group that never joins
    it. Not the admin client's `list_consumer_group_offsets`: librdkafka crashes the whole
    process (SIGSEGV, NULL group handle) when a group's coordinator answers NOT_COORDINATOR,
    as it does for a group that is new or still loading (librdkafka#5040,
    confluent-kafka-python#1982); it killed workers and sinks that exported their lag."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "logger": logging.getLogger("librdkafka"),
        }
    )
    try:
        offsets = consumer.committed(partitions, timeout=ADMIN_TIMEOUT_SECONDS)
    finally:
        consumer.close()
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in offsets
        if tp.offset >= 0  # negative: no committed offset for that partition
    }
