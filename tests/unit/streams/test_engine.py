"""The faust internals `streams.engine` relies on. A faust or aiokafka upgrade that changes
any of them fails here, by name, before it can fail in production."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any, cast

import aiokafka
import faust
from aiokafka.consumer.fetcher import Fetcher
from faust.stores.rocksdb import Store
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread as ConsumerThread
from faust.transport.drivers.aiokafka import Producer
from faust.types.tuples import Message

from common.settings import PipelineSettings
from streams import engine


def test_the_adapter_was_written_against_these_versions() -> None:
    assert (faust.__version__, aiokafka.__version__) == (
        engine.FAUST_VERSION,
        engine.AIOKAFKA_VERSION,
    ), "re-read every internal in streams/engine.py against the new versions, then bump them"


def test_a_table_partition_is_written_in_one_batch_and_learns_its_changelog_offset(
    tmp_path: Path,
) -> None:
    settings = PipelineSettings(worker_data_dir=tmp_path)
    table = engine.declare_table(engine.make_app(settings), "payment-state", settings)
    topic = engine.changelog_topic(table)
    assert topic == f"{engine.app_id(settings)}-payment-state-changelog"

    engine.write(table, 1, [(b"stripe:pi_1", b"one"), (b"stripe:pi_2", b"two")])
    engine.set_persisted_offset(table, topic, 1, 41)

    db = engine.partition_db(table, 1)
    assert (db.get(b"stripe:pi_1"), db.get(b"stripe:pi_2")) == (b"one", b"two")
    assert table.data.persisted_offset(engine.tp(topic, 1)) == 41
    assert engine.partition_db(table, 0).get(b"stripe:pi_1") is None


def test_the_store_keeps_its_offset_beside_the_entries() -> None:
    # The worker's own readers of a store (tests, migrations) skip this key.
    assert Store.offset_key == b"__faust\0offset__"
    assert callable(Store._db_for_partition)


def test_the_producer_hands_out_its_aiokafka_producer_which_sends_batches() -> None:
    assert callable(Producer._ensure_producer)
    send_batch = inspect.signature(aiokafka.AIOKafkaProducer.send_batch)
    assert list(send_batch.parameters) == ["self", "batch", "topic", "partition"]
    assert callable(aiokafka.AIOKafkaProducer.create_batch)


def test_a_held_message_is_acked_only_when_released() -> None:
    message = Message("raw", 0, 7, 0.0, 0, {}, b"k", b"v", None)
    message.incref()  # delivered to one stream
    engine.hold(message)
    consumer = cast(Any, None)  # a plain message's final ack does not call its consumer
    message.ack(consumer)  # what a take does with its events when the next one starts
    assert not message.acked
    message.ack(consumer)  # `engine.release`
    assert message.acked


def test_a_take_acks_its_events_when_the_next_take_starts_whatever_happened() -> None:
    """Why the worker holds a take's messages: `take_events` acks in a `finally`."""
    source = inspect.getsource(faust.Stream.take_events)
    assert "finally:" in source
    assert "await self.ack(event)" in source


def test_the_consumer_tracks_unacked_messages_by_that_name() -> None:
    assert "self._unacked_messages" in inspect.getsource(Consumer.__init__)


def test_faust_resumes_the_partitions_before_it_seeks_them_after_signalling_recovery() -> None:
    """Why `guard_rebalances` holds source fetches from the signal until the seek."""
    for step in (Recovery._resume_streams, Recovery.on_recovery_completed):
        source = inspect.getsource(step)
        signal = source.index("on_rebalance_complete.send()")
        assert signal < source.index("resume_partitions(") < source.index("perform_seek()")


def test_faust_fetches_through_its_thread_with_its_live_set_of_active_partitions() -> None:
    source = inspect.getsource(ConsumerThread._fetch_records)
    assert "fetcher.fetched_records(\n                    active_partitions," in source
    fetched = inspect.getsource(Fetcher.fetched_records)
    assert "if partitions and tp not in partitions:" in fetched


def test_faust_seeks_through_its_thread_which_seeks_committed_offsets_above_0_only() -> None:
    perform_seek = inspect.getsource(Consumer.perform_seek)
    assert "await self.seek_to_committed()" in perform_seek
    assert "self._thread.seek_to_committed()" in inspect.getsource(
        ThreadDelegateConsumer.seek_to_committed
    )
    seek = inspect.getsource(aiokafka.AIOKafkaConsumer.seek_to_committed)
    assert "if offset and offset > 0:" in seek
    assert callable(ConsumerThread.seek_to_beginning)


async def test_the_worker_consumer_asks_the_broker_to_answer_within_the_bounded_wait(
    tmp_path: Path,
) -> None:
    app = engine.make_app(PipelineSettings(worker_data_dir=tmp_path))
    engine.bound_fetch_wait(app, 50)

    thread = cast(Any, app.consumer)._thread
    consumer = thread._create_consumer(loop=asyncio.get_running_loop())
    try:
        assert isinstance(consumer, aiokafka.AIOKafkaConsumer)
        assert consumer._fetch_max_wait_ms == 50
    finally:
        await consumer.stop()
        thread.thread_loop.close()
    assert "fetch_max_wait_ms=1500," in inspect.getsource(ConsumerThread._create_worker_consumer)
    start = inspect.getsource(aiokafka.AIOKafkaConsumer.start)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms," in start
    fetch_request = inspect.getsource(Fetcher._get_actions_per_node)
    assert "self._fetch_max_wait_ms," in fetch_request
