"""The console's dlq pages: the list, one message, and replay and purge, each previewed
first (what each payment would become, what would be removed), then confirmed by a form
post that carries the session's CSRF token. Only ADMIN_TOKENS may confirm; each replay and
purge, done or failed, goes into the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated

from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from admin import audit, forms
from admin.auth import Principal
from admin.console import PAGE_SIZE, Console, User
from admin.dlq import (
    DlqFilter,
    masked_body,
    purge,
    purge_cut,
    purged,
    replay,
    replay_effect,
    select,
)
from admin.errors import ConsoleRefusal
from admin.projection import PaymentTotals, projected
from admin.reads import payment_totals
from common.kafka import make_admin, make_confluent_producer
from common.topic_scan import TopicEntry, read_record, scan_topics
from schemas.providers import Provider

#: The console replays faster than the CLI's default: a selection is what ops chose to send.
REPLAY_PER_SECOND = 200.0
#: Messages of one replay preview whose outcome is projected (each needs its body read).
PROJECTED_AT_MOST = 50


def create_dlq_router(console: Console) -> APIRouter:
    router = APIRouter(prefix="/console/dlq", include_in_schema=False)
    settings = console.settings

    def listed() -> list[TopicEntry]:
        return console.mirror.entries(settings, [settings.topics.dlq])

    @router.get("")
    def dlq_page(request: Request, user: User, asked: Asked, page: str | None = None) -> Response:
        chosen = select(listed(), asked.selection())
        number = forms.number(page, "page", low=1, high=1_000_000) or 1
        shown = chosen[::-1][(number - 1) * PAGE_SIZE : number * PAGE_SIZE]  # newest first
        reasons = sorted({e.headers.get("dlq-reason", "unknown") for e in listed()})
        return console.page(
            request,
            "dlq.html",
            user,
            entries=shown,
            total=len(chosen),
            page=number,
            more=number * PAGE_SIZE < len(chosen),
            asked=asked.filled(),
            reasons=reasons,
            providers=[p.value for p in Provider],
        )

    @router.get("/replay")
    def replay_preview(
        request: Request,
        user: User,
        asked: Asked,
        m: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads, never mutates
    ) -> Response:
        """`m` (partition:offset, repeated) picks messages; without it, the filter does."""
        if m:
            chosen = _picked(listed(), forms.message_ids(m))
        else:
            chosen = select(listed(), asked.selection())
        totals = payment_totals(console.engine, {entry.key for entry in chosen})
        projecting = chosen[:PROJECTED_AT_MOST]
        bodies = console.read_bodies(
            settings, [(e.topic, e.partition, e.offset) for e in projecting]
        )
        rows = [
            (entry, totals.get(entry.key), replay_effect(entry), _projection(entry, bodies, totals))
            for entry in chosen
        ]
        return console.page(request, "replay_preview.html", user, rows=rows)

    @router.post("/replay")
    def replay_confirmed(
        user: User, csrf: Annotated[str, Form()], m: Annotated[list[str], Form()]
    ) -> Response:
        principal = console.checked(user, csrf, change=True)
        wanted = forms.message_ids(m)
        entries = _picked(scan_topics(settings, [settings.topics.dlq], with_values=True), wanted)
        if not entries:
            raise ConsoleRefusal(409, "none of these messages is in the dlq any more")
        selection = "messages " + ", ".join(f"{e.partition}:{e.offset}" for e in entries)
        try:
            producer = make_confluent_producer(settings)
            replay_id = replay(producer, entries, settings, REPLAY_PER_SECOND)
        except (KafkaException, RuntimeError) as exc:
            _audit(console, principal, "replay", selection, entries, "failed", str(exc))
            raise ConsoleRefusal(503, f"the replay did not complete: {exc}") from exc
        audit_id = _audit(console, principal, "replay", selection, entries, "ok", replay_id)
        return RedirectResponse(f"/console/audit#audit-{audit_id}", status_code=303)

    @router.get("/purge")
    def purge_preview(request: Request, user: User, before: str | None = None) -> Response:
        cutoff = forms.moment(before, "before")
        removed = _purged_before(listed(), cutoff) if cutoff else []
        context = {"before": before or "", "removed": removed, "cutoff": cutoff}
        return console.page(request, "purge_preview.html", user, **context)

    @router.post("/purge")
    def purge_confirmed(
        user: User, csrf: Annotated[str, Form()], before: Annotated[str, Form()]
    ) -> Response:
        principal = console.checked(user, csrf, change=True)
        cutoff = forms.moment(before, "before")
        if cutoff is None:
            raise ConsoleRefusal(400, "before: give the time to purge up to")
        entries = scan_topics(settings, [settings.topics.dlq])
        cut = purge_cut(entries, int(cutoff.timestamp() * 1000))
        removed = purged(entries, cut)
        selection = f"dead-lettered before {cutoff.isoformat()}"
        try:
            purge(make_admin(settings), settings.topics.dlq, cut)
        except KafkaException as exc:
            _audit(console, principal, "purge", selection, removed, "failed", str(exc))
            raise ConsoleRefusal(503, f"the purge did not complete: {exc}") from exc
        audit_id = _audit(console, principal, "purge", selection, removed, "ok", "")
        return RedirectResponse(f"/console/audit#audit-{audit_id}", status_code=303)

    @router.get("/{partition}/{offset}")
    def message_page(request: Request, user: User, partition: int, offset: int) -> Response:
        entry = read_record(settings, settings.topics.dlq, partition, offset)
        if entry is None:
            raise ConsoleRefusal(404, f"no dlq message at {partition}:{offset}")
        body = masked_body(entry.value)
        return console.page(request, "dlq_message.html", user, entry=entry, body=body)

    return router


@dataclass(frozen=True)
class DlqQuery:
    """The dlq filter's query fields, as typed into the form."""

    reason: str | None = None
    provider: str | None = None
    type: str | None = None
    since: str | None = None
    until: str | None = None

    def filled(self) -> dict[str, str]:
        """The fields given, for the form and the links that keep the filter."""
        return {name: value for name, value in asdict(self).items() if value}

    def selection(self) -> DlqFilter:
        return DlqFilter(
            provider=forms.provider(self.provider),
            event_type=forms.text(self.type, "type"),
            reason=forms.text(self.reason, "reason"),
            since=forms.moment(self.since, "since"),
            until=forms.moment(self.until, "until"),
        )


Asked = Annotated[DlqQuery, Depends()]


def _picked(entries: Sequence[TopicEntry], wanted: set[tuple[int, int]]) -> list[TopicEntry]:
    return [entry for entry in entries if (entry.partition, entry.offset) in wanted]


def _purged_before(entries: Sequence[TopicEntry], cutoff: datetime) -> list[TopicEntry]:
    return purged(entries, purge_cut(entries, int(cutoff.timestamp() * 1000)))


def _audit(
    console: Console,
    principal: Principal,
    action: audit.Action,
    selection: str,
    entries: Sequence[TopicEntry],
    result: audit.Result,
    detail: str,
) -> int:
    """Record it, and have the mirror re-read the dlq so the pages show the change."""
    console.mirror.request_refresh()
    now = datetime.now(UTC)
    return audit.record(
        console.engine, now, principal.name, action, selection, entries, result, detail
    )


def _projection(
    entry: TopicEntry,
    bodies: Mapping[tuple[str, int, int], TopicEntry],
    totals: Mapping[str, PaymentTotals],
) -> str:
    body = bodies.get((entry.topic, entry.partition, entry.offset))
    if body is None:
        return f"not projected (only the first {PROJECTED_AT_MOST} messages, still in the dlq)"
    return projected(body, totals.get(entry.key))
