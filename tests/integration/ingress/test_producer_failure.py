"""A producer that failed for good (librdkafka's fatal error, e.g. lost idempotence state)
never recovers: ingress answers 503 to webhooks, and /health and /ready say why, so the
orchestrator restarts the process instead of routing providers to it."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException

from common.settings import PipelineSettings
from tests.integration.ingress.conftest import app_client, stripe_body, stripe_headers


class FailedProducer:
    """What librdkafka does after a fatal error: every record is refused with `_FATAL`."""

    def produce(self, *args: Any, **kwargs: Any) -> None:
        raise KafkaException(KafkaError(KafkaError._FATAL))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


async def test_after_a_fatal_producer_error_health_and_ready_fail(
    settings: PipelineSettings,
) -> None:
    clients = app_client(settings)
    async with clients as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200
        # Fault injection: librdkafka offers no way to make a real producer fail fatally.
        clients._app.state.intake._producer._producer = FailedProducer()

        body = stripe_body()
        refused = await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
        health, ready = await client.get("/health"), await client.get("/ready")

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "broker_unavailable"
    assert (health.status_code, health.json()["error"]) == (503, "producer_failed")
    assert (ready.status_code, ready.json()["error"]) == (503, "producer_failed")
