"""When a batch is complete, and how long to wait before retrying the database. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """A batch is what the first fetch that returns records brings, at most `max_size`
    records (a transaction's bound), or nothing after `max_wait` seconds.

    The waiting happens in the broker: it holds each fetch for up to `max_wait` until it has
    `SINK_FETCH_MIN_BYTES` (`sinks.main`), so a quiet stream makes one batch per `max_wait`
    out of one fetch, instead of a fetch per record or two; while the database writes a
    batch, the next one accumulates, so a busy stream makes batches as large as the
    database's pace needs."""

    max_size: int
    max_wait: float

    def next_fetch(self, size: int, age: float) -> tuple[int, float] | None:
        """(at most this many records, waiting at most this many seconds) for the next
        fetch, or None when the batch is due."""
        if size or age >= self.max_wait:
            return None
        return self.max_size, self.max_wait - age


def backoff_seconds(attempt: int, first: float, cap: float) -> float:
    """Doubling from `first` on attempt 1, never above `cap`: a long outage costs one probe
    per `cap` seconds, a short one is noticed within a second."""
    return min(cap, first * 2.0 ** max(attempt - 1, 0))
