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

A hold belongs to the partition's assignment to this worker. A revoke ends it (`forget`);
the next owner, this worker again or another, starts from the committed offset (or, with
none, the first record: `engine.guard_rebalances`) once the tables are recovered. A new
assignment ends any hold on a partition outside it (`forget_unassigned`): the gate holds
only what the worker owns, whatever reached it before. Each hold owns its timer and its
release: a release still on its way from before a rebalance cannot end a hold armed after
it, and one that fails is tried again, never dropped (a hold left without a timer skips all
of its partition's records).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.observe import HELD_PARTITIONS

log = logging.getLogger("streams.gate")

#: How soon a release whose seek failed is tried again.
RELEASE_RETRY_SECONDS: Final = 1.0


class PartitionControl(Protocol):
    """The part of faust's consumer the gate drives (`app.consumer`)."""

    def pause_partitions(self, tps: Iterable[TP]) -> None: ...

    def resume_partitions(self, tps: Iterable[TP]) -> None: ...

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    """Where the gate arms its timers: the running event loop (`asyncio.TimerHandle`), or a
    test's clock."""

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer: ...


@dataclass(eq=False)
class _Hold:
    """A held partition: the record to seek back to, and the timer that will."""

    offset: int
    timer: Timer | None = None


class DueGate:
    def __init__(self, consumer: PartitionControl, timers: Timers | None = None) -> None:
        """`timers`: the running loop when None (the worker builds the gate before it)."""
        self._consumer = consumer
        self._timers = timers
        self._held: dict[TP, _Hold] = {}
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
            self._end(tp)
            self._expected.pop(tp, None)

    def forget_unassigned(self, assigned: Collection[TP]) -> None:
        """Partitions were assigned: holds on any other partition end."""
        self.forget({*self._held, *self._expected} - set(assigned))

    @property
    def held(self) -> int:
        return len(self._held)

    def _hold(self, tp: TP, offset: int, wait_seconds: float) -> None:
        """Pause `tp`, and seek it back to `offset` and resume it in `wait_seconds`."""
        self._consumer.pause_partitions([tp])
        hold = self._held[tp] = _Hold(offset)
        self._arm(tp, hold, wait_seconds)
        HELD_PARTITIONS.set(len(self._held))

    def _arm(self, tp: TP, hold: _Hold, wait_seconds: float) -> None:
        timers = self._timers or asyncio.get_running_loop()
        hold.timer = timers.call_later(wait_seconds, self._release_soon, tp, hold)

    def _end(self, tp: TP) -> None:
        hold = self._held.pop(tp, None)
        if hold is not None and hold.timer is not None:
            hold.timer.cancel()
        HELD_PARTITIONS.set(len(self._held))

    def _release_soon(self, tp: TP, hold: _Hold) -> None:
        hold.timer = None
        task = asyncio.ensure_future(self._release(tp, hold))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, tp: TP, hold: _Hold) -> None:
        if self._held.get(tp) is not hold:  # ended while the task was starting
            return
        try:
            await self._consumer.seek_wait({tp: hold.offset})
        except IllegalStateError:  # no longer assigned: the next owner reads it again
            log.info("held partition revoked before release", extra={"tp": str(tp)})
            if self._held.get(tp) is hold:
                self._end(tp)
            return
        except Exception as error:  # the seek runs on faust's consumer thread, which may time out
            log.warning("release failed, retrying", extra={"tp": str(tp), "error": repr(error)})
            if self._held.get(tp) is hold:
                self._arm(tp, hold, RELEASE_RETRY_SECONDS)
            return
        if self._held.get(tp) is not hold:  # revoked while seeking
            return
        self._end(tp)
        self._expected[tp] = hold.offset
        self._consumer.resume_partitions([tp])
