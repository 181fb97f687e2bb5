"""The dedupe verdict and the sweep that makes expired entries go away (injected clock)."""

from __future__ import annotations

import pytest

from streams.dedupe import DedupeEntry, Sweeper, dedupe_key, expired_keys, verdict

pytestmark = pytest.mark.unit

DAY_MS = 24 * 3600 * 1000
RETENTION_MS = 7 * DAY_MS


@pytest.mark.parametrize("payment_key", ["stripe:pi_1", "paypal:a b\nc", "", None])
def test_an_entry_round_trips_and_foreign_bytes_are_no_entry(payment_key: str | None) -> None:
    entry = DedupeEntry(1_700_000_000_000, "raw-webhooks/3/42", payment_key)
    assert DedupeEntry.decode(entry.encode()) == entry
    assert DedupeEntry.decode(b"\x00faust offset") is None
    assert DedupeEntry.decode(b"123") is None


def test_an_entry_from_before_the_payment_key_decodes_without_one() -> None:
    assert DedupeEntry.decode(b"1700000000000 raw-webhooks/3/42") == DedupeEntry(
        1_700_000_000_000, "raw-webhooks/3/42", None
    )


def test_the_key_names_provider_and_event() -> None:
    assert dedupe_key("stripe", "evt_1") == b"stripe:evt_1"


@pytest.mark.parametrize(
    ("entry", "origin", "now_ms", "expected"),
    [
        (None, "raw/0/1", 0, "new"),
        (DedupeEntry(0, "raw/0/1"), "raw/0/2", DAY_MS, "duplicate"),
        (DedupeEntry(0, "raw/0/1"), "raw/0/1", DAY_MS, "replay"),
        (DedupeEntry(0, "raw/0/1"), "raw/0/2", RETENTION_MS - 1, "duplicate"),
        (DedupeEntry(0, "raw/0/1"), "raw/0/2", RETENTION_MS, "new"),
    ],
)
def test_verdict(entry: DedupeEntry | None, origin: str, now_ms: int, expected: str) -> None:
    assert verdict(entry, origin, now_ms, RETENTION_MS) == expected


def test_expired_keys_skip_fresh_entries_and_foreign_keys() -> None:
    items = [
        (b"old", DedupeEntry(0, "o").encode()),
        (b"new", DedupeEntry(RETENTION_MS, "o").encode()),
        (b"__faust\x00offset__", b"17"),
    ]
    assert list(expired_keys(items, RETENTION_MS + 1, RETENTION_MS)) == [b"old"]


class FakePartition:
    """One partition's dedupe entries, read in key order as RocksDB does."""

    def __init__(self, entries: dict[bytes, DedupeEntry]) -> None:
        self.data = {key: entry.encode() for key, entry in entries.items()}

    def read_from(self, start: bytes | None) -> list[tuple[bytes, bytes]]:
        return [(k, v) for k, v in sorted(self.data.items()) if start is None or k >= start]

    def delete(self, key: bytes) -> None:
        del self.data[key]


def test_the_sweep_deletes_what_expired_once_the_clock_passes_retention() -> None:
    partition = FakePartition(
        {b"a": DedupeEntry(0, "o"), b"b": DedupeEntry(DAY_MS, "o"), b"c": DedupeEntry(0, "o")}
    )
    sweeper = Sweeper(retention_ms=RETENTION_MS, every_ms=1000)

    assert sweeper.sweep(0, RETENTION_MS - 1, partition.read_from, partition.delete) == 0
    assert set(partition.data) == {b"a", b"b", b"c"}

    assert sweeper.sweep(0, RETENTION_MS + 1000, partition.read_from, partition.delete) == 2
    assert set(partition.data) == {b"b"}
    assert (
        sweeper.sweep(0, RETENTION_MS + DAY_MS + 2000, partition.read_from, partition.delete) == 1
    )
    assert partition.data == {}


def test_the_sweep_runs_at_most_once_per_interval_per_partition() -> None:
    partition = FakePartition({b"a": DedupeEntry(0, "o"), b"b": DedupeEntry(0, "o")})
    sweeper = Sweeper(retention_ms=10, every_ms=1000, batch=1)
    assert sweeper.sweep(0, 100, partition.read_from, partition.delete) == 1
    assert sweeper.sweep(0, 999, partition.read_from, partition.delete) == 0
    other = FakePartition({b"x": DedupeEntry(0, "o")})
    assert sweeper.sweep(1, 999, other.read_from, other.delete) == 1  # its own schedule
    assert sweeper.sweep(0, 1100, partition.read_from, partition.delete) == 1
    assert partition.data == other.data == {}


def test_the_sweep_walks_a_partition_slice_by_slice_and_starts_over() -> None:
    partition = FakePartition({bytes([k]): DedupeEntry(100 * k, "o") for k in range(1, 6)})
    sweeper = Sweeper(retention_ms=1000, every_ms=1, batch=2)
    swept = [
        sweeper.sweep(0, now, partition.read_from, partition.delete)
        for now in (1250, 1251, 1252, 1253)
    ]
    # Slices [1,2], [3,4], [5], then from the start again ([3,4]): entries go once they
    # are older than 1000 ms when their slice comes round.
    assert swept == [2, 0, 0, 0]
    assert sorted(partition.data) == [bytes([k]) for k in (3, 4, 5)]
    assert sweeper.sweep(0, 1600, partition.read_from, partition.delete) == 1  # [5]
    assert sweeper.sweep(0, 1601, partition.read_from, partition.delete) == 2  # [3,4]
    assert partition.data == {}
