"""The worker's three faust tables (RocksDB, changelogged, co-partitioned with raw-webhooks
and the retry tiers: every record of a payment has the same key, so the same partition).

- dedupe: `provider:event_id` → when and from which record the event was applied;
- key-locks: payment key → the payment's parked events (`streams.keylock`);
- payments: payment key → `PaymentState`.

faust declares, restores and assigns the tables; the worker reads and writes the RocksDB of
the record's partition itself and sends the changelog records with its other outputs. faust's
dict API would queue each changelog record through its per-message producer buffer, which
the worker outran by an order of magnitude (profiled: the buffer full, commits stalled for
seconds). Values are bytes encoded here: one codec, no faust model registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import faust
from faust.types import TP

from common.settings import PipelineSettings
from ops.topics import TopicSpec
from streams.dedupe import DedupeEntry, Sweeper, dedupe_key
from streams.keylock import KeyLock
from streams.normalize import NormalizedEvent
from streams.observe import DEDUPE_SWEPT
from streams.process import View
from streams.route import UNCHANGED, Writes
from streams.state_machine import PaymentState

#: RocksDB memtable size per table partition (faust's default is 64 MiB, three of them).
WRITE_BUFFER_BYTES: Final = 8 * 1024 * 1024


DEDUPE, LOCKS, PAYMENTS = TABLE_NAMES = ("dedupe", "key-locks", "payments")


def changelog_topic_specs(app_id: str, settings: PipelineSettings) -> list[TopicSpec]:
    """The tables' changelog topics as faust names them, compacted as faust makes them.
    Created before faust starts: when faust creates them itself, its first rebalance can
    run on metadata that lacks them and every table write fails (`PartitionsMismatch`)."""
    return [
        TopicSpec(
            f"{app_id}-{name}-changelog",
            settings.topic_partitions,
            settings.topic_replication_factor,
            {"cleanup.policy": "compact"},
        )
        for name in TABLE_NAMES
    ]


@dataclass(frozen=True, slots=True)
class ChangelogRecord:
    """A table change to send; `value` None is a tombstone. `table` is faust's table, whose
    store must learn the record's offset once the broker has it (see `Tables.on_sent`)."""

    table: Any
    partition: int
    key: bytes
    value: bytes | None

    @property
    def topic(self) -> str:
        name: str = self.table.changelog_topic.get_topic_name()
        return name


class Tables:
    def __init__(self, app: faust.App, settings: PipelineSettings) -> None:
        self._sweeper = Sweeper(
            retention_ms=round(settings.dedupe_retention_seconds * 1000),
            every_ms=round(settings.dedupe_sweep_interval_seconds * 1000),
        )
        table = _table_factory(app, settings)
        self.dedupe = table(DEDUPE)
        self.locks = table(LOCKS)
        self.payments = table(PAYMENTS)
        self._sent: dict[tuple[Any, TP], int] = {}

    def view(self, partition: int, event: NormalizedEvent) -> View:
        entry = _db(self.dedupe, partition).get(dedupe_key(event.provider, event.event_id))
        lock = _db(self.locks, partition).get(event.payment_key.encode())
        state = _db(self.payments, partition).get(event.payment_key.encode())
        return View(
            dedupe=DedupeEntry.decode(entry) if entry is not None else None,
            lock=KeyLock.model_validate_json(lock) if lock is not None else None,
            state=PaymentState.model_validate_json(state) if state is not None else None,
        )

    def write(
        self, partition: int, event: NormalizedEvent, writes: Writes
    ) -> list[ChangelogRecord]:
        """Apply `writes` to the partition's stores; returns the changelog records to send."""
        payment = event.payment_key.encode()
        changes: list[ChangelogRecord] = []
        if writes.state is not None:
            changes.append(
                ChangelogRecord(
                    self.payments, partition, payment, writes.state.model_dump_json().encode()
                )
            )
        if writes.dedupe is not None:
            key = dedupe_key(event.provider, event.event_id)
            changes.append(ChangelogRecord(self.dedupe, partition, key, writes.dedupe.encode()))
        if writes.lock is not UNCHANGED:
            lock = None if writes.lock is None else writes.lock.model_dump_json().encode()
            changes.append(ChangelogRecord(self.locks, partition, payment, lock))
        for change in changes:
            _put(change)
        return changes

    def maybe_sweep(self, partition: int, now_ms: int) -> list[ChangelogRecord]:
        """Delete expired dedupe entries of `partition` (see `Sweeper`); returns their
        tombstones to send."""
        db = _db(self.dedupe, partition)
        tombstones: list[ChangelogRecord] = []

        def read_from(start: bytes | None) -> Any:
            return db.items(from_key=start) if start is not None else db.items()

        def delete(key: bytes) -> None:
            tombstone = ChangelogRecord(self.dedupe, partition, key, None)
            _put(tombstone)
            tombstones.append(tombstone)

        DEDUPE_SWEPT.inc(self._sweeper.sweep(partition, now_ms, read_from, delete))
        return tombstones

    def on_sent(self, change: ChangelogRecord, offset: int) -> None:
        """Note how far the change's changelog partition is written (see `persist_offsets`)."""
        written = (change.table, TP(change.topic, change.partition))
        self._sent[written] = max(offset, self._sent.get(written, -1))

    def persist_offsets(self) -> None:
        """Tell each store how far its changelog partitions are written: a restart restores
        only what comes after (faust's own bookkeeping for table writes). Each call is a
        RocksDB write, so it runs now and then, not per change: an offset stored late only
        makes a restart re-read a little more of the changelog."""
        sent, self._sent = self._sent, {}
        for (table, tp), offset in sent.items():
            table.data.set_persisted_offset(tp, offset)


def _db(table: Any, partition: int) -> Any:
    # faust keeps one RocksDB per table partition; its store opens it on first use.
    return table.data._db_for_partition(partition)


def _put(change: ChangelogRecord) -> None:
    db = _db(change.table, change.partition)
    if change.value is None:
        db.delete(change.key)
    else:
        db.put(change.key, change.value)


def _table_factory(app: faust.App, settings: PipelineSettings) -> Callable[[str], Any]:
    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            partitions=settings.topic_partitions,
            key_type=bytes,  # bytes: faust's raw serializer
            value_type=bytes,
            # A dict per table: faust's store pops keys from the dict it is given.
            options={
                "block_cache_size": settings.worker_block_cache_bytes,
                "write_buffer_size": WRITE_BUFFER_BYTES,
            },
        )

    return table
