"""One record through dedupe, key lock, state machine and routing: what is written and sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from common.errors import PermanentError
from common.settings import PipelineSettings
from schemas import headers as h
from streams.dedupe import DedupeEntry
from streams.keylock import KeyLock, Parked
from streams.parse import parse
from streams.process import View, process
from streams.records import Inbound
from streams.route import UNCHANGED, Policy, Step, rejected
from streams.samples import stripe_capture, stripe_refund
from streams.state_machine import Applied, apply_event

pytestmark = pytest.mark.unit

POLICY = Policy.from_settings(
    PipelineSettings(
        _env_file=None, topic_prefix="p-", retry_delays_seconds="1,2,3", retry_attempts="1,1,1"
    )
)
NOW_MS = 1_800_000_000_000
EMPTY = View(dedupe=None, lock=None, state=None)


def raw(
    body: bytes, offset: int = 5, topic: str = "p-raw-webhooks", retry_attempt: str | None = None
) -> Inbound:
    values = {h.PROVIDER: "stripe", h.CORRELATION_ID: "c-1"}
    if retry_attempt is not None:
        values[h.RETRY_ATTEMPT] = retry_attempt
    return Inbound(topic, 2, offset, NOW_MS, b"stripe:pi_1", body, values)


def run(record: Inbound, view: View = EMPTY) -> Step:
    return process(record, parse(record), view, NOW_MS, POLICY)


CAPTURE = raw(stripe_capture("evt_cap", "pi_1"))
REFUND = raw(stripe_refund("evt_ref", "pi_1", "re_1", 500), offset=6)


def captured_state() -> View:
    outcome = apply_event(None, parse(CAPTURE))
    assert isinstance(outcome, Applied)
    return View(dedupe=None, lock=None, state=outcome.state)


def test_a_new_event_is_applied_recorded_and_sent_to_payment_events() -> None:
    step = run(CAPTURE)
    assert step.outcome == "applied"
    (out,) = step.outputs
    assert (out.topic, out.key, out.partition) == ("p-payment-events", b"stripe:pi_1", None)
    assert json.loads(out.value)["status"] == "captured"
    assert dict(out.headers)[h.CORRELATION_ID] == b"c-1"
    assert step.writes.dedupe == DedupeEntry(NOW_MS, "p-raw-webhooks/2/5", "stripe:pi_1")
    assert step.writes.state is not None
    assert step.writes.state.captured == 2000
    assert step.writes.lock is UNCHANGED


def test_a_duplicate_from_another_record_changes_and_sends_nothing() -> None:
    view = View(dedupe=DedupeEntry(NOW_MS - 1000, "p-raw-webhooks/2/1"), lock=None, state=None)
    step = run(CAPTURE, view)
    assert step == Step("duplicate")


def test_a_replayed_record_is_applied_and_sent_again() -> None:
    state = captured_state().state
    view = View(dedupe=DedupeEntry(NOW_MS - 1000, "p-raw-webhooks/2/5"), lock=None, state=state)
    step = run(CAPTURE, view)
    assert step.outcome == "applied"
    assert len(step.outputs) == 1
    assert step.writes.state is not None
    assert step.writes.state.captured == 2000


def test_a_refund_before_its_capture_parks_on_the_first_tier_and_locks_the_payment() -> None:
    step = run(REFUND)
    assert step.outcome == "parked"
    (out,) = step.outputs
    headers = {k: v.decode() for k, v in out.headers}
    assert (out.topic, out.partition, out.value) == ("p-retry-1m", 2, REFUND.value)
    assert headers[h.RETRY_ATTEMPT] == "1"
    assert headers[h.RETRY_DUE_AT] == str(NOW_MS + 1000)
    assert headers[h.ERROR_MESSAGE] == "capture_not_seen"
    assert isinstance(step.writes.lock, KeyLock)
    assert [p.event_id for p in step.writes.lock.parked] == ["evt_ref"]


def test_the_last_retry_goes_to_dlq_and_unlocks_the_payment() -> None:
    lock = KeyLock(parked=(Parked(event_id="evt_ref", occurred_at=datetime.now(UTC), origin="x"),))
    record = raw(REFUND.value, topic="p-retry-30m", retry_attempt="3")
    step = run(record, View(dedupe=None, lock=lock, state=None))
    assert step.outcome == "dead_lettered"
    (out,) = step.outputs
    headers = {k: v.decode() for k, v in out.headers}
    assert (out.topic, headers[h.DLQ_REASON], headers[h.RETRY_ATTEMPT]) == (
        "p-dlq",
        "retries_exhausted",
        "3",
    )
    assert step.writes.lock is None


def test_a_parked_head_applies_once_the_capture_is_there() -> None:
    lock = KeyLock(parked=(Parked(event_id="evt_ref", occurred_at=datetime.now(UTC), origin="x"),))
    view = View(dedupe=None, lock=lock, state=captured_state().state)
    step = run(raw(REFUND.value, topic="p-retry-1m", retry_attempt="1"), view)
    assert step.outcome == "applied"
    assert step.writes.lock is None


def test_a_later_event_queues_behind_the_parked_head_without_spending_an_attempt() -> None:
    head = Parked(event_id="evt_old", occurred_at=datetime(2020, 1, 1, tzinfo=UTC), origin="x")
    step = run(CAPTURE, View(dedupe=None, lock=KeyLock(parked=(head,)), state=None))
    assert step.outcome == "queued"
    (out,) = step.outputs
    headers = {k: v.decode() for k, v in out.headers}
    assert (out.topic, headers[h.RETRY_ATTEMPT], headers[h.ERROR_CLASS]) == (
        "p-retry-1m",
        "0",
        "KeyLocked",
    )
    assert isinstance(step.writes.lock, KeyLock)
    assert [p.event_id for p in step.writes.lock.parked] == ["evt_old", "evt_cap"]


def test_a_new_delivery_of_a_parked_event_is_dropped() -> None:
    parked = Parked(event_id="evt_ref", occurred_at=datetime.now(UTC), origin="raw/2/1")
    step = run(REFUND, View(dedupe=None, lock=KeyLock(parked=(parked,)), state=None))
    assert step == Step("duplicate")


def test_a_rejected_event_goes_to_dlq_with_the_state_machine_reason() -> None:
    euro = stripe_capture("evt_eur", "pi_1").replace(b'"usd"', b'"eur"')
    step = run(raw(euro), captured_state())
    assert step.outcome == "dead_lettered"
    headers = {k: v.decode() for k, v in step.outputs[0].headers}
    assert (headers[h.DLQ_REASON], headers[h.ERROR_CLASS]) == ("currency_mismatch", "Rejected")


def test_an_unparseable_record_goes_to_dlq_at_once() -> None:
    step = rejected(raw(b"nope"), PermanentError("payload_not_json", "not JSON"), NOW_MS, POLICY)
    headers = {k: v.decode() for k, v in step.outputs[0].headers}
    assert step.outcome == "dead_lettered"
    assert (headers[h.DLQ_REASON], headers[h.RETRY_ATTEMPT]) == ("payload_not_json", "0")
    assert h.RETRY_DUE_AT not in headers
