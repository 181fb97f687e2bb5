"""Consumer lag from offsets: how many records a consumer group has yet to read, and which
it reads next."""

from __future__ import annotations


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
