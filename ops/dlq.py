"""`payments dlq list|show|replay|purge`: what ops do with dead-lettered messages.

Selection (`DlqFilter`, `select`) and the replay record (`replay_record`) are pure; reading
and writing the topics are thin adapters around them.

Replay is safe to repeat: a replayed message goes back through the worker's dedupe, which
only lets through an event that was never applied (its earlier outcome was the dlq); a
second replay of it meets the first one's dedupe entry and is dropped as a duplicate.
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


def describe(entry: TopicEntry) -> str:
    """One line for `list`: where it is, what it is, why it is here."""
    at = datetime.fromtimestamp(entry.timestamp_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    get = entry.headers.get
    return (
        f"{entry.partition}:{entry.offset}  {at}  {get(h.PROVIDER, '?')}  "
        f"{get(h.EVENT_TYPE, '?')}  {get(h.EVENT_ID, '?')}  key={entry.key}  "
        f"reason={get(h.DLQ_REASON, '?')}"
    )


def show(entry: TopicEntry) -> str:
    """Headers and the PII-masked body, for `show`."""
    lines = [describe(entry), "headers:"]
    lines += [f"  {name}: {value}" for name, value in sorted(entry.headers.items())]
    lines.append("body (personal data masked):")
    try:
        body = json.loads(entry.value or b"")
    except ValueError:
        lines.append(f"  <{len(entry.value or b'')} bytes, not JSON: not shown>")
    else:
        lines.append(json.dumps(mask_document(body), indent=2, sort_keys=True))
    return "\n".join(lines)


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


def dry_run_line(entry: TopicEntry, current_status: str | None) -> str:
    """What replaying would do to the payment: its status now and the event's effect."""
    provider, event_type = entry.headers.get(h.PROVIDER, ""), entry.headers.get(h.EVENT_TYPE, "")
    known = provider in {p.value for p in Provider}
    transition = transition_for(Provider(provider), event_type) if known else None
    effect = (
        "unsupported event type (would be dead-lettered again)"
        if transition is None
        else f"{transition.effect.value}"
        + (f" → {transition.target.value}" if transition.target else "")
    )
    now = current_status or "unknown"
    return f"would replay {describe(entry)}\n    payment now: {now}; event: {effect}"


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


def audit_line(entry: TopicEntry, purged_at: datetime) -> str:
    """What the purge audit file keeps of a removed message: everything but the body."""
    record = {
        "purged_at": purged_at.isoformat(),
        "partition": entry.partition,
        "offset": entry.offset,
        "timestamp_ms": entry.timestamp_ms,
        "key": entry.key,
        "headers": entry.headers,
    }
    return json.dumps(record, sort_keys=True) + "\n"


def purge(admin: AdminClient, topic: str, cut: dict[int, int]) -> None:
    """Delete each partition's records before its cut offset."""
    if not cut:
        return
    futures = admin.delete_records(
        [TopicPartition(topic, partition, offset) for partition, offset in cut.items()]
    )
    for future in futures.values():
        future.result()
