"""Properties of the worker's fold over whole payment histories, delivered in any order.

A history is what Stripe sends for one payment, in provider order (one currency; provider
times a second apart or the same second). Delivery shuffles it and adds copies; each copy
is a record of its own, folded through `streams.process.step` and the payment's record as
the worker folds it (`worker_model`), so a copy meets its first delivery in the record's
`seen` and is dropped. Guarantee 3: the final state, its version, and the payment-events
the sink reads end the same whatever the order, and nothing ever waits on the retry ladder.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ops.samples import stripe_event
from schemas.events import PaymentEvent
from schemas.mapping import TRANSITIONS, Effect
from schemas.providers import Provider
from sinks.rows import newest, payment_row
from streams.state_machine import PaymentState
from tests.support.worker_model import DAY_MS, NOW_MS, POLICY, WorkerModel

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # when the sink writes the row


START = 1_764_100_000
INTENT = "pi_prop"
KEY = f"stripe:{INTENT}"
HOUR_MS = 3600 * 1000
ATTEMPTS = ["payment_intent.created", "payment_intent.requires_action", "charge.failed"]
LATE_STATUS_TYPES = sorted(
    event_type
    for event_type, transition in TRANSITIONS[Provider.STRIPE].items()
    if transition.effect is Effect.STATUS and event_type.startswith("payment_intent.")
)


class _History:
    """One payment's Stripe events in provider order; provider times may repeat."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.currency = draw(st.sampled_from(["usd", "jpy", "eur", "kwd"]))
        self.amount = draw(st.integers(min_value=1, max_value=10**9))
        self.bodies: list[bytes] = []
        self.second = 0

    def add(self, event_type: str, obj: dict[str, Any]) -> None:
        self.second += self.draw(st.integers(min_value=0, max_value=2))
        event_id = f"evt_{len(self.bodies)}"
        self.bodies.append(stripe_event(event_id, event_type, START + self.second, obj))

    def intent(self, event_type: str, status: str, received: int = 0) -> None:
        obj = {"id": INTENT, "object": "payment_intent", "amount": self.amount}
        obj |= {"amount_received": received, "currency": self.currency, "status": status}
        self.add(event_type, obj)

    def charge(self, event_type: str, **totals: Any) -> None:
        obj = {"id": "ch_prop", "object": "charge", "amount": self.amount}
        self.add(event_type, obj | {"currency": self.currency, "payment_intent": INTENT, **totals})

    def refund(self, refund_id: str, amount: int) -> None:
        obj = {"id": refund_id, "object": "refund", "amount": amount, "status": "succeeded"}
        self.add("refund.created", obj | {"currency": self.currency, "payment_intent": INTENT})

    def dispute(self, event_type: str, status: str) -> None:
        obj = {"id": "dp_prop", "object": "dispute", "amount": self.amount, "status": status}
        self.add(event_type, obj | {"currency": self.currency, "payment_intent": INTENT})


@st.composite
def histories(draw: st.DrawFn) -> list[bytes]:
    """Attempts, then canceled, or captured and then refunds and maybe a dispute."""
    history = _History(draw)
    for event_type in draw(st.lists(st.sampled_from(ATTEMPTS), max_size=3)):
        if event_type == "charge.failed":
            history.charge(event_type)
        else:
            history.intent(event_type, event_type.rsplit(".", 1)[1])
    if draw(st.booleans()):
        history.intent("payment_intent.canceled", "canceled")
        return history.bodies
    history.intent("payment_intent.succeeded", "succeeded", received=history.amount)
    _refunds(draw, history)
    if draw(st.booleans()):
        history.dispute("charge.dispute.created", "needs_response")
        closed = draw(st.sampled_from([None, "won", "lost"]))
        if closed is not None:
            history.dispute("charge.dispute.closed", closed)
    return history.bodies


def _refunds(draw: st.DrawFn, history: _History) -> None:
    """Partial or full refunds, each with its own id, never above the capture in total;
    sometimes the charge's running total after one (charge.refunded)."""
    captured, total = history.amount, 0
    for n, requested in enumerate(draw(st.lists(st.integers(1, captured), max_size=4))):
        refund = min(requested, captured - total)
        if refund == 0:
            return
        total += refund
        history.refund(f"re_{n}", refund)
        if draw(st.booleans()):
            history.charge(
                "charge.refunded", amount_captured=captured, amount_refunded=total, captured=True
            )


def _fold(deliveries: list[bytes], gaps_ms: list[int]) -> WorkerModel:
    """Each body as a new raw-webhooks record, the worker's clock moving on by a gap."""
    worker, now_ms = WorkerModel(), NOW_MS
    for body, gap in zip(deliveries, gaps_ms, strict=True):
        now_ms += gap
        worker.send(Provider.STRIPE, body, now_ms)
    return worker


def _state(worker: WorkerModel) -> PaymentState:
    state = worker.stored(KEY).state
    assert state is not None
    return state


def _facts(state: PaymentState) -> dict[str, object]:
    return {
        "status": state.status,
        "currency": state.currency,
        "captured": state.captured,
        "refunded": state.refunded,
        "amount": state.amount,
        "dispute": state.dispute,
        "version": state.version,
    }


def _last_row(worker: WorkerModel) -> dict[str, object]:
    """The last payment-event sent: the payment's totals once every event is in."""
    last = worker.payment_events()[-1]
    return _columns(last) | {"version": last.version}


def _columns(event: PaymentEvent) -> dict[str, object]:
    return {
        "status": event.status,
        "currency": event.currency,
        "amount": event.amount,
        "captured_amount": event.captured_amount,
        "refunded_amount": event.refunded_amount,
    }


def _gaps(size: int, most_ms: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, most_ms), min_size=size, max_size=size)


@given(data=st.data())
def test_any_delivery_order_with_duplicates_ends_where_in_order_delivery_does(
    data: st.DataObject,
) -> None:
    history = data.draw(histories())
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    deliveries = data.draw(st.permutations(history + duplicates))
    # All copies within the dedupe retention (7 days): a copy always meets its first one.
    gaps = data.draw(_gaps(len(deliveries), HOUR_MS))

    in_order = _fold(history, gaps[: len(history)])
    shuffled = _fold(deliveries, gaps)

    assert set(in_order.outcomes()) == {"applied"}
    # A late older event that changes nothing is "stale"; each copy is a "duplicate".
    assert set(shuffled.outcomes()) <= {"applied", "stale", "duplicate"}
    assert shuffled.outcomes().count("duplicate") == len(duplicates)
    assert _state(shuffled) == _state(in_order)
    assert _facts(_state(shuffled)) == _facts(_state(in_order))
    assert _state(in_order).version == len(history)
    assert _last_row(shuffled) == _last_row(in_order)
    # The sink keeps a payment's newest event as its row (`sinks.rows`): the same row,
    # every column, whatever the order.
    (row_in_order,) = newest(in_order.payment_events())
    (row_shuffled,) = newest(shuffled.payment_events())
    assert payment_row(row_shuffled, NOW) == payment_row(row_in_order, NOW)
    # Everything sent says what the payment was after that event, never more refunded
    # than captured once the capture is known.
    for event in shuffled.payment_events():
        captured = event.captured_amount
        assert captured is None or event.refunded_amount <= captured


@given(data=st.data())
def test_no_event_ever_waits_on_the_retry_ladder(data: st.DataObject) -> None:
    history = data.draw(histories())
    deliveries = data.draw(st.permutations(history + history))
    worker = _fold(deliveries, data.draw(_gaps(len(deliveries), HOUR_MS)))
    assert not {"retried", "dead_lettered", "forwarded"} & set(worker.outcomes())
    assert all(
        out.topic == POLICY.topics.payment_events for done in worker.steps for out in done.outputs
    )
    assert worker.outcomes().count("duplicate") == len(history)


@given(data=st.data())
def test_events_weeks_apart_end_where_events_seconds_apart_do(data: st.DataObject) -> None:
    """Each distinct event once, up to 60 days between arrivals (past the dedupe
    retention): the state keeps no clock, so the time between arrivals does not matter."""
    history = data.draw(histories())
    deliveries = data.draw(st.permutations(history))
    far = _fold(deliveries, data.draw(_gaps(len(deliveries), 60 * DAY_MS)))
    near = _fold(history, [0] * len(history))
    assert not {"retried", "dead_lettered", "duplicate"} & set(far.outcomes())
    assert _facts(_state(far)) == _facts(_state(near))
    assert _last_row(far) == _last_row(near)


@given(data=st.data())
def test_refunds_above_the_capture_are_dead_lettered_never_retried(data: st.DataObject) -> None:
    """Refunds no history could have, mixed in anywhere: whichever event reveals that the
    refunds exceed the capture goes to dlq at once; nothing sent ever shows it."""
    history = data.draw(histories())
    currency = json.loads(history[0])["data"]["object"]["currency"]
    excessive = [
        stripe_event(
            f"evt_x{n}",
            "refund.created",
            START + second,
            {"id": f"re_x{n}", "object": "refund", "amount": amount, "status": "succeeded"}
            | {"currency": currency, "payment_intent": INTENT},
        )
        for n, (second, amount) in enumerate(
            data.draw(
                st.lists(st.tuples(st.integers(0, 20), st.integers(1, 2 * 10**9)), max_size=3)
            )
        )
    ]
    deliveries = data.draw(st.permutations(history + excessive))
    worker = _fold(deliveries, [HOUR_MS] * len(deliveries))

    assert "retried" not in worker.outcomes()
    for done in worker.steps:
        if done.outcome == "dead_lettered":
            (out,) = done.outputs
            reason = dict(out.headers)["dlq-reason"].decode()
            assert (out.topic, reason) == (POLICY.topics.dlq, "refund_exceeds_captured")
            assert done.write is None
    state = _state(worker)
    assert state.captured is None or state.refunded <= state.captured
    for event in worker.payment_events():
        captured = event.captured_amount
        assert captured is None or event.refunded_amount <= captured


@given(history=histories(), late=st.sampled_from(LATE_STATUS_TYPES))
def test_a_late_older_event_never_regresses(history: list[bytes], late: str) -> None:
    worker = _fold(history, [0] * len(history))
    before = _state(worker)
    old = stripe_event(
        "evt_late",
        late,
        START - 1,
        {"id": INTENT, "object": "payment_intent", "amount": before.amount or 1}
        | {"currency": (before.currency or "usd").lower(), "status": "whatever"},
    )
    _, done = worker.send(Provider.STRIPE, old, NOW_MS + HOUR_MS)
    assert done.outcome == "stale"
    after = _state(worker)
    assert _facts(after) == _facts(before) | {"version": before.version + 1}
    assert after.last_event_at == before.last_event_at
    assert worker.payment_events()[-1].status is before.status
    assert worker.payment_events()[-1].outcome == "stale"


def _intent_event(event_id: str, event_type: str, second: int, status: str) -> bytes:
    obj = {"id": INTENT, "object": "payment_intent", "amount": 1000, "amount_received": 0}
    obj |= {"currency": "usd", "status": status}
    return stripe_event(event_id, event_type, START + second, obj)


def test_the_sinks_payment_row_is_the_same_whatever_the_order() -> None:
    created = _intent_event("evt_0", "payment_intent.created", 0, "requires_payment_method")
    canceled = _intent_event("evt_1", "payment_intent.canceled", 1, "canceled")
    in_order = _fold([created, canceled], [0, 0])
    late = _fold([canceled, created], [0, 0])
    assert late.outcomes() == ["applied", "stale"]
    assert _facts(_state(late)) == _facts(_state(in_order))
    (row_in_order,) = newest(in_order.payment_events())
    (row_late,) = newest(late.payment_events())
    assert payment_row(row_late, NOW) == payment_row(row_in_order, NOW)
