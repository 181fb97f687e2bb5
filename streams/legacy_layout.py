"""The worker's state in the three-table layout it had before the one `payment-state`
table: `dedupe` (`provider:event_id` → `DedupeEntry`), `key-locks` (payment key →
`KeyLock`) and `payments` (payment key → `PaymentState` JSON).

The worker does not start on it: a worker of the new layout would restore empty tables and
apply every event again. `payments migrate-state` (`ops.migrate_state`) turns it into the
new table's changelog, with `migrated_records` here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from confluent_kafka.admin import AdminClient

from ops.rehome import Entry
from ops.topics import partition_counts
from streams.dedupe import DedupeEntry
from streams.payment_record import PaymentRecord

DEDUPE, LOCKS, PAYMENTS = LEGACY_TABLE_NAMES = ("dedupe", "key-locks", "payments")
#: The table of the new layout, which the migration writes.
PAYMENT_STATE: Final = "payment-state"
MIGRATE_COMMAND: Final = "payments migrate-state"


def changelog_topic(app_id: str, table: str) -> str:
    """The changelog of `table`, as faust names it."""
    return f"{app_id}-{table}-changelog"


def legacy_changelogs(app_id: str, table_names: Collection[str]) -> list[str]:
    """The changelogs of the old layout's tables that the worker's tables (`table_names`)
    no longer include: while one of them exists, the state is in the old layout."""
    return [changelog_topic(app_id, t) for t in LEGACY_TABLE_NAMES if t not in table_names]


def refuse_legacy_layout(admin: AdminClient, app_id: str, table_names: Collection[str]) -> None:
    """Exit with one line when the worker's state is in the old layout."""
    counts = partition_counts(admin, legacy_changelogs(app_id, table_names))
    if found := [topic for topic, count in counts.items() if count is not None]:
        raise SystemExit(
            f"the worker's state is in the old three-table layout (topics {', '.join(found)}): "
            f"stop every worker and run `{MIGRATE_COMMAND}`"
        )


@dataclass(frozen=True)
class Migration:
    """The new table's changelog records, and what of the old state they leave out."""

    records: list[Entry]
    #: dedupe entries written before entries recorded their payment key: no record can hold
    #: them, and a redelivery of their event merges into its payment's state without effect
    unattributed: int
    #: payments with events parked on the retry ladder: the new record does not carry the
    #: lock, so those events apply when due, and later ones no longer queue behind them
    locked: int


def migrated_records(
    payments: Iterable[Entry], dedupe: Iterable[Entry], locks: Iterable[Entry]
) -> Migration:
    """One record per payment key and partition from the latest old entries (`None` values,
    tombstones, are gone entries): its state and the events applied to it."""
    states: dict[tuple[int, bytes], bytes] = {
        (e.partition, e.key): e.value for e in payments if e.value is not None
    }
    applied: defaultdict[tuple[int, bytes], list[tuple[str, int, str]]] = defaultdict(list)
    unattributed = 0
    for entry in dedupe:
        decoded = DedupeEntry.decode(entry.value) if entry.value is not None else None
        if decoded is None:
            continue
        if decoded.payment_key is None:
            unattributed += 1
            continue
        event_id = entry.key.decode().partition(":")[2]  # the key is `provider:event_id`
        where = (entry.partition, decoded.payment_key.encode())
        applied[where].append((event_id, decoded.seen_at_ms, decoded.origin))
    records = [
        Entry(partition, key, _record(states.get((partition, key)), applied[(partition, key)]))
        for partition, key in sorted(states.keys() | applied.keys())
    ]
    locked = sum(1 for e in locks if e.value is not None)
    return Migration(records, unattributed, locked)


def _record(state: bytes | None, applied: list[tuple[str, int, str]]) -> bytes:
    ordered = sorted(applied, key=lambda event: (event[1], event[0]))
    return PaymentRecord.from_legacy(state, ordered).encode()
