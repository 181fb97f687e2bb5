"""Goes once streams/ imports `common.lag_exporter` (the worker's rewrite)."""

from common.lag_exporter import ConsumerLagExporter

__all__ = ["ConsumerLagExporter"]
