"""Ingress against the real broker: an app (lifespan running) per test, on topics of its own,
with Stripe and PayPal configured offline (a throwaway CA, a pre-seeded certificate cache)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from ops.local_pki import Pki, build_pki
from tests.support.ingress import (
    app_client,
    providers_configured,
)


@pytest.fixture(scope="session")
def pki() -> Pki:
    return build_pki(datetime.now(UTC))


@pytest.fixture
def ingress_settings(
    make_settings: Callable[..., PipelineSettings], pki: Pki, tmp_path: Path
) -> Callable[..., PipelineSettings]:
    """Settings with both providers configured and this test's topics created."""

    def make(**overrides: Any) -> PipelineSettings:
        values = providers_configured(pki, tmp_path) | {"ingress_produce_timeout_seconds": 2.0}
        settings = make_settings(**(values | overrides))
        create_topics(make_admin(settings), pipeline_topic_specs(settings))
        return settings

    return make


@pytest.fixture
def settings(ingress_settings: Callable[..., PipelineSettings]) -> PipelineSettings:
    return ingress_settings()


@pytest.fixture
async def client(settings: PipelineSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http
