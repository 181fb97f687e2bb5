"""payment-events records as the worker produces them, for the sink's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import PaymentEvent

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def payment_event(
    event_id: str = "evt_1", payment_id: str = "pi_1", version: int = 1, **changes: Any
) -> PaymentEvent:
    """A captured Stripe payment at `version`; its times advance with the version."""
    values: dict[str, Any] = {
        "provider": "stripe",
        "event_id": event_id,
        "event_type": "payment_intent.succeeded",
        "payment_id": payment_id,
        "payment_key": f"stripe:{payment_id}",
        "effect": "capture",
        "target_status": "captured",
        "status": "captured",
        "outcome": "applied",
        "version": version,
        "currency": "EUR",
        "amount": 1099,
        "captured_amount": 1099,
        "refunded_amount": 0,
        "occurred_at": T0 + timedelta(seconds=version),
        "received_at": T0 + timedelta(seconds=version, milliseconds=500),
        "correlation_id": f"corr-{event_id}",
    }
    return PaymentEvent(**{**values, **changes})


@dataclass(frozen=True)
class FakeRecord:
    """A consumed record (the fields `sinks.records.KafkaRecord` names)."""

    value: bytes | None
    offset: int = 0
    partition: int = 0
    topic: str = "payment-events"
    key: bytes | None = b"stripe:pi_1"
    headers: tuple[tuple[str, bytes], ...] = field(default=(("correlation-id", b"corr-1"),))
    timestamp: int = 0


def record_of(event: PaymentEvent, offset: int = 0, partition: int = 0) -> FakeRecord:
    return FakeRecord(event.model_dump_json().encode(), offset, partition)
