"""One record through placement, parse, dedupe (the payment's record), the state machine and
routing (`streams.process.step`): what is written to the table and what is sent."""

from __future__ import annotations

import json

import pytest

from common.errors import PermanentError
from ops.samples import stripe_capture, stripe_dispute, stripe_event, stripe_refund
from schemas import headers as h
from schemas.events import PaymentEvent
from schemas.mapping import PaymentStatus
from schemas.providers import Provider
from streams import process as process_module
from streams.dedupe import Seen
from streams.normalize import NormalizedEvent
from streams.payment_record import PaymentRecord
from streams.placement import home_partition
from streams.process import step
from streams.records import Inbound, Outbound
from streams.route import Step
from streams.state_machine import Outcome, PaymentState
from tests.support.worker_model import DAY_MS, NOW_MS, POLICY, WorkerModel, inbound

S = PaymentStatus
KEY = "stripe:pi_1"
HOME = home_partition(KEY.encode(), POLICY.partitions)
NOT_HOME = (HOME + 1) % POLICY.partitions


def raw(
    body: bytes,
    offset: int = 5,
    topic: str = "p-raw-webhooks",
    retry_attempt: str | None = None,
    partition: int | None = None,
) -> Inbound:
    extra = {} if retry_attempt is None else {h.RETRY_ATTEMPT: retry_attempt}
    return inbound(
        Provider.STRIPE, body, NOW_MS, offset, topic=topic, partition=partition, headers=extra
    )


CAPTURE = raw(stripe_capture("evt_cap", "pi_1"))
REFUND = raw(stripe_refund("evt_ref", "pi_1", "re_1", 500), offset=6)


def no_record(_: str) -> PaymentRecord | None:
    return None


def run(record: Inbound, stored: PaymentRecord | None = None, now_ms: int = NOW_MS) -> Step:
    def read(payment_key: str) -> PaymentRecord | None:
        assert payment_key == KEY
        return stored

    return step(record, read, now_ms, POLICY)


def sent(out: Outbound) -> PaymentEvent:
    assert out.topic == POLICY.topics.payment_events
    return PaymentEvent.model_validate_json(out.value)


def headers_of(out: Outbound) -> dict[str, str]:
    return {k: v.decode() for k, v in out.headers}


def written(done: Step) -> PaymentRecord:
    assert done.write is not None
    payment_key, record = done.write
    assert payment_key == KEY
    return record


def state_of(done: Step) -> PaymentState:
    state = written(done).state
    assert state is not None
    return state


def captured_record() -> PaymentRecord:
    return written(run(CAPTURE))


# --- applied, duplicate, replay ----------------------------------------------------


def test_a_new_event_is_applied_recorded_and_sent_to_payment_events() -> None:
    done = run(CAPTURE)
    assert done.outcome == "applied"
    (out,) = done.outputs
    assert (out.topic, out.key, out.partition) == ("p-payment-events", KEY.encode(), None)
    assert json.loads(out.value)["status"] == "captured"
    assert headers_of(out)[h.CORRELATION_ID] == "corr-5"
    assert headers_of(out)[h.SCHEMA_VERSION] == "2"
    record = written(done)
    assert record.seen == {"evt_cap": (NOW_MS, f"p-raw-webhooks/{HOME}/5", 1)}
    assert record.state is not None
    assert (record.state.captured, record.state.version) == (2000, 1)
    assert sent(out).version == 1


def test_the_next_event_adds_to_the_record() -> None:
    done = run(REFUND, captured_record(), NOW_MS + 1000)
    assert done.outcome == "applied"
    assert set(written(done).seen) == {"evt_cap", "evt_ref"}
    assert (state_of(done).status, state_of(done).refunded, state_of(done).version) == (
        S.PARTIALLY_REFUNDED,
        500,
        2,
    )


def test_a_duplicate_from_another_record_changes_and_sends_nothing() -> None:
    stored = captured_record()
    copy = raw(CAPTURE.value, offset=99)
    assert run(copy, stored, NOW_MS + DAY_MS) == Step("duplicate")
    # From a retry tier too: any copy whose origin differs is a duplicate.
    tier_copy = raw(CAPTURE.value, topic="p-retry-1m", retry_attempt="1")
    assert run(tier_copy, stored, NOW_MS + 1) == Step("duplicate")


def test_a_replayed_record_is_sent_again_with_the_same_version_and_record() -> None:
    stored = written(run(REFUND, captured_record(), NOW_MS + 1000))
    first = run(REFUND, captured_record(), NOW_MS + 1000)
    done = run(REFUND, stored, NOW_MS + 2000)  # the same record, read again after a crash
    assert done.outcome == "applied"
    assert done.write == (KEY, stored)
    (out,) = done.outputs
    again, before = sent(out), sent(first.outputs[0])
    assert again.version == before.version == 2
    assert (again.event_id, again.status, again.captured_amount, again.refunded_amount) == (
        "evt_ref",
        S.PARTIALLY_REFUNDED,
        2000,
        500,
    )
    assert again.outcome == "applied"


def test_a_copy_after_the_retention_is_merged_again_without_changing_a_fact() -> None:
    stored = captured_record()
    late = run(raw(CAPTURE.value, offset=99), stored, NOW_MS + POLICY.retention_ms)
    assert late.outcome == "applied"
    before = stored.state
    assert before is not None
    assert state_of(late).model_dump(exclude={"version"}) == before.model_dump(exclude={"version"})
    origin = f"p-raw-webhooks/{HOME}/99"
    assert written(late).seen == {"evt_cap": (NOW_MS + POLICY.retention_ms, origin, 2)}


# --- nothing waits -------------------------------------------------------------------


def test_a_refund_before_its_capture_applies_at_once() -> None:
    done = run(REFUND)
    assert done.outcome == "applied"
    (out,) = done.outputs
    assert out.topic == "p-payment-events"
    event = sent(out)
    assert (event.status, event.captured_amount, event.refunded_amount) == (
        S.PARTIALLY_REFUNDED,
        None,
        500,
    )
    assert (state_of(done).captured, written(done).seen_event("evt_ref")) == (
        None,
        Seen(NOW_MS, f"p-raw-webhooks/{HOME}/6", 1),
    )


@pytest.mark.parametrize(("captured", "status"), [(2000, S.PARTIALLY_REFUNDED), (500, S.REFUNDED)])
def test_a_capture_weeks_after_its_refund_completes_the_payment(
    captured: int, status: PaymentStatus
) -> None:
    worker = WorkerModel()
    _, first = worker.send(
        Provider.STRIPE,
        stripe_refund("evt_ref", "pi_1", "re_1", 500, created=1_764_100_100),
        NOW_MS,
    )
    assert first.outcome == "applied"
    state = worker.stored(KEY).state
    assert state is not None
    assert (state.status, state.captured, state.refunded) == (S.PARTIALLY_REFUNDED, None, 500)

    weeks_later = NOW_MS + 3 * 7 * DAY_MS
    capture = stripe_capture("evt_cap", "pi_1", captured, created=1_764_100_000)
    _, second = worker.send(Provider.STRIPE, capture, weeks_later)
    assert second.outcome == "applied"
    state = worker.stored(KEY).state
    assert state is not None
    assert (state.status, state.captured, state.refunded, state.version) == (
        status,
        captured,
        500,
        2,
    )
    last = worker.payment_events()[-1]
    assert (last.previous_status, last.status, last.captured_amount, last.version) == (
        S.PARTIALLY_REFUNDED,
        status,
        captured,
        2,
    )
    assert worker.outcomes() == ["applied", "applied"]
    assert all(out.topic == "p-payment-events" for done in worker.steps for out in done.outputs)


def test_a_dispute_before_its_capture_applies_at_once() -> None:
    done = run(raw(stripe_dispute("evt_dp", "pi_1", 2000)))
    assert done.outcome == "applied"
    assert (state_of(done).status, state_of(done).captured) == (S.DISPUTED, None)


def test_an_older_event_that_changes_nothing_is_stale_and_recorded() -> None:
    created = stripe_event(
        "evt_created",
        "payment_intent.created",
        1_764_000_000,
        {"id": "pi_1", "object": "payment_intent", "amount": 2000, "currency": "usd"}
        | {"status": "requires_payment_method"},
    )
    done = run(raw(created, offset=7), captured_record(), NOW_MS + 1)
    assert done.outcome == "stale"
    (out,) = done.outputs
    assert (sent(out).outcome, sent(out).status, sent(out).version) == ("stale", S.CAPTURED, 2)
    assert set(written(done).seen) == {"evt_cap", "evt_created"}
    assert (state_of(done).status, state_of(done).version) == (S.CAPTURED, 2)


# --- failures: the retry ladder and dlq ------------------------------------------------


class Boom(RuntimeError):
    pass


def explode(state: PaymentState | None, event: NormalizedEvent) -> Outcome:
    raise Boom("the payment logic broke for jane.doe@example.com")


def test_an_error_in_the_payment_logic_goes_to_the_first_tier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(process_module, "apply_event", explode)
    done = run(CAPTURE)
    assert done.outcome == "retried"
    assert done.write is None
    (out,) = done.outputs
    headers = headers_of(out)
    assert (out.topic, out.partition, out.key, out.value) == (
        POLICY.ladder.tiers[0],
        HOME,
        CAPTURE.key,
        CAPTURE.value,
    )
    assert (headers[h.RETRY_ATTEMPT], headers[h.RETRY_DUE_AT]) == ("1", str(NOW_MS + 1000))
    assert headers[h.ERROR_CLASS] == "Boom"
    assert "the payment logic broke" in headers[h.ERROR_MESSAGE]
    assert "jane.doe@example.com" not in headers[h.ERROR_MESSAGE]
    assert (headers[h.ORIGINAL_TOPIC], headers[h.ORIGINAL_PARTITION]) == (
        "p-raw-webhooks",
        str(HOME),
    )
    assert (headers[h.ORIGINAL_OFFSET], headers[h.FIRST_FAILED_AT]) == ("5", str(NOW_MS))
    assert headers[h.CORRELATION_ID] == "corr-5"


@pytest.mark.parametrize(
    ("topic", "attempt", "to", "next_attempt"),
    [
        ("p-retry-1m", "1", "p-retry-5m", "2"),
        ("p-retry-5m", "2", "p-retry-30m", "3"),
    ],
)
def test_a_failing_retry_climbs_the_ladder(
    monkeypatch: pytest.MonkeyPatch, topic: str, attempt: str, to: str, next_attempt: str
) -> None:
    monkeypatch.setattr(process_module, "apply_event", explode)
    done = run(raw(CAPTURE.value, topic=topic, retry_attempt=attempt))
    assert done.outcome == "retried"
    (out,) = done.outputs
    assert (out.topic, headers_of(out)[h.RETRY_ATTEMPT]) == (to, next_attempt)


def test_the_last_retry_goes_to_dlq_as_retries_exhausted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_module, "apply_event", explode)
    done = run(raw(CAPTURE.value, topic="p-retry-30m", retry_attempt="3"))
    assert done.outcome == "dead_lettered"
    assert done.write is None
    (out,) = done.outputs
    headers = headers_of(out)
    assert (out.topic, out.partition, headers[h.DLQ_REASON], headers[h.RETRY_ATTEMPT]) == (
        "p-dlq",
        HOME,
        "retries_exhausted",
        "3",
    )
    assert headers[h.ERROR_CLASS] == "Boom"


def test_a_retried_event_applies_once_the_logic_works_again() -> None:
    done = run(raw(CAPTURE.value, topic="p-retry-1m", retry_attempt="1"))
    assert done.outcome == "applied"
    assert written(done).seen == {"evt_cap": (NOW_MS, f"p-retry-1m/{HOME}/5", 1)}


def test_an_error_reading_the_table_is_retried_too() -> None:
    def broken(_: str) -> PaymentRecord | None:
        raise OSError("rocksdb said no")

    done = step(CAPTURE, broken, NOW_MS, POLICY)
    assert done.outcome == "retried"
    assert headers_of(done.outputs[0])[h.ERROR_CLASS] == "OSError"


def test_a_permanent_error_in_the_payment_logic_goes_to_dlq_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(state: PaymentState | None, event: NormalizedEvent) -> Outcome:
        raise PermanentError("schema_unknown", "no such schema")

    monkeypatch.setattr(process_module, "apply_event", refuse)
    done = run(CAPTURE)
    assert done.outcome == "dead_lettered"
    headers = headers_of(done.outputs[0])
    assert (done.outputs[0].topic, headers[h.DLQ_REASON], headers[h.RETRY_ATTEMPT]) == (
        "p-dlq",
        "schema_unknown",
        "0",
    )
    assert h.RETRY_DUE_AT not in headers


def test_a_currency_change_goes_to_dlq_with_the_state_machine_reason() -> None:
    euro = stripe_capture("evt_eur", "pi_1").replace(b'"usd"', b'"eur"')
    done = run(raw(euro, offset=8), captured_record(), NOW_MS + 1)
    assert done.outcome == "dead_lettered"
    assert done.write is None
    (out,) = done.outputs
    headers = headers_of(out)
    assert (out.topic, headers[h.DLQ_REASON], headers[h.ERROR_CLASS]) == (
        "p-dlq",
        "currency_mismatch",
        "Rejected",
    )
    assert headers[h.ERROR_MESSAGE] == "EUR on a USD payment"


def test_a_refund_above_the_capture_goes_to_dlq() -> None:
    too_much = raw(stripe_refund("evt_big", "pi_1", "re_9", 2001), offset=9)
    done = run(too_much, captured_record(), NOW_MS + 1)
    assert done.outcome == "dead_lettered"
    assert done.write is None
    assert headers_of(done.outputs[0])[h.DLQ_REASON] == "refund_exceeds_captured"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            Inbound("p-raw-webhooks", HOME, 5, NOW_MS, KEY.encode(), b"nope", CAPTURE.headers),
            "payload_not_json",
        ),
        (
            Inbound("p-raw-webhooks", HOME, 5, NOW_MS, KEY.encode(), CAPTURE.value, {}),
            "provider_unknown",
        ),
    ],
)
def test_an_unreadable_record_goes_to_dlq_at_once(record: Inbound, reason: str) -> None:
    done = step(record, no_record, NOW_MS, POLICY)
    assert done.outcome == "dead_lettered"
    headers = headers_of(done.outputs[0])
    assert (headers[h.DLQ_REASON], headers[h.RETRY_ATTEMPT]) == (reason, "0")
    assert h.RETRY_DUE_AT not in headers


# --- placement -----------------------------------------------------------------------


def test_a_record_outside_its_keys_partition_is_forwarded_unread() -> None:
    def unread(_: str) -> PaymentRecord | None:
        raise AssertionError("a misplaced record must not touch the table")

    record = raw(CAPTURE.value, partition=NOT_HOME)
    done = step(record, unread, NOW_MS, POLICY)
    assert done.outcome == "forwarded"
    assert done.write is None
    (out,) = done.outputs
    assert (out.topic, out.partition, out.key, out.value) == (
        "p-raw-webhooks",
        HOME,
        CAPTURE.key,
        CAPTURE.value,
    )
    assert headers_of(out)[h.FORWARDED_FROM] == f"p-raw-webhooks/{NOT_HOME}/5"


def test_a_forwarded_copy_keeps_the_origin_of_the_record_it_copies() -> None:
    """Applied at home under the original's origin: reading the original again after a
    crash forwards another copy, which is then a replay, not a duplicate."""
    original = raw(CAPTURE.value, partition=NOT_HOME)
    (moved,) = step(original, no_record, NOW_MS, POLICY).outputs
    copy = Inbound(
        moved.topic,
        HOME,
        40,
        NOW_MS,
        moved.key,
        moved.value,
        {k: v.decode() for k, v in moved.headers},
    )
    done = run(copy)
    assert done.outcome == "applied"
    assert written(done).seen == {"evt_cap": (NOW_MS, f"p-raw-webhooks/{NOT_HOME}/5", 1)}
    second = Inbound(moved.topic, HOME, 41, NOW_MS, moved.key, moved.value, copy.headers)
    again = run(second, written(done), NOW_MS + 1)
    assert again.outcome == "applied"
    assert again.write == (KEY, written(done))
