"""A pipeline per test for the streams worker: its own topics, data dir and metrics port;
workers run as `payments worker` subprocesses (as in production, and so they can be
SIGKILLed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from tests.support.pipeline import Pipeline

TEST_SETTINGS: dict[str, Any] = {
    # A tiny ladder: three retries of half a second each, then dlq.
    "retry_delays_seconds": (0.5, 0.5, 0.5),
    "retry_attempts": (1, 1, 1),
    # A killed worker's partitions move on after the broker's minimum session.
    "worker_session_timeout_seconds": 6,
    "log_level": "INFO",
}


@pytest.fixture
def make_pipeline(
    make_settings: Callable[..., PipelineSettings], tmp_path: Path
) -> Iterator[Callable[..., Pipeline]]:
    pipelines: list[Pipeline] = []

    def make(**overrides: Any) -> Pipeline:
        settings = make_settings(**{**TEST_SETTINGS, **overrides})
        create_topics(make_admin(settings), pipeline_topic_specs(settings))
        pipeline = Pipeline(settings, tmp_path)
        pipelines.append(pipeline)
        return pipeline

    yield make
    for pipeline in pipelines:
        for worker in pipeline.workers:
            worker.stop()
