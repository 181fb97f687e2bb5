"""`payments bench ingress` end to end, briefly: every signed webhook is accepted."""

from collections.abc import Callable

import pytest

from common.settings import PipelineSettings
from ops.bench.ingress import Load, run_bench


@pytest.mark.parametrize("server_processes", [1, 2])  # 2: INGRESS_WORKERS, forked servers
def test_a_short_bench_run_is_all_2xx(
    make_settings: Callable[..., PipelineSettings], server_processes: int
) -> None:
    load = Load(requests=40, duration=20, connections=2, workers=1)
    settings = make_settings(ingress_workers=server_processes)
    ingress, baseline = run_bench(settings, load, log_level="WARNING")
    assert (ingress.errors, ingress.statuses) == (0, {200: 40})
    assert (baseline.errors, baseline.statuses) == (0, {200: 40})
