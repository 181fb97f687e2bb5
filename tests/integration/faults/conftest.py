"""The fault suite's fixtures: a stack per test (`tests.support.fault_stack`) on the session's
broker and PostgreSQL unless the test gives its own, and the load's intensity
(`FAULTS_LONG=1` for the long form)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from ops.local_pki import build_pki
from sinks.migrate import upgrade
from tests.support.databases import scratch_database
from tests.support.fault_stack import (
    LONG,
    SHORT,
    Intensity,
    MakeStack,
    Stack,
    fault_settings,
)


@pytest.fixture
def intensity() -> Intensity:
    return LONG if os.environ.get("FAULTS_LONG") == "1" else SHORT


@pytest.fixture
def make_stack(
    make_settings: Callable[..., PipelineSettings],
    postgres_server_url: str,
    tmp_path: Path,
    intensity: Intensity,
) -> Iterator[MakeStack]:
    """`await make_stack(kafka=…, postgres=…)`: a started stack on the session's broker and
    PostgreSQL server unless others are given. At the end its components are stopped, the
    tails of their logs printed (pytest shows them when the test failed), its database
    dropped."""
    with ExitStack() as cleanup:

        async def make(kafka: str | None = None, postgres: str | None = None) -> Stack:
            database = scratch_database(postgres or postgres_server_url, "faults")
            overrides: dict[str, Any] = {
                "database_url": cleanup.enter_context(database),
                "retry_delays_seconds": intensity.retry_delays,
            }
            if kafka is not None:
                overrides["kafka_bootstrap_servers"] = kafka
            pki = build_pki(datetime.now(UTC))
            settings = fault_settings(make_settings, pki, tmp_path, **overrides)
            create_topics(make_admin(settings), pipeline_topic_specs(settings))
            await asyncio.to_thread(upgrade, settings.database_url)
            stack = Stack(settings, tmp_path, pki)
            cleanup.callback(stack.stop)
            await stack.start()
            return stack

        yield make
