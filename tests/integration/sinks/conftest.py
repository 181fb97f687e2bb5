"""The sink's integration fixtures: a database per test on SQLite and on PostgreSQL, topics
of the test's own, and helpers to produce payment-events and wait for their rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.settings import PipelineSettings
from tests.support.sink import (
    BACKENDS,
    fresh_database,
    topics_for,
)


@pytest.fixture(params=BACKENDS)
def sink_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database, once on each backend the sink supports."""
    with fresh_database(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture
def sink_settings(
    make_settings: Callable[..., PipelineSettings], sink_database_url: str
) -> PipelineSettings:
    return topics_for(make_settings(database_url=sink_database_url))
