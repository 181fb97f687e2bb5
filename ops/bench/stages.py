"""Where the end-to-end benchmark's latency goes, stage by stage, from the histograms the
components export on /metrics (p50 and p99 as Prometheus' `histogram_quantile` computes
them: interpolated inside a bucket, so as fine as the buckets).

The record timestamps the ages are measured from are their producers' send times: the
ingress's for raw-webhooks, the worker's for payment-events.
"""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from ops.metric_math import histogram_quantile


@dataclass(frozen=True)
class Stage:
    title: str
    component: str  # "ingress", "worker" or "sink"
    histogram: str
    labels: Mapping[str, str]


STAGES = (
    Stage(
        "ingress request (routing → answer, broker ack included)",
        "ingress",
        "payments_ingress_webhook_request_duration_seconds",
        {},
    ),
    Stage(
        "ingress produce → broker ack", "ingress", "payments_ingress_produce_duration_seconds", {}
    ),
    Stage(
        "raw-webhooks record → worker takes it",
        "worker",
        "payments_worker_input_age_seconds",
        {"source": "raw"},
    ),
    Stage(
        "worker take (steps, table, hand-off), per take",
        "worker",
        "payments_worker_batch_duration_seconds",
        {"source": "raw"},
    ),
    Stage(
        "payment-events record → row committed",
        "sink",
        "payments_sink_input_age_seconds",
        {},
    ),
    Stage("ingress received → row committed", "sink", "payments_sink_end_to_end_seconds", {}),
)

Quantiles = tuple[float, float]  # p50, p99 in seconds


def stage_latencies(ports: Mapping[str, Iterable[int]]) -> dict[str, Quantiles]:
    """p50 and p99 of each stage, its histogram summed over the component's processes
    whose /metrics ports `ports` names."""
    return quantiles(
        {component: [_scrape(port) for port in each] for component, each in ports.items()}
    )


def quantiles(scraped: Mapping[str, list[str]]) -> dict[str, Quantiles]:
    """p50 and p99 of each stage observed in the /metrics texts of each component; a
    stage without observations is left out."""
    return {
        stage.title: (histogram_quantile(0.5, buckets), histogram_quantile(0.99, buckets))
        for stage in STAGES
        if (buckets := _buckets(scraped.get(stage.component, []), stage)).get(math.inf)
    }


def _scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"  # a fixed scheme and host: loopback http only
    with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310
        return str(response.read().decode())


def _buckets(texts: Iterable[str], stage: Stage) -> dict[float, float]:
    """Cumulative counts by `le` of the stage's histogram, summed over `texts`."""
    counts: defaultdict[float, float] = defaultdict(float)
    wanted = stage.labels.items()
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == f"{stage.histogram}_bucket" and wanted <= sample.labels.items():
                    counts[float(sample.labels["le"])] += sample.value
    return dict(counts)


def format_stages(latencies: Mapping[str, Quantiles]) -> list[str]:
    width = max((len(title) for title in latencies), default=0)
    return [
        f"  {title:<{width}}  p50 {_ms(p50)}, p99 {_ms(p99)}"
        for title, (p50, p99) in latencies.items()
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"
