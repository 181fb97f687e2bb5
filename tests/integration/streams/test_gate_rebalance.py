"""A retry tier partition held by the gate comes back after a rebalance (issue 13): the
held record is processed when due, whether the worker restarts, a second one joins or a
second one leaves while it waits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from ops.samples import raw_headers, stripe_capture
from schemas import headers as h
from tests.support.pipeline import Pipeline
from tests.support.ports import free_port
from tests.support.topic_reader import WAIT_SECONDS, Reader, Record

#: Long enough for the rebalance to start while every tier partition is held.
HOLD_MS = 8_000


@dataclass(frozen=True)
class Held:
    event_ids: set[str]
    due_ms: int


def hold_every_partition(pipeline: Pipeline, tag: str, *ports: int) -> Held:
    """A record due in HOLD_MS on each partition of the first tier, once the workers on
    `ports` hold them all between them, each some."""
    due_ms = int(time.time() * 1000) + HOLD_MS
    event_ids = set()
    for partition in range(pipeline.settings.topic_partitions):
        intent = f"pi_{tag}{partition}"
        headers = [*raw_headers(intent), (h.RETRY_ATTEMPT, b"1"), (h.RETRY_DUE_AT, b"%d" % due_ms)]
        pipeline.produce(
            f"stripe:{intent}",
            stripe_capture(intent, intent),
            intent,
            topic=pipeline.settings.topics.retry[0],
            headers=headers,
            partition=partition,
        )
        event_ids.add(intent)
    deadline = time.monotonic() + WAIT_SECONDS
    while not (held(pipeline, *ports) == len(event_ids) and all(held(pipeline, p) for p in ports)):
        assert time.monotonic() < deadline, f"{tag}: the records were never all held"
        time.sleep(0.2)
    return Held(event_ids, due_ms)


def held(pipeline: Pipeline, *ports: int) -> float:
    """Tier partitions the workers on `ports` hold (0 while one is not serving yet)."""
    try:
        return sum(pipeline.metric("payments_worker_retry_partitions_held", p) for p in ports)
    except OSError:
        return 0.0


def processed_when_due(out: Reader, waiting: Held) -> None:
    """Each of the held records came out, none before it was due."""

    def theirs(records: list[Record]) -> list[Record]:
        return [r for r in records if json.loads(r.value or b"{}")["event_id"] in waiting.event_ids]

    records = theirs(out.wait_for(lambda rs: len(theirs(rs)) >= len(waiting.event_ids)))
    assert min(r.timestamp_ms for r in records) >= waiting.due_ms


def test_a_held_tier_partition_is_processed_when_due_across_rebalances(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline()
    first, second = pipeline.metrics_port, free_port()
    out = pipeline.reader(pipeline.settings.topics.payment_events)
    w1 = pipeline.start_worker("w1")
    pipeline.produce("stripe:pi_warm", stripe_capture("evt_warm", "pi_warm"), "evt_warm")
    out.wait_for(lambda rs: len(rs) >= 1)  # up: due times count from a running worker

    waiting = hold_every_partition(pipeline, "restart", first)
    w1.stop()
    pipeline.start_worker("w1")
    processed_when_due(out, waiting)

    waiting = hold_every_partition(pipeline, "join", first)
    w2 = pipeline.start_worker("w2", metrics_port=second)
    processed_when_due(out, waiting)

    waiting = hold_every_partition(pipeline, "leave", first, second)
    w2.stop()
    processed_when_due(out, waiting)
    assert pipeline.reader(pipeline.settings.topics.dlq).poll(1.0) == []
