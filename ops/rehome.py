"""Which table entries a partition increase moves, and where (pure: `ops.scale` does I/O).

A changelog partition holds the entries of the keys that hash to it. When the count grows,
an entry whose key now hashes elsewhere is copied to that partition and tombstoned where it
was. The copy goes first (`Plan.puts`, flushed before `Plan.tombstones`), so a crash never
leaves an entry nowhere, and a second run after a crash finds the copies and completes the
job: an entry is never copied onto a partition that already holds a live value for its key
(that value is the same copy, or newer, written by a worker since).

The partitioning key of an entry is its table key: the payment key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from streams.placement import home_partition


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

    @property
    def moved(self) -> int:
        return len(self.tombstones)

    @property
    def empty(self) -> bool:
        return not self.puts and not self.tombstones


def plan(entries: Iterable[Entry], new: int) -> Plan:
    """The moves that put every live entry of one table in its key's partition under `new`
    partitions. `entries`: the latest value of each key in each partition (tombstones are
    skipped)."""
    live = [(entry, entry.value) for entry in entries if entry.value is not None]
    holders: defaultdict[bytes, set[int]] = defaultdict(set)
    for entry, _ in live:
        holders[entry.key].add(entry.partition)
    puts: list[Entry] = []
    tombstones: list[Entry] = []
    in_place = 0
    for entry, value in live:
        target = home_partition(entry.key, new)
        if target == entry.partition:
            in_place += 1
            continue
        if target not in holders[entry.key]:
            holders[entry.key].add(target)
            puts.append(Entry(target, entry.key, value))
        tombstones.append(Entry(entry.partition, entry.key, None))
    return Plan(tuple(puts), tuple(tombstones), in_place)
