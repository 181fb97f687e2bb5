"""Parsing a raw-webhooks record: body plus the headers ingress set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.errors import PermanentError
from ops.samples import stripe_capture
from schemas import headers as h
from schemas.providers import PayloadError, Provider
from streams.parse import parse
from streams.records import Inbound

BODY = stripe_capture("evt_1", "pi_1")


def record(headers: dict[str, str], body: bytes = BODY) -> Inbound:
    return Inbound("raw", 1, 7, 1_764_100_000_000, b"stripe:pi_1", body, headers)


def test_the_headers_give_provider_arrival_and_correlation() -> None:
    event = parse(
        record({h.PROVIDER: "stripe", h.RECEIVED_AT: "1764100001500", h.CORRELATION_ID: "c-9"})
    )
    assert (event.provider, event.event_id, event.payment_key) == (
        Provider.STRIPE,
        "evt_1",
        "stripe:pi_1",
    )
    assert event.received_at == datetime(2025, 11, 25, 19, 46, 41, 500000, tzinfo=UTC)
    assert event.correlation_id == "c-9"


def test_without_arrival_and_correlation_headers_the_record_itself_stands_in() -> None:
    event = parse(record({h.PROVIDER: "stripe", h.RECEIVED_AT: "garbled"}))
    assert event.received_at == datetime.fromtimestamp(1_764_100_000, tz=UTC)
    assert event.correlation_id == "raw/1/7"


@pytest.mark.parametrize("provider", [None, "", "adyen"])
def test_an_unknown_provider_is_permanent(provider: str | None) -> None:
    headers = {} if provider is None else {h.PROVIDER: provider}
    with pytest.raises(PermanentError) as caught:
        parse(record(headers))
    assert caught.value.reason == "provider_unknown"


def test_an_unparseable_body_is_a_payload_error() -> None:
    with pytest.raises(PayloadError) as caught:
        parse(record({h.PROVIDER: "stripe"}, b"{not json"))
    assert caught.value.reason == "payload_not_json"
