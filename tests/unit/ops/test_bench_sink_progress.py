"""`bench sink` waits for the sink's own count of written events, and gives up in one line
when that count can never be reached."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from ops.bench.sink import SinkStalled, _written_reaching
from sinks import metrics


async def _forever() -> None:
    await asyncio.Event().wait()


async def _failing() -> None:
    raise RuntimeError("database gone")


async def test_a_sink_that_dead_letters_ends_the_run() -> None:
    sink = asyncio.create_task(_forever())
    waiting = asyncio.create_task(_written_reaching(10**12, sink))
    await asyncio.sleep(0.1)
    metrics.DEAD_LETTERED.labels("database_rejected").inc()
    with pytest.raises(SinkStalled, match="dead-lettered"):
        await asyncio.wait_for(waiting, 5)
    sink.cancel()


async def test_a_sink_that_fails_ends_the_run_with_its_error() -> None:
    with pytest.raises(RuntimeError, match="database gone"):
        await asyncio.wait_for(_written_reaching(10**12, asyncio.create_task(_failing())), 5)


async def test_the_count_reached_returns_it() -> None:
    metrics.EVENTS_WRITTEN.inc(3)
    at_least = int(REGISTRY.get_sample_value("payments_sink_events_written_total") or 0)
    sink = asyncio.create_task(_forever())
    assert await asyncio.wait_for(_written_reaching(at_least, sink), 5) >= at_least
    sink.cancel()
