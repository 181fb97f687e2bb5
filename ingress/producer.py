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

Self-healing: librdkafka's idempotent producer can fail for good (a fatal error), and has
been seen to deliver nothing for minutes after a broker restart. Either way the producer is
replaced by a new one (new producer id, empty queue): at once on a fatal error; and when
the broker has answered metadata requests for `stall_seconds` while the producer delivered
nothing and records sent meanwhile failed. Records the old one still held fail (503, the
provider retries); any it had already sent may be written too, and streams dedupes them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from common.kafka import broker_reachable, make_confluent_producer
from common.settings import PipelineSettings
from ingress.errors import BrokerUnavailable
from ingress.observe import PRODUCE_ERRORS, PRODUCE_SECONDS, PRODUCER_REPLACEMENTS

REPORT_GRACE_SECONDS = 1.5
POLL_INTERVAL_SECONDS = 0.1
STALL_CHECK_SECONDS = 1.0
CLOSE_FLUSH_SECONDS = 10.0

Headers = Sequence[tuple[str, bytes]]
ProducerFactory = Callable[[], Producer]
#: Blocking: True when a broker answers a metadata request.
BrokerCheck = Callable[[], bool]
#: Seconds on a monotonic scale; tests pass their own.
Clock = Callable[[], float]

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

    def __init__(
        self,
        make_producer: ProducerFactory,
        timeout: float,
        *,
        stall_seconds: float = float("inf"),
        broker_answers: BrokerCheck = lambda: False,
        clock: Clock = time.monotonic,
    ) -> None:
        self._make_producer = make_producer
        self._clock = clock
        self._producer = make_producer()
        self._wait = timeout + REPORT_GRACE_SECONDS
        self._stall_seconds = stall_seconds
        self._broker_answers = broker_answers
        self._last_delivered = self._last_failed = clock()
        self._stall_watch: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[int]] = set()
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingress-kafka-poll", daemon=True)
        self._reports: _Reports | None = None
        #: A fatal error of the producer that a new producer could not replace: nothing can
        #: be produced until the process restarts.
        self.fatal_error: KafkaError | None = None

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> DeliveryProducer:
        timeout = settings.ingress_produce_timeout_seconds
        overrides = producer_overrides(timeout)
        return cls(
            functools.partial(make_confluent_producer, settings, **overrides),
            timeout,
            stall_seconds=settings.ingress_producer_stall_seconds,
            broker_answers=functools.partial(broker_reachable, settings),
        )

    @property
    def watching_for_stall(self) -> bool:
        """True while failed sends have the producer watched for a stall."""
        return self._stall_watch is not None

    def start(self) -> None:
        """Start serving delivery reports; call it on the event loop `send` will run on."""
        self._reports = _Reports(asyncio.get_running_loop())
        self._poller.start()

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> Delivery:
        """Produce one record; return once acknowledged, else raise `BrokerUnavailable`."""
        if self._reports is None:
            raise RuntimeError("send before start")  # a wiring bug, not a broker problem
        loop = self._reports.loop
        report: asyncio.Future[Message] = loop.create_future()
        started = time.perf_counter()
        producer = self._producer
        # One timer per record instead of `asyncio.wait_for`, which adds a waiter future and
        # callbacks to every webhook.
        expiry = loop.call_later(self._wait, _expire, report)
        try:
            producer.produce(
                topic,
                value,
                key,
                headers=list(headers),
                on_delivery=functools.partial(self._reports.add, report),
            )
            message = await report
        except (BufferError, KafkaException, TimeoutError) as error:
            self._after_failure(producer, error)
            raise _unavailable(error) from error
        finally:
            expiry.cancel()
            report.cancel()  # when the sender was cancelled: a late report is dropped
        self._last_delivered = self._clock()
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
        return Delivery(message.partition() or 0, message.offset() or 0)

    async def close(self) -> int:
        """Stop polling and flush what is queued; return the number of records left."""
        self._stopping.set()
        if self._stall_watch is not None:
            self._stall_watch.cancel()
        await asyncio.to_thread(self._poller.join)
        await asyncio.gather(*self._retired)
        # flush serves the remaining delivery reports itself, settling their futures.
        left: int = await asyncio.to_thread(self._producer.flush, CLOSE_FLUSH_SECONDS)
        return left

    def _after_failure(self, producer: Producer, error: BaseException) -> None:
        if producer is not self._producer:  # failed on a producer already replaced
            return
        self._last_failed = self._clock()
        if (fatal := _fatal_error(error)) is not None:
            log.error("producer failed for good", extra={"error": str(fatal)})
            if not self._replace("fatal"):
                self.fatal_error = fatal
        elif self._stall_watch is None and self._stall_seconds < float("inf"):
            self._stall_watch = asyncio.create_task(self._watch_for_stall(producer))

    async def _watch_for_stall(self, producer: Producer) -> None:
        """Replace `producer` once the broker has answered for `stall_seconds` while it
        delivered nothing and sends started meanwhile failed; stop at its first delivery.
        While the broker is down a new producer would not do better."""
        delivered_before = self._last_delivered
        answering_since: float | None = None
        try:
            while producer is self._producer and self._last_delivered == delivered_before:
                if not await asyncio.to_thread(self._broker_answers):
                    answering_since = None
                elif answering_since is None:
                    answering_since = self._clock()
                elif self._stalled_since(answering_since):
                    self._replace("stalled")
                    return
                await asyncio.sleep(STALL_CHECK_SECONDS)
        finally:
            self._stall_watch = None

    def _stalled_since(self, answering_since: float) -> bool:
        return stalled(
            answering_since, self._last_failed, self._clock(), self._wait, self._stall_seconds
        )

    def _replace(self, reason: str) -> bool:
        """Swap in a new producer; the old one's records fail. False if none could be made."""
        old = self._producer
        try:
            self._producer = self._make_producer()
        except KafkaException:
            log.exception("could not create a new producer")
            return False
        PRODUCER_REPLACEMENTS.labels(reason).inc()
        log.error("replaced the Kafka producer", extra={"reason": reason})
        old.purge()
        # The poller serves only the new producer: flushing the old one in a thread serves
        # the purged records' reports, so their senders answer at once.
        retired = asyncio.ensure_future(asyncio.to_thread(old.flush, CLOSE_FLUSH_SECONDS))
        self._retired.add(retired)
        retired.add_done_callback(self._retired.discard)
        return True

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


def _expire(report: asyncio.Future[Message]) -> None:
    if not report.done():
        report.set_exception(TimeoutError())


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


def stalled(
    answering_since: float, last_failed: float, now: float, wait: float, stall_seconds: float
) -> bool:
    """A producer is stalled when the broker has answered for `stall_seconds` and a record
    sent after it began answering (so given its full `wait`) still failed."""
    failed_while_answering = last_failed >= answering_since + wait
    return failed_while_answering and now - answering_since >= stall_seconds


def _fatal_error(error: BaseException) -> KafkaError | None:
    detail = _kafka_error(error)
    # After a fatal error librdkafka refuses every record with `_FATAL`, and that error
    # does not carry the fatal flag itself.
    if detail is not None and (detail.fatal() or detail.code() == KafkaError._FATAL):
        return detail
    return None


def _kafka_error(error: BaseException) -> KafkaError | None:
    """The KafkaError a KafkaException carries, if any."""
    detail = error.args[0] if error.args else None
    return detail if isinstance(detail, KafkaError) else None


def _kafka_error_name(error: BaseException) -> str:
    detail = _kafka_error(error)
    return detail.name() if detail is not None else "unknown"
