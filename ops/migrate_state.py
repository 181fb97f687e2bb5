"""`payments migrate-state`: the worker's state from the three-table layout (`dedupe`,
`key-locks`, `payments`) into the changelog of the one `payment-state` table
(`streams.legacy_layout`), then the old changelogs deleted.

Workers must be stopped: the old changelogs must not change while they are read. The new
records are on the broker before anything is deleted, so a run that fails midway can be run
again: while the `payments` and `dedupe` changelogs both exist it writes the same records
again; once a deletion began it only deletes what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import AdminClient

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import (
    TopicSpec,
    create_topics,
    delete_topics,
    mismatched_partitions,
    partition_counts,
)
from ops.legacy_state import Migration, migrated_records
from ops.scale import active_members, latest_entries, produce_entries
from streams.engine import app_id
from streams.legacy_layout import DEDUPE, LEGACY_TABLE_NAMES, LOCKS, PAYMENTS
from streams.tables import changelog_topic_name, changelog_topic_specs


class MigrationRefused(Exception):
    """The migration cannot run as things are; nothing was changed."""


@dataclass(frozen=True)
class MigrationPlan:
    group: str
    target: TopicSpec
    #: the old layout's changelogs that exist
    old_topics: list[str]
    #: None when the old state was written already (a deletion had begun)
    migration: Migration | None

    def describe(self) -> list[str]:
        if not self.old_topics:
            return [f"nothing to migrate: no changelog of the old layout for {self.group}"]
        if self.migration is None:
            left = ", ".join(self.old_topics)
            return [f"written to {self.target.name} before; left to delete: {left}"]
        m = self.migration
        return [
            f"{len(m.records)} payment records to write to {self.target.name}",
            f"dedupe entries without a payment key, left out: {m.unattributed}",
            f"payments with parked events, their key locks left out: {m.locked}",
            f"then deleted: {', '.join(self.old_topics)}",
        ]


def prepare(settings: PipelineSettings) -> MigrationPlan:
    """Read the old state and plan its migration; changes nothing. Raises
    `MigrationRefused` while workers of the group run, or when the old changelogs do not
    have TOPIC_PARTITIONS partitions."""
    admin = make_admin(settings)
    group = app_id(settings)
    _refuse_running_workers(admin, group)
    topics = {table: changelog_topic_name(group, table) for table in LEGACY_TABLE_NAMES}
    counts = partition_counts(admin, topics.values())
    old_topics = [topic for topic, count in counts.items() if count is not None]
    # Records keep their partition: the new changelog must have the same count.
    if wrong := mismatched_partitions(admin, old_topics, settings.topic_partitions):
        raise MigrationRefused(f"TOPIC_PARTITIONS is {settings.topic_partitions}, but {wrong}")
    complete = counts[topics[PAYMENTS]] is not None and counts[topics[DEDUPE]] is not None
    migration = (
        migrated_records(*(latest_entries(settings, topics[t]) for t in (PAYMENTS, DEDUPE, LOCKS)))
        if complete
        else None
    )
    (target,) = changelog_topic_specs(group, settings)
    return MigrationPlan(group, target, old_topics, migration)


def apply(settings: PipelineSettings, plan: MigrationPlan) -> None:
    """Write the new changelog's records, and once the broker has them all, delete the old
    changelogs."""
    admin = make_admin(settings)
    _refuse_running_workers(admin, plan.group)
    if plan.migration is not None:
        create_topics(admin, [plan.target])
        produce_entries(settings, [(plan.target.name, r) for r in plan.migration.records])
    delete_topics(admin, plan.old_topics)


def _refuse_running_workers(admin: AdminClient, group: str) -> None:
    if members := active_members(admin, group):
        raise MigrationRefused(
            f"the worker group {group} has {members} active member(s): stop every worker "
            "first (the old changelogs must not change while they are read); a killed "
            "worker leaves the group after WORKER_SESSION_TIMEOUT_SECONDS"
        )
