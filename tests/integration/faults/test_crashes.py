"""A component SIGKILLed repeatedly under sustained load (signed webhooks posted to the real
ingress), restarted each time: nothing acknowledged is lost, nothing is applied twice, every
payment ends in its expected state, nothing goes to dlq."""

from __future__ import annotations

import asyncio

from tests.support.fault_stack import Intensity, MakeStack
from tests.support.stories import in_provider_order


async def sigkilled_under_load(make_stack: MakeStack, intensity: Intensity, name: str) -> None:
    stack = await make_stack()
    told = stack.tell(intensity.webhooks)

    async def kill_repeatedly() -> None:
        for _ in range(intensity.kills):
            await asyncio.sleep(intensity.interval(intensity.kills))
            await stack.until_busy(name)
            stack.restart(name)

    await stack.load(in_provider_order(told), intensity.rate, during=kill_repeatedly())
    # A killed worker's uncommitted records are processed again after the restart: an
    # event among them is described again with the version it had (its outputs may have been
    # lost). A killed sink's uncommitted batch is written again: the database absorbs it.
    await stack.check(exact_versions=True)


async def test_the_worker_sigkilled_repeatedly_under_load(
    make_stack: MakeStack, intensity: Intensity
) -> None:
    await sigkilled_under_load(make_stack, intensity, "worker")


async def test_the_sink_sigkilled_repeatedly_under_load(
    make_stack: MakeStack, intensity: Intensity
) -> None:
    await sigkilled_under_load(make_stack, intensity, "sink")
