"""The retry ladder: which tier an attempt waits in, and the headers a retried or
dead-lettered record carries (DESIGN.md, "Headers on raw-webhooks").

Tier delays and per-tier attempt counts come from settings. With delays (60, 300, 1800)
and attempts (2, 2, 1), retries 1-2 wait a minute, 3-4 five, 5 thirty; a sixth failure goes
to dlq.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate

from common.settings import PipelineSettings
from schemas import headers as h
from streams.masking import error_message
from streams.records import Inbound, int_header

#: Headers of an earlier hop that a new hop rewrites. `forwarded-from` is dropped: a hop is
#: a record of its own, whose origin is where it sits.
_HOP_HEADERS = frozenset(
    {h.RETRY_ATTEMPT, h.RETRY_DUE_AT, h.ERROR_CLASS, h.ERROR_MESSAGE, h.FORWARDED_FROM}
)


@dataclass(frozen=True, slots=True)
class Ladder:
    tiers: tuple[str, ...]
    delays_ms: tuple[int, ...]
    attempts: tuple[int, ...]

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> Ladder:
        return cls(
            tiers=settings.topics.retry,
            delays_ms=tuple(round(s * 1000) for s in settings.retry_delays_seconds),
            attempts=settings.retry_attempts,
        )

    def tier_for(self, attempt: int) -> int | None:
        """The tier index retry number `attempt` (1-based) waits in; None past the last."""
        for tier, last_attempt in enumerate(accumulate(self.attempts)):
            if attempt <= last_attempt:
                return tier
        return None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an event could not be applied now: `error_class` names it, `message` explains."""

    error_class: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        return cls(type(error).__name__, error_message(error))


def hop_headers(
    record: Inbound, failure: Failure, attempt: int, now_ms: int, due_at_ms: int | None
) -> dict[str, str]:
    """The record's headers for its next hop (a retry tier or dlq).

    Ingress headers travel unchanged. The original coordinates and first failure time are
    set on the first hop and kept after; `retry-due-at` is kept from the last tier when the
    record goes to dlq (`due_at_ms` None), so the dlq record shows when it was last tried.
    """
    carried = {k: v for k, v in record.headers.items() if k not in _HOP_HEADERS}
    carried.setdefault(h.ORIGINAL_TOPIC, record.topic)
    carried.setdefault(h.ORIGINAL_PARTITION, str(record.partition))
    carried.setdefault(h.ORIGINAL_OFFSET, str(record.offset))
    carried.setdefault(h.FIRST_FAILED_AT, str(now_ms))
    last_due = int_header(record.headers, h.RETRY_DUE_AT)
    due = due_at_ms if due_at_ms is not None else last_due
    return {
        **carried,
        h.RETRY_ATTEMPT: str(attempt),
        **({h.RETRY_DUE_AT: str(due)} if due is not None else {}),
        h.ERROR_CLASS: failure.error_class,
        h.ERROR_MESSAGE: failure.message,
    }


def seconds_until_due(record: Inbound, now_ms: int) -> float:
    """How long a tier must still hold the record; 0 when due (or when it names no time)."""
    due = int_header(record.headers, h.RETRY_DUE_AT)
    return max(0, due - now_ms) / 1000 if due is not None else 0.0


def seconds_late(record: Inbound, now_ms: int) -> float | None:
    """How long past its `retry-due-at` the record is handled; None when it names no time."""
    due = int_header(record.headers, h.RETRY_DUE_AT)
    return max(0, now_ms - due) / 1000 if due is not None else None


def seconds_overdue(headers: Mapping[str, str], written_ms: int, now_ms: int) -> float:
    """How long past its due time a retry-tier record is at `now_ms` (0 before). Due at its
    `retry-due-at`, or when written if it names none (the gate passes such a record at
    once)."""
    due_ms = int_header(headers, h.RETRY_DUE_AT)
    return max(0, now_ms - (written_ms if due_ms is None else due_ms)) / 1000
