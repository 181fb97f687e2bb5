"""Signed webhooks become exactly one raw-webhooks record each; refused ones none at all."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from common.kafka import header_map
from common.settings import PipelineSettings
from ops.local_pki import Pki
from schemas import headers as h
from tests.support.ingress import (
    app_client,
    paypal_body,
    signed_paypal_headers,
    stripe_body,
    stripe_headers,
    topic_records,
)


def expected_partition(key: bytes, partitions: int) -> int:
    """Where aiokafka (the worker's client, Java's murmur2) would put `key`."""
    every = list(range(partitions))
    partition: int = DefaultPartitioner()(key, every, every)
    return partition


async def test_a_signed_stripe_webhook_becomes_one_record(
    client: httpx.AsyncClient, settings: PipelineSettings
) -> None:
    # Odd spacing and key order: the record must hold these bytes, not a re-serialization.
    body = b'{"type": "charge.refunded",  "id": "evt_1Q",\n "data": {"object": ' + (
        b'{"object": "charge", "id": "ch_1", "payment_intent": "pi_77"}}, "new_field": 1}'
    )
    before_ms = int(time.time() * 1000)
    response = await client.post(
        "/webhooks/stripe",
        content=body,
        headers={**stripe_headers(body), "X-Request-ID": "req-42"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "accepted",
        "provider": "stripe",
        "event_id": "evt_1Q",
        "correlation_id": "req-42",
    }
    assert response.headers["x-correlation-id"] == "req-42"
    [record] = topic_records(settings, settings.topics.raw_webhooks)
    assert record.value() == body
    assert record.key() == b"stripe:pi_77"
    assert record.partition() == expected_partition(b"stripe:pi_77", settings.topic_partitions)
    headers = header_map(record.headers())
    received_at = int(headers.pop(h.RECEIVED_AT))
    assert before_ms <= received_at <= int(time.time() * 1000)
    assert headers == {
        h.PROVIDER: "stripe",
        h.EVENT_ID: "evt_1Q",
        h.EVENT_TYPE: "charge.refunded",
        h.CORRELATION_ID: "req-42",
        h.CONTENT_TYPE: "application/json; charset=utf-8",
        h.SCHEMA_VERSION: h.RAW_SCHEMA_VERSION,
    }


async def test_a_signed_paypal_webhook_becomes_one_record(
    client: httpx.AsyncClient, settings: PipelineSettings, pki: Pki
) -> None:
    body = paypal_body("WH-77", capture_id="CAP-9")
    response = await client.post(
        "/webhooks/paypal", content=body, headers=signed_paypal_headers(pki, body)
    )

    assert response.status_code == 200, response.text
    correlation_id = response.headers["x-correlation-id"]
    assert len(correlation_id) == 32  # generated: the request carried none
    [record] = topic_records(settings, settings.topics.raw_webhooks)
    assert (record.key(), record.value()) == (b"paypal:CAP-9", body)
    assert record.partition() == expected_partition(b"paypal:CAP-9", settings.topic_partitions)
    headers = header_map(record.headers())
    assert headers[h.PROVIDER] == "paypal"
    assert headers[h.EVENT_TYPE] == "PAYMENT.CAPTURE.COMPLETED"
    assert headers[h.CORRELATION_ID] == correlation_id


async def test_a_provider_duplicate_is_produced_again(
    client: httpx.AsyncClient, settings: PipelineSettings
) -> None:
    body = stripe_body("evt_dup")
    for _ in range(2):
        response = await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
        assert response.status_code == 200
    records = topic_records(settings, settings.topics.raw_webhooks)
    assert [r.value() for r in records] == [body, body]  # dedupe is the worker's job


Request = tuple[str, bytes, dict[str, str]]


def _stripe(body: bytes, **header_overrides: str) -> Request:
    return "/webhooks/stripe", body, {**stripe_headers(body), **header_overrides}


GOOD = stripe_body("evt_good")
#: Built when the test runs: signatures expire (300 s), and a long suite outlasts them.
REJECTIONS: dict[str, tuple[int, Callable[[], Request]]] = {
    "signature_missing": (400, lambda: _stripe(GOOD, **{"Stripe-Signature": ""})),
    "signature_malformed": (400, lambda: _stripe(GOOD, **{"Stripe-Signature": "v1=abc"})),
    "signature_invalid": (
        400,
        lambda: ("/webhooks/stripe", GOOD, stripe_headers(GOOD, "whsec_other")),
    ),
    "timestamp_out_of_tolerance": (
        400,
        lambda: ("/webhooks/stripe", GOOD, stripe_headers(GOOD, age=301)),
    ),
    "unsupported_media_type": (415, lambda: _stripe(GOOD, **{"Content-Type": "text/plain"})),
    "payload_too_large": (413, lambda: _stripe(b" " * 300_000 + GOOD)),
    "payload_not_json": (400, lambda: _stripe(b'{"id": "evt_1", "type": "x"')),
    "payload_not_object": (400, lambda: _stripe(b'["evt_1"]')),
    "event_id_missing": (400, lambda: _stripe(b'{"type": "payment_intent.succeeded"}')),
    "event_type_missing": (400, lambda: _stripe(b'{"id": "evt_1"}')),
    "payload_invalid": (400, lambda: _stripe(b'{"id": "evt_\\ud800", "type": "x"}')),
}


@pytest.mark.parametrize("code", sorted(REJECTIONS))
async def test_each_refusal_has_its_code_and_produces_nothing(
    client: httpx.AsyncClient, settings: PipelineSettings, code: str
) -> None:
    status, build = REJECTIONS[code]
    path, body, headers = build()
    response = await client.post(path, content=body, headers=headers)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert topic_records(settings, settings.topics.raw_webhooks) == []


async def test_paypal_refusals_produce_nothing(
    client: httpx.AsyncClient, settings: PipelineSettings, pki: Pki
) -> None:
    body = paypal_body()
    genuine = signed_paypal_headers(pki, body, transmission_id="tx-1")
    cases = {
        "signature_missing": {"Content-Type": "application/json"},
        "signature_invalid": {
            **genuine,
            "PAYPAL-TRANSMISSION-SIG": signed_paypal_headers(pki, b"{}")["PAYPAL-TRANSMISSION-SIG"],
        },
        "cert_url_invalid": {**genuine, "PAYPAL-CERT-URL": "https://evil.example/cert.pem"},
        "signature_algorithm_unsupported": {**genuine, "PAYPAL-AUTH-ALGO": "SHA1withRSA"},
    }
    for code, headers in cases.items():
        response = await client.post("/webhooks/paypal", content=body, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert topic_records(settings, settings.topics.raw_webhooks) == []


async def test_a_replayed_paypal_transmission_is_refused_after_the_first(
    client: httpx.AsyncClient, settings: PipelineSettings, pki: Pki
) -> None:
    body = paypal_body()
    headers = signed_paypal_headers(pki, body, transmission_id="tx-replayed")
    first = await client.post("/webhooks/paypal", content=body, headers=headers)
    again = await client.post("/webhooks/paypal", content=body, headers=headers)

    assert first.status_code == 200
    assert (again.status_code, again.json()["error"]["code"]) == (409, "transmission_replayed")
    assert len(topic_records(settings, settings.topics.raw_webhooks)) == 1


async def test_a_body_over_the_limit_is_refused_while_streaming(
    client: httpx.AsyncClient, settings: PipelineSettings
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[
        bytes
    ]:  # no Content-Length: the limit must count the chunks
        nonlocal sent
        while sent < 10_000_000:
            sent += 65536
            yield b" " * 65536

    headers = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}
    response = await client.post("/webhooks/stripe", content=endless(), headers=headers)

    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert sent <= settings.max_body_bytes + 65536  # reading stopped at the limit


async def test_an_unconfigured_provider_answers_503(settings: PipelineSettings) -> None:
    unconfigured = settings.model_copy(update={"stripe_webhook_secrets": []})
    async with app_client(unconfigured) as client:
        body = stripe_body()
        response = await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(settings.ingress_retry_after_seconds)
    assert response.json()["error"]["code"] == "provider_not_configured"


async def test_metrics_count_outcomes(client: httpx.AsyncClient) -> None:
    body = stripe_body()
    await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body, "whsec_x"))
    metrics = (await client.get("/metrics")).text
    failure = 'provider="stripe",reason="signature_invalid"'
    assert f"payments_ingress_signature_failures_total{{{failure}}}" in metrics
    for name in (
        "payments_ingress_webhook_requests_total",
        "payments_ingress_webhook_request_duration_seconds_bucket",
        "payments_ingress_webhook_requests_in_flight",
        "payments_ingress_produce_duration_seconds_bucket",
    ):
        assert name in metrics
