"""Step 1, parse: a raw-webhooks (or retry-tier) record → `NormalizedEvent`.

The body is the provider's raw bytes; who sent it and when it arrived come from the headers
ingress set. Raises `PermanentError` (dead-letter at once) for a record no retry can fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

from common.errors import PermanentError
from schemas import headers as h
from schemas.providers import Provider
from streams.normalize import NormalizedEvent, normalize
from streams.records import Inbound, int_header


def parse(record: Inbound) -> NormalizedEvent:
    """Normalize the record's body with the provider, arrival time and correlation id its
    headers carry (arrival falls back to the record's timestamp, the correlation id to the
    record's own coordinates, so that a hand-made record still traces somewhere)."""
    received_ms = int_header(record.headers, h.RECEIVED_AT) or record.timestamp_ms
    return normalize(
        provider_of(record),
        record.value,
        datetime.fromtimestamp(received_ms / 1000, tz=UTC),
        record.headers.get(h.CORRELATION_ID) or record.origin,
    )


def provider_of(record: Inbound) -> Provider:
    name = record.headers.get(h.PROVIDER, "")
    try:
        return Provider(name)
    except ValueError:
        raise PermanentError("provider_unknown", "the provider header names no provider") from None
