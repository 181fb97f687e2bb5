"""`payments topics scale` against the real broker: the counts rise together, every table
entry ends in its key's partition, a dry run and a second run change nothing, and it
refuses to shrink, to run without the topics, and to run while a worker is in the group."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, partition_counts, pipeline_topic_specs
from ops.rehome import Entry
from ops.scale import latest_entries, produce_entries
from streams.engine import app_id
from streams.placement import home_partition
from streams.tables import PAYMENT_STATE, TABLE_NAMES, changelog_topic_specs
from tests.support.cli import cli
from tests.support.groups import member_of

KEYS = [f"stripe:pi_{n}".encode() for n in range(40)]
GONE = [f"stripe:pi_gone_{n}".encode() for n in range(5)]


@pytest.fixture
def settings(make_settings: Callable[..., PipelineSettings]) -> PipelineSettings:
    """Pipeline topics and the changelog at 4 partitions, the changelog filled as workers
    would: each payment's record in its key's partition, some deleted since."""
    settings = make_settings(topic_partitions=4)
    admin = make_admin(settings)
    specs = changelog_topic_specs(app_id(settings), settings)
    create_topics(admin, [*pipeline_topic_specs(settings), *specs])
    topic = changelogs(settings)[PAYMENT_STATE]
    records = [(topic, Entry(home_partition(k, 4), k, b"record of " + k)) for k in KEYS + GONE]
    records += [(topic, Entry(home_partition(k, 4), k, None)) for k in GONE]
    produce_entries(settings, records)
    return settings


def test_scale_moves_every_entry_home_and_runs_again_safely(settings: PipelineSettings) -> None:
    topic = changelogs(settings)[PAYMENT_STATE]
    before = live(settings, topic)

    code, planned = cli(settings, "topics", "scale", "--partitions", "8", "--dry-run")
    assert code == 0, planned
    assert planned.count("4 → 8 partitions") == 7  # 6 pipeline topics, 1 changelog
    assert "dry run: nothing changed" in planned
    assert set(counts(settings).values()) == {4}

    code, output = cli(settings, "topics", "scale", "--partitions", "8")
    assert code == 0, output
    assert set(counts(settings).values()) == {8}
    after = live(settings, topic)
    assert {key: value for (_, key), value in after.items()} == {
        key: value for (_, key), value in before.items()
    }
    assert all(p == home_partition(key, 8) for p, key in after)
    assert not any(key in GONE for _, key in after)

    # Again (as after a crash): every entry stays as it is.
    code, again = cli(settings, "topics", "scale", "--partitions", "8")
    assert code == 0, again
    assert live(settings, topic) == after
    assert "nothing to do" in again


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
