"""captured_amount may be null: a refund or a dispute can arrive before its capture

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Dropping NOT NULL takes no rewrite and no long lock in PostgreSQL, so it runs while sinks
write; sinks of the previous release never write a null, so they keep working after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("webhook_events", "payments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("captured_amount", existing_type=sa.BigInteger, nullable=True)


def downgrade() -> None:
    for table in TABLES:
        captured = sa.column("captured_amount", sa.BigInteger)
        unknown = sa.table(table, captured).update().where(captured.is_(None))
        op.execute(unknown.values(captured_amount=0))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("captured_amount", existing_type=sa.BigInteger, nullable=False)
