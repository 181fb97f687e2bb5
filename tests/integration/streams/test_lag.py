"""The worker exports its group's lag on raw-webhooks and the retry tiers."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from ops.samples import stripe_capture
from streams.worker import app_id
from tests.support.pipeline import Pipeline
from tests.support.topic_reader import WAIT_SECONDS


def lags(pipeline: Pipeline) -> dict[tuple[str, str], float]:
    """(topic, partition) → lag, as the worker's /metrics shows it for its group."""
    url = f"http://127.0.0.1:{pipeline.metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310: loopback
            text = response.read().decode()
    except OSError:
        return {}  # not serving yet
    group = app_id(pipeline.settings)
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "payments_consumer_lag" and s.labels["group"] == group
    }


def test_the_worker_exports_its_lag_and_it_drains_to_zero(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline()
    topics = pipeline.settings.topics
    for n in range(8):
        pipeline.produce(f"stripe:pi_{n}", stripe_capture(f"evt_{n}", f"pi_{n}"), f"evt_{n}")
    pipeline.start_worker()
    pipeline.reader(topics.payment_events).wait_for(lambda rs: len(rs) == 8)

    partitions = [str(p) for p in range(pipeline.settings.topic_partitions)]
    expected = {(t, p) for t in (topics.raw_webhooks, *topics.retry) for p in partitions}
    deadline = time.monotonic() + WAIT_SECONDS
    while (seen := lags(pipeline)).keys() != expected or any(seen.values()):
        assert time.monotonic() < deadline, f"lag never drained: {seen}"
        time.sleep(0.5)
