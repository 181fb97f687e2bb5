"""Turning the old three-table layout's entries into one record per payment."""

from __future__ import annotations

import json

from ops.legacy_state import migrated_records
from ops.rehome import Entry
from streams.payment_record import PaymentRecord

AT = "2026-01-01T00:00:00Z"
STATE_A = json.dumps(
    {"currency": "usd", "captured": 1000, "last_event_at": AT, "version": 2,
     "recent_event_ids": ["evt_1", "evt_2"]}
).encode()  # fmt: skip
STATE_B = json.dumps({"currency": "usd", "captured": 0, "last_event_at": AT, "version": 1}).encode()


def dedupe(seen_at_ms: int, origin: str, payment: str | None) -> bytes:
    """An old dedupe entry, as the three-table layout wrote it."""
    tail = "" if payment is None else f"\n{payment}"
    return f"{seen_at_ms} {origin}{tail}".encode()


def test_each_payment_gets_its_state_and_its_applied_events_in_order() -> None:
    payments = [Entry(1, b"stripe:pi_a", STATE_A), Entry(2, b"stripe:pi_b", STATE_B)]
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
                STATE_A, [("evt_1", 1000, "raw/1/4"), ("evt_2", 2000, "raw/1/9")]
            ).encode(),
        ),
        Entry(2, b"stripe:pi_b", PaymentRecord.from_legacy(STATE_B, []).encode()),
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


def test_an_old_state_keeps_its_facts_and_an_unreported_capture_becomes_unknown() -> None:
    a = PaymentRecord.from_legacy(STATE_A, [("evt_1", 1000, "raw/1/4")])
    b = PaymentRecord.from_legacy(STATE_B, [])
    assert a.state is not None
    assert b.state is not None
    assert (a.state.captured, a.state.version, a.state.currency) == (1000, 2, "usd")
    assert b.state.captured is None
    assert a.seen == {"evt_1": (1000, "raw/1/4", 2)}  # no version per event: the state's
