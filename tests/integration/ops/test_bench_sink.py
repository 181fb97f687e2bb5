"""`payments bench sink` on a small load: the durability it ran with, as the server says."""

from __future__ import annotations

from collections.abc import Callable

from common.settings import PipelineSettings
from ops.bench.sink import bench
from ops.local_postgres import LocalPostgres


def test_by_default_the_sink_is_measured_with_production_durability(
    make_settings: Callable[..., PipelineSettings], durable_postgres: LocalPostgres
) -> None:
    settings = make_settings(database_url=durable_postgres.admin_url)

    # Enough events that PostgreSQL spends whole clock ticks on them (/proc counts in ticks).
    result = bench(settings, 2400, 400)

    assert result.durability.production
    assert result.report().splitlines()[0] == (
        "PostgreSQL durability: fsync=on, synchronous_commit=on, full_page_writes=on (production's)"
    )
    assert result.sink_rows_per_second > 0
    assert result.drain.sink_cpu > 0
    assert result.drain.database_cpu  # the server runs on this machine
    assert "CPU per event: sink " in result.report()
    assert "in batches of at most 400\n" in result.report()


def test_without_durability_the_report_says_so(
    make_settings: Callable[..., PipelineSettings], own_postgres: LocalPostgres
) -> None:
    settings = make_settings(database_url=own_postgres.admin_url)

    result = bench(settings, 400, 100, durable=False)

    assert (result.durability.fsync, result.durability.synchronous_commit) == ("off", "off")
    assert "NOT PRODUCTION DURABILITY" in result.report().splitlines()[0]
