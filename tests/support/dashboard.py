"""The PromQL of the Grafana dashboard's panels and of the Prometheus alerts, by panel title
or alert name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    dashboard = json.loads((ROOT / "grafana" / "dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def alert_expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((ROOT / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]
