"""Guarantee 1: a 2xx means the broker has the record. While the broker is down ingress
answers 503 (with Retry-After) within its configured bound, and recovers by itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx

from common.kafka import header_map
from common.settings import PipelineSettings
from ops.local_kafka import LocalKafka
from schemas.headers import EVENT_ID
from tests.support.ingress import (
    app_client,
    stripe_body,
    stripe_headers,
    topic_records,
)

PRODUCE_TIMEOUT = 2.0
# librdkafka expires records about once a second, and `send` adds a grace period on top.
ANSWER_BOUND_SECONDS = PRODUCE_TIMEOUT + 3.0


async def post_webhook(client: httpx.AsyncClient, number: int) -> tuple[str, httpx.Response]:
    body = stripe_body(f"evt_outage_{number}", payment_id=f"pi_outage_{number}")
    response = await client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    return f"evt_outage_{number}", response


async def accept_three_in_a_row(
    client: httpx.AsyncClient, numbers: Iterator[int], acknowledged: set[str]
) -> None:
    """Post until three in a row are accepted (a fresh or restarted broker takes a moment
    to grant the idempotent producer its id); 503s on the way are fine, other codes not."""
    deadline = time.monotonic() + 60
    statuses: list[int] = []
    while statuses[-3:] != [200, 200, 200] and time.monotonic() < deadline:
        event_id, response = await post_webhook(client, next(numbers))
        statuses.append(response.status_code)
        assert response.status_code in (200, 503), response.text
        if response.status_code == 200:
            acknowledged.add(event_id)
    assert statuses[-3:] == [200, 200, 200]


async def test_503_while_the_broker_is_down_and_no_acknowledged_webhook_is_lost(
    own_broker: LocalKafka, ingress_settings: Callable[..., PipelineSettings]
) -> None:
    settings = ingress_settings(
        kafka_bootstrap_servers=own_broker.bootstrap,
        ingress_produce_timeout_seconds=PRODUCE_TIMEOUT,
    )
    acknowledged: set[str] = set()
    numbers = iter(range(1_000))
    async with app_client(settings) as client:
        await accept_three_in_a_row(client, numbers, acknowledged)

        await asyncio.to_thread(own_broker.stop)
        for _ in range(2):
            started = time.monotonic()
            _, response = await post_webhook(client, next(numbers))
            assert time.monotonic() - started < ANSWER_BOUND_SECONDS
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "broker_unavailable"
            assert int(response.headers["retry-after"]) > 0

        await asyncio.to_thread(own_broker.start)
        await accept_three_in_a_row(client, numbers, acknowledged)

    stored = topic_records(settings, settings.topics.raw_webhooks)
    stored_ids = {header_map(record.headers())[EVENT_ID] for record in stored}
    assert acknowledged <= stored_ids
