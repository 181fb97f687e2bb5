"""Alembic's entry point: migrate the database `sinks.migrate` (or DATABASE_URL) names."""

from __future__ import annotations

from alembic import context

from common.settings import PipelineSettings
from sinks.database import make_engine

database_url = context.config.attributes.get("database_url") or PipelineSettings().database_url
engine = make_engine(database_url)
try:
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        context.configure(
            connection=connection, render_as_batch=connection.dialect.name == "sqlite"
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
