"""Every metric a Grafana panel or a Prometheus alert queries is one the code exports."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from common.metrics import REGISTRY
from tests.support.dashboard import alert_expressions, dashboard_expressions

ROOT = Path(__file__).resolve().parents[3]
METRIC_MODULES = ("ingress.observe", "streams.observe", "sinks.metrics", "common.lag_exporter")

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "le"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels or keywords)."""
    for pattern in (_STRINGS, _MATCHERS, _GROUPING, _RANGES):
        expr = pattern.sub(" ", expr)
    return {
        name
        for name in _IDENTIFIER.findall(expr)
        if name not in _KEYWORDS and not name.replace(".", "").isdigit()
    }


for _module in METRIC_MODULES:  # declaring a metric registers it
    importlib.import_module(_module)


def exported_sample_names() -> set[str]:
    """What /metrics of the three components can show, by each family's type."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
    }
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def test_the_parser_finds_metrics_and_skips_the_rest() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, job) (rate(a_seconds_bucket{x="y"}[1m])))'
        " / sum(b_total) > 0.5 and on (job) c"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c"}


@pytest.mark.parametrize(
    ("where", "expr"),
    [*dashboard_expressions(), *alert_expressions()],
    ids=lambda value: str(value)[:40],
)
def test_every_queried_metric_is_exported(where: str, expr: str) -> None:
    queried = metric_names(expr)
    assert queried, f"{where}: no metric found in {expr!r}"
    assert queried <= exported_sample_names(), f"{where}: {queried - exported_sample_names()}"


def test_every_component_metric_has_a_panel() -> None:
    shown = set().union(*(metric_names(expr) for _, expr in dashboard_expressions()))
    prefixes = ("payments_ingress_", "payments_worker_", "payments_sink_", "payments_consumer_")
    families = {family.name for family in REGISTRY.collect() if family.name.startswith(prefixes)}
    unshown = {f for f in families if not any(name.startswith(f) for name in shown)}
    assert not unshown, f"metrics without a panel: {sorted(unshown)}"
