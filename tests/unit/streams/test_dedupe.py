"""The dedupe verdict on an event's `Seen` entry (kept in its payment's record), with an
injected clock."""

from __future__ import annotations

import pytest

from streams.dedupe import Seen, is_expired, verdict

DAY_MS = 24 * 3600 * 1000
RETENTION_MS = 7 * DAY_MS


@pytest.mark.parametrize(
    ("seen", "origin", "now_ms", "expected"),
    [
        (None, "raw/0/1", 0, "new"),
        (Seen(0, "raw/0/1"), "raw/0/2", DAY_MS, "duplicate"),
        (Seen(0, "raw/0/1"), "raw/0/1", DAY_MS, "replay"),
        (Seen(0, "raw/0/1"), "raw/0/2", RETENTION_MS - 1, "duplicate"),
        (Seen(0, "raw/0/1"), "raw/0/1", RETENTION_MS - 1, "replay"),
        (Seen(0, "raw/0/1"), "raw/0/2", RETENTION_MS, "new"),
        (Seen(0, "raw/0/1"), "raw/0/1", RETENTION_MS, "new"),
        (Seen(0, "raw/0/1"), "retry-1m/0/7", 0, "duplicate"),
    ],
)
def test_verdict(seen: Seen | None, origin: str, now_ms: int, expected: str) -> None:
    assert verdict(seen, origin, now_ms, RETENTION_MS) == expected


@pytest.mark.parametrize(
    ("now_ms", "expired"),
    [(0, False), (RETENTION_MS - 1, False), (RETENTION_MS, True), (10 * RETENTION_MS, True)],
)
def test_an_entry_expires_once_the_retention_has_passed(now_ms: int, expired: bool) -> None:
    assert is_expired(Seen(0, "raw/0/1"), now_ms, RETENTION_MS) is expired


def test_an_entry_from_a_later_clock_is_not_expired() -> None:
    """A worker whose clock is behind the one that applied the event keeps the entry."""
    assert not is_expired(Seen(DAY_MS, "raw/0/1"), 0, RETENTION_MS)
    assert verdict(Seen(DAY_MS, "raw/0/1"), "raw/0/2", 0, RETENTION_MS) == "duplicate"
