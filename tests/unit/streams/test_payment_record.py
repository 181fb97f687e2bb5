"""The payment's one record in the worker's table: its state and the event ids it applied,
bounded by the dedupe retention and `SEEN_LIMIT`; its encoding; and the record built from
the old three-table layout. Clocks are injected (`now_ms`), never slept on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ops.samples import stripe_capture, stripe_dispute, stripe_event, stripe_refund
from schemas.mapping import PaymentStatus
from schemas.providers import Provider
from streams.dedupe import Seen
from streams.payment_record import SEEN_LIMIT, PaymentRecord
from streams.state_machine import AmountMark, PaymentState, StatusMark
from tests.support.worker_model import DAY_MS, NOW_MS, POLICY, WorkerModel

S = PaymentStatus
RETENTION_MS = POLICY.retention_ms
T0 = datetime(2025, 11, 25, 19, 0, tzinfo=UTC)
STATE = PaymentState(
    currency="USD",
    lifecycle=StatusMark(status=S.CAPTURED, at=T0),
    amount_mark=AmountMark(value=2000, at=T0),
    captured=2000,
    refunds={"re_1": 500, "re_2": 0},
    reported_refunded=500,
    last_event_at=T0,
    version=4,
)
KEY = "stripe:pi_1"


def test_seen_ids_are_kept_for_the_retention_and_dropped_after() -> None:
    record = PaymentRecord(
        state=STATE,
        seen={
            "evt_old": (NOW_MS - RETENTION_MS, "raw/0/1", 0),
            "evt_edge": (NOW_MS - RETENTION_MS + 1, "raw/0/2", 0),
            "evt_fresh": (NOW_MS - 1, "raw/0/3", 0),
        },
    )
    after = record.applied(STATE, "evt_new", Seen(NOW_MS, "raw/0/4"), RETENTION_MS)
    assert after.seen == {
        "evt_edge": (NOW_MS - RETENTION_MS + 1, "raw/0/2", 0),
        "evt_fresh": (NOW_MS - 1, "raw/0/3", 0),
        "evt_new": (NOW_MS, "raw/0/4", 0),
    }
    assert after.state == STATE
    assert after.seen_event("evt_new") == Seen(NOW_MS, "raw/0/4")
    assert after.seen_event("evt_old") is None
    assert record.seen_event("evt_old") == Seen(NOW_MS - RETENTION_MS, "raw/0/1")


def test_seen_ids_are_capped_and_the_newest_kept() -> None:
    record = PaymentRecord(
        state=STATE, seen={f"evt_{n}": (NOW_MS + n, f"raw/0/{n}", 0) for n in range(SEEN_LIMIT)}
    )
    after = record.applied(STATE, "evt_new", Seen(NOW_MS + SEEN_LIMIT, "raw/0/new"), RETENTION_MS)
    assert len(after.seen) == SEEN_LIMIT
    assert set(after.seen) == {f"evt_{n}" for n in range(1, SEEN_LIMIT)} | {"evt_new"}


def test_seen_ids_out_of_time_order_are_capped_by_time_not_by_insertion() -> None:
    """The oldest entry is dropped even when it was written last (another worker's clock)."""
    seen = {f"evt_{n}": (NOW_MS + 10 + n, "raw/0/1", 0) for n in range(SEEN_LIMIT - 1)}
    seen["evt_early"] = (NOW_MS, "raw/0/2", 0)
    after = PaymentRecord(seen=seen).applied(
        STATE, "evt_new", Seen(NOW_MS + 1000, "raw/0/3"), RETENTION_MS
    )
    assert "evt_early" not in after.seen
    assert "evt_new" in after.seen
    assert len(after.seen) == SEEN_LIMIT


def test_a_busy_payment_keeps_its_newest_ids_and_a_copy_of_a_recent_one_is_dropped() -> None:
    worker = WorkerModel()
    bodies = [
        stripe_refund(f"evt_{n}", "pi_1", f"re_{n}", 1, created=1_764_100_000 + n)
        for n in range(SEEN_LIMIT + 5)
    ]
    for n, body in enumerate(bodies):
        worker.send(Provider.STRIPE, body, NOW_MS + n)
    record = worker.stored(KEY)
    assert set(record.seen) == {f"evt_{n}" for n in range(5, SEEN_LIMIT + 5)}
    assert record.state is not None
    assert (record.state.refunded, record.state.version) == (SEEN_LIMIT + 5, SEEN_LIMIT + 5)

    _, copy = worker.send(Provider.STRIPE, bodies[-1], NOW_MS + DAY_MS)
    assert (copy.outcome, copy.outputs, copy.write) == ("duplicate", (), None)
    # An id beyond the cap is new again: merging it twice changes no fact, only the version.
    _, again = worker.send(Provider.STRIPE, bodies[0], NOW_MS + DAY_MS)
    assert again.outcome in ("applied", "stale")
    state = worker.stored(KEY).state
    assert state is not None
    assert (state.refunded, state.version) == (SEEN_LIMIT + 5, SEEN_LIMIT + 6)


def test_a_dispute_months_after_the_capture_meets_its_state() -> None:
    worker = WorkerModel()
    worker.send(Provider.STRIPE, stripe_capture("evt_cap", "pi_1", 2000), NOW_MS)
    later = NOW_MS + 120 * DAY_MS
    _, done = worker.send(Provider.STRIPE, stripe_dispute("evt_dp", "pi_1", 2000), later)

    assert done.outcome == "applied"
    record = worker.stored(KEY)
    assert record.state is not None
    assert (record.state.status, record.state.captured, record.state.version) == (
        S.DISPUTED,
        2000,
        2,
    )
    # The capture's id went with the retention; the state did not.
    assert set(record.seen) == {"evt_dp"}
    (event,) = worker.payment_events()[1:]
    assert (event.previous_status, event.status, event.captured_amount) == (
        S.CAPTURED,
        S.DISPUTED,
        2000,
    )


@pytest.mark.parametrize(
    "record",
    [
        PaymentRecord(),
        PaymentRecord(state=STATE),
        PaymentRecord(
            state=STATE.model_copy(update={"captured": None, "lifecycle": None}),
            seen={"evt_1": (NOW_MS, "p-raw-webhooks/3/17", 0), "WH-2": (NOW_MS + 1, "x/0/1", 0)},
        ),
    ],
    ids=["empty", "state", "state-and-seen"],
)
def test_a_record_round_trips_through_its_encoding(record: PaymentRecord) -> None:
    decoded = PaymentRecord.decode(record.encode())
    assert decoded == record
    assert decoded.seen_event("evt_1") == record.seen_event("evt_1")
    if record.state is not None:
        assert decoded.state is not None
        assert (decoded.state.status, decoded.state.refunded) == (
            record.state.status,
            record.state.refunded,
        )


def _legacy_state(captured: int, **changes: object) -> bytes:
    """A `payments` table value as the three-table layout wrote it: the capture counted 0
    until reported, and the payment's recent event ids."""
    fields = {
        "currency": "USD",
        "lifecycle": {"status": "requires_action", "at": "2025-11-25T19:00:00Z"},
        "dispute": None,
        "amount_mark": {"value": 2000, "at": "2025-11-25T19:00:00Z"},
        "captured": captured,
        "refunds": {},
        "reported_refunded": 0,
        "last_event_at": "2025-11-25T19:00:00Z",
        "version": 2,
        "recent_event_ids": ["evt_created", "evt_action"],
    }
    return json.dumps(fields | changes).encode()


def test_a_legacy_payment_without_a_capture_has_it_unknown() -> None:
    legacy = PaymentRecord.from_legacy(
        _legacy_state(0), [("evt_action", NOW_MS, "p-raw-webhooks/3/9")]
    )
    assert legacy.state is not None
    assert legacy.state.captured is None
    assert (legacy.state.status, legacy.state.amount, legacy.state.version) == (
        S.REQUIRES_ACTION,
        2000,
        2,
    )
    assert "recent_event_ids" not in legacy.state.model_dump()
    # the three-table layout kept no version per event: each gets the state's
    assert legacy.seen == {"evt_action": (NOW_MS, "p-raw-webhooks/3/9", 2)}
    assert PaymentRecord.decode(legacy.encode()) == legacy


def test_a_legacy_payment_keeps_its_capture_and_refunds() -> None:
    legacy = PaymentRecord.from_legacy(
        _legacy_state(
            2000,
            lifecycle={"status": "captured", "at": "2025-11-25T19:00:00Z"},
            refunds={"re_1": 500},
        ),
        [],
    )
    assert legacy.state is not None
    assert (legacy.state.captured, legacy.state.refunded, legacy.state.status) == (
        2000,
        500,
        S.PARTIALLY_REFUNDED,
    )
    assert legacy.seen == {}


def test_a_legacy_payment_with_dedupe_entries_only() -> None:
    legacy = PaymentRecord.from_legacy(None, [("evt_1", NOW_MS, "p-raw-webhooks/0/1")])
    assert legacy == PaymentRecord(state=None, seen={"evt_1": (NOW_MS, "p-raw-webhooks/0/1", 0)})


def test_the_worker_carries_on_from_a_legacy_record() -> None:
    """Its dedupe entries still drop copies; its next events merge into its state."""
    worker = WorkerModel()
    action = stripe_event(
        "evt_action",
        "payment_intent.requires_action",
        1_764_100_000,
        {"id": "pi_1", "object": "payment_intent", "amount": 2000, "currency": "usd"}
        | {"status": "requires_action"},
    )
    legacy = PaymentRecord.from_legacy(
        _legacy_state(0), [("evt_action", NOW_MS, "p-raw-webhooks/0/1")]
    )
    worker.table[KEY] = legacy.encode()

    _, copy = worker.send(Provider.STRIPE, action, NOW_MS + 1)
    assert copy.outcome == "duplicate"
    _, refund = worker.send(Provider.STRIPE, stripe_refund("evt_r", "pi_1", "re_1", 500), NOW_MS)
    assert refund.outcome == "applied"
    state = worker.stored(KEY).state
    assert state is not None
    assert (state.status, state.captured, state.refunded, state.version) == (
        S.PARTIALLY_REFUNDED,
        None,
        500,
        3,
    )
