"""The end-to-end benchmark's stage breakdown, from /metrics texts."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from ops.bench.stages import format_stages, quantiles

BUCKETS = (0.01, 0.1, 1.0)


def _worker_metrics(raw_ages: list[float], retry_ages: list[float]) -> str:
    registry = CollectorRegistry()
    age = Histogram(
        "payments_worker_input_age_seconds", "", ["source"], buckets=BUCKETS, registry=registry
    )
    for value in raw_ages:
        age.labels("raw").observe(value)
    for value in retry_ages:
        age.labels("retry").observe(value)
    return generate_latest(registry).decode()


def test_a_stage_sums_its_histogram_over_the_components_processes() -> None:
    one, other = _worker_metrics([0.05] * 50, [30.0] * 500), _worker_metrics([0.5] * 50, [])

    found = quantiles({"worker": [one, other]})

    title = "raw-webhooks record → worker takes it"
    assert list(found) == [title]  # retry ages are not the raw stage's; nothing else observed
    p50, p99 = found[title]
    assert p50 == pytest.approx(0.1)  # the 50th of 100: the top of the (0.01, 0.1] bucket
    assert p99 == pytest.approx(0.1 + 0.9 * 49 / 50)
    assert format_stages(found) == [f"  {title}  p50 100.0 ms, p99 982.0 ms"]


def test_a_stage_without_observations_is_left_out() -> None:
    assert quantiles({"worker": [_worker_metrics([], [1.0])], "sink": []}) == {}
