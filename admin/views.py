"""What /admin answers and the console shows, and how database rows, topic headers and
audit entries become it. Pure.

Every field is an identifier, a status, an amount, a time or a stable reason code: the sink
stores no personal data (payment-events carry none), raw bodies are never read, and the
free-text `error-message` header is left out, so no response can carry PII.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import RowMapping

from common.topic_scan import TopicEntry
from schemas import headers as h

Stage = Literal["received", "applied", "stale", "retried", "dead_lettered", "replayed"]
#: The columns of `webhook_events` that name other objects of the payment.
RELATED_COLUMNS = ("order_id", "charge_id", "refund_id", "dispute_id", "correlation_id")


class EventOut(BaseModel):
    id: int
    provider: str
    event_id: str
    event_type: str
    payment_id: str
    status: str
    outcome: str
    version: int
    currency: str | None
    amount: int | None
    occurred_at: datetime
    received_at: datetime
    processed_at: datetime
    correlation_id: str


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: int | None  # pass back as `cursor` for the next (older) page


class PaymentOut(BaseModel):
    provider: str
    payment_id: str
    status: str
    currency: str | None
    amount: int | None
    captured_amount: int | None
    refunded_amount: int
    order_id: str | None
    version: int
    last_event_id: str
    last_event_at: datetime
    updated_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    stage: Stage
    event_id: str | None
    event_type: str | None
    detail: str


class PaymentView(BaseModel):
    payment: PaymentOut | None  # None while no event of the payment has been applied yet
    related: dict[str, list[str]]  # order, charge, refund, dispute and correlation ids
    timeline: list[TimelineEntry]


class DlqSummary(BaseModel):
    count: int
    by_reason: dict[str, int]
    oldest: datetime | None
    newest: datetime | None


def event_page(rows: Sequence[RowMapping], limit: int) -> EventPage:
    """`rows`: up to `limit + 1`, newest first; the extra one only says a next page exists."""
    events = [EventOut.model_validate(row) for row in rows[:limit]]
    more = len(rows) > limit
    return EventPage(events=events, next_cursor=events[-1].id if more else None)


def database_steps(rows: Iterable[RowMapping]) -> list[TimelineEntry]:
    """Each stored event: when ingress received it, and when the sink recorded its outcome."""
    steps: list[TimelineEntry] = []
    for row in rows:
        ids = {"event_id": row["event_id"], "event_type": row["event_type"]}
        moved = f"{row['previous_status'] or '-'} -> {row['status']} (v{row['version']})"
        steps.append(TimelineEntry(at=row["received_at"], stage="received", detail="", **ids))
        steps.append(
            TimelineEntry(at=row["processed_at"], stage=row["outcome"], detail=moved, **ids)
        )
    return steps


def topic_steps(entries: Iterable[TopicEntry], dlq_topic: str) -> list[TimelineEntry]:
    """A record on a retry tier is a retry; one on dlq, a dead letter."""
    return [
        TimelineEntry(
            at=_time(entry.timestamp_ms),
            stage="dead_lettered" if entry.topic == dlq_topic else "retried",
            event_id=entry.headers.get(h.EVENT_ID),
            event_type=entry.headers.get(h.EVENT_TYPE),
            detail=_why(entry, dlq_topic),
        )
        for entry in entries
    ]


def _why(entry: TopicEntry, dlq_topic: str) -> str:
    if entry.topic == dlq_topic:
        return entry.headers.get(h.DLQ_REASON, "unknown")
    attempt = entry.headers.get(h.RETRY_ATTEMPT, "?")
    return f"attempt {attempt} on {entry.topic} after {entry.headers.get(h.ERROR_CLASS, '?')}"


def related_ids(rows: Iterable[RowMapping]) -> dict[str, list[str]]:
    """Each kind of related id the payment's events name, in first-seen order."""
    found: dict[str, list[str]] = {}
    for row in rows:
        for column in RELATED_COLUMNS:
            if row[column] and row[column] not in found.setdefault(column, []):
                found[column].append(row[column])
    return {column: ids for column, ids in found.items() if ids}


def replay_steps(rows: Iterable[RowMapping]) -> list[TimelineEntry]:
    """Each audit-logged replay of one of the payment's dead letters."""
    return [
        TimelineEntry(
            at=row["at"],
            stage="replayed",
            event_id=row["event_id"],
            event_type=None,
            detail=f"by {row['actor']}: {row['result']} {row['detail']}".rstrip(),
        )
        for row in rows
        if row["action"] == "replay"
    ]


def timeline(*steps: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    return sorted((step for group in steps for step in group), key=lambda step: step.at)


def dlq_summary(entries: Sequence[TopicEntry]) -> DlqSummary:
    times = [entry.timestamp_ms for entry in entries]
    return DlqSummary(
        count=len(entries),
        by_reason=dict(Counter(e.headers.get(h.DLQ_REASON, "unknown") for e in entries)),
        oldest=_time(min(times)) if times else None,
        newest=_time(max(times)) if times else None,
    )


def _time(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)
