"""Recognising the old three-table layout and turning its entries into one record per
payment."""

from __future__ import annotations

from ops.rehome import Entry
from streams.dedupe import DedupeEntry
from streams.legacy_layout import legacy_changelogs, migrated_records
from streams.payment_record import PaymentRecord


def dedupe(seen_at_ms: int, origin: str, payment: str | None) -> bytes:
    return DedupeEntry(seen_at_ms, origin, payment).encode()


def test_the_old_layout_is_the_old_tables_the_worker_no_longer_has() -> None:
    old = ("dedupe", "key-locks", "payments")

    assert legacy_changelogs("p-g", old) == []
    assert legacy_changelogs("p-g", ("payment-state",)) == [
        "p-g-dedupe-changelog",
        "p-g-key-locks-changelog",
        "p-g-payments-changelog",
    ]


def test_each_payment_gets_its_state_and_its_applied_events_in_order() -> None:
    payments = [Entry(1, b"stripe:pi_a", b'{"a": 1}'), Entry(2, b"stripe:pi_b", b'{"b": 2}')]
    applied = [
        Entry(1, b"stripe:evt_2", dedupe(2000, "raw/1/9", "stripe:pi_a")),
        Entry(1, b"stripe:evt_1", dedupe(1000, "raw/1/4", "stripe:pi_a")),
        Entry(3, b"stripe:evt_3", dedupe(3000, "raw/3/1", "stripe:pi_c")),  # no state
    ]

    migration = migrated_records(payments, applied, [])

    assert migration.records == [
        Entry(
            1,
            b"stripe:pi_a",
            PaymentRecord.from_legacy(
                b'{"a": 1}', [("evt_1", 1000, "raw/1/4"), ("evt_2", 2000, "raw/1/9")]
            ).encode(),
        ),
        Entry(2, b"stripe:pi_b", PaymentRecord.from_legacy(b'{"b": 2}', []).encode()),
        Entry(
            3,
            b"stripe:pi_c",
            PaymentRecord.from_legacy(None, [("evt_3", 3000, "raw/3/1")]).encode(),
        ),
    ]


def test_gone_entries_are_skipped_and_what_is_left_out_is_counted() -> None:
    payments = [Entry(0, b"stripe:pi_gone", None)]
    applied = [
        Entry(0, b"stripe:evt_gone", None),
        Entry(0, b"stripe:evt_legacy", dedupe(1000, "raw/0/1", None)),
    ]
    locks = [Entry(0, b"stripe:pi_l", b'{"parked": []}'), Entry(0, b"stripe:pi_m", None)]

    migration = migrated_records(payments, applied, locks)

    assert migration.records == []
    assert (migration.unattributed, migration.locked) == (1, 1)
