"""Apply one normalized event to its payment's state. Pure: replaying it is safe.

The state is a handful of facts, each merged so that the order of merging does not
matter; that is what makes the state a function of the set of events seen, whatever their
order and the time between them (docs/design.md, guarantee 3):

- lifecycle and dispute status: the newest event's, ordered by provider time, then by
  progress. Stripe's timestamps have one-second resolution and same-second events arrive
  in any order, so arrival cannot break ties; progress (captured beats requires_action)
  reflects how payments move. Events equal on both carry the same status.
- captured: the largest amount reported (providers report it whole, not as increments);
  None until an event reports one. A refund or a dispute proves the charge was captured,
  so it applies at once: the status follows from it, the captured amount stays unknown.
- refunded: the larger of the per-refund sum (a refund counted once by id; a failed one
  counts 0 for good) and the largest running total a provider reported.
- amount: the newest report. currency: the first report; another one is a permanent error.

Merging an event twice changes nothing: dedupe (`streams.payment_record`) only spares the
sink a second record of a redelivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, NonNegativeInt

from schemas.events import PaymentEvent
from schemas.mapping import Effect, PaymentStatus
from streams.normalize import EventFacts, NormalizedEvent

_PROGRESS: Final = {
    status: rank
    for rank, status in enumerate(
        (
            PaymentStatus.PENDING,
            PaymentStatus.REQUIRES_ACTION,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELED,
            PaymentStatus.CAPTURED,
            PaymentStatus.DISPUTED,
            PaymentStatus.DISPUTE_WON,
            PaymentStatus.DISPUTE_LOST,
        )
    )
}
_LIFECYCLE_EFFECTS: Final = frozenset({Effect.STATUS, Effect.CAPTURE})
_DISPUTE_EFFECTS: Final = frozenset({Effect.DISPUTE})


class StatusMark(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: PaymentStatus
    at: AwareDatetime

    def key(self) -> tuple[datetime, int]:
        return self.at, _PROGRESS[self.status]


class AmountMark(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: NonNegativeInt
    at: AwareDatetime

    def key(self) -> tuple[datetime, int]:
        return self.at, self.value


class PaymentState(BaseModel):
    """One payment's merged facts; `status`, `amount` and `refunded` derive from them."""

    model_config = ConfigDict(frozen=True)

    currency: str | None = None
    lifecycle: StatusMark | None = None
    dispute: StatusMark | None = None
    amount_mark: AmountMark | None = None
    captured: NonNegativeInt | None = None
    refunds: Mapping[str, NonNegativeInt] = {}
    reported_refunded: NonNegativeInt = 0
    last_event_at: AwareDatetime
    #: The newest event by provider time (ties: the larger id), whatever arrived last.
    last_event_id: str | None = None
    version: NonNegativeInt = 0

    @property
    def amount(self) -> int | None:
        return self.amount_mark.value if self.amount_mark else None

    @property
    def refunded(self) -> int:
        return max(sum(self.refunds.values()), self.reported_refunded)

    @property
    def status(self) -> PaymentStatus:
        if self.dispute is not None:
            return self.dispute.status
        if self.refunded:
            # Until the capture is reported, a refund proves some money went back, not all.
            full = self.captured is not None and self.refunded >= self.captured
            return PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED
        if self.lifecycle is not None:
            return self.lifecycle.status
        return PaymentStatus.CAPTURED if self.captured else PaymentStatus.PENDING


@dataclass(frozen=True, slots=True)
class Applied:
    state: PaymentState
    payment_event: PaymentEvent


@dataclass(frozen=True, slots=True)
class Stale:
    """Older than what the payment reflects and changes nothing; still recorded."""

    state: PaymentState
    payment_event: PaymentEvent


@dataclass(frozen=True, slots=True)
class Rejected:
    """Can never apply: dead-letter it with `reason`."""

    reason: Literal["currency_mismatch", "refund_exceeds_captured"]
    detail: str


Outcome = Applied | Stale | Rejected


def apply_event(state: PaymentState | None, event: NormalizedEvent) -> Outcome:
    """The outcome of `event`, not seen before, on `state` (None: the payment's first
    event). Never "wait": whatever arrives first applies at once."""
    facts = event.facts
    known = state.currency if state else None
    if known and facts.currency and facts.currency != known:
        return Rejected("currency_mismatch", f"{facts.currency} on a {known} payment")
    merged = _merge(state, event)
    if merged.captured is not None and merged.refunded > merged.captured:
        return Rejected(
            "refund_exceeds_captured", f"refunds of {merged.refunded} > {merged.captured} captured"
        )
    if (
        state is not None
        and facts.occurred_at < state.last_event_at
        and _facts_of(state) == _facts_of(merged)
    ):
        return Stale(merged, _payment_event(event, state, merged, "stale"))
    return Applied(merged, _payment_event(event, state, merged, "applied"))


def _merge(state: PaymentState | None, event: NormalizedEvent) -> PaymentState:
    facts = event.facts
    base = state or PaymentState(last_event_at=facts.occurred_at)
    return PaymentState(
        currency=base.currency or facts.currency,
        lifecycle=_newer(base.lifecycle, _status_mark(facts, _LIFECYCLE_EFFECTS)),
        dispute=_newer(base.dispute, _status_mark(facts, _DISPUTE_EFFECTS)),
        amount_mark=_newer(base.amount_mark, _amount_mark(facts)),
        captured=_larger(base.captured, facts.captured),
        refunds=_with_refund(base.refunds, facts),
        reported_refunded=max(base.reported_refunded, facts.refunded_total or 0),
        **_newest_event(base, event),
        version=base.version + 1,
    )


def described_again(state: PaymentState, event: NormalizedEvent, version: int) -> Applied:
    """`event`, which `state` already reflects, described once more (a crash replay whose
    first outputs may have been lost) with the `version` it made: the same state, nothing
    merged twice. The description shows the payment as it is now."""
    described = _payment_event(event, state, state, "applied")
    return Applied(state, described.model_copy(update={"version": version}))


def _newest_event(base: PaymentState, event: NormalizedEvent) -> dict[str, object]:
    at, event_id = event.facts.occurred_at, event.event_id
    if base.last_event_id is not None and (base.last_event_at, base.last_event_id) >= (
        at,
        event_id,
    ):
        return {"last_event_at": base.last_event_at, "last_event_id": base.last_event_id}
    return {"last_event_at": at, "last_event_id": event_id}


def _larger(known: int | None, reported: int | None) -> int | None:
    return known if reported is None else max(known or 0, reported)


MarkT = TypeVar("MarkT", StatusMark, AmountMark)


def _newer(current: MarkT | None, candidate: MarkT | None) -> MarkT | None:
    if candidate is None or (current is not None and current.key() >= candidate.key()):
        return current
    return candidate


def _status_mark(facts: EventFacts, effects: frozenset[Effect]) -> StatusMark | None:
    target = facts.transition.target
    if target is None or facts.transition.effect not in effects:
        return None
    return StatusMark(status=target, at=facts.occurred_at)


def _amount_mark(facts: EventFacts) -> AmountMark | None:
    return None if facts.amount is None else AmountMark(value=facts.amount, at=facts.occurred_at)


def _with_refund(refunds: Mapping[str, int], facts: EventFacts) -> dict[str, int]:
    if facts.refund_id is None or facts.refund_amount is None:
        return dict(refunds)
    known = refunds.get(facts.refund_id)
    # A refund's amount never changes and a failed refund never succeeds later, so of two
    # reports the smaller is the truth.
    amount = facts.refund_amount if known is None else min(known, facts.refund_amount)
    return {**refunds, facts.refund_id: amount}


def _facts_of(state: PaymentState) -> dict[str, object]:
    return state.model_dump(exclude={"last_event_at", "last_event_id", "version"})


def _payment_event(
    event: NormalizedEvent,
    before: PaymentState | None,
    after: PaymentState,
    outcome: Literal["applied", "stale"],
) -> PaymentEvent:
    facts = event.facts
    return PaymentEvent(
        provider=event.provider,
        event_id=event.event_id,
        event_type=event.event_type,
        payment_id=event.payment_id,
        payment_key=event.payment_key,
        effect=facts.transition.effect,
        target_status=facts.transition.target,
        previous_status=before.status if before else None,
        status=after.status,
        outcome=outcome,
        version=after.version,
        currency=after.currency,
        amount=after.amount,
        captured_amount=after.captured,
        refunded_amount=after.refunded,
        refund_amount=facts.refund_amount,
        dispute_amount=facts.dispute_amount,
        occurred_at=facts.occurred_at,
        received_at=event.received_at,
        correlation_id=event.correlation_id,
        order_id=facts.order_id,
        charge_id=facts.charge_id,
        refund_id=facts.refund_id,
        dispute_id=facts.dispute_id,
        last_event_id=after.last_event_id,
        last_event_at=after.last_event_at,
    )
