"""Ingress against the real broker: settings with Stripe and PayPal configured offline (a
throwaway CA, a pre-seeded certificate cache), signed webhook bodies, an app client with
its lifespan running, and the records a topic holds."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from common.kafka import make_admin
from common.settings import PipelineSettings
from ingress.app import create_app
from ingress.paypal_certs import cache_file_name
from ingress.stripe_signature import sign_stripe_payload
from ops.local_pki import Pki, paypal_headers

STRIPE_SECRET = "whsec_integration"


PAYPAL_WEBHOOK_ID = "WH-INTEGRATION-ID"


CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-integration"


def providers_configured(pki: Pki, directory: Path) -> dict[str, Any]:
    """Settings for both providers: the Stripe secret, and PayPal verified offline (`pki`'s
    root trusted, its signing certificate pre-seeded in the cache for CERT_URL)."""
    trust, cache = directory / "trust", directory / "cert-cache"
    for path in (trust, cache):
        path.mkdir(exist_ok=True)
    (trust / "root.pem").write_bytes(pki.root_pem())
    (cache / cache_file_name(CERT_URL)).write_bytes(pki.chain_pem())
    return {
        "stripe_webhook_secrets": STRIPE_SECRET,
        "paypal_webhook_id": PAYPAL_WEBHOOK_ID,
        "paypal_cert_dir": trust,
        "paypal_cert_cache_dir": cache,
    }


class app_client:
    """An httpx client on a fresh app whose lifespan runs for the block."""

    def __init__(self, settings: PipelineSettings) -> None:
        self._app = create_app(settings)
        self._lifespan = self._app.router.lifespan_context(self._app)
        transport = httpx.ASGITransport(app=self._app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://ingress")

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


def stripe_body(event_id: str = "", payment_id: str = "pi_3Nabc", **extra: Any) -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": payment_id, "object": "payment_intent", "amount": 1099}},
        **extra,
    }
    return json.dumps(event).encode()


def paypal_body(event_id: str = "", capture_id: str = "5O190127TN364715T") -> bytes:
    event = {
        "id": event_id or f"WH-{uuid.uuid4().hex[:16]}",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {"id": capture_id, "status": "COMPLETED"},
    }
    return json.dumps(event).encode()


def stripe_headers(body: bytes, secret: str = STRIPE_SECRET, age: int = 0) -> dict[str, str]:
    signature = sign_stripe_payload(body, secret, int(time.time()) - age)
    return {"Stripe-Signature": signature, "Content-Type": "application/json; charset=utf-8"}


def signed_paypal_headers(pki: Pki, body: bytes, transmission_id: str = "") -> dict[str, str]:
    headers = paypal_headers(
        pki.leaf_key,
        body,
        PAYPAL_WEBHOOK_ID,
        transmission_id or str(uuid.uuid4()),
        datetime.now(UTC),
        CERT_URL,
    )
    return {**headers, "Content-Type": "application/json"}


def topic_records(settings: PipelineSettings, topic: str) -> list[Message]:
    """Every record now on `topic`, read from the start of each partition."""
    admin = make_admin(settings)
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        return _read_to_end(consumer, topic, list(partitions))
    finally:
        consumer.close()


def _read_to_end(consumer: Consumer, topic: str, partitions: list[int]) -> list[Message]:
    ends = {p: _high_watermark(consumer, TopicPartition(topic, p)) for p in partitions}
    pending = {p for p, end in ends.items() if end > 0}
    consumer.assign([TopicPartition(topic, p, 0) for p in pending])
    records: list[Message] = []
    deadline = time.monotonic() + 20
    while pending and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=500, timeout=0.5):
            assert message.error() is None, message.error()
            records.append(message)
            partition, offset = message.partition(), message.offset()
            if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                pending.discard(partition)
    assert not pending, f"partitions not read to their end: {pending}"
    return records


def _high_watermark(consumer: Consumer, partition: TopicPartition) -> int:
    # A topic created moments ago may not have elected its leaders yet.
    deadline = time.monotonic() + 10
    while True:
        try:
            return int(consumer.get_watermark_offsets(partition, timeout=5)[1])
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
