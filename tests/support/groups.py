"""A consumer-group member that is not a worker, for tests of what refuses to run while
workers are in the group."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer

from common.kafka import make_admin
from common.settings import PipelineSettings
from ops.scale import active_members


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
