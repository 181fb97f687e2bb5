"""Both client libraries against the real broker: durable produce, and the same partition
for the same key (faust reads with aiokafka; ingress produces with confluent-kafka)."""

import asyncio
from collections.abc import Callable

from confluent_kafka import Consumer

from common.kafka import (
    broker_reachable,
    make_admin,
    make_aiokafka_consumer,
    make_aiokafka_producer,
    make_confluent_producer,
)
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs

KEYS = [f"stripe:pi_{n:04d}".encode() for n in range(40)] + [b"paypal:39D712DDF08F48CB8"]


def produce_with_confluent(settings: PipelineSettings, topic: str) -> dict[bytes, int]:
    producer = make_confluent_producer(settings)
    partitions: dict[bytes, int] = {}

    def delivered(err: object, msg: object) -> None:
        assert err is None, err
        partitions[msg.key()] = msg.partition()  # type: ignore[attr-defined]

    for key in KEYS:
        producer.produce(topic, key=key, value=b"confluent", on_delivery=delivered)
    assert producer.flush(15) == 0
    return partitions


async def produce_with_aiokafka(settings: PipelineSettings, topic: str) -> dict[bytes, int]:
    producer = make_aiokafka_producer(settings)
    await producer.start()
    try:
        return {
            key: (
                await producer.send_and_wait(topic, b"aiokafka", key=key, headers=[("h", b"v")])
            ).partition
            for key in KEYS
        }
    finally:
        await producer.stop()


async def test_same_key_same_partition_from_both_clients(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(topic_partitions=8)
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    topic = settings.topics.raw_webhooks

    by_confluent = produce_with_confluent(settings, topic)
    by_aiokafka = await produce_with_aiokafka(settings, topic)

    assert by_confluent == by_aiokafka
    assert len(set(by_confluent.values())) > 1  # the keys really spread over partitions


async def test_round_trip_keeps_key_value_and_headers(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings()
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    topic = settings.topics.raw_webhooks
    body = b'{"id": "evt_1", "amount": 1099}\n'
    producer = make_confluent_producer(settings)
    producer.produce(topic, key=b"stripe:pi_1", value=body, headers=[("provider", b"stripe")])
    assert producer.flush(15) == 0

    consumer = make_aiokafka_consumer(settings, topic, group_id="roundtrip")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000, max_records=1)
        records = [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    assert len(records) == 1
    assert records[0].key == b"stripe:pi_1"
    assert records[0].value == body
    assert records[0].headers == (("provider", b"stripe"),)


def test_confluent_consumer_reads_what_aiokafka_wrote(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings()
    create_topics(make_admin(settings), pipeline_topic_specs(settings))
    topic = settings.topics.payment_events
    asyncio.run(produce_with_aiokafka(settings, topic))
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": "confluent-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen: set[bytes | None] = set()
    try:
        for _ in range(60):
            for message in consumer.consume(num_messages=100, timeout=0.5):
                assert message.error() is None
                assert message.headers() == [("h", b"v")]
                seen.add(message.key())
            if seen == set(KEYS):
                break
    finally:
        consumer.close()
    assert seen == set(KEYS)


def test_broker_reachable(make_settings: Callable[..., PipelineSettings]) -> None:
    assert broker_reachable(make_settings())
    assert not broker_reachable(make_settings(kafka_bootstrap_servers="127.0.0.1:1"), timeout=0.5)
