"""A replay's projection: the worker's own fold over the sink's row of the payment."""

from __future__ import annotations

from datetime import UTC, datetime

from admin.projection import PaymentTotals, projected
from common.topic_scan import TopicEntry
from ops.samples import raw_headers, stripe_refund

AT = datetime(2025, 11, 25, tzinfo=UTC)


def refund(amount: int, body: bytes | None = None) -> TopicEntry:
    headers = {name: value.decode() for name, value in raw_headers("evt_r", "refund.created")}
    value = stripe_refund("evt_r", "pi_1", "re_1", amount) if body is None else body
    return TopicEntry("p-dlq", "stripe:pi_1", 1_764_100_000_000, headers, 0, 7, value)


def row(status: str, captured: int | None, refunded: int = 0) -> PaymentTotals:
    return PaymentTotals(status, "USD", 5000, captured, refunded, 3, AT)


def test_a_refund_onto_a_captured_payment_adds_to_what_was_refunded() -> None:
    assert projected(refund(1500), row("captured", 5000)) == (
        "partially_refunded (captured 5000, refunded 1500)"
    )
    assert projected(refund(1500), row("partially_refunded", 5000, 300)) == (
        "partially_refunded (captured 5000, refunded 1800)"
    )
    assert projected(refund(4700), row("partially_refunded", 5000, 300)) == (
        "refunded (captured 5000, refunded 5000)"
    )


def test_a_refund_above_the_capture_would_be_dead_lettered_again() -> None:
    assert projected(refund(1500), row("captured", 1499)) == (
        "dead-lettered again: refund_exceeds_captured"
    )


def test_a_payment_the_sink_has_not_seen_takes_the_event_alone() -> None:
    assert projected(refund(1500), None) == "partially_refunded (captured unknown, refunded 1500)"


def test_a_body_no_retry_can_fix_would_be_dead_lettered_again() -> None:
    assert projected(refund(0, b"not json"), None).startswith("dead-lettered again: ")
    assert projected(refund(0, b""), None).startswith("dead-lettered again: ")
