"""Which table entries a partition increase moves, and where (pure: `ops.scale` does I/O).

A changelog partition holds the entries of the keys that hash to it. When the count grows,
an entry whose key now hashes elsewhere is copied to that partition and tombstoned where it
was. The copy goes first (`Plan.puts`, flushed before `Plan.tombstones`), so a crash never
leaves an entry nowhere, and a second run after a crash finds the copies and completes the
job: an entry is never copied onto a partition that already holds a live value for its key
(that value is the same copy, or newer, written by a worker since).

The partitioning key of an entry is its table key (payments, key-locks: the payment key) or
what its value names (dedupe: `DedupeEntry.payment_key`). A dedupe entry written before the
payment key was recorded names none: it is copied to every partition its key can hash to
under the new count, given the partition it sits in under the old one (the partitions
congruent to it modulo gcd(old, new)), and kept where it is. Copies where no record of its
payment will come are never read (dedupe keys name one event) and expire with the rest.
When the old count is unknown (a run resumed after the count was already raised), every
partition can be the one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import gcd

from streams.dedupe import DedupeEntry
from streams.placement import home_partition

#: `(key, value) → the partitioning key`, or None when the entry does not say.
Router = Callable[[bytes, bytes], bytes | None]


@dataclass(frozen=True, slots=True)
class Entry:
    """A changelog record: the latest value of `key` in `partition` when read, a record to
    produce when planned; `value` None is a tombstone."""

    partition: int
    key: bytes
    value: bytes | None


@dataclass(frozen=True)
class Plan:
    puts: tuple[Entry, ...] = ()
    tombstones: tuple[Entry, ...] = ()
    #: live entries already in their key's partition
    in_place: int = 0
    #: live entries that do not name their partitioning key (copied where they may be read)
    unrouted: int = 0

    @property
    def moved(self) -> int:
        return len(self.tombstones)

    @property
    def empty(self) -> bool:
        return not self.puts and not self.tombstones


def by_table_key(key: bytes, _value: bytes) -> bytes:
    """payments and key-locks: the table key is the payment key."""
    return key


def by_dedupe_payment(_key: bytes, value: bytes) -> bytes | None:
    """dedupe: the payment key the entry records (None in an entry from before)."""
    entry = DedupeEntry.decode(value)
    return None if entry is None or entry.payment_key is None else entry.payment_key.encode()


def candidates(partition: int, old: int, new: int) -> list[int]:
    """Every partition under `new` a key can hash to when it hashes to `partition` under
    `old`; `old` == `new` means the old count is unknown: every partition."""
    step = gcd(old, new) if old < new else 1
    return [p for p in range(new) if p % step == partition % step]


def plan(entries: Iterable[Entry], route: Router, old: int, new: int) -> Plan:
    """The moves that put every live entry of one table in its key's partition under `new`
    partitions. `entries`: the latest value of each key in each partition (tombstones are
    skipped); `old`: the partition count they were written under (see `candidates`)."""
    live = [(entry, entry.value) for entry in entries if entry.value is not None]
    holders: defaultdict[bytes, set[int]] = defaultdict(set)
    for entry, _ in live:
        holders[entry.key].add(entry.partition)
    puts: list[Entry] = []
    tombstones: list[Entry] = []
    in_place = unrouted = 0
    for entry, value in live:
        routing = route(entry.key, value)
        if routing is None:
            unrouted += 1
            targets = candidates(entry.partition, old, new)
        else:
            targets = [home_partition(routing, new)]
        for target in targets:
            if target not in holders[entry.key]:
                holders[entry.key].add(target)
                puts.append(Entry(target, entry.key, value))
        if routing is None:
            continue
        if targets[0] == entry.partition:
            in_place += 1
        else:
            tombstones.append(Entry(entry.partition, entry.key, None))
    return Plan(tuple(puts), tuple(tombstones), in_place, unrouted)
