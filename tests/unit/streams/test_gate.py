"""The retry tier's gate: hold a partition until its head is due, skip what was fetched
behind it, then seek back and resume; nothing else is held up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from faust.types import TP

from streams.gate import DueGate

A, B = TP("retry-1m", 0), TP("retry-1m", 1)


class FakeConsumer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def pause_partitions(self, tps: Iterable[TP]) -> None:
        self.calls.append(("pause", set(tps)))

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        self.calls.append(("resume", set(tps)))

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.calls.append(("seek", dict(partitions)))


async def test_a_due_record_passes_and_nothing_is_paused() -> None:
    consumer = FakeConsumer()
    assert DueGate(consumer).admit(A, 7, 0.0)
    assert consumer.calls == []


async def test_a_record_not_due_holds_its_partition_only_until_due() -> None:
    consumer = FakeConsumer()
    gate = DueGate(consumer)
    assert not gate.admit(A, 7, 0.05)
    assert not gate.admit(A, 8, 0.0)  # fetched behind the held record
    assert gate.admit(B, 3, 0.0)  # another partition flows
    assert consumer.calls == [("pause", {A})]
    assert gate.held == 1

    await asyncio.sleep(0.1)
    assert consumer.calls[1:] == [("seek", {A: 7}), ("resume", {A})]
    assert gate.held == 0
    assert gate.admit(A, 7, 0.0)
    assert gate.admit(A, 8, 0.0)


async def test_a_record_fetched_before_the_seek_but_delivered_after_it_seeks_again() -> None:
    """faust counts the partition as read up to that record and would drop the held one when
    the seek fetches it again: the gate seeks again, however often that happens."""
    consumer = FakeConsumer()
    gate = DueGate(consumer)
    gate.admit(A, 7, 0.01)
    await asyncio.sleep(0.05)
    for late in (9, 12):
        assert not gate.admit(A, late, 0.0)
        assert gate.held == 1
        assert not gate.admit(A, 7, 0.0)  # the seek is under way
        await asyncio.sleep(0.01)
    assert consumer.calls == [("pause", {A}), ("seek", {A: 7}), ("resume", {A})] * 3
    assert gate.admit(A, 7, 0.0)
    assert gate.admit(A, 8, 0.0)


async def test_revoked_partitions_are_forgotten_and_never_resumed() -> None:
    consumer = FakeConsumer()
    gate = DueGate(consumer)
    gate.admit(A, 7, 0.02)
    gate.forget([A, B])
    await asyncio.sleep(0.05)
    assert consumer.calls == [("pause", {A})]
    assert gate.admit(A, 5, 0.0)  # the next owner starts from the committed offset
