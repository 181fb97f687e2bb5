"""The retry tier's gate: hold a partition until its head is due, skip what was fetched
behind it, then seek back and resume; nothing else is held up, and no hold outlives the
partition's assignment. Timers run on a fake clock the tests move."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.gate import RELEASE_RETRY_SECONDS, DueGate

A, B = TP("retry-1m", 0), TP("retry-1m", 1)


@dataclass
class FakeTimer:
    when: float
    fire: Callable[[], Any]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeClock:
    """The gate's timers: they fire when the test moves the clock past them."""

    now: float = 0.0
    timers: list[FakeTimer] = field(default_factory=list)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> FakeTimer:
        timer = FakeTimer(self.now + delay, partial(callback, *args))
        self.timers.append(timer)
        return timer

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t.when <= self.now and not t.cancelled]
        self.timers = [t for t in self.timers if t not in due]
        for timer in sorted(due, key=lambda t: t.when):
            timer.fire()
        await settle()


async def settle() -> None:
    """Let the releases the timers started run as far as they can (no time passes)."""
    for _ in range(5):
        await asyncio.sleep(0)


class FakeConsumer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        #: what the next seeks raise, one each
        self.seek_errors: list[Exception] = []
        #: while cleared, a seek waits (it runs on faust's consumer thread)
        self.seek_lands = asyncio.Event()
        self.seek_lands.set()

    def pause_partitions(self, tps: Iterable[TP]) -> None:
        self.calls.append(("pause", set(tps)))

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        self.calls.append(("resume", set(tps)))

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.calls.append(("seek", dict(partitions)))
        await self.seek_lands.wait()
        if self.seek_errors:
            raise self.seek_errors.pop(0)


@pytest.fixture
def consumer() -> FakeConsumer:
    return FakeConsumer()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(consumer: FakeConsumer, clock: FakeClock) -> DueGate:
    return DueGate(consumer, clock)


async def test_a_due_record_passes_and_nothing_is_paused(
    gate: DueGate, consumer: FakeConsumer
) -> None:
    assert gate.admit(A, 7, 0.0)
    assert consumer.calls == []


async def test_a_record_not_due_holds_its_partition_only_until_due(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    assert not gate.admit(A, 7, 5.0)
    assert not gate.admit(A, 8, 0.0)  # fetched behind the held record
    assert gate.admit(B, 3, 0.0)  # another partition flows
    assert consumer.calls == [("pause", {A})]
    assert gate.held == 1

    await clock.advance(4.9)
    assert consumer.calls == [("pause", {A})]
    await clock.advance(0.1)
    assert consumer.calls[1:] == [("seek", {A: 7}), ("resume", {A})]
    assert gate.held == 0
    assert gate.admit(A, 7, 0.0)
    assert gate.admit(A, 8, 0.0)


async def test_a_record_fetched_before_the_seek_but_delivered_after_it_seeks_again(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    """faust counts the partition as read up to that record and would drop the held one when
    the seek fetches it again: the gate seeks again, however often that happens."""
    gate.admit(A, 7, 1.0)
    await clock.advance(1.0)
    for late in (9, 12):
        assert not gate.admit(A, late, 0.0)
        assert gate.held == 1
        assert not gate.admit(A, 7, 0.0)  # the seek is under way
        await clock.advance(0.0)
    assert consumer.calls == [("pause", {A}), ("seek", {A: 7}), ("resume", {A})] * 3
    assert gate.admit(A, 7, 0.0)
    assert gate.admit(A, 8, 0.0)


async def test_revoked_partitions_are_forgotten_and_never_resumed(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    gate.admit(A, 7, 2.0)
    gate.forget([A, B])
    await clock.advance(5.0)
    assert consumer.calls == [("pause", {A})]
    assert gate.held == 0
    assert gate.admit(A, 5, 0.0)  # the next owner starts from the committed offset


async def test_an_assignment_ends_the_holds_on_partitions_outside_it(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    gate.admit(A, 7, 2.0)
    gate.admit(B, 3, 2.0)
    gate.forget_unassigned({B})
    assert gate.held == 1
    await clock.advance(2.0)
    assert consumer.calls[2:] == [("seek", {B: 3}), ("resume", {B})]
    assert gate.admit(A, 5, 0.0)  # assigned again later: read from the committed offset


async def test_a_release_on_its_way_across_a_rebalance_leaves_the_new_hold_alone(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    """The partition came back to this worker while the old release was still seeking: the
    record is held again, until its own time, by its own timer."""
    gate.admit(A, 7, 1.0)
    consumer.seek_lands.clear()
    await clock.advance(1.0)  # the old release seeks
    gate.forget([A])
    assert not gate.admit(A, 7, 3.0)  # redelivered from the committed offset, held again
    consumer.seek_lands.set()
    await settle()
    assert consumer.calls == [("pause", {A}), ("seek", {A: 7}), ("pause", {A})]
    assert gate.held == 1
    assert not gate.admit(A, 8, 0.0)

    await clock.advance(3.0)
    assert consumer.calls[3:] == [("seek", {A: 7}), ("resume", {A})]
    assert gate.admit(A, 7, 0.0)


async def test_a_release_whose_seek_fails_is_tried_again(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    consumer.seek_errors.append(TimeoutError())
    gate.admit(A, 7, 1.0)
    await clock.advance(1.0)
    assert gate.held == 1
    assert not gate.admit(A, 8, 0.0)

    await clock.advance(RELEASE_RETRY_SECONDS)
    assert consumer.calls == [("pause", {A}), ("seek", {A: 7}), ("seek", {A: 7}), ("resume", {A})]
    assert gate.admit(A, 7, 0.0)


async def test_a_release_of_a_partition_no_longer_assigned_ends_its_hold(
    gate: DueGate, consumer: FakeConsumer, clock: FakeClock
) -> None:
    consumer.seek_errors.append(IllegalStateError("No current assignment"))
    gate.admit(A, 7, 1.0)
    await clock.advance(1.0)
    assert gate.held == 0
    assert ("resume", {A}) not in consumer.calls
    assert gate.admit(A, 7, 0.0)  # assigned again later: read from the committed offset
