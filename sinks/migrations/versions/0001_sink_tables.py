"""webhook_events, payments and payment_transitions

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def _event_identity() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payment_id", sa.String(255), nullable=False),
    ]


def _payment_totals() -> list[sa.Column[Any]]:
    return [
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("amount", sa.BigInteger),
        sa.Column("captured_amount", sa.BigInteger, nullable=False),
        sa.Column("refunded_amount", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        *_event_identity(),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("effect", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("target_status", sa.String(32)),
        sa.Column("previous_status", sa.String(32)),
        *_payment_totals(),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("refund_amount", sa.BigInteger),
        sa.Column("dispute_amount", sa.BigInteger),
        sa.Column("order_id", sa.String(255)),
        sa.Column("charge_id", sa.String(255)),
        sa.Column("refund_id", sa.String(255)),
        sa.Column("dispute_id", sa.String(255)),
        sa.Column("correlation_id", sa.String(255), nullable=False),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("processed_at", TIME, nullable=False),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event_id"),
    )
    op.create_index("ix_webhook_events_received_at", "webhook_events", ["received_at"])
    op.create_index("ix_webhook_events_payment", "webhook_events", ["provider", "payment_id"])

    op.create_table(
        "payments",
        sa.Column("provider", sa.String(16), primary_key=True),
        sa.Column("payment_id", sa.String(255), primary_key=True),
        *_payment_totals(),
        sa.Column("order_id", sa.String(255)),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("last_event_id", sa.String(255), nullable=False),
        sa.Column("last_event_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )

    op.create_table(
        "payment_transitions",
        *_event_identity(),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.UniqueConstraint(
            "provider", "event_id", name="uq_payment_transitions_provider_event_id"
        ),
    )
    op.create_index(
        "ix_payment_transitions_payment",
        "payment_transitions",
        ["provider", "payment_id", "occurred_at"],
    )


def downgrade() -> None:
    # For development databases only: a deployed schema moves forward (see README).
    for table in ("payment_transitions", "payments", "webhook_events"):
        op.drop_table(table)
