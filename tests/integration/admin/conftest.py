"""Fixtures for the admin process's tests: a migrated PostgreSQL database and a browser-like
client on the app (`tests.support.admin`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sinks.migrate import upgrade
from tests.support.admin import Browser, console_app
from tests.support.databases import scratch_database


@pytest.fixture(scope="module")
def database(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def browser(database: str) -> AsyncIterator[Browser]:
    async with Browser(console_app(database)) as open_browser:
        yield open_browser
