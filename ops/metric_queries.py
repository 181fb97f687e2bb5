"""The dashboard's query shapes, evaluated over a recording: each renders the PromQL it
stands for (tested against grafana/dashboard.json) and computes it with `metric_math`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ops.metric_math import Labels, Point, aggregate_by, quantile_over_time, rate_each, select
from ops.recording import Scrape

_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class RateSum:
    """`sum by (by) (rate(metric{matchers}[w]))`"""

    metric: str
    legend: str
    by: tuple[str, ...] = ()
    matchers: tuple[tuple[str, str], ...] = ()

    def expr(self, window: str) -> str:
        inner = f"rate({_selector(self.metric, self.matchers)}[{window}])"
        return f"sum by ({', '.join(self.by)}) ({inner})" if self.by else f"sum({inner})"

    def evaluate(self, scrapes: Sequence[Scrape], window: float) -> dict[str, list[Point]]:
        rates = rate_each(select(scrapes, self.metric, dict(self.matchers)), window)
        return _legends(self.legend, aggregate_by(rates, self.by, sum))


@dataclass(frozen=True)
class Quantile:
    """`histogram_quantile(q, sum by (le) (rate(histogram_bucket[w])))`"""

    histogram: str
    q: float
    legend: str
    matchers: tuple[tuple[str, str], ...] = ()

    def expr(self, window: str) -> str:
        rates = f"rate({_selector(self.histogram + '_bucket', self.matchers)}[{window}])"
        return f"histogram_quantile({self.q}, sum by (le) ({rates}))"

    def evaluate(self, scrapes: Sequence[Scrape], window: float) -> dict[str, list[Point]]:
        buckets = select(scrapes, f"{self.histogram}_bucket", dict(self.matchers))
        rates = rate_each(buckets, window)
        return {self.legend: quantile_over_time(self.q, rates)}


@dataclass(frozen=True)
class MaxBy:
    """`max by (by) (gauge)`"""

    gauge: str
    legend: str
    by: tuple[str, ...]

    def expr(self, window: str) -> str:
        return f"max by ({', '.join(self.by)}) ({self.gauge})"

    def evaluate(self, scrapes: Sequence[Scrape], window: float) -> dict[str, list[Point]]:
        return _legends(self.legend, aggregate_by(select(scrapes, self.gauge, {}), self.by, max))


Query = RateSum | Quantile | MaxBy


def _selector(metric: str, matchers: tuple[tuple[str, str], ...]) -> str:
    if not matchers:
        return metric
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in matchers) + "}"


def _legends(template: str, series: dict[Labels, list[Point]]) -> dict[str, list[Point]]:
    """Series named by a Grafana legend format: `{{label}}` becomes the label's value."""
    return {_legend(template, dict(labels)): points for labels, points in sorted(series.items())}


def _legend(template: str, labels: dict[str, str]) -> str:
    return _LEGEND_LABEL.sub(lambda match: labels.get(match.group(1), ""), template).strip()
