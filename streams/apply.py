"""Step 3, apply: the event on its payment's state, through the pure state machine."""

from __future__ import annotations

from streams.normalize import NormalizedEvent
from streams.state_machine import Outcome, PaymentState, apply_event


def apply(state: PaymentState | None, event: NormalizedEvent, *, replay: bool) -> Outcome:
    """`replay`: the record that applied this event is read again after a crash, so its
    outputs may be lost. The state machine would call it a duplicate; forgetting that it saw
    the event makes it merge the event again (merging twice changes no fact) and describe it
    again."""
    if replay and state is not None:
        others = tuple(i for i in state.recent_event_ids if i != event.event_id)
        state = state.model_copy(update={"recent_event_ids": others})
    return apply_event(state, event)
