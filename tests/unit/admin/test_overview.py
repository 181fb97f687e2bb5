from datetime import UTC, datetime

from admin.overview import RateKeeper, lag_by_topic, overview
from common.settings import TopicNames
from common.topic_scan import TopicEntry

TOPICS = TopicNames.with_prefix("")
LAG = "payments_consumer_lag"


def lag(group: str, topic: str, partition: str, value: float) -> tuple[str, dict[str, str], float]:
    return (LAG, {"group": group, "topic": topic, "partition": partition}, value)


def test_lag_takes_the_largest_replica_report_per_partition_then_sums() -> None:
    scraped = {
        "worker": [lag("w", "raw-webhooks", "0", 3), lag("w", "raw-webhooks", "1", 4)],
        "worker-2": [lag("w", "raw-webhooks", "0", 5)],
        "sink": [lag("s", "payment-events", "0", 2)],
        "down": None,
    }
    assert lag_by_topic(scraped) == {"raw-webhooks": 9, "payment-events": 2}


def test_a_rate_needs_an_earlier_reading_and_survives_a_restart() -> None:
    rates = RateKeeper()
    assert rates.rate("sink", 100, now=10.0) is None
    assert rates.rate("sink", 150, now=20.0) == 5.0
    assert rates.rate("sink", 3, now=30.0) is None  # the counter restarted


def test_overview() -> None:
    scraped = {
        "ingress": [("payments_ingress_webhook_requests_total", {"outcome": "accepted"}, 7.0)],
        "worker": [lag("w", "retry-5m", "0", 2), lag("w", "raw-webhooks", "0", 1)],
        "sink": None,
    }
    dlq = [
        TopicEntry("dlq", "stripe:pi_1", 1_000_000, {"dlq-reason": "retries_exhausted"}),
        TopicEntry("dlq", "stripe:pi_2", 1_060_000, {"dlq-reason": "currency_mismatch"}),
    ]
    now = datetime.fromtimestamp(1_120, UTC)
    view = overview(scraped, RateKeeper(), TOPICS, dlq, now)
    assert [(c.name, c.up, c.processed) for c in view.components] == [
        ("ingress", True, 7.0),
        ("worker", True, 0.0),
        ("sink", False, None),
    ]
    assert view.lag == {"raw-webhooks": 1}
    assert view.retry_depth == {"retry-1m": 0, "retry-5m": 2, "retry-30m": 0}
    assert view.dlq.by_reason == {"retries_exhausted": 1, "currency_mismatch": 1}
    assert view.dlq_oldest_age_seconds == 120.0
