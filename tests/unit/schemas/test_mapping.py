"""The transition table, stated once more as the contract it implements."""

from __future__ import annotations

import pytest

from schemas.mapping import (
    PAYPAL_DISPUTE_OUTCOME,
    STRIPE_DISPUTE_STATUS,
    TRANSITIONS,
    Effect,
    PaymentStatus,
    Transition,
    transition_for,
)
from schemas.providers import Provider, paypal_resource_kind, stripe_object_kind

S = PaymentStatus
STATUS, CAPTURE, REFUND, DISPUTE, NOTE = (
    Effect.STATUS,
    Effect.CAPTURE,
    Effect.REFUND,
    Effect.DISPUTE,
    Effect.NOTE,
)

EXPECTED: dict[Provider, dict[str, tuple[Effect, PaymentStatus | None]]] = {
    Provider.STRIPE: {
        "payment_intent.created": (STATUS, S.PENDING),
        "payment_intent.processing": (STATUS, S.PENDING),
        "payment_intent.partially_funded": (STATUS, S.PENDING),
        "payment_intent.requires_action": (STATUS, S.REQUIRES_ACTION),
        "payment_intent.amount_capturable_updated": (STATUS, S.AUTHORIZED),
        "payment_intent.succeeded": (CAPTURE, S.CAPTURED),
        "payment_intent.payment_failed": (STATUS, S.FAILED),
        "payment_intent.canceled": (STATUS, S.CANCELED),
        "charge.pending": (STATUS, S.PENDING),
        "charge.succeeded": (CAPTURE, S.CAPTURED),
        "charge.captured": (CAPTURE, S.CAPTURED),
        "charge.failed": (STATUS, S.FAILED),
        "charge.expired": (STATUS, S.CANCELED),
        "charge.refunded": (REFUND, None),
        "charge.refund.updated": (REFUND, None),
        "refund.created": (REFUND, None),
        "refund.updated": (REFUND, None),
        "refund.failed": (REFUND, None),
        "charge.dispute.created": (DISPUTE, None),
        "charge.dispute.updated": (DISPUTE, None),
        "charge.dispute.closed": (DISPUTE, None),
        "charge.dispute.funds_withdrawn": (DISPUTE, None),
        "charge.dispute.funds_reinstated": (DISPUTE, None),
        "checkout.session.completed": (NOTE, None),
        "checkout.session.async_payment_succeeded": (STATUS, S.CAPTURED),
        "checkout.session.async_payment_failed": (STATUS, S.FAILED),
        "checkout.session.expired": (STATUS, S.CANCELED),
    },
    Provider.PAYPAL: {
        "PAYMENT.CAPTURE.PENDING": (STATUS, S.PENDING),
        "PAYMENT.CAPTURE.COMPLETED": (CAPTURE, S.CAPTURED),
        "PAYMENT.CAPTURE.DENIED": (STATUS, S.FAILED),
        "PAYMENT.CAPTURE.DECLINED": (STATUS, S.FAILED),
        "PAYMENT.CAPTURE.REFUNDED": (REFUND, None),
        "PAYMENT.CAPTURE.REVERSED": (REFUND, None),
        "CHECKOUT.ORDER.SAVED": (STATUS, S.PENDING),
        "CHECKOUT.ORDER.APPROVED": (STATUS, S.AUTHORIZED),
        "CHECKOUT.ORDER.COMPLETED": (STATUS, S.CAPTURED),
        "CHECKOUT.ORDER.VOIDED": (STATUS, S.CANCELED),
        "CUSTOMER.DISPUTE.CREATED": (DISPUTE, None),
        "CUSTOMER.DISPUTE.UPDATED": (DISPUTE, None),
        "CUSTOMER.DISPUTE.RESOLVED": (DISPUTE, None),
    },
}

ENTRIES = [
    (provider, event_type, effect, target)
    for provider, table in EXPECTED.items()
    for event_type, (effect, target) in table.items()
]


@pytest.mark.parametrize(("provider", "event_type", "effect", "target"), ENTRIES)
def test_every_event_type_maps_to_its_transition(
    provider: Provider, event_type: str, effect: Effect, target: PaymentStatus | None
) -> None:
    assert transition_for(provider, event_type) == Transition(effect, target)


@pytest.mark.parametrize("provider", list(Provider))
def test_the_table_has_nothing_the_contract_does_not_state(provider: Provider) -> None:
    assert set(TRANSITIONS[provider]) == set(EXPECTED[provider])


@pytest.mark.parametrize(("provider", "event_type"), [entry[:2] for entry in ENTRIES])
def test_every_mapped_type_carries_an_object_we_read(provider: Provider, event_type: str) -> None:
    kind = stripe_object_kind(event_type) if provider is Provider.STRIPE else None
    kind = kind or paypal_resource_kind(event_type)
    assert kind is not None


@pytest.mark.parametrize("event_type", ["payment_intent.created ", "PAYMENT.SALE.COMPLETED", ""])
def test_unmapped_types_have_no_transition(event_type: str) -> None:
    assert transition_for(Provider.STRIPE, event_type) is None
    assert transition_for(Provider.PAYPAL, event_type) is None


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[Provider.STRIPE]["charge.failed"] = Transition(NOTE)  # type: ignore[index]


def test_dispute_states_map_onto_the_dispute_statuses() -> None:
    dispute_statuses = {S.DISPUTED, S.DISPUTE_WON, S.DISPUTE_LOST}
    assert set(STRIPE_DISPUTE_STATUS.values()) == dispute_statuses
    assert set(PAYPAL_DISPUTE_OUTCOME.values()) == {S.DISPUTE_WON, S.DISPUTE_LOST}
    assert STRIPE_DISPUTE_STATUS["won"] is S.DISPUTE_WON
    assert STRIPE_DISPUTE_STATUS["lost"] is S.DISPUTE_LOST
    assert PAYPAL_DISPUTE_OUTCOME["RESOLVED_BUYER_FAVOUR"] is S.DISPUTE_LOST


def test_statuses_are_the_ones_in_design_md() -> None:
    assert [status.value for status in PaymentStatus] == [
        "pending",
        "requires_action",
        "authorized",
        "captured",
        "partially_refunded",
        "refunded",
        "failed",
        "canceled",
        "disputed",
        "dispute_won",
        "dispute_lost",
    ]
