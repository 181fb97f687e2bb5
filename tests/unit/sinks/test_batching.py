import pytest

from sinks.batching import BatchLimits, backoff_seconds

LIMITS = BatchLimits(max_size=100, max_wait=0.2)


def test_an_open_batch_asks_for_what_is_missing_within_the_time_left() -> None:
    assert LIMITS.next_fetch(0, 0.0) == (100, 0.2)
    size, wait = LIMITS.next_fetch(60, 0.15) or (0, 0.0)
    assert size == 40
    assert wait == pytest.approx(0.05)


@pytest.mark.parametrize(("size", "age"), [(100, 0.01), (150, 0.0), (3, 0.2), (0, 5.0)])
def test_a_batch_is_due_when_full_or_old(size: int, age: float) -> None:
    assert LIMITS.next_fetch(size, age) is None


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [backoff_seconds(attempt, 0.5, 5.0) for attempt in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
