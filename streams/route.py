"""Step 4, route: what an event's outcome sends where, and which table entries change.

Applied and stale events go to payment-events; events that cannot apply yet climb the retry
ladder (holding their payment's key lock); the rest go to dlq. Nothing here does I/O: a
`Step` says what to write and send, the worker does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from common.errors import PermanentError
from common.settings import PipelineSettings, TopicNames
from schemas import headers as h
from schemas.events import PaymentEvent
from streams import keylock
from streams.dedupe import DedupeEntry
from streams.keylock import KeyLock, Parked
from streams.normalize import NormalizedEvent
from streams.records import Inbound, Outbound, encode_headers
from streams.retry import Failure, Ladder, hop_headers
from streams.state_machine import (
    Applied,
    Duplicate,
    NotYetApplicable,
    Outcome,
    PaymentState,
    Rejected,
    Stale,
)

StepOutcome = Literal[
    "applied", "stale", "duplicate", "parked", "queued", "dead_lettered", "forwarded"
]


class Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@dataclass(frozen=True, slots=True)
class Writes:
    """Table changes of one step. `lock` None unlocks the payment."""

    state: PaymentState | None = None
    dedupe: DedupeEntry | None = None
    lock: KeyLock | Unchanged | None = UNCHANGED


@dataclass(frozen=True, slots=True)
class Step:
    outcome: StepOutcome
    outputs: tuple[Outbound, ...] = ()
    writes: Writes = field(default_factory=Writes)


@dataclass(frozen=True, slots=True)
class Policy:
    topics: TopicNames
    ladder: Ladder
    retention_ms: int

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> Policy:
        return cls(
            topics=settings.topics,
            ladder=Ladder.from_settings(settings),
            retention_ms=round(settings.dedupe_retention_seconds * 1000),
        )


def resolved(
    record: Inbound,
    event: NormalizedEvent,
    lock: KeyLock | None,
    outcome: Outcome,
    now_ms: int,
    policy: Policy,
) -> Step:
    """The step for the state machine's `outcome` of `event`."""
    match outcome:
        case Applied() | Stale():
            return Step(
                "applied" if isinstance(outcome, Applied) else "stale",
                (payment_event_record(outcome.payment_event, policy.topics.payment_events),),
                Writes(
                    state=outcome.state,
                    dedupe=DedupeEntry(now_ms, record.origin, event.payment_key),
                    lock=released(lock, event.event_id),
                ),
            )
        case Duplicate():
            return Step("duplicate", writes=Writes(lock=released(lock, event.event_id)))
        case NotYetApplicable(reason=reason):
            return retried(record, event, lock, Failure("NotYetApplicable", reason), now_ms, policy)
        case Rejected(reason=reason, detail=detail):
            unlock = Writes(lock=released(lock, event.event_id))
            return dead_lettered(
                record, Failure("Rejected", detail), reason, now_ms, policy, unlock
            )


def retried(
    record: Inbound,
    event: NormalizedEvent,
    lock: KeyLock | None,
    failure: Failure,
    now_ms: int,
    policy: Policy,
) -> Step:
    """Park the event on the tier of its next attempt (it heads its payment's lock), or
    dead-letter it when the ladder is exhausted."""
    attempt = record.attempt + 1
    tier = policy.ladder.tier_for(attempt)
    if tier is None:
        unlock = Writes(lock=released(lock, event.event_id))
        return dead_lettered(record, failure, "retries_exhausted", now_ms, policy, unlock)
    out = _to_tier(record, tier, attempt, failure, now_ms, policy)
    return Step("parked", (out,), Writes(lock=keylock.parked(lock, candidate(record, event))))


def queued(
    record: Inbound, event: NormalizedEvent, lock: KeyLock | None, now_ms: int, policy: Policy
) -> Step:
    """Park the event behind its payment's parked head. Waiting is no failure: it keeps its
    attempt count and circles its current tier until it heads the lock."""
    head = lock.head.event_id if lock else event.event_id
    failure = Failure("KeyLocked", f"queued behind parked event {head} of its payment")
    tier = policy.ladder.waiting_tier(record.attempt)
    out = _to_tier(record, tier, record.attempt, failure, now_ms, policy)
    return Step("queued", (out,), Writes(lock=keylock.parked(lock, candidate(record, event))))


def dead_lettered(
    record: Inbound,
    failure: Failure,
    reason: str,
    now_ms: int,
    policy: Policy,
    writes: Writes = Writes(),  # frozen: one shared default is safe
) -> Step:
    headers = hop_headers(record, failure, record.attempt, now_ms, None)
    headers[h.DLQ_REASON] = reason
    out = Outbound(
        policy.topics.dlq, record.key, record.value, encode_headers(headers), record.partition
    )
    return Step("dead_lettered", (out,), writes)


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


def candidate(record: Inbound, event: NormalizedEvent) -> Parked:
    """The event as its payment's lock sees it."""
    return Parked(
        event_id=event.event_id, occurred_at=event.facts.occurred_at, origin=record.origin
    )


def released(lock: KeyLock | None, event_id: str) -> KeyLock | Unchanged | None:
    if lock is None or lock.find(event_id) is None:
        return UNCHANGED
    return keylock.released(lock, event_id)


def _to_tier(
    record: Inbound, tier: int, attempt: int, failure: Failure, now_ms: int, policy: Policy
) -> Outbound:
    due_at = now_ms + policy.ladder.delays_ms[tier]
    headers = hop_headers(record, failure, attempt, now_ms, due_at)
    # Same partition as the record: the tier is co-partitioned with the tables.
    return Outbound(
        policy.ladder.tiers[tier],
        record.key,
        record.value,
        encode_headers(headers),
        record.partition,
    )
