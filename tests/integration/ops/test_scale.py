"""`payments topics scale` against the real broker: the counts rise together, every table
entry ends in its key's partition, a dry run and a second run change nothing, and it
refuses to shrink, to run without the topics, and to run while a worker is in the group."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from confluent_kafka import Consumer

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, partition_counts, pipeline_topic_specs
from ops.rehome import Entry, candidates
from ops.scale import active_members, latest_entries, produce_entries
from streams.dedupe import DedupeEntry
from streams.placement import home_partition
from streams.tables import DEDUPE, LOCKS, PAYMENTS, TABLE_NAMES, changelog_topic_specs
from streams.worker import app_id
from tests.support.cli import cli

KEYS = [f"stripe:pi_{n}".encode() for n in range(40)]
GONE = [f"stripe:pi_gone_{n}".encode() for n in range(5)]
#: dedupe entries from before the payment key was recorded: (partition, key)
LEGACY = [(1, b"stripe:evt_legacy_1"), (3, b"paypal:WH-legacy-3")]


def dedupe_value(payment: bytes) -> bytes:
    return DedupeEntry(1_700_000_000_000, "raw/0/1", payment.decode()).encode()


def legacy_value() -> bytes:
    return DedupeEntry(1_700_000_000_000, "raw/1/7").encode()


@pytest.fixture
def settings(make_settings: Callable[..., PipelineSettings]) -> PipelineSettings:
    """Pipeline topics and changelogs at 4 partitions, the changelogs filled as workers
    would: each entry in its key's partition, some keys deleted since."""
    settings = make_settings(topic_partitions=4)
    admin = make_admin(settings)
    specs = changelog_topic_specs(app_id(settings), settings)
    create_topics(admin, [*pipeline_topic_specs(settings), *specs])
    topics = changelogs(settings)
    records: list[tuple[str, Entry]] = []
    for key in KEYS + GONE:
        home = home_partition(key, 4)
        records.append((topics[PAYMENTS], Entry(home, key, b"state of " + key)))
        event = b"stripe:evt_" + key.rpartition(b"_")[2]
        records.append((topics[DEDUPE], Entry(home, event, dedupe_value(key))))
    records += [(topics[LOCKS], Entry(home_partition(k, 4), k, b"lock")) for k in KEYS[:8]]
    records += [(topics[PAYMENTS], Entry(home_partition(k, 4), k, None)) for k in GONE]
    records += [(topics[DEDUPE], Entry(p, key, legacy_value())) for p, key in LEGACY]
    produce_entries(settings, records)
    return settings


def test_scale_moves_every_entry_home_and_runs_again_safely(settings: PipelineSettings) -> None:
    topics = changelogs(settings)
    before = {name: live(settings, topic) for name, topic in topics.items()}

    code, planned = cli(settings, "topics", "scale", "--partitions", "8", "--dry-run")
    assert code == 0, planned
    assert planned.count("4 → 8 partitions") == 9  # 6 pipeline topics, 3 changelogs
    assert "dry run: nothing changed" in planned
    assert set(counts(settings).values()) == {4}

    code, output = cli(settings, "topics", "scale", "--partitions", "8")
    assert code == 0, output
    assert set(counts(settings).values()) == {8}
    after = {name: live(settings, topic) for name, topic in topics.items()}
    for table in (PAYMENTS, LOCKS):
        assert {key: value for (_, key), value in after[table].items()} == {
            key: value for (_, key), value in before[table].items()
        }
        assert all(p == home_partition(key, 8) for p, key in after[table])
    assert not any(key in GONE for _, key in after[PAYMENTS])
    for (partition, _), value in after[DEDUPE].items():
        entry = DedupeEntry.decode(value)
        assert entry is not None
        if entry.payment_key is not None:
            assert partition == home_partition(entry.payment_key.encode(), 8)
    # legacy entries: wherever their events can still come
    legacy_at = {key: {p for p, k in after[DEDUPE] if k == key} for _, key in LEGACY}
    assert legacy_at == {key: set(candidates(p, 4, 8)) for p, key in LEGACY}

    # Again (as after a crash): keyed entries stay as they are; legacy entries, whose old
    # partition count is no longer known, are copied to the partitions that lack them.
    code, again = cli(settings, "topics", "scale", "--partitions", "8")
    assert code == 0, again
    final = {name: live(settings, topic) for name, topic in topics.items()}
    assert final[PAYMENTS] == after[PAYMENTS]
    assert final[LOCKS] == after[LOCKS]
    assert {k: v for k, v in final[DEDUPE].items() if v != legacy_value()} == {
        k: v for k, v in after[DEDUPE].items() if v != legacy_value()
    }
    code, third = cli(settings, "topics", "scale", "--partitions", "8")
    assert code == 0, third
    assert "nothing to do" in third


def test_scale_refuses_to_shrink_and_to_run_without_topics(
    settings: PipelineSettings, make_settings: Callable[..., PipelineSettings]
) -> None:
    code, output = cli(settings, "topics", "scale", "--partitions", "2")
    assert code == 1
    assert "cannot shrink to 2 partitions" in output
    code, output = cli(make_settings(), "topics", "scale", "--partitions", "8")
    assert code == 1
    assert "run `payments topics create` first" in output
    assert set(counts(settings).values()) == {4}


def test_scale_refuses_while_a_worker_is_in_the_group(settings: PipelineSettings) -> None:
    with member_of(settings, app_id(settings)):
        code, output = cli(settings, "topics", "scale", "--partitions", "8")
        rehearsed, plan = cli(settings, "topics", "scale", "--partitions", "8", "--dry-run")
    assert code == 1
    assert "active member(s): stop every worker first" in output
    assert rehearsed == 0, plan  # a dry run reads only
    assert "1 worker(s) running: the tables may change until stopped" in plan
    assert set(counts(settings).values()) == {4}


@contextmanager
def member_of(settings: PipelineSettings, group: str) -> Iterator[None]:
    """A consumer in `group` (as a running worker is), until the block ends."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": group})
    consumer.subscribe([settings.topics.raw_webhooks])
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, "never joined the group"
            consumer.poll(0.2)
        assert active_members(make_admin(settings), group) == 1
        yield
    finally:
        consumer.close()


def changelogs(settings: PipelineSettings) -> dict[str, str]:
    specs = changelog_topic_specs(app_id(settings), settings)
    return {name: spec.name for name, spec in zip(TABLE_NAMES, specs, strict=True)}


def counts(settings: PipelineSettings) -> dict[str, int | None]:
    names = [*settings.topics.all(), *changelogs(settings).values()]
    return partition_counts(make_admin(settings), names)


def live(settings: PipelineSettings, topic: str) -> dict[tuple[int, bytes], bytes]:
    return {
        (entry.partition, entry.key): entry.value
        for entry in latest_entries(settings, topic)
        if entry.value is not None
    }
