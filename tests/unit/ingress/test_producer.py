"""DeliveryProducer: success only on a delivery report without error; every other ending
(error report, no report in time, full local queue) is BrokerUnavailable."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from ingress.errors import BrokerUnavailable
from ingress.producer import DeliveryProducer, producer_overrides

pytestmark = pytest.mark.unit


class FakeMessage:
    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return 41


class FakeProducer:
    """Reports each record from another thread, as librdkafka's poll does."""

    def __init__(self, outcome: KafkaError | str | None) -> None:
        self.outcome = outcome

    def produce(self, *args: Any, on_delivery: Callable[..., None], **kwargs: Any) -> None:
        # KafkaError refuses comparison with a str, so test the type first.
        if isinstance(self.outcome, str) and self.outcome == "queue_full":
            raise BufferError("queue full")
        if not isinstance(self.outcome, str):
            threading.Thread(target=on_delivery, args=(self.outcome, FakeMessage())).start()

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


async def send(outcome: KafkaError | str | None) -> object:
    producer = DeliveryProducer(FakeProducer(outcome), timeout=0.01)  # type: ignore[arg-type]
    producer.start()
    try:
        return await producer.send("raw-webhooks", b"k", b"v", [("provider", b"stripe")])
    finally:
        await producer.close()


async def test_an_acknowledged_record_reports_where_it_landed() -> None:
    delivery = await send(None)
    assert (delivery.partition, delivery.offset) == (3, 41)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (KafkaError(KafkaError._MSG_TIMED_OUT), "_MSG_TIMED_OUT"),
        ("silent", "timeout"),
        ("queue_full", "queue_full"),
    ],
)
async def test_anything_but_an_ack_is_broker_unavailable(
    outcome: KafkaError | str, reason: str
) -> None:
    with pytest.raises(BrokerUnavailable) as raised:
        await send(outcome)
    assert raised.value.reason == reason


def test_librdkafka_gives_up_on_a_record_within_the_timeout() -> None:
    assert producer_overrides(2.5) == {"message.timeout.ms": 2500, "request.timeout.ms": 2500}


class BurstProducer(FakeProducer):
    """Holds the delivery reports, then serves them all at once from another thread."""

    def __init__(self) -> None:
        super().__init__(None)
        self.held: list[Callable[..., None]] = []

    def produce(self, *args: Any, on_delivery: Callable[..., None], **kwargs: Any) -> None:
        self.held.append(on_delivery)

    def serve(self) -> None:
        for on_delivery in self.held:
            on_delivery(None, FakeMessage())


async def test_reports_arriving_together_settle_every_waiting_send() -> None:
    fake = BurstProducer()
    producer = DeliveryProducer(fake, timeout=5)  # type: ignore[arg-type]
    producer.start()
    try:
        sends = [
            asyncio.ensure_future(producer.send("raw-webhooks", b"k", b"v", [])) for _ in range(50)
        ]
        await asyncio.sleep(0)  # every send has produced
        threading.Thread(target=fake.serve).start()
        deliveries = await asyncio.gather(*sends)
    finally:
        await producer.close()
    assert [delivery.offset for delivery in deliveries] == [41] * 50


@pytest.mark.parametrize(
    ("outcome", "fatal"),
    [
        (KafkaError(KafkaError._FATAL), True),  # how librdkafka refuses records afterwards
        (KafkaError(KafkaError._INVALID_ARG, fatal=True), True),  # the fatal error itself
        (KafkaError(KafkaError._MSG_TIMED_OUT), False),
        ("silent", False),
    ],
)
async def test_only_a_fatal_error_marks_the_producer_failed(
    outcome: KafkaError | str, fatal: bool
) -> None:
    producer = DeliveryProducer(FakeProducer(outcome), timeout=0.01)  # type: ignore[arg-type]
    producer.start()
    try:
        with pytest.raises(BrokerUnavailable):
            await producer.send("raw-webhooks", b"k", b"v", [])
    finally:
        await producer.close()
    assert (producer.fatal_error is not None) is fatal
