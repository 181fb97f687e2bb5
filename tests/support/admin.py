"""The admin process's app over a migrated PostgreSQL database, with a fixed dlq, and a
client that keeps cookies as a browser would."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI

from admin.app import create_admin_app
from common.settings import PipelineSettings
from common.topic_scan import TopicEntry

ADMIN = "ops:0cc175b9c0f1b6a831c399e269772661"
VIEWER = "auditor:92eb5ffee6ae2fec3ad71c777531578f"
MARKUP = "<script>alert(1)</script>"
#: A path segment holds no slash: markup without one, for a payment id.
ATTRIBUTE_MARKUP = "<img src=x onerror=alert(1)>"


def dlq(settings: PipelineSettings, _topics: Sequence[str]) -> list[TopicEntry]:
    headers = {
        "provider": "stripe",
        "event-id": f"evt_{MARKUP}",
        "event-type": "refund.created",
        "dlq-reason": "retries_exhausted",
    }
    key = f"stripe:pi_{ATTRIBUTE_MARKUP}"
    return [TopicEntry(settings.topics.dlq, key, 1_764_100_000_000, headers)]


def console_app(database: str, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {
        "database_url": database,
        "admin_tokens": ADMIN,
        "admin_viewer_tokens": VIEWER,
        "admin_session_secret": "a-fixed-signing-key-for-this-test",
        "kafka_bootstrap_servers": "127.0.0.1:9",  # never reached: the dlq is `dlq`
    }
    settings = PipelineSettings(_env_file=None, **(values | overrides))
    return create_admin_app(settings, scan=dlq, read_bodies=lambda _settings, _wanted: {})


class Browser:
    """An httpx client on the app with its lifespan running, cookies kept as a browser would."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://admin")

    async def __aenter__(self) -> Browser:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()
        await self._lifespan.__aexit__(None, None, None)

    async def sign_in(self, token: str) -> httpx.Response:
        form = await self.http.get("/console/sign-in")
        return await self.http.post(
            "/console/sign-in", data={"token": token, "csrf": csrf_of(form.text)}
        )

    async def csrf(self) -> str:
        return csrf_of((await self.http.get("/console/audit")).text)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)
