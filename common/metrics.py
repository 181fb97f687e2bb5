"""The process's Prometheus registry and how it is rendered for `/metrics`.

Components declare their metrics at module level on `REGISTRY` (the client's default one,
which also carries the process and GC collectors).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

__all__ = ["REGISTRY", "render_metrics"]


def render_metrics(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The exposition body and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
