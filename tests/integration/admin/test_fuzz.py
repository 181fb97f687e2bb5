"""Any query against the admin process, signed in or not: a documented status with a clear
body, never a 5xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from tests.support.admin import ADMIN, Browser, console_app

FUZZ = hypothesis.settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PATHS = (
    "/admin/events",
    "/admin/dlq",
    "/admin/payments/{a}/{b}",
    "/console/events",
    "/console/dlq",
    "/console/dlq/replay",
    "/console/dlq/purge",
    "/console/dlq/{a}/{b}",
    "/console/payments/{a}/{b}",
    "/console/audit",
)
NAMES: tuple[str, ...] = (
    "provider",
    "type",
    "status",
    "since",
    "until",
    "cursor",
    "limit",
    "q",
    "page",
    "reason",
)
NAMES += ("m", "before")
values = (
    st.text(max_size=40)
    | st.integers().map(str)
    | st.sampled_from(
        ["stripe", "paypal", "captured", "2026-12-02T06:40", "9999-12-31T23:59:59-23:59", "0:0"]
    )
)
segments = values.filter(lambda v: v not in ("", ".", "..")).map(lambda v: quote(v, safe=""))


@pytest.fixture
async def signed_in(database: str, kafka_bootstrap: str) -> AsyncIterator[Browser]:
    """On the real broker: a dlq message's page reads it."""
    async with Browser(console_app(database, kafka_bootstrap_servers=kafka_bootstrap)) as browser:
        await browser.sign_in(ADMIN)
        yield browser


async def test_no_query_gets_a_5xx(signed_in: Browser) -> None:
    calls = []

    @FUZZ
    @given(
        path=st.sampled_from(PATHS),
        a=segments,
        b=segments,
        params=st.dictionaries(st.sampled_from(NAMES), values, max_size=5),
        bearer=st.sampled_from([None, ADMIN, "guess"]),
    )
    def draw(path: str, a: str, b: str, params: dict[str, str], bearer: str | None) -> None:
        calls.append((path.format(a=a, b=b), params, bearer))

    draw()
    for url, params, bearer in calls:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = await signed_in.http.get(url, params=params, headers=headers)
        assert response.status_code < 500, (url, params, response.text)
        if url.startswith("/admin"):
            assert response.status_code in (200, 401, 403, 404, 422), (url, params)
            assert response.status_code == 200 or "code" in response.json()["error"]
