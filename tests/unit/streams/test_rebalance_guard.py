"""`engine.guard_rebalances`: while faust resumes the streams after a rebalance, no source
record is fetched until the seek is done; the seek moves each source partition without a
committed offset to its first record; a fetch never serves a paused partition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import faust
from faust.types import TP

from streams import engine

RAW, TIER, CHANGELOG = "raw-webhooks", "retry-1m", "payments-worker-payment-state-changelog"
SOURCES = [RAW, TIER]


class FakeSignal:
    def __init__(self) -> None:
        self.receivers: list[Any] = []

    def connect(self, receiver: Any) -> None:
        self.receivers.append(receiver)

    async def send(self) -> None:
        for receiver in self.receivers:
            await receiver(self, signal=self)


class FakeThread:
    """faust's consumer thread: what a fetch would serve, and what was sought."""

    def __init__(self, buffered: set[TP], committed: Mapping[TP, int | None]) -> None:
        self.buffered = buffered
        self.committed = committed
        self.sought_to_beginning: list[TP] = []

    async def _fetch_records(self, consumer: Any, active: Any, **options: Any) -> set[TP]:
        # as aiokafka's fetcher reads the set it is given
        return {tp for tp in self.buffered if not (active and tp not in active)}

    async def seek_to_committed(self) -> Mapping[TP, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: TP) -> None:
        self.sought_to_beginning.extend(partitions)


class FakeConsumer:
    def __init__(self, thread: FakeThread) -> None:
        self._thread = thread


class FakeApp:
    def __init__(self, thread: FakeThread) -> None:
        self.consumer = FakeConsumer(thread)
        self.on_rebalance_complete = FakeSignal()


def guarded(thread: FakeThread) -> FakeApp:
    app = FakeApp(thread)
    engine.guard_rebalances(cast(faust.App, app), SOURCES)
    return app


async def fetch(thread: FakeThread, active: set[TP]) -> set[TP]:
    served: set[TP] = await thread._fetch_records(None, active, timeout=1.0)
    return served


async def test_a_fetch_serves_the_active_partitions_only_even_once_all_are_paused() -> None:
    raw, tier = TP(RAW, 0), TP(TIER, 1)
    thread = FakeThread({raw, tier}, {})
    guarded(thread)
    assert await fetch(thread, {raw}) == {raw}
    assert await fetch(thread, set()) == set()  # aiokafka alone would serve both


async def test_from_the_tables_recovered_to_the_seek_no_source_record_is_fetched() -> None:
    raw, changelog = TP(RAW, 0), TP(CHANGELOG, 0)
    thread = FakeThread({raw, changelog}, {raw: 7})
    app = guarded(thread)
    await app.on_rebalance_complete.send()
    assert await fetch(thread, {raw, changelog}) == {changelog}
    await app.consumer._thread.seek_to_committed()
    assert await fetch(thread, {raw, changelog}) == {raw, changelog}


async def test_the_seek_moves_source_partitions_without_a_committed_offset_to_their_first() -> None:
    committed = {TP(RAW, 0): 7, TP(RAW, 1): None, TP(TIER, 2): 0, TP(CHANGELOG, 3): None}
    thread = FakeThread(set(), committed)
    guarded(thread)
    assert await thread.seek_to_committed() == committed  # what faust's perform_seek reads
    assert sorted(thread.sought_to_beginning) == [TP(RAW, 1), TP(TIER, 2)]


async def test_a_seek_with_every_source_committed_seeks_nothing_more() -> None:
    thread = FakeThread(set(), {TP(RAW, 0): 3, TP(TIER, 0): 1})
    guarded(thread)
    await thread.seek_to_committed()
    assert thread.sought_to_beginning == []
