"""Placement: murmur2 as the Java client computes it, and the forwarding decision for every
partition a record can sit in."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from schemas import headers as h
from streams.placement import forward, home_partition, is_misplaced, murmur2
from streams.records import Inbound
from streams.retry import Failure, hop_headers

#: org.apache.kafka.common.utils.UtilsTest.testMurmur2 (signed 32-bit results)
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
KEYS = [b"stripe:pi_1", b"stripe:pi_3QabcDEF", b"paypal:5TY05013RG002845M", b"x", b"ab"]
HEADERS = {h.PROVIDER: "stripe", h.EVENT_ID: "evt_1", h.CORRELATION_ID: "c-1"}


def record(key: bytes, partition: int, headers: dict[str, str] | None = None) -> Inbound:
    return Inbound("p-raw-webhooks", partition, 42, 0, key, b"{}", headers or HEADERS)


@pytest.mark.parametrize(("key", "signed"), JAVA_VECTORS.items())
def test_murmur2_is_the_java_clients(key: bytes, signed: int) -> None:
    assert murmur2(key) == signed & 0xFFFFFFFF


@given(st.binary(max_size=80))
def test_murmur2_agrees_with_aiokafka(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.binary(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_the_home_partition_is_where_aiokafka_puts_the_key(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert home_partition(key, partitions) == DefaultPartitioner()(key, every, every)


def test_a_topic_has_at_least_one_partition() -> None:
    assert home_partition(b"stripe:pi_1", 1) == 0
    with pytest.raises(ValueError, match="at least one"):
        home_partition(b"stripe:pi_1", 0)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("partitions", range(1, 17))
def test_only_the_home_partition_processes_a_record(key: bytes, partitions: int) -> None:
    home = home_partition(key, partitions)
    for partition in range(partitions):
        rec = record(key, partition)
        moved = forward(rec, partitions)
        assert is_misplaced(rec, partitions) is (partition != home)
        if partition == home:
            assert moved is None
        else:
            assert moved is not None
            assert (moved.topic, moved.key, moved.value, moved.partition) == (
                rec.topic,
                key,
                rec.value,
                home,
            )
            assert dict(moved.headers) == {
                **{name: value.encode() for name, value in HEADERS.items()},
                h.FORWARDED_FROM: f"p-raw-webhooks/{partition}/42".encode(),
            }


def test_a_record_without_a_key_is_never_misplaced() -> None:
    assert all(forward(record(b"", partition), 8) is None for partition in range(8))


def test_the_copy_keeps_the_origin_of_the_record_it_copies() -> None:
    """Read at its new home, the copy has the origin of the first record: a crash replay of
    that record, forwarded again, is still a replay for dedupe and the key lock."""
    key = KEYS[0]
    home = home_partition(key, 8)
    original = record(key, (home + 1) % 8)
    moved = forward(original, 8)
    assert moved is not None
    copy = Inbound(
        moved.topic, home, 7, 0, moved.key, moved.value, {k: v.decode() for k, v in moved.headers}
    )
    assert copy.origin == original.origin == f"p-raw-webhooks/{(home + 1) % 8}/42"
    # moved twice (two scales in a row): the first origin stays
    again = forward(Inbound(copy.topic, (home + 2) % 8, 9, 0, key, b"{}", copy.headers), 8)
    assert again is not None
    assert dict(again.headers)[h.FORWARDED_FROM] == original.origin.encode()


def test_a_malformed_forwarded_from_is_no_origin() -> None:
    rec = record(KEYS[0], 3, {**HEADERS, h.FORWARDED_FROM: "raw 1/2\nx"})
    assert rec.origin == "p-raw-webhooks/3/42"


def test_a_hop_of_a_forwarded_record_is_a_record_of_its_own() -> None:
    rec = record(KEYS[0], 3, {**HEADERS, h.FORWARDED_FROM: "p-raw-webhooks/1/9"})
    headers = hop_headers(rec, Failure("E", "m"), 1, 1000, 2000)
    assert h.FORWARDED_FROM not in headers
    assert headers[h.ORIGINAL_PARTITION] == "3"
