from datetime import UTC, datetime

import pytest

from sinks.rows import batch_rows, newest, supersedes
from tests.support.payment_events import payment_event

NOW = datetime(2025, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("candidate", "stored", "wins"),
    [(1, None, True), (3, 2, True), (2, 2, False), (1, 2, False)],
)
def test_only_a_higher_version_supersedes(candidate: int, stored: int | None, wins: bool) -> None:
    assert supersedes(candidate, stored) is wins


def test_a_redelivered_event_becomes_one_row_per_table() -> None:
    event = payment_event()
    rows = batch_rows([event, event, event], NOW)
    assert len(rows.webhook_events) == len(rows.payment_transitions) == len(rows.payments) == 1
    assert rows.webhook_events[0]["processed_at"] == NOW
    assert "payment_key" not in rows.webhook_events[0]


def test_the_newest_version_wins_whatever_the_order_in_the_batch() -> None:
    newer = payment_event("evt_2", version=2, status="refunded", refunded_amount=1099)
    older = payment_event("evt_1", version=1)
    (row,) = batch_rows([newer, older], NOW).payments
    assert (row["version"], row["status"], row["last_event_id"]) == (2, "refunded", "evt_2")


def test_a_stale_event_carries_the_payments_version_and_its_newest_event() -> None:
    """A late older event changes no fact, but the worker's state counts it: the row shows
    the same version and last event whatever order the events came in."""
    newest_at = payment_event().occurred_at
    stale = payment_event(
        "evt_old", version=2, outcome="stale", last_event_id="evt_1", last_event_at=newest_at
    )
    rows = batch_rows([payment_event(version=1), stale], NOW)
    assert [(r["version"], r["last_event_id"], r["last_event_at"]) for r in rows.payments] == [
        (2, "evt_1", newest_at)
    ]
    assert len(rows.webhook_events) == len(rows.payment_transitions) == 2


def test_payments_are_reduced_per_payment_and_keep_a_known_order_id() -> None:
    events = [
        payment_event("a1", "pi_a", 1, order_id="order_7"),
        payment_event("a2", "pi_a", 2),
        payment_event("b1", "pi_b", 1),
    ]
    winners = {e.payment_id: e for e in newest(events)}
    assert set(winners) == {"pi_a", "pi_b"}
    assert (winners["pi_a"].event_id, winners["pi_a"].order_id) == ("a2", "order_7")


def test_a_transition_row_records_from_to_event_and_time() -> None:
    event = payment_event(previous_status="authorized")
    (row,) = batch_rows([event], NOW).payment_transitions
    assert row["from_status"] == "authorized"
    assert row["to_status"] == "captured"
    assert (row["event_id"], row["occurred_at"], row["recorded_at"]) == (
        "evt_1",
        event.occurred_at,
        NOW,
    )
