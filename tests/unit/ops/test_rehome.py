"""Migration planning: which entries a partition increase moves, applied to a model of the
changelog (the latest value per key and partition), including crashes half-way."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ops.rehome import Entry, Plan, plan
from streams.placement import home_partition

Changelog = dict[tuple[int, bytes], bytes]  # (partition, key) -> live value
PAYMENTS = [f"stripe:pi_{n}".encode() for n in range(60)]


def changelog_of(values: dict[bytes, bytes], partitions: int) -> Changelog:
    """Each key at its home partition, as a worker writes it."""
    return {(home_partition(key, partitions), key): value for key, value in values.items()}


def entries(log: Changelog, tombstones: Iterable[tuple[int, bytes]] = ()) -> list[Entry]:
    return [Entry(p, k, v) for (p, k), v in log.items()] + [
        Entry(p, k, None) for p, k in tombstones
    ]


def applied(log: Changelog, moves: Plan, *, tombstones: bool = True) -> Changelog:
    """The changelog after the plan's copies (and, unless a crash came first, tombstones)."""
    after = dict(log)
    for put in moves.puts:
        assert put.value is not None
        after[(put.partition, put.key)] = put.value
    for tombstone in moves.tombstones if tombstones else ():
        del after[(tombstone.partition, tombstone.key)]
    return after


def assert_home(log: Changelog, partitions: int) -> None:
    for partition, key in log:
        assert partition == home_partition(key, partitions), key


@pytest.mark.parametrize(("old", "new"), [(1, 2), (4, 8), (4, 6), (3, 8), (4, 5), (8, 16)])
def test_every_entry_ends_at_its_new_home_with_its_value(old: int, new: int) -> None:
    values = {key: b"state of " + key for key in PAYMENTS}
    log = changelog_of(values, old)
    moves = plan(entries(log), new)
    after = applied(log, moves)
    assert_home(after, new)
    assert {key: value for (_, key), value in after.items()} == values
    moving = sum(home_partition(k, old) != home_partition(k, new) for k in PAYMENTS)
    assert (moves.moved, moves.in_place, len(moves.puts)) == (moving, 60 - moving, moving)
    assert plan(entries(after), new).empty  # a second run: nothing


def test_a_run_that_crashed_before_its_tombstones_is_completed_without_new_copies() -> None:
    log = changelog_of({key: b"v1" for key in PAYMENTS}, 4)
    first = plan(entries(log), 8)
    half = applied(log, first, tombstones=False)
    second = plan(entries(half), 8)
    assert second.puts == ()
    assert set(second.tombstones) == set(first.tombstones)
    assert_home(applied(half, second), 8)


def test_a_copy_updated_since_is_not_overwritten_by_the_stale_original() -> None:
    key = next(k for k in PAYMENTS if home_partition(k, 4) != home_partition(k, 8))
    log = {(home_partition(key, 4), key): b"old", (home_partition(key, 8), key): b"newer"}
    moves = plan(entries(log), 8)
    assert moves.puts == ()
    assert applied(log, moves) == {(home_partition(key, 8), key): b"newer"}


def test_tombstoned_keys_stay_deleted() -> None:
    log = changelog_of({PAYMENTS[0]: b"v"}, 4)
    gone = (home_partition(PAYMENTS[1], 4), PAYMENTS[1])
    moves = plan(entries(log, [gone]), 8)
    assert all(put.key != PAYMENTS[1] for put in moves.puts)
