"""Durable produce for asyncio: `send` returns only once the broker acknowledged the record.

A confluent-kafka (librdkafka) producer does the work; a background thread serves its
delivery reports and hands them to the event loop, which settles one asyncio future per
record. Reports that arrive together cost one wake-up of the loop, not one each.

Time bound: librdkafka fails a record it could not deliver within `timeout` seconds
(`message.timeout.ms`, and `request.timeout.ms` so an in-flight request cannot outlive it).
It checks for expired records about once a second, so `send` waits `timeout` plus
`REPORT_GRACE_SECONDS` for that report before it gives up on its own. Either way the
caller gets `BrokerUnavailable` and answers 503. A record whose request was already on the
wire may still be written after that: a duplicate of what the provider resends, which
streams dedupes. What can never happen is a success without the broker's ack.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from common.kafka import make_confluent_producer
from common.settings import PipelineSettings
from ingress.errors import BrokerUnavailable
from ingress.observe import PRODUCE_ERRORS, PRODUCE_SECONDS

REPORT_GRACE_SECONDS = 1.5
POLL_INTERVAL_SECONDS = 0.1
CLOSE_FLUSH_SECONDS = 10.0

Headers = Sequence[tuple[str, bytes]]

log = logging.getLogger("ingress.producer")


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    partition: int
    offset: int


def producer_overrides(timeout: float) -> dict[str, Any]:
    """librdkafka settings that bound a record's life to `timeout` seconds."""
    timeout_ms = max(1, round(timeout * 1000))
    return {"message.timeout.ms": timeout_ms, "request.timeout.ms": timeout_ms}


class DeliveryProducer:
    """Sends records and awaits their delivery reports. Use `start`, then `send`, then
    `close`; all from one event loop."""

    def __init__(self, producer: Producer, timeout: float) -> None:
        self._producer = producer
        self._wait = timeout + REPORT_GRACE_SECONDS
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingress-kafka-poll", daemon=True)
        self._reports: _Reports | None = None
        #: A fatal error of the producer (librdkafka gives up on it for good, e.g. its
        #: idempotence state is lost): nothing can be produced until the process restarts.
        self.fatal_error: KafkaError | None = None

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> DeliveryProducer:
        timeout = settings.ingress_produce_timeout_seconds
        return cls(make_confluent_producer(settings, **producer_overrides(timeout)), timeout)

    def start(self) -> None:
        """Start serving delivery reports; call it on the event loop `send` will run on."""
        self._reports = _Reports(asyncio.get_running_loop())
        self._poller.start()

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> Delivery:
        """Produce one record; return once acknowledged, else raise `BrokerUnavailable`."""
        if self._reports is None:
            raise RuntimeError("send before start")  # a wiring bug, not a broker problem
        report: asyncio.Future[Message] = self._reports.loop.create_future()
        started = time.perf_counter()
        try:
            self._producer.produce(
                topic,
                value,
                key,
                headers=list(headers),
                on_delivery=functools.partial(self._reports.add, report),
            )
            message = await asyncio.wait_for(report, self._wait)
        except (BufferError, KafkaException, TimeoutError) as error:
            self._note_fatal(error)
            raise _unavailable(error) from error
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
        return Delivery(message.partition() or 0, message.offset() or 0)

    async def close(self) -> int:
        """Stop polling and flush what is queued; return the number of records left."""
        self._stopping.set()
        await asyncio.to_thread(self._poller.join)
        # flush serves the remaining delivery reports itself, settling their futures.
        left: int = await asyncio.to_thread(self._producer.flush, CLOSE_FLUSH_SECONDS)
        return left

    def _note_fatal(self, error: BaseException) -> None:
        detail = error.args[0] if error.args else None
        # After a fatal error librdkafka refuses every record with `_FATAL`, and that
        # error does not carry the fatal flag itself.
        fatal = isinstance(detail, KafkaError) and (
            detail.fatal() or detail.code() == KafkaError._FATAL
        )
        if self.fatal_error is None and fatal:
            self.fatal_error = detail
            log.error("producer failed for good; restart the process", extra={"error": str(detail)})

    def _poll(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(POLL_INTERVAL_SECONDS)


class _Reports:
    """Delivery reports on their way from librdkafka's thread to the event loop.

    Futures may only be touched on their loop's thread, and each `call_soon_threadsafe`
    costs a wake-up (a syscall and a loop turn). So reports queue here and the first of a
    batch schedules one `_settle_all` for all that arrive before the loop gets to it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[asyncio.Future[Message], KafkaError | None, Message]] = []

    def add(
        self, report: asyncio.Future[Message], error: KafkaError | None, message: Message
    ) -> None:
        """The `on_delivery` callback; any thread."""
        with self._lock:
            self._pending.append((report, error, message))
            first = len(self._pending) == 1
        if first:
            self.loop.call_soon_threadsafe(self._settle_all)

    def _settle_all(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for report, error, message in pending:
            _settle(report, error, message)


def _settle(report: asyncio.Future[Message], error: KafkaError | None, message: Message) -> None:
    if report.done():  # the sender already gave up waiting
        return
    if error is None:
        report.set_result(message)
    else:
        report.set_exception(KafkaException(error))


def _unavailable(error: BaseException) -> BrokerUnavailable:
    if isinstance(error, TimeoutError):
        reason = "timeout"
    elif isinstance(error, BufferError):
        reason = "queue_full"
    else:
        reason = _kafka_error_name(error)
    PRODUCE_ERRORS.labels(reason).inc()
    return BrokerUnavailable(reason)


def _kafka_error_name(error: BaseException) -> str:
    detail = error.args[0] if error.args else None
    return detail.name() if isinstance(detail, KafkaError) else "unknown"
