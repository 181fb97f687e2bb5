"""The sink process's own settings."""

from __future__ import annotations

import gc

from sinks.main import SINK_GC_THRESHOLD, sink_gc_threshold


def test_the_gc_threshold_is_raised_while_the_sink_runs_then_restored() -> None:
    before = gc.get_threshold()
    with sink_gc_threshold():
        assert gc.get_threshold() == (SINK_GC_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
