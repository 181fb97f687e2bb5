"""Step 4, route: what an event's outcome sends where, and what its payment's record becomes.

Applied and stale events go to payment-events; a failure climbs the retry ladder; what can
never apply goes to dlq. Nothing here does I/O: a `Step` says what to store and send, the
worker does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.errors import PermanentError
from common.settings import PipelineSettings, TopicNames
from schemas import headers as h
from schemas.events import PaymentEvent
from streams.payment_record import PaymentRecord
from streams.records import Inbound, Outbound, encode_headers
from streams.retry import Failure, Ladder, hop_headers
from streams.state_machine import Applied, Outcome, Rejected, Stale

StepOutcome = Literal["applied", "stale", "duplicate", "retried", "dead_lettered", "forwarded"]


@dataclass(frozen=True, slots=True)
class Step:
    outcome: StepOutcome
    outputs: tuple[Outbound, ...] = ()
    #: the payment key and its new record; None leaves the table as it is
    write: tuple[str, PaymentRecord] | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    topics: TopicNames
    ladder: Ladder
    retention_ms: int
    partitions: int

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> Policy:
        return cls(
            topics=settings.topics,
            ladder=Ladder.from_settings(settings),
            retention_ms=round(settings.dedupe_retention_seconds * 1000),
            partitions=settings.topic_partitions,
        )


def resolved(
    record: Inbound,
    outcome: Outcome,
    now_ms: int,
    policy: Policy,
    write: tuple[str, PaymentRecord] | None = None,
) -> Step:
    """The step for the state machine's `outcome` of the record's event."""
    match outcome:
        case Applied() | Stale():
            return Step(
                "applied" if isinstance(outcome, Applied) else "stale",
                (payment_event_record(outcome.payment_event, policy.topics.payment_events),),
                write,
            )
        case Rejected(reason=reason, detail=detail):
            return dead_lettered(record, Failure("Rejected", detail), reason, now_ms, policy)


def retried(record: Inbound, failure: Failure, now_ms: int, policy: Policy) -> Step:
    """Send the record to the tier of its next attempt, or to dlq once the ladder is
    exhausted."""
    attempt = record.attempt + 1
    tier = policy.ladder.tier_for(attempt)
    if tier is None:
        return dead_lettered(record, failure, "retries_exhausted", now_ms, policy)
    due_at = now_ms + policy.ladder.delays_ms[tier]
    headers = hop_headers(record, failure, attempt, now_ms, due_at)
    # Same partition as the record: the tier is co-partitioned with the table.
    out = Outbound(
        policy.ladder.tiers[tier],
        record.key,
        record.value,
        encode_headers(headers),
        record.partition,
    )
    return Step("retried", (out,))


def dead_lettered(
    record: Inbound, failure: Failure, reason: str, now_ms: int, policy: Policy
) -> Step:
    headers = hop_headers(record, failure, record.attempt, now_ms, None)
    headers[h.DLQ_REASON] = reason
    out = Outbound(
        policy.topics.dlq, record.key, record.value, encode_headers(headers), record.partition
    )
    return Step("dead_lettered", (out,))


def rejected(record: Inbound, error: PermanentError, now_ms: int, policy: Policy) -> Step:
    """A record no retry can fix (unparseable, unknown provider or schema): dlq now."""
    return dead_lettered(record, Failure.of(error), error.reason, now_ms, policy)


def payment_event_record(event: PaymentEvent, topic: str) -> Outbound:
    headers = {
        h.PROVIDER: event.provider.value,
        h.EVENT_ID: event.event_id,
        h.EVENT_TYPE: event.event_type,
        h.CORRELATION_ID: event.correlation_id,
        h.CONTENT_TYPE: "application/json",
        h.SCHEMA_VERSION: str(event.schema_version),
    }
    return Outbound(
        topic, event.payment_key.encode(), event.model_dump_json().encode(), encode_headers(headers)
    )
