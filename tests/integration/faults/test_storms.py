"""Storms a provider can cause: every event delivered three times at once, and every
payment's events in a random order (refunds before their capture, disputes first, late
older events). The state machine promises the in-order final state for any order and any
number of copies (its property tests); here the whole pipeline must deliver it, each event
applied exactly once, nothing in dlq."""

from __future__ import annotations

from tests.support.fault_stack import Intensity, MakeStack
from tests.support.stories import in_provider_order, shuffled

COPIES = 3


async def test_a_duplicate_storm(make_stack: MakeStack, intensity: Intensity) -> None:
    stack = await make_stack()
    told = stack.tell(intensity.webhooks // COPIES)

    await stack.load(in_provider_order(told), intensity.rate / COPIES, copies=COPIES)

    assert set(stack.report.acknowledged.values()) == {1, COPIES}  # the warm-up's: once
    await stack.check(exact_versions=True)


async def test_an_out_of_order_storm(make_stack: MakeStack, intensity: Intensity) -> None:
    stack = await make_stack()
    told = stack.tell(intensity.webhooks)

    await stack.load(shuffled(told, seed=7), intensity.rate)

    await stack.check(exact_versions=True)
