"""The admin router on a small app of its own, over a database and a dlq the real sink
filled; the topics read fresh at each request."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from admin.api import create_admin_router
from admin.auth import TokenBook
from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from sinks.database import make_engine
from tests.support.payment_events import T0
from tests.support.sink import BACKENDS, dead_letter_scenario, fresh_database, topics_for

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module", params=BACKENDS)
async def admin(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    kafka_bootstrap: str,
) -> AsyncIterator[httpx.AsyncClient]:
    """One filled database and dlq per backend, shared by this module's read-only tests."""
    with fresh_database(request.param, request, tmp_path_factory.mktemp("admin")) as url:
        settings = topics_for(
            PipelineSettings(
                _env_file=None,
                kafka_bootstrap_servers=kafka_bootstrap,
                topic_prefix=f"t{uuid.uuid4().hex[:10]}-",
                database_url=url,
                admin_tokens=[SecretStr(TOKEN)],
            )
        )
        await dead_letter_scenario(settings)
        app = FastAPI()
        engine = make_engine(url)
        book = TokenBook(settings.admin_tokens, [])
        app.include_router(create_admin_router(settings, engine, scan_topics, book))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            yield client
        engine.dispose()


@pytest.mark.parametrize("path", ["/admin/events", "/admin/payments/stripe/pi_good1", "/admin/dlq"])
async def test_every_route_needs_a_valid_token(admin: httpx.AsyncClient, path: str) -> None:
    assert (await admin.get(path)).status_code == 401
    assert (await admin.get(path, headers={"Authorization": "Bearer guess"})).status_code == 403
    assert (await admin.get(path, headers=AUTH)).status_code == 200


async def test_events_filter_and_paginate(admin: httpx.AsyncClient) -> None:
    first = (await admin.get("/admin/events", params={"limit": 1}, headers=AUTH)).json()
    cursor = first["next_cursor"]
    second = (
        await admin.get("/admin/events", params={"limit": 1, "cursor": cursor}, headers=AUTH)
    ).json()
    assert [e["event_id"] for e in first["events"] + second["events"]] == [
        "evt_good2",
        "evt_good1",
    ]
    assert second["next_cursor"] is None

    received = (T0 + timedelta(seconds=1)).isoformat()
    filters = {
        "provider": "stripe",
        "type": "payment_intent.succeeded",
        "status": "captured",
        "since": received,
        "until": (T0 + timedelta(seconds=2)).isoformat(),
    }
    page = (await admin.get("/admin/events", params=filters, headers=AUTH)).json()
    assert len(page["events"]) == 2
    none = {**filters, "status": "refunded"}
    assert (await admin.get("/admin/events", params=none, headers=AUTH)).json()["events"] == []


async def test_a_payment_shows_its_state_and_timeline(admin: httpx.AsyncClient) -> None:
    view = (await admin.get("/admin/payments/stripe/pi_good2", headers=AUTH)).json()
    assert view["payment"]["status"] == "captured"
    assert [(s["stage"], s["detail"]) for s in view["timeline"]] == [
        ("received", ""),
        ("applied", "authorized -> captured (v1)"),
    ]


async def test_a_dead_lettered_payment_shows_where_it_stopped(admin: httpx.AsyncClient) -> None:
    view = (await admin.get("/admin/payments/stripe/pi_huge", headers=AUTH)).json()
    assert view["payment"] is None
    assert [(s["stage"], s["detail"]) for s in view["timeline"]] == [
        ("dead_lettered", "database_rejected")
    ]
    unknown = await admin.get("/admin/payments/stripe/pi_never", headers=AUTH)
    assert unknown.status_code == 404


async def test_dlq_summary(admin: httpx.AsyncClient) -> None:
    summary = (await admin.get("/admin/dlq", headers=AUTH)).json()
    assert summary["count"] == 2
    assert summary["by_reason"] == {"database_rejected": 1, "invalid_payment_event": 1}
    assert summary["oldest"] <= summary["newest"]
    assert "error-message" not in str(summary)
