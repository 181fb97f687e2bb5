"""The key lock: while a payment has an event parked on the retry ladder, its later events
queue behind it instead of overtaking it (DESIGN.md, guarantee 3).

"Later" is provider order: provider time, then arrival. A lock lists the payment's parked
events in that order and only the head may be applied. An event older than the head goes
ahead: it precedes the head anyway, and it may be what the head waits for (the capture a
parked refund needs). The lock lives in a table, so it survives restarts and moves with its
partition.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

Verdict = Literal["proceed", "queue", "drop"]


class Parked(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    occurred_at: AwareDatetime
    #: The record that parked it: only a crash replay of that very record parks it again.
    origin: str


class KeyLock(BaseModel):
    model_config = ConfigDict(frozen=True)

    parked: tuple[Parked, ...]

    @property
    def head(self) -> Parked:
        return self.parked[0]

    def find(self, event_id: str) -> Parked | None:
        return next((p for p in self.parked if p.event_id == event_id), None)


def verdict(lock: KeyLock | None, candidate: Parked, *, from_retry: bool) -> Verdict:
    """What to do with `candidate`, an event of a payment whose lock is `lock`.

    - `proceed`: nothing is parked, this is the head, or it precedes the head: apply it.
    - `queue`: it comes after the head: park it behind (again).
    - `drop`: a new delivery of an event already parked: its parked copy will apply.
    """
    if lock is None:
        return "proceed"
    entry = lock.find(candidate.event_id)
    if entry is None:
        return "proceed" if candidate.occurred_at < lock.head.occurred_at else "queue"
    if not from_retry and entry.origin != candidate.origin:
        return "drop"
    return "proceed" if lock.head.event_id == candidate.event_id else "queue"


def parked(lock: KeyLock | None, candidate: Parked) -> KeyLock:
    """`lock` with the event in its place (after those not later than it), unless it is
    already in it."""
    if lock is None:
        return KeyLock(parked=(candidate,))
    if lock.find(candidate.event_id) is not None:
        return lock
    at = bisect_right([p.occurred_at for p in lock.parked], candidate.occurred_at)
    return KeyLock(parked=(*lock.parked[:at], candidate, *lock.parked[at:]))


def released(lock: KeyLock | None, event_id: str) -> KeyLock | None:
    """`lock` without the event; None once nothing is parked (the payment is unlocked)."""
    if lock is None:
        return None
    rest = tuple(p for p in lock.parked if p.event_id != event_id)
    return KeyLock(parked=rest) if rest else None
