"""The migrations build exactly the tables the sink's code declares, on both backends."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from sinks.database import make_engine
from sinks.main import running_sink
from sinks.migrate import MIGRATION_LOCK_KEY, alembic_config, current_revision, upgrade
from sinks.tables import metadata
from tests.support.databases import scratch_database
from tests.support.payment_events import payment_event
from tests.support.sink import eventually, payment_rows, produce, row_counts, topics_for


def test_upgrade_reaches_head_twice_and_matches_the_tables(sink_database_url: str) -> None:
    upgrade(sink_database_url)
    upgrade(sink_database_url)  # a second run (another replica starting) changes nothing

    assert _at_head(sink_database_url)
    engine = make_engine(sink_database_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []


STARTUP_SECONDS = 120


def _at_head(database_url: str) -> bool:
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    return current_revision(database_url) == head


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        yield url


def test_sinks_starting_together_migrate_one_at_a_time(empty_database_url: str) -> None:
    """Several sinks starting at once against an empty database all start: without the
    lock they fail on tables another is creating, or wait forever on one another's
    `CREATE INDEX CONCURRENTLY`."""
    errors: list[BaseException] = []

    def start_a_sink() -> None:
        try:
            upgrade(empty_database_url)
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    sinks = [threading.Thread(target=start_a_sink, daemon=True) for _ in range(3)]
    for sink in sinks:
        sink.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    for sink in sinks:
        sink.join(timeout=max(0.0, deadline - time.monotonic()))

    assert [sink.is_alive() for sink in sinks] == [False] * 3, "a migrator never finished"
    assert errors == []
    assert _at_head(empty_database_url)


def test_upgrade_waits_while_another_migrator_holds_the_lock(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    waits: list[float] = []
    try:
        with engine.connect() as holder:
            lock = "SELECT pg_advisory_lock(:key)"
            holder.execute(text(lock).bindparams(key=MIGRATION_LOCK_KEY))
            holder.commit()  # an open transaction would hold up 0004's concurrent index

            def the_holder_finishes(seconds: float) -> None:
                waits.append(seconds)
                assert current_revision(empty_database_url) is None  # nothing ran meanwhile
                unlock = "SELECT pg_advisory_unlock(:key)"
                holder.execute(text(unlock).bindparams(key=MIGRATION_LOCK_KEY))
                holder.commit()

            upgrade(empty_database_url, sleep=the_holder_finishes)
    finally:
        engine.dispose()

    assert waits == [0.5]
    assert _at_head(empty_database_url)


async def test_the_natural_key_migration_runs_while_a_sink_writes(
    make_settings: Callable[..., PipelineSettings], database_url: str
) -> None:
    """Revision 0004 swaps payment_transitions' key and drops an index under a sink that
    keeps writing: no batch fails, nothing is dead-lettered, every event lands once."""
    settings = topics_for(make_settings(database_url=database_url, sink_batch_size=50))
    upgrade(database_url, "0003")
    migrated = threading.Event()
    stop = asyncio.Event()
    async with running_sink(settings) as sink:
        writing = asyncio.create_task(sink.run(stop))
        feeding = asyncio.create_task(asyncio.to_thread(_feed_until, settings, migrated))
        await eventually(lambda: row_counts(database_url), lambda c: c["payments"] > 0)
        try:
            await asyncio.to_thread(upgrade, database_url)
        finally:
            migrated.set()
        fed = await feeding
        await eventually(lambda: row_counts(database_url), lambda c: c["webhook_events"] == fed)
        stop.set()
        await writing

    assert current_revision(database_url) == "0004"
    payments = min(fed, PAYMENTS)
    assert row_counts(database_url) == {
        "webhook_events": fed,
        "payment_transitions": fed,
        "payments": payments,
    }
    newest = {row["payment_id"]: row["version"] for row in payment_rows(database_url).values()}
    assert newest == {f"pi_{n}": (fed - 1 - n) // PAYMENTS + 1 for n in range(payments)}
    assert scan_topics(settings, [settings.topics.dlq]) == []


PAYMENTS = 100


def _feed_until(settings: PipelineSettings, done: threading.Event, wave: int = 50) -> int:
    """Waves of events (successive versions of PAYMENTS payments) until `done`, and one
    wave more; returns how many."""
    sent = 0
    while True:
        last = done.is_set()
        wave_events = [
            payment_event(f"evt_{n}", f"pi_{n % PAYMENTS}", version=n // PAYMENTS + 1)
            for n in range(sent, sent + wave)
        ]
        produce(settings, wave_events)
        sent += wave
        if last:
            return sent
        time.sleep(0.05)
