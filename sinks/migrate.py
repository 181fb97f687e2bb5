"""`payments db upgrade`: apply the Alembic migrations shipped in `sinks/migrations/`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from sinks.database import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock `upgrade` holds: one migrator at a time per database.
MIGRATION_LOCK_KEY: Final = 0x7061796D656E7473  # "payments"
LOCK_POLL_SECONDS: Final = 0.5


def alembic_config(database_url: str) -> Config:
    config = Config(MIGRATIONS_DIR / "alembic.ini")
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(
    database_url: str, revision: str = "head", *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Bring the database to `revision`. Safe to run again, and while older sinks still
    write: every migration is additive (migrations/README.md). Sinks starting together
    take turns: each waits for the lock, then finds the work done."""
    config = alembic_config(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection, _migration_lock(connection, sleep):
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(connection: Connection, sleep: Callable[[float], None]) -> Iterator[None]:
    """A session advisory lock, polled rather than awaited: a session blocked inside
    `pg_advisory_lock` holds a snapshot, and `CREATE INDEX CONCURRENTLY` waits for every
    older snapshot, the waiting migrator's included."""
    if connection.dialect.name != "postgresql":  # SQLite serialises writers itself
        yield
        return
    try_lock = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=MIGRATION_LOCK_KEY)
    while not connection.execute(try_lock).scalar_one():
        connection.commit()
        sleep(LOCK_POLL_SECONDS)
    connection.commit()  # the lock is the session's; alembic begins its own transactions
    try:
        yield
    finally:
        connection.rollback()
        unlock = text("SELECT pg_advisory_unlock(:key)").bindparams(key=MIGRATION_LOCK_KEY)
        connection.execute(unlock)
        connection.commit()


def current_revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
