"""The pipeline's exception family: a subclass says what happens next to the message."""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every error the pipeline raises on purpose."""


class PermanentError(PipelineError):
    """Retrying cannot help (unparseable body, unknown schema, currency mismatch): dlq now,
    with `reason` as the `dlq-reason` header."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class TransientError(PipelineError):
    """May succeed later (a refund before its capture, a flaky dependency): the retry ladder."""


class BackPressure(PipelineError):
    """A downstream system is unavailable (database down): pause consuming and retry the same
    work after `retry_after` seconds; never dead-letter."""

    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(detail or f"back-pressure, retry after {retry_after}s")
        self.retry_after = retry_after
