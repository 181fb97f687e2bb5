"""Alembic's entry point: migrate the database `sinks.migrate` (or DATABASE_URL) names."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from common.settings import PipelineSettings
from sinks.database import make_engine


def run_migrations(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if (given := context.config.attributes.get("connection")) is not None:
    run_migrations(given)  # `sinks.migrate.upgrade`, holding the migration lock on it
else:
    database_url = context.config.attributes.get("database_url") or PipelineSettings().database_url
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()
