"""The sink's harness: a database per backend (SQLite and PostgreSQL), topics of the test's
own, payment-events produced, a sink running, and its rows read back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import RowMapping, func, select

from common.kafka import make_admin, make_confluent_producer
from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from common.topics import create_topics, pipeline_topic_specs
from schemas.events import PaymentEvent
from sinks.database import make_engine
from sinks.main import run_sink
from sinks.migrate import upgrade
from sinks.tables import metadata, payments
from tests.support.databases import scratch_database
from tests.support.payment_events import payment_event

WAIT_SECONDS = 60.0


T = TypeVar("T")


BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def fresh_database(backend: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """An empty database on `backend`, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'payments.db'}"
        return
    with scratch_database(request.getfixturevalue("postgres_server_url"), "sink") as url:
        yield url


def topics_for(settings: PipelineSettings) -> PipelineSettings:
    """`settings` made quick to test (short batches and retries), with its topics created."""
    quick = settings.model_copy(
        update={
            "sink_batch_max_wait_ms": 100,
            "sink_retry_max_seconds": 1.0,
            "sink_metrics_port": 0,
            "sink_group_id": f"sink-{uuid.uuid4().hex[:8]}",
        }
    )
    create_topics(make_admin(quick), pipeline_topic_specs(quick))
    return quick


def produce(
    settings: PipelineSettings, records: Sequence[PaymentEvent | tuple[str, bytes]]
) -> None:
    """PaymentEvents as the worker produces them; (key, bytes) pairs as they are."""
    producer = make_confluent_producer(settings)
    for record in records:
        headers: list[tuple[str, str | bytes | None]] = []
        if isinstance(record, PaymentEvent):
            key, value = record.payment_key, record.model_dump_json().encode()
            headers = [("correlation-id", record.correlation_id.encode())]
        else:
            key, value = record
        producer.produce(
            settings.topics.payment_events, key=key.encode(), value=value, headers=headers
        )
    assert producer.flush(15) == 0


@asynccontextmanager
async def sink_running(settings: PipelineSettings) -> AsyncIterator[None]:
    """The sink in this process; the tables exist on entry (the sink would create them
    too, but a probe could look first)."""
    await asyncio.to_thread(upgrade, settings.database_url)
    stop = asyncio.Event()
    task = asyncio.create_task(run_sink(settings, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_SECONDS)


async def eventually(probe: Callable[[], T], done: Callable[[T], bool]) -> T:
    """`probe()` (blocking, run in a thread) once `done` accepts it; fails after a minute."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        value = await asyncio.to_thread(probe)
        if done(value) or asyncio.get_running_loop().time() > deadline:
            assert done(value), f"gave up waiting; last seen: {value!r}"
            return value
        await asyncio.sleep(0.1)


#: The tables the sink writes (the admin process's audit log shares the database).
SINK_TABLES = ("webhook_events", "payment_transitions", "payments")


def row_counts(database_url: str) -> dict[str, int]:
    """Rows in each of the sink's tables."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.execute(
                    select(func.count()).select_from(metadata.tables[name])
                ).scalar_one()
                for name in SINK_TABLES
            }
    finally:
        engine.dispose()


def payment_rows(database_url: str) -> dict[str, RowMapping]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(payments)).mappings().all()
    finally:
        engine.dispose()
    return {row["payment_id"]: row for row in rows}


async def dead_letter_scenario(settings: PipelineSettings) -> None:
    """Two good events, one whose amount no BIGINT holds, one record that is not JSON."""
    records: list[PaymentEvent | tuple[str, bytes]] = [
        payment_event("evt_good1", "pi_good1"),
        payment_event("evt_huge", "pi_huge", amount=2**63, captured_amount=2**63),
        ("stripe:pi_junk", b"{not json"),
        payment_event("evt_good2", "pi_good2", previous_status="authorized"),
    ]
    async with sink_running(settings):
        produce(settings, records)
        await eventually(
            lambda: len(scan_topics(settings, [settings.topics.dlq])), lambda n: n == 2
        )
        await eventually(
            lambda: row_counts(settings.database_url), lambda c: c["webhook_events"] == 2
        )
