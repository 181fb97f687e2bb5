"""Consumer lag from a partition's offsets and the group's committed offset; how overdue a
retry tier's next record is."""

from __future__ import annotations

import pytest

from ops.lag import partition_lag, seconds_overdue
from schemas import headers as h

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("high", "low", "committed", "lag"),
    [
        (10, 0, 4, 6),  # read up to offset 4
        (10, 0, 10, 0),  # caught up
        (10, 3, None, 7),  # never committed: everything still there
        (10, 6, 2, 4),  # committed below what retention kept: reads from low
        (10, 0, 12, 0),  # committed read after the end offset, which moved on
        (0, 0, None, 0),  # empty partition
    ],
)
def test_lag_is_the_records_between_committed_and_end(
    high: int, low: int, committed: int | None, lag: int
) -> None:
    assert partition_lag(high, low, committed) == lag


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
