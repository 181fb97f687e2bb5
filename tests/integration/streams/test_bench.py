"""`payments bench worker` on a small run: each figure is measured and the scratch topics go
away; not a speed."""

from __future__ import annotations

from collections.abc import Callable

from common.kafka import make_admin
from common.settings import PipelineSettings
from ops.bench.worker import bench


def test_a_small_run_measures_the_worker_and_both_baselines_then_cleans_up(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(worker_session_timeout_seconds=6)
    admin = make_admin(settings)
    before = set(admin.list_topics(timeout=10).topics)

    result = bench(settings, events=5000, duplicate_share=0.1)

    assert result.duplicates == 500
    assert result.worker.per_second > 0
    assert result.worker.cpu_us > 0
    assert result.bare_per_second > 0
    assert result.relay.per_second > 0
    assert result.relay.cpu_us > 0
    assert "µs CPU per record" in result.report()
    assert "worker / faust relay" in result.report()
    left = {t for t in admin.list_topics(timeout=10).topics if t.startswith("bench-")}
    assert left <= before
