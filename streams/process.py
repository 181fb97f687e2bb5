"""One record through the pure steps: place → parse → dedupe → apply → route.

The worker hands `step` a record and a way to read its payment's record from the table;
the returned `Step` says what to store and what to send. Nothing here does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.errors import PermanentError
from streams import dedupe, route
from streams.normalize import NormalizedEvent
from streams.parse import parse
from streams.payment_record import PaymentRecord
from streams.placement import forward
from streams.records import Inbound
from streams.retry import Failure
from streams.route import Policy, Step
from streams.state_machine import Applied, Stale, apply_event, described_again

log = logging.getLogger("streams.process")

#: `payment key → its stored record` (None: the payment has none yet)
ReadRecord = Callable[[str], PaymentRecord | None]

_EMPTY = PaymentRecord()


def step(record: Inbound, read: ReadRecord, now_ms: int, policy: Policy) -> Step:
    """What to do with `record`. A record no retry can fix goes to dlq; an unexpected error
    in the payment logic climbs the retry ladder (it may be fixed by a deploy)."""
    moved = forward(record, policy.partitions)
    if moved is not None:  # written before a partition increase: its payment moved on
        return Step("forwarded", (moved,))
    try:
        event = parse(record)
        return process(record, event, read(event.payment_key), now_ms, policy)
    except PermanentError as error:
        return route.rejected(record, error, now_ms, policy)
    except Exception as error:
        log.exception("processing failed", extra={"origin": record.origin})
        return route.retried(record, Failure.of(error), now_ms, policy)


def process(
    record: Inbound,
    event: NormalizedEvent,
    stored: PaymentRecord | None,
    now_ms: int,
    policy: Policy,
) -> Step:
    current = stored or _EMPTY
    earlier = current.seen_event(event.event_id)
    verdict = dedupe.verdict(earlier, record.origin, now_ms, policy.retention_ms)
    if verdict == "duplicate":
        return Step("duplicate")
    if verdict == "replay" and earlier is not None and current.state is not None:
        # Written again too: its first changelog record may be lost with the outputs.
        again = described_again(current.state, event, earlier.version)
        return route.resolved(record, again, now_ms, policy, (event.payment_key, current))
    outcome = apply_event(current.state, event)
    if not isinstance(outcome, Applied | Stale):
        return route.resolved(record, outcome, now_ms, policy)
    applied_now = dedupe.Seen(now_ms, record.origin, outcome.state.version)
    after = current.applied(outcome.state, event.event_id, applied_now, policy.retention_ms)
    return route.resolved(record, outcome, now_ms, policy, (event.payment_key, after))
