"""Worker metrics. Label values come from closed sets (`StepOutcome`, the source kind), so
cardinality stays bounded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from prometheus_client import Counter, Gauge, Histogram

from common.metrics import AGE_BUCKETS, REGISTRY
from common.settings import TopicNames
from schemas import headers as h
from streams.records import Outbound

Source = Literal["raw", "retry"]

EVENTS = Counter(
    "payments_worker_events",
    "Records processed, by source (raw-webhooks or a retry tier) and outcome.",
    ["source", "outcome"],
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "payments_worker_batch_duration_seconds",
    "Time to process one take of records, by source: the steps, the table's write batch and "
    "the hand-off to the producer.",
    ["source"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
INPUT_AGE_SECONDS = Histogram(
    "payments_worker_input_age_seconds",
    "From a record's timestamp (its producer's send) to the worker taking it, by source.",
    ["source"],
    buckets=AGE_BUCKETS,
    registry=REGISTRY,
)
BATCH_RECORDS = Histogram(
    "payments_worker_batch_records",
    "Records in one take, by source.",
    ["source"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500),
    registry=REGISTRY,
)
HELD_PARTITIONS = Gauge(
    "payments_worker_retry_partitions_held",
    "Retry-tier partitions paused until their head record is due.",
    registry=REGISTRY,
)
DELIVERY_FAILURES = Counter(
    "payments_worker_delivery_failures",
    "Batches the broker did not acknowledge; the worker exits so their input is re-read.",
    registry=REGISTRY,
)
RETRIES = Counter(
    "payments_worker_retries",
    "Records sent to a retry tier after a failure, by tier.",
    ["tier"],
    registry=REGISTRY,
)
RETRY_LATENESS_SECONDS = Histogram(
    "payments_worker_retry_lateness_seconds",
    "How long after its retry-due-at a tier record was processed.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "payments_worker_dead_lettered",
    "Records sent to dlq, by dlq-reason.",
    ["reason"],
    registry=REGISTRY,
)


def observe_hops(outputs: Iterable[Outbound], topics: TopicNames, prefix: str) -> None:
    """Count the outputs that go to a retry tier (labelled by its unprefixed name) or dlq."""
    for out in outputs:
        if out.topic in topics.retry:
            RETRIES.labels(out.topic.removeprefix(prefix)).inc()
        elif out.topic == topics.dlq:
            reason = dict(out.headers).get(h.DLQ_REASON, b"unknown").decode()
            DEAD_LETTERED.labels(reason).inc()
