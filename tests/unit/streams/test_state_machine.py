"""apply_event(): each outcome, every table entry from every lifecycle status, and the
events that apply whatever came before them (refunds and disputes before their capture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.mapping import TRANSITIONS, Effect, PaymentStatus, Transition
from schemas.providers import Provider
from streams.normalize import EventFacts, NormalizedEvent
from streams.state_machine import (
    AmountMark,
    Applied,
    Outcome,
    PaymentState,
    Rejected,
    Stale,
    StatusMark,
    apply_event,
    described_again,
)

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
        captured=1000 if start is S.CAPTURED else None,
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


def _facts(state: PaymentState) -> dict[str, object]:
    return state.model_dump(exclude={"version", "last_event_at"})


def test_a_refund_before_its_capture_applies_at_once_with_the_capture_unknown() -> None:
    refund = _event("evt_r1", T0 + SECOND, REFUND, refund_id="re_1", refund_amount=300)
    outcome = apply_event(None, refund)
    assert isinstance(outcome, Applied)
    state = outcome.state
    assert (state.status, state.captured, state.refunded, state.version) == (
        S.PARTIALLY_REFUNDED,
        None,
        300,
        1,
    )
    record = outcome.payment_event
    assert (record.previous_status, record.status, record.captured_amount) == (
        None,
        S.PARTIALLY_REFUNDED,
        None,
    )


@pytest.mark.parametrize(("captured", "status"), [(1000, S.PARTIALLY_REFUNDED), (300, S.REFUNDED)])
def test_the_capture_after_its_refund_applies_and_settles_the_status(
    captured: int, status: PaymentStatus
) -> None:
    refund = _event("evt_r1", T0 + SECOND, REFUND, refund_id="re_1", refund_amount=300)
    state = _applied(apply_event(None, refund))
    capture = _event("evt_cap", T0, CAPTURE, amount=captured, captured=captured)
    outcome = apply_event(state, capture)
    # Older than the refund, but its capture is news: applied, not stale.
    assert isinstance(outcome, Applied)
    after = outcome.state
    assert (after.status, after.captured, after.refunded, after.version) == (
        status,
        captured,
        300,
        2,
    )
    assert outcome.payment_event.previous_status is S.PARTIALLY_REFUNDED
    in_order = _applied(apply_event(_applied(apply_event(None, capture)), refund))
    assert _facts(after) == _facts(in_order)


def test_a_capture_below_the_refunds_already_applied_is_rejected() -> None:
    refund = _event("evt_r1", T0 + SECOND, REFUND, refund_id="re_1", refund_amount=300)
    state = _applied(apply_event(None, refund))
    outcome = apply_event(state, _event("evt_cap", T0, CAPTURE, amount=200, captured=200))
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "refund_exceeds_captured"


def test_a_dispute_before_its_capture_applies_at_once() -> None:
    opened = _event("evt_dp", T0 + SECOND, Transition(Effect.DISPUTE, S.DISPUTED))
    state = _applied(apply_event(None, opened))
    assert (state.status, state.captured, state.amount) == (S.DISPUTED, None, None)
    after = _applied(apply_event(state, _event("evt_cap", T0, CAPTURE, amount=1000, captured=1000)))
    assert (after.status, after.captured, after.amount) == (S.DISPUTED, 1000, 1000)


def test_the_capture_stays_unknown_until_an_event_reports_it() -> None:
    outcome = apply_event(
        None, _lifecycle_event(Provider.STRIPE, Transition(Effect.STATUS, S.AUTHORIZED), T0)
    )
    assert isinstance(outcome, Applied)
    assert (outcome.state.status, outcome.state.captured) == (S.AUTHORIZED, None)
    assert outcome.payment_event.captured_amount is None


@pytest.mark.parametrize(
    ("reports", "captured"),
    [((1000,), 1000), ((400, 1000), 1000), ((1000, 400), 1000), ((0,), 0)],
)
def test_the_captured_amount_is_the_largest_reported(
    reports: tuple[int, ...], captured: int
) -> None:
    state: PaymentState | None = None
    for n, reported in enumerate(reports):
        state = _applied(
            apply_event(state, _event(f"evt_{n}", T0 + n * SECOND, CAPTURE, captured=reported))
        )
    assert state is not None
    assert state.captured == captured


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


# --- disputes, currency, events merged again ----------------------------------------


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


@pytest.mark.parametrize(
    "event",
    [
        _event("evt_cap", T0, CAPTURE, amount=1000, captured=1000),
        _event("evt_r1", T0 + SECOND, REFUND, refund_id="re_1", refund_amount=300),
        _event("evt_ch", T0 + SECOND, REFUND, refunded_total=300, captured=1000),
        _event("evt_dp", T0 + SECOND, Transition(Effect.DISPUTE, S.DISPUTED)),
    ],
    ids=lambda event: event.event_id,
)
def test_merging_an_event_again_changes_no_fact(event: NormalizedEvent) -> None:
    """Dedupe lives in the payment's record; an event merged twice (its id pruned from the
    record) changes nothing but the version."""
    once = _applied(apply_event(_captured(), event))
    outcome = apply_event(once, event)
    assert isinstance(outcome, Applied | Stale)
    assert _facts(outcome.state) == _facts(once)
    assert outcome.state.version == once.version + 1


def test_an_event_described_again_keeps_the_state_and_its_version() -> None:
    refund = _event("evt_r1", T0 + SECOND, REFUND, refund_id="re_1", refund_amount=300)
    first = apply_event(_captured(), refund)
    assert isinstance(first, Applied)
    again = described_again(first.state, refund, first.state.version)
    assert again.state is first.state
    assert again.payment_event == first.payment_event.model_copy(
        update={"previous_status": S.PARTIALLY_REFUNDED}
    )
    assert (again.payment_event.version, again.payment_event.outcome) == (2, "applied")


def test_an_event_described_again_after_later_ones_keeps_the_version_it_made() -> None:
    """A crash replay of a take: each event keeps its own version, so no two events of a
    payment ever carry the same one."""
    refund = _event("evt_r1", T0 + SECOND, REFUND, refund_id="re_1", refund_amount=300)
    first = _applied(apply_event(_captured(), refund))
    later = _event("evt_r2", T0 + 2 * SECOND, REFUND, refund_id="re_2", refund_amount=100)
    now = _applied(apply_event(first, later))
    again = described_again(now, refund, first.version)
    assert (again.payment_event.version, again.payment_event.refunded_amount) == (2, 400)
    assert again.state is now


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
    unknown = _applied(
        apply_event(None, _event("evt_r1", T0, REFUND, refund_id="re_1", refund_amount=1))
    )
    assert PaymentState.model_validate_json(unknown.model_dump_json()) == unknown


def _state(**fields: Any) -> PaymentState:
    return PaymentState(last_event_at=T0, **fields)


DISPUTED = StatusMark(status=S.DISPUTED, at=T0)
CAPTURED = StatusMark(status=S.CAPTURED, at=T0)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (_state(), S.PENDING),
        (_state(captured=1000), S.CAPTURED),
        (_state(captured=0), S.PENDING),
        (_state(lifecycle=CAPTURED, captured=None), S.CAPTURED),
        (_state(refunds={"re_1": 1}), S.PARTIALLY_REFUNDED),
        (_state(reported_refunded=1000), S.PARTIALLY_REFUNDED),
        (_state(captured=1000, refunds={"re_1": 999}), S.PARTIALLY_REFUNDED),
        (_state(captured=1000, refunds={"re_1": 600, "re_2": 400}), S.REFUNDED),
        (_state(captured=1000, reported_refunded=1000, lifecycle=CAPTURED), S.REFUNDED),
        (_state(captured=1000, refunds={"re_1": 0}, lifecycle=CAPTURED), S.CAPTURED),
        (_state(dispute=DISPUTED), S.DISPUTED),
        (_state(dispute=DISPUTED, captured=1000, reported_refunded=1000), S.DISPUTED),
    ],
)
def test_the_status_follows_from_the_facts(state: PaymentState, status: PaymentStatus) -> None:
    """Dispute over refunds over lifecycle; refunds with the capture unknown are partial."""
    assert state.status is status
