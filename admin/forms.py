"""The console's query and form fields, parsed. Pure.

A browser sends an empty field as `name=`: blank means "no filter". A malformed value is a
`ConsoleRefusal` (400) whose message names the field, never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from admin.errors import ConsoleRefusal
from schemas.mapping import PaymentStatus
from schemas.providers import Provider

#: Longest text a filter takes: the longest id or type a column holds.
MAX_TEXT = 255


def text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_TEXT or "\x00" in value:
        raise ConsoleRefusal(400, f"{field}: at most {MAX_TEXT} characters, no NUL")
    return value.strip()


def provider(value: str | None) -> str | None:
    chosen = text(value, "provider")
    if chosen is not None and chosen not in {p.value for p in Provider}:
        raise ConsoleRefusal(400, "provider: stripe or paypal")
    return chosen


def status(value: str | None) -> str | None:
    chosen = text(value, "status")
    if chosen is not None and chosen not in {s.value for s in PaymentStatus}:
        raise ConsoleRefusal(400, "status: not a payment status")
    return chosen


def moment(value: str | None, field: str) -> datetime | None:
    """ISO 8601; without an offset (a `datetime-local` input) it is UTC."""
    chosen = text(value, field)
    if chosen is None:
        return None
    try:
        parsed = datetime.fromisoformat(chosen)
    except ValueError:
        raise ConsoleRefusal(400, f"{field}: not a date and time (YYYY-MM-DDTHH:MM)") from None
    try:
        return in_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    except ValueError as error:
        raise ConsoleRefusal(400, f"{field}: {error}") from None


def in_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a ValueError for one that has no UTC time (year 1 east of
    Greenwich, year 9999 west of it)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range in UTC") from None


def number(value: str | None, field: str, *, low: int = 0, high: int = 2**63 - 1) -> int | None:
    chosen = text(value, field)
    if chosen is None:
        return None
    if not chosen.isdigit() or not low <= int(chosen) <= high:
        raise ConsoleRefusal(400, f"{field}: a whole number from {low} to {high}")
    return int(chosen)


def message_ids(values: Iterable[str]) -> set[tuple[int, int]]:
    """`partition:offset` of dlq messages."""
    chosen = set()
    for value in values:
        partition, colon, offset = value.partition(":")
        if not (colon and partition.isdigit() and offset.isdigit()):
            raise ConsoleRefusal(400, "message: give each as partition:offset")
        chosen.add((int(partition), int(offset)))
    return chosen
