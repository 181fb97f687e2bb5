"""`payments bench admin`: how fast the admin process answers its pages and API with a
loaded database and dlq (default 100,000 events, 1,000 dlq messages).

Everything is scratch: a database created (and dropped) on DATABASE_URL's server, topics
with a prefix of their own (deleted). The events go in by COPY, the dlq messages through a
producer; then `payments admin` runs as its own process, a client signs in as ops do and
times each page, one request at a time, after a warm-up.
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Column, MetaData, Table, insert

from common.kafka import make_confluent_producer
from common.settings import PipelineSettings
from ops.bench.sink import scratch_pipeline
from ops.processes import free_port, spawn, terminate_group
from schemas import headers as h
from schemas.events import PaymentEvent
from schemas.mapping import Effect, PaymentStatus
from schemas.providers import Provider
from sinks.database import make_engine, with_driver
from sinks.migrate import upgrade
from sinks.rows import batch_rows
from sinks.store import copy_rows
from sinks.tables import payments, webhook_events

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS_PER_PAYMENT = 4
#: What the events are spread over, so that filters select some and not all.
TYPES = {
    Provider.STRIPE: ("payment_intent.succeeded", "charge.refunded", "charge.dispute.created"),
    Provider.PAYPAL: ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.REFUNDED"),
}
STATUSES = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
REASONS = ("retries_exhausted", "currency_mismatch", "refund_exceeds_captured", "unparseable")
LIMIT_MS = 200.0
START_SECONDS = 60.0


@dataclass(frozen=True)
class PageTiming:
    name: str
    path: str
    milliseconds: list[float]

    def percentile(self, share: float) -> float:
        ordered = sorted(self.milliseconds)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class BenchResult:
    events: int
    dlq: int
    requests: int
    pages: list[PageTiming]

    @property
    def slow(self) -> list[str]:
        return [page.name for page in self.pages if page.percentile(0.95) >= LIMIT_MS]

    def report(self) -> str:
        lines = [
            f"admin pages with {self.events:,} events and {self.dlq:,} dlq messages, "
            f"{self.requests} sequential requests each after a warm-up (ms):",
            f"{'page':<28}{'p50':>8}{'p95':>8}{'max':>8}",
        ]
        for page in self.pages:
            p50, p95 = statistics.median(page.milliseconds), page.percentile(0.95)
            lines.append(f"{page.name:<28}{p50:>8.1f}{p95:>8.1f}{max(page.milliseconds):>8.1f}")
        verdict = f"every p95 under {LIMIT_MS:.0f} ms" if not self.slow else f"slow: {self.slow}"
        return "\n".join([*lines, verdict])


def bench(settings: PipelineSettings, events: int, dlq: int, requests: int) -> BenchResult:
    if with_driver(settings.database_url).get_backend_name() != "postgresql":
        raise SystemExit("payments bench admin needs DATABASE_URL to name a PostgreSQL server")
    run_id = uuid.uuid4().hex[:10]
    with scratch_pipeline(settings, run_id, settings.sink_batch_size) as scratch:
        upgrade(scratch.database_url)
        loaded = _load_events(scratch, events, run_id)
        _load_dlq(scratch, loaded, dlq)
        with _admin_process(scratch) as (url, token), _signed_in(url, token, dlq) as client:
            listed = re.search(r"/console/dlq/\d+/\d+", client.get("/console/dlq").text)
            if listed is None:
                raise RuntimeError("the dlq page lists no message")
            pages = [
                _time(client, name, path, requests)
                for name, path in _pages(loaded, listed.group(0))
            ]
    return BenchResult(events, dlq, requests, pages)


def synthetic_events(count: int, run_id: str) -> list[PaymentEvent]:
    """`count` events over `count / EVENTS_PER_PAYMENT` payments of both providers."""
    made = []
    for n in range(count):
        provider = Provider.STRIPE if n % 3 else Provider.PAYPAL
        payment = f"pay_{run_id}_{n // EVENTS_PER_PAYMENT}"
        at = EPOCH + timedelta(seconds=n)
        made.append(
            PaymentEvent(
                provider=provider,
                event_id=f"evt_{run_id}_{n}",
                event_type=TYPES[provider][n % len(TYPES[provider])],
                payment_id=payment,
                payment_key=f"{provider.value}:{payment}",
                effect=Effect.CAPTURE,
                status=STATUSES[n % len(STATUSES)],
                outcome="applied",
                version=n % EVENTS_PER_PAYMENT + 1,
                currency="EUR",
                amount=1000,
                captured_amount=1000,
                refunded_amount=0,
                occurred_at=at,
                received_at=at,
                correlation_id=f"corr-{n}",
                charge_id=f"ch_{payment}",
            )
        )
    return made


def _load_events(settings: PipelineSettings, count: int, run_id: str) -> list[PaymentEvent]:
    events = synthetic_events(count, run_id)
    rows = batch_rows(events, EPOCH)
    stage = Table(
        webhook_events.name,
        MetaData(),
        *(Column(name, webhook_events.c[name].type) for name in rows.webhook_events[0]),
    )
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            copy_rows(connection, stage, rows.webhook_events)
            connection.execute(insert(payments), rows.payments)
    finally:
        engine.dispose()
    return events


def _load_dlq(settings: PipelineSettings, events: Sequence[PaymentEvent], count: int) -> None:
    producer = make_confluent_producer(settings, **{"linger.ms": 20})
    step = max(1, len(events) // count)
    for n in range(count):
        event = events[(n * step) % len(events)]
        headers = {
            h.PROVIDER: event.provider.value,
            h.EVENT_ID: f"{event.event_id}_dead",
            h.EVENT_TYPE: event.event_type,
            h.RECEIVED_AT: str(int(event.received_at.timestamp() * 1000)),
            h.DLQ_REASON: REASONS[n % len(REASONS)],
            h.ERROR_CLASS: "Rejected",
            h.ERROR_MESSAGE: "synthetic",
        }
        body = f'{{"id": "{event.event_id}_dead", "type": "{event.event_type}"}}'
        producer.produce(
            settings.topics.dlq,
            key=event.payment_key.encode(),
            value=body.encode(),
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
        producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("the broker did not acknowledge every dlq message")


@contextmanager
def _admin_process(settings: PipelineSettings) -> Iterator[tuple[str, str]]:
    """`payments admin` on the scratch database and topics; its URL and token."""
    port, token = free_port(), f"bench:{secrets.token_hex(16)}"
    url = f"http://127.0.0.1:{port}"
    environment = os.environ | {
        "DATABASE_URL": settings.database_url,
        "TOPIC_PREFIX": settings.topic_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ADMIN_TOKENS": token,
        "ADMIN_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # The overview scrapes one /metrics: the admin process's own.
        "METRICS_URLS": f"admin={url}/metrics",
    }
    process = spawn([sys.executable, "-m", "ops.cli", "admin"], env=environment)
    try:
        yield url, token
    finally:
        terminate_group(process.pid, 10.0, process)


@contextmanager
def _signed_in(url: str, token: str, dlq: int) -> Iterator[httpx.Client]:
    """A client with a console session, once the admin process has read the whole dlq."""
    with httpx.Client(base_url=url, timeout=30) as client:
        deadline = time.monotonic() + START_SECONDS
        while not _dlq_read(client, token, dlq):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the admin process did not show {dlq} dlq messages at {url}")
            time.sleep(0.5)
        form = client.get("/console/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        if csrf is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        client.post("/console/sign-in", data={"token": token, "csrf": csrf.group(1)})
        yield client


def _dlq_read(client: httpx.Client, token: str, dlq: int) -> bool:
    try:
        answer = client.get("/admin/dlq", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json()["count"] == dlq


def _pages(events: Sequence[PaymentEvent], message: str) -> list[tuple[str, str]]:
    """Each page, with filters that select some rows, none, one; `message`: a dlq
    message's page."""
    middle = events[len(events) // 2]
    later = f"{EPOCH + timedelta(days=2):%Y-%m-%dT%H:%M}"
    window = f"since={middle.received_at:%Y-%m-%dT%H:%M}&until={later}"
    tomorrow = f"{datetime.now(UTC) + timedelta(days=1):%Y-%m-%dT%H:%M}"
    payment = f"{middle.provider.value}/{middle.payment_id}"
    return [
        ("overview", "/console/"),
        ("events", "/console/events"),
        ("events by status", "/console/events?status=refunded"),
        ("events by type", "/console/events?provider=paypal&type=PAYMENT.CAPTURE.REFUNDED"),
        ("events none match", "/console/events?status=dispute_lost"),
        ("events by time", f"/console/events?{window}"),
        ("events oldest page", "/console/events?cursor=60"),
        ("search event id", f"/console/events?q={middle.event_id}"),
        ("search payment id", f"/console/events?q={middle.payment_id}"),
        ("payment", f"/console/payments/{payment}"),
        ("dlq", "/console/dlq"),
        ("dlq filtered", "/console/dlq?reason=currency_mismatch&provider=stripe"),
        ("dlq last page", "/console/dlq?page=20"),
        ("dlq message", message),
        ("replay preview (filter)", "/console/dlq/replay?reason=retries_exhausted"),
        ("purge preview (all)", f"/console/dlq/purge?before={tomorrow}"),
        ("audit", "/console/audit"),
    ]


def _time(client: httpx.Client, name: str, path: str, requests: int) -> PageTiming:
    for _ in range(3):
        _get(client, path)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        _get(client, path)
        timings.append((time.perf_counter() - started) * 1000)
    return PageTiming(name, path, timings)


def _get(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code}")
