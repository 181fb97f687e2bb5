"""`payments bench admin` on a small load: every page answers and is timed, not a speed."""

from __future__ import annotations

from collections.abc import Callable

from common.settings import PipelineSettings
from ops.bench.admin import bench


def test_a_small_run_times_every_page(
    make_settings: Callable[..., PipelineSettings], postgres_server_url: str
) -> None:
    settings = make_settings(database_url=postgres_server_url)

    result = bench(settings, events=400, dlq=20, requests=2)

    assert len(result.pages) == 17
    assert all(len(page.milliseconds) == 2 for page in result.pages)
    assert all(0 < ms < 10_000 for page in result.pages for ms in page.milliseconds)
    assert "p95" in result.report()
