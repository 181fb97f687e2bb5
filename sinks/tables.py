"""The sink's tables, as SQLAlchemy Core metadata: what the writer and the admin API query.

The migrations in `sinks/migrations/` create them; a test holds the two in agreement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect: SQLite keeps no time zone, so values are
    stored as UTC and read back as UTC (naive ones would not compare with aware ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


# SQLite only autoincrements an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
Provider = String(16)
ExternalId = String(255)
Status = String(32)


def payment_totals() -> list[Column[Any]]:
    """A payment's status and amounts: on `payments` its current ones, on `webhook_events`
    the ones right after that event (integer minor units of `currency`)."""
    return [
        Column("status", Status, nullable=False),
        Column("currency", String(3)),
        Column("amount", BigInteger),
        # Null while no event has reported the capture (a refund can arrive first).
        Column("captured_amount", BigInteger),
        Column("refunded_amount", BigInteger, nullable=False),
    ]


webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", Provider, nullable=False),
    Column("event_id", ExternalId, nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("payment_id", ExternalId, nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("effect", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("target_status", Status),
    Column("previous_status", Status),
    *payment_totals(),
    Column("version", BigInteger, nullable=False),
    Column("refund_amount", BigInteger),
    Column("dispute_amount", BigInteger),
    Column("order_id", ExternalId),
    Column("charge_id", ExternalId),
    Column("refund_id", ExternalId),
    Column("dispute_id", ExternalId),
    Column("correlation_id", String(255), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event_id"),
    Index("ix_webhook_events_received_at", "received_at"),
    Index("ix_webhook_events_payment", "provider", "payment_id"),
)

payments = Table(
    "payments",
    metadata,
    Column("provider", Provider, primary_key=True),
    Column("payment_id", ExternalId, primary_key=True),
    *payment_totals(),
    Column("order_id", ExternalId),
    # The guard: the worker numbers each payment's states; only a higher number overwrites.
    Column("version", BigInteger, nullable=False),
    Column("last_event_id", ExternalId, nullable=False),
    Column("last_event_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row per event, keyed by it. `id` is no longer filled: the previous release's readers
# still select it, and a later migration drops it.
payment_transitions = Table(
    "payment_transitions",
    metadata,
    Column("id", Id),
    Column("provider", Provider, primary_key=True),
    Column("event_id", ExternalId, primary_key=True),
    Column("event_type", String(128), nullable=False),
    Column("payment_id", ExternalId, nullable=False),
    Column("from_status", Status),
    Column("to_status", Status, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# The admin process's audit log: every replay and purge, who did it, when, what, with what
# result (`admin.audit`). The sink never writes them; they share its database and migrations.
admin_audit = Table(
    "admin_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(16), nullable=False),
    Column("selection", String(1024), nullable=False),
    Column("message_count", Integer, nullable=False),
    Column("result", String(16), nullable=False),
    Column("detail", String(1024), nullable=False),
    Index("ix_admin_audit_at", "at"),
)

admin_audit_messages = Table(
    "admin_audit_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("audit_id", BigInteger, nullable=False),
    Column("record_key", String(300), nullable=False),
    Column("event_id", ExternalId),
    Column("dlq_partition", Integer, nullable=False),
    Column("dlq_offset", BigInteger, nullable=False),
    Index("ix_admin_audit_messages_key", "record_key"),
    Index("ix_admin_audit_messages_audit", "audit_id"),
)
