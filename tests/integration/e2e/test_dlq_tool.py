"""`payments dlq` against the real broker and a running worker: an event that failed on a
bug climbs the ladder into dlq; once the fix is deployed, list, show (masked), replay (dry
run, then twice: applied once), purge (confirmed, audited in a file and, as every replay,
in the database's audit log)."""

from __future__ import annotations

import json
from contextlib import ExitStack, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from admin.audit import AuditEntry, recent
from common.kafka import make_confluent_producer
from common.settings import PipelineSettings
from ops.cli import app
from ops.samples import raw_headers, stripe_capture, stripe_refund
from sinks.database import make_engine
from sinks.migrate import upgrade
from tests.support.faulty_worker import POISON_PREFIX
from tests.support.topic_reader import Reader
from tests.support.workers import Workers

INTENT = "pi_dlq_replay"
KEY = f"stripe:{INTENT}"
REFUND = f"{POISON_PREFIX}_refund"  # the faulty worker fails on it


def cli(settings: PipelineSettings, *args: str) -> str:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "DATABASE_URL": settings.database_url,
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def produce(settings: PipelineSettings, event_id: str, event_type: str, body: bytes) -> None:
    producer = make_confluent_producer(settings)
    producer.produce(
        settings.topics.raw_webhooks,
        key=KEY.encode(),
        value=body,
        headers=raw_headers(event_id, event_type),  # type: ignore[arg-type]
    )
    assert producer.flush(15) == 0


def with_personal_data(body: bytes) -> bytes:
    event = json.loads(body)
    event["data"]["object"]["billing_details"] = {"email": "jane@example.com", "name": "Jane"}
    return json.dumps(event).encode()


@pytest.mark.usefixtures("topics")
def test_a_dead_lettered_refund_replayed_twice_is_applied_once(
    pipeline_settings: PipelineSettings, workers: Workers, tmp_path: Path
) -> None:
    with ExitStack() as readers:
        dlq_tool_story(pipeline_settings, workers, tmp_path, readers)


def dlq_tool_story(
    settings: PipelineSettings, workers: Workers, tmp_path: Path, readers: ExitStack
) -> None:
    upgrade(settings.database_url)  # the audit log's tables
    workers.start(settings, "faulty", module="tests.support.faulty_worker")
    capture = stripe_capture("evt_capture", INTENT, 1000)
    produce(settings, "evt_capture", "payment_intent.succeeded", capture)
    refund = with_personal_data(stripe_refund(REFUND, INTENT, "re_1", 300))
    produce(settings, REFUND, "refund.created", refund)
    dlq = readers.enter_context(closing(Reader(settings, settings.topics.dlq)))
    dlq.wait_for(lambda records: len(records) == 1)
    assert dlq.records[0].headers["dlq-reason"] == "retries_exhausted"
    assert dlq.records[0].headers["error-class"] == "RuntimeError"
    events = readers.enter_context(closing(Reader(settings, settings.topics.payment_events)))
    events.wait_for(lambda records: len(records) == 1)

    listed = cli(settings, "dlq", "--key", KEY, "list")
    assert REFUND in listed
    assert "reason=retries_exhausted" in listed
    assert "1 message(s)" in listed
    shown = cli(settings, "dlq", "--event-id", REFUND, "show")
    assert "retry-attempt" in shown
    assert "jane@example.com" not in shown
    assert '"billing_details": "[masked]"' in shown

    workers.stop("faulty")  # the fix is deployed
    workers.start(settings, "fixed")

    dry = cli(settings, "dlq", "--key", KEY, "replay", "--dry-run")
    assert "would replay" in dry
    assert "event: refund" in dry
    time_before_replay = datetime.now(UTC)
    assert len(events.poll(1.0)) == 1  # a dry run sends nothing

    assert "replayed 1 message(s)" in cli(settings, "dlq", "--key", KEY, "replay")
    assert "replayed 1 message(s)" in cli(settings, "dlq", "--key", KEY, "replay")
    events.wait_for(lambda records: len(records) >= 2)
    events.poll(3.0)  # a second application would show up here
    applied = [json.loads(r.value or b"") for r in events.records]
    assert [e["event_id"] for e in applied] == ["evt_capture", REFUND]
    assert applied[-1]["refunded_amount"] == 300
    assert len(dlq.poll(1.0)) == 1  # the replays did not dead-letter again

    audit = tmp_path / "purged.jsonl"
    before = (time_before_replay + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    refused = CliRunner().invoke(
        app,
        ["dlq", "purge", "--before", before, "--audit-file", str(audit)],
        env={
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "TOPIC_PREFIX": settings.topic_prefix,
        },
    )
    assert refused.exit_code == 1
    assert "would remove 1 message(s)" in refused.output
    assert not audit.exists()
    purged = cli(settings, "dlq", "purge", "--before", before, "--yes", "--audit-file", str(audit))
    assert "purged 1 message(s)" in purged
    (line,) = audit.read_text().splitlines()
    assert json.loads(line)["headers"]["event-id"] == REFUND
    assert "0 message(s)" in cli(settings, "dlq", "list")
    logged = audit_log(settings)
    assert [(a.action, a.message_count, a.result) for a in logged] == [
        ("purge", 1, "ok"),
        ("replay", 1, "ok"),
        ("replay", 1, "ok"),
    ]
    assert all(a.actor.startswith("cli:") for a in logged)
    assert logged[-1].selection == f"cli --key={KEY}"


def audit_log(settings: PipelineSettings) -> list[AuditEntry]:
    engine = make_engine(settings.database_url)
    try:
        return recent(engine, 10)
    finally:
        engine.dispose()
