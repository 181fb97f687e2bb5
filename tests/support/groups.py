"""Consumer groups in tests: which members own a topic's partitions, and a member that is
not a worker, for tests of what refuses to run while workers are in the group."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, KafkaException

from common.kafka import make_admin
from common.settings import PipelineSettings
from ops.scale import active_members
from streams.worker import app_id


@contextmanager
def member_of(settings: PipelineSettings, group: str) -> Iterator[None]:
    """A consumer in `group` (as a running worker is), until the block ends."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": group})
    consumer.subscribe([settings.topics.raw_webhooks])
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, "never joined the group"
            consumer.poll(0.2)
        assert active_members(make_admin(settings), group) == 1
        yield
    finally:
        consumer.close()


def worker_owners_of(settings: PipelineSettings, topic: str) -> int:
    """Members of the worker group that own partitions of `topic` (0 while the broker cannot
    tell yet)."""
    group = app_id(settings)
    admin = make_admin(settings)  # referenced until the answer came: it serves the future
    try:
        description = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    except KafkaException:  # the group's coordinator is still loading
        return 0
    return sum(
        any(tp.topic == topic for tp in member.assignment.topic_partitions)
        for member in description.members
    )
