"""Step 2, dedupe: has this event been applied already?

The dedupe table maps `provider:event_id` to when the event was first applied, from which
record (`origin`) and for which payment (`payment_key`: the table sits in that key's
partition, and `payments topics scale` must know it to move the entry when the partition
count grows). Entries older than the retention window count as absent here and are swept
out of RocksDB and the changelog by the table adapter (`streams.tables`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Final, Literal

Verdict = Literal["new", "duplicate", "replay"]

#: Entries a sweep reads per call: bounds the pause it adds to the agent.
SWEEP_BATCH: Final = 2000
#: `(start key or None) → the partition's (key, value) pairs from there, in key order`
ReadFrom = Callable[[bytes | None], Iterable[tuple[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class DedupeEntry:
    """`payment_key` is None only in entries written before it was recorded."""

    seen_at_ms: int
    origin: str
    payment_key: str | None = None

    def encode(self) -> bytes:
        """`{seen_at_ms} {origin}\n{payment_key}`: an origin holds neither a space nor a
        newline (`streams.records`), a payment key may hold anything, so it comes last."""
        tail = "" if self.payment_key is None else f"\n{self.payment_key}"
        return f"{self.seen_at_ms} {self.origin}{tail}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> DedupeEntry | None:
        """None for bytes that are no entry (faust keeps its own bookkeeping keys beside ours).
        An entry without a payment key (the earlier `{seen_at_ms} {origin}`) decodes with
        None."""
        head, newline, payment_key = raw.decode("utf-8", "replace").partition("\n")
        seen_at, _, origin = head.partition(" ")
        if not seen_at.isdigit() or not origin:
            return None
        return cls(int(seen_at), origin, payment_key if newline else None)


def dedupe_key(provider: str, event_id: str) -> bytes:
    return f"{provider}:{event_id}".encode()


def is_expired(entry: DedupeEntry, now_ms: int, retention_ms: int) -> bool:
    return now_ms - entry.seen_at_ms >= retention_ms


def verdict(entry: DedupeEntry | None, origin: str, now_ms: int, retention_ms: int) -> Verdict:
    """`replay` when the record that applied the event is read again: the worker crashed
    before committing its offset, and the outputs of that first pass may never have reached
    the broker, so they must be sent again (the sink is idempotent). Any other copy is a
    `duplicate`."""
    if entry is None or is_expired(entry, now_ms, retention_ms):
        return "new"
    return "replay" if entry.origin == origin else "duplicate"


def expired_keys(
    items: Iterable[tuple[bytes, bytes]], now_ms: int, retention_ms: int
) -> Iterator[bytes]:
    """The keys among `items` whose entries have expired."""
    for key, raw in items:
        entry = DedupeEntry.decode(raw)
        if entry is not None and is_expired(entry, now_ms, retention_ms):
            yield key


@dataclass
class Sweeper:
    """Deletes expired entries, one partition slice at a time, at most once per `every_ms`
    per partition. It walks each partition in key order and starts over at its end, so every
    entry is looked at once per pass however large the table; what it reads is bounded by
    `batch` per call."""

    retention_ms: int
    every_ms: int
    batch: int = SWEEP_BATCH
    _last: dict[int, int] = field(default_factory=dict)
    _resume_at: dict[int, bytes | None] = field(default_factory=dict)

    def sweep(
        self, partition: int, now_ms: int, read_from: ReadFrom, delete: Callable[[bytes], None]
    ) -> int:
        """How many entries of `partition` it deleted (0 when it is not time yet)."""
        if now_ms - self._last.get(partition, -self.every_ms) < self.every_ms:
            return 0
        self._last[partition] = now_ms
        items = list(islice(read_from(self._resume_at.get(partition)), self.batch))
        # The next slice starts just after the last key read; a short slice was the end.
        self._resume_at[partition] = items[-1][0] + b"\0" if len(items) == self.batch else None
        expired = list(expired_keys(items, now_ms, self.retention_ms))
        for key in expired:
            delete(key)
        return len(expired)
