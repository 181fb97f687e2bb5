"""The plot computes what the dashboard queries, and draws a PNG from a recording."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.metric_queries import Query
from ops.metrics_plot import PANELS, panel_series
from ops.metrics_record import parse_samples
from ops.recording import Sample, Scrape, to_line
from tests.support.dashboard import dashboard_expressions

_RANGE = re.compile(r"\[[^\]]*\]")


def normalized(expr: str) -> str:
    """An expression with its range windows blanked: the plot chooses its own window."""
    return _RANGE.sub("[w]", " ".join(expr.split()))


@pytest.mark.parametrize(
    "query", [q for panel in PANELS for q in panel.queries], ids=lambda q: q.legend
)
def test_every_plotted_query_is_one_the_dashboard_runs(query: Query) -> None:
    expressions = {normalized(expr) for _, expr in dashboard_expressions()}
    assert normalized(query.expr("w")) in expressions


def recording(rounds: int = 30) -> list[Scrape]:
    """Ingress accepts 10/s, requests take 5-50 ms; the worker dead-letters 1/s; the sink's
    lag falls from 30 to 0."""
    requests, latency = "payments_ingress_webhook_requests", "payments_ingress_webhook_request"
    stripe = {"provider": "stripe"}
    lag = {"group": "payments-sink", "topic": "payment-events", "partition": "0"}
    scrapes = []
    for t in range(rounds):
        ingress = [
            Sample(f"{requests}_total", {**stripe, "outcome": "accepted"}, 10.0 * t),
            *(
                Sample(f"{latency}_duration_seconds_bucket", {**stripe, "le": le}, 10.0 * t * n)
                for le, n in (("0.005", 0.0), ("0.05", 1.0), ("+Inf", 1.0))
            ),
        ]
        outcome = {"source": "raw", "outcome": "dead_lettered"}
        worker = [
            Sample("payments_worker_events_total", outcome, float(t)),
            Sample("payments_worker_events_total", {**outcome, "outcome": "stale"}, 0.0),
            Sample("payments_consumer_lag", lag, 30.0 - t),
        ]
        scrapes += [Scrape(1000.0 + t, "ingress", ingress), Scrape(1000.0 + t, "worker", worker)]
    return scrapes


def test_panels_show_the_recorded_rates_quantiles_and_lag() -> None:
    throughput, latency, stages, lag, dead = (panel_series(p, recording(), 5.0) for p in PANELS)
    assert stages == {}  # the recording has no stage histograms
    assert {v for _, v in throughput["ingress stripe accepted"]} == {10.0}
    assert "worker raw stale" not in throughput  # a series that stays at 0 is left out
    assert {v for _, v in throughput["worker raw dead_lettered"]} == {1.0}
    p99 = latency["ingress p99"]
    assert p99[-1][1] == pytest.approx(0.005 + 0.045 * 0.99)
    assert lag["payments-sink payment-events/0"][-1] == (1029.0, 1.0)
    assert {v for _, v in dead["worker from raw"]} == {1.0}


def test_plot_writes_a_png(tmp_path: Path) -> None:
    recorded = tmp_path / "run.jsonl"
    recorded.write_text("".join(to_line(s) + "\n" for s in recording()))
    out = tmp_path / "docs" / "pipeline.png"
    result = CliRunner().invoke(app, ["metrics", "plot", str(recorded), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_scrape_keeps_the_pipeline_samples_only() -> None:
    text = (
        "# TYPE payments_sink_paused gauge\npayments_sink_paused 1.0\n"
        "# TYPE payments_x counter\npayments_x_total 2.0\npayments_x_created 1.7e9\n"
        "# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total 3.0\n"
    )
    assert parse_samples(text) == [
        Sample("payments_sink_paused", {}, 1.0),
        Sample("payments_x_total", {}, 2.0),
    ]
