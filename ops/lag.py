"""Consumer lag from offsets: how many records a consumer group has yet to read, and how
long past its due time the next one of a retry tier is."""

from __future__ import annotations

from collections.abc import Mapping

from schemas import headers as h
from streams.records import int_header


def next_offset(low: int, committed: int | None) -> int:
    """The offset a group reads next: its committed offset, or `low` (the partition's first
    record) when it never committed or retention removed what it committed."""
    return low if committed is None else max(committed, low)


def partition_lag(high: int, low: int, committed: int | None) -> int:
    """Records of one partition a group has yet to read: from its committed offset to the
    end offset (`high`). A group that never committed, or whose committed offset fell
    below the partition's first record (`low`, retention), reads from `low` (the pipeline's
    consumers start at the earliest record). Never negative: the committed offset is read
    after the end offset and may have passed it in between."""
    return max(0, high - next_offset(low, committed))


def seconds_overdue(headers: Mapping[str, str], written_ms: int, now_ms: int) -> float:
    """How long past its due time a retry-tier record is at `now_ms` (0 before). Due at its
    `retry-due-at`, or when written if it names none (the gate passes such a record at
    once)."""
    due_ms = int_header(headers, h.RETRY_DUE_AT)
    return max(0, now_ms - (written_ms if due_ms is None else due_ms)) / 1000
