"""The retry ladder: tiers per attempt and the headers of each hop."""

from __future__ import annotations

import pytest

from common.settings import PipelineSettings
from schemas import headers as h
from streams.records import Inbound
from streams.retry import (
    Failure,
    Ladder,
    hop_headers,
    seconds_late,
    seconds_overdue,
    seconds_until_due,
)

LADDER = Ladder(("r1", "r5", "r30"), (60_000, 300_000, 1_800_000), (2, 2, 1))
INGRESS = {h.PROVIDER: "stripe", h.EVENT_ID: "evt_1", h.CORRELATION_ID: "c-1"}


def record(topic: str = "raw", headers: dict[str, str] | None = None) -> Inbound:
    return Inbound(topic, 3, 42, 0, b"stripe:pi_1", b"{}", headers or INGRESS)


def test_the_ladder_comes_from_settings() -> None:
    settings = PipelineSettings(_env_file=None, topic_prefix="p-")
    assert Ladder.from_settings(settings) == Ladder(
        ("p-retry-1m", "p-retry-5m", "p-retry-30m"), (60_000, 300_000, 1_800_000), (2, 2, 1)
    )


@pytest.mark.parametrize(
    ("attempt", "tier"), [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (6, None), (9, None)]
)
def test_each_attempt_has_a_tier_until_the_ladder_ends(attempt: int, tier: int | None) -> None:
    assert LADDER.tier_for(attempt) == tier


def test_the_first_hop_records_where_the_event_came_from() -> None:
    headers = hop_headers(record(), Failure("ValueError", "boom"), 1, 1000, 61000)
    assert headers == {
        **INGRESS,
        h.ORIGINAL_TOPIC: "raw",
        h.ORIGINAL_PARTITION: "3",
        h.ORIGINAL_OFFSET: "42",
        h.FIRST_FAILED_AT: "1000",
        h.RETRY_ATTEMPT: "1",
        h.RETRY_DUE_AT: "61000",
        h.ERROR_CLASS: "ValueError",
        h.ERROR_MESSAGE: "boom",
    }


def test_later_hops_keep_the_origin_and_replace_the_attempt() -> None:
    first = hop_headers(record(), Failure("A", "a"), 1, 1000, 61000)
    later = hop_headers(record("r1", first), Failure("B", "b"), 2, 70000, 130000)
    assert later[h.ORIGINAL_TOPIC] == "raw"
    assert later[h.FIRST_FAILED_AT] == "1000"
    assert (later[h.RETRY_ATTEMPT], later[h.RETRY_DUE_AT]) == ("2", "130000")
    assert (later[h.ERROR_CLASS], later[h.ERROR_MESSAGE]) == ("B", "b")


def test_a_dlq_hop_keeps_the_last_due_time_and_a_direct_one_has_none() -> None:
    tiered = hop_headers(record(), Failure("A", "a"), 1, 1000, 61000)
    assert (
        hop_headers(record("r1", tiered), Failure("A", "a"), 1, 9, None)[h.RETRY_DUE_AT] == "61000"
    )
    assert h.RETRY_DUE_AT not in hop_headers(record(), Failure("A", "a"), 0, 9, None)


def test_a_failure_names_the_error_class_and_masks_its_text() -> None:
    failure = Failure.of(ValueError("bad payer email jo@example.com"))
    assert failure == Failure("ValueError", "bad payer email [email]")


@pytest.mark.parametrize(
    ("headers", "now_ms", "seconds"),
    [({h.RETRY_DUE_AT: "5000"}, 2000, 3.0), ({h.RETRY_DUE_AT: "5000"}, 9000, 0.0), ({}, 0, 0.0)],
)
def test_seconds_until_due(headers: dict[str, str], now_ms: int, seconds: float) -> None:
    assert seconds_until_due(record("r1", headers), now_ms) == seconds


@pytest.mark.parametrize(
    ("headers", "now_ms", "late"),
    [({h.RETRY_DUE_AT: "5000"}, 7500, 2.5), ({h.RETRY_DUE_AT: "5000"}, 4000, 0.0), ({}, 0, None)],
)
def test_seconds_late(headers: dict[str, str], now_ms: int, late: float | None) -> None:
    assert seconds_late(record("r1", headers), now_ms) == late


@pytest.mark.parametrize(
    ("headers", "written_ms", "overdue"),
    [
        ({h.RETRY_DUE_AT: "100000"}, 0, 30.0),  # due 30 s before now
        ({h.RETRY_DUE_AT: "140000"}, 0, 0.0),  # not due yet
        ({h.RETRY_DUE_AT: "garbled"}, 120000, 10.0),  # no due time: due when written
        ({}, 125000, 5.0),
    ],
)
def test_a_retry_record_is_overdue_from_its_due_time(
    headers: dict[str, str], written_ms: int, overdue: float
) -> None:
    assert seconds_overdue(headers, written_ms, now_ms=130000) == overdue
