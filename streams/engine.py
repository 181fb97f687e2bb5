"""The faust adapter: every faust (and faust-driven aiokafka) internal the worker touches.

faust stays the engine: it runs the consumer group, assigns partitions, declares, restores
and hands over the RocksDB tables and commits offsets. The worker bypasses three of its
per-message paths, each through one function here:

- table writes go to the partition's RocksDB in one write batch, and their changelog
  records are produced with the outputs (faust's dict API queues a changelog send per key
  through its own producer buffer); faust still learns how far each changelog is written
  (`set_persisted_offset`), so a restart restores only what follows;
- outputs are produced as one batch per topic partition (`send_batches`);
- a record's offset becomes committable only once everything it caused is on the broker
  (`hold` / `release`), not when its take ends.

And it closes the ways a faust rebalance can skip records of a source topic
(`guard_rebalances`), and bounds how long the broker may hold the worker's fetches
(`bound_fetch_wait`).

`tests/unit/streams/test_engine.py` fails when a faust or aiokafka upgrade changes any of
these; read it before upgrading either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence, Set
from pathlib import Path
from typing import Any, Final, cast

import faust
import rocksdict
from faust.types import TP

from common.settings import PipelineSettings

#: The versions this adapter was written against (checked by its test).
FAUST_VERSION: Final = "0.15.3"
AIOKAFKA_VERSION: Final = "0.14.0"

PRODUCER_LINGER_SECONDS: Final = 0.005
#: Per partition; below the producer's 1 MB request limit and the broker's message limit.
PRODUCER_MAX_BATCH_BYTES: Final = 256 * 1024
#: RocksDB memtable size per table partition (faust's default is 64 MiB).
WRITE_BUFFER_BYTES: Final = 16 * 1024 * 1024

#: faust's store layout (`faust.stores.rocksdb.Store`, `tabledir` in `faust.types.settings`):
#: a table partition's store is the RocksDB `{datadir}/v{app version}/tables/{table}-
#: {partition}.db` (the app's version is 1), and it keeps the offset of the last changelog
#: record it holds, as decimal text, under `OFFSET_KEY`.
TABLES_SUBDIR: Final = Path("v1") / "tables"
STORE_SUFFIX: Final = ".db"
OFFSET_KEY: Final = b"__faust\0offset__"

#: `(topic, partition) → [(key, value, headers)]`, value None: a tombstone
Batches = Mapping[tuple[str, int], Sequence[tuple[bytes, bytes | None, Sequence[Any]]]]


def app_id(settings: PipelineSettings) -> str:
    """The consumer group, and the prefix of the table's changelog topic."""
    return f"{settings.topic_prefix}{settings.worker_group_id}"


def datadir(settings: PipelineSettings) -> Path:
    """The worker's faust data directory: named for the app id (topic prefix + group), so a
    worker started with other topics never meets the state of the old ones."""
    return settings.worker_data_dir / app_id(settings) / settings.worker_id


def make_app(settings: PipelineSettings) -> faust.App:
    servers = settings.kafka_bootstrap_servers.split(",")
    data = datadir(settings)
    data.mkdir(parents=True, exist_ok=True)  # faust creates only its last part
    return faust.App(
        app_id(settings),
        broker=[f"kafka://{server.strip()}" for server in servers],
        store="rocksdb://",
        datadir=str(data),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=PRODUCER_LINGER_SECONDS,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.worker_session_timeout_seconds,
        broker_heartbeat_interval=settings.worker_session_timeout_seconds / 4,
        # A held tier partition legitimately commits nothing for a whole tier delay.
        broker_commit_livelock_soft_timeout=max(settings.retry_delays_seconds) + 60,
        web_enabled=False,
        autodiscover=False,
    )


def declare_table(app: faust.App, name: str, settings: PipelineSettings) -> Any:
    """A RocksDB table of raw bytes, co-partitioned with the pipeline topics."""
    return app.Table(
        name,
        default=None,
        partitions=settings.topic_partitions,
        key_type=bytes,  # bytes: faust's raw serializer
        value_type=bytes,
        options={
            "block_cache_size": settings.worker_block_cache_bytes,
            "write_buffer_size": WRITE_BUFFER_BYTES,
        },
    )


def changelog_topic(table: Any) -> str:
    name: str = table.changelog_topic.get_topic_name()
    return name


def partition_db(table: Any, partition: int) -> Any:
    """The RocksDB of one table partition (faust opens it on first use)."""
    return table.data._db_for_partition(partition)


def write(table: Any, partition: int, items: Iterable[tuple[bytes, bytes]]) -> None:
    """Put `items` into the partition's RocksDB in one atomic write batch."""
    batch = rocksdict.WriteBatch(raw_mode=True)
    for key, value in items:
        batch.put(key, value)
    partition_db(table, partition).write(batch)


def set_persisted_offset(table: Any, topic: str, partition: int, offset: int) -> None:
    """Tell the table's store how far its changelog partition is written."""
    table.data.set_persisted_offset(TP(topic, partition), offset)


def send_batches(app: faust.App, batches: Batches) -> list[asyncio.Future[Any]]:
    """Produce each topic partition's records as few batches as fit; one future per batch,
    done when the broker acknowledged it."""
    producer = cast(Any, app.producer)._ensure_producer()
    futures: list[asyncio.Future[Any]] = []
    for (topic, partition), records in batches.items():
        batch = producer.create_batch()
        for key, value, headers in records:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(_submit(producer, batch, topic, partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        futures.append(_submit(producer, batch, topic, partition))
    return futures


def bound_fetch_wait(app: faust.App, max_wait_ms: int) -> None:
    """Have the broker answer the worker consumer's fetches within `max_wait_ms` (faust
    fixes 1.5 s). aiokafka keeps one fetch per broker in flight and leaves out of it the
    partitions whose records are still unread; when every busy partition has some, the
    fetch holds only quiet ones (the retry tiers), and the broker keeps it the whole wait
    while the busy partitions' new records wait behind it."""
    thread = cast(Any, app.consumer)._thread
    create = thread._create_worker_consumer

    def create_bounded(transport: Any) -> Any:
        consumer = create(transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # handed to its Fetcher by `start`
        return consumer

    thread._create_worker_consumer = create_bounded


def _submit(producer: Any, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
    async def delivered() -> Any:
        queued = await producer.send_batch(batch, topic, partition=partition)
        return await queued

    return asyncio.ensure_future(delivered())


def hold(message: Any) -> None:
    """Keep `message`'s offset from being committed until `release`, whatever the stream
    does with it meanwhile (a take acks its events when the next take starts)."""
    message.incref()


def release(app: faust.App, message: Any) -> None:
    message.ack(app.consumer)


def stop_waiting_for(app: faust.App, message: Any) -> None:
    """faust stops waiting for `message`'s ack (a record the gate skipped): every
    rebalance and stop would wait for it (`stream_wait_empty`) until the member is thrown
    out. Its offset is still never committed: it is never acked."""
    cast(Any, app.consumer)._unacked_messages.discard(message)


def guard_rebalances(app: faust.App, sources: Collection[str]) -> None:
    """Keep faust's rebalances from skipping records of the `sources` topics.

    faust resumes the streams once the tables are recovered: it resumes the partitions,
    then seeks them to their committed offsets, with the fetcher already running. Records
    fetched in between are read from before the seek and are lost to the streams, yet
    faust's read offsets pass them, and the first commit after the seek counts the span as
    a gap and commits past it. And aiokafka's `seek_to_committed` seeks only offsets above
    0: a partition without one (new after a scale, or whose first record the gate holds)
    keeps whatever position it had.

    So from the moment the tables are recovered (`on_rebalance_complete`) until the seek
    is done, no record of a source partition is fetched, and the seek moves each source
    partition without a committed offset to its first record. A partition whose records
    were processed but not yet committed is read again from there: the dedupe ids in each
    payment's record absorb the repeats.
    """
    thread = cast(Any, app.consumer)._thread
    guard = _RebalanceGuard(frozenset(sources))
    fetch_records, seek_to_committed = thread._fetch_records, thread.seek_to_committed

    async def guarded_fetch(consumer: Any, active: Set[TP], **options: Any) -> Any:
        return await fetch_records(consumer, _Fetchable(active, guard), **options)

    async def guarded_seek() -> Mapping[TP, int | None]:
        committed: Mapping[TP, int | None] = await seek_to_committed()
        unsought = [p for p, offset in committed.items() if p.topic in guard.sources and not offset]
        if unsought:
            await thread.seek_to_beginning(*unsought)
        guard.seeking = False  # faust updates its read offsets before any fetch is served
        return committed

    async def on_tables_recovered(*_: Any, **__: Any) -> None:
        guard.seeking = True

    thread._fetch_records, thread.seek_to_committed = guarded_fetch, guarded_seek
    app.on_rebalance_complete.connect(on_tables_recovered)


class _RebalanceGuard:
    def __init__(self, sources: frozenset[str]) -> None:
        self.sources = sources
        self.seeking = False


class _Fetchable(Set[TP]):
    """The partitions a fetch may return records of: faust's live set of active ones,
    without the sources while a rebalance is being sought. Never false: aiokafka returns
    every partition's records when the set it holds is empty (`Fetcher.fetched_records`:
    `if partitions and tp not in partitions`); a fetch waits on it up to a second, and a
    rebalance that pauses every partition meanwhile would have it hand faust records faust
    then drops, with aiokafka's positions past them."""

    def __init__(self, active: Set[TP], guard: _RebalanceGuard) -> None:
        self._active = active
        self._guard = guard

    def __contains__(self, partition: object) -> bool:
        if self._guard.seeking and getattr(partition, "topic", None) in self._guard.sources:
            return False
        return partition in self._active

    def __iter__(self) -> Iterator[TP]:
        return (partition for partition in self._active if partition in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:  # empty means none, never all
        return True


def tp(topic: str, partition: int) -> TP:
    """faust's TP, not the driver's: faust's resume_partitions stores what it is given and
    its fetcher asserts on anything else."""
    return TP(topic, partition)
