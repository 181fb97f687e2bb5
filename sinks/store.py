"""One batch, one transaction: idempotent inserts and guarded upserts.

PostgreSQL: binary COPY of the event rows and of the payment rows into session-local
staging tables, then one `INSERT … SELECT … ON CONFLICT` per table (payment_transitions
selected from the staged event rows). SQLite: one multi-row `INSERT … ON CONFLICT` per
table. Both share the conflict rules below.

A row the database rejects (a data error) is found by halving the batch inside savepoints,
so the rest of the batch still commits in the same single transaction; the rejected
records come back to the caller for dlq. Any other error leaves the transaction rolled
back and propagates (`sinks.db_errors.classify` tells the caller what it means).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from psycopg import sql
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    MetaData,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from sinks.db_errors import classify
from sinks.records import Decoded, Rejected
from sinks.rows import TRANSITION_SOURCES, BatchRows, Row, batch_rows
from sinks.tables import payment_transitions, payments, webhook_events

InsertT = TypeVar("InsertT", postgresql.Insert, sqlite.Insert)
Loader = Callable[[Connection, BatchRows], None]

_EVENT_KEY = ("provider", "event_id")
_PAYMENT_KEY = ("provider", "payment_id")


def payment_guard(incoming_version: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL twin of `sinks.rows.supersedes`: the incoming row wins only with a higher version."""
    return payments.c.version < incoming_version


def with_conflict_rule(insert: InsertT, table: Table) -> InsertT:
    if table is not payments:
        return insert.on_conflict_do_nothing(index_elements=list(_EVENT_KEY))
    excluded = insert.excluded
    kept = set(_PAYMENT_KEY) | {"order_id"}
    updates: dict[str, object] = {
        column.name: excluded[column.name] for column in payments.c if column.name not in kept
    }
    # Only some events carry the order id: never forget one already known.
    updates["order_id"] = func.coalesce(excluded.order_id, payments.c.order_id)
    return insert.on_conflict_do_update(
        index_elements=list(_PAYMENT_KEY), set_=updates, where=payment_guard(excluded.version)
    )


def insert_values(connection: Connection, rows: BatchRows) -> None:
    for table, table_rows in (
        (webhook_events, rows.webhook_events),
        (payment_transitions, rows.payment_transitions),
        (payments, rows.payments),
    ):
        if table_rows:
            connection.execute(with_conflict_rule(sqlite.insert(table), table), table_rows)


def copy_then_insert(connection: Connection, rows: BatchRows) -> None:
    if rows.webhook_events:
        stage = staged(connection, webhook_events, rows.webhook_events)
        connection.execute(transitions_from(stage))
        # Bisecting a rejected batch loads a table again in the same transaction.
        connection.execute(delete(stage))
    if rows.payments:
        connection.execute(delete(staged(connection, payments, rows.payments)))


def staged(connection: Connection, table: Table, rows: list[Row]) -> Table:
    """`rows` COPYed into `table`'s staging table and inserted from there; the staging
    table, still holding them."""
    names = tuple(rows[0])
    stage = staging_table(table, names)
    connection.exec_driver_sql(create_staging_sql(stage, connection.dialect))
    copy_rows(connection, stage, rows)
    connection.execute(insert_from(table, stage))
    return stage


@cache
def insert_from(table: Table, stage: Table) -> postgresql.Insert:
    names = [column.name for column in stage.c]
    return with_conflict_rule(postgresql.insert(table).from_select(names, select(*stage.c)), table)


@cache
def transitions_from(stage: Table) -> postgresql.Insert:
    """payment_transitions' rows, selected from the staged webhook_events rows."""
    columns = [stage.c[source].label(name) for name, source in TRANSITION_SOURCES.items()]
    insert = postgresql.insert(payment_transitions).from_select(
        list(TRANSITION_SOURCES), select(*columns)
    )
    return with_conflict_rule(insert, payment_transitions)


def copy_rows(connection: Connection, stage: Table, rows: list[Row]) -> None:
    """Binary COPY of `rows` (dicts keyed by `stage`'s columns, in its order) into `stage`
    through the psycopg connection under `connection`, inside its transaction.

    Binary with the column types given up front lets psycopg encode the values in C,
    instead of formatting text in Python for every value.
    """
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(stage.name),
        sql.SQL(", ").join(sql.Identifier(column.name) for column in stage.c),
    )
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
        copy.set_types(copy_types(stage, connection.dialect))
        for row in rows:
            copy.write_row(tuple(row.values()))


@cache
def copy_types(stage: Table, dialect: Dialect) -> list[str]:
    """psycopg's names of `stage`'s column types: "VARCHAR(16)" -> "varchar"."""
    return [column.type.compile(dialect).split("(")[0].lower() for column in stage.c]


@cache
def create_staging_sql(stage: Table, dialect: Dialect) -> str:
    """`CREATE TEMPORARY TABLE IF NOT EXISTS` for `stage`, compiled once: SQLAlchemy caches
    the compiled form of DML statements but not of DDL."""
    return str(CreateTable(stage, if_not_exists=True).compile(dialect=dialect))


@cache
def staging_table(table: Table, names: tuple[str, ...]) -> Table:
    """A temporary table with `table`'s column types and no constraints, emptied at commit."""
    return Table(
        f"staging_{table.name}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in names),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )


class Store:
    """Writes batches of decoded payment-events; blocking (run it in a worker thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._load: Loader = (
            copy_then_insert if engine.dialect.name == "postgresql" else insert_values
        )

    def write(
        self, batch: Sequence[Decoded], written_at: datetime, rows: BatchRows | None = None
    ) -> list[Rejected]:
        """Commit `batch` in one transaction; return the records the database rejected.
        `rows`: the batch's rows at `written_at`, when they were built already."""
        with self._engine.begin() as connection:
            return self._write_isolating(connection, batch, written_at, rows)

    def _write_isolating(
        self,
        connection: Connection,
        batch: Sequence[Decoded],
        written_at: datetime,
        rows: BatchRows | None = None,
    ) -> list[Rejected]:
        try:
            with connection.begin_nested():
                if rows is None:
                    rows = batch_rows([d.event for d in batch], written_at)
                self._load(connection, rows)
        except Exception as error:
            if classify(error) != "data":
                raise
            if len(batch) == 1:
                return [Rejected(batch[0].record, "database_rejected", error)]
            half = len(batch) // 2
            return [
                *self._write_isolating(connection, batch[:half], written_at),
                *self._write_isolating(connection, batch[half:], written_at),
            ]
        return []
