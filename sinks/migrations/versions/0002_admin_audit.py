"""admin_audit and admin_audit_messages: the admin process's replay and purge log

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Additive: two new tables no running sink reads, so it is safe while the sinks run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "admin_audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("selection", sa.String(1024), nullable=False),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
    )
    op.create_index("ix_admin_audit_at", "admin_audit", ["at"])
    op.create_table(
        "admin_audit_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("audit_id", sa.BigInteger, nullable=False),
        sa.Column("record_key", sa.String(300), nullable=False),
        sa.Column("event_id", sa.String(255)),
        sa.Column("dlq_partition", sa.Integer, nullable=False),
        sa.Column("dlq_offset", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_admin_audit_messages_key", "admin_audit_messages", ["record_key"])
    op.create_index("ix_admin_audit_messages_audit", "admin_audit_messages", ["audit_id"])


def downgrade() -> None:
    # For development databases only: a deployed schema moves forward (see the README).
    op.drop_table("admin_audit_messages")
    op.drop_table("admin_audit")
