"""The ops console's pages, under /console: sign-in, overview, events, a payment, and the
audit log (the dlq's pages are `admin.console_dlq`'s).

Server-rendered (Jinja2, autoescaped), no script. Without a valid session every page
redirects to the sign-in page and shows no data. Reads run in FastAPI's thread pool.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from admin import forms
from admin.audit import recent
from admin.auth import Principal, TokenBook
from admin.errors import ConsoleRefusal, SignInRequired
from admin.overview import RateKeeper, overview, scrape
from admin.reads import EventFilter, database_answers, read_events, read_payment
from admin.session import Session, SessionSigner, csrf_valid
from admin.topic_mirror import TopicMirror
from common.settings import PipelineSettings
from common.topic_scan import TopicEntry
from schemas.mapping import PaymentStatus
from schemas.providers import Provider

PAGE_SIZE = 50


@dataclass(frozen=True)
class Console:
    """Everything the console's routes share."""

    settings: PipelineSettings
    engine: Engine
    mirror: TopicMirror
    book: TokenBook
    signer: SessionSigner
    templates: Jinja2Templates
    rates: RateKeeper
    #: dlq records with their bodies (`common.topic_scan.read_records`)
    read_bodies: ReadBodies

    def signed_in(self, request: Request) -> tuple[Principal, Session]:
        session = self.signer.read(request)
        principal = self.book.by_fingerprint(session.fingerprint) if session else None
        if session is None or principal is None:
            raise SignInRequired
        return principal, session

    def page(
        self, request: Request, name: str, user: tuple[Principal, Session], **context: Any
    ) -> HTMLResponse:
        principal, session = user
        snapshot = self.mirror.snapshot
        common = {"user": principal, "csrf": session.csrf, "topics_read": snapshot}
        return self.templates.TemplateResponse(request, name, common | context)

    def checked(self, user: tuple[Principal, Session], csrf: str, *, change: bool) -> Principal:
        """The principal of a form post: its CSRF token matches, and it may change things
        when the form does."""
        principal, session = user
        if not csrf_valid(session, csrf):
            raise ConsoleRefusal(403, "the form is stale or not from this console: reload it")
        if change and not principal.may_change:
            raise ConsoleRefusal(403, "read-only token: viewers cannot replay or purge")
        return principal


def _signed_in(request: Request) -> tuple[Principal, Session]:
    console: Console = request.app.state.console
    return console.signed_in(request)


#: The signed-in user of a page; without a session, `SignInRequired` (to the sign-in page).
#: `(settings, [(topic, partition, offset)]) → those records with their bodies`
ReadBodies = Callable[
    [PipelineSettings, Sequence[tuple[str, int, int]]], Mapping[tuple[str, int, int], TopicEntry]
]
User = Annotated[tuple[Principal, Session], Depends(_signed_in)]


def create_console_router(console: Console) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/sign-in")
    def sign_in_page(request: Request) -> Response:
        return _sign_in_page(console, request, None)

    @router.post("/sign-in")
    def sign_in(
        request: Request, token: Annotated[str, Form()], csrf: Annotated[str, Form()]
    ) -> Response:
        principal = console.book.identify(token.strip())
        if not console.signer.sign_in_form_valid(request, csrf):
            return _sign_in_page(console, request, "The form expired: sign in again.")
        if principal is None:
            return _sign_in_page(console, request, "That token is not valid here.")
        response = RedirectResponse("/console/", status_code=303)
        console.signer.open(principal.fingerprint, response, request)
        return response

    @router.post("/sign-out")
    def sign_out(user: User, csrf: Annotated[str, Form()]) -> Response:
        console.checked(user, csrf, change=False)
        response = RedirectResponse("/console/sign-in", status_code=303)
        console.signer.close(response)
        return response

    @router.get("/")
    async def overview_page(request: Request, user: User) -> Response:
        settings = console.settings
        scraped = await scrape(settings.component_metrics)
        database = await asyncio.to_thread(database_answers, console.engine)
        dlq = console.mirror.entries(settings, [settings.topics.dlq])
        now = datetime.now(UTC)
        summary = overview(scraped, console.rates, settings.topics, dlq, now)
        return console.page(request, "overview.html", user, overview=summary, database=database)

    @router.get("/events")
    def events_page(
        request: Request,
        user: User,
        provider: str | None = None,
        type: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
    ) -> Response:
        wanted = EventFilter(
            forms.provider(provider),
            forms.text(type, "type"),
            forms.status(status),
            forms.moment(since, "since"),
            forms.moment(until, "until"),
            forms.text(q, "search"),
        )
        page = read_events(console.engine, wanted, forms.number(cursor, "cursor", low=1), PAGE_SIZE)
        asked = {"provider": provider, "type": type, "status": status, "since": since}
        asked |= {"until": until, "q": q}
        return console.page(
            request,
            "events.html",
            user,
            page=page,
            asked=_filled(asked),
            providers=[p.value for p in Provider],
            statuses=[s.value for s in PaymentStatus],
        )

    @router.get("/payments/{provider}/{payment_id}")
    def payment_page(request: Request, user: User, provider: str, payment_id: str) -> Response:
        chosen = forms.provider(provider)
        identifier = forms.text(payment_id, "payment id")
        if chosen is None or identifier is None:
            raise ConsoleRefusal(404, "no such payment")
        settings = console.settings
        laddered = console.mirror.entries(settings, [*settings.topics.retry, settings.topics.dlq])
        view = read_payment(console.engine, laddered, settings.topics, chosen, identifier)
        if view is None:
            raise ConsoleRefusal(404, "nothing is known of this payment")
        context = {"view": view, "provider": chosen, "payment_id": identifier}
        return console.page(request, "payment.html", user, **context)

    @router.get("/audit")
    def audit_page(request: Request, user: User, before: str | None = None) -> Response:
        entries = recent(console.engine, PAGE_SIZE, forms.number(before, "before", low=1))
        older = entries[-1].id if len(entries) == PAGE_SIZE else None
        return console.page(request, "audit.html", user, entries=entries, older=older)

    return router


def _filled(asked: Mapping[str, str | None]) -> dict[str, str]:
    """The filters as asked, for the form and the next page's link."""
    return {name: value for name, value in asked.items() if value}


def _sign_in_page(console: Console, request: Request, error: str | None) -> Response:
    """The sign-in form with a fresh CSRF token, remembered in a cookie to compare with."""
    token = secrets.token_urlsafe(32)
    context = {"error": error, "csrf": token}
    response = console.templates.TemplateResponse(
        request, "sign_in.html", context, status_code=401 if error else 200
    )
    console.signer.remember_sign_in_form(token, response, request)
    return response
