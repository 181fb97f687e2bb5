"""`payments topics scale`: more partitions for every pipeline topic and for the worker's
changelog topics together, with the tables' entries moved to their keys' new partitions.

The worker's tables are co-partitioned with raw-webhooks and the retry tiers: an entry
lives in the changelog partition its payment key hashes to. Raising the count changes
where keys hash, so each changelog is read to its end and every entry that now belongs
elsewhere is copied there and tombstoned where it was (`ops.rehome`). A worker restores
its RocksDB stores from the changelogs when it starts (from the offset each store last
saw; a new partition from the beginning), so it drops the moved entries from the old
partitions and finds them in the new ones.

Workers must be stopped: faust checks co-partitioning when it starts, and no table may be
written while its entries move. Ingress and the sink may keep running; records written to
a partition of the old count are forwarded by the worker (`streams.placement`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from common.kafka import make_admin, make_confluent_producer
from common.settings import PipelineSettings
from common.topic_scan import read_messages
from common.topics import ADMIN_TIMEOUT_SECONDS, increase_partitions, partition_counts
from ops.rehome import Entry, Plan, plan
from streams.tables import TABLE_NAMES, changelog_topic_specs
from streams.worker import app_id

#: Longest time to read one changelog to its end.
READ_TIMEOUT_SECONDS: Final = 600.0


class ScaleRefused(Exception):
    """The scale cannot run as asked; nothing was changed."""


@dataclass(frozen=True)
class TableMoves:
    table: str
    topic: str
    plan: Plan


@dataclass(frozen=True)
class ScalePlan:
    partitions: int
    group: str
    #: every pipeline topic and existing changelog → its partition count now
    counts: dict[str, int]
    tables: list[TableMoves]
    #: members of the worker group while the changelogs were read (a dry run allows them)
    workers: int = 0

    @property
    def to_raise(self) -> list[str]:
        return [topic for topic, count in self.counts.items() if count < self.partitions]

    @property
    def empty(self) -> bool:
        return not self.to_raise and all(moves.plan.empty for moves in self.tables)

    def describe(self) -> list[str]:
        lines = [
            f"{topic}: {count} → {self.partitions} partitions"
            if count < self.partitions
            else f"{topic}: {count} partitions, unchanged"
            for topic, count in self.counts.items()
        ]
        for moves in self.tables:
            p = moves.plan
            lines.append(
                f"table {moves.table}: {p.moved} entries to move, {p.in_place} in place"
                + f" ({len(p.puts)} copies, {len(p.tombstones)} tombstones)"
            )
        if self.workers:
            lines.append(f"{self.workers} worker(s) running: the tables may change until stopped")
        return lines


def prepare(settings: PipelineSettings, partitions: int, *, dry_run: bool = False) -> ScalePlan:
    """Read what is there and plan the scale to `partitions`; changes nothing. Raises
    `ScaleRefused` when a pipeline topic is missing, a topic has more partitions than asked
    (Kafka cannot take partitions away), or, unless it is a `dry_run`, workers run."""
    admin = make_admin(settings)
    group = app_id(settings)
    workers = active_members(admin, group)
    if workers and not dry_run:
        raise ScaleRefused(_workers_running(group, workers))
    changelogs = {
        name: spec.name
        for name, spec in zip(TABLE_NAMES, changelog_topic_specs(group, settings), strict=True)
    }
    found = partition_counts(admin, [*settings.topics.all(), *changelogs.values()])
    missing = [topic for topic in settings.topics.all() if found[topic] is None]
    if missing:
        raise ScaleRefused(f"missing topics {missing}: run `payments topics create` first")
    counts = {topic: count for topic, count in found.items() if count is not None}
    larger = [f"{topic} has {count}" for topic, count in counts.items() if count > partitions]
    if larger:
        raise ScaleRefused(
            f"cannot shrink to {partitions} partitions ({', '.join(larger)}): Kafka cannot "
            "remove partitions"
        )
    tables = [
        TableMoves(table, topic, plan(latest_entries(settings, topic), partitions))
        for table, topic in changelogs.items()
        if topic in counts
    ]
    return ScalePlan(partitions, group, counts, tables, workers)


def apply(settings: PipelineSettings, scale: ScalePlan) -> None:
    """Raise the counts, then write the copies, then (once the copies are on the broker)
    the tombstones. Safe to run again after a crash: `prepare` then plans what is left."""
    admin = make_admin(settings)
    if workers := active_members(admin, scale.group):
        raise ScaleRefused(_workers_running(scale.group, workers))
    increase_partitions(admin, scale.to_raise, scale.partitions)
    produce_entries(settings, [(m.topic, put) for m in scale.tables for put in m.plan.puts])
    produce_entries(settings, [(m.topic, dead) for m in scale.tables for dead in m.plan.tombstones])


def latest_entries(settings: PipelineSettings, topic: str) -> list[Entry]:
    """The latest record of each key in each partition of `topic` (None: a tombstone), by
    partition and key: records of different partitions arrive in no fixed order."""
    latest: dict[tuple[int, bytes], bytes | None] = {}
    for message in read_messages(settings, [topic], READ_TIMEOUT_SECONDS, complete=True):
        latest[(message.partition() or 0, message.key() or b"")] = message.value()
    return [Entry(partition, key, value) for (partition, key), value in sorted(latest.items())]


def _workers_running(group: str, members: int) -> str:
    return (
        f"the worker group {group} has {members} active member(s): stop every worker first "
        "(faust checks co-partitioning when it starts, and the tables must not be written "
        "while their entries move); a killed worker leaves the group after "
        "WORKER_SESSION_TIMEOUT_SECONDS"
    )


def active_members(admin: AdminClient, group: str) -> int:
    """Members of consumer group `group` (0 when it is empty or unknown)."""
    futures = admin.describe_consumer_groups([group], request_timeout=ADMIN_TIMEOUT_SECONDS)
    try:
        description = futures[group].result()
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return 0
        raise
    return len(description.members)


def produce_entries(settings: PipelineSettings, records: Iterable[tuple[str, Entry]]) -> None:
    """Produce each `(topic, entry)` to the entry's partition; return once all are acked."""
    producer = make_confluent_producer(settings)
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    for topic, entry in records:
        while True:
            try:
                producer.produce(
                    topic,
                    value=entry.value,
                    key=entry.key,
                    partition=entry.partition,
                    on_delivery=delivered,
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(1.0)
    if producer.flush(ADMIN_TIMEOUT_SECONDS * 4) or failures:
        raise RuntimeError(f"the broker did not take every record: {failures[:5]}")
