"""Placement: is a record in its key's partition, and if not, where must it go?

Records of one payment share a key, and the key decides the partition (murmur2, the Java
client's partitioner, which aiokafka and every confluent producer here use). The worker's
tables live in that partition. After `payments topics scale` raises the partition count,
records written before (the backlog, what sits on the retry tiers) and records an ingress
with stale metadata still writes sit in the partition the OLD count gave their key: their
payment's table entries have moved on. Such a record must not be processed where it is;
the worker copies it to its key's partition of the same topic (`forward`) and skips it.

The copy keeps the record's origin (`forwarded-from`): a crash replay of the original is
read again after the scale, forwarded again, and its copy must still be recognised as that
replay by dedupe (`streams.records.Inbound.origin`).
"""

from __future__ import annotations

import struct
from typing import Final

from schemas import headers as h
from streams.records import Inbound, Outbound, encode_headers

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_U32: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The Java client's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), unsigned.
    The same as aiokafka's (tested), about twice as fast: the worker hashes every record."""
    length = len(data)
    h = _SEED ^ length
    whole = length & ~3
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        k = (k * _M) & _U32
        k = ((k ^ (k >> 24)) * _M) & _U32
        h = ((h * _M) & _U32) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest:
        h = ((h ^ data[whole]) * _M) & _U32
    h ^= h >> 13
    h = (h * _M) & _U32
    return h ^ (h >> 15)


def home_partition(key: bytes, partitions: int) -> int:
    """The partition of `key` among `partitions`, as the Java client computes it."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def is_misplaced(record: Inbound, partitions: int) -> bool:
    """True when `record` sits outside its key's partition. A record without a key was
    placed at random and has no payment to meet: it is never misplaced."""
    return bool(record.key) and home_partition(record.key, partitions) != record.partition


def forward(record: Inbound, partitions: int) -> Outbound | None:
    """The copy of a misplaced `record` to produce (same topic, key, value and headers, in
    its key's partition, with `forwarded-from`); None when the record is where it belongs
    and must be processed."""
    if not is_misplaced(record, partitions):
        return None
    headers = {**record.headers, h.FORWARDED_FROM: record.origin}
    return Outbound(
        record.topic,
        record.key,
        record.value,
        encode_headers(headers),
        home_partition(record.key, partitions),
    )
