"""The example bodies: one for every event type the pipeline handles, each read by the
worker as that type, and together a set of sensible payment stories."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ops.example_events import EVENTS, examples, write_examples
from schemas.mapping import TRANSITIONS, PaymentStatus
from schemas.routing import load_payload, routing_key
from streams.normalize import normalize
from streams.state_machine import Applied, PaymentState, apply_event

COMMITTED = Path(__file__).resolve().parents[3] / "examples" / "bodies"


def test_every_handled_event_type_has_exactly_one_example() -> None:
    for provider, transitions in TRANSITIONS.items():
        listed = [event_type for event_type, _ in EVENTS[provider]]
        assert sorted(listed) == sorted(transitions), provider


def test_the_committed_bodies_are_current(tmp_path: Path) -> None:
    write_examples(tmp_path)
    generated = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.json")}
    committed = {p.relative_to(COMMITTED): p.read_bytes() for p in COMMITTED.rglob("*.json")}
    assert committed == generated, "stale: run `.venv/bin/python examples/generate.py`"


def test_sent_in_order_every_event_applies_and_each_story_ends_sensibly() -> None:
    states: dict[str, PaymentState] = {}
    for example in examples():
        event = normalize(example.provider, example.body, datetime.now(UTC), "corr-1")
        assert event.event_type == example.event_type
        assert routing_key(example.provider, load_payload(example.body)) == event.payment_key
        outcome = apply_event(states.get(event.payment_key), event)
        assert isinstance(outcome, Applied), (example.file_name, outcome)
        states[event.payment_key] = outcome.state

    final = {key: (state.status, state.captured, state.refunded) for key, state in states.items()}
    assert final == {
        "stripe:pi_example_paid": (PaymentStatus.DISPUTE_WON, 5000, 1500),
        "stripe:pi_example_failed": (PaymentStatus.FAILED, None, 0),
        "stripe:pi_example_canceled": (PaymentStatus.CANCELED, None, 0),
        "paypal:ORDER-EXAMPLE-PAID": (PaymentStatus.CAPTURED, None, 0),
        "paypal:CAP-EXAMPLE-PAID": (PaymentStatus.DISPUTE_WON, 10000, 1500),
        "paypal:CAP-EXAMPLE-FAILED": (PaymentStatus.FAILED, None, 0),
        "paypal:ORDER-EXAMPLE-CANCELED": (PaymentStatus.CANCELED, None, 0),
    }


def ids(run: str) -> set[str]:
    events = [normalize(e.provider, e.body, datetime.now(UTC), "c") for e in examples(run)]
    return {event.event_id for event in events} | {event.payment_key for event in events}


def test_a_run_name_makes_every_id_new() -> None:
    assert not ids("example") & ids("demo1")
