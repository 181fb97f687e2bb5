"""The process's Prometheus registry and how it is rendered for `/metrics`.

Components declare their metrics at module level on `REGISTRY` (the client's default one,
which also carries the process and GC collectors).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

__all__ = ["AGE_BUCKETS", "REGISTRY", "render_metrics"]

#: Buckets of a record's or a webhook's age in the pipeline: fine below the end-to-end
#: objective (p99 < 250 ms), since a quantile read from them is only as fine as they are;
#: coarse beyond, up to the retry tiers' delays and a replay from the dlq.
AGE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    300, 1800, 7200,
)  # fmt: skip


def render_metrics(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The exposition body and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
