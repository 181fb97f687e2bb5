from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from admin.dlq import DlqFilter, purge_cut, purged, replay_record, replay_target, select
from admin.projection import PaymentTotals
from common.masking import MASK, mask_document
from common.settings import PipelineSettings
from common.topic_scan import TopicEntry
from ops.dlq import dry_run_line

T0 = 1_764_100_000_000
SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


def entry(partition: int, offset: int, at: int, **headers: str) -> TopicEntry:
    base = {
        "provider": "stripe",
        "event-id": f"evt_{partition}_{offset}",
        "event-type": "refund.created",
    }
    return TopicEntry("dlq", "stripe:pi_1", at, base | headers, partition, offset, b"{}")


def test_filters_combine() -> None:
    entries = [
        entry(0, 0, T0, **{"dlq-reason": "retries_exhausted"}),
        entry(0, 1, T0 + 10, **{"dlq-reason": "currency_mismatch"}),
        entry(1, 0, T0 + 20, provider="paypal", **{"dlq-reason": "retries_exhausted"}),
    ]
    since = datetime.fromtimestamp((T0 + 5) / 1000, UTC)
    chosen = select(entries, DlqFilter(reason="retries_exhausted", since=since))
    assert [(e.partition, e.offset) for e in chosen] == [(1, 0)]
    assert select(entries, DlqFilter(provider="stripe", key="stripe:pi_1")) == entries[:2]
    assert select(entries, DlqFilter()) == entries


def test_a_replay_carries_the_original_headers_and_says_where_it_came_from() -> None:
    original = entry(2, 7, T0, **{"retry-attempt": "6", "dlq-reason": "x", "correlation-id": "c1"})
    key, value, headers = replay_record(original, "dlq", "run-1")
    names = dict(headers)
    assert key == b"stripe:pi_1"
    assert value == b"{}"
    assert names["replayed-from"] == b"dlq:2:7"
    assert names["replay-id"] == b"run-1"
    assert names["correlation-id"] == b"c1"
    assert "retry-attempt" not in names
    assert "dlq-reason" not in names


def test_the_sinks_dead_letters_go_back_to_payment_events() -> None:
    settings = PipelineSettings(_env_file=None, topic_prefix="p.")
    assert replay_target(entry(0, 0, T0), settings) == "p.raw-webhooks"
    from_sink = entry(0, 0, T0, **{"original-topic": "p.payment-events"})
    assert replay_target(from_sink, settings) == "p.payment-events"


def test_a_dry_run_names_the_current_status_the_events_effect_and_the_outcome() -> None:
    captured = PaymentTotals("captured", "USD", 5000, 5000, 0, 1, datetime(2025, 1, 1, tzinfo=UTC))
    line = dry_run_line(entry(0, 0, T0), captured)
    assert "payment now: captured; event: refund" in line
    assert "would become: dead-lettered again: " in line  # its body is `{}`
    unknown = dry_run_line(entry(0, 0, T0, **{"event-type": "invoice.paid"}), None)
    assert "payment now: unknown" in unknown
    assert "unsupported event type" in unknown


def test_purge_removes_only_each_partitions_old_prefix() -> None:
    entries = [
        entry(0, 0, T0),
        entry(0, 1, T0 + 1),
        entry(0, 2, T0 + 100),  # newer: the cut stops here
        entry(0, 3, T0 + 2),  # older, but behind a newer one: kept
        entry(1, 5, T0 + 100),
    ]
    cut = purge_cut(entries, T0 + 50)
    assert cut == {0: 2}
    assert [(e.partition, e.offset) for e in purged(entries, cut)] == [(0, 0), (0, 1)]


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_masking_leaves_no_personal_data_in_real_payload_shapes(sample: Path) -> None:
    masked = json.dumps(mask_document(json.loads(sample.read_bytes())))
    for personal in ("@example.", "Doe", "4242", "Main St"):
        assert personal not in masked, personal
    document = json.loads(sample.read_bytes())
    assert json.loads(masked)["id"] == document["id"]  # ids stay readable


def test_masking_keeps_ids_amounts_and_statuses() -> None:
    document = {"id": "pi_1", "amount": 5, "status": "ok", "payer": {"email_address": "x@y.z"}}
    assert mask_document(document) == {"id": "pi_1", "amount": 5, "status": "ok", "payer": MASK}
