"""Key lock: who applies now, who queues behind the parked head, who is a stale copy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.keylock import KeyLock, Parked, parked, released, verdict

pytestmark = pytest.mark.unit


def at(second: int) -> datetime:
    return datetime.fromtimestamp(1_764_100_000 + second, tz=UTC)


def event(event_id: str, second: int, origin: str = "raw/0/0") -> Parked:
    return Parked(event_id=event_id, occurred_at=at(second), origin=origin)


HEAD = event("evt_head", 100, "raw/0/5")
LOCK = KeyLock(parked=(HEAD, event("evt_next", 200, "raw/0/6")))


def test_an_unlocked_payment_proceeds() -> None:
    assert verdict(None, event("evt_x", 0), from_retry=False) == "proceed"


def test_the_head_proceeds_from_its_tier_and_when_its_record_is_replayed() -> None:
    assert verdict(LOCK, event("evt_head", 100, "retry-1m/0/3"), from_retry=True) == "proceed"
    assert verdict(LOCK, HEAD, from_retry=False) == "proceed"


def test_a_later_event_queues_behind_the_head() -> None:
    assert verdict(LOCK, event("evt_new", 300), from_retry=False) == "queue"
    # Same provider second: arrival breaks the tie, and the head arrived first.
    assert verdict(LOCK, event("evt_tie", 100), from_retry=False) == "queue"
    assert verdict(LOCK, event("evt_next", 200, "retry-1m/0/4"), from_retry=True) == "queue"


def test_an_earlier_event_goes_ahead_of_the_head() -> None:
    assert verdict(LOCK, event("evt_capture", 50), from_retry=False) == "proceed"


def test_a_new_delivery_of_a_parked_event_is_dropped() -> None:
    assert verdict(LOCK, event("evt_next", 200, "raw/0/9"), from_retry=False) == "drop"


def test_parking_keeps_provider_order_then_arrival_and_is_idempotent() -> None:
    lock = parked(None, event("b", 200))
    lock = parked(lock, event("c", 200))
    lock = parked(lock, event("a", 100))
    assert parked(lock, event("b", 200, "other")) == lock
    assert [p.event_id for p in lock.parked] == ["a", "b", "c"]


def test_releasing_the_last_event_unlocks_the_payment() -> None:
    rest = released(LOCK, "evt_head")
    assert rest == KeyLock(parked=(LOCK.parked[1],))
    assert released(rest, "evt_next") is None
    assert released(None, "evt_head") is None
