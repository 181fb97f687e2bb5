"""After a rebalance, the retry tiers' partitions faust resumed without a seek start again
from their first record."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from aiokafka import TopicPartition
from faust.types import TP

from streams.gate import DueGate
from streams.resume import RewindUnsought

TIER, RAW = "retry-1m", "raw-webhooks"


class FakeConsumer:
    def __init__(self, assigned: set[TP], committed: dict[TP, int | None]) -> None:
        self._assigned = assigned
        self._committed_offset = committed

    def assignment(self) -> set[TP]:
        return self._assigned

    async def earliest_offsets(self, *tps: TP) -> Mapping[TopicPartition, int]:
        return {TopicPartition(tp.topic, tp.partition): 5 for tp in tps}


class FakeApp:
    def __init__(self, consumer: FakeConsumer) -> None:
        self.consumer = consumer


class RecordingGate:
    def __init__(self) -> None:
        self.rewound: list[dict[TP, int]] = []

    def rewind(self, starts: Mapping[TP, int]) -> None:
        self.rewound.append(dict(starts))


async def test_only_tier_partitions_faust_did_not_seek_are_rewound_to_their_first_record() -> None:
    sought, unsought, never = TP(TIER, 0), TP(TIER, 1), TP(TIER, 2)
    consumer = FakeConsumer({sought, unsought, never, TP(RAW, 1)}, {sought: 7, unsought: None})
    gate = RecordingGate()
    sensor = RewindUnsought(cast(Any, FakeApp(consumer)), cast(DueGate, gate), [TIER])

    sensor.on_rebalance_end(None, {})
    for _ in range(3):  # the rewind runs as a task: let it (no time passes)
        await asyncio.sleep(0)

    assert gate.rewound == [{unsought: 5, never: 5}]
    assert all(type(tp) is TP for tp in gate.rewound[0])  # faust's fetcher asserts on it
