"""The engine for DATABASE_URL, with the drivers this project installs: psycopg 3 on
PostgreSQL (its COPY is the sink's fast path), the standard sqlite3 module on SQLite.

Blocking on purpose: the sink runs each batch's transaction in a worker thread, so the
Kafka consumer's event loop keeps heartbeating while the database works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url

_DRIVERS = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite+pysqlite"}
SQLITE_BUSY_TIMEOUT_MS = 5000
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def with_driver(database_url: str) -> URL:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"DATABASE_URL must be PostgreSQL or SQLite, not {backend}")
    return url.set(drivername=_DRIVERS[backend])


def make_engine(database_url: str) -> Engine:
    """`pool_pre_ping` replaces connections a database restart broke before they are used."""
    url = with_driver(database_url)
    # A bounded connect: a thread stuck connecting to a dying server would hold up the
    # sink's shutdown (threads cannot be interrupted), and a pause is the answer anyway.
    connect_args = (
        {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
        if url.get_backend_name() == "postgresql"
        else {}
    )
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite(engine, url)
    return engine


def _prepare_sqlite(engine: Engine, url: URL) -> None:
    if url.database not in (None, "", ":memory:"):
        # The default database lives in ./.payments/, which a fresh checkout lacks.
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3 (before Python 3.12) issues BEGIN on its own and breaks SAVEPOINTs;
        # let SQLAlchemy emit it instead. WAL lets the admin API read while the sink writes.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")
