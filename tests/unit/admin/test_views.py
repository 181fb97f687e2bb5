from datetime import UTC, datetime

from admin.views import dlq_summary, related_ids, replay_steps, timeline, topic_steps
from common.topic_scan import TopicEntry


def entry(topic: str, at_ms: int, **headers: str) -> TopicEntry:
    return TopicEntry(topic, "stripe:pi_1", at_ms, {"event-id": "evt_1", **headers})


def test_dlq_summary_counts_by_reason_with_oldest_and_newest() -> None:
    entries = [
        entry("dlq", 3000, **{"dlq-reason": "currency_mismatch"}),
        entry("dlq", 1000, **{"dlq-reason": "database_rejected"}),
        entry("dlq", 2000, **{"dlq-reason": "currency_mismatch"}),
        entry("dlq", 4000),
    ]
    summary = dlq_summary(entries)
    assert summary.count == 4
    assert summary.by_reason == {"currency_mismatch": 2, "database_rejected": 1, "unknown": 1}
    assert summary.oldest == datetime.fromtimestamp(1, UTC)
    assert summary.newest == datetime.fromtimestamp(4, UTC)


def test_an_empty_dlq() -> None:
    assert dlq_summary([]).model_dump() == {
        "count": 0,
        "by_reason": {},
        "oldest": None,
        "newest": None,
    }


def test_retry_and_dlq_records_become_timeline_steps_in_time_order() -> None:
    steps = timeline(
        topic_steps(
            [
                entry("dlq", 9000, **{"dlq-reason": "refund_exceeds_captured"}),
                entry("retry-1m", 5000, **{"retry-attempt": "1", "error-class": "NotYet"}),
            ],
            "dlq",
        )
    )
    assert [(s.stage, s.detail) for s in steps] == [
        ("retried", "attempt 1 on retry-1m after NotYet"),
        ("dead_lettered", "refund_exceeds_captured"),
    ]


def test_related_ids_in_first_seen_order_without_repeats() -> None:
    empty = dict.fromkeys(("order_id", "charge_id", "refund_id", "dispute_id", "correlation_id"))
    rows = [
        empty | {"charge_id": "ch_1", "correlation_id": "c1"},
        empty | {"charge_id": "ch_1", "refund_id": "re_1", "correlation_id": "c2"},
    ]
    assert related_ids(rows) == {  # type: ignore[arg-type]
        "charge_id": ["ch_1"],
        "refund_id": ["re_1"],
        "correlation_id": ["c1", "c2"],
    }


def test_replays_join_the_timeline_and_purges_do_not() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    base = {"at": at, "actor": "ops", "result": "ok", "detail": "r1", "event_id": "evt_1"}
    rows = [base | {"action": "replay"}, base | {"action": "purge"}]
    steps = replay_steps(rows)  # type: ignore[arg-type]
    assert [(s.stage, s.event_id, s.detail) for s in steps] == [
        ("replayed", "evt_1", "by ops: ok r1")
    ]
