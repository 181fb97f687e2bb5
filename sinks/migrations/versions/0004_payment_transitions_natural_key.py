"""payment_transitions: keyed by its event, (provider, event_id), and one index instead of three

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

The surrogate `id` and the (provider, payment_id, occurred_at) index serve no query (the
admin API reads webhook_events; reconcile aggregates the whole table), yet every event
paid for both. The unique key on (provider, event_id) becomes the primary key.

PostgreSQL, while sinks of the previous release write: the new key's index is built
concurrently, the constraints swap in one short transaction (which gives up after
`LOCK_TIMEOUT` rather than queue the sinks behind it), and the old index is dropped
concurrently. `id` stays, nullable and no longer filled, because the previous release's
readers still select it: a later revision drops it. SQLite rebuilds the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "payment_transitions"
KEY = ("provider", "event_id")
NEW_KEY_INDEX = "payment_transitions_event_key"
UNIQUE = "uq_payment_transitions_provider_event_id"
PAYMENT_INDEX = "ix_payment_transitions_payment"
LOCK_TIMEOUT = "5s"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_online()
    else:
        _rebuild(id_nullable=True, key=KEY)


def _upgrade_online() -> None:
    with op.get_context().autocommit_block():
        # A previous attempt may have left an invalid half-built index behind.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NEW_KEY_INDEX}")
        key = ", ".join(KEY)
        op.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {NEW_KEY_INDEX} ON {TABLE} ({key})")
    op.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    op.execute(
        f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey,"
        f" ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY USING INDEX {NEW_KEY_INDEX},"
        f" DROP CONSTRAINT {UNIQUE},"
        " ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id DROP NOT NULL"
    )
    op.execute(f"DROP SEQUENCE IF EXISTS {TABLE}_id_seq")
    with op.get_context().autocommit_block():
        op.drop_index(PAYMENT_INDEX, table_name=TABLE, postgresql_concurrently=True, if_exists=True)


def _rebuild(*, id_nullable: bool, key: Sequence[str]) -> None:
    """The table again with the same columns, `key` as its primary key, no other index."""
    existing = sa.Table(TABLE, sa.MetaData(), autoload_with=op.get_bind())
    columns = [
        sa.Column(
            column.name,
            column.type,
            primary_key=column.name in key,
            nullable=id_nullable if column.name == "id" else column.nullable,
        )
        for column in existing.c
    ]
    with op.batch_alter_table(
        TABLE, recreate="always", copy_from=sa.Table(TABLE, sa.MetaData(), *columns)
    ):
        pass


def downgrade() -> None:
    # For development databases only: a deployed schema moves forward (see README).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
        ids = sa.text("nextval('payment_transitions_id_seq')")
        op.execute(
            sa.table(TABLE, sa.column("id"))
            .update()
            .where(sa.column("id").is_(None))
            .values(id=ids)
        )
        op.execute(
            f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq'),"
            " ALTER COLUMN id SET NOT NULL,"
            f" DROP CONSTRAINT {TABLE}_pkey, ADD PRIMARY KEY (id),"
            f" ADD CONSTRAINT {UNIQUE} UNIQUE ({', '.join(KEY)})"
        )
    else:
        _rebuild(id_nullable=False, key=("id",))
        with op.batch_alter_table(TABLE) as batch:
            batch.create_unique_constraint(UNIQUE, list(KEY))
    op.create_index(PAYMENT_INDEX, TABLE, ["provider", "payment_id", "occurred_at"])
