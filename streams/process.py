"""One record through the pure steps: parse → dedupe → key lock → apply → route.

The worker reads the three table entries the event needs into a `View`, calls `process`,
then writes and sends what the returned `Step` says.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams import dedupe, keylock, route
from streams.apply import apply
from streams.dedupe import DedupeEntry
from streams.keylock import KeyLock
from streams.normalize import NormalizedEvent
from streams.records import Inbound
from streams.route import Policy, Step, Writes
from streams.state_machine import PaymentState


@dataclass(frozen=True, slots=True)
class View:
    """The table entries of one event: its dedupe entry, its payment's lock and state."""

    dedupe: DedupeEntry | None
    lock: KeyLock | None
    state: PaymentState | None


def process(
    record: Inbound, event: NormalizedEvent, view: View, now_ms: int, policy: Policy
) -> Step:
    seen = dedupe.verdict(view.dedupe, record.origin, now_ms, policy.retention_ms)
    if seen == "duplicate":
        return Step("duplicate", writes=Writes(lock=route.released(view.lock, event.event_id)))
    from_retry = record.topic in policy.ladder.tiers
    match keylock.verdict(view.lock, route.candidate(record, event), from_retry=from_retry):
        case "drop":
            return Step("duplicate")
        case "queue":
            return route.queued(record, event, view.lock, now_ms, policy)
        case "proceed":
            outcome = apply(view.state, event, replay=seen == "replay")
            return route.resolved(record, event, view.lock, outcome, now_ms, policy)
