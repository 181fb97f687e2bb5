"""The sink's Prometheus metrics, served on SINK_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from common.metrics import AGE_BUCKETS

EVENTS_WRITTEN = Counter(
    "payments_sink_events_written_total",
    "payment-events committed to the database (a redelivered one counts again)",
)
DEAD_LETTERED = Counter(
    "payments_sink_dead_lettered_total", "payment-events sent to dlq", ["reason"]
)
DB_ERRORS = Counter(
    "payments_sink_db_errors_total",
    "failed batch transactions: `unavailable` pauses the sink, `data` dead-letters rows",
    ["kind"],
)
PAUSED = Gauge("payments_sink_paused", "1 while the sink waits for the database")
BATCH_SECONDS = Histogram(
    "payments_sink_batch_seconds",
    "from a batch's write to its offset commit (decoded while the previous one was written)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BATCH_SIZE = Histogram(
    "payments_sink_batch_records",
    "records per batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
END_TO_END_SECONDS = Histogram(
    "payments_sink_end_to_end_seconds",
    "from ingress receiving the webhook to its row being committed",
    buckets=AGE_BUCKETS,
)
INPUT_AGE_SECONDS = Histogram(
    "payments_sink_input_age_seconds",
    "from the worker producing a payment-event (its record timestamp) to its row being committed",
    buckets=AGE_BUCKETS,
)
