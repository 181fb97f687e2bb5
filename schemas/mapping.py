"""Which provider event types move a payment, and how: the transition table, as plain data.

Each supported `(provider, event_type)` maps to one `Transition`. Types absent from the
table are unsupported: the worker dead-letters them instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from schemas.providers import Provider


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    CANCELED = "canceled"
    DISPUTED = "disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


class Effect(StrEnum):
    """What an event does to a payment.

    STATUS: moves the lifecycle to `target`. CAPTURE: moves it to captured and reports the
    captured amount. REFUND: reports a refund (per refund id and/or a cumulative total).
    DISPUTE: reports the dispute's state, read from the payload. NOTE: recorded for the
    audit trail, changes nothing.
    """

    STATUS = "status"
    CAPTURE = "capture"
    REFUND = "refund"
    DISPUTE = "dispute"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Transition:
    effect: Effect
    target: PaymentStatus | None = None


def _status(target: PaymentStatus) -> Transition:
    return Transition(Effect.STATUS, target)


_CAPTURE: Final = Transition(Effect.CAPTURE, PaymentStatus.CAPTURED)
_REFUND: Final = Transition(Effect.REFUND)
_DISPUTE: Final = Transition(Effect.DISPUTE)
_NOTE: Final = Transition(Effect.NOTE)

_STRIPE: Final[dict[str, Transition]] = {
    "payment_intent.created": _status(PaymentStatus.PENDING),
    "payment_intent.processing": _status(PaymentStatus.PENDING),
    "payment_intent.partially_funded": _status(PaymentStatus.PENDING),
    "payment_intent.requires_action": _status(PaymentStatus.REQUIRES_ACTION),
    "payment_intent.amount_capturable_updated": _status(PaymentStatus.AUTHORIZED),
    "payment_intent.succeeded": _CAPTURE,
    "payment_intent.payment_failed": _status(PaymentStatus.FAILED),
    "payment_intent.canceled": _status(PaymentStatus.CANCELED),
    "charge.pending": _status(PaymentStatus.PENDING),
    # charge.succeeded also fires for an uncaptured authorization; normalize() turns
    # that case into authorized.
    "charge.succeeded": _CAPTURE,
    "charge.captured": _CAPTURE,
    "charge.failed": _status(PaymentStatus.FAILED),
    "charge.expired": _status(PaymentStatus.CANCELED),
    "charge.refunded": _REFUND,
    "charge.refund.updated": _REFUND,
    "refund.created": _REFUND,
    "refund.updated": _REFUND,
    "refund.failed": _REFUND,
    "charge.dispute.created": _DISPUTE,
    "charge.dispute.updated": _DISPUTE,
    "charge.dispute.closed": _DISPUTE,
    "charge.dispute.funds_withdrawn": _DISPUTE,
    "charge.dispute.funds_reinstated": _DISPUTE,
    # The session's PaymentIntent reports the payment itself; the session links the two.
    "checkout.session.completed": _NOTE,
    "checkout.session.async_payment_succeeded": _status(PaymentStatus.CAPTURED),
    "checkout.session.async_payment_failed": _status(PaymentStatus.FAILED),
    "checkout.session.expired": _status(PaymentStatus.CANCELED),
}

_PAYPAL: Final[dict[str, Transition]] = {
    "PAYMENT.CAPTURE.PENDING": _status(PaymentStatus.PENDING),
    "PAYMENT.CAPTURE.COMPLETED": _CAPTURE,
    "PAYMENT.CAPTURE.DENIED": _status(PaymentStatus.FAILED),
    "PAYMENT.CAPTURE.DECLINED": _status(PaymentStatus.FAILED),
    "PAYMENT.CAPTURE.REFUNDED": _REFUND,
    "PAYMENT.CAPTURE.REVERSED": _REFUND,
    "CHECKOUT.ORDER.SAVED": _status(PaymentStatus.PENDING),
    "CHECKOUT.ORDER.APPROVED": _status(PaymentStatus.AUTHORIZED),
    "CHECKOUT.ORDER.COMPLETED": _status(PaymentStatus.CAPTURED),
    "CHECKOUT.ORDER.VOIDED": _status(PaymentStatus.CANCELED),
    "CUSTOMER.DISPUTE.CREATED": _DISPUTE,
    "CUSTOMER.DISPUTE.UPDATED": _DISPUTE,
    "CUSTOMER.DISPUTE.RESOLVED": _DISPUTE,
}

TRANSITIONS: Final = MappingProxyType(
    {
        Provider.STRIPE: MappingProxyType(_STRIPE),
        Provider.PAYPAL: MappingProxyType(_PAYPAL),
    }
)


def transition_for(provider: Provider, event_type: str) -> Transition | None:
    """The table entry, or None for an unsupported event type."""
    return TRANSITIONS[provider].get(event_type)


#: Stripe `dispute.status`. The `warning_*` ones are inquiries; one that closes without
#: turning into a chargeback leaves the money with the merchant.
STRIPE_DISPUTE_STATUS: Final = MappingProxyType(
    {
        "warning_needs_response": PaymentStatus.DISPUTED,
        "warning_under_review": PaymentStatus.DISPUTED,
        "warning_closed": PaymentStatus.DISPUTE_WON,
        "needs_response": PaymentStatus.DISPUTED,
        "under_review": PaymentStatus.DISPUTED,
        "prevented": PaymentStatus.DISPUTE_WON,
        "won": PaymentStatus.DISPUTE_WON,
        "lost": PaymentStatus.DISPUTE_LOST,
    }
)

#: PayPal `dispute_outcome.outcome_code` of a RESOLVED dispute: "won" whenever the
#: merchant keeps the money (a payout from PayPal's own funds included).
PAYPAL_DISPUTE_OUTCOME: Final = MappingProxyType(
    {
        "RESOLVED_SELLER_FAVOUR": PaymentStatus.DISPUTE_WON,
        "RESOLVED_WITH_PAYOUT": PaymentStatus.DISPUTE_WON,
        "CANCELED_BY_BUYER": PaymentStatus.DISPUTE_WON,
        "DENIED": PaymentStatus.DISPUTE_WON,
        "RESOLVED_BUYER_FAVOUR": PaymentStatus.DISPUTE_LOST,
        "ACCEPTED": PaymentStatus.DISPUTE_LOST,
    }
)
