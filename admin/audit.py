"""The audit log of every dlq replay and purge: who (the token's name), when, what, and
with what result, in the sink's database (`admin_audit`, `admin_audit_messages`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, insert, select

from common.topic_scan import TopicEntry
from schemas import headers as h
from sinks.tables import admin_audit, admin_audit_messages

Action = Literal["replay", "purge"]
Result = Literal["ok", "failed"]
#: The longest text a column takes; a longer description is cut, not refused.
TEXT_LIMIT = 1024


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    selection: str
    message_count: int
    result: str
    detail: str


def record(
    engine: Engine,
    at: datetime,
    actor: str,
    action: Action,
    selection: str,
    entries: Sequence[TopicEntry],
    result: Result,
    detail: str,
) -> int:
    """Insert one entry and the dlq messages it acted on, in one transaction; its id."""
    row = {
        "at": at,
        "actor": actor[:128],
        "action": action,
        "selection": selection[:TEXT_LIMIT],
        "message_count": len(entries),
        "result": result,
        "detail": detail[:TEXT_LIMIT],
    }
    with engine.begin() as connection:
        audit_id = int(
            connection.execute(
                insert(admin_audit).values(row).returning(admin_audit.c.id)
            ).scalar_one()
        )
        if entries:
            connection.execute(
                insert(admin_audit_messages),
                [
                    {
                        "audit_id": audit_id,
                        "record_key": entry.key[:300],
                        "event_id": entry.headers.get(h.EVENT_ID, "")[:255] or None,
                        "dlq_partition": entry.partition,
                        "dlq_offset": entry.offset,
                    }
                    for entry in entries
                ],
            )
    return audit_id


def recent(engine: Engine, limit: int, before: int | None = None) -> list[AuditEntry]:
    """Newest first; `before` is an id to page back from."""
    query = select(admin_audit).order_by(admin_audit.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(admin_audit.c.id < before)
    with engine.connect() as connection:
        return [AuditEntry.model_validate(row) for row in connection.execute(query).mappings()]
