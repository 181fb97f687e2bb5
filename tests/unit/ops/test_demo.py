"""`payments demo` without a stack says so and fails; counters are read from the
Prometheus text format by name and label subset."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ops.cli import app
from ops.demo import metric_value
from ops.processes import free_port

METRICS = """\
# HELP payments_worker_events_total Records processed.
# TYPE payments_worker_events_total counter
payments_worker_events_total{outcome="applied",source="raw"} 3.0
payments_worker_events_total{outcome="applied",source="retry"} 1.0
payments_worker_events_total{outcome="duplicate",source="raw"} 2.0
"""


def test_a_counter_is_summed_over_the_series_its_labels_select() -> None:
    name = "payments_worker_events_total"
    assert metric_value(METRICS, name, {"outcome": "applied", "source": "raw"}) == 3
    assert metric_value(METRICS, name, {"outcome": "applied"}) == 4
    assert metric_value(METRICS, name, {}) == 6
    assert metric_value(METRICS, name, {"outcome": "stale"}) == 0
    assert metric_value(METRICS, "payments_sink_events_written_total", {}) == 0


def test_without_a_running_stack_the_demo_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    env = {"INGRESS_PORT": str(free_port()), "INGRESS_HOST": "127.0.0.1"}
    arguments = ["demo", "--state-dir", str(tmp_path), "--wait", "0.5"]
    result = CliRunner().invoke(app, arguments, env=env)

    assert result.exit_code == 1
    assert "[FAILED] health: the local stack is not running" in result.output
    assert "make run" in result.output
    assert "[ok]" not in result.output
