"""What ingress makes of a verified body: its identity, its Kafka key and record headers.

Pure: the body is decoded only to read the event id, type and routing key; the record's
value is always the raw bytes as received.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import headers as h
from schemas.providers import PayloadError, Provider
from schemas.routing import event_identity, load_payload, routing_key


@dataclass(frozen=True)
class Webhook:
    """One verified webhook, ready to produce."""

    provider: Provider
    event_id: str
    event_type: str
    key: str
    body: bytes


def parse_webhook(provider: Provider, body: bytes) -> Webhook:
    """Raise `PayloadError` unless `body` is a JSON object with an event id and type."""
    payload = load_payload(body)
    event_id, event_type = event_identity(provider, payload)
    key = routing_key(provider, payload)
    for value in (event_id, event_type, key):
        _utf8(value)
    return Webhook(provider, event_id, event_type, key, body)


def record_headers(
    webhook: Webhook, received_at_ms: int, correlation_id: str, content_type: str
) -> list[tuple[str, bytes]]:
    """The raw-webhooks headers of docs/design.md, as Kafka wants them."""
    values = {
        h.PROVIDER: webhook.provider.value,
        h.EVENT_ID: webhook.event_id,
        h.EVENT_TYPE: webhook.event_type,
        h.RECEIVED_AT: str(received_at_ms),
        h.CORRELATION_ID: correlation_id,
        h.CONTENT_TYPE: content_type,
        h.SCHEMA_VERSION: h.RAW_SCHEMA_VERSION,
    }
    return [(name, value.encode()) for name, value in values.items()]


def _utf8(value: str) -> bytes:
    # JSON escapes can spell lone surrogates ("\ud800"), which no UTF-8 header or key holds.
    try:
        return value.encode()
    except UnicodeEncodeError:
        raise PayloadError("payload_invalid", "ids must be valid Unicode text") from None
