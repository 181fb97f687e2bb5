"""The admin process (`payments admin`): the JSON admin API and the ops console, on a
private port of their own (ADMIN_HOST:ADMIN_PORT, default 127.0.0.1:8001), away from the
webhooks' public port and hot path."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import SecretStr
from sqlalchemy import Engine

from admin.api import create_admin_router
from admin.auth import TokenBook, unsafe_tokens
from admin.console import Console, ReadBodies, create_console_router
from admin.console_dlq import create_dlq_router
from admin.errors import ADMIN_RESPONSES, install_error_handlers
from admin.overview import RateKeeper
from admin.session import SessionSigner
from admin.topic_mirror import Scan, TopicMirror
from common.metrics import render_metrics
from common.settings import PipelineSettings
from common.topic_scan import read_records, scan_topics
from sinks.database import make_engine

HERE = Path(__file__).parent


class UnsafeTokens(ValueError):
    """The admin process refuses to start: its tokens would let anyone in."""


def create_admin_app(
    settings: PipelineSettings,
    engine: Engine | None = None,
    scan: Scan = scan_topics,
    read_bodies: ReadBodies = read_records,
) -> FastAPI:
    """Raises `UnsafeTokens` for an empty or placeholder token (admin or viewer). `scan` and
    `read_bodies` read the retry tiers and the dlq (tests give them fixed records)."""
    problems = unsafe_tokens(settings.admin_tokens)
    if settings.admin_viewer_tokens:
        problems += unsafe_tokens(settings.admin_viewer_tokens)
    if problems:
        raise UnsafeTokens("; ".join(problems))
    database = engine or make_engine(settings.database_url)
    mirror = TopicMirror(settings, scan)
    console = _console(settings, database, mirror, read_bodies)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        mirror.start()
        try:
            yield
        finally:
            mirror.stop()
            database.dispose()

    app = FastAPI(title="payments-admin", version="0.1.0", lifespan=lifespan)
    app.state.console = console
    install_error_handlers(app, console.templates)
    app.include_router(
        create_admin_router(settings, database, mirror.entries, console.book),
        responses=ADMIN_RESPONSES,
    )
    app.include_router(create_console_router(console))
    app.include_router(create_dlq_router(console))
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    return app


def _console(
    settings: PipelineSettings, engine: Engine, mirror: TopicMirror, read_bodies: ReadBodies
) -> Console:
    secret = settings.admin_session_secret.get_secret_value() or secrets.token_urlsafe(32)
    signer = SessionSigner(secret, settings.admin_session_seconds, settings.admin_secure_cookies)
    # Autoescape on every template: ids, types and fields come from webhook payloads.
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    environment.filters["moment"] = _moment
    environment.filters["age"] = _age
    return Console(
        settings=settings,
        engine=engine,
        mirror=mirror,
        book=TokenBook(settings.admin_tokens, settings.admin_viewer_tokens),
        signer=signer,
        templates=Jinja2Templates(env=environment),
        rates=RateKeeper(),
        read_bodies=read_bodies,
    )


def _moment(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_openapi(settings: PipelineSettings) -> str:
    """openapi-admin.json as committed: stable key order, one trailing newline."""
    # The document does not depend on the tokens; the app refuses to be built without one.
    placeholder = [SecretStr(secrets.token_urlsafe(32))]
    document: dict[str, Any] = create_admin_app(
        settings.model_copy(update={"admin_tokens": placeholder})
    ).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
