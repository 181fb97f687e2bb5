"""From a payment-events record to what the sink writes, or to why it cannot. Pure.

A record the sink cannot write goes to dlq with the docs/design.md headers; its offset is still
committed, since dlq now holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

from pydantic import ValidationError

from common.kafka import header_map
from schemas import headers as h
from schemas.events import PaymentEvent
from sinks.rows import BatchRows, batch_rows

ERROR_MESSAGE_LIMIT: Final = 256

DlqReason = Literal["invalid_payment_event", "database_rejected"]


class KafkaRecord(Protocol):
    """The fields of a consumed record the sink reads (aiokafka's ConsumerRecord has them)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # epoch milliseconds
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class Decoded:
    record: KafkaRecord
    event: PaymentEvent


@dataclass(frozen=True, slots=True)
class Rejected:
    record: KafkaRecord
    reason: DlqReason
    error: BaseException


def decode(record: KafkaRecord) -> Decoded | Rejected:
    try:
        return Decoded(record, PaymentEvent.model_validate_json(record.value or b""))
    except ValidationError as exc:
        return Rejected(record, "invalid_payment_event", exc)


def decode_all(records: Iterable[KafkaRecord]) -> tuple[list[Decoded], list[Rejected]]:
    decoded: list[Decoded] = []
    rejected: list[Rejected] = []
    for record in records:
        result = decode(record)
        if isinstance(result, Decoded):
            decoded.append(result)
        else:
            rejected.append(result)
    return decoded, rejected


@dataclass(frozen=True, slots=True)
class Prepared:
    """A fetched batch made ready for the database before its turn to be written: the
    payment-events decoded, the records that are not one, and the rows at `prepared_at`."""

    records: Sequence[KafkaRecord]
    decoded: list[Decoded]
    rejected: list[Rejected]
    rows: BatchRows
    prepared_at: datetime


def prepare(records: Sequence[KafkaRecord], now: datetime) -> Prepared:
    decoded, rejected = decode_all(records)
    return Prepared(records, decoded, rejected, batch_rows([d.event for d in decoded], now), now)


def error_text(error: BaseException) -> str:
    """A bounded description that carries no field values: pydantic's messages quote the
    input and a database error's DETAIL quotes the row, and either may hold PII."""
    if isinstance(error, ValidationError):
        text = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
    else:
        cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
        diag = getattr(cause, "diag", None)  # psycopg: the primary message has no row data
        text = getattr(diag, "message_primary", None) or str(cause).split("\n", 1)[0]
    return text[:ERROR_MESSAGE_LIMIT]


def dlq_headers(rejected: Rejected, now_ms: int) -> list[tuple[str, bytes]]:
    """The record's own headers (correlation id and all) plus why and where it failed."""
    record = rejected.record
    carried = header_map(list(record.headers))
    added = {
        h.DLQ_REASON: rejected.reason,
        h.ERROR_CLASS: type(rejected.error).__name__,
        h.ERROR_MESSAGE: error_text(rejected.error),
        h.ORIGINAL_TOPIC: record.topic,
        h.ORIGINAL_PARTITION: str(record.partition),
        h.ORIGINAL_OFFSET: str(record.offset),
        h.FIRST_FAILED_AT: carried.get(h.FIRST_FAILED_AT, str(now_ms)),
    }
    return [(name, value.encode()) for name, value in {**carried, **added}.items()]


def next_offsets(records: Iterable[KafkaRecord]) -> dict[tuple[str, int], int]:
    """Per partition, the offset to commit once these records are durable."""
    offsets: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        offsets[key] = max(offsets.get(key, 0), record.offset + 1)
    return offsets
