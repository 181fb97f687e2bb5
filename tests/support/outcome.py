"""What the pipeline made of a load, checked against what was sent and what ingress
acknowledged: every 2xx'd webhook in Postgres exactly once (and nothing that was never
sent), every fully acknowledged payment in its expected final state, nothing in dlq.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from schemas import headers as h
from sinks.database import make_engine
from sinks.tables import payment_transitions, payments, webhook_events
from tests.support.load import EventKey, Report, key_of
from tests.support.stories import Story

#: After everything arrived: how long to watch for anything extra (a late duplicate or
#: regression) before the final look.
QUIET_SECONDS = 2.0
PaymentKey = tuple[str, str]  # (provider, payment id)


@dataclass(frozen=True)
class Stored:
    """The sink's tables: event → its payment id, per table; payment → its row, and the
    versions (the worker's per-payment state numbers) its events were applied at."""

    events: dict[EventKey, str]
    transitions: dict[EventKey, str]
    payments: dict[PaymentKey, dict[str, Any]]
    versions: dict[PaymentKey, list[int]]


def read_stored(database_url: str) -> Stored:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:

            def events(table: Any) -> dict[EventKey, str]:
                columns = (table.c.provider, table.c.event_id, table.c.payment_id)
                return {(p, e): pid for p, e, pid in connection.execute(select(*columns))}

            rows = connection.execute(select(payments)).mappings()
            columns = (webhook_events.c.provider, webhook_events.c.payment_id)
            versions: dict[PaymentKey, list[int]] = {}
            for p, pid, v in connection.execute(select(*columns, webhook_events.c.version)):
                versions.setdefault((p, pid), []).append(v)
            return Stored(
                events(webhook_events),
                events(payment_transitions),
                {(row["provider"], row["payment_id"]): dict(row) for row in rows},
                versions,
            )
    finally:
        engine.dispose()


def problems(
    told: Sequence[Story], report: Report, stored: Stored, *, exact_versions: bool
) -> list[str]:
    """Everything wrong with `stored`, given what was sent and acknowledged; [] when all is
    well. `exact_versions`: each event applied exactly once, so a payment's n events carry
    the versions 1…n; after a worker crash a replayed event is legitimately applied again
    (its outputs may have been lost), which takes a version number of its own."""
    sent = {key_of(w): story.payment_id for story in told for w in story.webhooks}
    found: list[str] = []
    for name, table in (
        ("webhook_events", stored.events),
        ("payment_transitions", stored.transitions),
    ):
        missing = sorted(set(report.acknowledged) - set(table))
        foreign = sorted(set(table) - set(sent))
        misfiled = sorted(k for k, pid in table.items() if k in sent and sent[k] != pid)
        for what, keys in (
            ("missing", missing),
            ("never sent", foreign),
            ("wrong payment", misfiled),
        ):
            if keys:
                found.append(f"{name}: {len(keys)} events {what}, e.g. {keys[:5]}")
    found += _payment_problems(told, report, stored, exact_versions)
    return found


def _payment_problems(
    told: Sequence[Story], report: Report, stored: Stored, exact_versions: bool
) -> list[str]:
    found: list[str] = []
    for story in told:
        if not all(key_of(w) in report.acknowledged for w in story.webhooks):
            continue  # some event may never have been taken: its final state is unknown
        row = stored.payments.get((story.provider.value, story.payment_id))
        if row is None:
            found.append(f"payment {story.payment_id}: no row")
            continue
        want = story.expected
        have = (row["status"], row["currency"], row["captured_amount"], row["refunded_amount"])
        if have != (want.status.value, want.currency, want.captured, want.refunded):
            found.append(f"payment {story.payment_id}: {have}, want {want}")
        versions = sorted(stored.versions.get((story.provider.value, story.payment_id), []))
        if exact_versions and versions != list(range(1, len(story.webhooks) + 1)):
            found.append(f"payment {story.payment_id}: its events applied at versions {versions}")
    known = {(story.provider.value, story.payment_id) for story in told}
    if unknown := sorted(set(stored.payments) - known):
        found.append(f"payments never sent: {unknown[:5]}")
    return found


def dead_letters(settings: PipelineSettings) -> list[str]:
    """`event id (dlq-reason: error-message)` of every dlq record."""
    return [
        f"{entry.headers.get(h.EVENT_ID)} ({entry.headers.get(h.DLQ_REASON)}: "
        f"{entry.headers.get(h.ERROR_MESSAGE)})"
        for entry in scan_topics(settings, [settings.topics.dlq])
    ]


async def assert_pipeline_outcome(
    settings: PipelineSettings,
    told: Sequence[Story],
    report: Report,
    *,
    exact_versions: bool = False,
    crashes: Sequence[str] = (),
    settle_seconds: float = 120.0,
) -> Stored:
    """Wait (up to `settle_seconds`) until Postgres holds what it must, watch it a little
    longer, then fail with every problem found: dlq records and `crashes` (components that
    died on their own) included."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle_seconds
    while True:
        stored = await asyncio.to_thread(read_stored, settings.database_url)
        if not problems(told, report, stored, exact_versions=exact_versions):
            break
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(QUIET_SECONDS)
    stored = await asyncio.to_thread(read_stored, settings.database_url)
    found = problems(told, report, stored, exact_versions=exact_versions)
    if report.refused or report.abandoned:  # ingress must take every genuine webhook in the end
        found.append("deliveries that never got a 2xx")
    if dlq := await asyncio.to_thread(dead_letters, settings):
        found.append(f"{len(dlq)} records in dlq, e.g. {dlq[:5]}")
    found += crashes
    assert not found, "\n".join([*found, report.summary()])
    return stored
