"""The /admin endpoints as a router, for whichever app mounts them (ingress does).

GET /admin/events: stored events, newest first, filtered, cursor-paginated.
GET /admin/payments/{provider}/{payment_id}: the payment's state and its timeline.
GET /admin/dlq: the dlq topic summarized (count by reason, oldest, newest).

Every route needs `Authorization: Bearer <one of ADMIN_TOKENS>`. The handlers block (SQL,
topic scans), so they are plain functions: FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy import Engine, Select, select

from common.settings import PipelineSettings
from common.topic_scan import TopicEntry, scan_topics
from schemas.mapping import PaymentStatus
from schemas.providers import Provider
from schemas.routing import payment_key
from sinks.admin_auth import require_admin
from sinks.admin_views import (
    DlqSummary,
    EventPage,
    PaymentOut,
    PaymentView,
    database_steps,
    dlq_summary,
    event_page,
    timeline,
    topic_steps,
)
from sinks.database import make_engine
from sinks.tables import payments, webhook_events

MAX_PAGE = 500
#: The largest `webhook_events.id` (BIGINT): a larger cursor is a malformed one.
MAX_CURSOR = 2**63 - 1
#: Text parameters: PostgreSQL text cannot hold NUL, so a NUL is malformed input (422),
#: not a database error (500).
WITHOUT_NUL = r"^[^\x00]*$"
#: The body is the app's error body (`ingress.responses`): `{"error": {"code", "message"}}`.
PAYMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "not_found: no event, state, retry or dlq record of this payment"}
}
TopicScanner = Callable[[PipelineSettings, Sequence[str]], list[TopicEntry]]


def create_admin_router(
    settings: PipelineSettings,
    engine: Engine | None = None,
    scan: TopicScanner = scan_topics,
) -> APIRouter:
    """`engine` defaults to one on DATABASE_URL; `scan` reads topics (swap it in tests)."""
    db = engine or make_engine(settings.database_url)
    topics = settings.topics
    router = APIRouter(
        prefix="/admin",
        tags=["admin"],
        dependencies=[Depends(require_admin(settings.admin_tokens))],
    )

    @router.get("/events")
    def events(
        provider: Provider | None = None,
        event_type: Annotated[str | None, Query(alias="type", pattern=WITHOUT_NUL)] = None,
        status: PaymentStatus | None = None,
        since: UtcMoment | None = None,
        until: UtcMoment | None = None,
        cursor: Annotated[int | None, Query(ge=1, le=MAX_CURSOR)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> EventPage:
        """Newest first; `since` / `until` bound the received time (inclusive, exclusive)."""
        query = _event_filters(
            select(webhook_events), provider, event_type, status, since, until, cursor
        )
        query = query.order_by(webhook_events.c.id.desc()).limit(limit + 1)
        with db.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return event_page(rows, limit)

    @router.get("/payments/{provider}/{payment_id}", responses=PAYMENT_RESPONSES)
    def payment(
        provider: Provider, payment_id: Annotated[str, Path(pattern=WITHOUT_NUL)]
    ) -> PaymentView:
        """The current state and every step: received, applied / stale, retried,
        dead-lettered."""
        key = (webhook_events.c.provider == provider) & (webhook_events.c.payment_id == payment_id)
        with db.connect() as connection:
            state = (
                connection.execute(
                    select(payments).where(
                        (payments.c.provider == provider) & (payments.c.payment_id == payment_id)
                    )
                )
                .mappings()
                .first()
            )
            stored = connection.execute(select(webhook_events).where(key)).mappings().all()
        routed = payment_key(provider, payment_id)
        parked = [e for e in scan(settings, [*topics.retry, topics.dlq]) if e.key == routed]
        if state is None and not stored and not parked:
            raise HTTPException(404, "payment_not_found")
        return PaymentView(
            payment=PaymentOut.model_validate(state) if state else None,
            timeline=timeline(database_steps(stored), topic_steps(parked, topics.dlq)),
        )

    @router.get("/dlq")
    def dlq() -> DlqSummary:
        return dlq_summary(scan(settings, [topics.dlq]))

    return router


def _in_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a ValueError (422) for one that has no UTC time (year 1 east of
    Greenwich, year 9999 west of it)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range in UTC") from None


UtcMoment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def _event_filters(
    query: Select[tuple[object, ...]],
    provider: Provider | None,
    event_type: str | None,
    status: PaymentStatus | None,
    since: AwareDatetime | None,
    until: AwareDatetime | None,
    cursor: int | None,
) -> Select[tuple[object, ...]]:
    c = webhook_events.c
    equal = ((c.provider, provider), (c.event_type, event_type), (c.status, status))
    conditions = [column == value for column, value in equal if value is not None]
    if since is not None:
        conditions.append(c.received_at >= since)
    if until is not None:
        conditions.append(c.received_at < until)
    if cursor is not None:
        conditions.append(c.id < cursor)
    return query.where(*conditions)
