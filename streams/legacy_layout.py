"""The worker's state in the three-table layout it had before the one `payment-state`
table: `dedupe` (`provider:event_id` → `DedupeEntry`), `key-locks` (payment key →
`KeyLock`) and `payments` (payment key → `PaymentState` JSON).

The worker does not start on it: a worker of the new layout would restore empty tables and
apply every event again. `payments migrate-state` (`ops.migrate_state`) turns it into the
new table's changelog.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from confluent_kafka.admin import AdminClient

from common.topics import partition_counts
from streams.tables import changelog_topic_name

DEDUPE, LOCKS, PAYMENTS = LEGACY_TABLE_NAMES = ("dedupe", "key-locks", "payments")
MIGRATE_COMMAND: Final = "payments migrate-state"


def legacy_changelogs(app_id: str, table_names: Collection[str]) -> list[str]:
    """The changelogs of the old layout's tables that the worker's tables (`table_names`)
    no longer include: while one of them exists, the state is in the old layout."""
    return [changelog_topic_name(app_id, t) for t in LEGACY_TABLE_NAMES if t not in table_names]


def refuse_legacy_layout(admin: AdminClient, app_id: str, table_names: Collection[str]) -> None:
    """Exit with one line when the worker's state is in the old layout."""
    counts = partition_counts(admin, legacy_changelogs(app_id, table_names))
    if found := [topic for topic, count in counts.items() if count is not None]:
        raise SystemExit(
            f"the worker's state is in the old three-table layout (topics {', '.join(found)}): "
            f"stop every worker and run `{MIGRATE_COMMAND}`"
        )
