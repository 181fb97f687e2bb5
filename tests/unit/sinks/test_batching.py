import pytest

from sinks.batching import BatchLimits, backoff_seconds

LIMITS = BatchLimits(max_size=100, max_wait=0.2)


def test_an_empty_batch_asks_for_a_whole_batch_within_the_time_left() -> None:
    assert LIMITS.next_fetch(0, 0.0) == (100, 0.2)
    size, wait = LIMITS.next_fetch(0, 0.15) or (0, 0.0)
    assert size == 100
    assert wait == pytest.approx(0.05)


@pytest.mark.parametrize(("size", "age"), [(1, 0.0), (100, 0.01), (0, 0.2), (0, 5.0)])
def test_a_batch_is_due_once_a_fetch_brought_records_or_the_wait_is_over(
    size: int, age: float
) -> None:
    assert LIMITS.next_fetch(size, age) is None


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [backoff_seconds(attempt, 0.5, 5.0) for attempt in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
