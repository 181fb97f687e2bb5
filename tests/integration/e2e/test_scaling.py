"""Partition scaling under load, on the real broker and the real PostgreSQL: while signed
webhooks keep coming through ingress, the worker is stopped, `payments topics scale`
raises every topic from 4 to 8 partitions and moves the tables' entries, the worker comes
back with TOPIC_PARTITIONS=8 and a second worker joins. Afterwards PostgreSQL holds every
event once, every payment in its right state, nothing in dlq; every table entry sits in its
key's partition, in the changelogs and in the restarted worker's RocksDB."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from rocksdict import AccessType, Options, Rdict

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from common.topics import describe_topics, partition_counts
from ops.bench.worker import metric_total
from ops.scale import active_members, latest_entries
from schemas import headers as h
from streams.placement import home_partition
from streams.tables import TABLE_NAMES, changelog_topic_specs
from streams.worker import app_id
from tests.support.cli import cli
from tests.support.groups import worker_owners_of
from tests.support.ingress import app_client
from tests.support.sink import payment_rows, row_counts, sink_running
from tests.support.webhooks import lifecycle, signed
from tests.support.workers import Workers

PAYMENTS = 20
EVENTS = 3 * PAYMENTS
#: Seconds between two webhooks: the load spans the whole scale.
PACE_SECONDS = 0.12
FAUST_OFFSET_KEY = b"__faust\x00offset__"


def deliveries() -> list[bytes]:
    """Every event twice; the second copies mostly after the first, so that many
    duplicates meet their first copy's dedupe id only after it moved."""
    events = [body for n in range(PAYMENTS) for _, body in lifecycle(n)]
    first, second = events[:], events[:]
    random.Random(11).shuffle(first)  # refunds often come before their capture
    random.Random(12).shuffle(second)
    return first + second


async def test_scaling_from_4_to_8_partitions_under_load_keeps_every_event_once(
    pipeline_settings: PipelineSettings, workers: Workers, tmp_path: Path
) -> None:
    # Ingress and the sink run throughout and see new partitions within 2 s.
    settings = pipeline_settings.model_copy(update={"kafka_metadata_max_age_seconds": 2.0})
    scaled = settings.model_copy(update={"topic_partitions": 8})
    assert cli(settings, "topics", "create")[0] == 0
    workers.start(settings, "w1")
    posted: list[int] = []
    joined, sharing = asyncio.Event(), asyncio.Event()
    first, second, third = thirds(deliveries())
    half = len(third) // 2

    async with app_client(settings) as client, sink_running(settings):

        async def load() -> None:
            for body in first + second:  # the second third while the worker stops and scales
                await post(body)
            # the last third once the second worker joined, its second half once it shares
            # the partitions
            for gate, bodies in ((joined, third[:half]), (sharing, third[half:])):
                await gate.wait()
                for body in bodies:
                    await post(body)

        async def post(body: bytes) -> None:
            response = await client.post("/webhooks/stripe", content=body, headers=signed(body))
            assert response.status_code == 200, response.text
            posted.append(1)
            await asyncio.sleep(PACE_SECONDS)

        loading = asyncio.create_task(load())
        await until(lambda: len(posted) >= len(first) and applied(settings) >= EVENTS // 4)
        workers.stop("w1")
        await until(lambda: active_members(make_admin(settings), app_id(settings)) == 0)

        scale = ("topics", "scale", "--partitions", "8")
        code, output = await asyncio.to_thread(cli, settings, *scale)
        assert code == 0, output
        assert "done: start the workers with TOPIC_PARTITIONS=8" in output

        # w1 alone: all 8 partitions restored (the moves' tombstones too) before it processes
        workers.start(scaled, "w1")
        await until(lambda: processed(workers, "w1") > 0)
        workers.start(scaled, "w2")
        joined.set()
        await until(lambda: worker_owners_of(settings, settings.topics.raw_webhooks) == 2)
        sharing.set()
        await loading

        await until(lambda: applied(settings) >= EVENTS)
        await asyncio.sleep(3)  # anything extra (a duplicate) would arrive in this window
        counts = row_counts(settings.database_url)

    assert counts["webhook_events"] == EVENTS
    assert counts["payment_transitions"] == EVENTS
    rows = payment_rows(settings.database_url)
    assert set(rows) == {f"pi_e2e_{n}" for n in range(PAYMENTS)}
    for row in rows.values():
        assert (row["status"], row["currency"]) == ("partially_refunded", "USD")
        assert (row["captured_amount"], row["refunded_amount"]) == (1000, 500)
    admin = make_admin(settings)
    dlq = describe_topics(settings, [settings.topics.dlq], [])
    assert sum(partition.high for partition in dlq) == 0
    changelogs = [spec.name for spec in changelog_topic_specs(app_id(settings), settings)]
    assert set(partition_counts(admin, [*settings.topics.all(), *changelogs]).values()) == {8}
    # the backlog in partitions of the old count went to its keys' partitions
    raw = scan_topics(settings, [settings.topics.raw_webhooks])
    assert any(h.FORWARDED_FROM in entry.headers for entry in raw)

    workers.stop("w1")
    workers.stop("w2")
    live = entries_by_table(changelog_entries(settings, changelogs))
    # one record per payment, holding its events' dedupe ids
    assert live == {"payment-state": PAYMENTS}
    assert entries_by_table(local_entries(tmp_path / "data" / app_id(settings) / "w1"))


def thirds(items: list[bytes]) -> tuple[list[bytes], list[bytes], list[bytes]]:
    size = len(items) // 3
    return items[:size], items[size : 2 * size], items[2 * size :]


def applied(settings: PipelineSettings) -> int:
    return row_counts(settings.database_url)["webhook_events"]


def processed(workers: Workers, worker_id: str) -> float:
    try:
        return metric_total(workers.metrics_ports[worker_id], "payments_worker_events_total")
    except OSError:  # not serving /metrics yet
        return 0.0


async def until(done: Callable[[], bool], seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(done):
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.2)


Located = tuple[str, int, bytes, bytes]  # table, partition, key, value


def changelog_entries(settings: PipelineSettings, topics: list[str]) -> Iterator[Located]:
    for table, topic in zip(TABLE_NAMES, topics, strict=True):
        for entry in latest_entries(settings, topic):
            if entry.value is not None:
                yield table, entry.partition, entry.key, entry.value


def local_entries(data_dir: Path) -> Iterator[Located]:
    """What a worker's RocksDB stores hold, one store per table and partition."""
    stores = sorted(data_dir.rglob("*.db"))
    assert stores, f"no RocksDB store under {data_dir}"
    for store in stores:
        table, _, partition = store.name.removesuffix(".db").rpartition("-")
        db = Rdict(str(store), Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for key, value in db.items():
                assert isinstance(key, bytes)
                if key != FAUST_OFFSET_KEY:
                    yield table, int(partition), key, value
        finally:
            db.close()


def entries_by_table(entries: Iterator[Located]) -> Counter[str]:
    """How many entries each table has, each checked to sit in its key's partition."""
    tables: Counter[str] = Counter()
    for table, partition, key, _value in entries:
        assert partition == home_partition(key, 8), (table, partition, key)
        tables[table] += 1
    return tables
