"""The dashboard's rates and quantiles, computed over a recording, on known numbers."""

from __future__ import annotations

import math

import pytest

from ops.metric_math import aggregate_by, histogram_quantile, quantile_over_time, rate, select
from ops.recording import Sample, Scrape, from_lines, to_line

INF = math.inf


def test_rate_is_the_increase_over_the_window_per_second() -> None:
    points = [(0.0, 0.0), (1.0, 10.0), (2.0, 20.0), (3.0, 50.0)]
    assert rate(points, window=10) == [(1.0, 10.0), (2.0, 10.0), (3.0, 50 / 3)]
    # a 2 s window at t=3 holds the samples at 2 and 3 only (it is (1, 3])
    assert rate(points, window=2)[-1] == (3.0, 30.0)


def test_a_counter_reset_counts_from_zero() -> None:
    points = [(0.0, 0.0), (1.0, 10.0), (2.0, 20.0), (3.0, 5.0), (4.0, 15.0)]
    # 10 + 10 + 5 (restarted at 0) + 10 in 4 s
    assert rate(points, window=60)[-1] == (4.0, 35 / 4)


def test_a_lone_sample_has_no_rate() -> None:
    assert rate([(0.0, 5.0)], window=60) == []
    assert rate([(0.0, 5.0), (100.0, 6.0)], window=60) == []


BUCKETS = {0.1: 10.0, 0.5: 30.0, 1.0: 40.0, INF: 40.0}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.3),  # rank 20 in (0.1, 0.5]: 0.1 + 0.4 * (20 - 10) / (30 - 10)
        (0.99, 0.98),  # rank 39.6 in (0.5, 1]: 0.5 + 0.5 * 9.6 / 10
        (0.25, 0.1),  # rank 10: the top of the first bucket
        (0.1, 0.04),  # rank 4 in (0, 0.1]: the lowest bucket starts at 0
        (0.0, 0.0),
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket(q: float, expected: float) -> None:
    assert histogram_quantile(q, BUCKETS) == pytest.approx(expected)


def test_histogram_quantile_edges() -> None:
    # the rank falls in +Inf: the highest finite bound
    assert histogram_quantile(0.99, {0.1: 1.0, 1.0: 2.0, INF: 10.0}) == 1.0
    assert math.isnan(histogram_quantile(0.5, {0.1: 0.0, INF: 0.0}))  # no observations
    assert math.isnan(histogram_quantile(0.5, {0.1: 3.0}))  # no +Inf bucket
    assert histogram_quantile(1.5, BUCKETS) == INF
    assert histogram_quantile(-1, BUCKETS) == -INF
    # buckets summed across scrapes may dip; they are made monotonic first
    assert histogram_quantile(0.75, {0.1: 10.0, 0.5: 9.0, 1.0: 20.0, INF: 20.0}) == 0.75


def scrapes() -> list[Scrape]:
    """Two jobs' histograms over three one-second rounds."""
    rows = []
    for t, (a, b) in enumerate([(0.0, 0.0), (10.0, 20.0), (30.0, 40.0)]):
        for job, count in (("ingress", a), ("worker", b)):
            samples = [
                Sample("h_bucket", {"le": "0.1"}, count / 2),
                Sample("h_bucket", {"le": "1.0"}, count),
                Sample("h_bucket", {"le": "+Inf"}, count),
                Sample("c_total", {"outcome": "ok"}, count),
            ]
            rows.append(Scrape(float(t), job, samples))
    return rows


def test_sum_by_adds_the_series_of_every_job_at_each_time() -> None:
    series = select(scrapes(), "c_total", {"outcome": "ok"})
    assert len(series) == 2  # one per job: `job` is a label
    total = aggregate_by({k: rate(v, 60) for k, v in series.items()}, [], sum)
    assert total == {(): [(1.0, 30.0), (2.0, 35.0)]}
    assert select(scrapes(), "c_total", {"outcome": "no"}) == {}


def test_quantile_over_time_sums_bucket_rates_by_le() -> None:
    bucket_rates = {k: rate(v, 60) for k, v in select(scrapes(), "h_bucket", {}).items()}
    # half of every observation under 0.1, the rest under 1.0: p75 = 0.1 + 0.9 * 0.5
    assert quantile_over_time(0.75, bucket_rates) == [(1.0, 0.55), (2.0, 0.55)]


def test_a_recording_reads_back_as_written() -> None:
    written = [*scrapes(), Scrape(3.0, "sink", error="ConnectError: refused")]
    assert from_lines([to_line(s) for s in written] + [""]) == written
