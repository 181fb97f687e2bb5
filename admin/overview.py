"""The console's overview: each component up or down, throughput, consumer lag, the retry
tiers' depth and the dlq by reason.

Throughput and lag come from the components' own /metrics (METRICS_URLS): the counters
they export, and the `payments_consumer_lag` gauge worker and sink keep current. A rate
is the counters' change since the previous overview this process served.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from admin.views import DlqSummary, dlq_summary
from common.settings import TopicNames
from common.topic_scan import TopicEntry

SCRAPE_TIMEOUT_SECONDS = 0.5
#: Per component, the counter of what it got through, and the samples that count.
THROUGHPUT: dict[str, tuple[str, Mapping[str, str]]] = {
    "ingress": ("payments_ingress_webhook_requests_total", {"outcome": "accepted"}),
    "worker": ("payments_worker_events_total", {}),
    "sink": ("payments_sink_events_written_total", {}),
}
LAG = "payments_consumer_lag"

Samples = list[tuple[str, dict[str, str], float]]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    up: bool
    processed: float | None  # the throughput counter's value
    per_second: float | None  # its rate since the previous overview


@dataclass(frozen=True)
class Overview:
    components: list[ComponentStatus]
    lag: dict[str, int]  # topic → records the consuming group has yet to read
    retry_depth: dict[str, int]  # retry tier → records waiting on it
    dlq: DlqSummary
    dlq_oldest_age_seconds: float | None


async def scrape(targets: Mapping[str, str]) -> dict[str, Samples | None]:
    """Each job's samples; None for one whose /metrics did not answer."""
    async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_SECONDS) as client:
        answers = await asyncio.gather(*(_scrape_one(client, url) for url in targets.values()))
    return dict(zip(targets, answers, strict=True))


async def _scrape_one(client: httpx.AsyncClient, url: str) -> Samples | None:
    try:
        response = await client.get(url)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def total(samples: Iterable[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample, sample_labels, value in samples
        if sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


def lag_by_topic(scraped: Mapping[str, Samples | None]) -> dict[str, int]:
    """The largest lag any replica reports per (group, topic, partition), summed by topic:
    every replica of a group exports the same series."""
    per_partition: dict[tuple[str, str, str], float] = {}
    for samples in scraped.values():
        for name, labels, value in samples or ():
            if name == LAG:
                where = (labels.get("group", ""), labels.get("topic", ""), labels["partition"])
                per_partition[where] = max(value, per_partition.get(where, 0.0))
    by_topic: Counter[str] = Counter()
    for (_, topic, _), value in per_partition.items():
        by_topic[topic] += int(value)
    return dict(by_topic)


class RateKeeper:
    """Counters from the previous overview, to turn the next one's into rates."""

    def __init__(self) -> None:
        self._previous: dict[str, tuple[float, float]] = {}

    def rate(self, name: str, value: float, now: float) -> float | None:
        previous = self._previous.get(name)
        self._previous[name] = (value, now)
        if previous is None or now <= previous[1] or value < previous[0]:
            return None  # no earlier reading, or the component restarted (counter reset)
        return (value - previous[0]) / (now - previous[1])


def overview(
    scraped: Mapping[str, Samples | None],
    rates: RateKeeper,
    topics: TopicNames,
    dlq: Sequence[TopicEntry],
    now: datetime,
) -> Overview:
    clock = time.monotonic()
    components = []
    for name, samples in scraped.items():
        counter, labels = THROUGHPUT.get(name, ("", {}))
        processed = total(samples, counter, **labels) if samples is not None and counter else None
        per_second = rates.rate(name, processed, clock) if processed is not None else None
        components.append(ComponentStatus(name, samples is not None, processed, per_second))
    lag = lag_by_topic(scraped)
    summary = dlq_summary(dlq)
    return Overview(
        components=components,
        lag={topic: depth for topic, depth in lag.items() if topic not in topics.retry},
        retry_depth={tier: lag.get(tier, 0) for tier in topics.retry},
        dlq=summary,
        dlq_oldest_age_seconds=(now - summary.oldest).total_seconds() if summary.oldest else None,
    )
