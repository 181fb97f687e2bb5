"""`payments worker` with a bug planted in its payment logic: events whose id starts with
`evt_poison` raise, as an unexpected error would. Run as `python -m
tests.support.faulty_worker` with the worker's environment."""

from __future__ import annotations

from typing import Any

from ops.cli import app
from streams import process, state_machine

POISON_PREFIX = "evt_poison"
_apply_event = state_machine.apply_event


def _failing_apply_event(state: Any, event: Any) -> Any:
    if event.event_id.startswith(POISON_PREFIX):
        raise RuntimeError(f"planted failure for {event.event_id}")
    return _apply_event(state, event)


if __name__ == "__main__":
    process.apply_event = _failing_apply_event  # type: ignore[attr-defined]
    app(["worker"])
