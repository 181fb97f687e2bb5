"""The worker's three faust tables (RocksDB, changelogged, co-partitioned with raw-webhooks
and the retry tiers: every record of a payment has the same key, so the same partition).

- dedupe: `provider:event_id` → when and from which record the event was applied;
- key-locks: payment key → the payment's parked events (`streams.keylock`);
- payments: payment key → `PaymentState`.

Values are bytes encoded here (raw serializers): one codec, no faust model registry.
Writes go to the partition of the event being processed (faust's rule for tables).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import faust

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

    def view(self, event: NormalizedEvent) -> View:
        entry = self.dedupe.get(dedupe_key(event.provider, event.event_id))
        lock = self.locks.get(event.payment_key.encode())
        state = self.payments.get(event.payment_key.encode())
        return View(
            dedupe=DedupeEntry.decode(entry) if entry is not None else None,
            lock=KeyLock.model_validate_json(lock) if lock is not None else None,
            state=PaymentState.model_validate_json(state) if state is not None else None,
        )

    def write(self, event: NormalizedEvent, writes: Writes) -> None:
        payment = event.payment_key.encode()
        if writes.state is not None:
            self.payments[payment] = writes.state.model_dump_json().encode()
        if writes.dedupe is not None:
            self.dedupe[dedupe_key(event.provider, event.event_id)] = writes.dedupe.encode()
        if writes.lock is UNCHANGED:
            return
        if writes.lock is None:
            self.locks.pop(payment, None)
        else:
            self.locks[payment] = writes.lock.model_dump_json().encode()

    def maybe_sweep(self, partition: int, now_ms: int) -> int:
        """Delete expired dedupe entries of `partition` (see `Sweeper`). Must run while an
        event of `partition` is processed: faust sends the changelog tombstones to the
        partition of the event in hand."""

        def read_from(start: bytes | None) -> Any:
            # faust keeps one RocksDB per table partition, but its table API cannot read
            # one partition from a given key on; the store's rocksdict handle can.
            db = self.dedupe.data._db_for_partition(partition)
            return db.items(from_key=start) if start is not None else db.items()

        def delete(key: bytes) -> None:
            self.dedupe.pop(key, None)

        swept = self._sweeper.sweep(partition, now_ms, read_from, delete)
        DEDUPE_SWEPT.inc(swept)
        return swept


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
