"""How a retry tier waits for `retry-due-at` (DESIGN.md, guarantee 4).

A tier is FIFO per partition and every record in it waits the same delay, so only the
partition's head ever needs to wait. When a head is not due, the gate pauses fetching from
that partition and arms one timer; when it fires, the gate seeks the partition back to the
held record and resumes it. Meanwhile:

- other partitions and topics keep flowing (the agent never sleeps);
- nothing polls (one timer per held partition, no loop checking the clock);
- the consumer keeps polling the broker, so the group sees a live member and does not
  rebalance however long the delay;
- the held record is never acknowledged, so the committed offset cannot pass it: a crash
  or rebalance while it waits re-delivers it.

Records of a held partition that were already fetched are skipped (not acknowledged); the
seek brings them back after the held record.

One such record can still be on its way when the seek lands (faust delivers a fetched batch
while the seek runs on its consumer thread). faust then counts the partition as read up to
that record and drops everything the seek fetches again below it, the held record included:
waiting for it would hold the partition until the next rebalance. So a record past the
expected one, after a release, means "seek again" (it is itself fetched again, so a seek
that still lost the race is followed by another).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.observe import HELD_PARTITIONS

log = logging.getLogger("streams.gate")


class PartitionControl(Protocol):
    """The part of faust's consumer the gate drives (`app.consumer`)."""

    def pause_partitions(self, tps: Iterable[TP]) -> None: ...

    def resume_partitions(self, tps: Iterable[TP]) -> None: ...

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None: ...


class DueGate:
    def __init__(self, consumer: PartitionControl) -> None:
        self._consumer = consumer
        self._held: dict[TP, asyncio.TimerHandle] = {}
        # After a release, the offset the partition must deliver first; anything else of it
        # still in the stream's buffer was fetched before the hold and comes again.
        self._expected: dict[TP, int] = {}
        self._releasing: set[asyncio.Task[None]] = set()

    def admit(self, tp: TP, offset: int, wait_seconds: float) -> bool:
        """True when the record at `offset` of `tp` may be processed now. False means skip
        it without acknowledging: it is held, or it will be delivered again."""
        if tp in self._held:
            return False
        expected = self._expected.get(tp)
        if expected is not None:
            if offset < expected:
                return False
            del self._expected[tp]
            if offset > expected:  # fetched before the seek: faust will drop `expected`
                self._hold(tp, expected, 0.0)
                return False
        if wait_seconds <= 0:
            return True
        self._hold(tp, offset, wait_seconds)
        return False

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions were revoked: their holds end (the next owner starts again from the
        committed offset, which is never past a held record)."""
        for tp in tps:
            timer = self._held.pop(tp, None)
            if timer is not None:
                timer.cancel()
            self._expected.pop(tp, None)
        HELD_PARTITIONS.set(len(self._held))

    @property
    def held(self) -> int:
        return len(self._held)

    def _hold(self, tp: TP, offset: int, wait_seconds: float) -> None:
        """Pause `tp`, and seek it back to `offset` and resume it in `wait_seconds`."""
        self._consumer.pause_partitions([tp])
        loop = asyncio.get_running_loop()
        self._held[tp] = loop.call_later(wait_seconds, self._release_soon, tp, offset)
        HELD_PARTITIONS.set(len(self._held))

    def _release_soon(self, tp: TP, offset: int) -> None:
        task = asyncio.ensure_future(self._release(tp, offset))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, tp: TP, offset: int) -> None:
        if tp not in self._held:
            return
        try:
            await self._consumer.seek_wait({tp: offset})
        except IllegalStateError:  # revoked while seeking; `forget` has run or will
            log.info("held partition revoked before release", extra={"tp": str(tp)})
            return
        if self._held.pop(tp, None) is None:
            return
        HELD_PARTITIONS.set(len(self._held))
        self._expected[tp] = offset
        self._consumer.resume_partitions([tp])
