"""The rows one batch of payment-events becomes, per table. Pure.

- webhook_events and payment_transitions: one row per distinct (provider, event_id); a
  redelivered event is dropped here and again by ON CONFLICT DO NOTHING. A transition is
  a projection of its event's row (`TRANSITION_SOURCES`), which PostgreSQL makes itself
  from the staged event rows.
- payments: one row per payment, from its event with the highest version in the batch (a
  "stale" one too: it carries the same facts, under the version the worker's state has
  after it). The same guard then runs in SQL against the stored row, because PostgreSQL
  refuses to upsert one row twice in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from schemas.events import PaymentEvent

Row = dict[str, Any]

#: PaymentEvent fields that describe the payment rather than the event (see `payment_row`).
_NOT_EVENT_COLUMNS = ("payment_key", "last_event_id", "last_event_at")


def supersedes(candidate_version: int, stored_version: int | None) -> bool:
    """The guard: the worker numbers each payment's states in order, so only a higher
    version may overwrite. Mirrored in SQL by `sinks.store.payment_guard`."""
    return stored_version is None or candidate_version > stored_version


#: payment_transitions' columns, each with the webhook_events column it copies.
TRANSITION_SOURCES: Final = MappingProxyType(
    {
        "provider": "provider",
        "payment_id": "payment_id",
        "event_id": "event_id",
        "event_type": "event_type",
        "from_status": "previous_status",
        "to_status": "status",
        "outcome": "outcome",
        "version": "version",
        "occurred_at": "occurred_at",
        "recorded_at": "processed_at",
    }
)


@dataclass(frozen=True, slots=True)
class BatchRows:
    webhook_events: list[Row]
    payments: list[Row]

    @property
    def payment_transitions(self) -> list[Row]:
        return [transition_row(row) for row in self.webhook_events]


def batch_rows(events: Sequence[PaymentEvent], written_at: datetime) -> BatchRows:
    first: dict[tuple[str, str], PaymentEvent] = {}
    for event in events:
        first.setdefault((event.provider, event.event_id), event)
    unique = list(first.values())
    return BatchRows(
        webhook_events=[event_row(e, written_at) for e in unique],
        payments=[payment_row(e, written_at) for e in newest(unique)],
    )


def newest(events: Iterable[PaymentEvent]) -> list[PaymentEvent]:
    """Per payment, the event the guard lets win; order ids carried over, since only some
    events of a payment report one."""
    newest: dict[tuple[str, str], PaymentEvent] = {}
    order_ids: dict[tuple[str, str], str] = {}
    for event in events:
        key = (event.provider, event.payment_id)
        if event.order_id:
            order_ids[key] = event.order_id
        current = newest.get(key)
        if supersedes(event.version, current.version if current else None):
            newest[key] = event
    return [
        event.model_copy(update={"order_id": order_ids[key]})
        if not event.order_id and key in order_ids
        else event  # most events: no copy (a copy costs more than the rest of the row)
        for key, event in newest.items()
    ]


def event_row(event: PaymentEvent, processed_at: datetime) -> Row:
    # A pydantic model keeps its field values in its __dict__: copying that is several
    # times cheaper than model_dump (and than dict(event)), and the values are the same.
    row = vars(event).copy()
    for not_a_column in _NOT_EVENT_COLUMNS:
        del row[not_a_column]
    row["processed_at"] = processed_at
    return row


def transition_row(event_row: Row) -> Row:
    return {column: event_row[source] for column, source in TRANSITION_SOURCES.items()}


def payment_row(event: PaymentEvent, updated_at: datetime) -> Row:
    return {
        **_copied(event, "provider", "payment_id", "status", "currency", "amount"),
        **_copied(event, "captured_amount", "refunded_amount", "order_id", "version"),
        # Events written before the worker reported the payment's newest event name their own.
        "last_event_id": event.last_event_id or event.event_id,
        "last_event_at": event.last_event_at or event.occurred_at,
        "updated_at": updated_at,
    }


def _copied(event: PaymentEvent, *fields: str) -> Row:
    return {name: getattr(event, name) for name in fields}
