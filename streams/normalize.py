"""Provider webhook → `NormalizedEvent`: the one place that reads provider shapes.

Raises `PayloadError` (permanent: dead-letter at once) for a body that is not JSON, is
not an event we support, or does not carry what the state machine needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.events import to_minor_units
from schemas.mapping import (
    PAYPAL_DISPUTE_OUTCOME,
    STRIPE_DISPUTE_STATUS,
    Effect,
    PaymentStatus,
    Transition,
    transition_for,
)
from schemas.providers import (
    PayloadError,
    PayPalCaptureIn,
    PayPalDisputeIn,
    PayPalEventIn,
    PayPalMoneyIn,
    PayPalOrderIn,
    PayPalRefundIn,
    Provider,
    StripeChargeIn,
    StripeCheckoutSessionIn,
    StripeDisputeIn,
    StripeEventIn,
    StripePaymentIntentIn,
    StripeRefundIn,
    paypal_resource_kind,
)
from schemas.routing import event_identity, load_payload, payment_id, payment_key

_FAILED_REFUND_STATUSES: Final = frozenset({"failed", "canceled", "cancelled"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFacts:
    """What the provider says about the payment. Amounts in minor units of `currency`.

    `captured` and `refunded_total` are running totals as the provider reports them;
    `refund_amount` is one refund's amount (0 once that refund failed), counted per
    `refund_id`.
    """

    transition: Transition
    occurred_at: datetime
    currency: str | None = None
    amount: int | None = None
    captured: int | None = None
    refunded_total: int | None = None
    refund_id: str | None = None
    refund_amount: int | None = None
    dispute_id: str | None = None
    dispute_amount: int | None = None
    order_id: str | None = None
    charge_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalizedEvent:
    """One webhook event: who sent it, which payment it belongs to, and what it says."""

    provider: Provider
    event_id: str
    event_type: str
    payment_id: str
    received_at: datetime
    correlation_id: str
    facts: EventFacts

    @property
    def payment_key(self) -> str:
        return payment_key(self.provider, self.payment_id)


def normalize(
    provider: Provider, payload: object, received_at: datetime, correlation_id: str
) -> NormalizedEvent:
    """`payload` is the raw body (bytes) or its decoded JSON."""
    body = load_payload(payload) if isinstance(payload, bytes) else payload
    event_id, event_type = event_identity(provider, body)
    transition = transition_for(provider, event_type)
    if transition is None:
        raise PayloadError("event_type_unknown", f"{provider} {event_type} is not supported")
    payment = payment_id(provider, body)
    # Only an event that moves nothing may stand alone; anything else would never meet
    # the rest of its payment.
    if payment is None and transition.effect is not Effect.NOTE:
        raise PayloadError("payment_id_missing", f"{event_type} does not name its payment")
    if provider is Provider.STRIPE:
        facts = _stripe_facts(body, transition)
    else:
        facts = _paypal_facts(body, event_type, transition)
    return NormalizedEvent(
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        payment_id=payment or event_id,
        received_at=received_at,
        correlation_id=correlation_id,
        facts=facts,
    )


ModelT = TypeVar("ModelT", bound=BaseModel)


def _parse(model: type[ModelT], body: object) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # Locations and messages only: the input values may be personal data.
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        )
        raise PayloadError("payload_invalid", problems) from exc


# --- Stripe: amounts are already integer minor units -------------------------------


def _stripe_facts(body: object, transition: Transition) -> EventFacts:
    event = _parse(StripeEventIn, body)
    at = event.created
    match event.data.object:
        case StripePaymentIntentIn() as intent:
            return _stripe_intent(intent, transition, at)
        case StripeChargeIn() as charge:
            return _stripe_charge(charge, transition, at)
        case StripeRefundIn() as refund:
            return _stripe_refund(refund, transition, at)
        case StripeDisputeIn() as dispute:
            return _stripe_dispute(dispute, at)
        case StripeCheckoutSessionIn() as session:
            return EventFacts(
                transition=transition,
                occurred_at=at,
                currency=session.currency,
                amount=session.amount_total,
            )


def _stripe_intent(
    intent: StripePaymentIntentIn, transition: Transition, at: datetime
) -> EventFacts:
    return EventFacts(
        transition=transition,
        occurred_at=at,
        currency=intent.currency,
        amount=intent.amount,
        captured=intent.amount_received if transition.effect is Effect.CAPTURE else None,
    )


def _stripe_charge(charge: StripeChargeIn, transition: Transition, at: datetime) -> EventFacts:
    if transition.effect is Effect.CAPTURE and charge.captured is False:
        transition = Transition(Effect.STATUS, PaymentStatus.AUTHORIZED)
    # A charge reports its running totals; zero captured means "not yet", not a fact.
    reports_totals = transition.effect in (Effect.CAPTURE, Effect.REFUND)
    return EventFacts(
        transition=transition,
        occurred_at=at,
        currency=charge.currency,
        amount=charge.amount,
        captured=(charge.amount_captured or None) if reports_totals else None,
        refunded_total=charge.amount_refunded if transition.effect is Effect.REFUND else None,
        charge_id=charge.id,
    )


def _stripe_refund(refund: StripeRefundIn, transition: Transition, at: datetime) -> EventFacts:
    failed = (refund.status or "").lower() in _FAILED_REFUND_STATUSES
    return EventFacts(
        transition=transition,
        occurred_at=at,
        currency=refund.currency,
        refund_id=refund.id,
        refund_amount=0 if failed else refund.amount,
        charge_id=refund.charge,
    )


def _stripe_dispute(dispute: StripeDisputeIn, at: datetime) -> EventFacts:
    return EventFacts(
        transition=_dispute_transition(STRIPE_DISPUTE_STATUS.get(dispute.status), dispute.status),
        occurred_at=at,
        currency=dispute.currency,
        dispute_id=dispute.id,
        dispute_amount=dispute.amount,
        charge_id=dispute.charge,
    )


# --- PayPal: amounts are decimal strings --------------------------------------------


def _paypal_facts(body: object, event_type: str, transition: Transition) -> EventFacts:
    match paypal_resource_kind(event_type):
        case "capture":
            capture = _parse(PayPalEventIn[PayPalCaptureIn], body)
            return _paypal_capture(capture.resource, transition, capture.create_time)
        case "refund":
            refund = _parse(PayPalEventIn[PayPalRefundIn], body)
            return _paypal_refund(refund.resource, transition, refund.create_time)
        case "dispute":
            dispute = _parse(PayPalEventIn[PayPalDisputeIn], body)
            return _paypal_dispute(dispute.resource, dispute.create_time)
        case "order":
            order = _parse(PayPalEventIn[PayPalOrderIn], body)
            return _paypal_order(order.resource, transition, order.create_time)
        case None:
            raise PayloadError("event_type_unknown", f"paypal {event_type} has no known resource")


def _minor(money: PayPalMoneyIn | None) -> int | None:
    return None if money is None else to_minor_units(money.value, money.currency_code)


def _paypal_capture(capture: PayPalCaptureIn, transition: Transition, at: datetime) -> EventFacts:
    amount = _minor(capture.amount)
    return EventFacts(
        transition=transition,
        occurred_at=at,
        currency=capture.amount.currency_code,
        amount=amount,
        captured=amount if transition.effect is Effect.CAPTURE else None,
        order_id=capture.order_id,
    )


def _paypal_refund(refund: PayPalRefundIn, transition: Transition, at: datetime) -> EventFacts:
    currency = refund.amount.currency_code
    total = refund.total_refunded
    if total is not None and total.currency_code != currency:
        raise PayloadError("payload_invalid", "total_refunded_amount is in another currency")
    failed = (refund.status or "").lower() in _FAILED_REFUND_STATUSES
    return EventFacts(
        transition=transition,
        occurred_at=at,
        currency=currency,
        refunded_total=_minor(total),
        refund_id=refund.id,
        refund_amount=0 if failed else _minor(refund.amount),
    )


def _paypal_dispute(dispute: PayPalDisputeIn, at: datetime) -> EventFacts:
    outcome = dispute.dispute_outcome.outcome_code if dispute.dispute_outcome else None
    if dispute.status == "RESOLVED":
        target = PAYPAL_DISPUTE_OUTCOME.get(outcome or "")
    else:
        target = PaymentStatus.DISPUTED
    money = dispute.dispute_amount
    return EventFacts(
        transition=_dispute_transition(target, f"{dispute.status}/{outcome}"),
        occurred_at=at,
        currency=money.currency_code if money else None,
        dispute_id=dispute.dispute_id,
        dispute_amount=_minor(money),
    )


def _paypal_order(order: PayPalOrderIn, transition: Transition, at: datetime) -> EventFacts:
    # An order with several purchase units pays through several captures, each keyed on
    # its own; only a single unit's amount is the payment's amount.
    unit_amount = order.purchase_units[0].amount if len(order.purchase_units) == 1 else None
    return EventFacts(
        transition=transition,
        occurred_at=at,
        currency=unit_amount.currency_code if unit_amount else None,
        amount=_minor(unit_amount),
        order_id=order.id,
    )


def _dispute_transition(target: PaymentStatus | None, reported: str) -> Transition:
    if target is None:
        raise PayloadError("dispute_status_unknown", f"dispute status {reported} is not mapped")
    return Transition(Effect.DISPUTE, target)
