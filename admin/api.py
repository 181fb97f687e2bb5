"""The JSON admin API, /admin/*, as a router of the admin process.

GET /admin/events: stored events, newest first, filtered, cursor-paginated.
GET /admin/payments/{provider}/{payment_id}: the payment's state and its timeline.
GET /admin/dlq: the dlq topic summarized (count by reason, oldest, newest).

Every route needs `Authorization: Bearer <token>` (ADMIN_TOKENS or ADMIN_VIEWER_TOKENS: it
only reads). The handlers block (SQL), so they are plain functions: FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy import Engine

from admin.auth import TokenBook, require_token
from admin.forms import in_utc
from admin.reads import EventFilter, read_events, read_payment
from admin.views import DlqSummary, EventPage, PaymentView, dlq_summary
from common.settings import PipelineSettings
from common.topic_scan import TopicEntry
from schemas.mapping import PaymentStatus
from schemas.providers import Provider

MAX_PAGE = 500
#: The largest `webhook_events.id` (BIGINT): a larger cursor is a malformed one.
MAX_CURSOR = 2**63 - 1
#: Text parameters: PostgreSQL text cannot hold NUL, so a NUL is malformed input (422),
#: not a database error (500).
WITHOUT_NUL = r"^[^\x00]*$"
#: The body is the admin process's error body (`admin.errors`).
PAYMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "not_found: no event, state, retry or dlq record of this payment"}
}
TopicScanner = Callable[[PipelineSettings, Sequence[str]], list[TopicEntry]]


def create_admin_router(
    settings: PipelineSettings, engine: Engine, scan: TopicScanner, book: TokenBook
) -> APIRouter:
    """`scan` gives the retry and dlq records (the admin process's `TopicMirror`)."""
    topics = settings.topics
    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_token(book))])

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
        wanted = EventFilter(provider, event_type, status, since, until)
        return read_events(engine, wanted, cursor, limit)

    @router.get("/payments/{provider}/{payment_id}", responses=PAYMENT_RESPONSES)
    def payment(
        provider: Provider, payment_id: Annotated[str, Path(pattern=WITHOUT_NUL)]
    ) -> PaymentView:
        """The current state, related ids and every step: received, applied / stale,
        retried, dead-lettered, replayed."""
        laddered = scan(settings, [*topics.retry, topics.dlq])
        view = read_payment(engine, laddered, topics, provider, payment_id)
        if view is None:
            raise HTTPException(404, "payment_not_found")
        return view

    @router.get("/dlq")
    def dlq() -> DlqSummary:
        return dlq_summary(scan(settings, [topics.dlq]))

    return router


UtcMoment = Annotated[AwareDatetime, AfterValidator(in_utc)]
