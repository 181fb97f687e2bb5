"""Properties of apply_event over whole payment histories, delivered in any order.

A history is what a provider sends for one payment, in provider order. Delivery shuffles
and duplicates it; the worker model parks NotYetApplicable events and retries them after
the next event that moved the payment, and once more at the end (the retry ladder).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.mapping import TRANSITIONS, Effect, PaymentStatus, Transition
from schemas.providers import Provider
from streams.normalize import EventFacts, NormalizedEvent
from streams.state_machine import (
    Applied,
    NotYetApplicable,
    Outcome,
    PaymentState,
    Rejected,
    Stale,
    apply_event,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 11, 25, 19, 0, tzinfo=UTC)
STRIPE = TRANSITIONS[Provider.STRIPE]
ATTEMPTS = ["payment_intent.created", "payment_intent.requires_action", "charge.failed"]


def _event(
    event_id: str, event_type: str, second: int, target: PaymentStatus | None = None, **facts: Any
) -> NormalizedEvent:
    transition = STRIPE[event_type]
    return NormalizedEvent(
        provider=Provider.STRIPE,
        event_id=event_id,
        event_type=event_type,
        payment_id="pi_1",
        received_at=T0,
        correlation_id=f"corr-{event_id}",
        facts=EventFacts(
            transition=Transition(transition.effect, target or transition.target),
            occurred_at=T0 + timedelta(seconds=second),
            **facts,
        ),
    )


class _History:
    """One payment's events in provider order; timestamps may repeat (1 s resolution)."""

    def __init__(self, draw: st.DrawFn, currency: str) -> None:
        self.draw, self.currency = draw, currency
        self.events: list[NormalizedEvent] = []
        self.second = 0

    def add(self, event_type: str, target: PaymentStatus | None = None, **facts: Any) -> None:
        self.second += self.draw(st.integers(min_value=0, max_value=2))
        event_id = f"evt_{len(self.events)}"
        self.events.append(
            _event(event_id, event_type, self.second, target, currency=self.currency, **facts)
        )


@st.composite
def histories(draw: st.DrawFn) -> list[NormalizedEvent]:
    history = _History(draw, draw(st.sampled_from(["USD", "JPY", "BHD", "KWD", "EUR"])))
    amount = draw(st.integers(min_value=1, max_value=10**9))
    for event_type in draw(st.lists(st.sampled_from(ATTEMPTS), max_size=3)):
        history.add(event_type, amount=amount)
    ending = draw(st.sampled_from(["payment_intent.succeeded", "payment_intent.canceled"]))
    if ending == "payment_intent.canceled":
        history.add(ending, amount=amount)
        return history.events
    history.add(ending, amount=amount, captured=amount)
    _refunds(draw, history, amount)
    if draw(st.booleans()):
        history.add("charge.dispute.created", PaymentStatus.DISPUTED, dispute_amount=amount)
        closed = draw(
            st.sampled_from([None, PaymentStatus.DISPUTE_WON, PaymentStatus.DISPUTE_LOST])
        )
        if closed is not None:
            history.add("charge.dispute.closed", closed, dispute_amount=amount)
    return history.events


def _refunds(draw: st.DrawFn, history: _History, captured: int) -> None:
    """Refunds reported per id (refund.*) and, sometimes, as the charge's running total."""
    total = 0
    for n, requested in enumerate(draw(st.lists(st.integers(1, captured), max_size=4))):
        refund = min(requested, captured - total)
        if refund == 0:
            return
        total += refund
        history.add("refund.created", refund_id=f"re_{n}", refund_amount=refund)
        if draw(st.booleans()):
            history.add("charge.refunded", captured=captured, refunded_total=total)


class _Worker:
    """The worker's use of apply_event: keep the state, park what is not yet applicable."""

    def __init__(self) -> None:
        self.state: PaymentState | None = None
        self.parked: list[NormalizedEvent] = []
        self.outcomes: list[Outcome] = []

    def deliver(self, event: NormalizedEvent) -> None:
        outcome = apply_event(self.state, event)
        self.outcomes.append(outcome)
        if isinstance(outcome, NotYetApplicable):
            self.parked.append(event)
        elif isinstance(outcome, Applied | Stale):
            self.state = outcome.state
            self.retry_parked()

    def retry_parked(self) -> None:
        parked, self.parked = self.parked, []
        for event in parked:
            self.deliver(event)


def _run(deliveries: list[NormalizedEvent]) -> _Worker:
    worker = _Worker()
    for event in deliveries:
        worker.deliver(event)
    worker.retry_parked()
    return worker


def _final(worker: _Worker) -> dict[str, Any]:
    assert worker.state is not None
    return {
        **worker.state.model_dump(exclude={"recent_event_ids"}),
        "status": worker.state.status,
        "event_ids": set(worker.state.recent_event_ids),
    }


@given(data=st.data())
def test_any_delivery_order_with_duplicates_ends_where_in_order_delivery_does(
    data: st.DataObject,
) -> None:
    history = data.draw(histories())
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    deliveries = data.draw(st.permutations(history + duplicates))

    in_order, shuffled = _run(history), _run(deliveries)

    assert all(isinstance(outcome, Applied) for outcome in in_order.outcomes)
    assert shuffled.parked == []
    assert not any(isinstance(outcome, Rejected) for outcome in shuffled.outcomes)
    assert _final(shuffled) == _final(in_order)


@given(data=st.data())
def test_refunds_never_exceed_the_capture(data: st.DataObject) -> None:
    history = data.draw(histories())
    excessive = [
        _event(f"evt_x{n}", "refund.created", second, refund_id=f"re_x{n}", refund_amount=amount)
        for n, (second, amount) in enumerate(
            data.draw(
                st.lists(st.tuples(st.integers(0, 20), st.integers(1, 2 * 10**9)), max_size=3)
            )
        )
    ]
    worker = _run(data.draw(st.permutations(history + excessive)))
    recorded = [o for o in worker.outcomes if isinstance(o, Applied | Stale)]
    assert all(o.state.refunded <= o.state.captured for o in recorded)
    assert all(o.payment_event.refunded_amount <= o.payment_event.captured_amount for o in recorded)


@given(
    history=histories(),
    late=st.sampled_from([t for t, tr in STRIPE.items() if tr.effect is Effect.STATUS]),
)
def test_a_late_older_event_never_regresses(history: list[NormalizedEvent], late: str) -> None:
    worker = _run(history)
    assert worker.state is not None
    before = worker.state
    outcome = apply_event(before, _event("evt_late", late, second=-1))
    assert isinstance(outcome, Stale)
    assert outcome.state.status is before.status
    assert outcome.payment_event.status is before.status
