"""One payment's entry in the worker's table: its state and the events it applied.

Everything the worker needs to process an event of a payment is in this one record, so an
event costs one read and one write, and a batch one changelog record per payment.

Size bound: an event id is kept for the dedupe retention window (default 7 days) and at
most `SEEN_LIMIT` of them, the newest; older ones are dropped whenever the record is
written. A record is the state (a few hundred bytes, growing with the number of refunds)
plus at most `SEEN_LIMIT` times (event id + origin + time), about 100 bytes each. The state
itself is never dropped: a dispute months after the capture meets it. A redelivery of an
event no longer in `seen` merges into the state without changing it (merging is
idempotent) and the sink's unique key absorbs its second record.
"""

from __future__ import annotations

import json
from typing import Final

from pydantic import BaseModel, ConfigDict

from streams.dedupe import Seen, is_expired
from streams.state_machine import PaymentState

SEEN_LIMIT: Final = 64


class PaymentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: PaymentState | None = None
    #: event id → (applied at, epoch ms; origin; the state's version it made)
    seen: dict[str, tuple[int, str, int]] = {}

    def seen_event(self, event_id: str) -> Seen | None:
        entry = self.seen.get(event_id)
        return None if entry is None else Seen(*entry)

    def applied(
        self, state: PaymentState, event_id: str, seen: Seen, retention_ms: int
    ) -> PaymentRecord:
        """This record with `state` and the event, and without expired or surplus ids."""
        kept = {
            other: entry
            for other, entry in self.seen.items()
            if not is_expired(Seen(*entry), seen.at_ms, retention_ms)
        }
        kept[event_id] = (seen.at_ms, seen.origin, seen.version)
        if len(kept) > SEEN_LIMIT:
            newest = sorted(kept.items(), key=lambda item: item[1][0])[-SEEN_LIMIT:]
            kept = dict(newest)
        return PaymentRecord(state=state, seen=kept)

    def encode(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def decode(cls, raw: bytes) -> PaymentRecord:
        return cls.model_validate_json(raw)

    @classmethod
    def from_legacy(
        cls, state_json: bytes | None, dedupe: list[tuple[str, int, str]]
    ) -> PaymentRecord:
        """The record of a payment kept by the three-table layout: its `payments` value and
        its `dedupe` entries (event id, applied at, origin). That layout counted an
        unreported capture as 0 and kept no version per event: each gets the state's."""
        state = None
        if state_json is not None:
            fields = json.loads(state_json)
            fields.pop("recent_event_ids", None)
            fields["captured"] = fields.get("captured") or None
            state = PaymentState.model_validate(fields)
        version = state.version if state else 0
        seen = {event_id: (at, origin, version) for event_id, at, origin in dedupe}
        return cls(state=state, seen=seen)
