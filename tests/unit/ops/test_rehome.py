"""Migration planning: which entries a partition increase moves, applied to a model of the
changelog (the latest value per key and partition), including crashes half-way."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops.rehome import (
    Entry,
    Plan,
    by_dedupe_payment,
    by_table_key,
    candidates,
    plan,
)
from streams.dedupe import DedupeEntry
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
    moves = plan(entries(log), by_table_key, old, new)
    after = applied(log, moves)
    assert_home(after, new)
    assert {key: value for (_, key), value in after.items()} == values
    moving = sum(home_partition(k, old) != home_partition(k, new) for k in PAYMENTS)
    assert (moves.moved, moves.in_place, len(moves.puts)) == (moving, 60 - moving, moving)
    assert plan(entries(after), by_table_key, new, new).empty  # a second run: nothing


def test_a_run_that_crashed_before_its_tombstones_is_completed_without_new_copies() -> None:
    log = changelog_of({key: b"v1" for key in PAYMENTS}, 4)
    first = plan(entries(log), by_table_key, 4, 8)
    half = applied(log, first, tombstones=False)
    second = plan(entries(half), by_table_key, 8, 8)
    assert second.puts == ()
    assert set(second.tombstones) == set(first.tombstones)
    assert_home(applied(half, second), 8)


def test_a_copy_updated_since_is_not_overwritten_by_the_stale_original() -> None:
    key = next(k for k in PAYMENTS if home_partition(k, 4) != home_partition(k, 8))
    log = {(home_partition(key, 4), key): b"old", (home_partition(key, 8), key): b"newer"}
    moves = plan(entries(log), by_table_key, 8, 8)
    assert moves.puts == ()
    assert applied(log, moves) == {(home_partition(key, 8), key): b"newer"}


def test_tombstoned_keys_stay_deleted() -> None:
    log = changelog_of({PAYMENTS[0]: b"v"}, 4)
    gone = (home_partition(PAYMENTS[1], 4), PAYMENTS[1])
    moves = plan(entries(log, [gone]), by_table_key, 4, 8)
    assert all(put.key != PAYMENTS[1] for put in moves.puts)


def dedupe_value(payment: bytes | None, seen_at: int = 1) -> bytes:
    key = None if payment is None else payment.decode()
    return DedupeEntry(seen_at, "p-raw-webhooks/0/1", key).encode()


def test_a_dedupe_entry_moves_with_its_payment_not_its_own_key() -> None:
    log = {
        (home_partition(payment, 4), b"stripe:evt_" + payment[-2:]): dedupe_value(payment)
        for payment in PAYMENTS
    }
    after = applied(log, plan(entries(log), by_dedupe_payment, 4, 8))
    for (partition, _), value in after.items():
        entry = DedupeEntry.decode(value)
        assert entry is not None
        assert entry.payment_key is not None
        assert partition == home_partition(entry.payment_key.encode(), 8)


@given(st.integers(1, 24), st.integers(1, 24), st.binary(min_size=1, max_size=30))
def test_candidates_hold_every_partition_a_key_can_move_to(old: int, more: int, key: bytes) -> None:
    new = old + more
    assert home_partition(key, new) in candidates(home_partition(key, old), old, new)


def test_candidates_are_the_congruent_partitions() -> None:
    assert candidates(1, 4, 8) == [1, 5]
    assert candidates(3, 4, 6) == [1, 3, 5]
    assert candidates(2, 3, 5) == [0, 1, 2, 3, 4]
    assert candidates(5, 8, 8) == list(range(8))  # the old count is unknown


def test_a_dedupe_entry_without_a_payment_key_is_copied_wherever_its_event_may_come() -> None:
    """Its payment's records may land on any partition its key can hash to; the original
    stays, as its key may hash there still."""
    legacy = {(2, b"stripe:evt_old"): dedupe_value(None)}
    moves = plan(entries(legacy), by_dedupe_payment, 4, 8)
    assert (moves.unrouted, moves.moved, moves.tombstones) == (1, 0, ())
    assert applied(legacy, moves) == {
        (2, b"stripe:evt_old"): dedupe_value(None),
        (6, b"stripe:evt_old"): dedupe_value(None),
    }
    for payment in PAYMENTS:
        if home_partition(payment, 4) == 2:  # an event of any payment that was at 2
            assert (home_partition(payment, 8), b"stripe:evt_old") in applied(legacy, moves)


def test_the_routers_name_the_partitioning_key_or_none() -> None:
    assert by_dedupe_payment(b"k", b"\x00faust") is None
    assert by_dedupe_payment(b"k", dedupe_value(None)) is None
    assert by_dedupe_payment(b"k", dedupe_value(b"stripe:pi_1")) == b"stripe:pi_1"
    assert by_table_key(b"stripe:pi_1", b"{}") == b"stripe:pi_1"
