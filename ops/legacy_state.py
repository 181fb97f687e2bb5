"""The new table's records from the old three-table layout's entries (pure: `ops.migrate_state`
does the I/O).

An old dedupe entry is `{seen_at_ms} {origin}` or, once entries recorded their payment,
`{seen_at_ms} {origin}\n{payment_key}`; its key is `provider:event_id`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ops.rehome import Entry
from streams.payment_record import PaymentRecord

#: (event id, applied at in epoch ms, origin)
Applied = tuple[str, int, str]


@dataclass(frozen=True)
class Migration:
    """The new table's changelog records, and what of the old state they leave out."""

    records: list[Entry]
    #: dedupe entries written before entries recorded their payment key: no record can hold
    #: them, and a redelivery of their event merges into its payment's state without effect
    unattributed: int
    #: payments that had events parked on the retry ladder: those events apply when due
    locked: int


def migrated_records(
    payments: Iterable[Entry], dedupe: Iterable[Entry], locks: Iterable[Entry]
) -> Migration:
    """One record per payment key and partition from the latest old entries (`None` values,
    tombstones, are gone entries): its state and the events applied to it."""
    states: dict[tuple[int, bytes], bytes] = {
        (e.partition, e.key): e.value for e in payments if e.value is not None
    }
    applied: defaultdict[tuple[int, bytes], list[Applied]] = defaultdict(list)
    unattributed = 0
    for entry in dedupe:
        decoded = _dedupe_entry(entry)
        if decoded is None:
            continue
        payment_key, event = decoded
        if payment_key is None:
            unattributed += 1
            continue
        applied[(entry.partition, payment_key)].append(event)
    records = [
        Entry(partition, key, _record(states.get((partition, key)), applied[(partition, key)]))
        for partition, key in sorted(states.keys() | applied.keys())
    ]
    locked = sum(1 for e in locks if e.value is not None)
    return Migration(records, unattributed, locked)


def _dedupe_entry(entry: Entry) -> tuple[bytes | None, Applied] | None:
    """(its payment key, the event it records); None for a tombstone or faust's own keys."""
    if entry.value is None:
        return None
    head, newline, payment_key = entry.value.decode("utf-8", "replace").partition("\n")
    seen_at, _, origin = head.partition(" ")
    if not seen_at.isdigit() or not origin:
        return None
    event_id = entry.key.decode().partition(":")[2]
    return (payment_key.encode() if newline else None), (event_id, int(seen_at), origin)


def _record(state: bytes | None, applied: list[Applied]) -> bytes:
    ordered = sorted(applied, key=lambda event: (event[1], event[0]))
    return PaymentRecord.from_legacy(state, ordered).encode()
