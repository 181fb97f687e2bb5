"""What replaying a dead-lettered webhook would make of its payment (pure).

The worker folds the event into the payment's state (`streams.state_machine`); the admin
process has the sink's `payments` row instead, which holds the state's facts as totals: its
status, currency, amount, captured and refunded amounts. The row is read back into a state
with those totals and the event folded into it, exactly as the worker would fold it. What
the row does not keep (each refund's own id, the provider time of each fact) is taken from
its totals and its last event's time: the refunds so far count as one, and an event older
than the payment's last one is projected as the worker would fold it into that newest
state.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import PermanentError
from common.topic_scan import TopicEntry
from schemas.mapping import PaymentStatus
from streams.parse import parse
from streams.records import Inbound
from streams.state_machine import (
    AmountMark,
    Applied,
    PaymentState,
    Rejected,
    Stale,
    StatusMark,
    apply_event,
)

_DISPUTES = frozenset(
    {PaymentStatus.DISPUTED, PaymentStatus.DISPUTE_WON, PaymentStatus.DISPUTE_LOST}
)
_REFUNDS = frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})


@dataclass(frozen=True, slots=True)
class PaymentTotals:
    """The part of a `payments` row a projection reads."""

    status: str
    currency: str | None
    amount: int | None
    captured_amount: int | None
    refunded_amount: int
    version: int
    last_event_at: object  # an aware datetime, as the database returns it


def projected(entry: TopicEntry, row: PaymentTotals | None) -> str:
    """One line: the payment's status and amounts after the replay, or why it would be
    dead-lettered again."""
    if entry.value is None:
        return "unknown (the message has no body)"
    record = Inbound(
        entry.topic, entry.partition, entry.offset, entry.timestamp_ms,
        entry.key.encode(), entry.value, entry.headers,
    )  # fmt: skip
    try:
        event = parse(record)
    except PermanentError as error:
        return f"dead-lettered again: {error.reason}"
    match apply_event(None if row is None else state_of(row), event):
        case Applied(state=after) | Stale(state=after):
            captured = "unknown" if after.captured is None else after.captured
            return f"{after.status.value} (captured {captured}, refunded {after.refunded})"
        case Rejected(reason=reason):
            return f"dead-lettered again: {reason}"


def state_of(row: PaymentTotals) -> PaymentState:
    """The state whose totals are the row's."""
    status = PaymentStatus(row.status)
    at = row.last_event_at
    lifecycle = PaymentStatus.CAPTURED if status in _REFUNDS else status
    return PaymentState.model_validate(
        {
            "currency": row.currency,
            "lifecycle": None if status in _DISPUTES else StatusMark(status=lifecycle, at=at),
            "dispute": StatusMark(status=status, at=at) if status in _DISPUTES else None,
            "amount_mark": None if row.amount is None else AmountMark(value=row.amount, at=at),
            "captured": row.captured_amount,
            "refunds": {"": row.refunded_amount} if row.refunded_amount else {},
            "last_event_at": at,
            "version": row.version,
        }
    )
