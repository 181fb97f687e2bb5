"""Synthetic Stripe webhooks as ingress writes them to raw-webhooks (body and headers), for
the worker's benchmark and tests."""

from __future__ import annotations

import json
import time
from typing import Any

from schemas import headers as h


def stripe_capture(
    event_id: str, intent: str, amount: int = 2000, created: int = 1764100000
) -> bytes:
    return stripe_event(
        event_id,
        "payment_intent.succeeded",
        created,
        {
            "id": intent,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": "usd",
            "status": "succeeded",
        },
    )


def stripe_refund(
    event_id: str, intent: str, refund_id: str, amount: int, created: int = 1764100100
) -> bytes:
    return stripe_event(
        event_id,
        "refund.created",
        created,
        {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": "usd",
            "status": "succeeded",
            "payment_intent": intent,
        },
    )


def stripe_dispute(event_id: str, intent: str, amount: int, created: int = 1764100200) -> bytes:
    return stripe_event(
        event_id,
        "charge.dispute.created",
        created,
        {
            "id": f"dp_{event_id}",
            "object": "dispute",
            "amount": amount,
            "currency": "usd",
            "status": "needs_response",
            "payment_intent": intent,
        },
    )


def raw_headers(
    event_id: str, event_type: str = "payment_intent.succeeded", provider: str = "stripe"
) -> list[tuple[str, bytes]]:
    """The headers ingress puts on a raw-webhooks record."""
    values = {
        h.PROVIDER: provider,
        h.EVENT_ID: event_id,
        h.EVENT_TYPE: event_type,
        h.RECEIVED_AT: str(int(time.time() * 1000)),
        h.CORRELATION_ID: f"corr-{event_id}",
        h.CONTENT_TYPE: "application/json",
        h.SCHEMA_VERSION: h.RAW_SCHEMA_VERSION,
    }
    return [(name, value.encode()) for name, value in values.items()]


def stripe_event(event_id: str, event_type: str, created: int, obj: dict[str, Any]) -> bytes:
    """A Stripe event envelope around `obj` (a payment intent, refund, dispute, ...)."""
    body = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
    }
    return json.dumps(body).encode()
