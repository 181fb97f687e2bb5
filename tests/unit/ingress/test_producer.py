"""DeliveryProducer: success only on a delivery report without error; every other ending
(error report, no report in time, full local queue) is BrokerUnavailable."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from common.metrics import REGISTRY
from ingress import producer as producer_module
from ingress.errors import BrokerUnavailable
from ingress.producer import DeliveryProducer, producer_overrides, stalled


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

    def purge(self) -> None:
        self.purged = True


async def send(outcome: KafkaError | str | None) -> object:
    producer = DeliveryProducer(lambda: FakeProducer(outcome), timeout=0.01)  # type: ignore[arg-type,return-value]
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
    producer = DeliveryProducer(lambda: fake, timeout=5)  # type: ignore[arg-type,return-value]
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


class Producers:
    """A producer factory: hands out `outcomes`' producers in turn, then refuses."""

    def __init__(self, *outcomes: KafkaError | str | None) -> None:
        self.made = [FakeProducer(outcome) for outcome in outcomes]
        self.handed = 0

    def __call__(self) -> FakeProducer:
        if self.handed == len(self.made):
            raise KafkaException(KafkaError(KafkaError._INVALID_ARG))
        self.handed += 1
        return self.made[self.handed - 1]


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BrokerAnswers:
    """The broker check the stall watch calls (in a thread), counting its calls."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answers


def delivery_producer(
    producers: Producers,
    stall_seconds: float = float("inf"),
    broker: BrokerAnswers | None = None,
    clock: FakeClock | None = None,
) -> DeliveryProducer:
    return DeliveryProducer(
        producers,  # type: ignore[arg-type]
        timeout=0.01,
        stall_seconds=stall_seconds,
        broker_answers=broker or BrokerAnswers(True),
        clock=clock or FakeClock(),
    )


async def retry_for(
    producer: DeliveryProducer, broker: BrokerAnswers, clock: FakeClock, seconds: int
) -> None:
    """A provider retrying once a second for `seconds` seconds of the clock. After each
    second the stall watch, while it runs, looks twice at the broker and the clock."""
    for _ in range(seconds):
        with contextlib.suppress(BrokerUnavailable):
            await producer.send("raw-webhooks", b"k", b"v", [])
        clock.now += 1.0
        looked = broker.calls + 2
        # The watch calls the broker check from a thread, so no asyncio.Event can say when;
        # each yield gives it a turn (STALL_CHECK_SECONDS is 0).
        while producer.watching_for_stall and broker.calls < looked:  # noqa: ASYNC110
            await asyncio.sleep(0)


def replacements(reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "payments_ingress_producer_replacements_total", {"reason": reason}
        )
        or 0.0
    )


FATAL = KafkaError(KafkaError._FATAL)  # how librdkafka refuses records after a fatal error


@pytest.mark.parametrize("outcome", [FATAL, KafkaError(KafkaError._INVALID_ARG, fatal=True)])
async def test_a_fatal_error_replaces_the_producer_and_the_next_record_is_delivered(
    outcome: KafkaError,
) -> None:
    producers = Producers(outcome, None)
    producer = delivery_producer(producers)
    before = replacements("fatal")
    producer.start()
    try:
        with pytest.raises(BrokerUnavailable):
            await producer.send("raw-webhooks", b"k", b"v", [])
        delivery = await producer.send("raw-webhooks", b"k", b"v", [])
    finally:
        await producer.close()
    assert delivery.offset == 41
    assert producer.fatal_error is None
    assert getattr(producers.made[0], "purged", False)
    assert replacements("fatal") == before + 1


async def test_records_failing_on_a_replaced_producer_replace_nothing_more() -> None:
    producers = Producers(FATAL, None)  # a third producer would be refused
    producer = delivery_producer(producers)
    producer.start()
    try:
        sends = [producer.send("raw-webhooks", b"k", b"v", []) for _ in range(20)]
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
    finally:
        await producer.close()
    assert all(isinstance(outcome, BrokerUnavailable) for outcome in outcomes)
    assert (producers.handed, producer.fatal_error) == (2, None)


async def send_refused(producer: DeliveryProducer) -> None:
    """Start `producer`, send one record that it must refuse, close it."""
    producer.start()
    try:
        with pytest.raises(BrokerUnavailable):
            await producer.send("raw-webhooks", b"k", b"v", [])
    finally:
        await producer.close()


async def test_a_fatal_producer_that_cannot_be_replaced_marks_the_producer_failed() -> None:
    producer = delivery_producer(Producers(FATAL))
    await send_refused(producer)
    assert producer.fatal_error is not None


@pytest.mark.parametrize(
    ("answering_since", "last_failed", "now", "is_stalled"),
    [
        (100.0, 101.0, 110.0, True),
        (100.0, 101.0, 109.9, False),  # not answering long enough yet
        (100.0, 100.5, 110.0, False),  # the last failure began before the broker answered
    ],
)
def test_a_producer_is_stalled_when_records_fail_long_after_the_broker_answers(
    answering_since: float, last_failed: float, now: float, is_stalled: bool
) -> None:
    assert stalled(answering_since, last_failed, now, wait=1.0, stall_seconds=10.0) is is_stalled


@pytest.mark.parametrize(
    ("stall_seconds", "broker_answers", "replaced"),
    [
        (5.0, True, True),
        (5.0, False, False),  # the broker is down: a new producer would not do better
        (60.0, True, False),  # not stalled long enough
    ],
)
async def test_a_producer_that_delivers_nothing_while_the_broker_answers_is_replaced(
    monkeypatch: pytest.MonkeyPatch, stall_seconds: float, broker_answers: bool, replaced: bool
) -> None:
    monkeypatch.setattr(producer_module, "REPORT_GRACE_SECONDS", 0.0)
    monkeypatch.setattr(producer_module, "STALL_CHECK_SECONDS", 0.0)
    clock, broker = FakeClock(), BrokerAnswers(broker_answers)
    producers = Producers(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    producer = delivery_producer(producers, stall_seconds, broker, clock)
    producer.start()
    try:
        await retry_for(producer, broker, clock, seconds=15)
    finally:
        await producer.close()
    assert producers.handed == (2 if replaced else 1)
    assert producer.fatal_error is None


@pytest.mark.parametrize("outcome", [KafkaError(KafkaError._MSG_TIMED_OUT), "silent", "queue_full"])
async def test_other_errors_replace_nothing_at_first(outcome: KafkaError | str) -> None:
    producers = Producers(outcome)
    producer = delivery_producer(producers, stall_seconds=60.0)
    await send_refused(producer)
    assert (producers.handed, producer.fatal_error) == (1, None)


async def test_a_producer_that_delivers_again_after_an_outage_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(producer_module, "STALL_CHECK_SECONDS", 0.0)
    clock, broker = FakeClock(), BrokerAnswers(True)
    producers = Producers(KafkaError(KafkaError._MSG_TIMED_OUT))
    producer = delivery_producer(producers, stall_seconds=5.0, broker=broker, clock=clock)
    producer.start()
    try:
        with pytest.raises(BrokerUnavailable):
            await producer.send("raw-webhooks", b"k", b"v", [])
        producers.made[0].outcome = None  # the broker is back and takes records again
        await retry_for(producer, broker, clock, seconds=15)
    finally:
        await producer.close()
    assert producers.handed == 1
