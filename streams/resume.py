"""After a rebalance, start the retry tiers' partitions that have no committed offset again
from their first record.

While a rebalance pauses every partition, faust hands its consumer thread the live set of
active partitions, and aiokafka returns records of every partition when that set is empty
(`Fetcher.fetched_records`: `if partitions and tp not in partitions`). faust then drops the
records of partitions it has paused (`Consumer.getmany`), but aiokafka has already moved
their positions past them. Once the tables are recovered faust seeks every partition back
to its committed offset, which repairs that, except where there is none: aiokafka's
`seek_to_committed` seeks only offsets above 0. A retry-tier partition whose first record
the gate holds has no committed offset, so it resumed past its records and was never read
again until the next rebalance.

faust tells its sensors when the streams are resumed (`on_rebalance_end`, after that seek);
then each tier partition faust did not seek is rewound through the gate to its first
record (`engine.committed_offset` reads what faust keeps for that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, cast

import faust
from faust.sensors import Sensor
from faust.types import TP

from streams import engine
from streams.gate import DueGate


class RewindUnsought(Sensor):
    """Add to the app's sensors: rewinds, after each rebalance, the assigned partitions of
    `tiers` that faust resumed without a seek."""

    def __init__(self, app: faust.App, gate: DueGate, tiers: Collection[str]) -> None:
        super().__init__()
        self._app = app
        self._gate = gate
        self._tiers = frozenset(tiers)
        self._rewinding: set[asyncio.Task[None]] = set()

    def on_rebalance_end(self, app: Any, state: dict[Any, Any]) -> None:
        task = asyncio.ensure_future(self._rewind())
        self._rewinding.add(task)
        task.add_done_callback(self._rewinding.discard)

    async def _rewind(self) -> None:
        consumer = cast(Any, self._app.consumer)
        unsought = [
            TP(tp.topic, tp.partition)
            for tp in consumer.assignment()
            if tp.topic in self._tiers and engine.committed_offset(self._app, tp) is None
        ]
        if unsought:
            firsts = await consumer.earliest_offsets(*unsought)
            self._gate.rewind({TP(tp.topic, tp.partition): offset for tp, offset in firsts.items()})
