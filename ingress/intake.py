"""The webhook intake: check, read, verify, parse, produce; in that order, and nothing else.

Each step raises the error that names the refusal (see `ingress.errors`); the app turns it
into the response. Nothing is produced unless every earlier step passed, and the answer is
a success only once the broker acknowledged the record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from common.settings import PipelineSettings
from ingress.body import check_content_type, read_body
from ingress.producer import Delivery, DeliveryProducer
from ingress.verifiers import Verifier, build_verifiers
from ingress.webhook import Webhook, parse_webhook, record_headers
from schemas.providers import Provider

logger = logging.getLogger("ingress.webhooks")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Accepted:
    webhook: Webhook
    delivery: Delivery


class Intake:
    def __init__(
        self,
        settings: PipelineSettings,
        verifiers: Mapping[Provider, Verifier],
        producer: DeliveryProducer,
        clock: Clock = time.time,
    ) -> None:
        self._topic = settings.topics.raw_webhooks
        self._max_body_bytes = settings.max_body_bytes
        self._verifiers = verifiers
        self._producer = producer
        self._clock = clock

    @property
    def producer_failed(self) -> bool:
        """True once the producer failed for good and no new one could be made: no webhook
        can be accepted any more."""
        return self._producer.fatal_error is not None

    async def receive(
        self,
        provider: Provider,
        headers: Mapping[str, str],
        body_chunks: AsyncIterator[bytes],
        correlation_id: str,
    ) -> Accepted:
        """Take one webhook; return once it is durable on raw-webhooks."""
        received_at_ms = int(self._clock() * 1000)
        content_type = check_content_type(headers.get("content-type"))
        body = await read_body(body_chunks, self._max_body_bytes, headers.get("content-length"))
        async with self._verifiers[provider].authenticated(body, headers):
            webhook = parse_webhook(provider, body)
            record = record_headers(webhook, received_at_ms, correlation_id, content_type)
            delivery = await self._producer.send(self._topic, webhook.key.encode(), body, record)
        logger.info(
            "webhook accepted",
            extra={
                "provider": provider.value,
                "event_id": webhook.event_id,
                "event_type": webhook.event_type,
                "partition": delivery.partition,
                "offset": delivery.offset,
            },
        )
        return Accepted(webhook, delivery)


async def open_intake(
    settings: PipelineSettings, stack: AsyncExitStack, clock: Clock = time.time
) -> Intake:
    """An intake whose producer and HTTP client `stack` closes (producer flushed first)."""
    http = await stack.enter_async_context(httpx.AsyncClient())
    producer = DeliveryProducer.from_settings(settings)
    producer.start()
    stack.push_async_callback(producer.close)
    return Intake(settings, build_verifiers(settings, http, clock), producer, clock)
