"""Goes once streams/ imports `common.topics` (the worker's rewrite)."""

from common.topics import (
    ADMIN_TIMEOUT_SECONDS,
    TopicSpec,
    create_topics,
    mismatched_partitions,
    pipeline_topic_specs,
)

__all__ = [
    "ADMIN_TIMEOUT_SECONDS",
    "TopicSpec",
    "create_topics",
    "mismatched_partitions",
    "pipeline_topic_specs",
]
