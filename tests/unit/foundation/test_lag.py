"""Consumer lag from a partition's offsets and the group's committed offset; how overdue a
retry tier's next record is."""

from __future__ import annotations

import pytest

from common.lag import partition_lag


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
