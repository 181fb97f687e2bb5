import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from schemas import headers as h
from sinks.db_errors import classify
from sinks.records import (
    ERROR_MESSAGE_LIMIT,
    Decoded,
    Rejected,
    decode,
    decode_all,
    dlq_headers,
    error_text,
    next_offsets,
)
from tests.support.payment_events import FakeRecord, payment_event, record_of


def test_a_payment_event_decodes() -> None:
    event = payment_event()
    assert decode(record_of(event)) == Decoded(record_of(event), event)


@pytest.mark.parametrize(
    "value", [b"not json", b"{}", None, b'{"schema_version": 2}', b'{"email": "a@b.c"}']
)
def test_anything_else_is_rejected_as_invalid(value: bytes | None) -> None:
    result = decode(FakeRecord(value))
    assert isinstance(result, Rejected)
    assert result.reason == "invalid_payment_event"


def test_decode_all_splits_good_from_bad() -> None:
    good, bad = record_of(payment_event()), FakeRecord(b"{")
    decoded, rejected = decode_all([bad, good])
    assert [d.record for d in decoded] == [good]
    assert [r.record for r in rejected] == [bad]


def test_error_text_never_quotes_the_input() -> None:
    result = decode(FakeRecord(b'{"provider": "stripe", "event_id": "jane@example.com", "x": 1}'))
    assert isinstance(result, Rejected)
    text = error_text(result.error)
    assert "jane@example.com" not in text
    assert "payment_id: Field required" in text


def test_error_text_keeps_the_first_line_and_is_bounded() -> None:
    assert error_text(ValueError("bad\nDETAIL: Key (email)=(x@y.z)")) == "bad"
    assert len(error_text(ValueError("x" * 5000))) == ERROR_MESSAGE_LIMIT


def test_dlq_headers_carry_the_record_s_own_and_say_why_and_where() -> None:
    record = FakeRecord(b"{", offset=41, partition=3)
    headers = dict(dlq_headers(Rejected(record, "database_rejected", OverflowError("big")), 1000))
    assert headers == {
        h.CORRELATION_ID: b"corr-1",
        h.DLQ_REASON: b"database_rejected",
        h.ERROR_CLASS: b"OverflowError",
        h.ERROR_MESSAGE: b"big",
        h.ORIGINAL_TOPIC: b"payment-events",
        h.ORIGINAL_PARTITION: b"3",
        h.ORIGINAL_OFFSET: b"41",
        h.FIRST_FAILED_AT: b"1000",
    }


def test_next_offsets_are_one_past_the_last_record_of_each_partition() -> None:
    records = [FakeRecord(b"", offset=o, partition=p) for o, p in [(5, 0), (3, 1), (7, 0)]]
    assert next_offsets(records) == {("payment-events", 0): 8, ("payment-events", 1): 4}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (DataError("INSERT", {}, psycopg.errors.NumericValueOutOfRange()), "data"),
        (psycopg.errors.StringDataRightTruncation(), "data"),
        (sqlite3.IntegrityError(), "data"),
        (OverflowError(), "data"),
        (OperationalError("connect", {}, psycopg.OperationalError()), "unavailable"),
        (psycopg.errors.AdminShutdown(), "unavailable"),
        (ConnectionRefusedError(), "unavailable"),
        (sqlite3.OperationalError("database is locked"), "unavailable"),
        (ProgrammingError("SELECT", {}, psycopg.errors.UndefinedTable()), "unknown"),
        (KeyError("bug"), "unknown"),
    ],
)
def test_database_errors_are_classified(error: BaseException, kind: str) -> None:
    assert classify(error) == kind
