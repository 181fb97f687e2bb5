"""Example webhook bodies, one for every event type the pipeline handles (`schemas.mapping`),
in the providers' shapes. `examples/bodies/` holds them as files (`examples/generate.py`
writes them; a test fails when they are stale); `payments demo` builds its own with a
fresh `run` so that every demo is new to the pipeline.

The events tell a few payments' stories, listed in the order a provider would send them
(provider times one second apart), so sending them in order leaves each payment in a
sensible final state: a Stripe PaymentIntent paid, refunded in part and disputed (won),
one failed and one canceled; a PayPal order and its capture, refunded in part, reversed
in part and disputed (won), a denied capture and a voided order. `run` goes into every id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from schemas.providers import Provider, paypal_resource_kind, stripe_object_kind

Json = dict[str, Any]
#: Provider time of each list's first event; the next ones follow a second apart.
START: Final = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STRIPE_AMOUNT: Final = 5000  # USD 50.00, in cents
STRIPE_REFUNDED: Final = 1500
PAYPAL_AMOUNT: Final = "100.00"

#: (event type, which payment) in sending order.
STRIPE_EVENTS: Final = (
    ("payment_intent.created", "paid"),
    ("checkout.session.completed", "paid"),
    ("payment_intent.processing", "paid"),
    ("payment_intent.partially_funded", "paid"),
    ("charge.pending", "paid"),
    ("payment_intent.requires_action", "paid"),
    ("payment_intent.amount_capturable_updated", "paid"),
    ("charge.succeeded", "paid"),
    ("charge.captured", "paid"),
    ("payment_intent.succeeded", "paid"),
    ("checkout.session.async_payment_succeeded", "paid"),
    ("refund.created", "paid"),
    ("refund.updated", "paid"),
    ("charge.refund.updated", "paid"),
    ("charge.refunded", "paid"),
    ("refund.failed", "paid"),
    ("charge.dispute.created", "paid"),
    ("charge.dispute.funds_withdrawn", "paid"),
    ("charge.dispute.updated", "paid"),
    ("charge.dispute.closed", "paid"),
    ("charge.dispute.funds_reinstated", "paid"),
    ("payment_intent.payment_failed", "failed"),
    ("charge.failed", "failed"),
    ("checkout.session.async_payment_failed", "failed"),
    ("payment_intent.canceled", "canceled"),
    ("charge.expired", "canceled"),
    ("checkout.session.expired", "canceled"),
)
PAYPAL_EVENTS: Final = (
    ("CHECKOUT.ORDER.SAVED", "paid"),
    ("CHECKOUT.ORDER.APPROVED", "paid"),
    ("PAYMENT.CAPTURE.PENDING", "paid"),
    ("PAYMENT.CAPTURE.COMPLETED", "paid"),
    ("CHECKOUT.ORDER.COMPLETED", "paid"),
    ("PAYMENT.CAPTURE.REFUNDED", "paid"),
    ("PAYMENT.CAPTURE.REVERSED", "paid"),
    ("CUSTOMER.DISPUTE.CREATED", "paid"),
    ("CUSTOMER.DISPUTE.UPDATED", "paid"),
    ("CUSTOMER.DISPUTE.RESOLVED", "paid"),
    ("PAYMENT.CAPTURE.DENIED", "failed"),
    ("PAYMENT.CAPTURE.DECLINED", "failed"),
    ("CHECKOUT.ORDER.VOIDED", "canceled"),
)
EVENTS: Final = {Provider.STRIPE: STRIPE_EVENTS, Provider.PAYPAL: PAYPAL_EVENTS}

_INTENT_STATUS: Final = {
    "payment_intent.created": "requires_payment_method",
    "payment_intent.processing": "processing",
    "payment_intent.partially_funded": "requires_payment_method",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.amount_capturable_updated": "requires_capture",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.canceled": "canceled",
}
_CHARGE_STATUS: Final = {
    "charge.pending": "pending",
    "charge.failed": "failed",
    "charge.expired": "failed",
}
_CAPTURED_CHARGES: Final = frozenset({"charge.succeeded", "charge.captured", "charge.refunded"})
_REFUND_STATUS: Final = {"refund.created": "pending", "refund.failed": "failed"}
_DISPUTE_STATUS: Final = {
    "charge.dispute.updated": "under_review",
    "charge.dispute.closed": "won",
    "charge.dispute.funds_reinstated": "won",
}
_SESSION_STATUS: Final = {
    "checkout.session.completed": ("complete", "unpaid"),
    "checkout.session.async_payment_succeeded": ("complete", "paid"),
    "checkout.session.async_payment_failed": ("complete", "unpaid"),
    "checkout.session.expired": ("expired", "unpaid"),
}


@dataclass(frozen=True)
class Example:
    provider: Provider
    event_type: str
    body: bytes

    @property
    def file_name(self) -> str:
        """`NN-<event type>.json`, NN its place in the sending order."""
        number = [t for t, _ in EVENTS[self.provider]].index(self.event_type) + 1
        return f"{number:02d}-{self.event_type}.json"


def examples(run: str = "example") -> list[Example]:
    """Every example, Stripe's then PayPal's, each in sending order."""
    return [
        Example(provider, event_type, example_body(provider, event_type, run))
        for provider, events in EVENTS.items()
        for event_type, _ in events
    ]


def example_body(provider: Provider, event_type: str, run: str = "example") -> bytes:
    """The body of `event_type` (KeyError for a type without an example); ids carry `run`."""
    events = EVENTS[provider]
    place = [t for t, _ in events].index(event_type)
    at = START + timedelta(seconds=place)
    build = _stripe_event if provider is Provider.STRIPE else _paypal_event
    return (
        json.dumps(build(event_type, _Ids(run, events[place][1]), at), indent=2) + "\n"
    ).encode()


def payment_id(provider: Provider, story: str, run: str) -> str:
    """The payment id the events of `story` (paid, failed, canceled) are keyed on: for
    PayPal the capture's id (its orders are keyed on the order id)."""
    ids = _Ids(run, story)
    return ids.intent if provider is Provider.STRIPE else ids.capture


def write_examples(directory: Path) -> list[Path]:
    """Write every example under `directory/<provider>/`; return the paths written."""
    written = []
    for example in examples():
        path = directory / example.provider.value / example.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(example.body)
        written.append(path)
    return written


@dataclass(frozen=True)
class _Ids:
    run: str
    story: str

    def stripe(self, prefix: str, suffix: str = "") -> str:
        return f"{prefix}_{self.run}_{self.story}{suffix}"

    def paypal(self, prefix: str, suffix: str = "") -> str:
        return f"{prefix}-{self.run}-{self.story}{suffix}".upper()

    @property
    def intent(self) -> str:
        return self.stripe("pi")

    @property
    def capture(self) -> str:
        return self.paypal("CAP")

    @property
    def order(self) -> str:
        return self.paypal("ORDER")


# --- Stripe -------------------------------------------------------------------------


def _stripe_event(event_type: str, ids: _Ids, at: datetime) -> Json:
    kind = stripe_object_kind(event_type)
    build = _STRIPE_OBJECTS[kind or ""]
    return {
        "id": ids.stripe("evt", "_" + event_type.replace(".", "_")),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(at.timestamp()),
        "livemode": False,
        "type": event_type,
        "data": {"object": build(event_type, ids)},
    }


def _intent(event_type: str, ids: _Ids) -> Json:
    status = _INTENT_STATUS[event_type]
    received = STRIPE_AMOUNT if status == "succeeded" else 0
    return {"id": ids.intent, "object": "payment_intent", "amount": STRIPE_AMOUNT} | {
        "amount_received": received,
        "currency": "usd",
        "status": status,
    }


def _charge(event_type: str, ids: _Ids) -> Json:
    captured = event_type in _CAPTURED_CHARGES
    refunded = STRIPE_REFUNDED if event_type == "charge.refunded" else 0
    return {"id": ids.stripe("ch"), "object": "charge", "amount": STRIPE_AMOUNT} | {
        "amount_captured": STRIPE_AMOUNT if captured else 0,
        "amount_refunded": refunded,
        "captured": captured,
        "currency": "usd",
        "payment_intent": ids.intent,
        "status": _CHARGE_STATUS.get(event_type, "succeeded"),
    }


def _refund(event_type: str, ids: _Ids) -> Json:
    failed = event_type == "refund.failed"  # a second refund, which never went through
    return {
        "id": ids.stripe("re", "_2" if failed else "_1"),
        "object": "refund",
        "amount": 500 if failed else STRIPE_REFUNDED,
        "currency": "usd",
        "status": _REFUND_STATUS.get(event_type, "succeeded"),
        "charge": ids.stripe("ch"),
        "payment_intent": ids.intent,
    }


def _dispute(event_type: str, ids: _Ids) -> Json:
    return {"id": ids.stripe("dp"), "object": "dispute", "amount": STRIPE_AMOUNT} | {
        "currency": "usd",
        "reason": "product_not_received",
        "status": _DISPUTE_STATUS.get(event_type, "needs_response"),
        "charge": ids.stripe("ch"),
        "payment_intent": ids.intent,
    }


def _session(event_type: str, ids: _Ids) -> Json:
    status, payment_status = _SESSION_STATUS[event_type]
    return {"id": ids.stripe("cs"), "object": "checkout.session"} | {
        "amount_total": STRIPE_AMOUNT,
        "currency": "usd",
        "mode": "payment",
        "payment_intent": ids.intent,
        "payment_status": payment_status,
        "status": status,
    }


_STRIPE_OBJECTS: Final[dict[str, Callable[[str, _Ids], Json]]] = {
    "payment_intent": _intent,
    "charge": _charge,
    "refund": _refund,
    "dispute": _dispute,
    "checkout.session": _session,
}


# --- PayPal -------------------------------------------------------------------------


def _paypal_event(event_type: str, ids: _Ids, at: datetime) -> Json:
    kind = paypal_resource_kind(event_type) or ""
    return {
        "id": ids.paypal("WH", "-" + event_type.replace(".", "-")),
        "event_version": "1.0",
        "create_time": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "resource_type": kind,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": f"example {event_type}",
        "resource": _PAYPAL_RESOURCES[kind](event_type, ids),
    }


def _money(value: str = PAYPAL_AMOUNT) -> Json:
    return {"currency_code": "USD", "value": value}


def _capture(event_type: str, ids: _Ids) -> Json:
    return {
        "id": ids.capture,
        "status": event_type.rsplit(".", 1)[1],  # PENDING, COMPLETED, DENIED, DECLINED
        "amount": _money(),
        "final_capture": True,
        "supplementary_data": {"related_ids": {"order_id": ids.order}},
    }


def _paypal_refund(event_type: str, ids: _Ids) -> Json:
    # A refund of 10.00, then a reversal of 5.00: 15.00 returned in all.
    reversal = event_type == "PAYMENT.CAPTURE.REVERSED"
    up = f"https://api.sandbox.paypal.com/v2/payments/captures/{ids.capture}"
    return {
        "id": ids.paypal("REFUND", "-2" if reversal else "-1"),
        "status": "COMPLETED",
        "amount": _money("5.00" if reversal else "10.00"),
        "seller_payable_breakdown": {
            "total_refunded_amount": _money("15.00" if reversal else "10.00")
        },
        "links": [{"href": up, "rel": "up", "method": "GET"}],
    }


def _paypal_dispute(event_type: str, ids: _Ids) -> Json:
    status = {"CUSTOMER.DISPUTE.CREATED": "OPEN", "CUSTOMER.DISPUTE.UPDATED": "UNDER_REVIEW"}
    dispute: Json = {
        "dispute_id": ids.paypal("PP-D"),
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": status.get(event_type, "RESOLVED"),
        "dispute_amount": _money(),
        "disputed_transactions": [{"seller_transaction_id": ids.capture}],
    }
    if dispute["status"] == "RESOLVED":
        dispute["dispute_outcome"] = {"outcome_code": "RESOLVED_SELLER_FAVOUR"}
    return dispute


def _order(event_type: str, ids: _Ids) -> Json:
    return {
        "id": ids.order,
        "intent": "CAPTURE",
        "status": event_type.rsplit(".", 1)[1],  # SAVED, APPROVED, COMPLETED, VOIDED
        "purchase_units": [{"reference_id": "default", "amount": _money()}],
    }


_PAYPAL_RESOURCES: Final[dict[str, Callable[[str, _Ids], Json]]] = {
    "capture": _capture,
    "refund": _paypal_refund,
    "dispute": _paypal_dispute,
    "order": _order,
}
