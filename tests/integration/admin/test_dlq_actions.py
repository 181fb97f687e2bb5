"""A purge from the console on the real broker: previewed, confirmed with the session's
CSRF token, done, and in the audit log with who did it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from admin.app import create_admin_app
from common.kafka import make_admin, make_confluent_producer
from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from common.topics import create_topics, pipeline_topic_specs
from tests.support.admin import ADMIN, Browser


def dead_letters(settings: PipelineSettings, count: int) -> None:
    producer = make_confluent_producer(settings)
    for n in range(count):
        headers: list[tuple[str, str | bytes | None]] = [
            ("event-id", f"evt_{n}".encode()),
            ("dlq-reason", b"retries_exhausted"),
        ]
        producer.produce(
            settings.topics.dlq, key=f"stripe:pi_{n}".encode(), value=b"{}", headers=headers
        )
    assert producer.flush(15) == 0


async def test_a_purge_is_previewed_confirmed_and_audited(
    make_settings: Callable[..., PipelineSettings], database: str
) -> None:
    settings = make_settings(database_url=database, admin_tokens=ADMIN)
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    dead_letters(settings, 3)
    before = f"{datetime.now(UTC) + timedelta(minutes=1):%Y-%m-%dT%H:%M}"

    async with Browser(create_admin_app(settings)) as browser:
        await browser.sign_in(ADMIN)
        browser.app.state.console.mirror.refresh()
        preview = await browser.http.get("/console/dlq/purge", params={"before": before})
        assert "3 message(s) would be removed" in preview.text
        assert len(scan_topics(settings, [settings.topics.dlq])) == 3  # a preview removes nothing

        csrf = await browser.csrf()
        done = await browser.http.post("/console/dlq/purge", data={"csrf": csrf, "before": before})
        assert done.status_code == 303
        assert scan_topics(settings, [settings.topics.dlq]) == []
        audit = (await browser.http.get("/console/audit")).text
        assert "ops" in audit
        assert "purge" in audit
        assert f"dead-lettered before {before}" in audit
