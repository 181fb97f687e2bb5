"""The streams worker on the real broker: dedupe, order-independent state, the retry ladder,
crash safety."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

from common.kafka import make_confluent_producer
from ops.samples import raw_headers, stripe_capture, stripe_dispute, stripe_refund
from schemas import headers as h
from streams.placement import home_partition
from tests.support.pipeline import Pipeline
from tests.support.topic_reader import Record

MakePipeline = Callable[..., Pipeline]


def event_ids(records: list[Record]) -> list[str]:
    return [json.loads(r.value or b"{}")["event_id"] for r in records]


def test_an_event_delivered_three_times_yields_one_payment_event(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline()
    for _ in range(3):
        pipeline.produce("stripe:pi_dup", stripe_capture("evt_dup", "pi_dup"), "evt_dup")
    # Same key, so same partition, behind the copies: once it is out, they were all read.
    later = stripe_capture("evt_later", "pi_dup", amount=2000, created=1764100500)
    pipeline.produce("stripe:pi_dup", later, "evt_later")
    pipeline.start_worker()

    out = pipeline.reader(pipeline.settings.topics.payment_events)
    records = out.wait_for(lambda rs: "evt_later" in event_ids(rs))

    assert Counter(event_ids(records)) == {"evt_dup": 1, "evt_later": 1}
    assert records[0].headers[h.CORRELATION_ID] == "corr-evt_dup"
    assert records[0].key == b"stripe:pi_dup"
    assert pipeline.metric("payments_worker_events_total", source="raw", outcome="duplicate") == 2


def test_a_refund_long_before_its_capture_applies_at_once_and_the_capture_completes_it(
    make_pipeline: MakePipeline,
) -> None:
    """Order-independent state: nothing waits for another event, however far apart they
    come (here several times the whole ladder's span)."""
    pipeline = make_pipeline(retry_delays_seconds=(1.0, 1.0, 1.0), retry_attempts=(1, 1, 1))
    topics = pipeline.settings.topics
    refund = stripe_refund("evt_refund", "pi_r", "re_1", amount=500, created=1764100100)
    pipeline.produce("stripe:pi_r", refund, "evt_refund", event_type="refund.created")
    pipeline.start_worker()
    out = pipeline.reader(topics.payment_events)
    first = json.loads(out.wait_for(lambda rs: len(rs) >= 1)[0].value or b"{}")
    assert (first["status"], first["refunded_amount"], first["captured_amount"]) == (
        "partially_refunded",
        500,
        None,
    )

    time.sleep(3 * 3.0)  # three times the ladder's whole span
    capture = stripe_capture("evt_cap", "pi_r", 2000, created=1764100000)
    pipeline.produce("stripe:pi_r", capture, "evt_cap")
    dispute = stripe_dispute("evt_dispute", "pi_r", amount=1500, created=1764100200)
    pipeline.produce("stripe:pi_r", dispute, "evt_dispute", event_type="charge.dispute.created")

    records = out.wait_for(lambda rs: len(rs) >= 3)
    events = [json.loads(r.value or b"{}") for r in records]
    assert [e["event_id"] for e in events] == ["evt_refund", "evt_cap", "evt_dispute"]
    assert [e["version"] for e in events] == [1, 2, 3]
    assert (events[1]["status"], events[1]["captured_amount"]) == ("partially_refunded", 2000)
    assert events[2]["status"] == "disputed"
    assert pipeline.reader(topics.dlq).poll(1.0) == []
    assert all(pipeline.reader(tier).poll(0.5) == [] for tier in topics.retry)


def test_a_processing_failure_climbs_the_ladder_into_dlq_while_others_flow(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline(retry_delays_seconds=(1.0, 1.0, 1.0), retry_attempts=(1, 1, 1))
    topics = pipeline.settings.topics
    poison = stripe_capture("evt_poison", "pi_poison")
    pipeline.produce("stripe:pi_poison", poison, "evt_poison")
    pipeline.start_worker(module="tests.support.faulty_worker")
    pipeline.reader(topics.retry[0]).wait_for(lambda rs: len(rs) >= 1)

    healthy = [f"pi_ok{n}" for n in range(12)]
    for intent in healthy:
        pipeline.produce(f"stripe:{intent}", stripe_capture(f"evt_{intent}", intent), intent)

    dead = pipeline.reader(topics.dlq).wait_for(lambda rs: len(rs) >= 1)[0]
    out = pipeline.reader(topics.payment_events).wait_for(lambda rs: len(rs) >= len(healthy))
    assert {r.partition for r in out} == set(range(pipeline.settings.topic_partitions))
    # Every healthy event was out while the poison was still on the ladder.
    assert max(r.timestamp_ms for r in out) < dead.timestamp_ms

    assert dead.key == b"stripe:pi_poison"
    assert dead.value == poison
    assert dead.headers[h.DLQ_REASON] == "retries_exhausted"
    assert dead.headers[h.RETRY_ATTEMPT] == "3"
    assert dead.headers[h.ERROR_CLASS] == "RuntimeError"
    assert "planted failure" in dead.headers[h.ERROR_MESSAGE]
    assert dead.headers[h.ORIGINAL_TOPIC] == topics.raw_webhooks
    assert dead.headers[h.ORIGINAL_OFFSET] == "0"
    assert int(dead.headers[h.ORIGINAL_PARTITION]) == dead.partition
    # Three hops of a second each; the last one's due time is kept on the dlq record.
    assert int(dead.headers[h.RETRY_DUE_AT]) >= int(dead.headers[h.FIRST_FAILED_AT]) + 3000
    for name, value in raw_headers("evt_poison"):
        if name != h.RECEIVED_AT:
            assert dead.headers[name] == value.decode()
    hops = [pipeline.reader(tier).poll(1.0) for tier in topics.retry]
    assert [[r.headers[h.RETRY_ATTEMPT] for r in hop] for hop in hops] == [["1"], ["2"], ["3"]]


def test_a_tier_holds_a_partition_until_due_without_blocking_the_others(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline()
    topics = pipeline.settings.topics
    pipeline.start_worker()
    out = pipeline.reader(topics.payment_events)
    # Due times count from a worker that is up, not from one still starting (slow on a
    # loaded machine): a first event's output says it is.
    pipeline.produce("stripe:pi_warm", stripe_capture("evt_warm", "pi_warm"), "evt_warm")
    out.wait_for(lambda rs: len(rs) >= 1)
    now_ms = int(time.time() * 1000)
    waits = {0: 15_000, 1: 0}  # partition → how far in the future its record is due
    for partition, wait_ms in waits.items():
        intent = f"pi_tier{partition}"
        headers = [
            *raw_headers(intent),
            (h.RETRY_ATTEMPT, b"1"),
            (h.RETRY_DUE_AT, str(now_ms + wait_ms).encode()),
        ]
        body = stripe_capture(intent, intent)
        pipeline.produce(
            f"stripe:{intent}",
            body,
            intent,
            topic=topics.retry[0],
            headers=headers,
            partition=partition,
        )

    first = out.wait_for(lambda rs: len(rs) >= 2)
    assert event_ids(first)[1:] == ["pi_tier1"]
    assert first[1].timestamp_ms < now_ms + waits[0]  # partition 1 did not wait for 0
    assert pipeline.metric("payments_worker_retry_partitions_held") == 1
    both = out.wait_for(lambda rs: len(rs) >= 3)
    assert both[2].timestamp_ms >= now_ms + waits[0]


def test_a_tier_partition_held_and_released_again_and_again_behind_a_backlog_never_sticks(
    make_pipeline: MakePipeline,
) -> None:
    """Heads due 20 ms apart: the gate holds and releases the partition hundreds of times,
    while a raw-webhooks backlog keeps faust delivering batches fetched before each seek. A
    record of such a batch that arrives after the seek made faust drop the held record when
    it came again, and the partition waited for it until a rebalance (`streams.gate`)."""
    pipeline = make_pipeline()
    topics = pipeline.settings.topics
    producer = make_confluent_producer(pipeline.settings)
    for n in range(3000):
        intent = f"pi_backlog{n}"
        body, key = stripe_capture(intent, intent), f"stripe:{intent}".encode()
        producer.produce(topics.raw_webhooks, body, key, headers=[*raw_headers(intent)])
        producer.poll(0)
    first_due_ms = int(time.time() * 1000) + 5000
    tier = [f"pi_tier{n}" for n in range(400)]
    for n, intent in enumerate(tier):
        due = str(first_due_ms + 20 * n).encode()
        body, key = stripe_capture(intent, intent), f"stripe:{intent}".encode()
        retry = [(h.RETRY_ATTEMPT, b"1"), (h.RETRY_DUE_AT, due)]
        producer.produce(
            topics.retry[0], body, key, partition=0, headers=[*raw_headers(intent), *retry]
        )
    assert producer.flush(30) == 0
    pipeline.start_worker()

    out = pipeline.reader(topics.payment_events)
    out.wait_for(lambda rs: set(tier) <= set(event_ids(rs)), seconds=120)


def test_a_worker_killed_mid_stream_loses_nothing(make_pipeline: MakePipeline) -> None:
    pipeline = make_pipeline()
    topics = pipeline.settings.topics
    intents = [f"pi_k{n:05d}" for n in range(3000)]
    for n, intent in enumerate(intents):
        copies = 2 if n % 10 == 0 else 1  # some provider redeliveries
        for _ in range(copies):
            pipeline.produce(f"stripe:{intent}", stripe_capture(f"evt_{intent}", intent), intent)
    worker = pipeline.start_worker()
    out = pipeline.reader(topics.payment_events)
    out.wait_for(lambda rs: len(rs) >= 300)
    worker.kill()
    assert len(out.poll(1.0)) < len(intents), "the kill came too late to test anything"

    pipeline.start_worker()
    want = {f"evt_{intent}" for intent in intents}
    # generous: a restarted worker first waits out the killed one's session
    try:
        records = out.wait_for(lambda rs: want <= set(event_ids(rs)), seconds=180)
    except AssertionError:  # say what is missing, and what the worker said about it
        missing = sorted(want - set(event_ids(out.records)))
        log = (pipeline.workdir / "w1.log").read_text(errors="replace").splitlines()
        raise AssertionError(
            f"{len(missing)} events never came out, e.g. {missing[:5]}; worker log tail:\n"
            + "\n".join(log[-40:])
        ) from None
    # At least once: what the killed worker sent but had not committed comes again (the
    # sink is idempotent); nothing else does.
    assert set(event_ids(records)) == want
    assert pipeline.reader(topics.dlq).poll(1.0) == []


def test_a_record_outside_its_keys_partition_is_forwarded_there_and_applied_once(
    make_pipeline: MakePipeline,
) -> None:
    # What a partition increase leaves behind: a record in the partition the old count gave
    # its key. Its payment's tables live in the key's partition now.
    pipeline = make_pipeline()
    partitions = pipeline.settings.topic_partitions
    home = home_partition(b"stripe:pi_moved", partitions)
    stale = (home + 1) % partitions
    capture = stripe_capture("evt_moved", "pi_moved")
    pipeline.produce("stripe:pi_moved", capture, "evt_moved", partition=stale)
    pipeline.produce("stripe:pi_moved", capture, "evt_moved")  # a redelivery, placed by key
    pipeline.start_worker()

    raw = pipeline.reader(pipeline.settings.topics.raw_webhooks)
    copies = raw.wait_for(lambda rs: len(rs) >= 3)
    out = pipeline.reader(pipeline.settings.topics.payment_events)
    out.wait_for(lambda rs: len(rs) >= 1)
    time.sleep(2)  # room for a second (wrong) payment-event

    (forwarded,) = [r for r in copies if h.FORWARDED_FROM in r.headers]
    assert forwarded.partition == home
    assert forwarded.headers[h.FORWARDED_FROM] == f"{forwarded.topic}/{stale}/0"
    (applied,) = out.poll(1.0)
    assert event_ids([applied]) == ["evt_moved"]
    assert applied.partition == home
    assert pipeline.metric("payments_worker_events_total", source="raw", outcome="forwarded") == 1
