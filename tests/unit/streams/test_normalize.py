"""normalize(): every sample, the provider variants we read, and the permanent errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.mapping import Effect, PaymentStatus, Transition
from schemas.providers import PayloadError, Provider
from schemas.routing import routing_key
from streams.normalize import NormalizedEvent, normalize
from streams.state_machine import Applied, apply_event

SAMPLES = Path(__file__).parents[2] / "fixtures" / "samples"
RECEIVED = datetime(2025, 11, 25, 20, 0, tzinfo=UTC)
S = PaymentStatus

# sample -> (routing key, effect, target status)
EXPECTED = {
    "paypal.CUSTOMER.DISPUTE.CREATED": ("paypal:95592F0704FD43EDB", Effect.DISPUTE, S.DISPUTED),
    "paypal.PAYMENT.CAPTURE.COMPLETED": ("paypal:3911E700524D41B5B", Effect.CAPTURE, S.CAPTURED),
    "paypal.PAYMENT.CAPTURE.DENIED": ("paypal:3B0502358131447AA", Effect.STATUS, S.FAILED),
    "paypal.PAYMENT.CAPTURE.REFUNDED": ("paypal:39D712DDF08F48CB8", Effect.REFUND, None),
    "stripe.charge.dispute.created": (
        "stripe:pi_ba62ed28e6924d9cbc13d2d3",
        Effect.DISPUTE,
        S.DISPUTED,
    ),
    "stripe.charge.refunded": ("stripe:pi_e3f58e0c216140678b3d7bd0", Effect.REFUND, None),
    "stripe.payment_intent.canceled": (
        "stripe:pi_de1d8b701f3b4e8ebb83bacc",
        Effect.STATUS,
        S.CANCELED,
    ),
    "stripe.payment_intent.payment_failed": (
        "stripe:pi_20b3c1a9557e4707a2138f2b",
        Effect.STATUS,
        S.FAILED,
    ),
    "stripe.payment_intent.requires_action": (
        "stripe:pi_fd4c96d8d5094e3caeaf0021",
        Effect.STATUS,
        S.REQUIRES_ACTION,
    ),
    "stripe.payment_intent.succeeded": (
        "stripe:pi_fd4c96d8d5094e3caeaf0021",
        Effect.CAPTURE,
        S.CAPTURED,
    ),
}


def _sample(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return payload


def _provider(name: str) -> Provider:
    return Provider(name.split(".", 1)[0])


def _normalize(name: str, payload: object) -> NormalizedEvent:
    return normalize(_provider(name), payload, RECEIVED, "corr-1")


def test_every_sample_has_an_expectation() -> None:
    assert {path.stem for path in SAMPLES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_routes_and_normalizes(name: str) -> None:
    key, effect, target = EXPECTED[name]
    raw = (SAMPLES / f"{name}.json").read_bytes()
    assert routing_key(_provider(name), json.loads(raw)) == key
    event = _normalize(name, raw)
    assert (event.payment_key, event.facts.transition) == (key, Transition(effect, target))
    assert event.event_type == name.split(".", 1)[1]
    assert event.facts.occurred_at.tzinfo is not None
    assert event.facts.currency == "USD"
    assert event.correlation_id == "corr-1"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_applies_to_a_new_payment(name: str) -> None:
    # Whatever the event, it applies to a payment seen for the first time: nothing waits.
    outcome = apply_event(None, _normalize(name, _sample(name)))
    assert isinstance(outcome, Applied)
    assert outcome.state.version == 1


def test_a_refund_of_a_capture_never_seen_leaves_the_capture_unknown() -> None:
    name = "paypal.PAYMENT.CAPTURE.REFUNDED"
    outcome = apply_event(None, _normalize(name, _sample(name)))
    assert isinstance(outcome, Applied)
    state = outcome.state
    assert (state.status, state.captured, state.refunded) == (S.PARTIALLY_REFUNDED, None, 1533)
    # Stripe's charge.refunded reports its capture: the status is known at once.
    name = "stripe.charge.refunded"
    outcome = apply_event(None, _normalize(name, _sample(name)))
    assert isinstance(outcome, Applied)
    state = outcome.state
    assert (state.status, state.captured, state.refunded) == (S.PARTIALLY_REFUNDED, 2000, 1000)


def test_sample_amounts_are_minor_units() -> None:
    capture = _normalize(
        "paypal.PAYMENT.CAPTURE.COMPLETED", _sample("paypal.PAYMENT.CAPTURE.COMPLETED")
    )
    assert (capture.facts.captured, capture.facts.order_id) == (4599, "6714905C869445058")
    refund = _normalize(
        "paypal.PAYMENT.CAPTURE.REFUNDED", _sample("paypal.PAYMENT.CAPTURE.REFUNDED")
    )
    facts = refund.facts
    assert (facts.refund_id, facts.refund_amount, facts.refunded_total) == (
        "F370BD3F9D4F4715B",
        1533,
        1533,
    )
    charge = _normalize("stripe.charge.refunded", _sample("stripe.charge.refunded"))
    assert (charge.facts.captured, charge.facts.refunded_total) == (2000, 1000)


def test_unknown_provider_fields_are_ignored() -> None:
    payload = _sample("stripe.payment_intent.succeeded")
    payload["brand_new_field"] = {"nested": [1, 2]}
    payload["data"]["object"]["another_new_field"] = "x"
    assert _normalize("stripe.x", payload).facts.captured == 2000


def test_paypal_zero_decimal_and_three_decimal_currencies() -> None:
    payload = _sample("paypal.PAYMENT.CAPTURE.COMPLETED")
    payload["resource"]["amount"] = {"currency_code": "JPY", "value": "4599"}
    assert _normalize("paypal.x", payload).facts.captured == 4599
    payload["resource"]["amount"] = {"currency_code": "BHD", "value": "45.991"}
    assert _normalize("paypal.x", payload).facts.captured == 45991
    payload["resource"]["amount"] = {"currency_code": "JPY", "value": "45.99"}
    with pytest.raises(PayloadError, match="amount_invalid"):
        _normalize("paypal.x", payload)


def test_an_uncaptured_stripe_charge_is_an_authorization() -> None:
    payload = _sample("stripe.charge.refunded")
    payload["type"] = "charge.succeeded"
    payload["data"]["object"].update(captured=False, amount_captured=0, amount_refunded=0)
    facts = _normalize("stripe.x", payload).facts
    assert (facts.transition, facts.captured) == (Transition(Effect.STATUS, S.AUTHORIZED), None)


def test_only_a_reported_capture_is_a_captured_amount() -> None:
    """Zero captured on a charge means "not yet", and a status event reports no capture:
    the payment's captured amount stays unknown (None), not 0."""
    payload = _sample("stripe.charge.refunded")
    payload["data"]["object"]["amount_captured"] = 0
    assert _normalize("stripe.x", payload).facts.captured is None
    canceled = _sample("stripe.payment_intent.canceled")
    canceled["data"]["object"]["amount_received"] = 500
    assert _normalize("stripe.x", canceled).facts.captured is None
    denied = _sample("paypal.PAYMENT.CAPTURE.DENIED")
    assert _normalize("paypal.x", denied).facts.captured is None


def _stripe_refund(status: str) -> dict[str, Any]:
    payload = _sample("stripe.charge.refunded")
    payload["type"] = "refund.updated"
    payload["data"]["object"] = {
        "id": "re_1",
        "object": "refund",
        "amount": 700,
        "currency": "jpy",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "status": status,
    }
    return payload


@pytest.mark.parametrize(
    ("status", "counted"), [("succeeded", 700), ("pending", 700), ("failed", 0)]
)
def test_a_stripe_refund_counts_unless_it_failed(status: str, counted: int) -> None:
    event = _normalize("stripe.x", _stripe_refund(status))
    assert (event.payment_id, event.facts.currency) == ("pi_1", "JPY")
    assert (event.facts.refund_id, event.facts.refund_amount) == ("re_1", counted)


@pytest.mark.parametrize(
    ("status", "target"),
    [("needs_response", S.DISPUTED), ("won", S.DISPUTE_WON), ("lost", S.DISPUTE_LOST)],
)
def test_stripe_dispute_status_sets_the_target(status: str, target: PaymentStatus) -> None:
    payload = _sample("stripe.charge.dispute.created")
    payload["type"] = "charge.dispute.closed"
    payload["data"]["object"]["status"] = status
    assert _normalize("stripe.x", payload).facts.transition == Transition(Effect.DISPUTE, target)


@pytest.mark.parametrize(
    ("status", "outcome", "target"),
    [
        ("UNDER_REVIEW", None, S.DISPUTED),
        ("RESOLVED", "RESOLVED_SELLER_FAVOUR", S.DISPUTE_WON),
        ("RESOLVED", "RESOLVED_BUYER_FAVOUR", S.DISPUTE_LOST),
    ],
)
def test_paypal_dispute_outcome_sets_the_target(
    status: str, outcome: str | None, target: PaymentStatus
) -> None:
    payload = _sample("paypal.CUSTOMER.DISPUTE.CREATED")
    payload["event_type"] = "CUSTOMER.DISPUTE.RESOLVED"
    payload["resource"].update(status=status, dispute_outcome={"outcome_code": outcome})
    assert _normalize("paypal.x", payload).facts.transition == Transition(Effect.DISPUTE, target)


def test_a_paypal_order_is_keyed_by_its_id_and_records_its_amount() -> None:
    payload = _sample("paypal.PAYMENT.CAPTURE.COMPLETED")
    payload["event_type"] = "CHECKOUT.ORDER.APPROVED"
    payload["resource"] = {
        "id": "ORDER1",
        "status": "APPROVED",
        "purchase_units": [{"amount": {"currency_code": "KWD", "value": "1.5"}}],
    }
    event = _normalize("paypal.x", payload)
    assert (event.payment_key, event.facts.order_id, event.facts.amount) == (
        "paypal:ORDER1",
        "ORDER1",
        1500,
    )


def _edit(name: str, path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    payload = _sample(name)
    target: Any = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("name", "payload", "code"),
    [
        ("stripe.x", b"not json", "payload_not_json"),
        ("stripe.x", [1], "payload_not_object"),
        ("stripe.x", {"type": "charge.failed"}, "event_id_missing"),
        ("paypal.x", {"id": "WH-1"}, "event_type_missing"),
        (
            "stripe.x",
            _edit("stripe.charge.refunded", ("type",), "invoice.paid"),
            "event_type_unknown",
        ),
        (
            "paypal.x",
            _edit("paypal.PAYMENT.CAPTURE.COMPLETED", ("event_type",), "PAYMENT.SALE.COMPLETED"),
            "event_type_unknown",
        ),
        (
            "stripe.x",
            _edit("stripe.charge.refunded", ("type",), "payment_intent.succeeded"),
            "payload_invalid",
        ),
        ("stripe.x", _edit("stripe.charge.refunded", ("created",), None), "payload_invalid"),
        (
            "stripe.x",
            _edit("stripe.charge.refunded", ("data", "object", "currency"), "us"),
            "payload_invalid",
        ),
        (
            "paypal.x",
            _edit("paypal.PAYMENT.CAPTURE.COMPLETED", ("create_time",), "2025-11-25T19:46:51"),
            "payload_invalid",
        ),
        (
            "paypal.x",
            _edit("paypal.PAYMENT.CAPTURE.REFUNDED", ("resource", "links"), []),
            "payment_id_missing",
        ),
        (
            "stripe.x",
            _edit(
                "stripe.charge.dispute.created",
                ("data", "object"),
                {
                    "object": "dispute",
                    "id": "dp_1",
                    "amount": 1,
                    "currency": "usd",
                    "status": "won",
                },
            ),
            "payment_id_missing",
        ),
        (
            "stripe.x",
            _edit("stripe.charge.dispute.created", ("data", "object", "status"), "brand_new"),
            "dispute_status_unknown",
        ),
        (
            "paypal.x",
            _edit("paypal.CUSTOMER.DISPUTE.CREATED", ("resource", "status"), "RESOLVED"),
            "dispute_status_unknown",
        ),
        (
            "paypal.x",
            _edit("paypal.PAYMENT.CAPTURE.COMPLETED", ("resource", "amount", "value"), "-1.00"),
            "amount_invalid",
        ),
    ],
)
def test_bodies_we_cannot_process_are_permanent_errors(
    name: str, payload: object, code: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        _normalize(name, payload)
    assert caught.value.code == code


def test_error_details_do_not_echo_payload_values() -> None:
    payload = _edit(
        "stripe.charge.refunded", ("data", "object", "currency"), "jane.doe@example.com"
    )
    with pytest.raises(PayloadError) as caught:
        _normalize("stripe.x", payload)
    assert "jane" not in str(caught.value)


def test_a_checkout_session_without_a_payment_intent_stands_alone() -> None:
    payload = _sample("stripe.payment_intent.succeeded")
    payload["type"] = "checkout.session.completed"
    payload["data"]["object"] = {"id": "cs_1", "object": "checkout.session", "currency": None}
    event = _normalize("stripe.x", payload)
    assert (event.payment_id, event.facts.transition.effect) == (payload["id"], Effect.NOTE)
