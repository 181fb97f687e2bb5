"""The old three-table layout against the real broker: a worker refuses to start on it
with one line, `payments migrate-state` refuses while a worker runs, then writes one record
per payment to the new table's changelog and deletes the old changelogs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import TopicSpec, create_topics, partition_counts, pipeline_topic_specs
from ops.bench.worker import worker_env
from ops.rehome import Entry
from ops.scale import latest_entries, produce_entries
from streams.engine import app_id
from streams.legacy_layout import (
    DEDUPE,
    LEGACY_TABLE_NAMES,
    LOCKS,
    PAYMENTS,
    refuse_legacy_layout,
)
from streams.payment_record import PaymentRecord
from streams.placement import home_partition
from streams.state_machine import PaymentState
from streams.tables import PAYMENT_STATE, changelog_topic_name
from tests.support.cli import cli
from tests.support.groups import member_of
from tests.support.ports import free_port

PARTITIONS = 4
PAID, LOCKED = b"stripe:pi_paid", b"stripe:pi_locked"


def state(day: int) -> bytes:
    return (
        PaymentState(last_event_at=datetime(2025, 11, day, tzinfo=UTC)).model_dump_json().encode()
    )


def applied(seen_at_ms: int, origin: str, payment: bytes | None) -> bytes:
    """An old dedupe entry, as the three-table layout wrote it."""
    return f"{seen_at_ms} {origin}".encode() + (b"\n" + payment if payment else b"")


def old_layout(settings: PipelineSettings) -> None:
    """The pipeline's topics, and the three changelogs as a worker of the old layout left
    them."""
    group = app_id(settings)
    topics = {table: changelog_topic_name(group, table) for table in LEGACY_TABLE_NAMES}
    specs = [TopicSpec(t, PARTITIONS, 1, {"cleanup.policy": "compact"}) for t in topics.values()]
    create_topics(make_admin(settings), [*pipeline_topic_specs(settings), *specs])
    paid, locked = home_partition(PAID, PARTITIONS), home_partition(LOCKED, PARTITIONS)
    produce_entries(
        settings,
        [
            (topics[PAYMENTS], Entry(paid, PAID, state(20))),
            (topics[PAYMENTS], Entry(paid, PAID, state(25))),  # the latest counts
            (topics[PAYMENTS], Entry(locked, LOCKED, state(21))),
            (topics[DEDUPE], Entry(paid, b"stripe:evt_2", applied(2000, "raw/0/2", PAID))),
            (topics[DEDUPE], Entry(paid, b"stripe:evt_1", applied(1000, "raw/0/1", PAID))),
            (topics[DEDUPE], Entry(locked, b"stripe:evt_x", applied(3000, "raw/1/5", LOCKED))),
            (topics[DEDUPE], Entry(locked, b"stripe:evt_x", None)),  # swept
            (topics[DEDUPE], Entry(0, b"stripe:evt_legacy", applied(500, "raw/0/0", None))),
            (topics[LOCKS], Entry(locked, LOCKED, b'{"parked": []}')),
        ],
    )


def start_worker(settings: PipelineSettings, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = worker_env(settings, tmp_path / "data", "w1", free_port())
    argv = [sys.executable, "-m", "ops.cli", "worker"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_old_layout_is_refused_until_migrate_state_has_moved_it(
    make_settings: Callable[..., PipelineSettings], tmp_path: Path
) -> None:
    settings = make_settings(topic_partitions=PARTITIONS)
    old_layout(settings)
    group = app_id(settings)

    refused = start_worker(settings, tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "the worker's state is in the old three-table layout (topics "
        f"{group}-dedupe-changelog, {group}-key-locks-changelog, {group}-payments-changelog): "
        "stop every worker and run `payments migrate-state`"
    ]

    with member_of(settings, group):
        code, output = cli(settings, "migrate-state")
    assert code == 1
    assert "active member(s): stop every worker first" in output

    code, output = cli(settings, "migrate-state", "--dry-run")
    assert code == 0, output
    assert "dry run: nothing changed" in output
    code, output = cli(settings, "migrate-state")
    assert code == 0, output
    assert "2 payment records to write" in output
    assert "dedupe entries without a payment key, left out: 1" in output
    assert "payments with parked events, their key locks left out: 1" in output

    old = [changelog_topic_name(group, table) for table in LEGACY_TABLE_NAMES]
    assert set(partition_counts(make_admin(settings), old).values()) == {None}
    migrated = latest_entries(settings, changelog_topic_name(group, PAYMENT_STATE))
    events = [("evt_1", 1000, "raw/0/1"), ("evt_2", 2000, "raw/0/2")]
    assert sorted(migrated, key=lambda e: e.key) == [
        Entry(home_partition(LOCKED, PARTITIONS), LOCKED, _encoded(state(21), [])),
        Entry(home_partition(PAID, PARTITIONS), PAID, _encoded(state(25), events)),
    ]
    refuse_legacy_layout(make_admin(settings), group, (PAYMENT_STATE,))  # no longer refuses

    code, output = cli(settings, "migrate-state")
    assert code == 0, output
    assert "nothing to migrate" in output


def test_a_migration_whose_deletion_stopped_midway_only_deletes_what_is_left(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(topic_partitions=PARTITIONS)
    old_layout(settings)
    group = app_id(settings)
    assert cli(settings, "migrate-state")[0] == 0
    migrated = latest_entries(settings, changelog_topic_name(group, PAYMENT_STATE))
    locks = TopicSpec(
        changelog_topic_name(group, LOCKS), PARTITIONS, 1, {"cleanup.policy": "compact"}
    )
    create_topics(make_admin(settings), [locks])  # as if its deletion had failed

    code, output = cli(settings, "migrate-state")

    assert code == 0, output
    assert f"left to delete: {locks.name}" in output
    assert partition_counts(make_admin(settings), [locks.name]) == {locks.name: None}
    assert latest_entries(settings, changelog_topic_name(group, PAYMENT_STATE)) == migrated


def _encoded(state_json: bytes, events: list[tuple[str, int, str]]) -> bytes:
    return PaymentRecord.from_legacy(state_json, events).encode()
