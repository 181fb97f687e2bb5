"""What the dashboard's PromQL computes, over a recording instead of Prometheus.

`rate(x[w])`: per-second increase over the trailing window, counter resets handled, from
the first to the last sample in the window (Prometheus also extrapolates to the window's
edges; with one-second scrapes the difference is a sample's worth). `sum by`, `max by`,
and `histogram_quantile` with Prometheus' rules: linear interpolation inside the bucket
where the rank falls, 0 as the lowest bucket's lower bound, the highest finite bound when
the rank falls in `+Inf`.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from ops.recording import Scrape

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs: hashable
Point = tuple[float, float]  # (epoch seconds, value)
Series = dict[Labels, list[Point]]


def select(scrapes: Iterable[Scrape], name: str, matchers: Mapping[str, str]) -> Series:
    """Every series of sample `name` whose labels include `matchers`; `job` is a label."""
    series: Series = defaultdict(list)
    for scrape in scrapes:
        for sample in scrape.samples:
            labels = {**sample.labels, "job": scrape.job}
            if sample.name == name and matchers.items() <= labels.items():
                series[tuple(sorted(labels.items()))].append((scrape.t, sample.value))
    return dict(series)


def rate(points: Sequence[Point], window: float) -> list[Point]:
    """`rate(counter[window])` at each point that has an earlier one within the window."""
    times = [t for t, _ in points]
    increases = [0.0]  # cumulative increase up to each point, resets counted as from 0
    for (_, before), (_, after) in itertools.pairwise(points):
        increases.append(increases[-1] + (after - before if after >= before else after))
    rates = []
    for i, (t, _) in enumerate(points):
        first = bisect.bisect_right(times, t - window)  # the window is (t - window, t]
        if first < i:
            rates.append((t, (increases[i] - increases[first]) / (t - times[first])))
    return rates


def rate_each(series: Series, window: float) -> Series:
    return {labels: rate(points, window) for labels, points in series.items()}


def aggregate_by(
    series: Series, by: Sequence[str], combine: Callable[[list[float]], float]
) -> Series:
    """`sum by (…)` / `max by (…)`: the series grouped by the `by` labels, combined at
    each time."""
    groups: dict[Labels, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for labels, points in series.items():
        key = tuple((name, value) for name, value in labels if name in by)
        for t, value in points:
            groups[key][t].append(value)
    return {
        key: [(t, combine(values)) for t, values in sorted(by_time.items())]
        for key, by_time in groups.items()
    }


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """PromQL's `histogram_quantile` over cumulative bucket counts keyed by `le`."""
    if q < 0 or q > 1:
        return -math.inf if q < 0 else math.inf
    bounds = sorted(buckets)
    counts = _monotonic([buckets[b] for b in bounds])
    if len(bounds) < 2 or bounds[-1] != math.inf or counts[-1] <= 0:
        return math.nan
    rank = q * counts[-1]
    i = bisect.bisect_left(counts, rank, hi=len(counts) - 1)
    if i == len(bounds) - 1:  # in +Inf: the highest finite bound
        return bounds[-2]
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    lower, below = (bounds[i - 1], counts[i - 1]) if i > 0 else (0.0, 0.0)
    if counts[i] == below:
        return lower
    return lower + (bounds[i] - lower) * (rank - below) / (counts[i] - below)


def _monotonic(counts: list[float]) -> list[float]:
    """Cumulative counts never decrease; buckets summed from series scraped at slightly
    different moments can, by a little (Prometheus fixes them the same way)."""
    return list(itertools.accumulate(counts, max))


def quantile_over_time(q: float, bucket_rates: Series) -> list[Point]:
    """`histogram_quantile(q, sum by (le) (…))` at each time, given the bucket series'
    rates; times without observations are left out."""
    by_le = aggregate_by(bucket_rates, ["le"], sum)
    at: dict[float, dict[float, float]] = defaultdict(dict)
    for labels, points in by_le.items():
        le = float(dict(labels)["le"])
        for t, value in points:
            at[t][le] = value
    points = [(t, histogram_quantile(q, buckets)) for t, buckets in sorted(at.items())]
    return [(t, value) for t, value in points if not math.isnan(value)]
