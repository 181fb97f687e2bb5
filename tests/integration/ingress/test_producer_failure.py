"""A Kafka producer that fails for good (librdkafka's fatal error, e.g. lost idempotence
state) or delivers nothing although the broker answers is replaced by a new one: ingress
answers 503 meanwhile (the provider retries) and takes webhooks again without a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from confluent_kafka import KafkaError, KafkaException

from common.settings import PipelineSettings
from ingress.producer import DeliveryProducer
from tests.support.ingress import (
    app_client,
    stripe_body,
    stripe_headers,
    topic_records,
)


class FailedProducer:
    """What librdkafka does after a fatal error: every record is refused with `_FATAL`."""

    def produce(self, *args: Any, **kwargs: Any) -> None:
        raise KafkaException(KafkaError(KafkaError._FATAL))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0

    def purge(self) -> None:
        pass


class SilentProducer(FailedProducer):
    """Takes every record and never reports on it: a stalled producer."""

    def produce(self, *args: Any, **kwargs: Any) -> None:
        pass


def inject(client: app_client, producer: FailedProducer) -> None:
    # Fault injection: librdkafka offers no way to make a real producer fail like this.
    delivery: DeliveryProducer = client._app.state.intake._producer
    delivery._producer = producer  # type: ignore[assignment]


async def post(client: httpx.AsyncClient, event_id: str) -> httpx.Response:
    body = stripe_body(event_id)
    return await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))


async def test_a_producer_failed_for_good_is_replaced_and_webhooks_are_taken_again(
    settings: PipelineSettings,
) -> None:
    clients = app_client(settings)
    async with clients as client:
        inject(clients, FailedProducer())
        refused = await post(client, "evt_refused_while_failed")
        accepted = await post(client, "evt_after_replacement")
        health, ready = await client.get("/health"), await client.get("/ready")

    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "broker_unavailable")
    assert accepted.status_code == 200
    assert (health.status_code, ready.status_code) == (200, 200)
    records = topic_records(settings, settings.topics.raw_webhooks)
    assert [record.value() for record in records] == [stripe_body("evt_after_replacement")]


async def test_a_producer_that_delivers_nothing_while_the_broker_answers_is_replaced(
    ingress_settings: Any,
) -> None:
    settings = ingress_settings(
        ingress_produce_timeout_seconds=0.5, ingress_producer_stall_seconds=1.0
    )
    clients = app_client(settings)
    async with clients as client:
        inject(clients, SilentProducer())
        answers = []
        for _ in range(20):  # as a provider retries; each refusal takes ~2 s
            answers.append((await post(client, "evt_retried")).status_code)
            if answers[-1] == 200:
                break
            await asyncio.sleep(0.2)

    assert answers[0] == 503, answers
    assert answers[-1] == 200, answers
    records = topic_records(settings, settings.topics.raw_webhooks)
    assert [record.value() for record in records] == [stripe_body("evt_retried")]
