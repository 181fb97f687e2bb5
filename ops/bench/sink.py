"""`payments bench sink`: how fast the sink drains pre-loaded payment-events into PostgreSQL,
next to a bare COPY of the same rows into an unindexed table, in the same run.

Everything is scratch: a database created (and dropped) on DATABASE_URL's server and
topics with a prefix of their own (deleted). The sink's figure is end to end: Kafka fetch,
JSON decoding, one transaction per batch writing webhook_events, payment_transitions and
the payments upsert, then the offset commit. Progress is read from the sink's own counter
of written events (polling the table would cost the server a scan per poll), and the rows
are counted once at the end. CPU per event: this process (the sink) and, when the server
runs on this machine, PostgreSQL's server and backends.

With production durability by default: the scratch database commits synchronously and
the run refuses a server with fsync or full_page_writes off, unless told to measure
without durability; the report says which settings the server reported.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import Column, Engine, MetaData, Table, func, make_url, select, text

from common.kafka import make_admin, make_confluent_producer
from common.settings import PipelineSettings
from common.topics import ADMIN_TIMEOUT_SECONDS, create_topics, pipeline_topic_specs
from ops.bench.probes import Components, listening_pid
from ops.local_postgres import Durability, create_database, drop_database, set_durability
from schemas.events import PaymentEvent
from sinks.database import make_engine, with_driver
from sinks.main import running_sink
from sinks.metrics import DEAD_LETTERED
from sinks.migrate import upgrade
from sinks.rows import event_row
from sinks.store import copy_rows
from sinks.tables import webhook_events

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
POLL_SECONDS = 0.05


class SinkStalled(Exception):
    """The sink's count of written events can no longer reach the events pre-loaded."""


@dataclass(frozen=True)
class Drain:
    """From the first written batch to the last: events, seconds, CPU seconds of the sink's
    process and of PostgreSQL (None: the server is not on this machine)."""

    events: int
    seconds: float
    sink_cpu: float
    database_cpu: float | None

    def per_event(self, cpu_seconds: float | None) -> str:
        return "n/a" if cpu_seconds is None else f"{cpu_seconds / self.events * 1e6:,.0f} µs"


@dataclass(frozen=True)
class BenchResult:
    events: int
    batch_size: int
    drain: Drain
    copy_rows_per_second: float
    durability: Durability

    @property
    def sink_rows_per_second(self) -> float:
        return self.drain.events / self.drain.seconds

    def report(self) -> str:
        drain = self.drain
        return (
            f"{self.durability.report()}\n"
            f"sink: {self.sink_rows_per_second:,.0f} payment-events/s over {self.events:,}, "
            f"in batches of at most {self.batch_size:,}\n"
            f"each event: a webhook_events row, a payment_transitions row, a payments upsert\n"
            f"CPU per event: sink {drain.per_event(drain.sink_cpu)}, PostgreSQL "
            f"{drain.per_event(drain.database_cpu)}\n"
            f"bare COPY of the same webhook_events rows into an unindexed table: "
            f"{self.copy_rows_per_second:,.0f} rows/s\n"
            f"sink / COPY: {self.sink_rows_per_second / self.copy_rows_per_second:.2f}"
        )


def synthetic_events(count: int, per_payment: int = 4, prefix: str = "bench") -> list[PaymentEvent]:
    """`count` applied events, `per_payment` successive versions of each payment."""
    return [
        PaymentEvent(
            provider="stripe",
            event_id=f"evt_{prefix}_{n}",
            event_type="payment_intent.succeeded",
            payment_id=f"pi_{prefix}_{n // per_payment}",
            payment_key=f"stripe:pi_{prefix}_{n // per_payment}",
            effect="capture",
            status="captured",
            outcome="applied",
            version=n % per_payment + 1,
            currency="EUR",
            amount=1000 + n,
            captured_amount=1000 + n,
            refunded_amount=0,
            occurred_at=EPOCH + timedelta(seconds=n),
            received_at=EPOCH + timedelta(seconds=n),
            correlation_id=f"corr-{n}",
        )
        for n in range(count)
    ]


def bench(
    settings: PipelineSettings, count: int, batch_size: int, *, durable: bool = True
) -> BenchResult:
    if with_driver(settings.database_url).get_backend_name() != "postgresql":
        raise SystemExit("payments bench sink needs DATABASE_URL to name a PostgreSQL server")
    run_id = uuid.uuid4().hex[:10]
    events = synthetic_events(count, prefix=run_id)
    with scratch_pipeline(settings, run_id, batch_size) as scratch:
        name = str(make_url(scratch.database_url).database)
        durability = set_durability(settings.database_url, name, durable)
        _preload(scratch, events)
        upgrade(scratch.database_url)
        engine = make_engine(scratch.database_url)
        try:
            try:
                drain = asyncio.run(_drain(scratch, engine, count))
            except SinkStalled as error:
                raise SystemExit(f"payments bench sink: {error}") from None
            if (written := _written(engine)) != count:
                raise SystemExit(f"payments bench sink: {written:,} rows for {count:,} events")
            copy_rate = _bare_copy(engine, events)
        finally:
            engine.dispose()
    return BenchResult(count, batch_size, drain, copy_rate, durability)


@contextmanager
def scratch_pipeline(
    settings: PipelineSettings, run_id: str, batch_size: int
) -> Iterator[PipelineSettings]:
    name = f"payments_bench_{run_id}"
    scratch = settings.model_copy(
        update={
            "database_url": create_database(settings.database_url, name),
            "topic_prefix": f"bench-{run_id}-",
            "sink_group_id": f"bench-{run_id}",
            "sink_batch_size": batch_size,
        }
    )
    admin = make_admin(scratch)
    try:
        create_topics(admin, pipeline_topic_specs(scratch))
        yield scratch
    finally:
        admin.delete_topics(list(scratch.topics.all()), request_timeout=ADMIN_TIMEOUT_SECONDS)
        drop_database(settings.database_url, name)


def _preload(settings: PipelineSettings, events: list[PaymentEvent]) -> None:
    producer = make_confluent_producer(settings, **{"linger.ms": 20})
    for event in events:
        producer.produce(
            settings.topics.payment_events,
            key=event.payment_key.encode(),
            value=event.model_dump_json().encode(),
        )
        producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("the broker did not acknowledge every pre-loaded event")


async def _drain(settings: PipelineSettings, engine: Engine, count: int) -> Drain:
    """From the first written batch to the last one: joining the consumer group takes
    seconds that say nothing about the sink's speed."""
    server = Components({}, None, listening_pid(make_url(settings.database_url).port or 5432))
    stop = asyncio.Event()
    async with running_sink(settings) as sink:
        counted = _events_written()
        task = asyncio.create_task(sink.run(stop))
        first = await _written_reaching(counted + 1, task) - counted
        started, cpu, database = time.perf_counter(), time.process_time(), _cpu(server)
        await _written_reaching(counted + count, task)
        elapsed = time.perf_counter() - started
        sink_cpu, database_cpu = time.process_time() - cpu, _cpu(server)
        stop.set()
        await task
    if database is not None and database_cpu is not None:
        database_cpu -= database
    return Drain(count - first, elapsed, sink_cpu, database_cpu)


def _cpu(server: Components) -> float | None:
    return server.cpu_seconds().get("postgresql")


def _events_written() -> int:
    return int(REGISTRY.get_sample_value("payments_sink_events_written_total") or 0)


async def _written_reaching(at_least: int, sink: asyncio.Task[None]) -> int:
    """Fails when the sink stops or dead-letters: its count would never get there."""
    dead_letters = _dead_lettered()
    while True:
        if (written := _events_written()) >= at_least:
            return written
        if sink.done():
            sink.result()  # its error, if it failed
            raise SinkStalled("the sink stopped before writing every event")
        if _dead_lettered() > dead_letters:
            raise SinkStalled("the sink dead-lettered events (see its log): no figure")
        await asyncio.sleep(POLL_SECONDS)


def _dead_lettered() -> float:
    return sum(
        sample.value
        for family in DEAD_LETTERED.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def _written(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(webhook_events)).scalar_one()


def _bare_copy(engine: Engine, events: list[PaymentEvent]) -> float:
    """Rows/s of one COPY of every event's webhook_events row, in the binary format the
    sink uses too."""
    rows = [event_row(event, EPOCH) for event in events]
    baseline = Table(
        "copy_baseline", MetaData(), *(Column(n, webhook_events.c[n].type) for n in rows[0])
    )
    with engine.begin() as connection:
        # Same columns and types as webhook_events; no index, no constraint.
        connection.execute(
            text("CREATE TABLE copy_baseline AS SELECT * FROM webhook_events WITH NO DATA")
        )
    started = time.perf_counter()
    with engine.begin() as connection:
        copy_rows(connection, baseline, rows)
    return len(rows) / (time.perf_counter() - started)
