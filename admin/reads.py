"""What the admin process reads from the sink's database, for the JSON API and the console
alike: events by filter, a payment with its timeline, current statuses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, select, tuple_, union_all
from sqlalchemy.exc import SQLAlchemyError

from admin.projection import PaymentTotals
from admin.views import (
    EventPage,
    PaymentOut,
    PaymentView,
    database_steps,
    event_page,
    related_ids,
    replay_steps,
    timeline,
    topic_steps,
)
from common.settings import TopicNames
from common.topic_scan import TopicEntry
from schemas.providers import Provider
from schemas.routing import payment_key
from sinks.tables import admin_audit, admin_audit_messages, payments, webhook_events


@dataclass(frozen=True)
class EventFilter:
    """Which stored events to list; `search` is an event id or a payment id."""

    provider: str | None = None
    event_type: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = webhook_events.c
        equal = ((c.provider, self.provider), (c.event_type, self.event_type))
        conditions = [column == value for column, value in equal if value is not None]
        if self.status is not None:
            conditions.append(c.status == self.status)
        if self.since is not None:
            conditions.append(c.received_at >= self.since)
        if self.until is not None:
            conditions.append(c.received_at < self.until)
        if self.search:
            conditions.append(_identified_by(self.search))
        return conditions


def _identified_by(search: str) -> ColumnElement[bool]:
    """Two index lookups, (provider, event_id) and (provider, payment_id): one condition
    joined with OR is planned as a scan of the whole table."""
    c = webhook_events.c
    providers = [provider.value for provider in Provider]
    by_event = select(c.id).where(c.provider.in_(providers), c.event_id == search)
    by_payment = select(c.id).where(c.provider.in_(providers), c.payment_id == search)
    return c.id.in_(union_all(by_event, by_payment))


def read_events(engine: Engine, wanted: EventFilter, cursor: int | None, limit: int) -> EventPage:
    """Newest first; `cursor` is the previous page's `next_cursor`."""
    conditions = wanted.conditions()
    if cursor is not None:
        conditions.append(webhook_events.c.id < cursor)
    query = select(webhook_events).where(*conditions)
    query = query.order_by(webhook_events.c.id.desc()).limit(limit + 1)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return event_page(rows, limit)


def read_payment(
    engine: Engine,
    laddered: Iterable[TopicEntry],
    topics: TopicNames,
    provider: str,
    payment_id: str,
) -> PaymentView | None:
    """State and timeline (received, applied / stale, retried, dead-lettered, replayed);
    None when nothing at all is known of the payment. `laddered`: the records on the retry
    tiers and dlq."""
    key = payment_key(Provider(provider), payment_id)
    events = webhook_events.c
    with engine.connect() as connection:
        state = (
            connection.execute(
                select(payments).where(
                    (payments.c.provider == provider) & (payments.c.payment_id == payment_id)
                )
            )
            .mappings()
            .first()
        )
        stored = (
            connection.execute(
                select(webhook_events).where(
                    (events.provider == provider) & (events.payment_id == payment_id)
                )
            )
            .mappings()
            .all()
        )
        replays = (
            connection.execute(
                select(admin_audit, admin_audit_messages.c.event_id)
                .join(admin_audit_messages, admin_audit_messages.c.audit_id == admin_audit.c.id)
                .where(admin_audit_messages.c.record_key == key)
            )
            .mappings()
            .all()
        )
    mine = [entry for entry in laddered if entry.key == key]
    if state is None and not stored and not mine:
        return None
    return PaymentView(
        payment=PaymentOut.model_validate(state) if state else None,
        related=related_ids(stored),
        timeline=timeline(
            database_steps(stored), topic_steps(mine, topics.dlq), replay_steps(replays)
        ),
    )


def payment_totals(engine: Engine, keys: Iterable[str]) -> dict[str, PaymentTotals]:
    """Status and totals by record key (`provider:payment_id`); keys of unknown payments are
    left out."""
    # (provider, payment_id) pairs: the primary key's index finds each one.
    named = [tuple(key.split(":", 1)) for key in set(keys) if ":" in key]
    c = payments.c
    query = select(
        c.provider, c.payment_id, c.status, c.currency, c.amount, c.captured_amount,
        c.refunded_amount, c.version, c.last_event_at,
    ).where(tuple_(c.provider, c.payment_id).in_(named))  # fmt: skip
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {f"{row[0]}:{row[1]}": PaymentTotals(*row[2:]) for row in rows}


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(select(1))
    except SQLAlchemyError:
        return False
    return True
