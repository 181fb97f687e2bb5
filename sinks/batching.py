"""When a batch is complete, and how long to wait before retrying the database. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """A batch closes at `max_size` records or `max_wait` seconds after it opened, whichever
    comes first: size bounds a transaction, time bounds the latency of a quiet stream."""

    max_size: int
    max_wait: float

    def next_fetch(self, size: int, age: float) -> tuple[int, float] | None:
        """(at most this many records, waiting at most this many seconds) for the next
        fetch, or None when the batch is due."""
        if size >= self.max_size or age >= self.max_wait:
            return None
        return self.max_size - size, self.max_wait - age


def backoff_seconds(attempt: int, first: float, cap: float) -> float:
    """Doubling from `first` on attempt 1, never above `cap`: a long outage costs one probe
    per `cap` seconds, a short one is noticed within a second."""
    return min(cap, first * 2.0 ** max(attempt - 1, 0))
