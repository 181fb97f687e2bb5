"""`payments topics create|describe` against the real broker."""

from collections.abc import Callable

from aiokafka import ConsumerRecord, TopicPartition

from common.kafka import make_admin, make_aiokafka_consumer, make_confluent_producer
from common.settings import PipelineSettings
from common.topics import describe_topics
from tests.support.cli import cli


def test_create_is_idempotent(make_settings: Callable[..., PipelineSettings]) -> None:
    settings = make_settings(topic_partitions=3)

    code, first = cli(settings, "topics", "create")
    assert code == 0, first
    assert first.count(": created (3 partitions)") == 6

    code, second = cli(settings, "topics", "create")
    assert code == 0, second
    assert "created" not in second
    assert "nothing to do" in second

    metadata = make_admin(settings).list_topics(timeout=10).topics
    for name in settings.topics.all():
        assert len(metadata[name].partitions) == 3


def test_create_reports_a_partition_count_that_differs(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(topic_partitions=2)
    assert cli(settings, "topics", "create")[0] == 0
    more = settings.model_copy(update={"topic_partitions": 4})
    code, output = cli(more, "topics", "create")
    assert code == 1, output
    assert "has 2 partitions, TOPIC_PARTITIONS is 4" in output
    assert "payments topics scale" in output


async def test_describe_shows_offsets_and_group_lag(
    make_settings: Callable[..., PipelineSettings],
) -> None:
    settings = make_settings(topic_partitions=2)
    assert cli(settings, "topics", "create")[0] == 0
    topic = settings.topics.raw_webhooks
    producer = make_confluent_producer(settings)
    for n in range(10):
        producer.produce(topic, key=f"stripe:pi_{n}".encode(), value=b"{}")
    assert producer.flush(10) == 0

    # a group that consumed everything but committed one record only
    group = f"{settings.topic_prefix}worker"
    consumer = make_aiokafka_consumer(settings, topic, group_id=group)
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < 10:
            batch = await consumer.getmany(timeout_ms=5000)
            records += [r for rs in batch.values() for r in rs]
        first = records[0]
        await consumer.commit({TopicPartition(topic, first.partition): first.offset + 1})
    finally:
        await consumer.stop()

    reports = {
        (r.topic, r.partition): r for r in describe_topics(settings, settings.topics.all(), [group])
    }
    assert len(reports) == 12  # 6 topics x 2 partitions
    assert sum(r.high for (t, _), r in reports.items() if t == topic) == 10
    assert sum(r.lag(group) for (t, _), r in reports.items() if t == topic) == 9

    code, output = cli(settings, "topics", "describe", "--group", group)
    assert code == 0, output
    assert f"lag[{group}]" in output
    assert topic in output
