"""Identity, key and record headers of a verified body."""

import pytest

from ingress.webhook import Webhook, parse_webhook, record_headers
from schemas.providers import PayloadError, Provider


def test_parse_reads_identity_and_key_and_keeps_the_raw_bytes() -> None:
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": ' + (
        b'{"object": "payment_intent", "id": "pi_9"}}, "unknown_field": [1]}'
    )
    assert parse_webhook(Provider.STRIPE, body) == Webhook(
        Provider.STRIPE, "evt_1", "payment_intent.succeeded", "stripe:pi_9", body
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "payload_not_json"),
        (b"[]", "payload_not_object"),
        (b'{"type": "x"}', "event_id_missing"),
        (b'{"id": "evt_1"}', "event_type_missing"),
        (b'{"id": "evt_\\udc00", "type": "x"}', "payload_invalid"),
    ],
)
def test_bodies_that_are_not_webhooks_are_refused(body: bytes, code: str) -> None:
    with pytest.raises(PayloadError) as raised:
        parse_webhook(Provider.STRIPE, body)
    assert raised.value.code == code


def test_record_headers_follow_the_design() -> None:
    webhook = Webhook(Provider.PAYPAL, "WH-1", "PAYMENT.CAPTURE.COMPLETED", "paypal:C1", b"{}")
    assert record_headers(webhook, 1_700_000_000_123, "corr-1", "application/json") == [
        ("provider", b"paypal"),
        ("event-id", b"WH-1"),
        ("event-type", b"PAYMENT.CAPTURE.COMPLETED"),
        ("received-at", b"1700000000123"),
        ("correlation-id", b"corr-1"),
        ("content-type", b"application/json"),
        ("schema-version", b"1"),
    ]
