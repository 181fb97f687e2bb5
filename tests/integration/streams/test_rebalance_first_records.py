"""Records that reach partitions without a committed offset while a second worker joins
are all processed: once assigned, each worker restores the table and seeks its partitions,
and no record fetched meanwhile is skipped (`streams.engine.guard_rebalances`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from ops.samples import stripe_capture
from tests.support.groups import worker_owners_of
from tests.support.pipeline import Pipeline
from tests.support.ports import free_port
from tests.support.topic_reader import WAIT_SECONDS, Reader, Record

PARTITIONS = 16
#: Payments whose table entries the joining worker restores, all sent to partition 0.
RESTORED = 40
#: Once the new assignment is made, every other partition gets records this often, this long.
PACE_SECONDS = 0.05
SENDING_SECONDS = 3.0


def send(pipeline: Pipeline, intent: str, partition: int) -> str:
    """To `partition` whatever the key's: most are forwarded to their key's partition, as
    records written before a scale are."""
    body = stripe_capture(intent, intent)
    pipeline.produce(f"stripe:{intent}", body, intent, partition=partition)
    return intent


def wait_for_all(out: Reader, sent: set[str]) -> None:
    def processed(records: list[Record]) -> set[str]:
        return {json.loads(r.value or b"{}")["event_id"] for r in records} & sent

    out.wait_for(lambda records: processed(records) == sent)


def wait_for(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_first_records_of_partitions_arriving_while_a_worker_joins_are_all_processed(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(topic_partitions=PARTITIONS)
    settings = pipeline.settings
    out = pipeline.reader(settings.topics.payment_events)
    restored = {send(pipeline, f"pi_restored{n}", 0) for n in range(RESTORED)}
    pipeline.start_worker("w1")
    wait_for_all(out, restored)

    pipeline.start_worker("w2", metrics_port=free_port())
    shared = lambda: worker_owners_of(settings, settings.topics.raw_webhooks) == 2  # noqa: E731
    wait_for(shared, "the partitions to be shared")
    sent: set[str] = set()
    deadline = time.monotonic() + SENDING_SECONDS
    while time.monotonic() < deadline:
        for partition in range(1, PARTITIONS):
            sent.add(send(pipeline, f"pi_arriving{len(sent)}", partition))
        time.sleep(PACE_SECONDS)
    wait_for_all(out, sent)
