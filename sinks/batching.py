"""When a batch is complete, and how long to wait before retrying the database. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """A batch closes as soon as it holds records and the input has none left (waiting any
    longer would only add latency: under load, what arrives while a batch is written makes
    the next one larger), at `max_size` records (bounds a transaction), or `max_wait`
    seconds after it opened (bounds the latency under a steady trickle)."""

    max_size: int
    max_wait: float

    def next_fetch(self, size: int, age: float, drained: bool) -> tuple[int, float] | None:
        """(at most this many records, waiting at most this many seconds) for the next
        fetch, or None when the batch is due. `drained`: the last fetch found nothing."""
        if size >= self.max_size or age >= self.max_wait or (size and drained):
            return None
        if size:  # take only what is already there
            return self.max_size - size, 0.0
        return self.max_size, self.max_wait - age


def backoff_seconds(attempt: int, first: float, cap: float) -> float:
    """Doubling from `first` on attempt 1, never above `cap`: a long outage costs one probe
    per `cap` seconds, a short one is noticed within a second."""
    return min(cap, first * 2.0 ** max(attempt - 1, 0))
