from datetime import UTC, datetime

import pytest

from admin.views import dlq_summary, timeline, topic_steps
from sinks.topic_scan import TopicEntry

pytestmark = pytest.mark.unit


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
