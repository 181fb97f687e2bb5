"""Step 2, dedupe: has this event been applied already?

A payment's record (`streams.payment_record`) keeps, for each event it applied within the
retention window, when and from which record (`origin`) it was applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["new", "duplicate", "replay"]


@dataclass(frozen=True, slots=True)
class Seen:
    """When an event was applied (epoch ms), from which record, and the version of its
    payment's state it made (what a crash replay describes it with again)."""

    at_ms: int
    origin: str
    version: int = 0


def is_expired(seen: Seen, now_ms: int, retention_ms: int) -> bool:
    return now_ms - seen.at_ms >= retention_ms


def verdict(seen: Seen | None, origin: str, now_ms: int, retention_ms: int) -> Verdict:
    """`replay` when the record that applied the event is read again: the worker crashed
    before committing its offset, and the outputs of that first pass may never have reached
    the broker, so they must be sent again (the sink is idempotent). Any other copy is a
    `duplicate`."""
    if seen is None or is_expired(seen, now_ms, retention_ms):
        return "new"
    return "replay" if seen.origin == origin else "duplicate"
