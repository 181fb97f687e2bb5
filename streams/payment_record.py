"""Stub of the `payment-state` table's value, for the state migration and its tests on this
branch; the worker branch replaces this module. Only the interface the migration uses:
`PaymentRecord.from_legacy(state_json, dedupe)` and `encode()`."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    state_json: bytes | None
    #: (event_id, seen_at_ms, origin) of each applied event
    dedupe: tuple[tuple[str, int, str], ...]

    @classmethod
    def from_legacy(
        cls, state_json: bytes | None, dedupe: list[tuple[str, int, str]]
    ) -> PaymentRecord:
        return cls(state_json, tuple(dedupe))

    def encode(self) -> bytes:
        state = None if self.state_json is None else json.loads(self.state_json)
        return json.dumps({"state": state, "dedupe": self.dedupe}, sort_keys=True).encode()
