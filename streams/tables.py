"""The worker's one table: payment key → `PaymentRecord` (RocksDB, changelogged,
co-partitioned with raw-webhooks and the retry tiers: every record of a payment has its
key, so its partition).

A take of records reads through a `TableBatch`: each payment's record is read from RocksDB
once, later events of the same payment in the take see the earlier ones' writes, and the
take ends with one RocksDB write batch per partition and one changelog record per payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import faust

from common.settings import PipelineSettings
from common.topics import TopicSpec
from streams import engine
from streams.payment_record import PaymentRecord
from streams.process import ReadRecord

PAYMENT_STATE: Final = "payment-state"
TABLE_NAMES: Final = (PAYMENT_STATE,)


def changelog_topic_name(app_id: str, table: str) -> str:
    """The changelog topic of `table`, as faust names it."""
    return f"{app_id}-{table}-changelog"


def changelog_topic_specs(app_id: str, settings: PipelineSettings) -> list[TopicSpec]:
    """The table's changelog topic as faust names it, compacted as faust makes it. Created
    before faust starts: when faust creates it itself, its first rebalance can run on
    metadata that lacks it and every table write fails (`PartitionsMismatch`)."""
    return [
        TopicSpec(
            changelog_topic_name(app_id, name),
            settings.topic_partitions,
            settings.topic_replication_factor,
            {"cleanup.policy": "compact"},
        )
        for name in TABLE_NAMES
    ]


@dataclass(frozen=True, slots=True)
class ChangelogRecord:
    partition: int
    key: bytes
    value: bytes


class PaymentTable:
    def __init__(self, app: faust.App, settings: PipelineSettings) -> None:
        self.table = engine.declare_table(app, PAYMENT_STATE, settings)
        self._written: dict[int, int] = {}

    @property
    def changelog_topic(self) -> str:
        return engine.changelog_topic(self.table)

    def batch(self) -> TableBatch:
        return TableBatch(self.table)

    def on_sent(self, partition: int, offset: int) -> None:
        """Note how far the changelog partition is written (see `persist_offsets`)."""
        self._written[partition] = max(offset, self._written.get(partition, -1))

    def persist_offsets(self) -> None:
        """Tell the stores how far their changelog partitions are written: a restart
        restores only what comes after. Each is a RocksDB write, so it runs now and then,
        not per batch: an offset stored late only makes a restart re-read a little more."""
        written, self._written = self._written, {}
        for partition, offset in written.items():
            engine.set_persisted_offset(self.table, self.changelog_topic, partition, offset)


class TableBatch:
    """The table as one take sees it: reads are cached, writes held until `commit`."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._read: dict[tuple[int, str], PaymentRecord | None] = {}
        self._dirty: dict[int, dict[str, PaymentRecord]] = {}

    def reader(self, partition: int) -> ReadRecord:
        def read(payment_key: str) -> PaymentRecord | None:
            dirty = self._dirty.get(partition, {}).get(payment_key)
            if dirty is not None:
                return dirty
            cached = (partition, payment_key)
            if cached not in self._read:
                raw = engine.partition_db(self._table, partition).get(payment_key.encode())
                self._read[cached] = None if raw is None else PaymentRecord.decode(raw)
            return self._read[cached]

        return read

    def put(self, partition: int, payment_key: str, record: PaymentRecord) -> None:
        self._dirty.setdefault(partition, {})[payment_key] = record

    def commit(self) -> list[ChangelogRecord]:
        """Write the held records to RocksDB; returns the changelog records to send."""
        changes: list[ChangelogRecord] = []
        for partition, records in self._dirty.items():
            encoded = [(key.encode(), record.encode()) for key, record in records.items()]
            engine.write(self._table, partition, encoded)
            changes.extend(ChangelogRecord(partition, key, value) for key, value in encoded)
        return changes
