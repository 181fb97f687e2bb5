import pytest

from sinks.batching import BatchLimits, backoff_seconds

LIMITS = BatchLimits(max_size=100, max_wait=0.2)


def test_an_empty_batch_waits_for_its_first_records_within_the_time_left() -> None:
    assert LIMITS.next_fetch(0, 0.0, drained=False) == (100, 0.2)
    size, wait = LIMITS.next_fetch(0, 0.15, drained=True) or (0, 1.0)
    assert size == 100
    assert wait == pytest.approx(0.05)


def test_a_batch_with_records_takes_only_what_is_already_there() -> None:
    assert LIMITS.next_fetch(60, 0.01, drained=False) == (40, 0.0)


@pytest.mark.parametrize(
    ("size", "age", "drained"),
    [(100, 0.01, False), (150, 0.0, False), (3, 0.2, False), (0, 5.0, True), (1, 0.0, True)],
)
def test_a_batch_is_due_when_full_old_or_holding_records_with_none_left(
    size: int, age: float, drained: bool
) -> None:
    assert LIMITS.next_fetch(size, age, drained) is None


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [backoff_seconds(attempt, 0.5, 5.0) for attempt in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
