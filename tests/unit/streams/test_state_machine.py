"""apply_event(): each outcome, and every table entry from every lifecycle status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.mapping import TRANSITIONS, Effect, PaymentStatus, Transition
from schemas.providers import Provider
from streams.normalize import EventFacts, NormalizedEvent
from streams.state_machine import (
    RECENT_EVENT_IDS,
    AmountMark,
    Applied,
    Duplicate,
    NotYetApplicable,
    Outcome,
    PaymentState,
    Rejected,
    Stale,
    StatusMark,
    apply_event,
)

pytestmark = pytest.mark.unit

S = PaymentStatus
T0 = datetime(2025, 11, 25, 19, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
LIFECYCLE = [S.PENDING, S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.FAILED, S.CANCELED]


def _event(
    event_id: str,
    at: datetime,
    transition: Transition,
    provider: Provider = Provider.STRIPE,
    **facts: Any,
) -> NormalizedEvent:
    return NormalizedEvent(
        provider=provider,
        event_id=event_id,
        event_type="test.event",
        payment_id="pay_1",
        received_at=T0 + timedelta(hours=1),
        correlation_id="corr-1",
        facts=EventFacts(transition=transition, occurred_at=at, **({"currency": "USD"} | facts)),
    )


CAPTURE = Transition(Effect.CAPTURE, S.CAPTURED)
REFUND = Transition(Effect.REFUND)


def _captured(amount: int = 1000) -> PaymentState:
    outcome = apply_event(None, _event("evt_cap", T0, CAPTURE, amount=amount, captured=amount))
    assert isinstance(outcome, Applied)
    return outcome.state


def _applied(outcome: Outcome) -> PaymentState:
    assert isinstance(outcome, Applied), outcome
    return outcome.state


def _refund(state: PaymentState, event_id: str, at: datetime, **facts: Any) -> Outcome:
    return apply_event(state, _event(event_id, at, REFUND, **facts))


# --- every table entry from every lifecycle status ---------------------------------

LIFECYCLE_ENTRIES = [
    pytest.param(provider, transition, id=f"{provider}:{event_type}")
    for provider, table in TRANSITIONS.items()
    for event_type, transition in table.items()
    if transition.effect in (Effect.STATUS, Effect.CAPTURE)
]


def _in(start: PaymentStatus) -> PaymentState:
    """A payment whose newest event, at T0, left it in `start`; nothing else differs."""
    return PaymentState(
        currency="USD",
        lifecycle=StatusMark(status=start, at=T0),
        amount_mark=AmountMark(value=1000, at=T0),
        captured=1000 if start is S.CAPTURED else 0,
        last_event_at=T0,
        version=1,
    )


def _lifecycle_event(provider: Provider, transition: Transition, at: datetime) -> NormalizedEvent:
    captured = 1000 if transition.effect is Effect.CAPTURE else None
    return _event("evt_new", at, transition, provider, amount=1000, captured=captured)


@pytest.mark.parametrize("start", LIFECYCLE)
@pytest.mark.parametrize(("provider", "transition"), LIFECYCLE_ENTRIES)
def test_a_newer_event_moves_the_payment_to_its_target(
    start: PaymentStatus, provider: Provider, transition: Transition
) -> None:
    outcome = apply_event(_in(start), _lifecycle_event(provider, transition, T0 + SECOND))
    assert isinstance(outcome, Applied)
    assert outcome.state.status is transition.target
    assert outcome.payment_event.previous_status is start
    assert outcome.payment_event.status is transition.target


@pytest.mark.parametrize("start", LIFECYCLE)
@pytest.mark.parametrize(("provider", "transition"), LIFECYCLE_ENTRIES)
def test_an_older_event_never_regresses(
    start: PaymentStatus, provider: Provider, transition: Transition
) -> None:
    outcome = apply_event(_in(start), _lifecycle_event(provider, transition, T0 - SECOND))
    if transition.effect is Effect.CAPTURE and start is not S.CAPTURED:
        # Its amount is news even though its status is not.
        assert _applied(outcome).captured == 1000
    else:
        assert isinstance(outcome, Stale)
        assert outcome.payment_event.outcome == "stale"
    assert isinstance(outcome, Applied | Stale)
    assert outcome.state.status is start


@pytest.mark.parametrize("start", LIFECYCLE)
@pytest.mark.parametrize(("provider", "transition"), LIFECYCLE_ENTRIES)
def test_a_same_second_event_wins_only_by_progress(
    start: PaymentStatus, provider: Provider, transition: Transition
) -> None:
    forward = apply_event(_in(start), _lifecycle_event(provider, transition, T0))
    assert isinstance(forward, Applied | Stale)
    target = transition.target
    assert target is not None
    backward = apply_event(
        _in(target), _lifecycle_event(provider, Transition(Effect.STATUS, start), T0)
    )
    assert isinstance(backward, Applied | Stale)
    assert forward.state.lifecycle == backward.state.lifecycle


def test_a_note_changes_nothing_but_is_recorded() -> None:
    before = _captured()
    outcome = apply_event(before, _event("evt_note", T0 + SECOND, Transition(Effect.NOTE)))
    after = _applied(outcome)
    assert (after.status, after.captured, after.version) == (before.status, 1000, 2)


# --- refunds -----------------------------------------------------------------------


def test_refunds_accumulate_per_refund_id() -> None:
    state = _applied(
        _refund(_captured(), "evt_r1", T0 + SECOND, refund_id="re_1", refund_amount=300)
    )
    assert (state.status, state.refunded) == (S.PARTIALLY_REFUNDED, 300)
    state = _applied(_refund(state, "evt_r2", T0 + 2 * SECOND, refund_id="re_2", refund_amount=700))
    assert (state.status, state.refunded) == (S.REFUNDED, 1000)


def test_a_refund_reported_twice_counts_once() -> None:
    state = _applied(
        _refund(_captured(), "evt_r1", T0 + SECOND, refund_id="re_1", refund_amount=300)
    )
    again = _refund(state, "evt_r1_updated", T0 + 2 * SECOND, refund_id="re_1", refund_amount=300)
    assert _applied(again).refunded == 300


def test_a_failed_refund_stops_counting_in_either_order() -> None:
    succeeded = {"refund_id": "re_1", "refund_amount": 300}
    failed = {"refund_id": "re_1", "refund_amount": 0}
    state = _applied(_refund(_captured(), "evt_ok", T0 + SECOND, **succeeded))
    assert _applied(_refund(state, "evt_fail", T0 + 2 * SECOND, **failed)).refunded == 0
    state = _applied(_refund(_captured(), "evt_fail", T0 + 2 * SECOND, **failed))
    assert isinstance(_refund(state, "evt_ok", T0 + SECOND, **succeeded), Stale)


def test_a_running_total_and_per_refund_reports_do_not_double_count() -> None:
    state = _applied(
        _refund(_captured(), "evt_r1", T0 + SECOND, refund_id="re_1", refund_amount=400)
    )
    state = _applied(_refund(state, "evt_ch", T0 + SECOND, refunded_total=400, captured=1000))
    assert state.refunded == 400


def test_a_late_older_refund_still_counts() -> None:
    state = _applied(
        _refund(_captured(), "evt_r2", T0 + 5 * SECOND, refund_id="re_2", refund_amount=200)
    )
    outcome = _refund(state, "evt_r1", T0 + 2 * SECOND, refund_id="re_1", refund_amount=300)
    assert _applied(outcome).refunded == 500


def test_a_refund_before_its_capture_waits_for_it() -> None:
    outcome = apply_event(None, _event("evt_r1", T0, REFUND, refund_id="re_1", refund_amount=300))
    assert outcome == NotYetApplicable("capture_not_seen")


def test_a_refund_whose_charge_reports_the_capture_applies_at_once() -> None:
    outcome = apply_event(None, _event("evt_ch", T0, REFUND, refunded_total=300, captured=1000))
    assert _applied(outcome).status is S.PARTIALLY_REFUNDED


@pytest.mark.parametrize(
    "facts",
    [
        {"refund_id": "re_1", "refund_amount": 1001},
        {"refunded_total": 1001},
    ],
)
def test_refunds_above_the_capture_are_permanent_errors(facts: dict[str, Any]) -> None:
    outcome = _refund(_captured(), "evt_r1", T0 + SECOND, **facts)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "refund_exceeds_captured"


# --- disputes, currency, duplicates ------------------------------------------------


@pytest.mark.parametrize("outcome_status", [S.DISPUTE_WON, S.DISPUTE_LOST])
def test_a_closed_dispute_is_not_reopened_by_a_late_update(outcome_status: PaymentStatus) -> None:
    closed = Transition(Effect.DISPUTE, outcome_status)
    state = _applied(apply_event(_captured(), _event("evt_closed", T0 + 9 * SECOND, closed)))
    late = apply_event(
        state, _event("evt_open", T0 + SECOND, Transition(Effect.DISPUTE, S.DISPUTED))
    )
    assert isinstance(late, Stale)
    assert late.state.status is outcome_status


def test_a_dispute_outranks_refunds_and_lifecycle() -> None:
    state = _applied(
        _refund(_captured(), "evt_r1", T0 + SECOND, refund_id="re_1", refund_amount=10)
    )
    opened = apply_event(
        state, _event("evt_dp", T0 + SECOND, Transition(Effect.DISPUTE, S.DISPUTED))
    )
    assert _applied(opened).status is S.DISPUTED


def test_a_currency_change_is_a_permanent_error() -> None:
    event = _event("evt_jpy", T0 + SECOND, CAPTURE, captured=1000, currency="JPY")
    outcome = apply_event(_captured(), event)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "currency_mismatch"


def test_a_redelivered_event_is_a_duplicate() -> None:
    state = _captured()
    assert apply_event(state, _event("evt_cap", T0, CAPTURE, captured=1000)) == Duplicate()


def test_the_recent_event_ids_are_bounded() -> None:
    state = _captured()
    for n in range(RECENT_EVENT_IDS + 5):
        state = _applied(apply_event(state, _event(f"evt_{n}", T0, Transition(Effect.NOTE))))
    assert len(state.recent_event_ids) == RECENT_EVENT_IDS
    assert state.version == RECENT_EVENT_IDS + 6


def test_the_payment_event_carries_totals_and_ids() -> None:
    outcome = _refund(_captured(), "evt_r1", T0 + SECOND, refund_id="re_1", refund_amount=300)
    assert isinstance(outcome, Applied)
    record = outcome.payment_event
    assert (record.payment_key, record.refund_id, record.refund_amount) == (
        "stripe:pay_1",
        "re_1",
        300,
    )
    assert (record.captured_amount, record.refunded_amount, record.amount) == (1000, 300, 1000)
    assert (record.previous_status, record.status, record.version) == (
        S.CAPTURED,
        S.PARTIALLY_REFUNDED,
        2,
    )


def test_state_survives_a_json_round_trip() -> None:
    state = _applied(
        _refund(_captured(), "evt_r1", T0 + SECOND, refund_id="re_1", refund_amount=300)
    )
    assert PaymentState.model_validate_json(state.model_dump_json()) == state
