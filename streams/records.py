"""The Kafka records the worker reads and writes, as plain values.

The pure steps see only these; the faust adapter converts to and from them, so no step
depends on faust's message or event types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from schemas import headers as h

Headers = tuple[tuple[str, bytes], ...]

#: An origin: a legal topic name, a partition and an offset.
_ORIGIN: Final = re.compile(r"[A-Za-z0-9._-]+/[0-9]+/[0-9]+")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One consumed record; `headers` decoded to strings (a repeated name keeps its last)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes
    value: bytes
    headers: Mapping[str, str]

    @property
    def origin(self) -> str:
        """Where this copy of the event sits in Kafka: tells a crash replay of this very
        record apart from another delivery of the same event. A record forwarded to its key's
        partition (`streams.placement`) keeps the origin of the record it copies, so that a
        crash replay of that record stays a replay wherever it is read."""
        forwarded = self.headers.get(h.FORWARDED_FROM)
        if forwarded is not None and _ORIGIN.fullmatch(forwarded):
            return forwarded
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def attempt(self) -> int:
        """Retries this event has had so far (0 on raw-webhooks)."""
        return int_header(self.headers, h.RETRY_ATTEMPT) or 0


@dataclass(frozen=True, slots=True)
class Outbound:
    """One record to produce. `partition` is set where co-partitioning must not depend on
    which client's partitioner hashes the key."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    partition: int | None = None


def encode_headers(values: Mapping[str, str]) -> Headers:
    return tuple((name, value.encode()) for name, value in values.items())


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """A header holding a decimal integer (attempts, epoch ms); None when absent or garbled."""
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None
