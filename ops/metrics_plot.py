"""`payments metrics plot`: throughput, latency, lag and dead letters of a recording
(`payments metrics record`) as one PNG, computed as the dashboard's queries compute them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from ops.metric_math import Point
from ops.metric_queries import MaxBy, Quantile, Query, RateSum
from ops.recording import Scrape, from_lines

DEFAULT_WINDOW_SECONDS = 15.0


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    log_scale: bool = False


_DEAD_LETTERED = (("outcome", "dead_lettered"),)
PANELS = (
    Panel(
        "Throughput",
        "per second",
        (
            RateSum(
                "payments_ingress_webhook_requests_total",
                "ingress {{provider}} {{outcome}}",
                ("provider", "outcome"),
            ),
            RateSum(
                "payments_worker_events_total",
                "worker {{source}} {{outcome}}",
                ("source", "outcome"),
            ),
            RateSum("payments_sink_events_written_total", "sink rows committed"),
        ),
    ),
    Panel(
        "Latency",
        "seconds",
        (
            Quantile("payments_ingress_webhook_request_duration_seconds", 0.5, "ingress p50"),
            Quantile("payments_ingress_webhook_request_duration_seconds", 0.99, "ingress p99"),
            Quantile("payments_worker_batch_duration_seconds", 0.99, "worker per take p99"),
            Quantile("payments_sink_end_to_end_seconds", 0.5, "received → committed p50"),
            Quantile("payments_sink_end_to_end_seconds", 0.99, "received → committed p99"),
        ),
        log_scale=True,
    ),
    Panel(
        "Stage latency (p99)",
        "seconds",
        (
            Quantile("payments_ingress_produce_duration_seconds", 0.99, "ingress → broker ack"),
            Quantile(
                "payments_worker_input_age_seconds",
                0.99,
                "raw-webhooks → worker",
                (("source", "raw"),),
            ),
            Quantile("payments_sink_input_age_seconds", 0.99, "payment-events → row committed"),
            Quantile("payments_sink_end_to_end_seconds", 0.99, "received → row committed"),
        ),
        log_scale=True,
    ),
    Panel(
        "Consumer lag",
        "records",
        (
            MaxBy(
                "payments_consumer_lag",
                "{{group}} {{topic}}/{{partition}}",
                ("group", "topic", "partition"),
            ),
        ),
    ),
    Panel(
        "Dead-lettered",
        "per second",
        (
            RateSum("payments_worker_dead_lettered_total", "worker {{reason}}", ("reason",)),
            RateSum("payments_sink_dead_lettered_total", "sink {{reason}}", ("reason",)),
            RateSum(
                "payments_worker_events_total",
                "worker from {{source}}",
                ("source",),
                _DEAD_LETTERED,
            ),
        ),
    ),
)


def panel_series(panel: Panel, scrapes: Sequence[Scrape], window: float) -> dict[str, list[Point]]:
    """Every series the panel's queries yield, except those that stay at zero."""
    series = {
        legend: points
        for query in panel.queries
        for legend, points in query.evaluate(scrapes, window).items()
    }
    return {legend: points for legend, points in series.items() if any(v for _, v in points)}


def draw(scrapes: Sequence[Scrape], window: float, title: str) -> Figure:
    start = min((s.t for s in scrapes), default=0.0)
    figure = Figure(figsize=(14, 13), layout="constrained")
    figure.suptitle(f"{title} (rates and quantiles over {window:g} s; series at 0 not drawn)")
    grid = figure.subplots((len(PANELS) + 1) // 2, 2, sharex=True).flat
    for spare in grid[len(PANELS) :]:
        spare.set_visible(False)
    for axes, panel in zip(grid, PANELS, strict=False):
        axes.set_title(panel.title)
        axes.set_xlabel("seconds since the recording started")
        axes.set_ylabel(panel.unit)
        axes.grid(alpha=0.3)
        series = panel_series(panel, scrapes, window)
        for legend, points in series.items():
            axes.plot([t - start for t, _ in points], [v for _, v in points], label=legend)
        if series:
            if panel.log_scale:
                axes.set_yscale("log")
            axes.legend(fontsize="small", loc="best")
        else:
            axes.text(0.5, 0.5, "none", ha="center", va="center", transform=axes.transAxes)
    return figure


def plot_file(recording: Path, out: Path, window: float = DEFAULT_WINDOW_SECONDS) -> None:
    with recording.open() as lines:
        scrapes = from_lines(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    draw(scrapes, window, recording.name).savefig(out, dpi=100)
