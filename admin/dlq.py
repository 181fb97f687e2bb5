"""The dlq's reusable core, for the console and `payments dlq`: which messages a filter
selects, what a replay sends and what it would do to the payment, and what a purge removes.

Selection, the replay record, the replay's effect and the purge cut are pure; `replay` and
`purge` are the thin Kafka edge.

Replay is safe to repeat: a replayed message goes back through the worker's dedupe, which
only lets through an event that was never applied (its earlier outcome was the dlq); a
second replay of it meets the id the first one left in its payment's record and is dropped
as a duplicate.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from common.masking import mask_document
from common.settings import PipelineSettings
from common.topic_scan import TopicEntry
from schemas import headers as h
from schemas.mapping import transition_for
from schemas.providers import Provider

#: Headers of the original delivery, carried onto a replay; retry and dlq headers are not.
CARRIED_HEADERS = (
    h.PROVIDER,
    h.EVENT_ID,
    h.EVENT_TYPE,
    h.RECEIVED_AT,
    h.CORRELATION_ID,
    h.CONTENT_TYPE,
    h.SCHEMA_VERSION,
)


KafkaHeaders = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class DlqFilter:
    provider: str | None = None
    event_type: str | None = None
    reason: str | None = None
    key: str | None = None
    event_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, entry: TopicEntry) -> bool:
        at = datetime.fromtimestamp(entry.timestamp_ms / 1000, UTC)
        wanted = (
            (h.PROVIDER, self.provider),
            (h.EVENT_TYPE, self.event_type),
            (h.DLQ_REASON, self.reason),
            (h.EVENT_ID, self.event_id),
        )
        return (
            all(value is None or entry.headers.get(name) == value for name, value in wanted)
            and (self.key is None or entry.key == self.key)
            and (self.since is None or at >= self.since)
            and (self.until is None or at < self.until)
        )


def select(entries: Iterable[TopicEntry], selection: DlqFilter) -> list[TopicEntry]:
    return sorted(
        (e for e in entries if selection.matches(e)), key=lambda e: (e.timestamp_ms, e.offset)
    )


def replay_target(entry: TopicEntry, settings: PipelineSettings) -> str:
    """The sink dead-letters normalized payment-events; everything else is a raw webhook."""
    topics = settings.topics
    return (
        topics.payment_events
        if entry.headers.get(h.ORIGINAL_TOPIC) == topics.payment_events
        else topics.raw_webhooks
    )


def replay_record(
    entry: TopicEntry, dlq_topic: str, replay_id: str
) -> tuple[bytes, bytes | None, KafkaHeaders]:
    """(key, value, headers) of the replay: the original delivery's headers, plus where it
    came from (`replayed-from` = dlq:partition:offset) and this run's `replay-id`."""
    headers: KafkaHeaders = [
        (name, entry.headers[name].encode()) for name in CARRIED_HEADERS if name in entry.headers
    ]
    headers += [
        (h.REPLAYED_FROM, f"{dlq_topic}:{entry.partition}:{entry.offset}".encode()),
        (h.REPLAY_ID, replay_id.encode()),
    ]
    return entry.key.encode(), entry.value, headers


def masked_body(value: bytes | None) -> str:
    """The body as indented JSON with personal data masked; a body that is not JSON is not
    shown at all (it cannot be masked field by field)."""
    try:
        body = json.loads(value or b"")
    except ValueError:
        return f"<{len(value or b'')} bytes, not JSON: not shown>"
    return json.dumps(mask_document(body), indent=2, sort_keys=True)


def replay_effect(entry: TopicEntry) -> str:
    """What the event does to its payment when replayed: its effect and target status."""
    provider, event_type = entry.headers.get(h.PROVIDER, ""), entry.headers.get(h.EVENT_TYPE, "")
    known = provider in {p.value for p in Provider}
    transition = transition_for(Provider(provider), event_type) if known else None
    if transition is None:
        return "unsupported event type (would be dead-lettered again)"
    target = f" → {transition.target.value}" if transition.target else ""
    return f"{transition.effect.value}{target}"


def replay(
    producer: Producer,
    entries: Sequence[TopicEntry],
    settings: PipelineSettings,
    rate_per_second: float,
    replay_id: str | None = None,
) -> str:
    """Produce `entries` back at most `rate_per_second`; return the replay id."""
    run_id = replay_id or uuid.uuid4().hex
    for entry, send_at in zip(entries, _schedule(rate_per_second), strict=False):
        time.sleep(max(0.0, send_at - time.monotonic()))
        key, value, headers = replay_record(entry, settings.topics.dlq, run_id)
        producer.produce(replay_target(entry, settings), key=key, value=value, headers=headers)
        producer.poll(0)
    if producer.flush(30) != 0:
        raise RuntimeError("the broker did not acknowledge every replayed message")
    return run_id


def _schedule(rate_per_second: float) -> Iterator[float]:
    start = time.monotonic()
    n = 0
    while True:
        yield start + n / rate_per_second
        n += 1


def purge_cut(entries: Iterable[TopicEntry], until_ms: int) -> dict[int, int]:
    """Per partition, the offset before which every record is older than `until_ms`.

    Kafka only drops a partition's oldest records, so a purge removes a prefix of each
    partition: it stops at the first record at or after `until_ms`, whatever follows.
    """
    cut: dict[int, int] = {}
    stopped: set[int] = set()
    for entry in sorted(entries, key=lambda e: (e.partition, e.offset)):
        if entry.partition in stopped:
            continue
        if entry.timestamp_ms < until_ms:
            cut[entry.partition] = entry.offset + 1
        else:
            stopped.add(entry.partition)
    return cut


def purged(entries: Iterable[TopicEntry], cut: dict[int, int]) -> list[TopicEntry]:
    return [e for e in entries if e.offset < cut.get(e.partition, -1)]


def purge(admin: AdminClient, topic: str, cut: dict[int, int]) -> None:
    """Delete each partition's records before its cut offset."""
    if not cut:
        return
    futures = admin.delete_records(
        [TopicPartition(topic, partition, offset) for partition, offset in cut.items()]
    )
    for future in futures.values():
        future.result()
